#include "crawld/metrics/loop_lag.hpp"

#include <algorithm>
#include <vector>

namespace crawld::metrics {

LoopLagMonitor::LoopLagMonitor(boost::asio::io_context& ioc, std::chrono::milliseconds interval)
    : timer_(ioc), interval_(interval) {}

void LoopLagMonitor::start() {
  running_ = true;
  arm();
}

void LoopLagMonitor::stop() {
  running_ = false;
  timer_.cancel();
}

void LoopLagMonitor::arm() {
  expected_ = std::chrono::steady_clock::now() + interval_;
  timer_.expires_at(expected_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    auto now = std::chrono::steady_clock::now();
    last_ = std::max(0.0, std::chrono::duration<double>(now - expected_).count());
    recent_.emplace_back(now, last_);
    while (!recent_.empty() && now - recent_.front().first > std::chrono::minutes(1)) recent_.pop_front();
    summarize();
    if (observer_) observer_(last_);
    arm();
  });
}

// Once a sample, not once a read: /status reads these on every request.
void LoopLagMonitor::summarize() {
  max_recent_ = 0;
  for (const auto& [when, lag] : recent_) max_recent_ = std::max(max_recent_, lag);
  p99_recent_ = 0;
  if (recent_.empty()) return;
  lags_.clear();
  for (const auto& [when, lag] : recent_) lags_.push_back(lag);
  auto rank = static_cast<std::size_t>(0.99 * static_cast<double>(lags_.size() - 1));
  std::nth_element(lags_.begin(), lags_.begin() + static_cast<std::ptrdiff_t>(rank), lags_.end());
  p99_recent_ = lags_[rank];
}

}  // namespace crawld::metrics
