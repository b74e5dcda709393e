#include "crawld/jobs/job_service.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <stdexcept>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using crawld::JobsConfig;
using crawld::crawl::CrawlControl;
using crawld::crawl::CrawlResult;
using crawld::jobs::CancelStatus;
using crawld::jobs::Job;
using crawld::jobs::JobService;
using crawld::jobs::JobParams;
using crawld::jobs::JobState;
using crawld::jobs::StopReason;
using crawld::jobs::SubmitStatus;

namespace {

using Clock = std::chrono::steady_clock;

JobParams params(std::int64_t season, std::uint32_t timeout_s = 30) {
  JobParams p;
  p.target = "demo";
  p.season = season;
  p.timeout_s = timeout_s;
  return p;
}

// A crawl that runs for `duration` unless stopped. With `honour_soft_stop`
// it polls stop_requested like the real crawler; otherwise only terminal
// cancellation (which aborts its timer at once) ends it early.
crawld::jobs::CrawlFunction fake_crawl(std::chrono::milliseconds duration, bool honour_soft_stop = true,
                                       std::vector<std::string>* started = nullptr, int* concurrent = nullptr,
                                       int* max_concurrent = nullptr) {
  return [=](const Job& job, std::shared_ptr<CrawlControl> control) -> asio::awaitable<CrawlResult> {
    if (started) started->push_back(job.id);
    if (concurrent) *max_concurrent = std::max(*max_concurrent, ++*concurrent);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto end = Clock::now() + duration;
    CrawlResult result;
    while (Clock::now() < end) {
      if (honour_soft_stop && control->stop_requested) break;
      timer.expires_after(std::min<Clock::duration>(5ms, end - Clock::now()));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        result.outcome = crawld::crawl::CrawlOutcome::cancelled;
        break;
      }
      ++control->progress.fetched;
    }
    if (concurrent) --*concurrent;
    co_return result;
  };
}

template <class Predicate>
bool run_until(asio::io_context& ioc, Predicate done, std::chrono::milliseconds limit = 10s) {
  auto deadline = Clock::now() + limit;
  while (!done() && Clock::now() < deadline) {
    ioc.run_one_for(5ms);
  }
  return done();
}

CancelStatus cancel(asio::io_context& ioc, JobService& service, const std::string& id) {
  auto future = asio::co_spawn(ioc, service.cancel(id), asio::use_future);
  ioc.restart();
  run_until(ioc, [&] { return future.wait_for(0s) == std::future_status::ready; });
  return future.get().status;
}

crawld::jobs::JobList list(asio::io_context& ioc, JobService& service) {
  auto future = asio::co_spawn(ioc, service.list(std::nullopt, 100), asio::use_future);
  ioc.restart();
  run_until(ioc, [&] { return future.wait_for(0s) == std::future_status::ready; });
  return future.get();
}

// Time the machine may add to a bound derived from the configuration (2
// cores; sanitizer builds several times slower).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double slack_s = 1.0;
#else
constexpr double slack_s = 0.25;
#endif

double seconds_between(const Job& job) {
  return std::chrono::duration<double>(*job.finished_at - *job.started_at).count();
}

}  // namespace

TEST_CASE("watchdog stops an overrunning crawl softly: timed_out at the deadline", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  JobService manager(ioc, config, fake_crawl(60s));
  auto result = manager.submit(params(2024, 1));
  REQUIRE(result.status == SubmitStatus::created);
  std::string id = result.job->id;
  REQUIRE(run_until(ioc, [&] { return manager.find_local(id)->state != JobState::running; }));
  const Job job = *manager.find_local(id);
  CHECK(job.state == JobState::timed_out);
  CHECK(job.stop_reason == StopReason::deadline);
  CHECK(job.error.find("timed out") != std::string::npos);
  CHECK(job.progress.fetched > 0);  // progress made is kept
  // At the deadline (1 s), and ended by the soft stop: before the hard kill
  // (hard_kill_grace_ms later) would have been needed.
  CHECK(seconds_between(job) >= 0.99);
  CHECK(seconds_between(job) < 1.0 + config.hard_kill_grace_ms / 1000.0);
}

TEST_CASE("watchdog cancels a crawl that ignores the soft stop after the grace", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  config.hard_kill_grace_ms = 200;
  JobService manager(ioc, config, fake_crawl(60s, /*honour_soft_stop=*/false));
  std::string id = manager.submit(params(2024, 1)).job->id;
  REQUIRE(run_until(ioc, [&] { return manager.find_local(id)->state != JobState::running; }));
  const Job job = *manager.find_local(id);
  CHECK(job.state == JobState::timed_out);
  // Not before the deadline plus the grace; the crawl itself would run 60 s.
  CHECK(seconds_between(job) >= 1.19);
  CHECK(seconds_between(job) < 1.2 + slack_s);
}

