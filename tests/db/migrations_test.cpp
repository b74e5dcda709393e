#include "crawld/store/migrations.hpp"
#include "crawld/store/schema.hpp"
#include "crawld/store/store.hpp"
#include "pg_support.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <thread>

using namespace crawld;
using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST_CASE("migrations create the schema on a fresh database", "[db][migrations]") {
  test::TestDatabase db;
  auto outcome = store::migrate_database(db.url());
  CHECK(outcome.before == 0);
  CHECK(outcome.after == store::binary_schema_version());
  CHECK_FALSE(outcome.refused);
  CHECK(outcome.applied.size() == store::migrations().size());
  for (const char* table : {"crawl_jobs", "crawl_pages", "crawl_job_events", "schema_migrations"}) {
    CHECK(db.scalar(std::string("select to_regclass('") + table + "') is not null") == "t");
  }
  CHECK(db.scalar("select count(*) from schema_migrations") == std::to_string(store::migrations().size()));
  CHECK(db.scalar("select name from schema_migrations where version = 1") == "0001_initial");
}

TEST_CASE("page rows keep their constraints after every migration", "[db][migrations]") {
  test::TestDatabase db;
  store::migrate_database(db.url());
  db.exec("insert into crawl_jobs (id, target, season, deep, params, state, created_at)"
          " values ('11111111-1111-4111-8111-111111111111', 't', 2024, false, '{}', 'running', now())");
  auto insert_page = [&](const std::string& url, const std::string& sha256) {
    db.exec("insert into crawl_pages (job_id, url, depth, status, sha256) values"
            " ('11111111-1111-4111-8111-111111111111', '" + url + "', 0, 200, " + sha256 + ")");
  };
  CHECK_NOTHROW(insert_page("http://a/1", "'" + std::string(64, 'f') + "'"));
  CHECK_NOTHROW(insert_page("http://a/2", "null"));
  CHECK_THROWS(insert_page("http://a/3", "'abc'"));                                        // not a digest
  CHECK_THROWS(insert_page("http://a/1", "null"));                                         // same job and URL
  CHECK_THROWS(db.exec("insert into crawl_pages (job_id, url, depth, status) values"        // no such job
                       " ('22222222-2222-4222-8222-222222222222', 'http://a/4', 0, 200)"));
  CHECK(db.scalar("select count(*) from crawl_pages") == "2");
}

TEST_CASE("re-running the migrations is a no-op", "[db][migrations]") {
  test::TestDatabase db;
  store::migrate_database(db.url());
  auto applied_at = db.scalar("select applied_at::text from schema_migrations where version = 1");
  auto again = store::migrate_database(db.url());
  CHECK(again.applied.empty());
  CHECK(again.before == again.after);
  CHECK(db.scalar("select applied_at::text from schema_migrations where version = 1") == applied_at);
}

TEST_CASE("instances migrating at once apply each version once", "[db][migrations]") {
  test::TestDatabase db;
  std::vector<std::future<store::MigrationOutcome>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&] { return store::migrate_database(db.url()); }));
  }
  std::size_t applied = 0;
  for (auto& run : runs) {
    auto outcome = run.get();  // none fails
    CHECK_FALSE(outcome.refused);
    applied += outcome.applied.size();
  }
  CHECK(applied == store::migrations().size());
  CHECK(db.scalar("select count(*) from schema_migrations") == std::to_string(store::migrations().size()));
}

TEST_CASE("a database newer than the binary is refused and writes are held", "[db][migrations]") {
  test::TestDatabase db;
  store::migrate_database(db.url());
  db.exec("insert into schema_migrations (version, name) values (9999, '9999_from_the_future')");
  auto outcome = store::migrate_database(db.url());
  CHECK(outcome.refused);
  CHECK(outcome.message.find("newer") != std::string::npos);

  asio::io_context ioc;
  store::Store store(ioc, test::test_config(db.url()), "test:1");
  store.start();
  test::run_with_store(
      ioc, store,
      [&]() -> asio::awaitable<void> {
        CHECK(co_await test::eventually([&] { return store.status().refused; }, 10s));
        auto status = store.status();
        CHECK_FALSE(status.ready());
        CHECK(status.last_error.find("newer than this binary") != std::string::npos);

        jobs::Job job;
        job.id = jobs::new_job_id();
        job.params.target = "t";
        job.created_at = jobs::Clock::now();
        store.job_created(job);
        // Held in memory, not written, and not dropped.
        asio::steady_timer timer(ioc, 300ms);
        co_await timer.async_wait(asio::use_awaitable);
        CHECK(store.status().backlog_jobs == 1);
        CHECK(db.scalar("select count(*) from crawl_jobs") == "0");
        // Reads answer "unavailable" at once.
        CHECK_THROWS_AS(co_await store.repository().list(std::nullopt, 10), store::StoreUnavailable);
      },
      100ms);
  CHECK(db.scalar("select max(version) from schema_migrations") == "9999");
}
