#include "crawld/crawl/frontier.hpp"

#include <algorithm>

namespace crawld::crawl {

Frontier::Frontier(std::uint32_t per_host_concurrency, std::chrono::milliseconds default_delay)
    : per_host_concurrency_(std::max<std::uint32_t>(per_host_concurrency, 1)), default_delay_(default_delay) {}

Frontier::Host& Frontier::host(const std::string& name) {
  auto [it, inserted] = hosts_.try_emplace(name);
  if (inserted) it->second.delay = it->second.floor = default_delay_;
  return it->second;
}

bool Frontier::add(FrontierEntry entry) {
  if (!seen_.insert(entry.url).second) return false;
  host(entry.host).queue.push_back(std::move(entry));
  ++queued_;
  return true;
}

bool Frontier::mark_seen(const std::string& url) { return seen_.insert(url).second; }

std::optional<Frontier::clock::time_point> Frontier::ready_time(const Host& host) {
  std::optional<clock::time_point> ready;
  if (host.last_start && host.delay.count() > 0) ready = *host.last_start + host.delay;
  if (host.paused_until && (!ready || *host.paused_until > *ready)) ready = host.paused_until;
  return ready;
}

Frontier::Pick Frontier::next(clock::time_point now) {
  Pick pick;
  if (hosts_.empty()) return pick;
  // Start after the host served last, wrapping around: hosts take turns.
  auto start = hosts_.upper_bound(last_host_);
  for (std::size_t i = 0; i < hosts_.size(); ++i, ++start) {
    if (start == hosts_.end()) start = hosts_.begin();
    auto& [name, host] = *start;
    if (host.queue.empty() || host.blocked) continue;
    if (!host.given_up) {
      if (host.active >= per_host_concurrency_) continue;
      if (const auto ready_at = ready_time(host); ready_at && *ready_at > now) {
        if (!pick.retry_at || *ready_at < *pick.retry_at) pick.retry_at = *ready_at;
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
  entry.floor = std::max(entry.floor, delay);
  entry.delay = std::max(entry.delay, delay);
}

void Frontier::pause(const std::string& name, clock::time_point until) {
  auto& entry = host(name);
  if (!entry.paused_until || *entry.paused_until < until) entry.paused_until = until;
}

void Frontier::adapt(const std::string& name, std::chrono::milliseconds latency, std::uint32_t target_concurrency,
                     bool ok) {
  auto& entry = host(name);
  const auto target = latency / std::max<std::uint32_t>(target_concurrency, 1);
  auto next = std::max(target, (entry.delay + target) / 2);
  next = std::clamp(next, entry.floor, std::max(entry.floor, max_adaptive_delay));
  if (!ok && next < entry.delay) return;
  entry.delay = next;
}

void Frontier::give_up(const std::string& name) { host(name).given_up = true; }

bool Frontier::given_up(const std::string& name) const {
  auto it = hosts_.find(name);
  return it != hosts_.end() && it->second.given_up;
}

std::chrono::milliseconds Frontier::delay(const std::string& name) const {
  auto it = hosts_.find(name);
  return it == hosts_.end() ? default_delay_ : it->second.delay;
}

}  // namespace crawld::crawl
