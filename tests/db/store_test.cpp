#include "crawld/store/store.hpp"
#include "crawld/store/schema.hpp"
#include "pg_support.hpp"
#include "store/queries.hpp"
#include "store/statements.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace crawld;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

jobs::Job make_job(bool log_to_db = true) {
  jobs::Job job;
  job.id = jobs::new_job_id();
  job.params.target = "site";
  job.params.season = 2024;
  job.params.deep = true;
  job.params.timeout_s = 60;
  job.params.log_to_db = log_to_db;
  job.created_at = jobs::Clock::now();
  job.instance_id = "test:1";
  return job;
}

crawl::PageResult make_page(int i) {
  crawl::PageResult page;
  page.url = "http://site.test/page/" + std::to_string(i);
  page.final_url = page.url;
  page.depth = static_cast<std::uint32_t>(i % 4);
  page.status = 200;
  page.content_type = "text/html";
  page.bytes = 1000 + i;
  page.title = "Page " + std::to_string(i);
  page.sha256 = std::string(64, 'a');
  page.elapsed_ms = 5;
  return page;
}

// Pages `from` to `to` - 1 of `job`, as the writer would batch them.
void add_pages(store::Batch& batch, const jobs::Job& job, int from, int to) {
  for (int i = from; i < to; ++i) batch.pages.push_back({job.id, make_page(i), jobs::Clock::now()});
}

// A migrated database, a connection of the writer's kind to it, and one job
// to write rows for.
struct WriterFixture {
  test::TestDatabase db;
  pqxx::connection connection{migrated_url(db)};
  jobs::Job job = make_job();

  WriterFixture() { store::statements::prepare_all(connection); }  // as the pool does on every connection

  static std::string migrated_url(const test::TestDatabase& db) {
    store::migrate_database(db.url());
    return db.url();
  }
};

std::string count_pages(const test::TestDatabase& db, const std::string& job_id) {
  return db.scalar("select count(*) from crawl_pages where job_id = '" + job_id + "'");
}

std::string count_distinct_urls(const test::TestDatabase& db, const std::string& job_id) {
  return db.scalar("select count(distinct url) from crawl_pages where job_id = '" + job_id + "'");
}

}  // namespace

TEST_CASE("pages, jobs and events land exactly once and read back", "[db][store]") {
  test::TestDatabase db;
  asio::io_context ioc;
  store::Store store(ioc, test::test_config(db.url()), "test:1");
  store.start();
  auto job = make_job();
  constexpr int pages = 1000;
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    store.job_created(job);
    store.job_event(job, "info", "job accepted");
    job.state = jobs::JobState::running;
    job.started_at = jobs::Clock::now();
    store.job_changed(job);
    auto sink = store.page_sink(job);
    for (int i = 0; i < pages; ++i) co_await sink->on_page(make_page(i));
    job.progress.fetched = pages;
    job.progress.bytes = 12345;
    job.state = jobs::JobState::succeeded;
    job.finished_at = jobs::Clock::now();
    store.job_changed(job);
    store.job_event(job, "info", "job succeeded");
    CHECK(co_await store.flush(20s));
    CHECK(store.status().ready());
    CHECK(store.status().pages_written == pages);

    // Pages by keyset pagination: every page once, in id order.
    std::set<std::string> urls;
    std::int64_t after = 0;
    std::size_t calls = 0;
    while (true) {
      auto page = co_await store.repository().pages(job.id, after, 128);
      ++calls;
      if (page.empty()) break;
      for (const auto& record : page) {
        CHECK(record.id > after);
        after = record.id;
        urls.insert(record.page.url);
      }
    }
    CHECK(urls.size() == pages);
    CHECK(calls == 9);
    auto first = co_await store.repository().pages(job.id, 0, 1);
    REQUIRE(first.size() == 1);
    CHECK(first[0].page.url == "http://site.test/page/0");
    CHECK(first[0].page.title == "Page 0");
    CHECK(first[0].page.sha256 == std::string(64, 'a'));
    CHECK(first[0].page.bytes == 1000);

    auto events = co_await store.repository().events(job.id, 0, 100);
    REQUIRE(events.size() == 2);
    CHECK(events[0].message == "job accepted");
    CHECK(events[1].message == "job succeeded");

    auto found = co_await store.repository().find(job.id);
    REQUIRE(found);
    CHECK(found->state == jobs::JobState::succeeded);
    CHECK(found->params == job.params);
    CHECK(found->progress.fetched == pages);
    CHECK(found->progress.bytes == 12345);
    CHECK(jobs::format_time(found->created_at) == jobs::format_time(job.created_at));
    CHECK(found->finished_at.has_value());
    CHECK_FALSE((co_await store.repository().find(jobs::new_job_id())).has_value());
    auto listed = co_await store.repository().list(jobs::JobState::succeeded, 10);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id == job.id);
    CHECK((co_await store.repository().list(jobs::JobState::running, 10)).empty());
  });
  CHECK(count_pages(db, job.id) == std::to_string(pages));
  CHECK(count_distinct_urls(db, job.id) == std::to_string(pages));
}

