// Source kinds that exist only in the test build (the vibe-test binary), to
// exercise serve's supervision with adapters that misbehave on purpose.
//   test_throw: throws from request() on every poll, as a buggy adapter would.
#include "core/source.hpp"

#include <stdexcept>

namespace {

using namespace vibe::core;

const OptionSpec k_throw_options[] = {
    {"every", OptionType::duration, "1s", "poll interval"},
    {"message", OptionType::string, "adapter bug", "what the exception says"},
};

class ThrowingSource final : public Source {
public:
  explicit ThrowingSource(SourceSpec spec) : m_spec(std::move(spec)) {}

  std::vector<FetchRequest> requests(PollContext&) const override {
    throw std::runtime_error(m_spec.options.get("message"));
  }

  Result<Poll> parse(const FetchRequest&, const FetchResponse&, PollContext&, UnixMicros) const override {
    throw std::runtime_error(m_spec.options.get("message"));
  }

private:
  SourceSpec m_spec;
};

std::unique_ptr<Source> make_throwing(const SourceSpec& spec) {
  return std::make_unique<ThrowingSource>(spec);
}

const bool k_registered = register_source_kind(
    {"test_throw", "(test build only) throws on every poll", k_throw_options, &make_throwing});

}  // namespace
