#include "crawld/metrics/loop_lag.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using crawld::metrics::LoopLagMonitor;

TEST_CASE("a loop that is blocked shows up as lag; an idle one does not", "[metrics]") {
  asio::io_context ioc;
  LoopLagMonitor monitor(ioc, 20ms);
  std::vector<double> samples;
  monitor.on_sample([&](double seconds) { samples.push_back(seconds); });
  monitor.start();
  // Idle for a while, then one handler blocks the loop for 150 ms.
  asio::steady_timer block(ioc, 100ms);
  block.async_wait([](auto) { std::this_thread::sleep_for(150ms); });
  asio::steady_timer end(ioc, 400ms);
  end.async_wait([&](auto) { monitor.stop(); });
  ioc.run();  // returns: stop() leaves nothing armed
  REQUIRE(samples.size() >= 5);
  // The sample taken after the block is at least most of the block late.
  CHECK(monitor.max_recent_seconds() >= 0.1);
  CHECK(*std::max_element(samples.begin(), samples.end()) == Approx(monitor.max_recent_seconds()));
  // Most samples are not: the p99 of a minute of 20 ms samples with one late one.
  CHECK(monitor.p99_recent_seconds() <= monitor.max_recent_seconds());
  CHECK(std::count_if(samples.begin(), samples.end(), [](double s) { return s < 0.05; }) >= 3);
}
