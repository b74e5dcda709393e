// What waits to be written (private to src/store): the newest snapshot of
// each job that changed, then events and page rows in arrival order. Lives
// on the loop; the writer takes batches from it and gives back what failed.
//
// Page rows are bounded by max_backlog_rows: a crawl's add_page waits while
// the backlog is full (back-pressure pauses the crawl instead of dropping
// rows). Job rows and events are bounded by the API refusing new jobs
// (full()).
#pragma once

#include "crawld/config.hpp"
#include "crawld/util/condition.hpp"
#include "queries.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace crawld::store {

class WriteQueue {
 public:
  using Steady = std::chrono::steady_clock;

  WriteQueue(boost::asio::io_context& ioc, DatabaseConfig config);

  // Called when the queue goes from empty to not empty, or fills a batch.
  void on_pending(std::function<void()> wake) { wake_ = std::move(wake); }

  void add_job(const jobs::Job& job);
  void add_event(const jobs::Job& job, std::string_view level, const std::string& message);
  // Waits while the page backlog is full; a cancelled crawl stops waiting
  // (its page is still kept). Returns at once once the queue is closing.
  // A webhook delivery of the job's latest state change: written in the
  // batch that writes that change, or a later one.
  void add_delivery(webhooks::Delivery delivery);
  boost::asio::awaitable<void> add_page(const std::string& job_id, std::uint32_t attempt, crawl::PageResult page);
  // Cluster mode: batches are written only for the attempts `owner` still
  // holds (Batch::owner), and a job's final snapshot goes in the batch of
  // its last rows or a later one: once it is committed, everything the
  // attempt wrote is (its end is what frees the job's slot).
  void fence(std::string owner) { fence_owner_ = std::move(owner); }

  // The next batch: every job snapshot, then events and pages sharing
  // batch_rows half and half. The rows stay queued until committed().
  Batch take_batch();
  // The batch was committed: its rows leave the queue.
  void committed(const Batch& batch);
  // The batch failed: its job snapshots go back unless a newer one arrived.
  void failed(Batch& batch);
  // No more waiting for space (shutdown).
  void close();

  bool empty() const { return jobs_.empty() && events_.empty() && pages_.empty() && deliveries_.empty(); }
  std::size_t rows() const { return events_.size() + pages_.size(); }
  std::size_t pages() const { return pages_.size(); }
  std::size_t events() const { return events_.size(); }
  std::size_t job_updates() const { return jobs_.size(); }
  // The job's events and pages not committed yet.
  std::size_t rows_of(const std::string& job_id) const {
    auto it = queued_rows_.find(job_id);
    return it == queued_rows_.end() ? 0 : it->second;
  }
  // Waits until none of the job's rows wait here, or `deadline`; true when
  // none do.
  boost::asio::awaitable<bool> wait_written(const std::string& job_id, Steady::time_point deadline);
  // The job's events not committed yet.
  std::size_t events_of(const std::string& job_id) const {
    auto it = queued_events_.find(job_id);
    return it == queued_events_.end() ? 0 : it->second;
  }
  // Job rows and events fill max_backlog_rows: POST /start refuses new jobs.
  bool full() const { return events_.size() + jobs_.size() >= config_.max_backlog_rows; }
  // Cluster mode: a job's end waits to be written; it frees a slot (and a
  // cancel waits for it), so it goes without waiting for flush_ms.
  bool end_pending() const;
  // When the oldest row still waiting arrived (nullopt: nothing waits).
  std::optional<Steady::time_point> first_pending_at() const { return first_pending_at_; }

 private:
  void note_pending();
  void count_row(const std::string& job_id);
  // Cluster mode: the job's final snapshot waits for rows not in the batch
  // (`in_batch`: the batch's event and page rows by job id).
  bool end_waits(const jobs::Job& job, const std::unordered_map<std::string_view, std::size_t>& in_batch) const;

  DatabaseConfig config_;
  std::string fence_owner_;
  std::unordered_map<std::string, std::size_t> queued_rows_;  // per job
  std::unordered_map<std::string, std::size_t> queued_events_;  // per job
  std::function<void()> wake_;
  // Every job snapshot waiting is in jobs_, and its id in one of: job_order_
  // (not looked at by take_batch yet: new, or back from a failed batch) or
  // held_ends_ (cluster mode: a final snapshot whose job still has rows
  // queued; a batch that holds that job's rows looks at it again). So a
  // batch costs its own rows, however many ends wait.
  std::vector<std::string> job_order_;
  std::unordered_map<std::string, jobs::Job> jobs_;
  std::unordered_set<std::string_view> held_ends_;  // views of jobs_'s keys
  std::deque<EventRow> events_;
  std::deque<PageRow> pages_;
  std::vector<webhooks::Delivery> deliveries_;
  std::optional<Steady::time_point> first_pending_at_;
  util::Condition space_;
  util::Condition written_;
  bool closing_ = false;
  bool backpressure_logged_ = false;
  bool odd_row_to_events_ = false;
};

}  // namespace crawld::store
