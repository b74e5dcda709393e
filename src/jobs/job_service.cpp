#include "crawld/jobs/job_service.hpp"

#include "crawld/util/unavailable.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace crawld::jobs {

namespace asio = boost::asio;
using namespace std::chrono_literals;

JobService::JobService(asio::io_context& ioc, JobsConfig config, CrawlFunction crawl, std::string instance_id)
    : ioc_(ioc),
      config_(std::move(config)),
      instance_id_(std::move(instance_id)),
      admission_(config_),
      recent_(config_.history),
      runner_(ioc, std::chrono::milliseconds(config_.hard_kill_grace_ms), std::move(crawl), *this),
      progress_timer_(ioc) {}

JobService::~JobService() = default;

Job JobService::snapshot(const Job& job) const {
  Job copy = job;
  if (auto live = runner_.live(job.id)) {
    copy.progress = live->progress;
    if (live->stop_reason != StopReason::none) copy.stop_reason = live->stop_reason;
  }
  return copy;
}

std::optional<Job> JobService::find_local(const std::string& id) const {
  const Job* job = recent_.get(id);
  if (job == nullptr) return std::nullopt;
  return snapshot(*job);
}

SubmitResult JobService::submit(JobParams params, const std::string& idempotency_key) {
  using Kind = Admission::Verdict::Kind;
  if (shutting_down_) return {SubmitStatus::shutting_down, std::nullopt};
  auto now = std::chrono::steady_clock::now();
  auto verdict = admission_.check(params, idempotency_key, runner_.running(), now);
  switch (verdict.kind) {
    case Kind::replay: return {SubmitStatus::replayed, find_local(verdict.job_id)};
    case Kind::duplicate: return {SubmitStatus::duplicate, find_local(verdict.job_id)};
    case Kind::queue_full: return {SubmitStatus::queue_full, std::nullopt};
    case Kind::idempotency_mismatch: return {SubmitStatus::idempotency_mismatch, std::nullopt};
    case Kind::admit: break;
  }

  Job fresh;
  fresh.id = new_job_id();
  fresh.params = std::move(params);
  fresh.created_at = Clock::now();
  fresh.idempotency_key = idempotency_key;
  fresh.instance_id = instance_id_;
  Job& job = recent_.add(std::move(fresh));
  admission_.accept(job.id, job.params, idempotency_key, now);
  for (auto* observer : observers_) observer->job_created(job);
  event(job.id, "info", "job accepted");
  start_eligible();
  // Still held (only finished jobs are forgotten), and nothing ran yet to
  // have progress: the job as it is.
  return {SubmitStatus::created, job};
}

asio::awaitable<SubmitResult> JobService::submit_shared(JobParams params, std::string idempotency_key) {
  if (shutting_down_) co_return SubmitResult{SubmitStatus::shutting_down, std::nullopt};
  Job fresh;
  fresh.id = new_job_id();
  fresh.params = std::move(params);
  fresh.created_at = Clock::now();
  fresh.idempotency_key = std::move(idempotency_key);
  co_return co_await shared_->submit(std::move(fresh));
}

void JobService::adopt(Job job, std::chrono::milliseconds time_left) {
  // An earlier attempt of it that ran here was handed back or lost.
  recent_.forget(job.id);
  Job& kept = recent_.add(std::move(job));
  for (auto* observer : observers_) observer->job_adopted(kept);
  runner_.start(kept, kept.attempt, time_left);
  if (!progress_timer_armed_) tick_progress();
}

void JobService::start_eligible() {
  while (!shutting_down_) {
    auto id = admission_.next(runner_.running());
    if (!id) return;
    if (Job* job = recent_.get(*id)) launch(*job);
  }
}

void JobService::launch(Job& job) {
  job.started_at = Clock::now();
  job.attempt = 1;
  set_state(job, JobState::running);
  runner_.start(job, job.attempt);
  if (!progress_timer_armed_) tick_progress();
}

void JobService::run_event(const std::string& id, std::string_view level, const std::string& message) {
  event(id, level, message);
}

void JobService::crawl_event(const std::string& id, std::string_view level, const std::string& message) {
  Job* job = recent_.get(id);
  if (job == nullptr) return;
  // A million broken pages must not make a million event rows.
  if (job->crawl_events >= config_.max_events_per_job) {
    ++job->crawl_events_dropped;
    return;
  }
  ++job->crawl_events;
  event(id, level, message);
}

void JobService::run_ended(RunEnd end) {
  if (Job* job = recent_.get(end.id)) {
    job->progress = end.progress;
    job->stop_reason = end.stop_reason;
    if (shared_ == nullptr) {
      finish(*job, end.outcome);
    } else if (shared_->owns_end(*job, end)) {
      conclude(*job, end.outcome);
      shared_->ended(*job);
      recent_.finished(end.id);  // may forget it (jobs.history)
    } else {
      recent_.forget(end.id);
    }
  }
  start_eligible();
  if (runner_.running() == 0) progress_timer_.cancel();  // nothing to report: let the loop go idle
}

void JobService::finish(Job& job, const Outcome& outcome) {
  conclude(job, outcome);
  recent_.finished(job.id);  // may forget it (jobs.history)
}

void JobService::conclude(Job& job, const Outcome& outcome) {
  admission_.ended(job.id);
  job.error = outcome.error;
  job.finished_at = Clock::now();
  set_state(job, outcome.state);
  if (job.crawl_events_dropped > 0) {
    event(job.id, "warn",
          std::to_string(job.crawl_events_dropped) + " more crawl events dropped (jobs.max_events_per_job is " +
              std::to_string(config_.max_events_per_job) + ")");
  }
  const auto& p = job.progress;
  event(job.id, outcome.state == JobState::succeeded ? "info" : "warn",
        "job " + std::string(to_string(outcome.state)) + ": " + std::to_string(p.fetched) + " fetched, " +
            std::to_string(p.failed) + " failed, " + std::to_string(p.bytes) + " bytes" +
            (job.error.empty() ? "" : " (" + job.error + ")"));
}

