// Tests that take the database down: each runs against a cluster of its own
// so the other database tests are not disturbed.
#include "crawld/store/store.hpp"
#include "pg_support.hpp"

#include <catch2/catch.hpp>

using namespace crawld;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

jobs::Job make_job() {
  jobs::Job job;
  job.id = jobs::new_job_id();
  job.params.target = "site";
  job.params.season = 2024;
  job.created_at = jobs::Clock::now();
  job.instance_id = "test:1";
  return job;
}

crawl::PageResult make_page(int i) {
  crawl::PageResult page;
  page.url = "http://site.test/" + std::to_string(i);
  page.status = 200;
  page.bytes = 100;
  return page;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

TEST_CASE("an outage mid-crawl loses and duplicates nothing", "[db][outage]") {
  test::ThrowawayCluster cluster;
  test::TestDatabase db(cluster.url());
  auto config = test::test_config(db.url());
  config.batch_rows = 20;
  asio::io_context ioc;
  store::Store store(ioc, config, "test:1");
  store.start();
  auto job = make_job();
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return store.status().ready(); }, 10s));
    store.job_created(job);
    auto sink = store.page_sink(job);
    int written = 0;
    for (; written < 200; ++written) co_await sink->on_page(make_page(written));

    co_await test::off_loop([&] { cluster.stop(); });
    for (; written < 500; ++written) {
      co_await sink->on_page(make_page(written));
      if (written % 50 == 0) co_await sleep_for(50ms);  // a crawl's pace
    }
    CHECK(co_await test::eventually([&] { return !store.status().up; }, 10s));
    CHECK_FALSE(store.status().ready());
    CHECK_FALSE(store.status().last_error.empty());
    CHECK(store.status().backlog_pages > 0);
    CHECK_THROWS_AS(co_await store.repository().pages(job.id, 0, 10), store::StoreUnavailable);
    co_await sleep_for(3s);

    co_await test::off_loop([&] { cluster.start(); });
    CHECK(co_await store.flush(30s));
    CHECK(store.status().ready());
  });
  CHECK(db.scalar("select count(*) from crawl_pages") == "500");
  CHECK(db.scalar("select count(distinct url) from crawl_pages") == "500");
  CHECK(db.scalar("select count(*) from crawl_jobs") == "1");
}

TEST_CASE("back-pressure: a full backlog pauses the crawl until the database returns", "[db][outage]") {
  test::ThrowawayCluster cluster;
  test::TestDatabase db(cluster.url());
  auto config = test::test_config(db.url());
  config.max_backlog_rows = 10;
  config.batch_rows = 5;
  asio::io_context ioc;
  store::Store store(ioc, config, "test:1");
  store.start();
  auto job = make_job();
  test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return store.status().ready(); }, 10s));
    store.job_created(job);
    auto sink = store.page_sink(job);
    co_await test::off_loop([&] { cluster.stop(); });

    // The "crawl": hands over 60 pages as fast as the sink lets it.
    int handed_over = 0;
    bool finished = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 60; ++i) {
            co_await sink->on_page(make_page(i));
            ++handed_over;
          }
          finished = true;
        },
        asio::detached);
    co_await sleep_for(1500ms);
    int paused_at = handed_over;
    CHECK(paused_at <= 11);
    co_await sleep_for(1000ms);
    CHECK(handed_over == paused_at);  // still paused, nothing dropped
    CHECK(store.status().backlog_pages == 10);

    co_await test::off_loop([&] { cluster.start(); });
    CHECK(co_await test::eventually([&] { return finished; }, 30s));
    CHECK(co_await store.flush(30s));
  });
  CHECK(db.scalar("select count(*) from crawl_pages") == "60");
  CHECK(db.scalar("select count(distinct url) from crawl_pages") == "60");
}
