// vibe tail TOPIC...: events as they are committed, from a running vibe
// serve; with --since/--from-id the history first, without a gap or a
// duplicate at the seam. Without serve, --since/--from-id prints the history
// from the store and says serve is not running.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/serve/control_client.hpp"
#include "core/serve/tail.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace vibe::cli {

namespace {

constexpr int k_exit_timeout = 124;  // like timeout(1): --timeout passed without an event

struct TailArgs {
  std::vector<std::string> topics;
  std::optional<std::string> since;
  std::optional<std::int64_t> from_id;
  std::string type;
  std::string source;
  bool json = false;
  std::string format = "text";
  std::string templ;
  std::size_t limit = 0;  // 0: no limit
  std::optional<std::string> timeout;
  bool follow = false;
};

// "{content.title} at {url}": each {a.b.c} is that field of the event's JSON.
std::string render_template(const std::string& templ, const nlohmann::json& event) {
  std::string out;
  for (std::size_t i = 0; i < templ.size();) {
    const auto open = templ.find('{', i);
    if (open == std::string::npos) {
      out += templ.substr(i);
      break;
    }
    const auto close = templ.find('}', open);
    if (close == std::string::npos) {
      out += templ.substr(i);
      break;
    }
    out += templ.substr(i, open - i);
    const nlohmann::json* v = &event;
    std::string path = templ.substr(open + 1, close - open - 1);
    for (std::size_t start = 0; v != nullptr && start <= path.size();) {
      const auto dot = std::min(path.find('.', start), path.size());
      const std::string key = path.substr(start, dot - start);
      v = v->is_object() && v->contains(key) ? &(*v)[key] : nullptr;
      start = dot + 1;
    }
    if (v != nullptr) {
      out += v->is_string() ? v->get<std::string>() : v->dump();
    }
    i = close + 1;
  }
  return out;
}

class Printer {
public:
  explicit Printer(const TailArgs& args) : m_args(args) {}

  // Returns whether --limit is reached.
  bool event(const nlohmann::json& event) {
    if (m_args.json) {
      print_json_line(event);
    } else if (!m_args.templ.empty()) {
      fmt::print("{}\n", render_template(m_args.templ, event));
    } else {
      fmt::print("{}\n", event_line(core::event_from_json(event)));
    }
    std::fflush(stdout);  // one event per line, as it comes
    if (const auto it = event.find("id"); it != event.end() && it->is_number_integer()) {
      m_last_id = std::max(m_last_id, it->get<std::int64_t>());
    }
    ++m_count;
    return m_args.limit != 0 && m_count >= m_args.limit;
  }

  void lagged(std::uint64_t n) {
    if (m_args.json) {
      print_json_line({{"lagged", n}});
      std::fflush(stdout);
    } else {
      std::fprintf(stderr, "vibe tail: %llu events missed (this terminal fell behind); `vibe events` has them\n",
                   static_cast<unsigned long long>(n));
    }
  }

  std::int64_t last_id() const { return m_last_id; }

private:
  const TailArgs& m_args;
  std::size_t m_count = 0;
  std::int64_t m_last_id = 0;
};

// History straight from the store, when serve is not running: the same
// queries serve's tail session reads (core::parse_tail_request).
core::Result<bool> print_history(const core::Config& config, const core::TailRequest& request, Printer& printer) {
  auto store = core::open_store_synced(config);
  if (!store) {
    return tl::unexpected(store.error());
  }
  std::vector<core::Event> all;
  for (core::EventQuery query : request.queries) {
    query.by_id = true;
    query.after_id = request.from_id;
    query.limit = std::numeric_limits<std::int32_t>::max();
    auto events = (*store)->events(query);
    if (!events) {
      return tl::unexpected(events.error());
    }
    all.insert(all.end(), events->begin(), events->end());
  }
  std::sort(all.begin(), all.end(), [](const core::Event& a, const core::Event& b) { return a.id < b.id; });
  all.erase(std::unique(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.id == b.id; }), all.end());
  for (const auto& event : all) {
    if (printer.event(core::to_json(event))) {
      return true;
    }
  }
  return false;
}