void JobService::set_state(Job& job, JobState state) {
  if (!is_allowed_transition(job.state, state)) {
    spdlog::error("job {}: refused transition {} -> {}", job.id, to_string(job.state), to_string(state));
    return;
  }
  recent_.set_state(job, state);
  for (auto* observer : observers_) observer->job_changed(job);
}

asio::awaitable<CancelResult> JobService::cancel(std::string id) {
  if (shared_ != nullptr) {
    auto status = co_await shared_->cancel(id);
    // Running here: stopped now, without waiting for the notification.
    if (status == CancelStatus::requested) runner_.cancel(id, StopReason::user_request);
    if (status == CancelStatus::not_found) co_return CancelResult{status, std::nullopt};
    auto now = co_await find(id);
    co_return CancelResult{now ? status : CancelStatus::not_found, std::move(now)};
  }
  Job* job = recent_.get(id);
  if (job == nullptr) {
    // Not in memory: it may be history that only the database keeps, or
    // (in cluster mode) run by another instance.
    auto known = co_await find(id);
    if (!known) co_return CancelResult{CancelStatus::not_found, std::nullopt};
    co_return CancelResult{is_terminal(known->state) ? CancelStatus::already_ended : CancelStatus::not_here,
                           std::move(known)};
  }
  if (is_terminal(job->state)) co_return CancelResult{CancelStatus::already_ended, snapshot(*job)};
  job->stop_reason = StopReason::user_request;
  if (job->state == JobState::queued) {
    admission_.remove_queued(id);
    event(id, "info", "cancelled by operator before it started");
    conclude(*job, {JobState::cancelled, "cancelled by operator"});
    auto result = CancelResult{CancelStatus::requested, snapshot(*job)};
    recent_.finished(id);  // may forget it (jobs.history)
    start_eligible();
    co_return result;
  }
  event(id, "info", "cancellation requested by operator");
  runner_.cancel(id, StopReason::user_request);
  co_return CancelResult{CancelStatus::requested, find_local(id)};
}

asio::awaitable<std::optional<Job>> JobService::find(std::string id) {
  if (auto local = find_local(id)) co_return local;
  if (history_ == nullptr) co_return std::nullopt;
  co_return co_await history_->find(std::move(id));
}

asio::awaitable<JobList> JobService::list(std::optional<JobState> state, std::size_t limit) {
  JobList result;
  std::map<std::string, Job> by_id;
  recent_.newest_first([&](const Job& job) {
    if (!state || job.state == *state) by_id.emplace(job.id, snapshot(job));
    return by_id.size() < limit;
  });
  if (history_ != nullptr) {
    try {
      // Memory is fresher than the history for the jobs it still holds.
      for (auto& job : co_await history_->list(state, limit)) by_id.emplace(job.id, std::move(job));
    } catch (const util::Unavailable& error) {
      result.unavailable = error.what();
    }
  }
  for (auto& [id, job] : by_id) result.jobs.push_back(std::move(job));
  std::sort(result.jobs.begin(), result.jobs.end(), [](const Job& a, const Job& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.id < b.id;
  });
  if (result.jobs.size() > limit) result.jobs.resize(limit);
  co_return result;
}

std::vector<Job> JobService::running_jobs() const {
  // From the runner's few running crawls, not a walk over the whole history.
  // Newest first: in the order they were added, as the history keeps them.
  std::vector<std::pair<std::uint64_t, Job>> found;
  for (const auto& id : runner_.running_ids()) {
    const Job* job = recent_.get(id);
    if (job != nullptr && job->state == JobState::running) found.emplace_back(recent_.added(id), snapshot(*job));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Job> jobs;
  jobs.reserve(found.size());
  for (auto& [added, job] : found) jobs.push_back(std::move(job));
  return jobs;
}

void JobService::event(const std::string& id, std::string_view level, const std::string& message) {
  const Job* job = recent_.get(id);
  if (job == nullptr) return;
  if (level == "warn" || level == "error") {
    spdlog::warn("job {}: {}", id, message);
  } else {
    spdlog::info("job {}: {}", id, message);
  }
  for (auto* observer : observers_) observer->job_event(*job, level, message);
}

void JobService::tick_progress() {
  if (runner_.running() == 0) {
    progress_timer_armed_ = false;
    return;
  }
  progress_timer_armed_ = true;
  progress_timer_.expires_after(1s);
  progress_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      // Cancelled when the last crawl ended; one may have started since.
      progress_timer_armed_ = false;
      if (runner_.running() > 0 && !shutting_down_) tick_progress();
      return;
    }
    for (const auto& id : runner_.running_ids()) {
      Job* job = recent_.get(id);
      if (job == nullptr) continue;
      // The stop under way (deadline, shutdown) is recorded with the progress.
      auto live = runner_.live(id);
      job->progress = live->progress;
      if (live->stop_reason != StopReason::none) job->stop_reason = live->stop_reason;
      for (auto* observer : observers_) observer->job_progress(*job);
    }
    tick_progress();
  });
}

asio::awaitable<void> JobService::shutdown(std::chrono::milliseconds grace) {
  shutting_down_ = true;
  for (const auto& id : admission_.take_queue()) {
    Job* job = recent_.get(id);
    if (job == nullptr) continue;
    job->stop_reason = StopReason::shutdown;
    finish(*job, {JobState::interrupted, "interrupted: the service stopped before the job started"});
  }
  co_await runner_.shutdown(grace);
  progress_timer_.cancel();
}

}  // namespace crawld::jobs
