#pragma once

#include "core/event.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

// The event bus (DESIGN.md §4, the hot path, step 5): committed events fan
// out to subscribers of their topics (`stream:<id>`, `source:<id>`,
// `pipeline:<id>`), with their final ids, in id order per topic. Each
// subscriber has a bounded queue; one that falls behind loses events instead
// of slowing the publisher or other subscribers, and is told how many it
// lost ({"lagged": N}) at the place in its stream where they were lost, so
// it can catch up from the store.
namespace vibe::core {

class Bus;

// One message of a subscription: an event, or a count of events dropped at
// this point because the subscriber's queue was full.
struct BusItem {
  std::shared_ptr<const Event> event;  // null for a lagged notice
  std::uint64_t lagged = 0;
};

class Subscription {
public:
  ~Subscription();  // unsubscribes
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next item, waiting up to `timeout`; nullopt when none came.
  std::optional<BusItem> next(std::chrono::milliseconds timeout);
  // Takes what is queued without waiting.
  std::vector<BusItem> drain();

  const std::vector<std::string>& topics() const { return m_topics; }

private:
  friend class Bus;
  Subscription(Bus& bus, std::vector<std::string> topics, std::size_t capacity, std::function<void()> on_ready)
      : m_bus(bus), m_topics(std::move(topics)), m_capacity(capacity), m_on_ready(std::move(on_ready)) {}

  // Called by the bus with its lock held; returns whether on_ready should run.
  bool offer(const std::shared_ptr<const Event>& event);

  Bus& m_bus;
  std::vector<std::string> m_topics;
  std::size_t m_capacity;
  std::function<void()> m_on_ready;  // called under the bus lock when items arrive: must only wake someone

  std::mutex m_mutex;
  std::condition_variable m_ready;
  std::deque<BusItem> m_queue;   // guarded by m_mutex
  std::uint64_t m_missed = 0;    // guarded by m_mutex: dropped since the last item queued
};

class Bus {
public:
  explicit Bus(std::size_t queue_capacity = 10'000) : m_capacity(queue_capacity) {}
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Subscribes to `topics`. `on_ready`, when set, is called from the
  // publishing thread after items were queued (it must only wake someone).
  std::shared_ptr<Subscription> subscribe(std::vector<std::string> topics, std::function<void()> on_ready = {});

  // The topics an event is published on.
  using Topics = std::function<const std::vector<std::string>&(const Event&)>;

  // Publishes committed events (ids set), in the order given, each once to
  // every subscriber of any of its topics. Never blocks on a subscriber.
  void publish(std::span<const Event> events, const Topics& topics_of);

  std::size_t subscribers() const;
  std::uint64_t lagged_total() const;  // events dropped for slow subscribers, since start

private:
  friend class Subscription;
  void unsubscribe(Subscription* subscription);

  std::size_t m_capacity;
  mutable std::mutex m_mutex;  // guards the maps and m_lagged
  std::map<std::string, std::set<Subscription*>> m_by_topic;
  std::size_t m_count = 0;
  std::uint64_t m_lagged = 0;
};

}  // namespace vibe::core
