#include "write_queue.hpp"

#include <boost/asio/this_coro.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace crawld::store {

namespace asio = boost::asio;

WriteQueue::WriteQueue(asio::io_context& ioc, DatabaseConfig config) : config_(std::move(config)), space_(ioc), written_(ioc) {}

void WriteQueue::note_pending() {
  bool was_idle = !first_pending_at_.has_value();
  if (was_idle) first_pending_at_ = Steady::now();
  if ((was_idle || rows() >= config_.batch_rows) && wake_) wake_();
}

void WriteQueue::add_job(const jobs::Job& job) {
  if (!jobs_.contains(job.id)) job_order_.push_back(job.id);
  jobs_.insert_or_assign(job.id, job);
  note_pending();
  if (!fence_owner_.empty() && jobs::is_terminal(job.state) && wake_) wake_();
}

bool WriteQueue::end_pending() const {
  if (fence_owner_.empty()) return false;
  return !held_ends_.empty() ||
         std::any_of(job_order_.begin(), job_order_.end(), [this](const std::string& id) {
           return jobs::is_terminal(jobs_.at(id).state);
         });
}

void WriteQueue::count_row(const std::string& job_id) { ++queued_rows_[job_id]; }

asio::awaitable<bool> WriteQueue::wait_written(const std::string& job_id, Steady::time_point deadline) {
  auto none_left = [&] { return rows_of(job_id) == 0; };
  bool written = co_await written_.wait_until(deadline, none_left);
  co_return written;
}

void WriteQueue::add_event(const jobs::Job& job, std::string_view level, const std::string& message) {
  count_row(job.id);
  ++queued_events_[job.id];
  events_.push_back({job.id, jobs::Clock::now(), std::string(level), message, job.attempt});
  note_pending();
}

void WriteQueue::add_delivery(webhooks::Delivery delivery) {
  deliveries_.push_back(std::move(delivery));
  note_pending();
}

asio::awaitable<void> WriteQueue::add_page(const std::string& job_id, std::uint32_t attempt, crawl::PageResult page) {
  if (pages_.size() >= config_.max_backlog_rows && !closing_) {
    if (!backpressure_logged_) {
      spdlog::warn("database write backlog full ({} page rows): crawls pause until it drains", pages_.size());
      backpressure_logged_ = true;
    }
    // A cancelled crawl stops waiting: its cancellation state says so.
    auto cancellation = co_await asio::this_coro::cancellation_state;
    co_await space_.wait_until(Steady::time_point::max(), [&] {
      return pages_.size() < config_.max_backlog_rows || closing_ ||
             cancellation.cancelled() != asio::cancellation_type::none;
    });
  }
  count_row(job_id);
  pages_.push_back({job_id, std::move(page), jobs::Clock::now(), attempt});
  note_pending();
}

Batch WriteQueue::take_batch() {
  Batch batch;
  batch.owner = fence_owner_;
  // Events and pages share the budget half and half (an odd row goes to
  // each in turn), and a share one of them leaves unused goes to the other:
  // a flood of either cannot hold the other back.
  std::size_t budget = config_.batch_rows;
  std::size_t events_share = budget / 2 + (budget % 2 == 1 && odd_row_to_events_ ? 1 : 0);
  odd_row_to_events_ = !odd_row_to_events_;
  std::size_t n_events = std::min(events_.size(), std::max(events_share, budget - std::min(pages_.size(), budget)));
  batch.events.assign(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(n_events));
  std::size_t n_pages = std::min(pages_.size(), budget - n_events);
  batch.pages.assign(pages_.begin(), pages_.begin() + static_cast<std::ptrdiff_t>(n_pages));
  // Counted once: a walk over the batch for each job made a batch cost the
  // square of its size.
  std::unordered_map<std::string_view, std::size_t> in_batch;
  if (!fence_owner_.empty()) {
    for (const auto& event : batch.events) ++in_batch[event.job_id];
    for (const auto& page : batch.pages) ++in_batch[page.job_id];
  }
  auto take = [&](std::unordered_map<std::string, jobs::Job>::iterator kept) {
    batch.jobs.push_back(std::move(kept->second));
    jobs_.erase(kept);
  };
  for (const auto& id : job_order_) {
    auto kept = jobs_.find(id);
    if (end_waits(kept->second, in_batch)) {
      held_ends_.insert(kept->first);
    } else {
      take(kept);
    }
  }
  job_order_.clear();
  // A held end can go only once a batch holds its job's last rows.
  for (const auto& [id, n] : in_batch) {
    auto held = held_ends_.find(id);
    if (held == held_ends_.end()) continue;
    auto kept = jobs_.find(std::string(id));
    if (end_waits(kept->second, in_batch)) continue;
    held_ends_.erase(held);
    take(kept);
  }
  // Deliveries go with their job's change: held back while it waits.
  std::vector<webhooks::Delivery> held;
  for (auto& delivery : deliveries_) {
    (held_ends_.contains(delivery.job_id) ? held : batch.deliveries).push_back(std::move(delivery));
  }
  deliveries_ = std::move(held);
  return batch;
}

bool WriteQueue::end_waits(const jobs::Job& job,
                           const std::unordered_map<std::string_view, std::size_t>& in_batch) const {
  if (fence_owner_.empty() || !jobs::is_terminal(job.state)) return false;
  auto it = queued_rows_.find(job.id);
  if (it == queued_rows_.end()) return false;
  auto counted = in_batch.find(job.id);
  return it->second > (counted == in_batch.end() ? 0 : counted->second);
}

void WriteQueue::failed(Batch& batch) {
  std::vector<std::string> order;
  for (auto& job : batch.jobs) {
    if (jobs_.contains(job.id)) continue;
    order.push_back(job.id);
    jobs_.emplace(job.id, std::move(job));
  }
  order.insert(order.end(), job_order_.begin(), job_order_.end());
  job_order_ = std::move(order);
  deliveries_.insert(deliveries_.begin(), std::make_move_iterator(batch.deliveries.begin()),
                     std::make_move_iterator(batch.deliveries.end()));
}

void WriteQueue::committed(const Batch& batch) {
  auto uncount = [this](const std::string& id) {
    auto it = queued_rows_.find(id);
    if (it != queued_rows_.end() && --it->second == 0) queued_rows_.erase(it);
  };
  for (const auto& event : batch.events) uncount(event.job_id);
  for (const auto& page : batch.pages) uncount(page.job_id);
  for (const auto& event : batch.events) {
    auto it = queued_events_.find(event.job_id);
    if (it != queued_events_.end() && --it->second == 0) queued_events_.erase(it);
  }
  events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(batch.events.size()));
  pages_.erase(pages_.begin(), pages_.begin() + static_cast<std::ptrdiff_t>(batch.pages.size()));
  first_pending_at_ = empty() ? std::nullopt : std::optional(Steady::now());
  if (pages_.size() < config_.max_backlog_rows) space_.notify_all();
  written_.notify_all();
  // Logged with hysteresis: a draining backlog hovers around its bound.
  if (backpressure_logged_ && pages_.size() <= config_.max_backlog_rows / 2) {
    spdlog::info("database write backlog down to {} page rows: crawls resume", pages_.size());
    backpressure_logged_ = false;
  }
}

void WriteQueue::close() {
  closing_ = true;
  space_.notify_all();
}

}  // namespace crawld::store
