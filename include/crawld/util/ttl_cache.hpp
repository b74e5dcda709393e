// Values kept until they expire, at most `max_entries` of them: when full,
// the one stored longest ago goes first. Not thread-safe (the crawls use
// theirs on the loop). Expired entries leave when looked up or when they
// reach the front of the order.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

namespace crawld::util {

template <class Value>
class TtlCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TtlCache(std::size_t max_entries) : max_entries_(max_entries) {}

  // The value kept for `key`, or null when none is fresh at `now`.
  const Value* find(const std::string& key, Clock::time_point now) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    if (it->second.expires <= now) {
      entries_.erase(it);
      return nullptr;
    }
    return &it->second.value;
  }

  void store(const std::string& key, Value value, Clock::time_point expires, Clock::time_point now) {
    if (max_entries_ == 0 || expires <= now) return;
    const bool fresh = !entries_.contains(key);
    // Drop what has expired, the oldest while full (when a new key needs
    // room), and the oldest records while there are twice as many as
    // entries can be (records of keys stored again since are stale).
    while (!order_.empty() && (order_.front().first <= now || (fresh && entries_.size() >= max_entries_) ||
                               order_.size() >= 2 * max_entries_)) {
      const auto& [when, old] = order_.front();
      if (auto it = entries_.find(old); it != entries_.end() && it->second.expires == when) entries_.erase(it);
      order_.pop_front();
    }
    entries_[key] = {std::move(value), expires};
    order_.emplace_back(expires, key);
  }

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Value value;
    Clock::time_point expires;
  };
  std::size_t max_entries_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;  // as stored
};

}  // namespace crawld::util
