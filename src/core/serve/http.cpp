// The HTTP server of vibe serve: Beast's parser on plain Asio sockets.
//
// Threads. Each Worker is one io_context run by one thread. The acceptor
// lives on the first worker and hands connections to the workers in turn; a
// Session then lives on its worker's thread alone, so it needs no strand and
// no lock. An answer given on that thread is written at once; one given on
// another thread (the store writer's, after a commit) goes into the worker's
// mailbox; a drain is posted only when none is posted or running (a running
// drain looks again before it ends): a commit answering 50 requests wakes
// each worker about once.
//
// A session: read a request head (within header_timeout), ask the routes,
// read the body (within body_timeout, up to the routes' limit), hand the
// request over, write the response when the routes answer (maybe later,
// after a commit), then read the next request. Timeouts are a deadline per
// session that a timer per worker checks every 250 ms (instead of a timer
// armed and cancelled around every read and write); a session past its
// deadline has its socket closed, which ends what it waits for.
#include "core/serve/http.hpp"

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <iterator>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fcntl.h>
#include <pthread.h>

namespace vibe::core {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
// Concrete executor types (not the type-erased any_io_executor).
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

namespace {

constexpr std::uint32_t k_header_limit = 16 * 1024;  // request line and headers, at most
constexpr Millis k_sweep_every{250};
constexpr std::size_t k_read_size = 4096;

std::string error_body(std::string_view error, std::string_view detail) {
  return nlohmann::json{{"error", error}, {"detail", detail}}.dump(-1, ' ', false,
                                                                      nlohmann::json::error_handler_t::replace);
}

class Session;

// One event-loop thread and what lives on it.
struct Worker {
  explicit Worker(std::size_t index_in) : index(index_in), sweep(context.get_executor()) {}

  // Hands `response` to `session`'s thread (see the file comment).
  void deliver(std::shared_ptr<Session> session, HttpResponse response);
  void drain();
  void arm_sweep();

  std::size_t index;
  asio::io_context context{1};
  asio::executor_work_guard<Executor> work{context.get_executor()};
  Timer sweep;
  std::thread thread;
  // Only touched on this worker's thread.
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::mutex mailbox_mutex;
  // Guarded by mailbox_mutex. After shutdown() answers are dropped: their
  // connections are gone.
  std::vector<std::pair<std::shared_ptr<Session>, HttpResponse>> mailbox;
  bool draining = false;  // a drain is posted or running: it takes what arrives meanwhile too
  bool stopped = false;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(HttpRoutes routes_in, HttpLimits limits_in, std::shared_ptr<spdlog::logger> log_in)
      : routes(std::move(routes_in)), limits(limits_in), log(std::move(log_in)) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, limits.threads); ++i) {
      workers.push_back(std::make_unique<Worker>(i));
    }
    acceptor.emplace(workers.front()->context.get_executor());
  }

  void accept();

  HttpRoutes routes;
  HttpLimits limits;
  std::shared_ptr<spdlog::logger> log;
  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<Acceptor> acceptor;  // on the first worker
  std::size_t next_worker = 0;       // on the first worker's thread
  std::atomic<std::size_t> open{0};
  std::atomic<bool> down{false};
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(Socket socket, std::shared_ptr<HttpServer::Impl> server, Worker& worker)
      : m_socket(std::move(socket)), m_server(std::move(server)), m_worker(worker) {
    ++m_server->open;
    boost::system::error_code ec;
    const auto peer = m_socket.remote_endpoint(ec);
    if (!ec) {
      m_peer = fmt::format("{}:{}", peer.address().to_string(), peer.port());
    }
  }

  ~Session() { --m_server->open; }

  // On the worker's thread, like everything below.
  void start() {
    if (m_server->down) {  // accepted as shutdown() began: it would wait for a request nobody reads
      shut();
      return;
    }
    m_worker.sessions[this] = weak_from_this();
    // Reads ask for what the buffer has room for (at least 512 bytes): a
    // typical webhook (headers and a JSON body, under 4 KiB) then comes in
    // one read instead of two.
    m_buffer.reserve(k_read_size);
    read_head();
  }

  // Closes the connection now when it waits for a request, else once the
  // response in the works is written.
  void close() {
    m_closing = true;
    if (!m_busy) {
      shut();
    }
  }

  // The sweep: past its deadline, the socket is closed and what it waits for ends.
  void check_deadline(Clock::time_point now) {
    if (now >= m_deadline) {
      m_deadline = Clock::time_point::max();
      boost::system::error_code ignored;
      m_socket.close(ignored);
    }
  }

  void respond(HttpResponse response) { send(std::move(response), !m_keep_alive); }

