#include "crawld/jobs/job_manager.hpp"

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace crawld::jobs {

namespace asio = boost::asio;
using namespace std::chrono_literals;

JobManager::JobManager(asio::io_context& ioc, JobsConfig config, CrawlFunction crawl, std::string instance_id)
    : ioc_(ioc), config_(std::move(config)), crawl_(std::move(crawl)), instance_id_(std::move(instance_id)),
      progress_timer_(ioc) {}

JobManager::~JobManager() = default;

const Job* JobManager::active_duplicate(const JobParams& params) const {
  auto it = active_.find(dedup_key(params));
  if (it == active_.end() || it->second.empty()) return nullptr;
  return &entries_.at(it->second.front())->job;
}

SubmitResult JobManager::submit(JobParams params, const std::string& idempotency_key) {
  if (shutting_down_) return {SubmitStatus::shutting_down, nullptr};

  auto now = std::chrono::steady_clock::now();
  if (!idempotency_key.empty()) {
    std::erase_if(idempotency_, [&](const auto& item) { return item.second.expires <= now; });
    auto it = idempotency_.find(idempotency_key);
    if (it != idempotency_.end()) {
      if (!(it->second.params == params)) return {SubmitStatus::idempotency_mismatch, nullptr};
      const Job* original = find(it->second.job_id);
      return {SubmitStatus::replayed, original};
    }
  }

  const Job* duplicate = active_duplicate(params);
  if (duplicate != nullptr && config_.on_duplicate == "reject") return {SubmitStatus::duplicate, duplicate};

  bool duplicate_running = duplicate != nullptr && config_.on_duplicate == "queue";
  bool starts_now = running_ < config_.max_running && !duplicate_running && queue_.empty();
  if (!starts_now && queue_.size() >= config_.max_queued) return {SubmitStatus::queue_full, nullptr};

  auto entry = std::make_unique<Entry>();
  Job& job = entry->job;
  job.id = new_job_id();
  job.params = std::move(params);
  job.created_at = Clock::now();
  job.idempotency_key = idempotency_key;
  job.instance_id = instance_id_;
  std::string id = job.id;
  Entry& ref = *entry;
  entries_.emplace(id, std::move(entry));
  ref.order_pos = order_.insert(order_.end(), id);
  queue_.push_back(id);
  auto& same = active_[dedup_key(job.params)];
  ref.active_pos = same.insert(same.end(), id);
  if (!idempotency_key.empty()) {
    idempotency_[idempotency_key] = {id, job.params, now + std::chrono::seconds(config_.idempotency_ttl_s)};
  }
  for (auto* observer : observers_) observer->job_created(ref.job);
  event(id, "info", "job accepted");
  start_eligible();
  return {SubmitStatus::created, &ref.job};
}

void JobManager::start_eligible() {
  while (running_ < config_.max_running && !shutting_down_) {
    auto next = queue_.end();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      Entry& candidate = *entries_.at(*it);
      bool blocked = false;
      if (config_.on_duplicate != "allow") {
        // The duplicate policy "queue" runs one crawl of a kind at a time.
        for (const auto& other : active_[dedup_key(candidate.job.params)]) {
          if (entries_.at(other)->job.state == JobState::running) blocked = true;
        }
      }
      if (!blocked) {
        next = it;
        break;
      }
    }
    if (next == queue_.end()) return;
    std::string id = *next;
    queue_.erase(next);
    start(*entries_.at(id));
  }
}

void JobManager::start(Entry& entry) {
  Job& job = entry.job;
  job.started_at = Clock::now();
  set_state(entry, JobState::running);
  event(job.id, "info",
        "crawl started (target " + job.params.target + ", season " + std::to_string(job.params.season) +
            (job.params.deep ? ", deep" : ", shallow") + ", timeout " + std::to_string(job.params.timeout_s) + "s)");
  ++running_;
  entry.control = std::make_shared<crawl::CrawlControl>();
  entry.crawl_active = true;
  entry.watchdog_active = true;
  std::string id = job.id;

  // The crawl: detached, bound to the entry's cancellation signal.
  asio::co_spawn(ioc_, run_crawl(entry),
                 asio::bind_cancellation_slot(entry.crawl_signal.slot(),
                                              [this, id](std::exception_ptr error, crawl::CrawlResult result) {
                                                crawl_finished(id, error, std::move(result));
                                              }));
  // Its watchdog: cancelled through its own signal when the crawl ends first.
  asio::co_spawn(ioc_, watchdog(id, std::chrono::seconds(job.params.timeout_s)),
                 asio::bind_cancellation_slot(entry.watchdog_signal.slot(), [this, id](std::exception_ptr) {
                   if (auto it = entries_.find(id); it != entries_.end()) it->second->watchdog_active = false;
                 }));
  if (!progress_timer_armed_) tick_progress();
}