TEST_CASE("events and pages share each batch, so a flood of events cannot hold pages back", "[db][store]") {
  test::TestDatabase db;
  asio::io_context ioc;
  auto config = test::test_config(db.url());
  config.batch_rows = 10;
  store::Store store(ioc, config, "test:1");
  auto job = make_job();
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    // Queued before the writer starts: 300 events ahead of 30 pages, 10 rows
    // a batch.
    store.job_created(job);
    for (int i = 0; i < 300; ++i) store.job_event(job, "info", "event " + std::to_string(i));
    auto sink = store.page_sink(job);
    for (int i = 0; i < 30; ++i) co_await sink->on_page(make_page(i));
    store.start();
    CHECK(co_await store.flush(20s));
  });
  CHECK(count_pages(db, job.id) == "30");
  CHECK(db.scalar("select count(*) from crawl_job_events where job_id = '" + job.id + "'") == "300");
  // Batches are written one after another, each in its own transaction, so
  // the transaction ids (xmin) of their rows grow batch by batch. The first
  // 6 batches held 5 events and 5 pages each, the other 27 batches 10 events:
  // the pages did not wait behind the 300 events.
  auto event_tx = [&](int n) {  // the n-th batch's transaction id, 1-based
    const std::string batches = "select distinct xmin::text::bigint as x from crawl_job_events";
    return db.scalar("select x from (" + batches + ") t order by x offset " + std::to_string(n - 1) + " limit 1");
  };
  CHECK(db.scalar("select count(distinct xmin::text) from crawl_job_events") == "33");
  CHECK(db.scalar("select count(*) from crawl_job_events where xmin::text::bigint = " + event_tx(1)) == "5");
  CHECK(db.scalar("select count(distinct xmin::text) from crawl_pages") == "6");
  CHECK(db.scalar("select count(*) from crawl_pages where xmin::text::bigint < " + event_tx(2)) == "5");
  CHECK(db.scalar("select count(*) from crawl_pages where xmin::text::bigint < " + event_tx(7)) == "30");
}

TEST_CASE_METHOD(WriterFixture, "a retried batch does not duplicate rows", "[db][store]") {
  store::Batch batch;
  batch.jobs.push_back(job);
  add_pages(batch, job, 0, 120);
  // The first attempt committed but its answer was lost; the writer retries.
  auto first = store::write_batch(connection, batch);
  auto retry = store::write_batch(connection, batch);
  CHECK(first.pages_inserted == 120);
  CHECK(retry.pages_inserted == 0);
  CHECK(retry.rejected.empty());
  CHECK(count_pages(db, job.id) == "120");
  CHECK(db.scalar("select count(*) from crawl_jobs") == "1");
}

TEST_CASE_METHOD(WriterFixture, "a batch that overlaps rows already written inserts only the new ones", "[db][store]") {
  store::Batch first;
  first.jobs.push_back(job);
  add_pages(first, job, 0, 50);
  CHECK(store::write_batch(connection, first).pages_inserted == 50);
  // Rows 25..99: half of them are there already.
  store::Batch second;
  second.events.push_back({job.id, jobs::Clock::now(), "info", "second batch"});
  add_pages(second, job, 25, 100);
  auto result = store::write_batch(connection, second);
  CHECK(result.pages_inserted == 50);
  CHECK_FALSE(result.row_by_row);
  CHECK(result.rejected.empty());
  CHECK(count_pages(db, job.id) == "100");
  CHECK(count_distinct_urls(db, job.id) == "100");
  // The events of the batch landed beside the pages.
  CHECK(db.scalar("select count(*) from crawl_job_events where message = 'second batch'") == "1");
}