core::Result<int> tail(const GlobalOptions& global, const TailArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  std::optional<core::Millis> timeout;
  if (args.timeout) {
    auto d = core::parse_duration(*args.timeout);
    if (!d) {
      return core::fail(core::Errc::usage, fmt::format("--timeout: {}", d.error().message));
    }
    timeout = *d;
  }
  Printer printer{args};
  nlohmann::json request{{"cmd", "tail"}, {"topics", args.topics}};
  if (!args.type.empty()) {
    request["type"] = args.type;
  }
  if (!args.source.empty()) {
    request["source"] = args.source;
  }
  if (args.from_id) {
    request["from_id"] = *args.from_id;
  } else if (args.since) {
    request["since"] = *args.since;
  }
  // Checked here as serve checks it: topics, --source, --since.
  auto checked = core::parse_tail_request(request, *config);
  if (!checked) {
    return tl::unexpected(checked.error());
  }
  const auto started = std::chrono::steady_clock::now();
  auto last_event_at = started;
  bool waiting_said = false;
  for (;;) {
    auto stream = core::ControlStream::open(config->serve.socket, request);
    if (!stream) {
      if (stream.error().code != core::Errc::unavailable) {
        return tl::unexpected(stream.error());
      }
      if (!args.follow) {
        if (!args.since && !args.from_id) {
          return tl::unexpected(stream.error());
        }
        auto done = print_history(*config, *checked, printer);
        if (!done) {
          return tl::unexpected(done.error());
        }
        std::fprintf(stderr, "vibe tail: vibe serve is not running: that is the history; start serve for live "
                             "events\n");
        return 0;
      }
      if (!waiting_said) {
        std::fprintf(stderr, "vibe tail: vibe serve is not running; waiting for it (--follow)\n");
        waiting_said = true;
      }
      if (timeout && std::chrono::steady_clock::now() - last_event_at >= *timeout) {
        return k_exit_timeout;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{250});  // retry interval while serve is down
      continue;
    }
    waiting_said = false;
    for (;;) {
      core::Millis wait{1000};
      if (timeout) {
        const auto left = *timeout - std::chrono::duration_cast<core::Millis>(std::chrono::steady_clock::now() -
                                                                             last_event_at);
        if (left.count() <= 0) {
          return k_exit_timeout;
        }
        wait = std::min(wait, left);
      }
      auto line = stream->next(wait);
      if (!line) {
        if (line.error().code != core::Errc::unavailable) {
          return tl::unexpected(line.error());
        }
        break;  // serve went away
      }
      if (!*line) {
        continue;  // nothing yet
      }
      const auto& msg = **line;
      if (msg.contains("event")) {
        last_event_at = std::chrono::steady_clock::now();
        if (printer.event(msg["event"])) {
          return 0;
        }
      } else if (msg.contains("lagged")) {
        printer.lagged(msg.value("lagged", std::uint64_t{0}));
      } else if (msg.contains("closing")) {
        break;
      }
    }
    if (!args.follow) {
      std::fprintf(stderr, "vibe tail: vibe serve stopped\n");
      return 0;
    }
    // Resume right after the last event seen (before any: as first asked).
    if (printer.last_id() > 0) {
      request.erase("since");
      request["from_id"] = printer.last_id();
    }
  }
}

}  // namespace

void add_tail_command(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto args = std::make_shared<TailArgs>();
  auto* cmd = app.add_subcommand("tail", "follow events as they are committed (see vibe-tail(1))");
  cmd->add_option("TOPIC", args->topics, "stream:ID or source:ID")->required()->type_name("TOPIC");
  auto* since = cmd->add_option("--since", args->since, "first the history since DUR ago or TIME")->type_name("DUR|TIME");
  auto* from = cmd->add_option("--from-id", args->from_id, "first the history after event id N")->type_name("N");
  since->excludes(from);
  cmd->add_option("--type", args->type, "only events of this type")->type_name("T");
  cmd->add_option("--source", args->source, "only events of this source")->type_name("ID");
  auto* json = cmd->add_flag("--json", args->json, "NDJSON, one event per line, flushed per event");
  auto* format = cmd->add_option("--format", args->format, "text (default)")->check(CLI::IsMember({"text"}));
  auto* templ = cmd->add_option("--template", args->templ, "one line per event, e.g. '{content.title} {url}'")
                    ->type_name("T");
  json->excludes(templ);
  format->excludes(json);
  format->excludes(templ);
  cmd->add_option("-n,--limit", args->limit, "exit after N events")->type_name("N");
  cmd->add_option("--timeout", args->timeout, "exit 124 when no event came for DUR")->type_name("DUR");
  cmd->add_flag("--follow", args->follow, "when serve restarts, reconnect and resume after the last event seen");
  cmd->callback([&run, &global, args] { run = [&global, args] { return tail(global, *args); }; });
}

}  // namespace vibe::cli
