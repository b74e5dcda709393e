// Where webhook deliveries wait until their receiver has them: the outbox.
//
// A delivery is added on the loop when a job's state changes, and is kept
// with that change: in the database (store/webhook_outbox: the same
// transaction as the job's row) or, without one, in memory (MemoryOutbox:
// lost with the process). The sender claims the deliveries that are due,
// for a lease (another sender, or this one after a crash, takes a delivery
// again only once its lease ran out), and records each attempt's outcome.
#pragma once

#include "crawld/jobs/job.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace crawld::webhooks {

enum class DeliveryState { pending, delivered, failed };
const char* to_string(DeliveryState state);

struct Delivery {
  std::string id;  // webhook-id: the same for every attempt (receivers dedupe by it)
  std::string job_id;
  std::uint32_t job_attempt = 0;  // cluster mode fences the row by it
  std::string event;              // "job.succeeded", ...
  std::string url;                // the webhook's (its secret is looked up by it)
  std::string payload;            // the body, the same bytes every attempt
  jobs::Clock::time_point created_at{};
  std::uint32_t attempts = 0;  // made so far, counting the one claimed
};

struct DeliveryAttempt {
  std::uint32_t n = 0;
  jobs::Clock::time_point at{};
  int status = 0;     // 0: no HTTP answer
  std::string error;  // empty when the receiver answered 2xx
  std::uint32_t elapsed_ms = 0;
};

// What to do after an attempt.
struct DeliveryOutcome {
  std::string id;
  DeliveryAttempt attempt;
  DeliveryState state = DeliveryState::pending;  // pending: try again at next_at
  jobs::Clock::time_point next_at{};
};

// A delivery as GET /webhooks/deliveries shows it.
struct DeliveryRecord {
  Delivery delivery;
  DeliveryState state = DeliveryState::pending;
  std::optional<jobs::Clock::time_point> next_attempt_at;  // pending only
  std::optional<jobs::Clock::time_point> delivered_at;
  std::vector<DeliveryAttempt> attempts;
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  // On the loop, beside the state change that made it (never blocks).
  virtual void add(const jobs::Job& job, Delivery delivery) = 0;
  // Up to `n` due deliveries, each to one of `urls` (the webhooks this
  // sender has, with room for another send), leased for `lease`, its
  // attempt counted. A delivery to a URL no sender has waits.
  virtual boost::asio::awaitable<std::vector<Delivery>> claim(std::size_t n, std::set<std::string> urls,
                                                              std::chrono::milliseconds lease) = 0;
  virtual boost::asio::awaitable<void> record(DeliveryOutcome outcome) = 0;
  // Newest first; one job's, or everyone's when job_id is empty.
  virtual boost::asio::awaitable<std::vector<DeliveryRecord>> list(std::string job_id, std::size_t limit) = 0;
  // Called on the loop when added deliveries can be claimed.
  void on_added(std::function<void()> wake) { wake_ = std::move(wake); }

 protected:
  void added() {
    if (wake_) wake_();
  }

 private:
  std::function<void()> wake_;
};

// Without a database: the outbox in memory, the newest `capacity`
// deliveries (pending ones are never dropped for room). A restart loses it.
class MemoryOutbox final : public Outbox {
 public:
  explicit MemoryOutbox(std::size_t capacity = 10'000) : capacity_(capacity) {}
  void add(const jobs::Job& job, Delivery delivery) override;
  boost::asio::awaitable<std::vector<Delivery>> claim(std::size_t n, std::set<std::string> urls,
                                                      std::chrono::milliseconds lease) override;
  boost::asio::awaitable<void> record(DeliveryOutcome outcome) override;
  boost::asio::awaitable<std::vector<DeliveryRecord>> list(std::string job_id, std::size_t limit) override;

 private:
  struct Kept {
    DeliveryRecord record;
    std::chrono::steady_clock::time_point due{};
    std::chrono::steady_clock::time_point lease_until{};
  };
  void trim();

  std::size_t capacity_;
  std::deque<Kept> kept_;  // oldest first
};

}  // namespace crawld::webhooks