TEST_CASE_METHOD(WriterFixture, "a batch of many jobs inserts new ones and updates known ones in place",
                 "[db][store]") {
  // More jobs than one statement takes (500 rows), so several multi-row
  // upserts run; half of the jobs are known already and change state.
  std::vector<jobs::Job> jobs_list;
  for (int i = 0; i < 1200; ++i) jobs_list.push_back(make_job());
  store::Batch first;
  first.jobs.assign(jobs_list.begin(), jobs_list.begin() + 600);
  CHECK(store::write_batch(connection, first).rejected.empty());

  for (auto& job : jobs_list) {
    job.state = jobs::JobState::succeeded;
    job.started_at = job.created_at;
    job.finished_at = jobs::Clock::now();
    job.progress.fetched = 7;
    job.error = "it's done";  // a quote inside the text
  }
  store::Batch second;
  second.jobs = jobs_list;
  auto result = store::write_batch(connection, second);
  CHECK_FALSE(result.row_by_row);
  CHECK(result.rejected.empty());
  CHECK(db.scalar("select count(*) from crawl_jobs") == "1200");
  CHECK(db.scalar("select count(*) from crawl_jobs where state = 'succeeded' and fetched = 7"
                  " and error = 'it''s done' and finished_at is not null") == "1200");
  CHECK(db.scalar("select state from crawl_jobs where id = '" + jobs_list[1199].id + "'") == "succeeded");
}

TEST_CASE_METHOD(WriterFixture, "text with COPY's special characters reads back unchanged", "[db][store]") {
  store::Batch batch;
  batch.jobs.push_back(job);
  auto page = make_page(1);
  page.title = "a\tb\nc\rd\\e \\N \\. f'g";
  page.url = "http://site.test/a\\b?q=1\t2";
  page.error = "\\N";
  page.final_url.clear();
  page.sha256.clear();
  batch.pages.push_back({job.id, page, jobs::Clock::now()});
  CHECK(store::write_batch(connection, batch).pages_inserted == 1);
  auto records = store::select_pages(connection, job.id, 0, 10);
  REQUIRE(records.size() == 1);
  CHECK(records[0].page.title == page.title);
  CHECK(records[0].page.url == page.url);
  CHECK(records[0].page.error == page.error);
  // Empty text is stored as NULL, not as an empty string.
  CHECK(db.scalar("select count(*) from crawl_pages where final_url is null and sha256 is null") == "1");
  CHECK(db.scalar("select count(*) from crawl_pages where error = '\\N'") == "1");
}

TEST_CASE("a row the schema rejects becomes a job event, the others land", "[db][store]") {
  test::TestDatabase db;
  asio::io_context ioc;
  store::Store store(ioc, test::test_config(db.url()), "test:1");
  store.start();
  auto job = make_job();
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    store.job_created(job);
    auto sink = store.page_sink(job);
    for (int i = 0; i < 10; ++i) co_await sink->on_page(make_page(i));
    // Text the sanitizer repairs: NUL bytes and invalid UTF-8.
    auto dirty = make_page(10);
    dirty.title = std::string("bad\0title \xff\xfe end", 16);
    co_await sink->on_page(dirty);
    // A URL longer than the schema allows: no cleaning can fix it.
    auto too_long = make_page(11);
    too_long.url = "http://site.test/" + std::string(3000, 'x');
    co_await sink->on_page(too_long);
    for (int i = 12; i < 20; ++i) co_await sink->on_page(make_page(i));
    CHECK(co_await store.flush(20s));
    CHECK(store.status().rows_rejected == 1);
    auto events = co_await store.repository().events(job.id, 0, 100);
    REQUIRE(events.size() == 1);
    CHECK(events[0].level == "error");
    CHECK(events[0].message.find("not recorded") != std::string::npos);
    CHECK(events[0].message.find("http://site.test/xxx") != std::string::npos);
    CHECK(events[0].message.find("check constraint") != std::string::npos);
  });
  CHECK(count_pages(db, job.id) == "19");
  CHECK(db.scalar("select title from crawl_pages where url = 'http://site.test/page/10'") ==
        "badtitle \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST_CASE("log_to_db=false writes no page rows but keeps the job and its events", "[db][store]") {
  test::TestDatabase db;
  asio::io_context ioc;
  store::Store store(ioc, test::test_config(db.url()), "test:1");
  store.start();
  auto job = make_job(false);
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    store.job_created(job);
    store.job_event(job, "info", "crawl started");
    auto sink = store.page_sink(job);
    for (int i = 0; i < 30; ++i) co_await sink->on_page(make_page(i));
    CHECK(co_await store.flush(20s));
  });
  CHECK(count_pages(db, job.id) == "0");
  CHECK(db.scalar("select count(*) from crawl_jobs where id = '" + job.id + "'") == "1");
  CHECK(db.scalar("select (params->>'log_to_db') from crawl_jobs") == "false");
  CHECK(db.scalar("select count(*) from crawl_job_events") == "1");
}

