// Cluster mode: this instance's part in the shared job queue.
//
// The coordinator is the JobService's SharedQueue. It
//  - accepts jobs durably, in groups (GroupCommit); with a free slot, a job
//    is claimed by the instance that accepts it, in the same transaction;
//  - claims queued jobs when it has free slots (woken by NOTIFY, polling
//    every cluster.poll_ms as the backstop) and hands them to the service;
//  - renews the leases of the attempts it holds every cluster.heartbeat_ms,
//    and stops a crawl at once when its lease is lost, or when the
//    heartbeat finds a cancel for it;
//  - stops a crawl when a cancel arrives on its LISTEN connection, and
//    polls again after every reconnection, so a cancel sent meanwhile is
//    not lost;
//  - rescues expired leases (one instance at a time does maintenance);
//  - renews an attempt's lease until its final snapshot is committed,
//    fenced, after all its rows; a planned stop hands unfinished attempts
//    back to the queue.
// All on the loop.
#pragma once

#include "crawld/config.hpp"
#include "crawld/cluster/group_commit.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/jobs/shared_queue.hpp"
#include "crawld/store/cluster_repository.hpp"
#include "crawld/util/condition.hpp"
#include "crawld/util/gate.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crawld::store {
class Store;
class NotificationListener;
}  // namespace crawld::store

namespace crawld::cluster {

// What /status and /metrics show of the cluster.
struct ClusterStatus {
  std::vector<store::InstanceRecord> instances;
  store::ClusterCounts counts;
};

struct ClusterCounters {
  std::uint64_t claims = 0;
  std::uint64_t rescues = 0;
  std::uint64_t lost_leases = 0;
  std::uint64_t notify_reconnects = 0;
  std::uint64_t queue_depth = 0;  // queued jobs cluster-wide, as last seen
};

class Coordinator final : public jobs::SharedQueue {
 public:
  Coordinator(boost::asio::io_context& ioc, const Config& config, jobs::JobService& jobs, store::Store& store);
  ~Coordinator() override;
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Called when the instance cannot take part (its id is in use elsewhere).
  void on_fatal(std::function<void(const std::string&)> fatal) { fatal_ = std::move(fatal); }
  // Called with the insert-to-claim latency of every claim (seconds).
  void on_claim(std::function<void(double)> claimed) { claimed_ = std::move(claimed); }

  // Webhook deliveries of the changes the database makes alone (set before start).
  void on_database_changes(store::ClusterRepository::DatabaseChanges changes) {
    repository_.on_database_changes(std::move(changes));
  }

  // Registers the instance (retrying until the database is there), rescues
  // what this instance id left running, then claims, beats and listens.
  void start();
  // Planned stop, first step: no more claims; the instance says it stops.
  void drain();
  // Last step: waits until every attempt's end is committed or handed back
  // (at most `timeout`), then stops the loops.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds timeout);

  // SharedQueue.
  boost::asio::awaitable<jobs::SubmitResult> submit(jobs::Job job) override;
  boost::asio::awaitable<jobs::CancelStatus> cancel(std::string id) override;
  bool owns_end(const jobs::Job& job, const jobs::RunEnd& end) override;
  void ended(const jobs::Job& job) override;

  boost::asio::awaitable<ClusterStatus> status();
  ClusterCounters counters() const;
  std::size_t held() const { return held_.size(); }

 private:
  struct Held {
    std::uint32_t attempt = 0;
    bool lost = false;
    bool reserved = false;  // a slot kept for a job being accepted (claimed with its commit)
    // Sent before the claim, accept or heartbeat that last showed its lease
    // with renew_within_ms or more to run: the attempt is given up
    // give_up_ms after this unless a heartbeat gets through meanwhile.
    std::chrono::steady_clock::time_point covered;
    std::optional<util::Gate::Holder> ending;  // ended; its final snapshot not yet committed
  };

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> claim_loop();
  boost::asio::awaitable<void> heartbeat_loop();
  boost::asio::awaitable<void> maintenance_loop();
  boost::asio::awaitable<void> settle(jobs::Job job, util::Gate::Holder settling);
  // Hands a claimed attempt straight back to the queue, uncounted.
  boost::asio::awaitable<void> hand_back(jobs::Job job);
  void end_written(const std::string& id, std::uint32_t attempt);
  boost::asio::awaitable<store::SubmitAnswer> accept(const jobs::Job& job);
  void keep_reserved(const std::string& id, bool claimed);
  std::optional<jobs::Job> start_accepted(jobs::Job job);
  std::size_t busy() const;
  // A claimed attempt, its lease running from later than `covered`.
  void hold(const std::string& id, std::uint32_t attempt, std::chrono::steady_clock::time_point covered);
  // Drops a held attempt (keeping ending_ right).
  void forget(std::map<std::string, Held>::iterator it);
  boost::asio::awaitable<void> claim_once();
  boost::asio::awaitable<void> beat_once();
  void lose(const std::string& id, const char* why);
  // Gives up the attempts whose cut-off (covered + give_up_ms) is `now` or
  // earlier; the earliest cut-off of the others.
  std::chrono::steady_clock::time_point give_up_overdue(std::chrono::steady_clock::time_point now);
  void wake_claims();
  // A slot came free: a claim, if something may be queued.
  void slot_freed();
  void wake_heartbeat();
  void spawn(boost::asio::awaitable<void> task);

  boost::asio::io_context& ioc_;
  const Config& config_;
  jobs::JobService& jobs_;
  store::Store& store_;
  store::ClusterRepository& repository_;
  std::unique_ptr<store::NotificationListener> listener_;
  std::function<void(const std::string&)> fatal_;
  std::function<void(double)> claimed_;

  std::map<std::string, Held> held_;
  std::size_t ending_ = 0;  // entries of held_ whose crawl ended (busy() without a walk over held_)
  std::size_t claiming_ = 0;  // slots asked for by the claim in flight (an accept meanwhile cannot take them)
  bool registered_ = false;
  bool draining_ = false;
  bool stopping_ = false;
  bool claim_wanted_ = true;
  bool queue_hint_ = true;  // something may be queued: false after a claim found less than it asked for
  bool beat_wanted_ = false;
  boost::asio::steady_timer claim_timer_;
  boost::asio::steady_timer beat_timer_;
  boost::asio::steady_timer maintenance_timer_;

  GroupCommit accept_;
  util::Gate settling_;  // attempts' ends being committed or handed back
  util::Gate loops_;     // every coroutine the coordinator spawned
  ClusterCounters counters_;
};

}  // namespace crawld::cluster
