// Measures the health of the I/O loop.
//
// A timer that should fire every 100 ms records how late it actually fired.
// Anything that blocks the loop (a blocking call, a long computation) shows
// up here first: every request and every crawl waits behind it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <vector>

namespace crawld::metrics {

class LoopLagMonitor {
 public:
  explicit LoopLagMonitor(boost::asio::io_context& ioc,
                          std::chrono::milliseconds interval = std::chrono::milliseconds(100));
  void start();
  void stop();

  double last_seconds() const { return last_; }
  // Maximum over the past minute (as of the last sample).
  double max_recent_seconds() const { return max_recent_; }
  // 99th percentile over the past minute (as of the last sample).
  double p99_recent_seconds() const { return p99_recent_; }
  // Called with every sample (for the histogram).
  void on_sample(std::function<void(double)> observer) { observer_ = std::move(observer); }

 private:
  void arm();
  void summarize();
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point expected_;
  double last_ = 0;
  std::deque<std::pair<std::chrono::steady_clock::time_point, double>> recent_;
  double max_recent_ = 0;
  double p99_recent_ = 0;
  std::vector<double> lags_;  // summarize()'s scratch, kept
  std::function<void(double)> observer_;
  bool running_ = false;
};

}  // namespace crawld::metrics
