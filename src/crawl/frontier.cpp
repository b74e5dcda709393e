#include "crawld/crawl/frontier.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace crawld::crawl {

namespace {

// A spilled entry: varint length + URL, varint depth, flags (1: sitemap, 2:
// redirect origin), then for an origin varint length + URL, varint
// redirects, varint elapsed_ms. The host is the block's.
void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

std::uint64_t get_varint(std::string_view& in) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) break;
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw std::runtime_error("frontier spool: a spilled entry is cut short");
}

void put_text(std::string& out, std::string_view text) {
  put_varint(out, text.size());
  out += text;
}

std::string get_text(std::string_view& in) {
  const auto size = get_varint(in);
  if (size > in.size()) throw std::runtime_error("frontier spool: a spilled entry is cut short");
  std::string text(in.substr(0, size));
  in.remove_prefix(size);
  return text;
}

std::uint32_t get_u32(std::string_view& in) { return static_cast<std::uint32_t>(get_varint(in)); }

constexpr char flag_sitemap = 1;
constexpr char flag_origin = 2;

std::size_t heap_bytes(const std::string& text) {
  // Short strings live inside the object (libstdc++ keeps up to 15 chars).
  return text.capacity() > 15 ? text.capacity() + 1 : 0;
}

}  // namespace

Frontier::Frontier(std::uint32_t per_host_concurrency, std::chrono::milliseconds default_delay, FrontierLimits limits)
    : per_host_concurrency_(std::max<std::uint32_t>(per_host_concurrency, 1)),
      default_delay_(default_delay),
      limits_(std::move(limits)) {}

Frontier::~Frontier() = default;

Frontier::Host& Frontier::host(const std::string& name) {
  auto [it, inserted] = hosts_.try_emplace(name);
  if (inserted) it->second.delay = it->second.floor = default_delay_;
  return it->second;
}

std::size_t Frontier::cost(const Queued& queued) {
  std::size_t bytes = sizeof(Queued) + heap_bytes(queued.url);
  if (queued.origin) bytes += sizeof(RedirectOrigin) + heap_bytes(queued.origin->url);
  return bytes;
}

void Frontier::push_back(Host& host, FrontierEntry&& entry) {
  Queued queued{std::move(entry.url), entry.depth, entry.sitemap,
                entry.origin ? std::make_unique<RedirectOrigin>(std::move(*entry.origin)) : nullptr};
  memory_ += cost(queued);
  host.queue.push_back(std::move(queued));
}

bool Frontier::add(FrontierEntry entry) {
  if (!seen_.insert(entry.url)) return false;
  auto& queue = host(entry.host);
  ++queued_;
  // Behind what the host has spilled already (its order), or past the budget.
  const bool over_budget = limits_.memory_bytes > 0 && memory_ + pending_ >= limits_.memory_bytes;
  if (!queue.spilled.empty() || queue.pending_count > 0 || (over_budget && !spill_broken_)) {
    spill(queue, entry);
  } else {
    push_back(queue, std::move(entry));
  }
  return true;
}

bool Frontier::mark_seen(const std::string& url) { return seen_.insert(url); }

void Frontier::spill(Host& host, const FrontierEntry& entry) {
  const auto before = host.pending.size();
  if (host.pending.capacity() == 0) host.pending.reserve(limits_.block_bytes + 256);
  put_text(host.pending, entry.url);
  put_varint(host.pending, entry.depth);
  host.pending += static_cast<char>((entry.sitemap ? flag_sitemap : 0) | (entry.origin ? flag_origin : 0));
  if (entry.origin) {
    put_text(host.pending, entry.origin->url);
    put_varint(host.pending, entry.origin->redirects);
    put_varint(host.pending, entry.origin->elapsed_ms);
  }
  pending_ += host.pending.size() - before;
  ++host.pending_count;
  ++spilled_;
  ++spilled_total_;
  if (spill_broken_) return;
  if (host.pending.size() >= limits_.block_bytes) write_pending(host);
  // Many hosts each with a little pending: write them all out.
  if (pending_ > limits_.memory_bytes / 4) write_all_pending();
}

