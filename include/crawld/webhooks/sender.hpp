// Webhooks: job state changes POSTed to the operator's receivers.
//
// As a JobObserver, WebhookSender turns each state change into one
// delivery per webhook that asked for its event, and puts it in the outbox
// beside the change (outbox.hpp). Its loop claims the due deliveries and
// sends each from a coroutine of its own with the crawler's HTTP client
// (TLS verification, the private-address policy, its timeouts), signed as
// Standard Webhooks asks (signature.hpp). A receiver that does not answer
// 2xx gets the delivery again after a delay that doubles each time (from
// webhooks_retry_ms, with jitter, at most an hour) until webhooks_max_age_s
// after the event; then it is marked failed. At most a few deliveries are
// in flight to one receiver, so one that hangs holds back only its own.
#pragma once

#include "crawld/config.hpp"
#include "crawld/jobs/job_observer.hpp"
#include "crawld/util/gate.hpp"
#include "crawld/webhooks/outbox.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace crawld::crawl {
class FetchContext;
class Fetcher;
}  // namespace crawld::crawl

namespace crawld::webhooks {

// The event a state change is, or nullptr ("job.succeeded" for succeeded).
const char* event_for(jobs::JobState state);

// The delay before attempt n + 1 after n failed ones: retry * 2^(n-1),
// at most an hour, of which the last half is random.
std::chrono::milliseconds retry_delay(std::chrono::milliseconds retry, std::uint32_t attempts, std::mt19937& random);

class WebhookSender final : public jobs::JobObserver {
 public:
  // `render` writes a job as the API does.
  using Render = std::function<std::string(const jobs::Job&)>;
  WebhookSender(boost::asio::io_context& ioc, const Config& config, Outbox& outbox, Render render);
  ~WebhookSender() override;
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // JobObserver (on the loop).
  void job_created(const jobs::Job& job) override { changed(job); }
  void job_changed(const jobs::Job& job) override { changed(job); }
  void job_adopted(const jobs::Job& job) override { changed(job); }

  // The deliveries of the job's current state, one per webhook that asked
  // for its event (none when nobody did). Reads only what the constructor
  // set: cluster mode calls it on a database thread, for the changes the
  // database makes alone (store::ClusterRepository::on_database_changes).
  std::vector<Delivery> deliveries_for(const jobs::Job& job) const;

  // Starts claiming and sending (nothing to do without webhooks).
  void start();
  // Deliveries may be due: look now.
  void wake();
  // Stops claiming and waits up to `timeout` for the sends in flight; the
  // rest keep their lease and are sent again later (by whoever claims them).
  boost::asio::awaitable<void> stop(std::chrono::milliseconds timeout);

 private:
  struct Endpoint;
  void changed(const jobs::Job& job);
  boost::asio::awaitable<void> run();
  void spawn_send(Endpoint& endpoint, Delivery delivery);
  boost::asio::awaitable<void> send(Delivery delivery);
  DeliveryOutcome judge(const Delivery& delivery, DeliveryAttempt attempt);

  boost::asio::io_context& ioc_;
  const Config& config_;
  Outbox& outbox_;
  Render render_;
  std::map<std::string, std::unique_ptr<Endpoint>> endpoints_;  // by URL
  std::unique_ptr<crawl::FetchContext> context_;
  std::unique_ptr<crawl::Fetcher> fetcher_;
  boost::asio::steady_timer wake_;
  util::Gate in_flight_;
  util::Gate running_;
  std::mt19937 random_;
  bool stopping_ = false;
  bool woken_ = false;
};

}  // namespace crawld::webhooks
