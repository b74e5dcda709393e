// ClusterRepository against a real PostgreSQL: group accept, claims,
// leases, fencing of the write-behind rows, rescue and cancel. Two stores
// on one database play two instances.
#include "crawld/store/cluster_repository.hpp"
#include "crawld/store/store.hpp"
#include "pg_support.hpp"
#include "store/db_pool.hpp"
#include "store/queries.hpp"
#include "store/rows.hpp"
#include "store/statements.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

namespace asio = boost::asio;
using namespace crawld;
using namespace std::chrono_literals;

namespace {

jobs::Job queued_job(std::int64_t season, std::string key = {}) {
  jobs::Job job;
  job.id = jobs::new_job_id();
  job.params.target = "site";
  job.params.season = season;
  job.params.timeout_s = 60;
  job.created_at = jobs::Clock::now();
  job.idempotency_key = std::move(key);
  return job;
}

ClusterConfig cluster_config(std::uint32_t lease_ms = 60'000) {
  ClusterConfig c;
  c.enabled = true;
  c.lease_ms = lease_ms;
  c.heartbeat_ms = lease_ms / 4;
  c.max_attempts = 2;
  return c;
}

// Nothing awaited inside CHECK(): Catch repeats the expression in a branch
// that never runs, and GCC 12 still runs the co_await there.

// One submission, as a named vector (a braced list inside a co_await
// expression trips GCC 12).
std::vector<store::SubmitRow> one(const jobs::Job& job) { return {store::SubmitRow{job, std::string()}}; }

std::vector<store::HeldAttempt> held(const std::string& id, std::uint32_t attempt) { return {{id, attempt}}; }

std::string dedup(const jobs::Job& job) { return std::to_string(job.params.season) + "|site"; }

// One instance's store in cluster mode, on a database of its own.
struct ClusterNode {
  explicit ClusterNode(const ClusterConfig& config)
      : store(ioc, test::test_config(db.url()), "node-1"), cluster(store.enable_cluster(config)) {
    store.start();
  }

  // Runs body(db, store, cluster) on the loop once the schema is migrated.
  template <class Body>
  void run(Body body) {
    test::run_with_store(ioc, store, [&]() -> asio::awaitable<void> {
      bool migrated = co_await test::eventually([&] { return store.status().migrated; }, 10s);
      REQUIRE(migrated);
      co_await body(db, store, cluster);
    });
  }

  test::TestDatabase db;
  asio::io_context ioc;
  store::Store store;
  store::ClusterRepository& cluster;
};

using Db = test::TestDatabase;

}  // namespace