asio::awaitable<crawl::CrawlResult> JobManager::run_crawl(Entry& entry) {
  co_return co_await crawl_(entry.job, entry.control);
}

asio::awaitable<void> JobManager::watchdog(std::string id, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(ioc_, timeout);
  auto [cancelled] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (cancelled) co_return;  // the crawl ended first
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second->crawl_active) co_return;
  Entry& entry = *it->second;
  entry.job.stop_reason = StopReason::deadline;
  entry.control->stop_requested = true;
  event(id, "warn", "watchdog: timeout of " + std::to_string(entry.job.params.timeout_s) +
                        "s reached, stopping the crawl (no new fetches)");

  timer.expires_after(std::chrono::milliseconds(config_.hard_kill_grace_ms));
  auto [cancelled_late] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (cancelled_late) co_return;
  it = entries_.find(id);
  if (it == entries_.end() || !it->second->crawl_active) co_return;
  event(id, "warn", "watchdog: crawl still running after the grace period, cancelling in-flight fetches");
  it->second->crawl_signal.emit(asio::cancellation_type::terminal);
}

void JobManager::crawl_finished(const std::string& id, std::exception_ptr error, crawl::CrawlResult result) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& entry = *it->second;
  entry.crawl_active = false;
  --running_;
  if (running_ == 0) progress_timer_.cancel();  // nothing to report: let the loop go idle
  if (entry.watchdog_active) entry.watchdog_signal.emit(asio::cancellation_type::terminal);
  entry.job.progress = entry.control ? entry.control->progress : result.progress;

  // A crawl that ends by letting the cancellation we emitted escape as
  // operation_aborted was stopped, not broken: its stop reason decides.
  if (error && entry.job.stop_reason != StopReason::none) {
    try {
      std::rethrow_exception(error);
    } catch (const boost::system::system_error& e) {
      if (e.code() == asio::error::operation_aborted) error = nullptr;
    } catch (...) {
    }
  }

  JobState state = JobState::succeeded;
  std::string message;
  if (error) {
    // Nothing a crawl throws may escape: it becomes the job's failure.
    state = JobState::failed;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message = std::string("crawl failed: ") + e.what();
    } catch (...) {
      message = "crawl failed: unknown error";
    }
  } else {
    switch (entry.job.stop_reason) {
      case StopReason::deadline:
        state = JobState::timed_out;
        message = "timed out after " + std::to_string(entry.job.params.timeout_s) + "s";
        break;
      case StopReason::user_request:
        state = JobState::cancelled;
        message = "cancelled by operator";
        break;
      case StopReason::shutdown:
        state = JobState::interrupted;
        message = "interrupted: the service stopped";
        break;
      case StopReason::none:
        if (result.outcome == crawl::CrawlOutcome::failed) {
          state = JobState::failed;
          message = result.error.empty() ? "crawl failed" : result.error;
        } else if (result.outcome == crawl::CrawlOutcome::cancelled) {
          state = JobState::cancelled;
          message = result.error.empty() ? "cancelled" : result.error;
        }
        break;
    }
  }
  finish(entry, state, message);
  start_eligible();
}

void JobManager::finish(Entry& entry, JobState state, std::string error) {
  Job& job = entry.job;
  if (!is_terminal(job.state)) {
    // Queued or running until now: it leaves its crawl's active list.
    auto key = dedup_key(job.params);
    auto& ids = active_[key];
    ids.erase(entry.active_pos);
    if (ids.empty()) active_.erase(key);
  }
  job.error = std::move(error);
  job.finished_at = Clock::now();
  set_state(entry, state);
  const auto& p = job.progress;
  event(job.id, state == JobState::succeeded ? "info" : "warn",
        "job " + std::string(to_string(state)) + ": " + std::to_string(p.fetched) + " fetched, " +
            std::to_string(p.failed) + " failed, " + std::to_string(p.bytes) + " bytes" +
            (job.error.empty() ? "" : " (" + job.error + ")"));
  remember_finished(job.id);
}

