// The coordinator's leases: the heartbeat, a lost lease, rescue by the
// maintenance tick, and the end of an attempt (its final snapshot written,
// or a planned stop's hand-back). Part of Coordinator (coordinator.hpp).
#include "crawld/cluster/coordinator.hpp"

#include "crawld/store/store.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace crawld::cluster {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

std::chrono::milliseconds ms(std::uint32_t value) { return std::chrono::milliseconds(value); }

}  // namespace

void Coordinator::wake_heartbeat() {
  beat_wanted_ = true;
  beat_timer_.cancel();
}

void Coordinator::lose(const std::string& id, const char* why) {
  auto it = held_.find(id);
  if (it == held_.end() || it->second.lost || it->second.reserved) return;
  it->second.lost = true;
  ++counters_.lost_leases;
  spdlog::warn("cluster: job {} (attempt {}): lease lost ({}): stopping its crawl", id, it->second.attempt, why);
  // Nothing it writes lands any more; the crawl is stopped at once.
  if (!jobs_.stop_local(id, jobs::StopReason::shutdown)) forget(it);
}

asio::awaitable<void> Coordinator::heartbeat_loop() {
  while (!stopping_) {
    beat_wanted_ = false;
    co_await beat_once();
    if (stopping_) break;
    if (!beat_wanted_) {
      // The attempts whose leases may be someone else's by now (a failed
      // heartbeat) are stopped instead of working for nothing; the next
      // heartbeat comes no later than the first cut-off of the others.
      auto next = std::min(Steady::now() + ms(config_.cluster.heartbeat_ms), give_up_overdue(Steady::now()));
      beat_timer_.expires_at(next);
      co_await beat_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
}

// Each attempt's lease had renew_within_ms or more to run when the claim,
// accept or heartbeat that last showed it was sent (Held::covered); the
// attempt is given up a little before that runs out (give_up_ms, the
// cut-off), unless a heartbeat gets through. A heartbeat waits no longer
// than the first cut-off: one that hangs (a network that drops everything)
// must not keep the crawls going past the time another instance may rescue
// their jobs.
Steady::time_point Coordinator::give_up_overdue(Steady::time_point now) {
  const auto cutoff = ms(config_.cluster.give_up_ms());
  auto first = Steady::time_point::max();
  std::vector<std::string> overdue;
  for (const auto& [id, held] : held_) {
    if (held.lost || held.reserved) continue;
    if (now - held.covered >= cutoff) {
      overdue.push_back(id);
    } else {
      first = std::min(first, held.covered + cutoff);
    }
  }
  for (const auto& id : overdue) lose(id, "no heartbeat got through while its lease ran");
  return first;
}

asio::awaitable<void> Coordinator::beat_once() {
  const auto sent = Steady::now();
  const auto first_cutoff = give_up_overdue(sent);
  std::vector<store::HeldAttempt> asked;
  for (const auto& [id, held] : held_) {
    if (!held.lost && !held.reserved) asked.emplace_back(id, held.attempt);
  }
  auto limit = ms(config_.cluster.heartbeat_ms);
  if (!asked.empty()) {
    limit = std::max(1ms, std::chrono::duration_cast<std::chrono::milliseconds>(first_cutoff - sent));
  }
  try {
    auto beat = co_await repository_.heartbeat(asked, config_.jobs.max_running, draining_, limit);
    std::set<std::string> kept(beat.kept.begin(), beat.kept.end());
    for (const auto& [id, attempt] : asked) {
      if (!kept.contains(id)) {
        lose(id, "the database no longer gives it to this instance");
      } else if (auto it = held_.find(id); it != held_.end() && it->second.attempt == attempt) {
        it->second.covered = std::max(it->second.covered, sent);
      }
    }
    for (const auto& id : beat.cancel_requested) {
      if (jobs_.stop_local(id, jobs::StopReason::user_request)) {
        spdlog::info("cluster: job {}: cancel requested (heartbeat)", id);
      }
    }
  } catch (const store::InstanceConflict& conflict) {
    spdlog::critical("cluster: {}", conflict.what());
    for (const auto& [id, attempt] : asked) lose(id, "another process took this instance id");
  } catch (const std::exception& error) {
    // heartbeat_loop gives up what is overdue by now before it waits.
    spdlog::warn("cluster: heartbeat failed: {}", error.what());
  }
}

asio::awaitable<void> Coordinator::maintenance_loop() {
  while (!stopping_) {
    maintenance_timer_.expires_after(ms(config_.cluster.poll_ms));
    co_await maintenance_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    try {
      auto rescue = co_await repository_.rescue(false, config_.jobs.idempotency_ttl_s);
      for (const auto& job : rescue.jobs) {
        spdlog::warn("cluster: job {}: the lease of {} on attempt {} ran out: {}", job.id, job.previous_owner,
                     job.attempt, job.state);
      }
      counters_.rescues += rescue.jobs.size();
      counters_.queue_depth = rescue.queued;
      // The poll: a claim, should a notification have been missed.
      if (rescue.queued > 0) wake_claims();
    } catch (const std::exception& error) {
      spdlog::debug("cluster: maintenance failed: {}", error.what());
    }
  }
}

// --- the end of an attempt --------------------------------------------------

bool Coordinator::owns_end(const jobs::Job& job, const jobs::RunEnd& end) {
  auto it = held_.find(job.id);
  if (it == held_.end()) return true;
  if (it->second.lost) {
    forget(it);
    slot_freed();
    return false;
  }
  if (draining_ && end.stop_reason == jobs::StopReason::shutdown) {
    spawn(settle(job, util::Gate::Holder(settling_)));
    return false;
  }
  return true;
}

// The end is the final snapshot the service records: it is written behind,
// fenced, after every row of the attempt (the store sees to the order).
// Until it is committed the lease is renewed; the slot is free at once.
void Coordinator::ended(const jobs::Job& job) {
  auto it = held_.find(job.id);
  if (it == held_.end()) return;
  if (!it->second.ending) ++ending_;
  it->second.ending.emplace(settling_);
  slot_freed();  // its crawl is over
}

// Slots taken: attempts whose crawl has not ended (or is being accepted),
// and those a claim in flight may bring back.
std::size_t Coordinator::busy() const { return held_.size() - ending_ + claiming_; }

void Coordinator::hold(const std::string& id, std::uint32_t attempt, Steady::time_point covered) {
  auto& held = held_.try_emplace(id).first->second;
  held.attempt = attempt;
  held.covered = covered;
}

void Coordinator::forget(std::map<std::string, Held>::iterator it) {
  if (it->second.ending) --ending_;
  held_.erase(it);
}

void Coordinator::end_written(const std::string& id, std::uint32_t attempt) {
  auto it = held_.find(id);
  if (it == held_.end() || it->second.attempt != attempt) return;
  forget(it);
}

// A planned stop hands the attempt back: its rows first, then the job goes
// back to the queue without counting the attempt. The lease is renewed
// meanwhile: the job stays in held_ until this is done.
asio::awaitable<void> Coordinator::settle(jobs::Job job, util::Gate::Holder) {
  auto give_up = Steady::now() + ms(config_.cluster.lease_ms);
  co_await store_.flush(ms(config_.cluster.lease_ms));
  while (true) {
    auto it = held_.find(job.id);
    if (it == held_.end() || it->second.lost) break;
    try {
      std::string why = "handed back to the queue by " + repository_.instance_id() + " (planned stop)";
      if (!co_await repository_.release(job, std::move(why))) {
        spdlog::warn("cluster: job {} (attempt {}): no longer this instance's; not handed back", job.id, job.attempt);
      }
      break;
    } catch (const std::exception& error) {
      if (Steady::now() > give_up) {
        spdlog::error("cluster: job {}: could not be handed back: {}", job.id, error.what());
        break;
      }
    }
    asio::steady_timer pause(ioc_, 200ms);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (auto it = held_.find(job.id); it != held_.end()) forget(it);
}

}  // namespace crawld::cluster
