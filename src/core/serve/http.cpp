// The HTTP server of vibe serve, on Boost.Beast. Each connection is a
// Session on its own strand of the event loop: read a request head (within
// header_timeout), ask the routes, read the body (within body_timeout, up to
// the routes' limit), hand the request over, write the response when the
// routes answer (maybe later, after a commit), then read the next request.
#include "core/serve/http.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include <fcntl.h>

namespace vibe::core {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// Concrete executor types (not the type-erased any_io_executor): each
// connection's socket and timer run on a strand of the loop.
using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Strand>;
using Stream = beast::basic_stream<tcp, Strand>;

namespace {

constexpr std::uint32_t k_header_limit = 16 * 1024;  // request line and headers, at most

std::string error_body(std::string_view error, std::string_view detail) {
  return nlohmann::json{{"error", error}, {"detail", detail}}.dump(-1, ' ', false,
                                                                      nlohmann::json::error_handler_t::replace);
}

class Session;

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& loop_in, HttpRoutes routes_in, HttpLimits limits_in, std::shared_ptr<spdlog::logger> log_in)
      : loop(loop_in), routes(std::move(routes_in)), limits(limits_in), log(std::move(log_in)), acceptor(loop_in) {}

  void accept();

  asio::io_context& loop;
  HttpRoutes routes;
  HttpLimits limits;
  std::shared_ptr<spdlog::logger> log;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> open{0};
  std::mutex sessions_mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(Socket socket, std::shared_ptr<HttpServer::Impl> server)
      : m_stream(std::move(socket)), m_server(std::move(server)) {
    ++m_server->open;
    boost::system::error_code ec;
    const auto peer = m_stream.socket().remote_endpoint(ec);
    if (!ec) {
      m_peer = fmt::format("{}:{}", peer.address().to_string(), peer.port());
    }
  }

  ~Session() {
    --m_server->open;
    std::lock_guard lock{m_server->sessions_mutex};
    m_server->sessions.erase(this);
  }

  void start() {
    {
      std::lock_guard lock{m_server->sessions_mutex};
      m_server->sessions.emplace(this, weak_from_this());
    }
    read_head();
  }

  // Closes the connection now when it waits for a request, else once the
  // response in the works is written.
  void close() {
    asio::post(m_stream.get_executor(), [self = shared_from_this()] {
      self->m_closing = true;
      if (!self->m_busy) {
        self->shut();
      }
    });
  }

private:
  void shut() {
    boost::system::error_code ignored;
    m_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    m_stream.close();
  }

  void read_head() {
    m_busy = false;
    if (m_closing) {
      shut();
      return;
    }
    m_request = HttpRequest{};
    m_started = std::chrono::steady_clock::now();
    m_parser.emplace();
    m_parser->header_limit(k_header_limit);
    m_stream.expires_after(m_server->limits.header_timeout);
    http::async_read_header(m_stream, m_buffer, *m_parser,
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
        m_stream.close();  // closed by the client, timed out, or broken: nothing to answer
      }
      return;
    }
    m_started = std::chrono::steady_clock::now();
    m_busy = true;
    const auto& req = m_parser->get();
    m_request = HttpRequest{};
    m_request.method = std::string{req.method_string()};
    m_request.target = std::string{req.target()};
    for (const auto& field : req) {
      m_request.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    }
    m_request.peer = m_peer;
    m_keep_alive = req.keep_alive();
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
      on_body({});
      return;
    }
    m_parser->body_limit(limit);
    m_stream.expires_after(m_server->limits.body_timeout);
    http::async_read(m_stream, m_buffer, *m_parser,
                     [self = shared_from_this(), too_large](beast::error_code ec, std::size_t) {
                       if (ec == http::error::body_limit) {
                         too_large();  // chunked: found out while reading
                       } else if (ec) {
                         self->m_stream.close();
                       } else {
                         self->on_body({});
                       }
                     });
  }

  void on_body(beast::error_code) {
    m_request.body = std::move(m_parser->get().body());
    m_stream.expires_never();  // the answer may wait for a commit
    m_server->routes.handle(std::move(m_request), [self = shared_from_this()](HttpResponse response) {
      asio::post(self->m_stream.get_executor(), [self, response = std::move(response)]() mutable {
        self->send(std::move(response), !self->m_keep_alive);
      });
    });
  }

  void send(HttpResponse response, bool close) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), 11);
    res->set(http::field::server, "vibe");
    res->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      res->set(name, value);
    }
    res->keep_alive(!close);
    res->body() = std::move(response.body);
    res->prepare_payload();
    if (m_server->log->should_log(spdlog::level::debug)) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m_started).count();
      m_server->log->debug("http.access peer={} method={} target={} status={} bytes={} ms={:.3f}", m_peer,
                           m_request.method.empty() ? "-" : m_request.method,
                           m_request.target.empty() ? "-" : m_request.target, response.status, res->body().size(), ms);
    }
    m_stream.expires_after(m_server->limits.body_timeout);
    http::async_write(m_stream, *res, [self = shared_from_this(), res, close](beast::error_code ec, std::size_t) {
      if (ec) {
        self->m_stream.close();
        return;
      }
      if (close || self->m_closing) {
        boost::system::error_code ignored;
        self->m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        self->m_busy = false;
        return;
      }
      self->read_head();
    });
  }

  Stream m_stream;
  beast::flat_buffer m_buffer;
  std::shared_ptr<HttpServer::Impl> m_server;
  std::optional<http::request_parser<http::string_body>> m_parser;
  HttpRequest m_request;  // the one being read or handled
  std::string m_peer;
  bool m_keep_alive = true;
  bool m_busy = false;     // between a request's head and its response written
  bool m_closing = false;  // close_all(): no further requests
  std::chrono::steady_clock::time_point m_started;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(loop.get_executor()), [self = shared_from_this()](beast::error_code ec,
                                                                                            Socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) {
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
        std::make_shared<Session>(std::move(socket), self)->start();
      }
    } else {
      self->log->warn("http.accept_failed error={}", ec.message());
    }
    self->accept();
  });
}

HttpServer::HttpServer(asio::io_context& loop, HttpRoutes routes, HttpLimits limits,
                       std::shared_ptr<spdlog::logger> log)
    : m_impl(std::make_shared<Impl>(loop, std::move(routes), limits, std::move(log))) {}

HttpServer::~HttpServer() {
  stop_accepting();
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
  auto& acceptor = m_impl->acceptor;
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
  m_impl->accept();
  return {};
}

std::string HttpServer::local_address() const {
  boost::system::error_code ec;
  const auto endpoint = m_impl->acceptor.local_endpoint(ec);
  if (ec) {
    return {};
  }
  return endpoint.address().is_v6() ? fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port())
                                     : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

void HttpServer::stop_accepting() {
  asio::post(m_impl->loop, [impl = m_impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

void HttpServer::close_all() {
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock{m_impl->sessions_mutex};
    for (auto& [raw, weak] : m_impl->sessions) {
      if (auto session = weak.lock()) {
        open.push_back(std::move(session));
      }
    }
  }
  for (auto& session : open) {
    session->close();
  }
}

std::size_t HttpServer::connections() const {
  return m_impl->open.load();
}

}  // namespace vibe::core
