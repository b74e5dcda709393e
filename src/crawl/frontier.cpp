#include "crawld/crawl/frontier.hpp"

#include <algorithm>

namespace crawld::crawl {

Frontier::Frontier(std::uint32_t per_host_concurrency, std::chrono::milliseconds default_delay)
    : per_host_concurrency_(std::max<std::uint32_t>(per_host_concurrency, 1)), default_delay_(default_delay) {}

Frontier::Host& Frontier::host(const std::string& name) {
  auto [it, inserted] = hosts_.try_emplace(name);
  if (inserted) it->second.delay = default_delay_;
  return it->second;
}

bool Frontier::add(FrontierEntry entry) {
  if (!seen_.insert(entry.url).second) return false;
  host(entry.host).queue.push_back(std::move(entry));
  ++queued_;
  return true;
}

bool Frontier::mark_seen(const std::string& url) { return seen_.insert(url).second; }

Frontier::Pick Frontier::next(clock::time_point now) {
  Pick pick;
  if (hosts_.empty()) return pick;
  // Start after the host served last, wrapping around: hosts take turns.
  auto start = hosts_.upper_bound(last_host_);
  for (std::size_t i = 0; i < hosts_.size(); ++i, ++start) {
    if (start == hosts_.end()) start = hosts_.begin();
    auto& [name, host] = *start;
    if (host.queue.empty() || host.blocked || host.active >= per_host_concurrency_) continue;
    if (host.last_start && host.delay.count() > 0) {
      auto ready_at = *host.last_start + host.delay;
      if (ready_at > now) {
        if (!pick.retry_at || ready_at < *pick.retry_at) pick.retry_at = ready_at;
        continue;
      }
    }
    pick.entry = std::move(host.queue.front());
    host.queue.pop_front();
    host.last_start = now;
    ++host.active;
    --queued_;
    ++active_;
    last_host_ = name;
    pick.retry_at.reset();
    return pick;
  }
  return pick;
}

void Frontier::put_back(FrontierEntry entry) {
  host(entry.host).queue.push_front(std::move(entry));
  ++queued_;
}

void Frontier::add_redirect(FrontierEntry entry) {
  seen_.insert(entry.url);
  put_back(std::move(entry));
}

void Frontier::done(const std::string& host) {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || it->second.active == 0) return;
  --it->second.active;
  --active_;
}

void Frontier::block(const std::string& name, bool blocked) { host(name).blocked = blocked; }

void Frontier::raise_delay(const std::string& name, std::chrono::milliseconds delay) {
  auto& entry = host(name);
  entry.delay = std::max(entry.delay, delay);
}

}  // namespace crawld::crawl
