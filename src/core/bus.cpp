#include "core/bus.hpp"

#include <algorithm>

namespace vibe::core {

Subscription::~Subscription() {
  m_bus.unsubscribe(this);
}

bool Subscription::offer(const std::shared_ptr<const Event>& event) {
  std::lock_guard lock{m_mutex};
  if (m_queue.size() >= m_capacity) {
    ++m_missed;
    return false;
  }
  if (m_missed != 0) {
    // Where the gap is: after what was queued before it, before what comes now.
    m_queue.push_back(BusItem{nullptr, m_missed});
    m_missed = 0;
  }
  m_queue.push_back(BusItem{event, 0});
  m_ready.notify_one();
  return true;
}

std::optional<BusItem> Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock{m_mutex};
  if (!m_ready.wait_for(lock, timeout, [&] { return !m_queue.empty() || m_missed != 0; })) {
    return std::nullopt;
  }
  if (m_queue.empty()) {
    // Dropped events and nothing after them yet: say so now.
    BusItem lagged{nullptr, m_missed};
    m_missed = 0;
    return lagged;
  }
  BusItem item = std::move(m_queue.front());
  m_queue.pop_front();
  return item;
}

std::vector<BusItem> Subscription::drain() {
  std::lock_guard lock{m_mutex};
  std::vector<BusItem> out(std::make_move_iterator(m_queue.begin()), std::make_move_iterator(m_queue.end()));
  m_queue.clear();
  if (m_missed != 0) {
    out.push_back(BusItem{nullptr, m_missed});
    m_missed = 0;
  }
  return out;
}

std::shared_ptr<Subscription> Bus::subscribe(std::vector<std::string> topics, std::function<void()> on_ready) {
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  std::shared_ptr<Subscription> subscription{new Subscription{*this, topics, m_capacity, std::move(on_ready)}};
  std::lock_guard lock{m_mutex};
  for (const auto& topic : subscription->m_topics) {
    m_by_topic[topic].insert(subscription.get());
  }
  ++m_count;
  return subscription;
}

void Bus::unsubscribe(Subscription* subscription) {
  std::lock_guard lock{m_mutex};
  for (const auto& topic : subscription->m_topics) {
    auto it = m_by_topic.find(topic);
    if (it != m_by_topic.end()) {
      it->second.erase(subscription);
      if (it->second.empty()) {
        m_by_topic.erase(it);
      }
    }
  }
  --m_count;
}

void Bus::publish(std::span<const Event> events, const Topics& topics_of) {
  std::vector<Subscription*> to_wake;
  {
    std::lock_guard lock{m_mutex};
    if (m_by_topic.empty()) {
      return;
    }
    std::vector<Subscription*> targets;
    for (const auto& event : events) {
      targets.clear();
      for (const auto& topic : topics_of(event)) {
        if (auto it = m_by_topic.find(topic); it != m_by_topic.end()) {
          targets.insert(targets.end(), it->second.begin(), it->second.end());
        }
      }
      if (targets.empty()) {
        continue;
      }
      std::sort(targets.begin(), targets.end());
      targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
      auto shared = std::make_shared<const Event>(event);
      for (Subscription* target : targets) {
        if (target->offer(shared)) {
          to_wake.push_back(target);
        } else {
          ++m_lagged;
        }
      }
    }
    std::sort(to_wake.begin(), to_wake.end());
    to_wake.erase(std::unique(to_wake.begin(), to_wake.end()), to_wake.end());
    // Wake under the bus lock, so no subscription is destroyed meanwhile;
    // on_ready only posts a wake-up.
    for (Subscription* target : to_wake) {
      if (target->m_on_ready) {
        target->m_on_ready();
      }
    }
  }
}

std::size_t Bus::subscribers() const {
  std::lock_guard lock{m_mutex};
  return m_count;
}

std::uint64_t Bus::lagged_total() const {
  std::lock_guard lock{m_mutex};
  return m_lagged;
}

}  // namespace vibe::core