void Frontier::write_pending(Host& host) {
  if (host.pending_count == 0 || spill_broken_) return;
  try {
    if (!spool_) {
      if (limits_.spool_dir.empty()) throw std::runtime_error("frontier spool: no spool folder configured");
      spool_ = std::make_unique<FrontierSpool>(limits_.spool_dir);
    }
    host.spilled.push_back(spool_->write(host.pending, host.pending_count));
  } catch (const std::exception& e) {
    spill_broken_ = true;
    spill_failed(std::string(e.what()) + "; queued URLs are kept in memory from now on");
    return;
  }
  pending_ -= host.pending.size();
  host.pending = std::string();
  host.pending_count = 0;
}

void Frontier::write_all_pending() {
  for (auto& [name, host] : hosts_) write_pending(host);
}

void Frontier::spill_failed(const std::string& why) {
  if (!spill_error_.empty()) spill_error_ += "; ";
  spill_error_ += why;
}

std::string Frontier::take_spill_error() { return std::exchange(spill_error_, {}); }

void Frontier::refill(Host& host) {
  // Decodes `count` entries into the in-memory queue; returns how many it could.
  auto decode = [&](std::string_view data, std::uint32_t count) {
    std::uint32_t done = 0;
    for (; done < count; ++done) {
      Queued queued;
      queued.url = get_text(data);
      queued.depth = get_u32(data);
      if (data.empty()) throw std::runtime_error("frontier spool: a spilled entry is cut short");
      const char flags = data.front();
      data.remove_prefix(1);
      queued.sitemap = (flags & flag_sitemap) != 0;
      if ((flags & flag_origin) != 0) {
        queued.origin = std::make_unique<RedirectOrigin>();
        queued.origin->url = get_text(data);
        queued.origin->redirects = get_u32(data);
        queued.origin->elapsed_ms = get_u32(data);
      }
      memory_ += cost(queued);
      host.queue.push_back(std::move(queued));
      --spilled_;
    }
  };
  while (host.queue.empty() && !host.spilled.empty()) {
    const auto block = host.spilled.front();
    host.spilled.pop_front();
    const auto before = host.queue.size();
    try {
      decode(spool_->read(block), block.count);
    } catch (const std::exception& e) {
      const auto lost = block.count - (host.queue.size() - before);
      spilled_ -= lost;
      queued_ -= lost;
      lost_ += lost;
      spill_failed(std::to_string(lost) + " queued URLs lost: " + e.what());
    }
  }
  if (host.queue.empty() && host.pending_count > 0) {
    // Nothing on disk before them: taken straight from memory. Our own
    // encoding of moments ago: it decodes.
    decode(host.pending, host.pending_count);
    pending_ -= host.pending.size();
    host.pending = std::string();
    host.pending_count = 0;
  }
}

FrontierStats Frontier::stats() const {
  FrontierStats stats;
  stats.seen = seen_.size();
  stats.seen_bytes = seen_.memory_bytes();
  stats.memory_bytes = memory_ + pending_;
  stats.spilled = spilled_;
  stats.spill_bytes = spool_ ? spool_->live_bytes() : 0;
  stats.spilled_total = spilled_total_;
  return stats;
}

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
    if (!has_queued(host) || host.blocked) continue;
    if (!host.given_up) {
      if (host.active >= per_host_concurrency_) continue;
      if (const auto ready_at = ready_time(host); ready_at && *ready_at > now) {
        if (!pick.retry_at || *ready_at < *pick.retry_at) pick.retry_at = *ready_at;
        continue;
      }
    }
    if (host.queue.empty()) {
      refill(host);
      if (host.queue.empty()) continue;  // lost (spill_error says why)
    }
    auto& front = host.queue.front();
    memory_ -= cost(front);
    pick.entry = FrontierEntry{std::move(front.url), name, front.depth,
                               front.origin ? std::optional<RedirectOrigin>(std::move(*front.origin)) : std::nullopt,
                               front.sitemap};
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
  Queued queued{std::move(entry.url), entry.depth, entry.sitemap,
                entry.origin ? std::make_unique<RedirectOrigin>(std::move(*entry.origin)) : nullptr};
  memory_ += cost(queued);
  host(entry.host).queue.push_front(std::move(queued));
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
