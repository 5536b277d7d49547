#include "jobs/workers/builtin.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace vibe::jobs::noop {

namespace {

// Does nothing, successfully: for tests and benchmarks. Optional args shape
// the attempt: {"sleep": "2s"} (interruptible), {"fail": "message"},
// {"discard": "message"}, {"snooze": "1s"} (once), and "until_attempt": N
// applies them only to attempts before N.
class NoopWorker final : public Worker {
public:
  WorkResult perform(const JobContext& context) override {
    if (context.job.args.size() <= 2) {
      return Done{};  // "{}": the fast path the benchmark measures
    }
    const auto args = nlohmann::json::parse(context.job.args, nullptr, false);
    if (!args.is_object()) {
      return Discard{"args is not a JSON object"};
    }
    if (args.contains("until_attempt") && args["until_attempt"].is_number_integer() &&
        context.job.attempt >= args["until_attempt"].get<int>()) {
      return Done{};
    }
    if (auto it = args.find("sleep"); it != args.end() && it->is_string()) {
      auto d = core::parse_duration(it->get<std::string>());
      if (!d) {
        return Discard{d.error().message};
      }
      const auto until = std::chrono::steady_clock::now() + *d;
      while (std::chrono::steady_clock::now() < until) {
        if (context.stop.stop_requested()) {
          return Failed{"stopped"};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{5});  // poll interval of the stop check
      }
    }
    if (auto it = args.find("fail"); it != args.end() && it->is_string()) {
      return Failed{it->get<std::string>()};
    }
    if (auto it = args.find("discard"); it != args.end() && it->is_string()) {
      return Discard{it->get<std::string>()};
    }
    if (auto it = args.find("snooze"); it != args.end() && it->is_string() && context.job.attempt == 1) {
      auto d = core::parse_duration(it->get<std::string>());
      if (d) {
        return Snooze{*d};
      }
    }
    return Done{};
  }
};

}  // namespace

std::unique_ptr<Worker> make(const WorkerDeps&) {
  return std::make_unique<NoopWorker>();
}

}  // namespace vibe::jobs::noop