TEST_CASE("a group of submissions is answered row by row in one transaction", "[db][cluster]") {
  ClusterNode node(cluster_config());
  node.run([&](Db& db, store::Store&, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    auto first = queued_job(2000, "key-1");
    auto same_key = queued_job(2000, "key-1");
    auto other_params = queued_job(2001, "key-1");
    auto duplicate = queued_job(2000);
    auto other = queued_job(2002);
    std::vector<store::SubmitRow> rows;
    for (const auto* job : {&first, &same_key, &other_params, &duplicate}) rows.push_back({*job, dedup(*job)});
    rows.push_back({other, std::string()});
    auto answers = co_await cluster.submit(rows, 100);
    REQUIRE(answers.size() == 5);
    CHECK(answers[0].outcome == store::SubmitOutcome::created);
    CHECK(answers[1].outcome == store::SubmitOutcome::replayed);
    CHECK(answers[1].job_id == first.id);
    CHECK(answers[2].outcome == store::SubmitOutcome::mismatch);
    CHECK(answers[3].outcome == store::SubmitOutcome::duplicate);
    CHECK(answers[3].job_id == first.id);
    CHECK(answers[4].outcome == store::SubmitOutcome::created);
    CHECK(db.scalar("select count(*) from crawl_jobs where state = 'queued'") == "2");
    CHECK(db.scalar("select count(*) from crawl_job_events where message = 'job accepted by node-1'") == "2");

    // With free slots, the accepting instance claims the jobs with its
    // commit; a full queue (2 queued, bound 2) does not refuse them. Rows
    // with neither key go in by one statement, a row with a key by the
    // function: the same answers, rows and events.
    for (bool keyed : {false, true}) {
      std::vector<store::SubmitRow> claiming;
      for (int i = 0; i < 3; ++i) {
        claiming.push_back({queued_job(2010 + i, keyed && i == 1 ? "key-2" : ""), std::string(), true});
      }
      auto claimed = co_await cluster.submit(claiming, 2);
      REQUIRE(claimed.size() == 3);
      std::string ids;
      for (std::size_t i = 0; i < 3; ++i) {
        CHECK(claimed[i].outcome == store::SubmitOutcome::claimed);
        CHECK(claimed[i].job_id == claiming[i].job.id);
        CHECK(db.scalar("select state || ' ' || instance_id || ' ' || attempt || ' ' || (lease_until > now())"
                        " || ' ' || (deadline_at > now() + interval '59 seconds') from crawl_jobs where id = '" +
                        claiming[i].job.id + "'") == "running node-1 1 true true");
        ids += (i == 0 ? "" : ",") + claiming[i].job.id;
      }
      CHECK(db.scalar("select count(distinct job_id) || ' ' || count(*) from crawl_job_events"
                      " where message = 'job accepted by node-1' and job_id = any('{" +
                      ids + "}'::uuid[])") == "3 3");
    }
    CHECK(db.scalar("select count(*) from crawl_idempotency_keys where key = 'key-2'") == "1");

    // The queue bound counts what is queued cluster-wide.
    auto full = co_await cluster.submit(one(queued_job(2003)), 2);
    REQUIRE(full.size() == 1);
    CHECK(full[0].outcome == store::SubmitOutcome::queue_full);
  });
}

TEST_CASE("a group sent on a connection that died while idle is stored once, on a fresh one", "[db][cluster]") {
  ClusterNode node(cluster_config());
  node.run([&](Db& db, store::Store&, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    // Both pool connections in use once, then ended by the server (as a
    // restart or an administrator does) while idle.
    auto warm_a = queued_job(2000);
    auto warm_b = queued_job(2001);
    std::vector<store::SubmitRow> warm{{warm_a, dedup(warm_a)}};
    auto first = co_await cluster.submit(warm, 100);
    warm = {{warm_b, dedup(warm_b)}};
    auto second = co_await cluster.submit(warm, 100);
    REQUIRE(first.size() == 1);
    REQUIRE(second.size() == 1);
    auto pids = db.scalar("select string_agg(pid::text, ',') from pg_stat_activity"
                          " where application_name = 'crawld' and datname = current_database()");
    REQUIRE(!pids.empty());
    db.scalar("select count(pg_terminate_backend(pid)) from unnest('{" + pids + "}'::int[]) as pid");
    CHECK(co_await test::eventually(
        [&] { return db.scalar("select count(*) from pg_stat_activity where pid = any('{" + pids + "}')") == "0"; },
        10s));
    // Each group lands once: no error for the dead connection, and no
    // second insert of a group whose first try reached the server (with a
    // dedup key, that would answer "duplicate" naming the job itself).
    for (std::int64_t season = 2002; season < 2006; ++season) {
      auto job = queued_job(season);
      std::vector<store::SubmitRow> rows{{job, dedup(job)}};
      auto answers = co_await cluster.submit(rows, 100);
      REQUIRE(answers.size() == 1);
      CHECK(answers[0].outcome == store::SubmitOutcome::created);
      CHECK(answers[0].job_id == job.id);
    }
    CHECK(db.scalar("select count(*) from crawl_jobs where state = 'queued'") == "6");
    CHECK(db.scalar("select count(*) from crawl_job_events where message = 'job accepted by node-1'") == "6");
  });
}

