#include "core/serve/tail.hpp"

#include "core/topic.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include <fcntl.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

namespace vibe::core {

namespace {

constexpr std::size_t k_history_page = 500;
constexpr std::chrono::milliseconds k_tick{100};  // how often an idle session checks for stop and hangup

constexpr int k_stalled_limit_s = 60;  // a client whose connection stays full this long is dropped

class Socket {
public:
  // A client that stopped reading (a suspended pager) must not hold a
  // thread forever, nor serve's shutdown: sends wake up every second to
  // check `stopping` and give up after k_stalled_limit_s.
  Socket(int fd, const std::atomic<bool>& stopping) : m_fd(fd), m_stopping(stopping) {
    // The event loop left the descriptor non-blocking; this thread blocks.
    ::fcntl(m_fd, F_SETFL, ::fcntl(m_fd, F_GETFL) & ~O_NONBLOCK);
    timeval tick{1, 0};
    ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof tick);
  }
  ~Socket() { ::close(m_fd); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // One JSON line; false when the client is gone.
  bool send(const nlohmann::json& line) {
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::size_t sent = 0;
    int stalled = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(m_fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && !m_stopping && ++stalled < k_stalled_limit_s) {
          continue;  // the client's buffer is full; meanwhile the bus drops for it, not for others
        }
        return false;
      }
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  bool hung_up() {
    pollfd p{m_fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) {
      return false;
    }
    if ((p.revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0) {
      return true;
    }
    // The client sent something (it should not): read it away; 0 means closed.
    char buf[256];
    return ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT) == 0;
  }

private:
  int m_fd;
  const std::atomic<bool>& m_stopping;
};

bool wanted(const Event& event, const TailRequest& request) {
  return (request.type.empty() || event.type == request.type) &&
         (request.source.empty() || event.source_id == request.source);
}

// Sends the history after `cursor` in id order, merging the topics' queries.
// Returns the last id sent (or `cursor`), or nullopt when the client left.
std::optional<std::int64_t> send_history(Socket& socket, const TailRequest& request, Store& store,
                                         std::int64_t cursor, const std::atomic<bool>& stopping) {
  for (;;) {
    std::vector<Event> merged;
    std::int64_t safe_until = std::numeric_limits<std::int64_t>::max();  // every topic has all ids up to this
    for (EventQuery query : request.queries) {
      query.by_id = true;
      query.after_id = cursor;
      query.limit = k_history_page;
      auto page = store.events(query);
      if (!page) {
        socket.send({{"ok", false}, {"error", {{"code", "storage"}, {"message", page.error().message}}}});
        return std::nullopt;
      }
      if (page->size() == k_history_page) {
        safe_until = std::min(safe_until, page->back().id);
      }
      merged.insert(merged.end(), std::make_move_iterator(page->begin()), std::make_move_iterator(page->end()));
    }
    std::sort(merged.begin(), merged.end(), [](const Event& a, const Event& b) { return a.id < b.id; });
    merged.erase(std::unique(merged.begin(), merged.end(), [](const Event& a, const Event& b) { return a.id == b.id; }),
                 merged.end());
    bool more = false;
    for (const auto& event : merged) {
      if (event.id > safe_until) {
        more = true;
        break;
      }
      if (wanted(event, request) && !socket.send({{"event", to_json(event)}})) {
        return std::nullopt;
      }
      cursor = event.id;
    }
    if (stopping) {
      return cursor;
    }
    if (!more && safe_until == std::numeric_limits<std::int64_t>::max()) {
      return cursor;
    }
  }
}

}  // namespace

Result<TailRequest> parse_tail_request(const nlohmann::json& request, const Config& config) {
  TailRequest out;
  if (!request.contains("topics") || !request["topics"].is_array() || request["topics"].empty()) {
    return fail(Errc::usage, "tail needs \"topics\": [\"stream:ID\" | \"source:ID\" | \"pipeline:ID\", ...]");
  }
  for (const auto& topic : request["topics"]) {
    if (!topic.is_string()) {
      return fail(Errc::usage, "tail: every topic is a string");
    }
    const std::string text = topic.get<std::string>();
    if (text.rfind("stream:", 0) != 0 && text.rfind("source:", 0) != 0 && text.rfind("pipeline:", 0) != 0) {
      return fail(Errc::usage, fmt::format("tail: '{}' is not a topic (stream:ID, source:ID or pipeline:ID)", text));
    }
    auto query = topic_query(text, config);
    if (!query) {
      return tl::unexpected(query.error());
    }
    out.topics.push_back(text);
    out.queries.push_back(std::move(*query));
  }
  if (request.contains("type") && request["type"].is_string()) {
    out.type = request["type"].get<std::string>();
  }
  if (request.contains("source") && request["source"].is_string()) {
    out.source = request["source"].get<std::string>();
    if (config.find_source(out.source) == nullptr) {
      return fail(Errc::usage, fmt::format("tail: no source named '{}'", out.source));
    }
  }
  if (request.contains("from_id") && request["from_id"].is_number_integer()) {
    out.history = true;
    out.from_id = std::max<std::int64_t>(0, request["from_id"].get<std::int64_t>());
  }
  if (request.contains("since") && request["since"].is_string()) {
    auto since = parse_time_or_ago(request["since"].get<std::string>(), now_micros());
    if (!since) {
      return tl::unexpected(since.error());
    }
    out.history = true;
    out.since = *since;
  }
  for (std::size_t i = 0; i < out.queries.size();) {
    auto& query = out.queries[i];
    query.type = out.type;
    query.ingested_since = out.since;
    if (!out.source.empty()) {
      if (!query.source_id.empty() && query.source_id != out.source) {
        // source:X with --source Y: this topic's history has nothing.
        out.queries.erase(out.queries.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      query.source_id = out.source;  // within the stream
    }
    ++i;
  }
  return out;
}

void run_tail_session(int fd, TailRequest request, Store& store, Bus& bus, const std::atomic<bool>& stopping) {
  Socket socket{fd, stopping};
  // Subscribe before reading history: whatever commits from here on is
  // queued, and whatever committed before is in the store.
  auto subscription = bus.subscribe(request.topics);
  if (!socket.send({{"ok", true}, {"result", {{"topics", request.topics}}}})) {
    return;
  }
  std::int64_t last_id = 0;
  if (request.history) {
    auto sent = send_history(socket, request, store, request.from_id, stopping);
    if (!sent) {
      return;
    }
    last_id = *sent;
  }
  if (!socket.send({{"live", true}, {"last_id", last_id}})) {
    return;
  }
  while (!stopping) {
    auto item = subscription->next(k_tick);
    if (!item) {
      if (socket.hung_up()) {
        return;
      }
      continue;
    }
    if (!item->event) {
      if (!socket.send({{"lagged", item->lagged}})) {
        return;
      }
      continue;
    }
    const Event& event = *item->event;
    // Id 0: a record broadcast without being stored (a pipeline with
    // persist: false); no history can hold it.
    if ((event.id != 0 && event.id <= last_id) || !wanted(event, request)) {
      continue;  // sent with the history already, or filtered out
    }
    last_id = std::max(last_id, event.id);
    if (!socket.send({{"event", to_json(event)}})) {
      return;
    }
  }
  socket.send({{"closing", "vibe serve is stopping"}});
}

}  // namespace vibe::core