TEST_CASE("a crawl that finishes first cancels its watchdog", "[jobs]") {
  asio::io_context ioc;
  JobService manager(ioc, JobsConfig{}, fake_crawl(50ms));
  std::string id = manager.submit(params(2024, 5)).job->id;
  auto started = Clock::now();
  // run() returns only when no work is left: a stray watchdog timer would
  // keep it busy for the whole 5 s timeout.
  ioc.run();
  CHECK(Clock::now() - started < 4s);  // well before the watchdog's 5 s
  const Job job = *manager.find_local(id);
  CHECK(job.state == JobState::succeeded);
  CHECK(job.stop_reason == StopReason::none);
  CHECK(job.error.empty());
}

TEST_CASE("operator cancel of a running job ends it at once", "[jobs]") {
  asio::io_context ioc;
  JobService manager(ioc, JobsConfig{}, fake_crawl(60s, /*honour_soft_stop=*/false));
  std::string id = manager.submit(params(2024)).job->id;
  run_until(ioc, [] { return false; }, 100ms);
  REQUIRE(manager.find_local(id)->state == JobState::running);
  auto requested = Clock::now();
  CHECK(cancel(ioc, manager, id) == CancelStatus::requested);
  REQUIRE(run_until(ioc, [&] { return manager.find_local(id)->state != JobState::running; }));
  // At once: the crawl ignores the soft stop and would run 60 s.
  CHECK(std::chrono::duration<double>(Clock::now() - requested).count() < slack_s);
  CHECK(manager.find_local(id)->state == JobState::cancelled);
  CHECK(manager.find_local(id)->stop_reason == StopReason::user_request);
  CHECK(cancel(ioc, manager, id) == CancelStatus::already_ended);
  CHECK(cancel(ioc, manager, "00000000-0000-4000-8000-000000000000") == CancelStatus::not_found);
}

// Cluster mode adopts a job only when no earlier attempt of it runs here,
// including one that was told to stop and has not wound down yet.
TEST_CASE("a stopped job still runs locally until its crawl and its watchdog have wound down", "[jobs]") {
  asio::io_context ioc;
  JobService manager(ioc, JobsConfig{}, fake_crawl(60s, /*honour_soft_stop=*/false));
  std::string id = manager.submit(params(2024)).job->id;
  run_until(ioc, [] { return false; }, 50ms);
  REQUIRE(manager.runs_locally(id));
  CHECK(manager.stop_local(id, StopReason::shutdown));
  CHECK(manager.runs_locally(id));  // told to stop; its crawl has not ended yet
  REQUIRE(run_until(ioc, [&] { return !manager.runs_locally(id); }));
  CHECK(manager.find_local(id)->state != JobState::running);
  CHECK(!manager.stop_local(id, StopReason::shutdown));
  CHECK(!manager.runs_locally("00000000-0000-4000-8000-000000000000"));
}

TEST_CASE("operator cancel of a queued job removes it at once", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  config.max_running = 1;
  JobService manager(ioc, config, fake_crawl(60s));
  std::string first = manager.submit(params(2024)).job->id;
  std::string second = manager.submit(params(2025)).job->id;
  CHECK(manager.find_local(first)->state == JobState::running);
  CHECK(manager.find_local(second)->state == JobState::queued);
  CHECK(cancel(ioc, manager, second) == CancelStatus::requested);
  CHECK(manager.find_local(second)->state == JobState::cancelled);
  CHECK_FALSE(manager.find_local(second)->started_at.has_value());
  CHECK(manager.queued() == 0);
  cancel(ioc, manager, first);
  run_until(ioc, [&] { return manager.running() == 0; });
}

TEST_CASE("five jobs with max_running 2 run two at a time in FIFO order", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  config.max_running = 2;
  std::vector<std::string> started;
  int concurrent = 0;
  int max_concurrent = 0;
  JobService manager(ioc, config, fake_crawl(40ms, true, &started, &concurrent, &max_concurrent));
  std::vector<std::string> submitted;
  for (int i = 0; i < 5; ++i) submitted.push_back(manager.submit(params(2000 + i)).job->id);
  CHECK(manager.running() == 2);
  CHECK(manager.queued() == 3);
  ioc.run();
  CHECK(started == submitted);
  CHECK(max_concurrent == 2);
  for (const auto& id : submitted) CHECK(manager.find_local(id)->state == JobState::succeeded);
}

