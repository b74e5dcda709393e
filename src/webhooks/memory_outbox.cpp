#include "crawld/webhooks/outbox.hpp"

#include <algorithm>

namespace crawld::webhooks {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

const char* to_string(DeliveryState state) {
  switch (state) {
    case DeliveryState::pending: return "pending";
    case DeliveryState::delivered: return "delivered";
    case DeliveryState::failed: return "failed";
  }
  return "pending";
}

void MemoryOutbox::add(const jobs::Job&, Delivery delivery) {
  Kept kept;
  kept.record.delivery = std::move(delivery);
  kept.record.next_attempt_at = kept.record.delivery.created_at;
  kept.due = Steady::now();
  kept_.push_back(std::move(kept));
  trim();
  added();
}

void MemoryOutbox::trim() {
  // The oldest finished deliveries make room; pending ones stay.
  for (auto it = kept_.begin(); kept_.size() > capacity_ && it != kept_.end();) {
    it = it->record.state == DeliveryState::pending ? std::next(it) : kept_.erase(it);
  }
}

asio::awaitable<std::vector<Delivery>> MemoryOutbox::claim(std::size_t n, std::set<std::string> urls,
                                                           std::chrono::milliseconds lease) {
  std::vector<Delivery> claimed;
  auto now = Steady::now();
  for (auto& kept : kept_) {
    if (claimed.size() >= n) break;
    auto& delivery = kept.record.delivery;
    if (kept.record.state != DeliveryState::pending || kept.due > now || kept.lease_until > now ||
        !urls.contains(delivery.url)) {
      continue;
    }
    kept.lease_until = now + lease;
    ++delivery.attempts;
    claimed.push_back(delivery);
  }
  co_return claimed;
}

asio::awaitable<void> MemoryOutbox::record(DeliveryOutcome outcome) {
  auto it = std::find_if(kept_.begin(), kept_.end(),
                         [&](const Kept& kept) { return kept.record.delivery.id == outcome.id; });
  if (it == kept_.end()) co_return;
  auto& record = it->record;
  record.attempts.push_back(outcome.attempt);
  record.state = outcome.state;
  it->lease_until = {};
  if (outcome.state == DeliveryState::pending) {
    record.next_attempt_at = outcome.next_at;
    it->due = Steady::now() + std::chrono::duration_cast<Steady::duration>(outcome.next_at - jobs::Clock::now());
  } else {
    record.next_attempt_at.reset();
    if (outcome.state == DeliveryState::delivered) record.delivered_at = outcome.attempt.at;
  }
}

asio::awaitable<std::vector<DeliveryRecord>> MemoryOutbox::list(std::string job_id, std::size_t limit) {
  std::vector<DeliveryRecord> out;
  for (auto it = kept_.rbegin(); it != kept_.rend() && out.size() < limit; ++it) {
    if (job_id.empty() || it->record.delivery.job_id == job_id) out.push_back(it->record);
  }
  co_return out;
}

}  // namespace crawld::webhooks