TEST_CASE("restart recovery marks this instance's stale jobs interrupted", "[db][store]") {
  test::TestDatabase db;
  store::migrate_database(db.url());
  auto insert = [&](const std::string& id, const std::string& state, const std::string& instance) {
    db.exec("insert into crawl_jobs (id, target, season, deep, state, created_at, instance_id) values ('" + id +
            "', 'site', 2024, false, '" + state + "', now() - interval '1 hour', '" + instance + "')");
  };
  auto running = jobs::new_job_id(), queued = jobs::new_job_id(), done = jobs::new_job_id(), other = jobs::new_job_id();
  insert(running, "running", "test:1");
  insert(queued, "queued", "test:1");
  insert(done, "succeeded", "test:1");
  insert(other, "running", "other:2");

  asio::io_context ioc;
  store::Store store(ioc, test::test_config(db.url()), "test:1");
  store.start();
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return store.status().migrated; }, 10s));
    auto job = co_await store.repository().find(running);
    REQUIRE(job);
    CHECK(job->state == jobs::JobState::interrupted);
    CHECK(job->stop_reason == jobs::StopReason::shutdown);
    CHECK(job->finished_at.has_value());
    CHECK_FALSE(job->error.empty());
    auto events = co_await store.repository().events(running, 0, 10);
    REQUIRE(events.size() == 1);
    CHECK(events[0].message.find("interrupted") != std::string::npos);
  });
  auto state_of = [&](const std::string& id) {
    return db.scalar("select state from crawl_jobs where id = '" + id + "'");
  };
  CHECK(state_of(running) == "interrupted");
  CHECK(state_of(queued) == "interrupted");
  CHECK(state_of(done) == "succeeded");
  CHECK(state_of(other) == "running");
  CHECK(db.scalar("select count(*) from crawl_job_events where job_id = '" + queued + "'") == "1");
  CHECK(db.scalar("select count(*) from crawl_jobs where state in ('queued', 'running') and instance_id = 'test:1'") ==
        "0");
}

TEST_CASE("a slow database does not block the loop, and reads time out", "[db][store]") {
  test::TestDatabase db;
  store::migrate_database(db.url());
  // Every page insert statement takes a second.
  db.exec(
      "create function slow_down() returns trigger language plpgsql as "
      "$$ begin perform pg_sleep(1); return null; end $$");
  db.exec("create trigger slow before insert on crawl_pages for each statement execute function slow_down()");

  auto config = test::test_config(db.url());
  config.threads = 1;  // the read below has to wait behind the slow write
  config.read_timeout_ms = 300;
  asio::io_context ioc;
  store::Store store(ioc, config, "test:1");
  store.start();
  auto job = make_job();
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return store.status().migrated; }, 10s));
    store.job_created(job);
    auto sink = store.page_sink(job);
    for (int i = 0; i < 120; ++i) co_await sink->on_page(make_page(i));

    // A 10 ms timer on the loop keeps firing on time while the writer waits.
    asio::steady_timer timer(ioc);
    std::chrono::steady_clock::duration worst{};
    auto until = std::chrono::steady_clock::now() + 2500ms;
    bool read_timed_out = false;
    std::chrono::steady_clock::duration read_took{};
    while (std::chrono::steady_clock::now() < until) {
      auto due = std::chrono::steady_clock::now() + 10ms;
      timer.expires_at(due);
      co_await timer.async_wait(asio::use_awaitable);
      worst = std::max(worst, std::chrono::steady_clock::now() - due);
      if (!read_timed_out && store.status().backlog_pages > 0) {
        auto started = std::chrono::steady_clock::now();
        try {
          co_await store.repository().pages(job.id, 0, 10);
        } catch (const store::StoreUnavailable&) {
          read_timed_out = true;
          read_took = std::chrono::steady_clock::now() - started;
        }
      }
    }
    CHECK(worst < 40ms);
    CHECK(read_timed_out);
    CHECK(read_took < 1s);
    CHECK(co_await store.flush(30s));
  });
  CHECK(count_pages(db, job.id) == "120");
}