TEST_CASE("claims take each queued job once, oldest first, and count the attempt", "[db][cluster]") {
  test::TestDatabase db;
  asio::io_context ioc;
  store::Store one(ioc, test::test_config(db.url()), "node-1");
  store::Store two(ioc, test::test_config(db.url()), "node-2");
  auto& a = one.enable_cluster(cluster_config());
  auto& b = two.enable_cluster(cluster_config());
  one.start();
  two.start();
  test::run_with_store(ioc, one, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return one.status().migrated && two.status().migrated; }, 10s));
    std::vector<store::SubmitRow> rows;
    // Accepted 1 ms apart: the API's times have millisecond resolution.
    auto at = jobs::Clock::now();
    for (int i = 0; i < 7; ++i) {
      auto job = queued_job(i < 6 ? 2000 + i : 2000);  // the last: a second copy of the first crawl
      job.created_at = at + std::chrono::milliseconds(i);
      rows.push_back({job, std::string()});
    }
    co_await a.submit(rows, 100);

    auto mine = co_await a.claim(2, false);
    REQUIRE(mine.size() == 2);
    CHECK(mine[0].job.params.season == 2000);
    CHECK(mine[1].job.params.season == 2001);
    CHECK(mine[0].job.attempt == 1);
    CHECK(mine[0].job.instance_id == "node-1");
    CHECK(mine[0].time_left > 59s);
    CHECK(mine[0].time_left <= 60s);
    // one_per_crawl: the copy of 2000 waits while 2000 runs anywhere.
    auto theirs = co_await b.claim(10, true);
    CHECK(theirs.size() == 4);
    for (const auto& c : theirs) CHECK(c.job.params.season != 2000);
    auto got1 = co_await b.claim(10, true);
    CHECK(got1.empty());
    // Without the rule it is taken.
    auto got2 = co_await b.claim(10, false);
    CHECK(got2.size() == 1);
    CHECK(db.scalar("select count(*) from crawl_jobs where state = 'running'") == "7");
    CHECK(db.scalar("select count(distinct instance_id) from crawl_jobs") == "2");
    co_await two.close(5s);
  });
}

TEST_CASE("rows of an attempt this instance no longer owns are not written", "[db][cluster]") {
  ClusterNode node(cluster_config(400));
  node.run([&](Db& db, store::Store& store, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    co_await cluster.submit(one(queued_job(2000)), 100);
    auto claimed = co_await cluster.claim(1, false);
    REQUIRE(claimed.size() == 1);
    auto job = claimed[0].job;

    // While the lease holds: pages and events land.
    auto sink = store.page_sink(job);
    crawl::PageResult page;
    page.url = "http://site/a";
    page.status = 200;
    co_await sink->on_page(page);
    store.job_event(job, "info", "still mine");
    auto got3 = co_await store.flush(5s);
    CHECK(got3);
    CHECK(db.scalar("select count(*) from crawl_pages where attempt = 1") == "1");

    // A renewal keeps it; one for an attempt it does not hold keeps nothing.
    auto beat = co_await cluster.heartbeat(held(job.id, job.attempt), 4, false);
    CHECK(beat.kept == std::vector<std::string>{job.id});
    auto got4 = co_await cluster.heartbeat(held(job.id, job.attempt + 1), 4, false);
    CHECK(got4.kept.empty());

    // The lease runs out: nothing of that attempt is written any more.
    co_await test::off_loop([] { std::this_thread::sleep_for(600ms); });
    page.url = "http://site/b";
    co_await sink->on_page(page);
    store.job_event(job, "info", "too late");
    job.state = jobs::JobState::failed;
    store.job_changed(job);
    auto got5 = co_await store.flush(5s);
    CHECK(got5);
    CHECK(db.scalar("select count(*) from crawl_pages") == "1");
    CHECK(db.scalar("select count(*) from crawl_job_events where message = 'too late'") == "0");
    CHECK(db.scalar("select state from crawl_jobs") == "running");
    CHECK(store.status().rows_fenced == 3);
    auto got6 = co_await cluster.heartbeat(held(job.id, job.attempt), 4, false);
    CHECK(got6.kept.empty());
  });
}

