#include "core/serve/server.hpp"

#include "core/pipeline/run.hpp"

#include "core/bus.hpp"
#include "core/metrics.hpp"
#include "core/ingest.hpp"
#include "core/serve/control_client.hpp"
#include "core/serve/coordinator.hpp"
#include "core/serve/http.hpp"
#include "core/serve/http_api.hpp"
#include "core/serve/lock.hpp"
#include "core/serve/offline.hpp"
#include "core/serve/tail.hpp"
#include "core/store/batch_writer.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vibe::core {

namespace asio = boost::asio;
using local_stream = asio::local::stream_protocol;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_request = 16 << 20;  // one control request line, or the body after it, at most
constexpr std::size_t k_max_parsed_line = 64 << 10;  // longer lines are parsed on the control pool
constexpr std::size_t k_pipeline = 4;  // requests of one connection read before the first is answered
constexpr int k_loop_threads = 2;      // timers, sockets and signals; nothing blocking runs there
constexpr std::size_t k_http_threads = 2;  // the HTTP endpoint's own event loops (one per core here)
constexpr UnixMicros k_stall_after = 10'000'000;  // /readyz: a writer with work and no commit this long is stalled

// Resident memory of this process, from /proc/self/statm; 0 if unknown.
std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  unsigned long long size = 0;
  unsigned long long resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

// Lets serve hold as many connections as the hard limit allows (HTTP).
void raise_open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// One request of a control connection.
struct Request {
  std::string line;       // the request line, without its '\n'
  nlohmann::json parsed;  // `line` parsed, or discarded when it was too long to parse on the loop
  std::string body;       // the bytes after the line, for a request with "bytes": N
};

// State a connection keeps between its requests; only its handler touches it.
struct Session {
  bool refusing_ingest = false;  // an ingest request was refused; refuse those after it until a retry
};

// The handler answers by calling `answer` once, from any thread, maybe later
// (an ingest request is answered once its events are committed).
using Answer = std::function<void(std::string reply)>;
using Handler = std::function<void(Request& request, Session& session, Answer answer)>;
// Takes over a connection whose first request streams (tail): the line and
// the socket's file descriptor, now owned by the callee.
using Streamer = std::function<void(const std::string& line, int fd)>;

// One client of the control socket. Requests are pipelined: up to
// k_pipeline are read ahead, handled one after another on the control pool
// (in order: a connection's ingest chunks are committed in the order they
// came), and answered in request order. The socket is used on its strand;
// the handlers run on a strand of the pool.
class Connection : public std::enable_shared_from_this<Connection> {
public:
  Connection(local_stream::socket socket, asio::thread_pool& pool, const Handler& handler, const Streamer& streamer)
      : m_socket(std::move(socket)), m_buffer(k_max_request), m_work(asio::make_strand(pool)), m_handler(handler),
        m_streamer(streamer) {}

  void read() {
    if (m_reading || m_closing || m_answers.size() >= k_pipeline) {
      return;
    }
    m_reading = true;
    asio::async_read_until(m_socket, m_buffer, '\n',
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                             self->on_line(ec, n);
                           });
  }

