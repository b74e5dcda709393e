#include "crawld/webhooks/outbox.hpp"
#include "crawld/webhooks/sender.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <thread>

using namespace crawld;
using namespace crawld::webhooks;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

template <class T>
T await(asio::io_context& ioc, asio::awaitable<T> op) {
  auto future = asio::co_spawn(ioc, std::move(op), asio::use_future);
  ioc.restart();
  ioc.run();
  return future.get();
}

Delivery delivery(const std::string& id, const std::string& url) {
  Delivery d;
  d.id = id;
  d.job_id = "job-" + id;
  d.event = "job.failed";
  d.url = url;
  d.payload = "{}";
  d.created_at = jobs::Clock::now();
  return d;
}

}  // namespace

TEST_CASE("every state is an event, named as webhooks ask for it", "[webhooks]") {
  CHECK(std::string(event_for(jobs::JobState::queued)) == "job.queued");
  CHECK(std::string(event_for(jobs::JobState::running)) == "job.started");
  CHECK(std::string(event_for(jobs::JobState::timed_out)) == "job.timed_out");
  CHECK(std::string(event_for(jobs::JobState::interrupted)) == "job.interrupted");
}

TEST_CASE("retries wait twice as long each time, with jitter, at most an hour", "[webhooks]") {
  std::mt19937 random(42);
  for (int i = 0; i < 200; ++i) {
    auto first = retry_delay(100ms, 1, random);
    CHECK(first >= 50ms);
    CHECK(first <= 100ms);
    auto fourth = retry_delay(100ms, 4, random);
    CHECK(fourth >= 400ms);
    CHECK(fourth <= 800ms);
    auto late = retry_delay(5000ms, 40, random);
    CHECK(late >= std::chrono::milliseconds(1800s));
    CHECK(late <= std::chrono::milliseconds(3600s));
  }
}

TEST_CASE("the memory outbox leases due deliveries to the receivers asked for and keeps the attempts", "[webhooks]") {
  asio::io_context ioc;
  MemoryOutbox outbox(3);
  int woken = 0;
  outbox.on_added([&] { ++woken; });
  jobs::Job job;
  outbox.add(job, delivery("a", "http://one/"));
  outbox.add(job, delivery("b", "http://two/"));
  CHECK(woken == 2);

  // Deliveries to receivers not asked for wait; a claimed one is leased.
  auto claimed = await(ioc, outbox.claim(10, {"http://one/"}, 60s));
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].id == "a");
  CHECK(claimed[0].attempts == 1);
  CHECK(await(ioc, outbox.claim(10, {"http://one/"}, 60s)).empty());

  // A failed attempt comes back once it is due; a delivered one never.
  DeliveryAttempt attempt{1, jobs::Clock::now(), 500, "HTTP 500", 3};
  await(ioc, outbox.record({"a", attempt, DeliveryState::pending, jobs::Clock::now() + 30ms}));
  const std::set<std::string> both{"http://one/", "http://two/"};
  auto b = await(ioc, outbox.claim(10, both, 60s));
  REQUIRE(b.size() == 1);
  CHECK(b[0].id == "b");
  std::this_thread::sleep_for(40ms);
  auto again = await(ioc, outbox.claim(10, both, 60s));
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == "a");
  CHECK(again[0].attempts == 2);
  await(ioc, outbox.record({"a", {2, jobs::Clock::now(), 204, "", 2}, DeliveryState::delivered, {}}));

  auto listed = await(ioc, outbox.list("job-a", 10));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].state == DeliveryState::delivered);
  CHECK(listed[0].delivered_at.has_value());
  CHECK_FALSE(listed[0].next_attempt_at.has_value());
  REQUIRE(listed[0].attempts.size() == 2);
  CHECK(listed[0].attempts[0].status == 500);
  CHECK(listed[0].attempts[1].status == 204);

  // Room is made by dropping finished deliveries, never pending ones.
  outbox.add(job, delivery("c", "http://one/"));
  outbox.add(job, delivery("d", "http://one/"));
  auto all = await(ioc, outbox.list("", 10));
  REQUIRE(all.size() == 3);
  CHECK(all[0].delivery.id == "d");
  CHECK(all[2].delivery.id == "b");  // pending (leased), kept; "a" was delivered and went
}
