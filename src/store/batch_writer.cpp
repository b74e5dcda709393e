#include "batch_writer.hpp"

#include <spdlog/spdlog.h>

namespace crawld::store {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

BatchWriter::BatchWriter(asio::io_context& ioc, const DatabaseConfig& config, DbPool& pool, WriteQueue& queue,
                         DatabaseHealth& health)
    : config_(config), pool_(pool), queue_(queue), health_(health), wake_(ioc), written_(ioc) {}

void BatchWriter::start(util::Gate& gate) {
  gate.enter();
  asio::co_spawn(wake_.get_executor(), run(), [&gate](std::exception_ptr) { gate.leave(); });
}

void BatchWriter::wake() {
  // A retry that waits for the database may go now that it answers.
  if (health_.status().up && retry_at_ > Steady::now()) retry_at_ = {};
  wake_.cancel();
}

void BatchWriter::stop() {
  stopping_ = true;
  wake_.cancel();
  written_.notify_all();
}

Steady::time_point BatchWriter::next_due() const {
  auto first = queue_.first_pending_at();
  if (!health_.migrated() || !first) return Steady::time_point::max();
  auto due = *first + std::chrono::milliseconds(config_.flush_ms);
  if (flushers_ > 0 || queue_.rows() >= config_.batch_rows || queue_.end_pending()) due = Steady::now();
  return std::max(due, retry_at_);
}

asio::awaitable<void> BatchWriter::run() {
  while (!stopping_) {
    auto due = next_due();
    if (Steady::now() < due) {
      wake_.expires_at(due);
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    co_await write_one();
  }
}

asio::awaitable<void> BatchWriter::write_one() {
  auto batch = std::make_shared<Batch>(queue_.take_batch());
  in_flight_ = true;
  auto started = Steady::now();
  std::exception_ptr error;
  BatchResult result;
  // Named, not a temporary in the co_await expression: GCC 12 mishandles
  // the lifetime of such temporaries.
  auto body = [batch](pqxx::connection& c) { return write_batch(c, *batch); };
  try {
    result = co_await pool_.run(std::move(body));
  } catch (...) {
    error = std::current_exception();
  }
  in_flight_ = false;
  if (on_batch_) {
    on_batch_(std::chrono::duration<double>(Steady::now() - started).count(), batch->rows() + batch->jobs.size(),
              !error);
  }
  if (error) {
    // Kept in the queue, retried later: nothing is lost, and the page
    // insert's ON CONFLICT makes a retry harmless.
    queue_.failed(*batch);
    if (!is_transient(error)) spdlog::error("database write failed, will retry: {}", short_message(error));
    health_.mark_down(short_message(error));
    retry_at_ = Steady::now() + backoff_.next();
  } else {
    backoff_.reset();
    retry_at_ = {};
    health_.mark_up();
    queue_.committed(*batch);
    if (on_events_written_) {
      // Once per job: a batch holds a job's events back to back, mostly.
      const std::string* last = nullptr;
      for (const auto& event : batch->events) {
        if (last == nullptr || *last != event.job_id) on_events_written_(event.job_id);
        last = &event.job_id;
      }
    }
    if (on_deliveries_written_ && !batch->deliveries.empty()) on_deliveries_written_();
    if (on_end_written_) {
      for (const auto& job : batch->jobs) {
        if (jobs::is_terminal(job.state)) on_end_written_(job.id, job.attempt);
      }
    }
    health_.count_written(result.pages_inserted);
    if (result.fenced > 0) {
      health_.count_fenced(result.fenced);
      spdlog::warn("database: {} rows of job attempts this instance no longer owns were not written (fenced)",
                   result.fenced);
    }
    for (const auto& rejected : result.rejected) {
      health_.count_rejected();
      spdlog::error("job {}: {} rejected by the database, not recorded: {}", rejected.job_id, rejected.what,
                    rejected.error);
    }
  }
  written_.notify_all();
}

asio::awaitable<bool> BatchWriter::flush(std::chrono::milliseconds timeout) {
  ++flushers_;
  wake_.cancel();
  co_await written_.wait_until(Steady::now() + timeout,
                               [this] { return (queue_.empty() && !in_flight_) || stopping_; });
  --flushers_;
  co_return queue_.empty() && !in_flight_;
}

}  // namespace crawld::store
