#include "core/bus.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <thread>

using namespace vibe::core;

namespace {

Event event(std::int64_t id, std::string source) {
  Event e;
  e.id = id;
  e.source_id = std::move(source);
  e.type = "bus_test";
  return e;
}

// Topics as serve derives them: the source, plus stream:wall for a and b.
const std::vector<std::string>& topics_of(const Event& e) {
  static const std::map<std::string, std::vector<std::string>> k_topics{
      {"a", {"source:a", "stream:wall"}}, {"b", {"source:b", "stream:wall"}}, {"c", {"source:c"}}};
  return k_topics.at(e.source_id);
}

std::vector<std::int64_t> ids(const std::vector<BusItem>& items) {
  std::vector<std::int64_t> out;
  for (const auto& item : items) {
    out.push_back(item.event ? item.event->id : -static_cast<std::int64_t>(item.lagged));
  }
  return out;
}

}  // namespace

TEST_SUITE("core::bus") {
  TEST_CASE("subscribers get the events of their topics, in order, once each") {
    Bus bus;
    auto wall = bus.subscribe({"stream:wall"});
    auto both = bus.subscribe({"stream:wall", "source:a"});  // a's events match twice: delivered once
    auto c = bus.subscribe({"source:c"});
    CHECK(bus.subscribers() == 3);
    const std::vector<Event> events{event(1, "a"), event(2, "c"), event(3, "b"), event(4, "a")};
    bus.publish(events, topics_of);
    CHECK(ids(wall->drain()) == std::vector<std::int64_t>{1, 3, 4});
    CHECK(ids(both->drain()) == std::vector<std::int64_t>{1, 3, 4});
    CHECK(ids(c->drain()) == std::vector<std::int64_t>{2});
  }

  TEST_CASE("a slow subscriber is told where and how many it lost; a fast one gets everything") {
    Bus bus{3};
    auto slow = bus.subscribe({"source:a"});
    auto fast = bus.subscribe({"source:a"});
    std::vector<std::int64_t> fast_got;
    for (int i = 1; i <= 5; ++i) {
      bus.publish(std::vector<Event>{event(i, "a")}, topics_of);  // the fast one reads after each
      for (auto id : ids(fast->drain())) {
        fast_got.push_back(id);
      }
    }
    CHECK(fast_got == std::vector<std::int64_t>{1, 2, 3, 4, 5});
    // slow kept 3, lost 2. It reads one; the next event comes after the notice.
    auto item = slow->next(std::chrono::milliseconds{0});
    REQUIRE(item);
    CHECK(item->event->id == 1);
    bus.publish(std::vector<Event>{event(6, "a")}, topics_of);
    CHECK(ids(slow->drain()) == std::vector<std::int64_t>{2, 3, -2, 6});
    CHECK(bus.lagged_total() == 2);
    CHECK(ids(fast->drain()) == std::vector<std::int64_t>{6});
  }

  TEST_CASE("a lagged notice comes even when nothing follows it") {
    Bus bus{1};
    auto slow = bus.subscribe({"source:a"});
    bus.publish(std::vector<Event>{event(1, "a"), event(2, "a"), event(3, "a")}, topics_of);
    auto one = slow->next(std::chrono::milliseconds{0});
    REQUIRE(one);
    CHECK(one->event->id == 1);
    auto notice = slow->next(std::chrono::milliseconds{0});
    REQUIRE(notice);
    CHECK_FALSE(notice->event);
    CHECK(notice->lagged == 2);
    CHECK_FALSE(slow->next(std::chrono::milliseconds{0}));
  }

  TEST_CASE("publishing never waits for a subscriber that does not read") {
    Bus bus{1000};
    auto stuck = bus.subscribe({"source:a"});
    std::atomic<int> woken{0};
    auto reader = bus.subscribe({"source:a"}, [&] { ++woken; });
    std::vector<Event> batch;
    for (int i = 1; i <= 1000; ++i) {
      batch.push_back(event(i, "a"));
    }
    // 100 publishes of 1,000 events: the stuck subscriber fills at 1,000 and
    // drops the rest; the reader drains after each and loses nothing.
    std::size_t read = 0;
    for (int round = 0; round < 100; ++round) {
      bus.publish(batch, topics_of);
      read += reader->drain().size();
    }
    CHECK(woken == 100);
    CHECK(read == 100'000);
    CHECK(stuck->drain().size() == 1001);  // 1,000 events and one notice
    CHECK(bus.lagged_total() == 99'000);
  }

  TEST_CASE("a subscription ends when dropped; next() waits for a publisher on another thread") {
    Bus bus;
    {
      auto gone = bus.subscribe({"source:a"});
      CHECK(bus.subscribers() == 1);
    }
    CHECK(bus.subscribers() == 0);
    bus.publish(std::vector<Event>{event(1, "a")}, topics_of);  // nobody listens: fine
    auto sub = bus.subscribe({"source:b"});
    std::thread publisher{[&] { bus.publish(std::vector<Event>{event(2, "b")}, topics_of); }};
    auto item = sub->next(std::chrono::milliseconds{5'000});
    publisher.join();
    REQUIRE(item);
    CHECK(item->event->id == 2);
  }
}
