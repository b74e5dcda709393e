// What the API calls: submit, find, list, cancel, and the service's counts.
//
// JobService ties the units of jobs/ together: Admission decides what is
// taken and when it may start, JobRunner runs it, RecentJobs holds what this
// process knows, and JobHistory (the database, when there is one) answers
// for everything else, so handlers never merge memory and database
// themselves. Observers (the store, metrics) hear of every change. All on
// the loop.
#pragma once

#include "crawld/config.hpp"
#include "crawld/jobs/admission.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/jobs/job_history.hpp"
#include "crawld/jobs/job_observer.hpp"
#include "crawld/jobs/job_runner.hpp"
#include "crawld/jobs/recent_jobs.hpp"
#include "crawld/jobs/shared_queue.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace crawld::jobs {

struct CancelResult {
  CancelStatus status = CancelStatus::not_found;
  std::optional<Job> job;  // as it is now (not_found: empty)
};

// Jobs in memory merged with the history, newest first. When the history
// cannot answer, the jobs in memory and `unavailable` says why.
struct JobList {
  std::vector<Job> jobs;
  std::optional<std::string> unavailable;
};

class JobService final : public RunListener {
 public:
  JobService(boost::asio::io_context& ioc, JobsConfig config, CrawlFunction crawl, std::string instance_id = {});
  ~JobService() override;
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  void add_observer(JobObserver* observer) { observers_.push_back(observer); }
  // Where jobs not in memory are found (null: nowhere).
  void set_history(JobHistory* history) { history_ = history; }
  // Cluster mode: jobs are accepted into, and claimed from, the shared queue.
  void set_shared_queue(SharedQueue* queue) { shared_ = queue; }
  bool shared() const { return shared_ != nullptr; }

  // Standalone: decided and answered at once.
  SubmitResult submit(JobParams params, const std::string& idempotency_key = {});
  // Cluster mode: answered once the shared queue has the job committed.
  boost::asio::awaitable<SubmitResult> submit_shared(JobParams params, std::string idempotency_key);
  // Cluster mode: runs a job this instance claimed, for the time left
  // before its deadline.
  void adopt(Job job, std::chrono::milliseconds time_left);
  // Stops a crawl running here (a cancel asked for elsewhere, a lost lease).
  bool stop_local(const std::string& id, StopReason reason) { return runner_.cancel(id, reason); }
  // An attempt of it still runs here (or is winding down): adopt() must wait.
  bool runs_locally(const std::string& id) const { return runner_.has(id); }
  boost::asio::awaitable<CancelResult> cancel(std::string id);

  // From memory only (with live progress), or nullopt.
  std::optional<Job> find_local(const std::string& id) const;
  // From memory, else from the history. Throws util::Unavailable when only
  // the history could answer and it cannot.
  boost::asio::awaitable<std::optional<Job>> find(std::string id);
  boost::asio::awaitable<JobList> list(std::optional<JobState> state, std::size_t limit);
  // This process's running jobs, newest first.
  std::vector<Job> running_jobs() const;

  std::map<JobState, std::size_t> counts() const { return recent_.counts(); }
  std::size_t running() const { return runner_.running(); }
  std::size_t queued() const { return admission_.queued(); }
  const JobsConfig& config() const { return config_; }

  // Graceful stop: queued jobs become interrupted; running crawls get
  // `grace` to finish, then are cancelled and recorded interrupted.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  // Adds a line to the job's own log (through the observers).
  void event(const std::string& id, std::string_view level, const std::string& message);
  // The same for what the crawl reports, at most jobs.max_events_per_job of
  // them per job; the rest are counted, and the count is an event at its end.
  void crawl_event(const std::string& id, std::string_view level, const std::string& message);

  // RunListener (from the runner).
  void run_event(const std::string& id, std::string_view level, const std::string& message) override;
  void run_ended(RunEnd end) override;

 private:
  Job snapshot(const Job& job) const;
  void start_eligible();
  void launch(Job& job);
  // The job ended: its state, its event, and it leaves Admission; finish
  // then hands it to the bounded history (which may forget it at once).
  void conclude(Job& job, const Outcome& outcome);
  void finish(Job& job, const Outcome& outcome);
  void set_state(Job& job, JobState state);
  void tick_progress();

  boost::asio::io_context& ioc_;
  JobsConfig config_;
  std::string instance_id_;
  std::vector<JobObserver*> observers_;
  JobHistory* history_ = nullptr;
  SharedQueue* shared_ = nullptr;
  Admission admission_;
  RecentJobs recent_;
  JobRunner runner_;
  bool shutting_down_ = false;
  boost::asio::steady_timer progress_timer_;
  bool progress_timer_armed_ = false;
};

}  // namespace crawld::jobs
