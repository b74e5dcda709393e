// Runs jobs' crawls on the loop: each one a detached coroutine bound to a
// cancellation signal the runner owns, with a watchdog coroutine beside it.
//
// The watchdog's timer first asks the crawl to stop softly (no new fetches)
// and, after jobs.hard_kill_grace_ms, emits terminal cancellation so every
// in-flight operation ends at once; it is cancelled when the crawl ends
// first. Every cancellation carries its reason, which decides the job's end
// state (classify_outcome).
//
// The runner does not know where jobs come from (the local queue, or a
// database claim): start() takes a job and runs it. A gate counts the crawls
// and watchdogs in flight, so shutdown() waits for them instead of polling.
#pragma once

#include "crawld/crawl/crawler.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/jobs/outcome.hpp"
#include "crawld/util/gate.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace crawld::jobs {

// Runs one job's crawl; supplied by the service (the real crawler) or a test.
using CrawlFunction =
    std::function<boost::asio::awaitable<crawl::CrawlResult>(const Job&, std::shared_ptr<crawl::CrawlControl>)>;

// How a run ended, as the runner reports it.
struct RunEnd {
  std::string id;
  std::uint32_t attempt = 1;
  Outcome outcome;
  StopReason stop_reason = StopReason::none;
  crawl::CrawlProgress progress;
};

// Who hears from the runner (JobService): the job's log lines and its end.
class RunListener {
 public:
  virtual ~RunListener() = default;
  virtual void run_event(const std::string& id, std::string_view level, const std::string& message) = 0;
  // Called once per run, after the runner stopped counting it as running.
  virtual void run_ended(RunEnd end) = 0;
};

class JobRunner {
 public:
  JobRunner(boost::asio::io_context& ioc, std::chrono::milliseconds hard_kill_grace, CrawlFunction crawl,
            RunListener& listener);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Starts the job's crawl and its watchdog: its deadline is `time_left`
  // from now, or params.timeout_s.
  void start(const Job& job, std::uint32_t attempt = 1,
             std::optional<std::chrono::milliseconds> time_left = std::nullopt);
  // Stops a running crawl at once, for `reason`. False when it does not run here.
  bool cancel(const std::string& id, StopReason reason);

  // What a running job has done so far and why it is being stopped (none
  // while it is not); nullopt when it does not run here.
  struct Live {
    crawl::CrawlProgress progress;
    StopReason stop_reason = StopReason::none;
  };
  std::optional<Live> live(const std::string& id) const;
  // Its crawl or its watchdog has not finished yet (start() must wait).
  bool has(const std::string& id) const { return runs_.contains(id); }
  std::vector<std::string> running_ids() const;
  std::size_t running() const { return running_; }

  // Graceful stop: running crawls get `grace` to finish, then are cancelled
  // for shutdown; completes when every crawl and watchdog has ended (or one
  // more second has passed).
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

 private:
  struct Run;
  boost::asio::awaitable<void> watchdog(std::string id, std::chrono::milliseconds timeout);
  void crawl_ended(const std::string& id, std::exception_ptr error, crawl::CrawlResult result);
  void stop(Run& run, StopReason reason, boost::asio::cancellation_type type);
  void forget_if_done(const std::string& id);

  boost::asio::io_context& ioc_;
  std::chrono::milliseconds hard_kill_grace_;
  CrawlFunction crawl_;
  RunListener& listener_;
  std::unordered_map<std::string, std::unique_ptr<Run>> runs_;
  std::size_t running_ = 0;
  util::Gate gate_;
};

}  // namespace crawld::jobs