private:
  void shut() {
    boost::system::error_code ignored;
    m_socket.shutdown(tcp::socket::shutdown_both, ignored);
    m_socket.close(ignored);
  }

  void read_head() {
    m_busy = false;
    if (m_closing) {
      shut();
      return;
    }
    m_request = HttpRequest{};
    m_method.clear();
    m_target.clear();
    m_parser.emplace();
    m_parser->header_limit(k_header_limit);
    m_deadline = Clock::now() + m_server->limits.header_timeout;
    http::async_read_header(m_socket, m_buffer, *m_parser,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_head(ec); });
  }

  void on_head(beast::error_code ec) {
    if (ec) {
      if (ec == http::error::header_limit) {
        send({431, "application/json", {}, error_body("header too large", fmt::format("request line and headers "
                                                                                        "may be at most {} bytes",
                                                                                        k_header_limit))},
             true);
      } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        send({400, "application/json", {}, error_body("bad request", ec.message())}, true);
      } else {
        shut();  // closed by the client, timed out, or broken: nothing to answer
      }
      return;
    }
    m_started = Clock::now();
    m_busy = true;
    const auto& req = m_parser->get();
    m_request.method = std::string{req.method_string()};
    m_request.target = std::string{req.target()};
    m_request.headers.reserve(16);
    for (const auto& field : req) {
      m_request.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    }
    m_request.peer = m_peer;
    m_keep_alive = req.keep_alive();
    m_method = m_request.method;  // for the access log: m_request is handed over with the body
    m_target = m_request.target;
    std::uint64_t limit = 1 << 20;
    if (auto early = m_server->routes.head(m_request, limit)) {
      send(std::move(*early), true);
      return;
    }
    const auto too_large = [self = shared_from_this(), limit] {
      if (self->m_server->routes.answered_by_server) {
        self->m_server->routes.answered_by_server(self->m_request, 413);
      }
      self->send({413, "application/json", {},
                  error_body("body too large", fmt::format("the body may be at most {} bytes", limit))},
                 true);
    };
    if (const auto length = m_parser->content_length(); length && *length > limit) {
      too_large();  // without reading it
      return;
    }
    if (m_parser->is_done()) {
      on_body();
      return;
    }
    m_parser->body_limit(limit);
    m_deadline = Clock::now() + m_server->limits.body_timeout;
    http::async_read(m_socket, m_buffer, *m_parser,
                     [self = shared_from_this(), too_large](beast::error_code ec, std::size_t) {
                       if (ec == http::error::body_limit) {
                         too_large();  // chunked: found out while reading
                       } else if (ec) {
                         self->shut();
                       } else {
                         self->on_body();
                       }
                     });
  }

  void on_body() {
    m_request.body = std::move(m_parser->get().body());
    m_deadline = Clock::time_point::max();  // the answer may wait for a commit
    m_server->routes.handle(std::move(m_request), [self = shared_from_this()](HttpResponse response) {
      Worker& worker = self->m_worker;
      worker.deliver(std::move(self), std::move(response));
    });
  }

  void send(HttpResponse response, bool close) {
    close = close || m_closing;
    std::string& out = m_out;
    out.clear();
    const auto phrase = http::obsolete_reason(static_cast<http::status>(response.status));
    const std::string_view reason{phrase.data(), phrase.size()};
    fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} {}\r\nServer: vibe\r\nContent-Type: {}\r\n", response.status,
                   reason, response.content_type);
    for (const auto& [name, value] : response.headers) {
      fmt::format_to(std::back_inserter(out), "{}: {}\r\n", name, value);
    }
    if (close) {
      out += "Connection: close\r\n";
    }
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n\r\n", response.body.size());
    out += response.body;
    if (m_server->log->should_log(spdlog::level::debug)) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - m_started).count();
      m_server->log->debug("http.access peer={} method={} target={} status={} bytes={} ms={:.3f}", m_peer,
                          m_method.empty() ? "-" : m_method, m_target.empty() ? "-" : m_target, response.status,
                          response.body.size(), ms);
    }
    m_busy = true;
    m_deadline = Clock::now() + m_server->limits.body_timeout;
    asio::async_write(m_socket, asio::buffer(out), [self = shared_from_this(), close](beast::error_code ec, std::size_t) {
      if (ec) {
        self->shut();
        return;
      }
      if (close || self->m_closing) {
        boost::system::error_code ignored;
        self->m_socket.shutdown(tcp::socket::shutdown_send, ignored);
        self->m_deadline = Clock::time_point::max();
        self->m_busy = false;
        return;
      }
      self->read_head();
    });
  }

  Socket m_socket;
  std::shared_ptr<HttpServer::Impl> m_server;
  Worker& m_worker;  // owned by m_server
  beast::flat_buffer m_buffer;
  std::optional<http::request_parser<http::string_body>> m_parser;
  HttpRequest m_request;  // the one being read or handled
  std::string m_method;   // of the request being answered, for the access log
  std::string m_target;
  std::string m_out;      // the response being written
  std::string m_peer;
  Clock::time_point m_deadline = Clock::time_point::max();
  bool m_keep_alive = true;
  bool m_busy = false;     // between a request's head and its response written
  bool m_closing = false;  // close_all(): no further requests
  Clock::time_point m_started;
};

void Worker::deliver(std::shared_ptr<Session> session, HttpResponse response) {
  if (context.get_executor().running_in_this_thread()) {
    session->respond(std::move(response));
    return;
  }
  bool post = false;
  {
    std::lock_guard lock{mailbox_mutex};
    if (stopped) {
      return;
    }
    mailbox.emplace_back(std::move(session), std::move(response));
    post = !draining;
    draining = true;
  }
  if (post) {
    asio::post(context, [this] { drain(); });
  }
}

