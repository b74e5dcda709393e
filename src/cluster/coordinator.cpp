#include "crawld/cluster/coordinator.hpp"

#include "crawld/store/notifications.hpp"
#include "crawld/store/store.hpp"
#include "crawld/util/unavailable.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace crawld::cluster {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using jobs::CancelStatus;
using jobs::SubmitResult;
using jobs::SubmitStatus;

namespace {

std::chrono::milliseconds ms(std::uint32_t value) { return std::chrono::milliseconds(value); }

// The crawl a job asks for, as the database's duplicate check sees it
// (the target name last: it may hold any character).
std::string dedup_key(const jobs::JobParams& params) {
  return std::to_string(params.season) + (params.deep ? "|deep|" : "|shallow|") + params.target;
}

}  // namespace

Coordinator::Coordinator(asio::io_context& ioc, const Config& config, jobs::JobService& jobs, store::Store& store)
    : ioc_(ioc),
      config_(config),
      jobs_(jobs),
      store_(store),
      repository_(store.enable_cluster(config.cluster)),
      claim_timer_(ioc),
      beat_timer_(ioc),
      maintenance_timer_(ioc),
      // A group's statement is bounded by statement_timeout; a little more
      // for the group ahead of it.
      accept_(ioc, repository_, config.jobs.max_queued, 2 * ms(config.database.statement_timeout_ms) + 1s,
              [this](asio::awaitable<void> task) { spawn(std::move(task)); }),
      settling_(ioc),
      loops_(ioc) {
  store.on_end_written([this](const std::string& id, std::uint32_t attempt) { end_written(id, attempt); });
  store::NotificationListener::Handlers handlers;
  handlers.jobs = [this] { wake_claims(); };
  // A job ended elsewhere: that frees no slot here. A claim is worth its
  // round trip when something may be queued (as after a slot frees here),
  // and always with on_duplicate: queue, where the end may make a queued
  // copy of the crawl eligible that the last claim had to skip.
  handlers.ended = [this] {
    if (config_.jobs.on_duplicate == "queue") {
      wake_claims();
    } else {
      slot_freed();
    }
  };
  handlers.cancel = [this](const std::string& id) {
    if (held_.contains(id)) {
      spdlog::info("cluster: job {}: cancel requested (notification)", id);
      jobs_.stop_local(id, jobs::StopReason::user_request);
    }
  };
  handlers.connected = [this] {
    // Missed while nobody listened: cancels (the heartbeat reports them) and
    // queued jobs.
    wake_heartbeat();
    wake_claims();
  };
  listener_ = std::make_unique<store::NotificationListener>(ioc, config.database.url,
                                                            "crawld listen " + repository_.instance_id(), handlers);
}

Coordinator::~Coordinator() {
  // Before the gates the held attempts' holders point at go.
  held_.clear();
}

void Coordinator::spawn(asio::awaitable<void> task) {
  loops_.enter();
  asio::co_spawn(ioc_, std::move(task), [this](std::exception_ptr error) {
    loops_.leave();
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("cluster: a background task ended: {}", e.what());
    }
  });
}

void Coordinator::start() {
  jobs_.set_shared_queue(this);
  spawn(run());
}

