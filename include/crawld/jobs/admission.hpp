// Which jobs this instance takes, and in what order: the local FIFO queue,
// the limits (jobs.max_running, jobs.max_queued), the duplicate policy and
// Idempotency-Key replays.
//
// It knows job ids and parameters, not jobs: JobService asks it whether a
// submission is admitted, tells it what was accepted, started and ended, and
// asks it which queued job may start next. Everything runs on the loop.
#pragma once

#include "crawld/config.hpp"
#include "crawld/jobs/job.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace crawld::jobs {

// jobs.on_duplicate: what to do with a crawl (target, season, deep) that is
// already queued or running.
enum class DuplicatePolicy {
  reject,  // 409 naming the active job
  queue,   // accepted, started once the running one ended
  allow,   // run side by side
};
std::optional<DuplicatePolicy> parse_duplicate_policy(std::string_view text);

class Admission {
 public:
  using Steady = std::chrono::steady_clock;

  explicit Admission(const JobsConfig& config);

  struct Verdict {
    enum class Kind { admit, replay, duplicate, queue_full, idempotency_mismatch };
    Kind kind = Kind::admit;
    std::string job_id;  // replay: the original job; duplicate: the active one
  };
  // Decides on a submission; changes nothing. `running` is how many jobs
  // run now.
  Verdict check(const JobParams& params, const std::string& idempotency_key, std::size_t running,
                Steady::time_point now);

  // Records an admitted job as queued (at the end of the FIFO queue).
  void accept(const std::string& id, const JobParams& params, const std::string& idempotency_key,
              Steady::time_point now);
  // The next queued job allowed to start while `running` jobs run, taken off
  // the queue and counted as running; nullopt when none may start now.
  std::optional<std::string> next(std::size_t running);
  // A queued job leaves the queue (cancelled before it started).
  void remove_queued(const std::string& id);
  // A queued or running job ended: it no longer blocks or names duplicates.
  void ended(const std::string& id);
  // Empties the queue (shutdown); the ids in FIFO order.
  std::vector<std::string> take_queue();

  std::size_t queued() const { return queue_.size(); }
  DuplicatePolicy policy() const { return policy_; }

 private:
  using CrawlKey = std::tuple<std::string, std::int64_t, bool>;
  static CrawlKey crawl_key(const JobParams& params) { return {params.target, params.season, params.deep}; }

  // The queued and running jobs of one crawl, oldest first.
  struct SameCrawl {
    std::list<std::string> ids;
    std::size_t running = 0;
  };
  struct Active {
    CrawlKey key;
    std::list<std::string>::iterator position;  // in SameCrawl::ids
    bool running = false;
  };
  struct Idempotency {
    std::string job_id;
    JobParams params;
    Steady::time_point expires;
  };

  bool blocked(const std::string& id) const;

  JobsConfig config_;
  DuplicatePolicy policy_;
  std::deque<std::string> queue_;
  std::unordered_map<std::string, Active> active_;
  std::map<CrawlKey, SameCrawl> crawls_;
  std::map<std::string, Idempotency> idempotency_;
};

}  // namespace crawld::jobs
