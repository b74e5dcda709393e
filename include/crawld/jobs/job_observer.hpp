// Who hears about job changes: the store records them, metrics count them.
//
// All calls happen on the loop. Implementations must not block: the store
// hands the work to its thread pool.
#pragma once

#include "crawld/jobs/job.hpp"

#include <string>
#include <string_view>

namespace crawld::jobs {

class JobObserver {
 public:
  virtual ~JobObserver() = default;
  virtual void job_created(const Job&) {}
  // A state change (including the final one).
  virtual void job_changed(const Job&) {}
  // Cluster mode: this instance claimed the job (now running here).
  virtual void job_adopted(const Job& job) { job_changed(job); }
  // Progress of a running job, at most about once a second.
  virtual void job_progress(const Job&) {}
  // The job's own log: started, watchdog stop, cancel, finish, ...
  virtual void job_event(const Job&, std::string_view level, const std::string& message) {}
};

}  // namespace crawld::jobs
