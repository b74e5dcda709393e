// Cluster mode's job queue, as JobService sees it: the jobs live in the
// database, shared by every instance (src/cluster implements it). The
// service hands it what would otherwise be decided in this process: the
// accept, the cancel, and what becomes of a run that ended.
#pragma once

#include "crawld/jobs/job.hpp"
#include "crawld/jobs/job_runner.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace crawld::jobs {

enum class SubmitStatus { created, replayed, duplicate, queue_full, idempotency_mismatch, shutting_down };

struct SubmitResult {
  SubmitStatus status = SubmitStatus::created;
  // created/replayed: the job (replayed: empty when it is no longer known);
  // duplicate: the active one.
  std::optional<Job> job;
};

enum class CancelStatus {
  requested,      // a queued job was cancelled, or a running one is being stopped
  already_ended,  // the job is in a final state
  not_here,       // the job is active, but not in this process
  not_found,
};

class SharedQueue {
 public:
  virtual ~SharedQueue() = default;
  // Durable accept: answers once the queued row is committed (or refused);
  // throws util::Unavailable when the database cannot say in time.
  virtual boost::asio::awaitable<SubmitResult> submit(Job job) = 0;
  // Records the cancel wherever the job runs; a queued job is cancelled at once.
  virtual boost::asio::awaitable<CancelStatus> cancel(std::string id) = 0;
  // A claimed job's run ended. True: the service records its end, then
  // calls ended() so that the queue commits it. False: the attempt is not
  // this instance's to end (its lease was lost, or a planned stop hands it
  // back): the service forgets the job without recording anything.
  virtual bool owns_end(const Job& job, const RunEnd& end) = 0;
  virtual void ended(const Job& job) = 0;
};

}  // namespace crawld::jobs
