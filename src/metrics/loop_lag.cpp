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
    if (observer_) observer_(last_);
    arm();
  });
}

double LoopLagMonitor::max_recent_seconds() const {
  double worst = 0;
  for (const auto& [when, lag] : recent_) worst = std::max(worst, lag);
  return worst;
}

double LoopLagMonitor::p99_recent_seconds() const {
  if (recent_.empty()) return 0;
  std::vector<double> lags;
  lags.reserve(recent_.size());
  for (const auto& [when, lag] : recent_) lags.push_back(lag);
  auto rank = static_cast<std::size_t>(0.99 * static_cast<double>(lags.size() - 1));
  std::nth_element(lags.begin(), lags.begin() + static_cast<std::ptrdiff_t>(rank), lags.end());
  return lags[rank];
}

}  // namespace crawld::metrics