namespace {

// The server's notices on one connection. With auto_explain loaded in the
// session and client_min_messages at log, each statement's plan is one.
struct Notices : pqxx::errorhandler {
  explicit Notices(pqxx::connection_base& connection) : pqxx::errorhandler(connection) {}
  bool operator()(const char message[]) noexcept override {
    text += message;
    return true;
  }
  std::string text;
};

}  // namespace

TEST_CASE("a fenced batch finds its job rows by key, whatever the statistics say", "[db][cluster]") {
  ClusterNode node(cluster_config());
  node.run([&](Db& db, store::Store&, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    co_await cluster.submit(one(queued_job(2000)), 100);
    auto claimed = co_await cluster.claim(1, false);
    REQUIRE(claimed.size() == 1);
    auto job = claimed[0].job;
    job.state = jobs::JobState::succeeded;
    // Rows the statistics have not seen (the table was never analyzed).
    db.exec(
        "insert into crawl_jobs (id, target, season, deep, state, created_at)"
        " select gen_random_uuid(), 'other', 1, false, 'succeeded', now() from generate_series(1, 2000)");
    store::Batch batch;
    batch.owner = "node-1";
    batch.jobs = {job};
    std::string planned_alone;
    std::string plans;
    {
      // On the loop: a few statements on a connection of its own, which
      // nothing of the store waits for.
      pqxx::connection c(db.url());
      store::statements::prepare_all(c);
      c.prepare_now(store::statements::update_jobs);  // for EXPLAIN EXECUTE
      Notices notices(c);
      pqxx::nontransaction setup(c);
      setup.exec(
          "load 'auto_explain'; set auto_explain.log_min_duration = 0;"
          " set auto_explain.log_nested_statements = on; set client_min_messages = log");
      // What the planner makes of the update on its own: the whole table.
      for (const auto& row : setup.exec("explain execute " + std::string(store::statements::update_jobs) + "('" +
                                        store::jobs_json(&batch.jobs.front(), &batch.jobs.front() + 1) + "')")) {
        planned_alone += row[0].as<std::string>() + "\n";
      }
      setup.commit();
      notices.text.clear();
      store::write_batch(c, batch);
      plans = notices.text;
    }
    INFO(planned_alone);
    CHECK(planned_alone.find("Seq Scan on crawl_jobs") != std::string::npos);
    INFO(plans);
    CHECK(plans.find("update crawl_jobs") != std::string::npos);
    CHECK(plans.find("Seq Scan on crawl_jobs") == std::string::npos);
    CHECK(db.scalar("select state from crawl_jobs where id = '" + job.id + "'") == "succeeded");
  });
}

TEST_CASE("a heartbeat renews the leases a heartbeat old and reports every attempt it holds", "[db][cluster]") {
  auto config = cluster_config(4000);  // heartbeat 1 s: leases with under 3.5 s left are renewed
  ClusterNode node(config);
  node.run([&](Db& db, store::Store&, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    co_await cluster.submit(one(queued_job(2000)), 100);
    auto claimed = co_await cluster.claim(1, false);
    REQUIRE(claimed.size() == 1);
    const auto job = claimed[0].job;
    auto got = co_await cluster.cancel(job.id);
    CHECK(got == store::ClusterCancel::requested);
    const std::string lease = "select lease_until::text from crawl_jobs";
    const std::string claimed_lease = db.scalar(lease);

    // Just claimed: held and reported (with the cancel asked for), not renewed.
    auto beat = co_await cluster.heartbeat(held(job.id, job.attempt), 4, false);
    CHECK(beat.kept == std::vector<std::string>{job.id});
    CHECK(beat.cancel_requested == std::vector<std::string>{job.id});
    CHECK(db.scalar(lease) == claimed_lease);

    // A heartbeat later: renewed.
    co_await test::off_loop([&] { std::this_thread::sleep_for(std::chrono::milliseconds(config.heartbeat_ms + 200)); });
    beat = co_await cluster.heartbeat(held(job.id, job.attempt), 4, false);
    CHECK(beat.kept == std::vector<std::string>{job.id});
    CHECK(beat.cancel_requested == std::vector<std::string>{job.id});
    CHECK(db.scalar("select (lease_until > '" + claimed_lease + "'::timestamptz)::text from crawl_jobs") == "true");
  });
}