asio::awaitable<void> Coordinator::run() {
  // Registration: waits for the database (migrated), refuses a duplicate id.
  while (!stopping_) {
    try {
      co_await repository_.register_instance(config_.jobs.max_running);
      break;
    } catch (const store::InstanceConflict& conflict) {
      spdlog::critical("cluster: {}", conflict.what());
      if (fatal_) fatal_(conflict.what());
      co_return;
    } catch (const std::exception& error) {
      spdlog::debug("cluster: not registered yet: {}", error.what());
    }
    maintenance_timer_.expires_after(200ms);
    co_await maintenance_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (stopping_) co_return;
  // What this instance id held when its last process stopped is nobody's
  // now: that process is gone (this one holds the id).
  for (int tries = 0; tries < 50 && !stopping_; ++tries) {
    try {
      auto rescue = co_await repository_.rescue(true, config_.jobs.idempotency_ttl_s);
      const auto& rescued = rescue.jobs;
      for (const auto& job : rescued) {
        spdlog::warn("cluster: job {} (attempt {}) was running here when this instance last stopped: {}", job.id,
                     job.attempt, job.state);
      }
      counters_.rescues += rescued.size();
      break;
    } catch (const std::exception& error) {
      spdlog::warn("cluster: start-up rescue failed, retrying: {}", error.what());
    }
    maintenance_timer_.expires_after(200ms);
    co_await maintenance_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  registered_ = true;
  spdlog::info("cluster: instance {} registered ({} slots, lease {} ms, heartbeat {} ms)", repository_.instance_id(),
               config_.jobs.max_running, config_.cluster.lease_ms, config_.cluster.heartbeat_ms);
  listener_->start();
  spawn(claim_loop());
  spawn(heartbeat_loop());
  spawn(maintenance_loop());
}

// --- accept -----------------------------------------------------------------

asio::awaitable<SubmitResult> Coordinator::submit(jobs::Job job) {
  if (draining_) co_return SubmitResult{SubmitStatus::shutting_down, std::nullopt};
  auto answer = co_await accept(job);
  switch (answer.outcome) {
    case store::SubmitOutcome::claimed: co_return SubmitResult{SubmitStatus::created, start_accepted(std::move(job))};
    case store::SubmitOutcome::created: co_return SubmitResult{SubmitStatus::created, std::move(job)};
    case store::SubmitOutcome::queue_full: co_return SubmitResult{SubmitStatus::queue_full, std::nullopt};
    case store::SubmitOutcome::mismatch: co_return SubmitResult{SubmitStatus::idempotency_mismatch, std::nullopt};
    case store::SubmitOutcome::replayed:
    case store::SubmitOutcome::duplicate: break;
  }
  auto known = co_await jobs_.find(answer.job_id);
  auto status = answer.outcome == store::SubmitOutcome::replayed ? SubmitStatus::replayed : SubmitStatus::duplicate;
  co_return SubmitResult{status, std::move(known)};
}

// The job joins a group commit. With a free slot here it is claimed as it
// is stored (no claim round trip, nothing for the others to look for); the
// slot is kept for it meanwhile. Not with "queue": whether the same crawl
// runs elsewhere is the claim's to check.
asio::awaitable<store::SubmitAnswer> Coordinator::accept(const jobs::Job& job) {
  store::SubmitRow row;
  row.dedup_key = config_.jobs.on_duplicate == "reject" ? dedup_key(job.params) : std::string();
  row.job = job;
  row.claim = registered_ && config_.jobs.on_duplicate != "queue" && busy() < config_.jobs.max_running;
  if (row.claim) {
    auto& held = held_.try_emplace(job.id).first->second;
    held.reserved = true;
    held.covered = Steady::now();  // the commit gives the lease its whole length after this
  }
  try {
    auto answer = co_await accept_.submit(std::move(row));
    keep_reserved(job.id, answer.outcome == store::SubmitOutcome::claimed);
    co_return answer;
  } catch (...) {
    keep_reserved(job.id, false);
    throw;
  }
}

// The slot kept for a job being accepted: its attempt 1 now, or free again.
void Coordinator::keep_reserved(const std::string& id, bool claimed) {
  auto it = held_.find(id);
  if (it == held_.end() || !it->second.reserved) return;
  if (claimed) {
    it->second.reserved = false;
    it->second.attempt = 1;
    return;
  }
  forget(it);
  slot_freed();
}

// The job as its commit made it: running here, attempt 1, its deadline its
// whole timeout from now. Claimed while the stop began: handed back.
std::optional<jobs::Job> Coordinator::start_accepted(jobs::Job job) {
  job.state = jobs::JobState::running;
  job.attempt = 1;
  job.instance_id = repository_.instance_id();
  job.started_at = jobs::Clock::now();
  if (draining_) {
    spawn(settle(job, util::Gate::Holder(settling_)));
    return job;
  }
  ++counters_.claims;
  if (claimed_) claimed_(std::chrono::duration<double>(jobs::Clock::now() - job.created_at).count());
  std::string id = job.id;
  auto time_left = std::chrono::seconds(job.params.timeout_s);
  jobs_.adopt(std::move(job), time_left);
  return jobs_.find_local(id);
}

// --- cancel -----------------------------------------------------------------

asio::awaitable<CancelStatus> Coordinator::cancel(std::string id) {
  // A named result, not a co_await in the switch: GCC 12 mishandles that.
  auto outcome = co_await repository_.cancel(std::move(id));
  switch (outcome) {
    case store::ClusterCancel::cancelled:
    case store::ClusterCancel::requested: co_return CancelStatus::requested;
    case store::ClusterCancel::ended: co_return CancelStatus::already_ended;
    case store::ClusterCancel::not_found: break;
  }
  co_return CancelStatus::not_found;
}

// --- claims -----------------------------------------------------------------

void Coordinator::slot_freed() {
  if (queue_hint_) wake_claims();
}

void Coordinator::wake_claims() {
  queue_hint_ = true;
  claim_wanted_ = true;
  claim_timer_.cancel();
}

asio::awaitable<void> Coordinator::claim_loop() {
  while (!stopping_) {
    if (claim_wanted_ && !draining_) {
      claim_wanted_ = false;
      co_await claim_once();
    }
    if (stopping_) break;
    if (claim_wanted_ && !draining_) continue;
    // Woken by a notification, a free slot, or the maintenance tick (the
    // poll, every cluster.poll_ms).
    claim_timer_.expires_at(Steady::time_point::max());
    co_await claim_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Coordinator::claim_once() {
  std::size_t slots = config_.jobs.max_running;
  if (busy() >= slots) co_return;
  std::vector<store::ClaimedJob> claimed;
  std::size_t asked = slots - busy();
  // Kept for the claim while it runs: an accept meanwhile queues its job
  // instead of claiming a slot this claim may also fill.
  claiming_ = asked;
  const auto sent = Steady::now();  // each claimed lease runs lease_ms from later than this
  try {
    claimed = co_await repository_.claim(asked, config_.jobs.on_duplicate == "queue");
  } catch (const std::exception& error) {
    claiming_ = 0;
    spdlog::debug("cluster: claim failed: {}", error.what());
    co_return;
  }
  claiming_ = 0;
  std::size_t adopted = 0;
  for (auto& c : claimed) {
    if (held_.contains(c.job.id) || jobs_.runs_locally(c.job.id)) {
      // An earlier attempt of this job is still here: its lease ran out and
      // the job was queued again before this instance noticed or before its
      // crawl had wound down. That attempt is over; the new one cannot run
      // beside it and goes back to the queue, uncounted, for a later claim.
      lose(c.job.id, "the database gave this instance a newer attempt of it");
      spawn(hand_back(std::move(c.job)));
      continue;
    }
    ++adopted;
    if (stopping_ || draining_) {
      // Claimed while the stop began: handed straight back.
      hold(c.job.id, c.job.attempt, sent);
      spawn(settle(std::move(c.job), util::Gate::Holder(settling_)));
      continue;
    }
    ++counters_.claims;
    if (claimed_) {
      claimed_(std::chrono::duration<double>(jobs::Clock::now() - c.job.created_at).count());
    }
    hold(c.job.id, c.job.attempt, sent);
    jobs_.adopt(std::move(c.job), c.time_left);
  }
  // Fewer than asked for: nothing is left queued (until a notification or
  // the poll says otherwise). All of them: there may be more.
  if (claimed.size() < asked) queue_hint_ = false;
  if (adopted > 0 && busy() < slots) claim_wanted_ = true;
}

asio::awaitable<void> Coordinator::hand_back(jobs::Job job) {
  spdlog::warn("cluster: job {} (attempt {}): an earlier attempt of it is still stopping here: handed back",
               job.id, job.attempt);
  try {
    std::string why = "handed back to the queue by " + repository_.instance_id() +
                      ": an earlier attempt of it was still stopping there";
    co_await repository_.release(job, std::move(why));
  } catch (const std::exception& error) {
    spdlog::warn("cluster: job {}: could not be handed back ({}): it is queued again when its lease runs out",
                 job.id, error.what());
  }
}

// --- stop -------------------------------------------------------------------

void Coordinator::drain() {
  draining_ = true;
  wake_heartbeat();  // the instance's row says it stops
}

asio::awaitable<void> Coordinator::shutdown(std::chrono::milliseconds timeout) {
  draining_ = true;
  co_await settling_.wait(timeout);
  stopping_ = true;
  claim_timer_.cancel();
  beat_timer_.cancel();
  maintenance_timer_.cancel();
  listener_->stop();
  co_await loops_.wait(ms(config_.cluster.lease_ms) + 1s);
}

// --- status -----------------------------------------------------------------

asio::awaitable<ClusterStatus> Coordinator::status() {
  ClusterStatus status;
  status.instances = co_await repository_.instances();
  status.counts = co_await repository_.counts();
  counters_.queue_depth = status.counts.queued;
  co_return status;
}

ClusterCounters Coordinator::counters() const {
  ClusterCounters c = counters_;
  c.notify_reconnects = listener_->reconnects();
  return c;
}

}  // namespace crawld::cluster