TEST_CASE("duplicate crawls: reject, queue and allow", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  SECTION("reject names the active job") {
    JobService manager(ioc, config, fake_crawl(60s));
    std::string first = manager.submit(params(2024)).job->id;
    auto again = manager.submit(params(2024));
    CHECK(again.status == SubmitStatus::duplicate);
    CHECK(again.job->id == first);
    auto deep = params(2024);
    deep.deep = true;
    CHECK(manager.submit(deep).status == SubmitStatus::created);  // a different crawl
    cancel(ioc, manager, first);
    run_until(ioc, [&] { return manager.find_local(first)->state == JobState::cancelled; });
    CHECK(manager.submit(params(2024)).status == SubmitStatus::created);  // no longer active
  }
  SECTION("queue runs the duplicate after the active one ends") {
    config.on_duplicate = "queue";
    JobService manager(ioc, config, fake_crawl(30ms));
    std::string first = manager.submit(params(2024)).job->id;
    auto second = manager.submit(params(2024));
    REQUIRE(second.status == SubmitStatus::created);
    CHECK(second.job->state == JobState::queued);
    std::string second_id = second.job->id;
    ioc.run();
    CHECK(*manager.find_local(second_id)->started_at >= *manager.find_local(first)->finished_at);
  }
  SECTION("allow runs them side by side") {
    config.on_duplicate = "allow";
    JobService manager(ioc, config, fake_crawl(30ms));
    manager.submit(params(2024));
    CHECK(manager.submit(params(2024)).job->state == JobState::running);
    ioc.run();
  }
}

TEST_CASE("a full queue refuses new jobs", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  config.max_running = 1;
  config.max_queued = 2;
  JobService manager(ioc, config, fake_crawl(60s));
  for (int i = 0; i < 3; ++i) CHECK(manager.submit(params(2000 + i)).status == SubmitStatus::created);
  CHECK(manager.submit(params(2010)).status == SubmitStatus::queue_full);
  CHECK(manager.queued() == 2);
}

TEST_CASE("idempotency keys replay the original job", "[jobs]") {
  asio::io_context ioc;
  JobService manager(ioc, JobsConfig{}, fake_crawl(60s));
  auto first = manager.submit(params(2024), "key-1");
  REQUIRE(first.status == SubmitStatus::created);
  auto retry = manager.submit(params(2024), "key-1");
  CHECK(retry.status == SubmitStatus::replayed);
  CHECK(retry.job->id == first.job->id);
  CHECK(manager.submit(params(2025), "key-1").status == SubmitStatus::idempotency_mismatch);
  CHECK(list(ioc, manager).jobs.size() == 1);
}

TEST_CASE("an exception inside a crawl becomes the job's failure", "[jobs]") {
  asio::io_context ioc;
  JobService manager(ioc, JobsConfig{},
                     [](const Job&, std::shared_ptr<CrawlControl>) -> asio::awaitable<CrawlResult> {
                       throw std::runtime_error("boom");
                       co_return CrawlResult{};
                     });
  std::string id = manager.submit(params(2024)).job->id;
  ioc.run();
  CHECK(manager.find_local(id)->state == JobState::failed);
  CHECK(manager.find_local(id)->error == "crawl failed: boom");
}

TEST_CASE("a crawl that lets our cancellation escape as an exception ends by its stop reason", "[jobs]") {
  // A crawl that ignores the soft stop and whose wait throws when cancelled.
  auto throwing_crawl = [](const Job&, std::shared_ptr<CrawlControl>) -> asio::awaitable<CrawlResult> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 60s);
    co_await timer.async_wait(asio::use_awaitable);
    co_return CrawlResult{};
  };
  asio::io_context ioc;
  JobsConfig config;
  config.hard_kill_grace_ms = 100;
  JobService manager(ioc, config, throwing_crawl);

  SECTION("the watchdog's hard stop: timed_out") {
    std::string id = manager.submit(params(2024, 1)).job->id;
    REQUIRE(run_until(ioc, [&] { return manager.find_local(id)->state != JobState::running; }));
    CHECK(manager.find_local(id)->state == JobState::timed_out);
    CHECK(manager.find_local(id)->stop_reason == StopReason::deadline);
  }
  SECTION("an operator's cancel: cancelled") {
    std::string id = manager.submit(params(2024)).job->id;
    run_until(ioc, [] { return false; }, 50ms);
    CHECK(cancel(ioc, manager, id) == CancelStatus::requested);
    REQUIRE(run_until(ioc, [&] { return manager.find_local(id)->state != JobState::running; }));
    CHECK(manager.find_local(id)->state == JobState::cancelled);
    CHECK(manager.find_local(id)->error == "cancelled by operator");
  }
}