TEST_CASE("rescue re-queues an expired attempt, then interrupts it after max_attempts", "[db][cluster]") {
  ClusterNode node(cluster_config(300));
  node.run([&](Db& db, store::Store&, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    co_await cluster.submit(one(queued_job(2000)), 100);
    auto first = co_await cluster.claim(1, false);
    REQUIRE(first.size() == 1);
    // Not expired yet: nothing to rescue.
    auto got8 = co_await cluster.rescue(false, 3600);
    CHECK(got8.jobs.empty());
    CHECK(got8.queued == 0);
    co_await test::off_loop([] { std::this_thread::sleep_for(400ms); });
    auto rescue = co_await cluster.rescue(false, 3600);
    CHECK(rescue.queued == 1);
    auto rescued = rescue.jobs;
    REQUIRE(rescued.size() == 1);
    CHECK(rescued[0].state == "queued");
    CHECK(rescued[0].previous_owner == "node-1");
    CHECK(db.scalar("select instance_id from crawl_jobs") == "");

    // The second attempt gets the time left before the first claim's deadline.
    auto second = co_await cluster.claim(1, false);
    REQUIRE(second.size() == 1);
    CHECK(second[0].job.attempt == 2);
    CHECK(second[0].time_left < first[0].time_left);
    co_await test::off_loop([] { std::this_thread::sleep_for(400ms); });
    rescue = co_await cluster.rescue(false, 3600);
    rescued = rescue.jobs;
    REQUIRE(rescued.size() == 1);
    CHECK(rescued[0].state == "interrupted");
    CHECK(db.scalar("select state || ' ' || attempt from crawl_jobs") == "interrupted 2");
    CHECK(db.scalar("select count(*) from crawl_job_events where message like '%no attempts left%'") == "1");
  });
}

