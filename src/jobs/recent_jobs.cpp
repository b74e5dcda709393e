#include "crawld/jobs/recent_jobs.hpp"

namespace crawld::jobs {

Job& RecentJobs::add(Job job) {
  if (auto old = jobs_.find(job.id); old != jobs_.end()) {
    --counts_[index(old->second.job.state)];
    order_.erase(old->second.position);
    jobs_.erase(old);
  }
  std::string id = job.id;
  ++counts_[index(job.state)];
  auto position = order_.insert(order_.end(), id);
  auto [it, inserted] = jobs_.insert_or_assign(std::move(id), Kept{std::move(job), position, ++last_added_});
  return it->second.job;
}

std::uint64_t RecentJobs::added(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? 0 : it->second.added;
}

void RecentJobs::set_state(Job& job, JobState state) {
  --counts_[index(job.state)];
  job.state = state;
  ++counts_[index(state)];
}

Job* RecentJobs::get(const std::string& id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second.job;
}

const Job* RecentJobs::get(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second.job;
}

void RecentJobs::finished(const std::string& id) {
  finished_.push_back(id);
  while (finished_.size() > history_) {
    auto it = jobs_.find(finished_.front());
    finished_.pop_front();
    if (it == jobs_.end()) continue;
    --counts_[index(it->second.job.state)];
    order_.erase(it->second.position);
    jobs_.erase(it);
  }
}

void RecentJobs::forget(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  --counts_[index(it->second.job.state)];
  order_.erase(it->second.position);
  jobs_.erase(it);
}

std::map<JobState, std::size_t> RecentJobs::counts() const {
  std::map<JobState, std::size_t> counts;
  for (auto state : all_job_states) counts[state] = counts_[index(state)];
  return counts;
}

}  // namespace crawld::jobs
