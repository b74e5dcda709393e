#include "crawld/util/gate.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using crawld::util::Gate;

TEST_CASE("a gate's waiter wakes when the last one leaves, not at its deadline", "[util]") {
  asio::io_context ioc;
  Gate gate(ioc);
  gate.enter();
  gate.enter();
  asio::steady_timer first(ioc, 20ms);
  first.async_wait([&](auto) { gate.leave(); });
  asio::steady_timer second(ioc, 40ms);
  second.async_wait([&](auto) { gate.leave(); });
  auto started = std::chrono::steady_clock::now();
  auto result = asio::co_spawn(ioc, gate.wait(10s), asio::use_future);
  ioc.run();  // returns only when nothing is left: no timer of 10 s lingers
  CHECK(result.get());
  auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited >= 40ms);
  CHECK(waited < 5s);
  CHECK(gate.count() == 0);
}

TEST_CASE("a gate's waiter gives up at its deadline", "[util]") {
  asio::io_context ioc;
  Gate gate(ioc);
  Gate::Holder held(gate);
  auto started = std::chrono::steady_clock::now();
  auto result = asio::co_spawn(ioc, gate.wait(50ms), asio::use_future);
  ioc.run();
  CHECK_FALSE(result.get());
  CHECK(std::chrono::steady_clock::now() - started >= 50ms);
  CHECK(gate.count() == 1);
}

TEST_CASE("an empty gate does not wait", "[util]") {
  asio::io_context ioc;
  Gate gate(ioc);
  { Gate::Holder stay(gate); }
  auto result = asio::co_spawn(ioc, gate.wait(10s), asio::use_future);
  auto started = std::chrono::steady_clock::now();
  ioc.run();
  CHECK(result.get());
  CHECK(std::chrono::steady_clock::now() - started < 1s);
}