void JobManager::set_state(Entry& entry, JobState state) {
  if (!is_allowed_transition(entry.job.state, state)) {
    spdlog::error("job {}: refused transition {} -> {}", entry.job.id, to_string(entry.job.state), to_string(state));
    return;
  }
  entry.job.state = state;
  for (auto* observer : observers_) observer->job_changed(entry.job);
}

void JobManager::remember_finished(const std::string& id) {
  finished_.push_back(id);
  // Finished jobs are kept up to the history bound; the database keeps all.
  while (finished_.size() > config_.history) {
    std::string oldest = finished_.front();
    auto it = entries_.find(oldest);
    if (it != entries_.end() && it->second->watchdog_active) break;  // its watchdog is still unwinding
    finished_.pop_front();
    if (it != entries_.end()) {
      order_.erase(it->second->order_pos);
      entries_.erase(it);
    }
  }
}

CancelStatus JobManager::cancel(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return CancelStatus::not_found;
  Entry& entry = *it->second;
  if (is_terminal(entry.job.state)) return CancelStatus::already_ended;
  entry.job.stop_reason = StopReason::user_request;
  if (entry.job.state == JobState::queued) {
    std::erase(queue_, id);
    event(id, "info", "cancelled by operator before it started");
    finish(entry, JobState::cancelled, "cancelled by operator");
    start_eligible();
    return CancelStatus::requested;
  }
  event(id, "info", "cancellation requested by operator");
  entry.control->stop_requested = true;
  entry.crawl_signal.emit(asio::cancellation_type::terminal);
  return CancelStatus::requested;
}

const Job* JobManager::find(const std::string& id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return nullptr;
  Entry& entry = *it->second;
  if (entry.crawl_active && entry.control) entry.job.progress = entry.control->progress;
  return &entry.job;
}

std::vector<const Job*> JobManager::list(std::optional<JobState> state, std::size_t limit) const {
  std::vector<const Job*> jobs;
  for (auto it = order_.rbegin(); it != order_.rend() && jobs.size() < limit; ++it) {
    const Job* job = find(*it);
    if (job != nullptr && (!state || job->state == *state)) jobs.push_back(job);
  }
  return jobs;
}

std::map<JobState, std::size_t> JobManager::counts() const {
  std::map<JobState, std::size_t> counts;
  for (auto state : all_job_states) counts[state] = 0;
  for (const auto& [id, entry] : entries_) ++counts[entry->job.state];
  return counts;
}

void JobManager::event(const std::string& id, std::string_view level, const std::string& message) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (level == "warn" || level == "error") {
    spdlog::warn("job {}: {}", id, message);
  } else {
    spdlog::info("job {}: {}", id, message);
  }
  for (auto* observer : observers_) observer->job_event(it->second->job, level, message);
}

void JobManager::tick_progress() {
  if (running_ == 0) {
    progress_timer_armed_ = false;
    return;
  }
  progress_timer_armed_ = true;
  progress_timer_.expires_after(1s);
  progress_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      progress_timer_armed_ = false;
      return;
    }
    for (auto& [id, entry] : entries_) {
      if (!entry->crawl_active || !entry->control) continue;
      entry->job.progress = entry->control->progress;
      for (auto* observer : observers_) observer->job_progress(entry->job);
    }
    tick_progress();
  });
}

asio::awaitable<void> JobManager::shutdown(std::chrono::milliseconds grace) {
  shutting_down_ = true;
  while (!queue_.empty()) {
    std::string id = queue_.front();
    queue_.pop_front();
    Entry& entry = *entries_.at(id);
    entry.job.stop_reason = StopReason::shutdown;
    finish(entry, JobState::interrupted, "interrupted: the service stopped before the job started");
  }
  asio::steady_timer timer(ioc_);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (running_ > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(20ms);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  for (auto& [id, entry] : entries_) {
    if (!entry->crawl_active) continue;
    entry->job.stop_reason = StopReason::shutdown;
    entry->control->stop_requested = true;
    event(id, "warn", "service stopping: cancelling the crawl");
    entry->crawl_signal.emit(asio::cancellation_type::terminal);
  }
  auto hard_deadline = std::chrono::steady_clock::now() + 1s;
  while ((running_ > 0 || std::any_of(entries_.begin(), entries_.end(),
                                      [](const auto& e) { return e.second->watchdog_active; })) &&
         std::chrono::steady_clock::now() < hard_deadline) {
    timer.expires_after(10ms);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  progress_timer_.cancel();
}

}  // namespace crawld::jobs
