// JobRepository's awaited commands and reads against a real PostgreSQL.
#include "crawld/store/job_repository.hpp"
#include "crawld/store/schema.hpp"
#include "crawld/store/store.hpp"
#include "pg_support.hpp"

#include <catch2/catch.hpp>

namespace asio = boost::asio;
using namespace crawld;
using namespace std::chrono_literals;

namespace {

jobs::Job make_job() {
  jobs::Job job;
  job.id = jobs::new_job_id();
  job.params.target = "site";
  job.params.season = 2024;
  job.params.timeout_s = 60;
  // Values that would break a statement built by pasting text in.
  job.idempotency_key = "it's \"quoted\"; drop table crawl_jobs; --";
  job.created_at = jobs::Clock::now();
  job.instance_id = "test:1";
  return job;
}

}  // namespace

TEST_CASE("job commands are committed when they return, with their values as parameters", "[db][store]") {
  test::TestDatabase db;
  asio::io_context ioc;
  store::Store store(ioc, test::test_config(db.url()), "test:1");
  store.start();
  auto job = make_job();
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return store.status().migrated; }, 10s));
    auto& jobs = store.repository();
    co_await jobs.insert(job);
    // Committed: another connection sees the row at once.
    CHECK(db.scalar("select state from crawl_jobs where id = '" + job.id + "'") == "queued");

    job.state = jobs::JobState::running;
    job.started_at = jobs::Clock::now();
    CHECK(co_await jobs.change_state(job));
    crawl::CrawlProgress progress{3, 40, 2, 5000, 1};
    CHECK(co_await jobs.record_progress(job.id, progress));
    job.state = jobs::JobState::cancelled;
    job.stop_reason = jobs::StopReason::user_request;
    job.error = "cancelled by operator: \\ and ' and \"";
    job.finished_at = jobs::Clock::now();
    CHECK(co_await jobs.change_state(job));

    auto found = co_await jobs.find(job.id);
    REQUIRE(found.has_value());
    CHECK(found->state == jobs::JobState::cancelled);
    CHECK(found->stop_reason == jobs::StopReason::user_request);
    CHECK(found->error == job.error);
    CHECK(found->idempotency_key == job.idempotency_key);
    CHECK(found->progress.fetched == 40);
    CHECK(found->progress.skipped == 1);
    CHECK(found->started_at.has_value());
    auto listed = co_await jobs.list(jobs::JobState::cancelled, 10);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id == job.id);
    CHECK((co_await jobs.list(jobs::JobState::queued, 10)).empty());

    // A row that is not there: nothing changes, and the caller is told.
    auto unknown = make_job();
    CHECK_FALSE(co_await jobs.change_state(unknown));
    CHECK_FALSE(co_await jobs.record_progress(unknown.id, progress));
    // A second insert of the same id is refused by the primary key.
    CHECK_THROWS(co_await jobs.insert(job));
  });
  CHECK(db.scalar("select count(*) from crawl_jobs") == "1");
}

TEST_CASE("a read that gives up cancels its statement on the server", "[db][store]") {
  test::TestDatabase db;
  store::migrate_database(db.url());
  auto config = test::test_config(db.url());
  config.read_timeout_ms = 300;
  config.statement_timeout_ms = 60'000;  // only the cancel can end the statement in time
  asio::io_context ioc;
  store::Store store(ioc, config, "test:1");
  store.start();
  // Another session holds a lock that every read of crawl_jobs waits for.
  pqxx::connection locker(db.url());
  pqxx::work lock(locker);
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return store.status().migrated; }, 10s));
    lock.exec("lock table crawl_jobs in access exclusive mode");
    auto waiting = [&] {
      return db.scalar("select count(*) from pg_stat_activity where application_name = 'crawld'"
                       " and wait_event_type = 'Lock'");
    };
    auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(co_await store.repository().find(jobs::new_job_id()), store::StoreUnavailable);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    // The statement no longer waits on the server, though the lock is held.
    CHECK(co_await test::eventually([&] { return waiting() == "0"; }, 5s));
    lock.abort();
    // The connection is usable again.
    CHECK((co_await store.repository().list(std::nullopt, 10)).empty());
  });
}
