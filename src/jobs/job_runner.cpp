#include "crawld/jobs/job_runner.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace crawld::jobs {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct JobRunner::Run {
  Job job;
  std::uint32_t attempt = 1;
  std::shared_ptr<crawl::CrawlControl> control = std::make_shared<crawl::CrawlControl>();
  asio::cancellation_signal crawl_signal;
  asio::cancellation_signal watchdog_signal;
  StopReason stop_reason = StopReason::none;
  bool crawl_active = true;
  bool watchdog_active = true;
};

JobRunner::JobRunner(asio::io_context& ioc, std::chrono::milliseconds hard_kill_grace, CrawlFunction crawl,
                     RunListener& listener)
    : ioc_(ioc), hard_kill_grace_(hard_kill_grace), crawl_(std::move(crawl)), listener_(listener), gate_(ioc) {}

JobRunner::~JobRunner() = default;

void JobRunner::start(const Job& job, std::uint32_t attempt, std::optional<std::chrono::milliseconds> time_left) {
  const auto& p = job.params;
  listener_.run_event(job.id, "info",
                      "crawl started (target " + p.target + ", season " + std::to_string(p.season) +
                          (p.deep ? ", deep" : ", shallow") + ", timeout " + std::to_string(p.timeout_s) + "s" +
                          (attempt > 1 ? ", attempt " + std::to_string(attempt) + " on " + job.instance_id : "") + ")");
  auto owned = std::make_unique<Run>();
  Run& run = *owned;
  run.job = job;
  run.attempt = attempt;
  std::string id = job.id;
  runs_.insert_or_assign(id, std::move(owned));
  ++running_;

  // The crawl: detached, bound to the run's cancellation signal.
  gate_.enter();
  asio::co_spawn(ioc_, crawl_(run.job, run.control),
                 asio::bind_cancellation_slot(run.crawl_signal.slot(),
                                              [this, id](std::exception_ptr error, crawl::CrawlResult result) {
                                                crawl_ended(id, error, std::move(result));
                                                gate_.leave();
                                              }));
  // Its watchdog: cancelled through its own signal when the crawl ends first.
  gate_.enter();
  std::chrono::milliseconds timeout = time_left.value_or(std::chrono::seconds(p.timeout_s));
  asio::co_spawn(ioc_, watchdog(id, timeout),
                 asio::bind_cancellation_slot(run.watchdog_signal.slot(), [this, id](std::exception_ptr) {
                   if (auto it = runs_.find(id); it != runs_.end()) it->second->watchdog_active = false;
                   forget_if_done(id);
                   gate_.leave();
                 }));
}

void JobRunner::stop(Run& run, StopReason reason, asio::cancellation_type type) {
  run.stop_reason = reason;
  run.control->request_stop();
  if (type != asio::cancellation_type::none) run.crawl_signal.emit(type);
}

bool JobRunner::cancel(const std::string& id, StopReason reason) {
  auto it = runs_.find(id);
  if (it == runs_.end() || !it->second->crawl_active) return false;
  stop(*it->second, reason, asio::cancellation_type::terminal);
  return true;
}

asio::awaitable<void> JobRunner::watchdog(std::string id, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(ioc_, timeout);
  auto [cancelled] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (cancelled) co_return;  // the crawl ended first
  auto it = runs_.find(id);
  if (it == runs_.end() || !it->second->crawl_active) co_return;
  stop(*it->second, StopReason::deadline, asio::cancellation_type::none);
  listener_.run_event(id, "warn",
                      "watchdog: timeout of " + std::to_string(it->second->job.params.timeout_s) +
                          "s reached, stopping the crawl (no new fetches)");

  timer.expires_after(hard_kill_grace_);
  auto [cancelled_late] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (cancelled_late) co_return;
  it = runs_.find(id);
  if (it == runs_.end() || !it->second->crawl_active) co_return;
  listener_.run_event(id, "warn", "watchdog: crawl still running after the grace period, cancelling in-flight fetches");
  it->second->crawl_signal.emit(asio::cancellation_type::terminal);
}

void JobRunner::crawl_ended(const std::string& id, std::exception_ptr error, crawl::CrawlResult result) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  run.crawl_active = false;
  --running_;
  if (run.watchdog_active) run.watchdog_signal.emit(asio::cancellation_type::terminal);
  RunEnd end;
  end.id = id;
  end.attempt = run.attempt;
  end.stop_reason = run.stop_reason;
  end.progress = run.control->progress;
  end.outcome = classify_outcome(run.stop_reason, run.job.params.timeout_s, error, result);
  forget_if_done(id);
  listener_.run_ended(std::move(end));
}

void JobRunner::forget_if_done(const std::string& id) {
  auto it = runs_.find(id);
  if (it != runs_.end() && !it->second->crawl_active && !it->second->watchdog_active) runs_.erase(it);
}

std::optional<JobRunner::Live> JobRunner::live(const std::string& id) const {
  auto it = runs_.find(id);
  if (it == runs_.end() || !it->second->crawl_active) return std::nullopt;
  return Live{it->second->control->progress, it->second->stop_reason};
}

std::vector<std::string> JobRunner::running_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, run] : runs_) {
    if (run->crawl_active) ids.push_back(id);
  }
  return ids;
}

asio::awaitable<void> JobRunner::shutdown(std::chrono::milliseconds grace) {
  // Crawls (and their watchdogs) still in flight after the grace are
  // cancelled; the gate then empties within a second.
  if (co_await gate_.wait(grace)) co_return;
  for (const auto& id : running_ids()) {
    Run& run = *runs_.at(id);
    listener_.run_event(id, "warn", "service stopping: cancelling the crawl");
    stop(run, StopReason::shutdown, asio::cancellation_type::terminal);
  }
  co_await gate_.wait(1s);
}

}  // namespace crawld::jobs