private:
  void on_line(const boost::system::error_code& ec, std::size_t n) {
    if (ec == asio::error::not_found) {
      // Longer than k_max_request without a newline.
      refuse("request line longer than 16 MiB");
      return;
    }
    if (ec) {
      return;  // closed
    }
    Request request;
    request.line.assign(asio::buffers_begin(m_buffer.data()), asio::buffers_begin(m_buffer.data()) + n - 1);
    m_buffer.consume(n);
    request.parsed = request.line.size() <= k_max_parsed_line ? nlohmann::json::parse(request.line, nullptr, false)
                                                              : nlohmann::json(nlohmann::json::value_t::discarded);
    const nlohmann::json& parsed = request.parsed;
    if (parsed.is_object() && parsed.value("cmd", "") == "tail" && m_answers.empty() && !m_writing) {
      // The connection becomes a stream of events, served by a thread of its own.
      boost::system::error_code release_ec;
      const int fd = m_socket.release(release_ec);
      if (!release_ec) {
        m_streamer(request.line, fd);
      }
      return;
    }
    std::size_t bytes = 0;
    if (parsed.is_object() && parsed.contains("bytes")) {
      const auto& value = parsed["bytes"];
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() > k_max_request) {
        // The stream cannot be read on without knowing where the body ends.
        refuse("\"bytes\" must be an integer from 0 to 16777216 (16 MiB)");
        return;
      }
      bytes = value.get<std::size_t>();
    }
    if (bytes == 0) {
      m_reading = false;
      dispatch(std::move(request));
      read();
      return;
    }
    const std::size_t have = std::min(bytes, m_buffer.size());
    auto shared = std::make_shared<Request>(std::move(request));
    asio::async_read(m_socket, m_buffer, asio::transfer_exactly(bytes - have),
                     [self = shared_from_this(), shared, bytes](const boost::system::error_code& ec, std::size_t) {
                       if (ec) {
                         return;  // closed mid-body
                       }
                       shared->body.assign(asio::buffers_begin(self->m_buffer.data()),
                                           asio::buffers_begin(self->m_buffer.data()) + bytes);
                       self->m_buffer.consume(bytes);
                       self->m_reading = false;
                       self->dispatch(std::move(*shared));
                       self->read();
                     });
  }

  // Hands `request` to the handler; its answer takes the next slot.
  void dispatch(Request request) {
    const std::uint64_t slot = m_first_slot + m_answers.size();
    m_answers.emplace_back();
    asio::post(m_work, [self = shared_from_this(), request = std::move(request), slot]() mutable {
      self->m_handler(request, self->m_session, [self, slot](std::string reply) {
        asio::post(self->m_socket.get_executor(),
                   [self, slot, reply = std::move(reply)]() mutable { self->answered(slot, std::move(reply)); });
      });
    });
  }

  void answered(std::uint64_t slot, std::string reply) {
    m_answers[slot - m_first_slot] = std::move(reply) + "\n";
    flush();
  }

  // Writes the answers that are ready, in request order.
  void flush() {
    if (m_writing || m_answers.empty() || !m_answers.front()) {
      return;
    }
    m_out = std::move(*m_answers.front());
    m_answers.pop_front();
    ++m_first_slot;
    m_writing = true;
    asio::async_write(m_socket, asio::buffer(m_out),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        self->m_writing = false;
                        if (ec) {
                          return;  // the client went away
                        }
                        if (self->m_closing) {
                          if (self->m_answers.empty()) {
                            boost::system::error_code ignored;
                            self->m_socket.shutdown(local_stream::socket::shutdown_both, ignored);
                            return;
                          }
                        }
                        self->flush();
                        self->read();
                      });
  }

  // A request the connection cannot read past: answered after those before
  // it, then the connection is closed.
  void refuse(std::string message) {
    m_reading = false;
    m_closing = true;
    m_answers.emplace_back(
        nlohmann::json{{"ok", false}, {"error", {{"code", "usage"}, {"message", std::move(message)}}}}.dump() + "\n");
    flush();
  }

  local_stream::socket m_socket;
  asio::streambuf m_buffer;
  asio::strand<asio::thread_pool::executor_type> m_work;
  const Handler& m_handler;
  const Streamer& m_streamer;
  Session m_session;  // used on m_work only
  // On the socket's strand: reading, and the answers owed, oldest first
  // (nullopt: not ready yet); m_first_slot numbers the oldest.
  bool m_reading = false;
  bool m_writing = false;
  bool m_closing = false;
  std::deque<std::optional<std::string>> m_answers;
  std::uint64_t m_first_slot = 0;
  std::string m_out;
};

class Acceptor {
public:
  Acceptor(asio::io_context& loop, asio::thread_pool& pool, Handler handler, Streamer streamer)
      : m_acceptor(loop), m_pool(pool), m_handler(std::move(handler)), m_streamer(std::move(streamer)) {}

