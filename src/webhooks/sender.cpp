#include "crawld/webhooks/sender.hpp"

#include "crawld/crawl/fetcher.hpp"
#include "crawld/webhooks/signature.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <list>
#include <set>

namespace crawld::webhooks {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

// Sends in flight: in all, and to one receiver.
constexpr std::size_t max_in_flight = 32;
constexpr std::size_t max_in_flight_per_url = 4;
constexpr auto max_retry_delay = std::chrono::milliseconds(3600s);

}  // namespace

struct WebhookSender::Endpoint {
  const WebhookConfig* config = nullptr;
  std::string key;  // the secret's bytes
  std::set<std::string> events;
  std::size_t in_flight = 0;
  // One per send in flight: stop() cancels them.
  std::list<asio::cancellation_signal> cancels;
};

const char* event_for(jobs::JobState state) {
  switch (state) {
    case jobs::JobState::queued: return "job.queued";
    case jobs::JobState::running: return "job.started";
    case jobs::JobState::succeeded: return "job.succeeded";
    case jobs::JobState::failed: return "job.failed";
    case jobs::JobState::cancelled: return "job.cancelled";
    case jobs::JobState::timed_out: return "job.timed_out";
    case jobs::JobState::interrupted: return "job.interrupted";
  }
  return nullptr;
}

std::chrono::milliseconds retry_delay(std::chrono::milliseconds retry, std::uint32_t attempts, std::mt19937& random) {
  auto delay = retry;
  for (std::uint32_t n = 1; n < attempts && delay < max_retry_delay; ++n) delay *= 2;
  delay = std::min(delay, max_retry_delay);
  // Receivers that failed together do not all get their retries at once.
  std::uniform_int_distribution<std::int64_t> half(0, delay.count() / 2);
  return delay - std::chrono::milliseconds(half(random));
}

WebhookSender::WebhookSender(asio::io_context& ioc, const Config& config, Outbox& outbox, Render render)
    : ioc_(ioc),
      config_(config),
      outbox_(outbox),
      render_(std::move(render)),
      wake_(ioc),
      in_flight_(ioc),
      running_(ioc),
      random_(std::random_device{}()) {
  for (const auto& webhook : config.webhooks) {
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->config = &webhook;
    endpoint->key = decode_secret(webhook.secret).value_or(std::string());
    if (webhook.events.empty()) {
      endpoint->events.insert(std::begin(webhook_events), std::end(webhook_events));
    } else {
      endpoint->events.insert(webhook.events.begin(), webhook.events.end());
    }
    endpoints_.emplace(webhook.url, std::move(endpoint));
  }
  outbox_.on_added([this] { wake(); });
}

WebhookSender::~WebhookSender() = default;

std::vector<Delivery> WebhookSender::deliveries_for(const jobs::Job& job) const {
  std::vector<Delivery> out;
  const char* event = event_for(job.state);
  if (event == nullptr) return out;
  std::string payload;
  for (const auto& [url, endpoint] : endpoints_) {
    if (!endpoint->events.contains(event)) continue;
    if (payload.empty()) {
      // The envelope Standard Webhooks suggests: type, timestamp, data.
      payload = std::string(R"({"type":")") + event + R"(","timestamp":")" + jobs::format_time(jobs::Clock::now()) +
                R"(","data":)" + render_(job) + "}";
    }
    Delivery& delivery = out.emplace_back();
    delivery.id = jobs::new_job_id();
    delivery.job_id = job.id;
    delivery.job_attempt = job.attempt;
    delivery.event = event;
    delivery.url = url;
    delivery.payload = payload;
    delivery.created_at = jobs::Clock::now();
  }
  return out;
}

void WebhookSender::changed(const jobs::Job& job) {
  if (endpoints_.empty()) return;
  for (auto& delivery : deliveries_for(job)) outbox_.add(job, std::move(delivery));
}

void WebhookSender::start() {
  if (endpoints_.empty()) return;
  context_ = std::make_unique<crawl::FetchContext>(config_.crawl);
  fetcher_ = std::make_unique<crawl::Fetcher>(ioc_.get_executor(), *context_);
  running_.enter();
  asio::co_spawn(ioc_, run(), [this](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        spdlog::error("webhooks: the sender stopped: {}", e.what());
      }
    }
    running_.leave();
  });
}

void WebhookSender::wake() {
  woken_ = true;
  wake_.cancel();
}

