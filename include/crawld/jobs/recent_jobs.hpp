// The jobs this process holds in memory: every queued and running one, and
// the newest finished ones up to jobs.history (the database keeps them all).
// A plain container on the loop; JobService decides what goes in.
#pragma once

#include "crawld/jobs/job.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <deque>
#include <list>
#include <map>
#include <string>
#include <unordered_map>

namespace crawld::jobs {

class RecentJobs {
 public:
  explicit RecentJobs(std::size_t history) : history_(history) {}

  // Adds a job as the newest; returns the kept one.
  Job& add(Job job);
  Job* get(const std::string& id);
  const Job* get(const std::string& id) const;
  // The job ended: it now counts towards the history bound, and the oldest
  // finished jobs beyond it are forgotten.
  void finished(const std::string& id);
  // Every change of a kept job's state goes through here (counts() keeps
  // count as it goes: /status reads it on every request).
  void set_state(Job& job, JobState state);
  // Drops a job at once (cluster mode: its attempt is no longer this process's).
  void forget(const std::string& id);

  // Calls visit(job) newest first until it returns false.
  template <class Visit>
  void newest_first(Visit visit) const {
    // Not views::reverse: clang 14 (clang-tidy) cannot read libstdc++ 12's.
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {  // NOLINT(modernize-loop-convert)
      if (!visit(jobs_.at(*it).job)) return;
    }
  }
  std::map<JobState, std::size_t> counts() const;
  // Where a kept job stands in the order of adding (higher: newer; 0: not kept).
  std::uint64_t added(const std::string& id) const;
  std::size_t size() const { return jobs_.size(); }

 private:
  struct Kept {
    Job job;
    std::list<std::string>::iterator position;  // in order_
    std::uint64_t added = 0;
  };
  static std::size_t index(JobState state) { return static_cast<std::size_t>(state); }
  std::size_t history_;
  std::uint64_t last_added_ = 0;
  std::array<std::size_t, std::size(all_job_states)> counts_{};  // by state
  std::unordered_map<std::string, Kept> jobs_;
  std::list<std::string> order_;      // creation order, oldest first
  std::deque<std::string> finished_;  // finished ids, oldest first
};

}  // namespace crawld::jobs