void Worker::drain() {
  std::vector<std::pair<std::shared_ptr<Session>, HttpResponse>> answers;
  for (;;) {
    {
      std::lock_guard lock{mailbox_mutex};
      if (mailbox.empty()) {
        draining = false;
        return;
      }
      answers.swap(mailbox);
    }
    for (auto& [session, response] : answers) {
      session->respond(std::move(response));
    }
    answers.clear();
  }
}

void Worker::arm_sweep() {
  sweep.expires_after(k_sweep_every);
  sweep.async_wait([this](boost::system::error_code ec) {
    if (ec) {
      return;  // shutdown
    }
    const auto now = Clock::now();
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (auto session = it->second.lock()) {
        session->check_deadline(now);
        ++it;
      } else {
        it = sessions.erase(it);
      }
    }
    arm_sweep();
  });
}

}  // namespace

void HttpServer::Impl::accept() {
  Worker& worker = *workers[next_worker];
  next_worker = (next_worker + 1) % workers.size();
  acceptor->async_accept(worker.context, [self = shared_from_this(), &worker](beast::error_code ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor->is_open()) {
      return;
    }
    if (!ec) {
      ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
      if (self->open.load() >= self->limits.max_connections) {
        self->log->debug("http.refused peer connection: {} connections open (serve.http_max_connections)",
                         self->open.load());
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        // Made here, so the connection counts against the limit at once; it
        // starts on its own thread.
        auto session = std::make_shared<Session>(std::move(socket), self, worker);
        asio::post(worker.context, [session = std::move(session)] { session->start(); });
      }
    } else {
      self->log->warn("http.accept_failed error={}", ec.message());
    }
    self->accept();
  });
}

HttpServer::HttpServer(HttpRoutes routes, HttpLimits limits, std::shared_ptr<spdlog::logger> log)
    : m_impl(std::make_shared<Impl>(std::move(routes), limits, std::move(log))) {
  for (auto& worker : m_impl->workers) {
    worker->arm_sweep();
    worker->thread = std::thread([w = worker.get()] { w->context.run(); });
    const std::string name = fmt::format("vibe-http-{}", worker->index);
    ::pthread_setname_np(worker->thread.native_handle(), name.c_str());
  }
}

HttpServer::~HttpServer() {
  shutdown();
}

Result<void> HttpServer::listen(const std::string& address) {
  std::string host = address;
  std::string port_text;
  if (const auto colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(port_text, &used);
    if (used != port_text.size() || port > 65535) {
      throw std::out_of_range{"port"};
    }
  } catch (const std::exception&) {
    ec = asio::error::invalid_argument;
  }
  if (ec) {
    return fail(Errc::config, fmt::format("serve.http: '{}' is not HOST:PORT with an IP address (e.g. 127.0.0.1:8787)",
                                          address));
  }
  const tcp::endpoint endpoint{ip, static_cast<unsigned short>(port)};
  auto& acceptor = *m_impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    ::fcntl(acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return fail(Errc::network, fmt::format("cannot listen on {} (serve.http): {}", address, ec.message()));
  }
  asio::post(m_impl->workers.front()->context, [impl = m_impl] { impl->accept(); });
  return {};
}

std::string HttpServer::local_address() const {
  boost::system::error_code ec;
  const auto endpoint = m_impl->acceptor->local_endpoint(ec);
  if (ec) {
    return {};
  }
  return endpoint.address().is_v6() ? fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port())
                                     : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

void HttpServer::stop_accepting() {
  asio::post(m_impl->workers.front()->context, [impl = m_impl] {
    boost::system::error_code ignored;
    impl->acceptor->close(ignored);
  });
}

void HttpServer::close_all() {
  for (auto& worker : m_impl->workers) {
    asio::post(worker->context, [w = worker.get()] {
      for (auto& [raw, weak] : w->sessions) {
        if (auto session = weak.lock()) {
          session->close();
        }
      }
    });
  }
}

std::size_t HttpServer::connections() const {
  return m_impl->open.load();
}

void HttpServer::shutdown() {
  if (m_impl->down.exchange(true)) {
    return;
  }
  for (auto& worker : m_impl->workers) {
    worker->work.reset();
    worker->context.stop();
  }
  for (auto& worker : m_impl->workers) {
    if (worker->thread.joinable()) {
      worker->thread.join();
    }
  }
  // Now on this thread alone: end every session so the handlers they wait
  // in run (with operation_aborted) and release them, before the sockets'
  // io_contexts go away with the Impl.
  boost::system::error_code ignored;
  m_impl->acceptor->close(ignored);
  for (auto& worker : m_impl->workers) {
    worker->sweep.cancel();
    for (auto& [raw, weak] : worker->sessions) {
      if (auto session = weak.lock()) {
        session->check_deadline(Clock::time_point::max());
      }
    }
    worker->context.restart();
    worker->context.poll();
    std::lock_guard lock{worker->mailbox_mutex};
    worker->stopped = true;
    worker->mailbox.clear();
  }
}

}  // namespace vibe::core