asio::awaitable<void> WebhookSender::run() {
  // Due deliveries are looked for at least this often; a retry is due no
  // sooner than webhooks_retry_ms / 2.
  const auto poll = std::clamp(std::chrono::milliseconds(config_.webhooks_retry_ms / 2), 50ms,
                               std::chrono::milliseconds(1000));
  const auto lease = std::chrono::milliseconds(config_.crawl.connect_timeout_ms + config_.crawl.request_timeout_ms) + 10s;
  bool unavailable_logged = false;
  while (!stopping_) {
    woken_ = false;
    bool claimed_any = false;
    // Each receiver's room is claimed apart, so one that hangs holds at
    // most max_in_flight_per_url sends.
    for (auto& [url, endpoint] : endpoints_) {
      if (stopping_ || in_flight_.count() >= max_in_flight || endpoint->in_flight >= max_in_flight_per_url) continue;
      std::size_t room = std::min(max_in_flight_per_url - endpoint->in_flight, max_in_flight - in_flight_.count());
      std::vector<Delivery> claimed;
      try {
        // Named, not a temporary in the co_await expression (GCC 12).
        std::set<std::string> only{url};
        claimed = co_await outbox_.claim(room, std::move(only), lease);
        unavailable_logged = false;
      } catch (const std::exception& e) {
        // The database is down: the deliveries wait in it.
        if (!unavailable_logged) spdlog::warn("webhooks: cannot claim deliveries: {}", e.what());
        unavailable_logged = true;
        break;
      }
      if (stopping_) break;  // claimed ones are sent again once their lease runs out
      claimed_any = claimed_any || !claimed.empty();
      for (auto& delivery : claimed) spawn_send(*endpoint, std::move(delivery));
    }
    if (claimed_any || woken_) continue;  // there may be more
    wake_.expires_after(poll);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void WebhookSender::spawn_send(Endpoint& endpoint, Delivery delivery) {
  ++endpoint.in_flight;
  in_flight_.enter();
  auto& signal = endpoint.cancels.emplace_back();
  asio::co_spawn(ioc_, send(std::move(delivery)),
                 asio::bind_cancellation_slot(signal.slot(), [this, &endpoint, &signal](std::exception_ptr) {
                   // The signal goes once co_spawn has let go of its slot.
                   asio::post(ioc_, [&endpoint, &signal] {
                     endpoint.cancels.remove_if([&](const auto& s) { return &s == &signal; });
                   });
                   --endpoint.in_flight;
                   in_flight_.leave();
                   wake();  // a slot is free
                 }));
}

DeliveryOutcome WebhookSender::judge(const Delivery& delivery, DeliveryAttempt attempt) {
  DeliveryOutcome outcome{delivery.id, std::move(attempt), DeliveryState::delivered, {}};
  if (outcome.attempt.error.empty()) return outcome;
  auto next = jobs::Clock::now() + retry_delay(std::chrono::milliseconds(config_.webhooks_retry_ms), delivery.attempts,
                                               random_);
  if (next > delivery.created_at + std::chrono::seconds(config_.webhooks_max_age_s)) {
    outcome.state = DeliveryState::failed;
    spdlog::warn("webhooks: delivery {} ({} of job {}) to {} failed {} times, given up: {}", delivery.id,
                 delivery.event, delivery.job_id, delivery.url, delivery.attempts, outcome.attempt.error);
    return outcome;
  }
  outcome.state = DeliveryState::pending;
  outcome.next_at = next;
  return outcome;
}

asio::awaitable<void> WebhookSender::send(Delivery delivery) {
  const auto& endpoint = *endpoints_.at(delivery.url);
  auto timestamp = std::chrono::duration_cast<std::chrono::seconds>(jobs::Clock::now().time_since_epoch()).count();
  crawl::Fetcher::Outgoing request;
  request.headers = {{"Content-Type", "application/json"},
                     {"webhook-id", delivery.id},
                     {"webhook-timestamp", std::to_string(timestamp)},
                     {"webhook-signature", sign(endpoint.key, delivery.id, timestamp, delivery.payload)}};
  request.body = delivery.payload;
  auto started = Steady::now();
  auto response = co_await fetcher_->send(delivery.url, std::move(request));
  if (response.error_kind == crawl::FetchErrorKind::cancelled) co_return;  // stopping: its lease runs out
  DeliveryAttempt attempt;
  attempt.n = delivery.attempts;
  attempt.at = jobs::Clock::now();
  attempt.status = response.status;
  attempt.elapsed_ms =
      static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - started).count());
  if (!response.error.empty()) {
    attempt.error = response.error;
  } else if (response.status < 200 || response.status > 299) {
    attempt.error = "HTTP " + std::to_string(response.status);
  }
  auto outcome = judge(delivery, std::move(attempt));
  try {
    co_await outbox_.record(std::move(outcome));
  } catch (const std::exception& e) {
    // Its lease runs out and it is sent again: at least once.
    spdlog::warn("webhooks: cannot record the outcome of delivery {}: {}", delivery.id, e.what());
  }
}

asio::awaitable<void> WebhookSender::stop(std::chrono::milliseconds timeout) {
  stopping_ = true;
  wake();
  auto deadline = Steady::now() + timeout;
  co_await in_flight_.wait(deadline);
  // What is still in flight is cancelled; the fetcher ends it at once.
  for (auto& [url, endpoint] : endpoints_) {
    for (auto& signal : endpoint->cancels) signal.emit(asio::cancellation_type::terminal);
  }
  co_await in_flight_.wait(std::max(deadline, Steady::now() + 500ms));
  co_await running_.wait(Steady::now() + 500ms);
}

}  // namespace crawld::webhooks
