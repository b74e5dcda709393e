#include "crawld/jobs/recent_jobs.hpp"

namespace crawld::jobs {

Job& RecentJobs::add(Job job) {
  std::string id = job.id;
  auto position = order_.insert(order_.end(), id);
  auto [it, inserted] = jobs_.insert_or_assign(std::move(id), Kept{std::move(job), position});
  return it->second.job;
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
    order_.erase(it->second.position);
    jobs_.erase(it);
  }
}

void RecentJobs::forget(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  order_.erase(it->second.position);
  jobs_.erase(it);
}

std::map<JobState, std::size_t> RecentJobs::counts() const {
  std::map<JobState, std::size_t> counts;
  for (auto state : all_job_states) counts[state] = 0;
  for (const auto& [id, kept] : jobs_) ++counts[kept.job.state];
  return counts;
}

}  // namespace crawld::jobs