TEST_CASE("history keeps the newest finished jobs only", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  config.history = 3;
  JobService manager(ioc, config, fake_crawl(1ms));
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(manager.submit(params(2000 + i)).job->id);
    ioc.run();
    ioc.restart();
  }
  auto listed = list(ioc, manager).jobs;
  REQUIRE(listed.size() == 3);
  CHECK(listed[0].id == ids[5]);  // newest first
  CHECK_FALSE(manager.find_local(ids[0]).has_value());
}

TEST_CASE("shutdown interrupts queued jobs and, after the grace, running ones", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  config.max_running = 1;
  JobService manager(ioc, config, fake_crawl(60s, /*honour_soft_stop=*/false));
  std::string running = manager.submit(params(2024)).job->id;
  std::string queued = manager.submit(params(2025)).job->id;
  auto started = Clock::now();
  auto done = asio::co_spawn(ioc, manager.shutdown(200ms), asio::use_future);
  ioc.run();
  done.get();
  // The grace, then the cancelled crawls' end (bounded by 1 s); the crawl
  // itself would run 60 s.
  CHECK(Clock::now() - started < 200ms + 1s);
  CHECK(manager.find_local(queued)->state == JobState::interrupted);
  CHECK(manager.find_local(running)->state == JobState::interrupted);
  CHECK(manager.find_local(running)->stop_reason == StopReason::shutdown);
  CHECK(manager.submit(params(2030)).status == SubmitStatus::shutting_down);
}

TEST_CASE("with no history kept, a cancelled queued job is still answered", "[jobs]") {
  asio::io_context ioc;
  JobsConfig config;
  config.max_running = 1;
  config.history = 0;
  JobService manager(ioc, config, fake_crawl(60s));
  std::string first = manager.submit(params(2024)).job->id;
  std::string second = manager.submit(params(2025)).job->id;
  auto future = asio::co_spawn(ioc, manager.cancel(second), asio::use_future);
  run_until(ioc, [&] { return future.wait_for(0s) == std::future_status::ready; });
  auto result = future.get();
  CHECK(result.status == CancelStatus::requested);
  REQUIRE(result.job.has_value());
  CHECK(result.job->state == JobState::cancelled);
  CHECK_FALSE(manager.find_local(second).has_value());  // forgotten at once: history 0
  cancel(ioc, manager, first);
  run_until(ioc, [&] { return manager.running() == 0; });
}

TEST_CASE("a job keeps at most max_events_per_job of its crawl's events and says how many it dropped", "[jobs]") {
  struct Events : crawld::jobs::JobObserver {
    std::vector<std::string> messages;
    void job_event(const Job&, std::string_view, const std::string& message) override { messages.push_back(message); }
  } events;
  asio::io_context ioc;
  JobsConfig config;
  config.max_events_per_job = 10;
  JobService* service = nullptr;
  JobService manager(ioc, config, [&](const Job& job, std::shared_ptr<CrawlControl>) -> asio::awaitable<CrawlResult> {
    for (int i = 0; i < 25; ++i) service->crawl_event(job.id, "warn", "crawl event " + std::to_string(i));
    co_return CrawlResult{};
  });
  service = &manager;
  manager.add_observer(&events);
  const std::string id = manager.submit(params(2024, 5)).job->id;
  ioc.run();
  CHECK(manager.find_local(id)->state == JobState::succeeded);
  std::vector<std::string> crawl_events;
  for (const auto& message : events.messages) {
    if (message.starts_with("crawl event ")) crawl_events.push_back(message);
  }
  REQUIRE(crawl_events.size() == 10);
  CHECK(crawl_events.front() == "crawl event 0");
  CHECK(crawl_events.back() == "crawl event 9");  // the first ones are kept
  // One summary, before the job's last event; lifecycle events are not capped.
  REQUIRE(events.messages.size() >= 3);
  CHECK(events.messages[events.messages.size() - 2] ==
        "15 more crawl events dropped (jobs.max_events_per_job is 10)");
  CHECK(events.messages.back().starts_with("job succeeded"));
  CHECK(events.messages.front() == "job accepted");
}
