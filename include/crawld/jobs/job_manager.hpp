// Runs crawl jobs on the loop: queue, limits, de-duplication, watchdog.
//
// Each job's crawl is a detached coroutine bound to a cancellation signal the
// manager owns; beside it runs a watchdog coroutine whose timer first asks the
// crawl to stop softly and, after a grace period, emits terminal cancellation
// so every in-flight operation ends at once. The watchdog is cancelled when
// the crawl ends first. Everything here runs on the loop: no locks.
//
// Where a job comes from (the HTTP handler today, a database claim loop
// later), how it runs (this class) and where its state is recorded (the
// observers) are kept apart on purpose.
#pragma once

#include "crawld/config.hpp"
#include "crawld/crawl/crawler.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/jobs/job_observer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace crawld::jobs {

// Runs one job's crawl; supplied by the service (the real crawler) or a test.
using CrawlFunction =
    std::function<boost::asio::awaitable<crawl::CrawlResult>(const Job&, std::shared_ptr<crawl::CrawlControl>)>;

enum class SubmitStatus { created, replayed, duplicate, queue_full, idempotency_mismatch, shutting_down };

struct SubmitResult {
  SubmitStatus status;
  const Job* job = nullptr;  // created/replayed: the job; duplicate: the active one
};

enum class CancelStatus { requested, already_ended, not_found };

class JobManager {
 public:
  JobManager(boost::asio::io_context& ioc, JobsConfig config, CrawlFunction crawl, std::string instance_id = {});
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  void add_observer(JobObserver* observer) { observers_.push_back(observer); }

  SubmitResult submit(JobParams params, const std::string& idempotency_key = {});
  CancelStatus cancel(const std::string& id);

  const Job* find(const std::string& id) const;
  // Newest first.
  std::vector<const Job*> list(std::optional<JobState> state, std::size_t limit) const;
  std::map<JobState, std::size_t> counts() const;
  std::size_t running() const { return running_; }
  std::size_t queued() const { return queue_.size(); }
  const JobsConfig& config() const { return config_; }

  // Graceful stop: queued jobs become interrupted; running crawls get
  // `grace` to finish, then are cancelled and recorded interrupted. Completes
  // when no crawl runs any more.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  // Adds a job event through the observers (used by crawls for their log).
  void event(const std::string& id, std::string_view level, const std::string& message);

 private:
  struct Entry {
    Job job;
    std::shared_ptr<crawl::CrawlControl> control;
    boost::asio::cancellation_signal crawl_signal;
    boost::asio::cancellation_signal watchdog_signal;
    bool crawl_active = false;
    bool watchdog_active = false;
    std::list<std::string>::iterator order_pos;   // its place in order_
    std::list<std::string>::iterator active_pos;  // its place in active_ while queued or running
  };
  using DedupKey = std::tuple<std::string, std::int64_t, bool>;
  static DedupKey dedup_key(const JobParams& params) { return {params.target, params.season, params.deep}; }

  void start_eligible();
  void start(Entry& entry);
  boost::asio::awaitable<crawl::CrawlResult> run_crawl(Entry& entry);
  boost::asio::awaitable<void> watchdog(std::string id, std::chrono::milliseconds timeout);
  void crawl_finished(const std::string& id, std::exception_ptr error, crawl::CrawlResult result);
  void finish(Entry& entry, JobState state, std::string error);
  void set_state(Entry& entry, JobState state);
  void remember_finished(const std::string& id);
  void tick_progress();
  const Job* active_duplicate(const JobParams& params) const;

  boost::asio::io_context& ioc_;
  JobsConfig config_;
  CrawlFunction crawl_;
  std::string instance_id_;
  std::vector<JobObserver*> observers_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
  std::list<std::string> order_;      // creation order, oldest first
  std::deque<std::string> queue_;     // queued ids, FIFO
  std::deque<std::string> finished_;  // finished ids, oldest first (history bound)
  std::map<DedupKey, std::list<std::string>> active_;  // queued or running ids per crawl, oldest first
  struct Idempotency {
    std::string job_id;
    JobParams params;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Idempotency> idempotency_;
  std::size_t running_ = 0;
  bool shutting_down_ = false;
  boost::asio::steady_timer progress_timer_;
  bool progress_timer_armed_ = false;
};

}  // namespace crawld::jobs