// A stopped owner (SIGSTOP, a frozen VM) stopped between two statements of
// a batch: its session sits idle in a transaction that holds the job's row
// lock. The server ends that session within idle_in_transaction_ms, so the
// lock goes and rescue takes the job while the owner is still stopped.
TEST_CASE("an owner stopped inside a transaction does not keep its job from rescue", "[db][cluster]") {
  auto config = cluster_config(300);
  ClusterNode node(config);
  const auto idle = std::chrono::milliseconds(store::idle_in_transaction_ms(config));
  const auto stopped_for = 4 * idle;
  store::DbPool owner(node.db.url(), 1, 60'000);
  owner.set_idle_in_transaction_timeout(store::idle_in_transaction_ms(config));
  node.run([&](Db& db, store::Store&, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    co_await cluster.submit(one(queued_job(2000)), 100);
    auto claimed = co_await cluster.claim(1, false);
    REQUIRE(claimed.size() == 1);
    const std::string id = claimed[0].job.id;

    std::atomic<bool> locked{false};
    std::atomic<bool> resumed{false};
    bool ended_by_server = false;
    auto stalled = [&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params("select 1 from crawl_jobs where id = $1::uuid for no key update", id);
      locked = true;
      std::this_thread::sleep_for(stopped_for);  // stopped
      resumed = true;
      try {
        tx.exec("select 1");
        tx.commit();
        return false;
      } catch (const std::exception&) {
        return true;  // the server ended the session
      }
    };
    bool stall_done = false;
    asio::co_spawn(
        node.ioc,
        [&]() -> asio::awaitable<void> {
          ended_by_server = co_await owner.run(stalled);
          stall_done = true;
        },
        asio::detached);
    bool got_lock = co_await test::eventually([&] { return locked.load(); }, 10s);
    REQUIRE(got_lock);

    // The lease runs out while the owner is stopped; rescue retries until
    // the lock is gone.
    std::vector<store::RescuedJob> rescued;
    bool rescued_while_stopped = false;
    for (auto until = std::chrono::steady_clock::now() + stopped_for + 5s;
         rescued.empty() && std::chrono::steady_clock::now() < until;) {
      co_await test::off_loop([] { std::this_thread::sleep_for(50ms); });
      auto rescue = co_await cluster.rescue(false, 3600);
      rescued = rescue.jobs;
      rescued_while_stopped = !resumed.load();
    }
    REQUIRE(rescued.size() == 1);
    CHECK(rescued[0].id == id);
    CHECK(rescued[0].state == "queued");
    CHECK(rescued_while_stopped);
    bool owner_resumed = co_await test::eventually([&] { return stall_done; }, stopped_for + 10s);
    CHECK(owner_resumed);
    CHECK(ended_by_server);
    CHECK(db.scalar("select state || ' ' || instance_id from crawl_jobs") == "queued ");
  });
}

TEST_CASE("a cancel from any instance: queued at once, running by request", "[db][cluster]") {
  ClusterNode node(cluster_config());
  node.run([&](Db& db, store::Store& store, store::ClusterRepository& cluster) -> asio::awaitable<void> {
    auto waiting = queued_job(2000);
    auto running = queued_job(2001);
    co_await cluster.submit(one(running), 100);
    auto claimed = co_await cluster.claim(1, false);
    REQUIRE(claimed.size() == 1);
    co_await cluster.submit(one(waiting), 100);

    auto got9 = co_await cluster.cancel(waiting.id);
    CHECK(got9 == store::ClusterCancel::cancelled);
    CHECK(db.scalar("select state from crawl_jobs where id = '" + waiting.id + "'") == "cancelled");
    auto got10 = co_await cluster.cancel(waiting.id);
    CHECK(got10 == store::ClusterCancel::ended);
    auto got11 = co_await cluster.cancel(running.id);
    CHECK(got11 == store::ClusterCancel::requested);
    auto got12 = co_await cluster.cancel(jobs::new_job_id());
    CHECK(got12 == store::ClusterCancel::not_found);
    // The owner's heartbeat learns of it.
    auto beat = co_await cluster.heartbeat(held(running.id, 1), 4, false);
    CHECK(beat.cancel_requested == std::vector<std::string>{running.id});
    // Its end is the owner's final snapshot, written behind after the
    // attempt's rows; the store says when it is committed.
    auto job = claimed[0].job;
    std::vector<std::pair<std::string, std::uint32_t>> written;
    store.on_end_written([&](const std::string& id, std::uint32_t attempt) { written.emplace_back(id, attempt); });
    auto sink = store.page_sink(job);
    crawl::PageResult page;
    page.url = "http://site/last";
    co_await sink->on_page(page);
    job.state = jobs::JobState::cancelled;
    job.stop_reason = jobs::StopReason::user_request;
    job.finished_at = jobs::Clock::now();
    store.job_changed(job);
    auto flushed = co_await store.flush(5s);
    CHECK(flushed);
    CHECK(written == std::vector<std::pair<std::string, std::uint32_t>>{{running.id, 1}});
    CHECK(db.scalar("select state from crawl_jobs where id = '" + running.id + "'") == "cancelled");
    CHECK(db.scalar("select count(*) from crawl_pages where job_id = '" + running.id + "'") == "1");
  });
}

TEST_CASE("an instance id is held by one live process at a time", "[db][cluster]") {
  test::TestDatabase db;
  asio::io_context ioc;
  store::Store one(ioc, test::test_config(db.url()), "same");
  store::Store two(ioc, test::test_config(db.url()), "same");
  auto& a = one.enable_cluster(cluster_config());
  auto& b = two.enable_cluster(cluster_config());
  one.start();
  two.start();
  test::run_with_store(ioc, one, [&]() -> asio::awaitable<void> {
    CHECK(co_await test::eventually([&] { return one.status().migrated && two.status().migrated; }, 10s));
    co_await a.register_instance(4);
    bool refused = false;
    try {
      co_await b.register_instance(4);
    } catch (const store::InstanceConflict&) {
      refused = true;
    }
    CHECK(refused);
    auto instances = co_await a.instances();
    REQUIRE(instances.size() == 1);
    CHECK(instances[0].id == "same");
    CHECK(instances[0].slots == 4);
    co_await two.close(5s);
  });
}