  Result<void> listen(const fs::path& path) {
    boost::system::error_code ec;
    m_acceptor.open(local_stream{}, ec);
    if (!ec) {
      // Children of exec jobs must not inherit the listening socket: one that
      // outlived serve would make the next start take the socket for live.
      ::fcntl(m_acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
      // Created 0600 from the start: no window in which others may connect.
      const mode_t old = ::umask(0177);
      m_acceptor.bind(local_stream::endpoint{path.string()}, ec);
      ::umask(old);
    }
    if (!ec) {
      m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return fail(Errc::storage, fmt::format("control socket {}: {}", path.string(), ec.message()));
    }
    accept();
    return {};
  }

  void close() {
    boost::system::error_code ignored;
    m_acceptor.close(ignored);
  }

private:
  void accept() {
    // Each connection's socket gets a strand: its reads, writes and answers never run at once.
    m_acceptor.async_accept(asio::make_strand(m_acceptor.get_executor()), [this](const boost::system::error_code& ec,
                                                                                 local_stream::socket socket) {
      if (ec == asio::error::operation_aborted || !m_acceptor.is_open()) {
        return;
      }
      if (!ec) {
        ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
        std::make_shared<Connection>(std::move(socket), m_pool, m_handler, m_streamer)->read();
      }
      accept();
    });
  }

  local_stream::acceptor m_acceptor;
  asio::thread_pool& m_pool;
  Handler m_handler;
  Streamer m_streamer;
};

// Makes the socket path free for this serve: a file nobody accepts on is
// left over from a crash (kill -9) and is removed; a live one belongs to
// another serve (with another data_dir but the same socket).
Result<void> claim_socket_path(const fs::path& path, spdlog::logger& log) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) {
    fs::create_directories(path.parent_path(), ec);
    return {};
  }
  auto answer = control_request(path, nlohmann::json{{"cmd", "ping"}}, Millis{2'000});
  if (answer || answer.error().code != Errc::unavailable) {
    return fail(Errc::conflict, fmt::format("another vibe serve is answering on {}; stop it first, or set "
                                            "serve.socket to another path",
                                            path.string()));
  }
  if (!fs::is_socket(fs::symlink_status(path, ec))) {
    return fail(Errc::conflict, fmt::format("{} exists and is not a socket; move it away or set serve.socket",
                                            path.string()));
  }
  fs::remove(path, ec);
  if (ec) {
    return fail(Errc::storage, fmt::format("cannot remove stale socket {}: {}", path.string(), ec.message()));
  }
  log.info("removed stale socket {} (left by a serve that did not stop cleanly)", path.string());
  return {};
}

std::string error_reply(const Error& error) {
  return nlohmann::json{{"ok", false}, {"error", {{"code", errc_name(error.code)}, {"message", error.message}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ok_reply(const nlohmann::json& result) {
  return nlohmann::json{{"ok", true}, {"result", result}}.dump(-1, ' ', false,
                                                                nlohmann::json::error_handler_t::replace);
}

// A request's argument: the string, or "" when it is missing or not a string.
std::string string_of(const nlohmann::json& request, const char* key) {
  const auto it = request.find(key);
  return it != request.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// A request's flag: true only when it is the JSON value true.
bool flag_of(const nlohmann::json& request, const char* key) {
  const auto it = request.find(key);
  return it != request.end() && it->is_boolean() && it->get<bool>();
}

std::string joined(const std::vector<std::string>& ids) {
  return ids.empty() ? "-" : fmt::format("{}", fmt::join(ids, ","));
}

}  // namespace

Result<int> serve(Config config_in, const Logging& logging, ServeHooks hooks) {
  auto log = logging.get("serve");
  raise_open_files_limit();
  auto lock = DataDirLock::acquire(config_in.data_dir);
  if (!lock) {
    return tl::unexpected(lock.error());
  }
  if (auto ok = claim_socket_path(config_in.serve.socket, *log); !ok) {
    return tl::unexpected(ok.error());
  }
  auto opened = open_store_synced(config_in);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  Store& store = **opened;
  const UnixMicros started_at = now_micros();
  std::string http_address;  // where the HTTP endpoint listens; "" when it does not
  if (auto ok = store.open_sessions(started_at); !ok) {
    return tl::unexpected(ok.error());
  }

  std::mutex config_mutex;  // guards `config`
  std::shared_ptr<const Config> config = std::make_shared<const Config>(std::move(config_in));
  const std::shared_ptr<const Config> first_config = config;  // the job runner's, for the life of the process

  // Committed events go to the bus with their ids, on their source's topic
  // and the topics of the streams that list the source (the current config's).
  Bus bus;
  using Membership = std::map<std::string, std::vector<std::string>>;  // source -> its topics
  auto membership_of = [](const Config& c) {
    auto out = std::make_shared<Membership>();
    for (const auto& source : c.sources) {
      (*out)[source.id].push_back("source:" + source.id);
    }
    for (const auto& stream : c.streams) {
      for (const auto& source : stream.sources) {
        (*out)[source].push_back("stream:" + stream.id);
      }
    }
    for (const auto& pipeline : c.pipelines) {
      (*out)[pipeline.topic_source()].push_back(pipeline.topic_source());
    }
    return std::shared_ptr<const Membership>{std::move(out)};
  };
  std::shared_ptr<const Membership> membership = membership_of(*config);  // guarded by config_mutex
  BatchWriter writer{store, config->buffer, logging.get("store.writer")};
  // For /metrics: committed events by (source, type), duplicates by source.
  std::mutex counts_mutex;
  std::map<std::pair<std::string, std::string>, std::uint64_t> ingested_counts;
  std::map<std::string, std::uint64_t> duplicate_counts;
  writer.set_on_commit([&](std::span<const WriteRequest> requests, std::span<const WriteResult> results,
                           UnixMicros ingested_at) {
    {
      std::lock_guard guard{counts_mutex};
      for (std::size_t r = 0; r < requests.size(); ++r) {
        for (std::size_t i = 0; i < requests[r].events.size(); ++i) {
          const Event& event = requests[r].events[i];
          if (results[r].ids[i] != 0) {
            ++ingested_counts[{event.source_id, event.type}];
          } else {
            ++duplicate_counts[event.source_id];
          }
        }
      }
    }
    if (bus.subscribers() == 0) {
      return;
    }
    std::shared_ptr<const Membership> topics;
    {
      std::lock_guard guard{config_mutex};
      topics = membership;
    }
    std::vector<Event> committed;
    for (std::size_t r = 0; r < requests.size(); ++r) {
      for (std::size_t i = 0; i < requests[r].events.size(); ++i) {
        if (results[r].ids[i] != 0) {
          Event event = requests[r].events[i];
          event.id = std::max<std::int64_t>(0, results[r].ids[i]);  // -1: new but not stored (persist: false)
          event.ingested_at = ingested_at;
          committed.push_back(std::move(event));
        }
      }
    }
    static const std::vector<std::string> k_none;
    std::vector<std::string> scratch;
    bus.publish(committed, [&](const Event& event) -> const std::vector<std::string>& {
      const auto it = topics->find(event.source_id);
      const auto& known = it == topics->end() ? k_none : it->second;
      if (event.stream_id.empty()) {
        return known;
      }
      // Ingested events belong to their stream whatever their source.
      std::string own = "stream:" + event.stream_id;
      if (std::find(known.begin(), known.end(), own) != known.end()) {
        return known;
      }
      scratch = known;
      scratch.push_back(std::move(own));
      return scratch;
    });
  });
  asio::io_context loop;
  auto work = asio::make_work_guard(loop);
  asio::thread_pool control_pool{2};
  const auto poll_threads = config->queues.count("poll") != 0 ? config->queues.at("poll") : std::size_t{10};
  Coordinator coordinator{{store, writer, logging, loop, poll_threads}, config};
  std::unique_ptr<JobService> jobs = hooks.make_jobs(*first_config, store, writer, coordinator);

  // Tail sessions: one thread each, ended by `tail_stopping` at shutdown.
  std::atomic<bool> tail_stopping{false};
  std::mutex tails_mutex;
  struct TailThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::vector<TailThread> tails;

  std::mutex reload_mutex;  // one reload at a time
  auto reload = [&]() -> Result<nlohmann::json> {
    std::lock_guard serial{reload_mutex};
    auto fresh = hooks.load_config(first_config->path);
    if (!fresh) {
      log->error("config.reload_failed config={} error={}", first_config->path.string(), fresh.error().message);
      return tl::unexpected(fresh.error());
    }
    std::vector<std::string> restart_needed;
    if (fresh->data_dir != first_config->data_dir || fresh->sqlite_path != first_config->sqlite_path) {
      restart_needed.emplace_back("data_dir/store");
    }
    if (fresh->serve.socket != first_config->serve.socket) {
      restart_needed.emplace_back("serve.socket");
    }
    if (fresh->serve.shutdown_timeout != first_config->serve.shutdown_timeout) {
      restart_needed.emplace_back("serve.shutdown_timeout");
    }
    if (fresh->serve.http != first_config->serve.http ||
        fresh->serve.http_max_connections != first_config->serve.http_max_connections ||
        fresh->serve.http_header_timeout != first_config->serve.http_header_timeout ||
        fresh->serve.http_body_timeout != first_config->serve.http_body_timeout) {
      restart_needed.emplace_back("serve.http");
    }
    if (fresh->buffer.max_events != first_config->buffer.max_events ||
        fresh->buffer.max_delay != first_config->buffer.max_delay ||
        fresh->buffer.max_pending != first_config->buffer.max_pending) {
      restart_needed.emplace_back("buffer");
    }
    if (fresh->queues != first_config->queues) {
      restart_needed.emplace_back("queues");
    }
    if (fresh->cron.size() != first_config->cron.size() ||
        !std::equal(fresh->cron.begin(), fresh->cron.end(), first_config->cron.begin(),
                    [](const CronConfig& a, const CronConfig& b) {
                      return a.name == b.name && a.schedule == b.schedule && a.args == b.args;
                    })) {
      restart_needed.emplace_back("cron");
    }
    auto pipelines_of = [](const Config& c) {
      std::string text;
      for (const auto& p : c.pipelines) {
        text += fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{};", p.id, p.every.count(), p.cron, p.map.dump(), p.filter,
                            p.persist, p.sinks.size(), p.from_pipeline,
                            p.source ? p.source->type + p.source->id : std::string{});
      }
      return text;
    };
    if (pipelines_of(*fresh) != pipelines_of(*first_config)) {
      restart_needed.emplace_back("pipelines");
    }
    const auto [sources, streams] = catalog_of(*fresh);
    if (auto ok = store.sync_catalog(sources, streams); !ok) {
      log->error("config.reload_failed config={} error={}", first_config->path.string(), ok.error().message);
      return tl::unexpected(ok.error());
    }
    // Streams new in the file begin their first session now.
    if (auto ok = store.open_sessions(now_micros()); !ok) {
      log->error("config.reload_failed config={} error={}", first_config->path.string(), ok.error().message);
      return tl::unexpected(ok.error());
    }
    auto next = std::make_shared<const Config>(std::move(*fresh));
    auto summary = coordinator.apply(next);
    if (!summary) {
      return tl::unexpected(summary.error());
    }
    {
      std::lock_guard guard{config_mutex};
      config = next;
      membership = membership_of(*next);
    }
    log->info("config.reloaded added={} removed={} changed={}", joined(summary->added), joined(summary->removed),
              joined(summary->changed));
    if (!restart_needed.empty()) {
      log->warn("config.restart_needed keys={} (these take effect when serve restarts)", joined(restart_needed));
    }
    return nlohmann::json{{"added", summary->added},
                          {"removed", summary->removed},
                          {"changed", summary->changed},
                          {"restart_needed", restart_needed}};
  };

  auto status = [&]() -> Result<nlohmann::json> {
    std::shared_ptr<const Config> current;
    {
      std::lock_guard guard{config_mutex};
      current = config;
    }
    const UnixMicros now = now_micros();
    nlohmann::json out{
        {"version", VIBE_VERSION},
        {"pid", ::getpid()},
        {"started_at", format_rfc3339(started_at)},
        {"uptime_s", (now - started_at) / k_micros_per_second},
        {"config", current->path.string()},
        {"data_dir", current->data_dir.string()},
        {"socket", current->serve.socket.string()},
        {"http", http_address.empty() ? nlohmann::json(nullptr) : nlohmann::json(http_address)},
    };
    out.update(coordinator.summary_json());
    nlohmann::json queues = nlohmann::json::object();
    for (const auto& [name, concurrency] : first_config->queues) {
      queues[name] = {{"concurrency", concurrency}, {"available", 0}, {"scheduled", 0},
                      {"executing", 0},             {"retryable", 0}};
    }
    if (auto stats = store.jobs().job_stats(now)) {
      for (const auto& c : stats->counts) {
        if (queues.contains(c.queue) && queues[c.queue].contains(std::string{job_state_name(c.state)})) {
          queues[c.queue][std::string{job_state_name(c.state)}] = c.count;
        }
      }
    }
    out["queues"] = queues;
    std::size_t job_threads = 0;
    for (const auto& [name, concurrency] : first_config->queues) {
      job_threads += concurrency;
    }
    out["workers"] = {{"poll_threads", poll_threads},
                      {"job_threads", job_threads},
                      {"loop_threads", k_loop_threads},
                      {"http_threads", k_http_threads}};
    const auto counters = writer.counters();
    out["writer"] = {{"pending_events", counters.pending_events},
                     {"batches", counters.batches},
                     {"events", counters.events},
                     {"failed_batches", counters.failed_batches},
                     {"rejected", counters.rejected},
                     {"degraded", counters.degraded},
                     {"last_error", counters.last_error}};
    out["jobs"] = jobs->status();
    out["bus"] = {{"subscribers", bus.subscribers()}, {"lagged", bus.lagged_total()}};
    {
      std::lock_guard guard{tails_mutex};
      std::size_t live = 0;
      for (const auto& tail : tails) {
        live += *tail.finished ? 0 : 1;
      }
      out["tail_sessions"] = live;
    }
    return out;
  };

  auto stream_ids = [](const nlohmann::json& request) -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    if (request.contains("streams") && request["streams"].is_array()) {
      for (const auto& id : request["streams"]) {
        if (id.is_string()) {
          ids.push_back(id.get<std::string>());
        }
      }
    } else if (request.contains("stream") && request["stream"].is_string()) {
      ids.push_back(request["stream"].get<std::string>());
    }
    if (ids.empty()) {
      return fail(Errc::usage, "the request names no stream (\"stream\": ID or \"streams\": [ID, ...])");
    }
    return ids;
  };

  // {"cmd": "ingest", "stream": ID, "bytes": N, ...} + N bytes of NDJSON, or
  // {"cmd": "ingest", "stream": ID, "events": [...]}: answered once committed.
  // After a refused ingest request the connection refuses the ingest requests
  // already sent behind it, until one comes with "retry": true, so a client
  // that sends them again keeps its chunks in order.
  auto ingest = [&](Request& req, Session& session, const Answer& answer) {
    const nlohmann::json& request = req.parsed;
    if (session.refusing_ingest && !flag_of(request, "retry")) {
      answer(error_reply({Errc::unavailable, "an ingest request before this one on this connection was refused; "
                                             "send them again, in order, the first with \"retry\": true"}));
      return;
    }
    session.refusing_ingest = false;
    auto refuse = [&](const Error& error) {
      session.refusing_ingest = true;
      answer(error_reply(error));
    };
    const std::string stream = string_of(request, "stream");
    {
      std::lock_guard guard{config_mutex};
      if (config->find_stream(stream) == nullptr) {
        refuse(unknown_stream(*config, stream));
        return;
      }
    }
    WriteRequest write;
    if (request.contains("bytes")) {
      const IngestTarget target{stream, string_of(request, "source"), string_of(request, "type")};
      const auto first = request.find("first_line");
      const std::size_t first_line =
          first != request.end() && first->is_number_unsigned() ? first->get<std::size_t>() : std::size_t{1};
      auto batch = events_from_ndjson(req.body, first_line, target, now_micros(), flag_of(request, "strict"));
      nlohmann::json rejected = nlohmann::json::array();
      for (auto& reject : batch.rejects) {
        rejected.push_back({{"line", reject.line}, {"message", std::move(reject.message)}});
      }
      auto reply = [rejected = std::move(rejected), stopped = batch.stopped](const WriteResult& written) {
        return ok_reply({{"accepted", written.inserted},
                         {"duplicates", written.duplicates},
                         {"rejected", rejected},
                         {"stopped", stopped}});
      };
      if (batch.events.empty()) {
        answer(reply(WriteResult{}));
        return;
      }
      write.events = std::move(batch.events);
      auto queued = writer.try_submit(std::move(write), [answer, reply = std::move(reply)](Result<WriteResult> written) {
        answer(written ? reply(*written) : error_reply(written.error()));
      });
      if (!queued) {
        refuse(queued.error());
      }
      return;
    }
    if (!request.contains("events") || !request["events"].is_array()) {
      refuse({Errc::usage, "ingest needs \"bytes\": N and N bytes of NDJSON, or \"events\": [...]"});
      return;
    }
    for (const auto& json : request["events"]) {
      Event event = event_from_json(json);
      if (event.source_id.empty() || event.dedup_key.empty() || event.type.empty()) {
        refuse({Errc::usage, "ingest: every event needs source_id, type and dedup_key"});
        return;
      }
      event.stream_id = stream;
      event.id = 0;
      if (event.occurred_at == 0) {
        event.occurred_at = now_micros();
      }
      if (event.content.empty()) {
        event.content = "{}";
      }
      write.events.push_back(std::move(event));
    }
    auto queued = writer.try_submit(std::move(write), [answer](Result<WriteResult> written) {
      answer(written ? ok_reply({{"accepted", written->inserted},
                                 {"duplicates", written->duplicates},
                                 {"ids", written->ids}})
                     : error_reply(written.error()));
    });
    if (!queued) {
      refuse(queued.error());
    }
  };

  // Everything but ingest answers at once.
  auto answer_now = [&](const nlohmann::json& request) -> std::string {
    const std::string cmd = request["cmd"].get<std::string>();
    Result<nlohmann::json> result = fail(Errc::usage, fmt::format("unknown command '{}'", cmd));
    if (cmd == "ping") {
      result = nlohmann::json{{"pong", true}};
    } else if (cmd == "status") {
      result = status();
    } else if (cmd == "stream.list") {
      result = coordinator.streams_json();
    } else if (cmd == "stream.status") {
      auto ids = stream_ids(request);
      result = ids ? coordinator.stream_json(ids->front()) : tl::unexpected(ids.error());
    } else if (cmd == "stream.start" || cmd == "stream.pause" || cmd == "stream.stop") {
      const StreamState state = cmd == "stream.start"   ? StreamState::active
                                : cmd == "stream.pause" ? StreamState::paused
                                                        : StreamState::stopped;
      auto ids = stream_ids(request);
      if (!ids) {
        result = tl::unexpected(ids.error());
      } else {
        // Check every id before changing any.
        nlohmann::json changed = nlohmann::json::array();
        for (const auto& id : *ids) {
          if (auto ok = coordinator.stream_json(id); !ok) {
            result = tl::unexpected(ok.error());
            return error_reply(result.error());
          }
        }
        for (const auto& id : *ids) {
          auto record = coordinator.set_stream(id, state);
          if (!record) {
            return error_reply(record.error());
          }
          changed.push_back({{"id", id},
                             {"status", stream_state_name(record->desired)},
                             {"session_started_at", time_or_null(record->session_started_at)}});
        }
        result = nlohmann::json{{"streams", changed}};
      }
    } else if (cmd == "reload") {
      result = reload();
    } else if (cmd == "pipeline.recent") {
      const std::string id = request.value("pipeline", "");
      const std::int64_t count = request.value("count", 10);
      std::shared_ptr<const Config> current;
      {
        std::lock_guard guard{config_mutex};
        current = config;
      }
      if (current->find_pipeline(id) == nullptr) {
        result = fail(Errc::not_found, fmt::format("no pipeline named '{}'", id));
      } else if (count < 1 || count > 100) {
        result = fail(Errc::usage, "pipeline.recent: count is 1 to 100");
      } else {
        nlohmann::json records = nlohmann::json::array();
        for (const auto& event : pipeline::recent_records(id, static_cast<std::size_t>(count))) {
          records.push_back(to_json(event));
        }
        result = nlohmann::json{{"records", records}};
      }
    }
    return result ? ok_reply(*result) : error_reply(result.error());
  };

  const Handler handler = [&](Request& request, Session& session, Answer answer) {
    if (request.parsed.is_discarded()) {
      request.parsed = nlohmann::json::parse(request.line, nullptr, false);  // too long for the loop
    }
    const nlohmann::json& parsed = request.parsed;
    if (!parsed.is_object() || !parsed.contains("cmd") || !parsed["cmd"].is_string()) {
      answer(error_reply({Errc::usage, "a request is a JSON object with \"cmd\": NAME"}));
      return;
    }
    try {
      if (parsed["cmd"] == "ingest") {
        ingest(request, session, answer);
      } else {
        answer(answer_now(parsed));
      }
    } catch (const std::exception& e) {
      // An argument of the wrong JSON type, caught before anything was answered.
      answer(error_reply({Errc::usage, fmt::format("bad request: {}", e.what())}));
    }
  };

  const Streamer streamer = [&](const std::string& line, int fd) {
    std::shared_ptr<const Config> current;
    {
      std::lock_guard guard{config_mutex};
      current = config;
    }
    auto request = parse_tail_request(nlohmann::json::parse(line, nullptr, false), *current);
    if (!request) {
      const std::string reply = error_reply(request.error()) + "\n";
      (void)!::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(fd);
      return;
    }
    std::lock_guard guard{tails_mutex};
    if (tail_stopping) {
      // Shutting down: the sessions were joined already; start no other.
      const std::string reply = error_reply({Errc::unavailable, "vibe serve is stopping"}) + "\n";
      (void)!::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(fd);
      return;
    }
    // Forget sessions that ended.
    for (auto it = tails.begin(); it != tails.end();) {
      if (*it->finished) {
        it->thread.join();
        it = tails.erase(it);
      } else {
        ++it;
      }
    }
    auto finished = std::make_shared<std::atomic<bool>>(false);
    tails.push_back(TailThread{std::thread{[&, fd, finished, request = std::move(*request)]() mutable {
                                 run_tail_session(fd, std::move(request), store, bus, tail_stopping);
                                 *finished = true;
                               }},
                               finished});
  };
  Acceptor acceptor{loop, control_pool, handler, streamer};
  if (auto ok = acceptor.listen(config->serve.socket); !ok) {
    return tl::unexpected(ok.error());
  }

  std::atomic<HttpServer*> http_server{nullptr};  // set once it exists
  auto http_connections = [&]() -> std::size_t {
    const HttpServer* server = http_server.load();
    return server != nullptr ? server->connections() : 0;
  };
  // GET /metrics: Prometheus text (HttpApi adds its webhook responses).
  auto metrics_text = [&]() -> std::string {
    PrometheusText out;
    using L = PrometheusText::Labels;
    {
      std::lock_guard guard{counts_mutex};
      out.family("vibe_events_ingested_total", "counter", "Events committed to the store, by source and type.");
      for (const auto& [key, count] : ingested_counts) {
        out.sample("vibe_events_ingested_total", L{{"source", key.first}, {"type", key.second}},
                   static_cast<double>(count));
      }
      out.family("vibe_events_duplicate_total", "counter", "Events not stored because the store had them, by source.");
      for (const auto& [source, count] : duplicate_counts) {
        out.sample("vibe_events_duplicate_total", L{{"source", source}}, static_cast<double>(count));
      }
    }
    const auto counters = writer.counters();
    out.family("vibe_writer_pending_events", "gauge", "Events queued for the store writer, not yet committed.");
    out.sample("vibe_writer_pending_events", {}, static_cast<double>(counters.pending_events));
    out.family("vibe_writer_batches_total", "counter", "Batches the store writer committed or tried to.");
    out.sample("vibe_writer_batches_total", {}, static_cast<double>(counters.batches));
    out.family("vibe_writer_failed_batches_total", "counter", "Batches whose commit failed.");
    out.sample("vibe_writer_failed_batches_total", {}, static_cast<double>(counters.failed_batches));
    out.family("vibe_writer_rejected_total", "counter",
               "Write requests refused because buffer.max_pending events were waiting (backpressure).");
    out.sample("vibe_writer_rejected_total", {}, static_cast<double>(counters.rejected));
    out.family("vibe_writer_batch_size_events", "histogram", "Events per committed batch.");
    out.histogram("vibe_writer_batch_size_events", {}, writer.batch_sizes());
    out.family("vibe_writer_commit_duration_seconds", "histogram", "Time a batch's transaction took.");
    out.histogram("vibe_writer_commit_duration_seconds", {}, writer.commit_seconds());
    const auto polls = coordinator.poll_metrics();
    out.family("vibe_polls_total", "counter", "Polls by source and outcome (ok, not_modified, deferred, failed, crashed).");
    for (const auto& [key, count] : polls.counts) {
      out.sample("vibe_polls_total", L{{"source", key.first}, {"outcome", key.second}}, static_cast<double>(count));
    }
    out.family("vibe_poll_duration_seconds", "histogram", "Time a poll took, fetch and commit.");
    out.histogram("vibe_poll_duration_seconds", {}, polls.seconds);
    out.family("vibe_jobs", "gauge", "Jobs in the queue by queue and state.");
    if (auto stats = store.jobs().job_stats(now_micros())) {
      for (const auto& c : stats->counts) {
        const std::string state{job_state_name(c.state)};
        out.sample("vibe_jobs", L{{"queue", c.queue}, {"state", state}}, static_cast<double>(c.count));
      }
    }
    out.family("vibe_job_run_duration_seconds", "histogram", "Time a job attempt ran.");
    out.histogram("vibe_job_run_duration_seconds", {}, jobs->run_seconds());
    out.family("vibe_tail_subscribers", "gauge", "Live subscribers of the event bus (vibe tail sessions).");
    out.sample("vibe_tail_subscribers", {}, static_cast<double>(bus.subscribers()));
    out.family("vibe_bus_lagged_events_total", "counter", "Events dropped for subscribers that fell behind.");
    out.sample("vibe_bus_lagged_events_total", {}, static_cast<double>(bus.lagged_total()));
    out.family("vibe_http_connections", "gauge", "Open HTTP connections.");
    out.sample("vibe_http_connections", {}, static_cast<double>(http_connections()));
    out.family("process_resident_memory_bytes", "gauge", "Resident memory of the vibe serve process.");
    out.sample("process_resident_memory_bytes", {}, static_cast<double>(resident_bytes()));
    out.family("process_start_time_seconds", "gauge", "When vibe serve started, in seconds since the epoch.");
    out.sample("process_start_time_seconds", {}, static_cast<double>(started_at) / 1e6);
    out.family("vibe_uptime_seconds", "gauge", "Seconds since vibe serve started.");
    out.sample("vibe_uptime_seconds", {}, static_cast<double>(now_micros() - started_at) / 1e6);
    return out.text();
  };
  // GET /readyz: why serve cannot take writes now, or nullopt.
  auto not_ready = [&]() -> std::optional<std::string> {
    const auto counters = writer.counters();
    if (counters.degraded) {
      return fmt::format("the store writer's last commit failed: {}", counters.last_error);
    }
    const UnixMicros since = counters.last_commit_at != 0 ? counters.last_commit_at : started_at;
    if (counters.pending_events > 0 && now_micros() - since > k_stall_after) {
      return fmt::format("the store writer has committed nothing for {} s with {} events waiting",
                         (now_micros() - since) / 1'000'000, counters.pending_events);
    }
    return std::nullopt;
  };

  // The HTTP endpoint: webhooks, /metrics, /healthz, /readyz.
  std::optional<HttpApi> http_api;
  http_api.emplace(HttpApi::Deps{
      [&] {
        std::lock_guard guard{config_mutex};
        return config;
      },
      writer, store, coordinator, [&] { return metrics_text(); }, [&] { return not_ready(); },
      logging.get("http")});
  HttpServer http{http_api->routes(),
                  HttpLimits{first_config->serve.http_max_connections, first_config->serve.http_header_timeout,
                             first_config->serve.http_body_timeout, k_http_threads},
                  logging.get("http")};
  http_server = &http;
  if (first_config->serve.http != "off") {
    if (auto ok = http.listen(first_config->serve.http); !ok) {
      if (first_config->serve.http_explicit) {
        std::error_code ignored;
        fs::remove(first_config->serve.socket, ignored);  // leave no socket nobody answers on
        return tl::unexpected(ok.error());
      }
      // The default address: serve runs on without HTTP rather than not at all.
      log->warn("serve.http_unavailable error=\"{}\" (set serve.http to another HOST:PORT, or off)",
                ok.error().message);
    } else {
      http_address = http.local_address();
    }
  }

  std::mutex signal_mutex;
  std::condition_variable signalled;
  int stop_signal = 0;
  asio::signal_set signals{loop, SIGINT, SIGTERM, SIGHUP};
  std::function<void()> arm = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGHUP) {
        asio::post(control_pool, [&] { (void)reload(); });
      } else {
        std::lock_guard guard{signal_mutex};
        if (stop_signal != 0) {
          // A second SIGTERM/SIGINT: leave now. Committed data is safe in the
          // store; running jobs are rescued by the next serve.
          log->warn("serve.killed signal={} (second signal: exiting without waiting)", sig);
          log->flush();
          std::_Exit(128 + sig);
        }
        stop_signal = sig;
        signalled.notify_all();
      }
      arm();
    });
  };
  arm();

  std::vector<std::thread> loop_threads;
  for (int i = 0; i < k_loop_threads; ++i) {
    loop_threads.emplace_back([&loop] { loop.run(); });
    ::pthread_setname_np(loop_threads.back().native_handle(), "vibe-loop");
  }
  // Threads are named (vibe-writer, vibe-loop, vibe-http-N,
  // vibe-checkpoint): bench/ and top -H tell them apart by name.
  if (auto ok = store.checkpoint_in_background(); !ok) {
    log->warn("store.checkpoints_in_commits error=\"{}\" (WAL checkpoints stay inside commits)", ok.error().message);
  }
  std::optional<Error> start_error;
  if (auto ok = coordinator.start(); !ok) {
    start_error = ok.error();
    std::lock_guard guard{signal_mutex};
    stop_signal = SIGTERM;
  }
  jobs->start();
  log->info("serve.started pid={} config={} socket={} sources={} streams={}", ::getpid(), config->path.string(),
            config->serve.socket.string(), config->sources.size(), config->streams.size());

  {
    std::unique_lock guard{signal_mutex};
    signalled.wait(guard, [&] { return stop_signal != 0; });
  }
  const auto deadline = std::chrono::steady_clock::now() + first_config->serve.shutdown_timeout;
  log->info("serve.stopping signal={} shutdown_timeout={}", stop_signal,
            format_duration(first_config->serve.shutdown_timeout));
  // Intake first: no control requests, no new polls; polls in flight finish
  // and commit their events (those still running at the timeout are
  // cancelled).
  asio::post(loop, [&] { acceptor.close(); });
  http.stop_accepting();
  writer.stop_delaying();  // what polls and jobs wait on commits now, not after max_delay
  std::error_code ignored;
  fs::remove(first_config->serve.socket, ignored);
  tail_stopping = true;
  {
    std::lock_guard guard{tails_mutex};
    for (auto& tail : tails) {
      tail.thread.join();  // a session blocked on a client that stopped reading notices within a second
    }
    tails.clear();
  }
  if (!coordinator.stop(first_config->serve.shutdown_timeout)) {
    log->warn("serve.polls_unfinished after={} (cancelled; their results are not stored)",
              format_duration(first_config->serve.shutdown_timeout));
    coordinator.cancel_polls();
  }
  const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
  jobs->stop(std::max(Millis{0}, left));
  writer.stop();  // answers the webhooks waiting for a commit
  http.close_all();
  // Let those answers go out before the loop stops (bounded: a client that
  // does not read its response is cut off).
  for (const auto until = std::chrono::steady_clock::now() + Millis{2'000};
       http.connections() > 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(Millis{10});
  }
  http.shutdown();
  const auto counters = writer.counters();
  log->info("serve.stopped events={} batches={}", counters.events, counters.batches);

  signals.cancel();
  control_pool.join();
  work.reset();
  loop.stop();
  for (auto& t : loop_threads) {
    t.join();
  }
  // Let cancelled timer and socket handlers run, releasing what they hold,
  // before the objects they refer to go away.
  loop.restart();
  loop.poll();
  if (start_error) {
    return tl::unexpected(*start_error);
  }
  return 0;
}

}  // namespace vibe::core
