// Cluster mode's commands on the shared job table: durable accept in groups,
// claims, leases and fencing, rescue, cancel from any instance, and the
// instances' own rows. Each one is a prepared statement run on a pool of
// its own (the heartbeat on a connection nothing else uses, so it never
// waits behind page batches), awaited with a timeout like JobRepository's.
//
// The instance's identity is held as a session advisory lock on the
// heartbeat connection: a second live process with the same instance_id
// cannot get it, and a crashed one's lock goes with its connection.
#pragma once

#include "crawld/config.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/webhooks/outbox.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace crawld::store {

class DbPool;
class DatabaseHealth;

// Another live process holds this instance_id.
struct InstanceConflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One POST /start of a group commit.
struct SubmitRow {
  jobs::Job job;
  std::string dedup_key;  // empty: no cluster-wide duplicate check
  bool claim = false;     // this instance has a slot for it: claimed as it is stored
};
// created: queued; claimed: running here (attempt 1, its lease and deadline
// started with the commit).
enum class SubmitOutcome { created, claimed, replayed, duplicate, mismatch, queue_full };
struct SubmitAnswer {
  SubmitOutcome outcome = SubmitOutcome::created;
  std::string job_id;  // created, claimed, replayed, mismatch: the job; duplicate: the active one
};

struct ClaimedJob {
  jobs::Job job;  // running, owned by this instance, attempt counted
  std::chrono::milliseconds time_left{0};  // until the deadline set on the first claim
};

// What a heartbeat learnt about the attempts it renewed.
struct Heartbeat {
  std::vector<std::string> kept;              // leases renewed
  std::vector<std::string> cancel_requested;  // among them, cancels asked for
};
using HeldAttempt = std::pair<std::string, std::uint32_t>;  // job id, attempt

struct RescuedJob {
  std::string id;
  std::string state;  // queued, interrupted or cancelled
  std::string previous_owner;
  std::uint32_t attempt = 0;
};

struct InstanceRecord {
  std::string id;
  std::string version;
  jobs::Clock::time_point started_at{};
  jobs::Clock::time_point heartbeat_at{};
  std::uint32_t slots = 0;
  std::uint32_t running = 0;
  bool stopping = false;
};

struct ClusterCounts {
  std::uint64_t queued = 0;
  std::uint64_t running = 0;
};

enum class ClusterCancel { cancelled, requested, ended, not_found };

// How long a cluster instance's session may sit idle inside a transaction
// before the server ends it (and its row locks): a fraction of the lease.
std::uint32_t idle_in_transaction_ms(const ClusterConfig& cluster);

class ClusterRepository {
 public:
  ClusterRepository(boost::asio::io_context& ioc, const DatabaseConfig& database, const ClusterConfig& cluster,
                    const DatabaseHealth& health, std::string instance_id);
  ~ClusterRepository();
  ClusterRepository(const ClusterRepository&) = delete;
  ClusterRepository& operator=(const ClusterRepository&) = delete;

  const std::string& instance_id() const { return instance_id_; }

  // Webhook deliveries of the changes the database makes without an owner
  // recording them (a job accepted into the queue, a queued job cancelled,
  // a rescue that ends a job): `make` gives the deliveries of a job's new
  // state and they are inserted in the transaction of the change. It runs
  // on a database thread, so it must read nothing that changes. `written`
  // is called on the loop once such deliveries are committed.
  struct DatabaseChanges {
    std::function<std::vector<webhooks::Delivery>(const jobs::Job&)> make;
    std::function<void()> written;
  };
  void on_database_changes(DatabaseChanges changes) { changes_ = std::move(changes); }

  // Takes the instance id (throws InstanceConflict when a live process has
  // it) and records the instance. Throws StoreUnavailable while the
  // database cannot be reached.
  boost::asio::awaitable<void> register_instance(std::uint32_t slots);

  // One transaction for the whole group, answers in its order.
  boost::asio::awaitable<std::vector<SubmitAnswer>> submit(std::vector<SubmitRow> rows, std::uint32_t max_queued);
  // Up to `slots` jobs, oldest first, in one transaction.
  boost::asio::awaitable<std::vector<ClaimedJob>> claim(std::size_t slots, bool one_per_crawl);
  // Renews the leases of `held` (and the instance's row); the ones not kept
  // are lost. Waits at most `limit`, and never longer than the lease itself:
  // a heartbeat later than that is worthless.
  boost::asio::awaitable<Heartbeat> heartbeat(std::vector<HeldAttempt> held, std::uint32_t slots, bool stopping,
                                              std::chrono::milliseconds limit = std::chrono::milliseconds::max());
  // A planned stop hands the attempt back to the queue (not counted).
  boost::asio::awaitable<bool> release(jobs::Job job, std::string why);
  // Expired leases (and, with `own`, every running job of this instance id),
  // when no other instance is doing maintenance right now.
  // Idempotency keys older than `key_ttl_s` are forgotten on the way. Also
  // says how many jobs are queued (counted up to 100,000).
  struct Rescue {
    std::vector<RescuedJob> jobs;
    std::uint64_t queued = 0;
  };
  boost::asio::awaitable<Rescue> rescue(bool own, std::uint32_t key_ttl_s);
  boost::asio::awaitable<ClusterCancel> cancel(std::string id);

  boost::asio::awaitable<std::vector<InstanceRecord>> instances();
  boost::asio::awaitable<ClusterCounts> counts();

  // Stops the pools (called by the store's close).
  void stop();

 private:
  boost::asio::io_context& ioc_;
  DatabaseConfig database_;
  ClusterConfig cluster_;
  const DatabaseHealth& health_;
  std::string instance_id_;
  std::unique_ptr<DbPool> work_;  // submit, claim, release, rescue, cancel, reads
  std::unique_ptr<DbPool> beat_;  // heartbeats and the instance lock only
  std::atomic<int> locked_pid_{0};  // the server process holding the instance lock
  DatabaseChanges changes_;
};

}  // namespace crawld::store
