// The write queue's batches: what each takes, and in cluster mode that a
// job's final snapshot is never written before the rows of its attempt.
#include "store/write_queue.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <catch2/catch.hpp>

#include <optional>
#include <set>

namespace asio = boost::asio;
using namespace crawld;

namespace {

jobs::Job job_in(jobs::JobState state) {
  jobs::Job job;
  job.id = "11111111-1111-4111-8111-111111111111";
  job.attempt = 1;
  job.state = state;
  return job;
}

void add_pages(asio::io_context& ioc, store::WriteQueue& queue, const jobs::Job& job, int n) {
  for (int i = 0; i < n; ++i) {
    crawl::PageResult page;
    page.url = "http://site/" + std::to_string(i);
    asio::co_spawn(ioc, queue.add_page(job.id, job.attempt, page), asio::detached);
  }
  ioc.run();
  ioc.restart();
}

DatabaseConfig small_batches() {
  DatabaseConfig config;
  config.batch_rows = 4;
  return config;
}

}  // namespace

TEST_CASE("cluster mode: a job's end waits for the batch of its last rows", "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  queue.fence("node-1");
  auto job = job_in(jobs::JobState::succeeded);
  add_pages(ioc, queue, job, 10);
  queue.add_job(job);
  CHECK(queue.end_pending());

  auto first = queue.take_batch();
  CHECK(first.owner == "node-1");
  CHECK(first.pages.size() == 4);
  CHECK(first.jobs.empty());  // six of its rows are still to come
  queue.committed(first);
  auto second = queue.take_batch();
  CHECK(second.pages.size() == 4);
  CHECK(second.jobs.empty());
  queue.committed(second);
  auto last = queue.take_batch();
  CHECK(last.pages.size() == 2);
  REQUIRE(last.jobs.size() == 1);  // in the batch of its last rows
  CHECK(last.jobs[0].state == jobs::JobState::succeeded);
  queue.committed(last);
  CHECK(queue.empty());
  CHECK_FALSE(queue.end_pending());
}

TEST_CASE("cluster mode: a failed batch's rows still count before the end", "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  queue.fence("node-1");
  auto job = job_in(jobs::JobState::failed);
  add_pages(ioc, queue, job, 6);
  queue.add_job(job);
  auto batch = queue.take_batch();
  CHECK(batch.jobs.empty());
  queue.failed(batch);  // nothing was written: all six rows still wait
  auto again = queue.take_batch();
  CHECK(again.pages.size() == 4);
  CHECK(again.jobs.empty());
}

TEST_CASE("standalone: snapshots go in the next batch, nothing is fenced", "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  auto job = job_in(jobs::JobState::succeeded);
  add_pages(ioc, queue, job, 10);
  queue.add_job(job);
  CHECK_FALSE(queue.end_pending());
  auto batch = queue.take_batch();
  CHECK(batch.owner.empty());
  CHECK(batch.jobs.size() == 1);
  CHECK(batch.pages.size() == 4);
}

TEST_CASE("a reader waits until the job's rows are committed, and no longer", "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  auto job = job_in(jobs::JobState::succeeded);
  add_pages(ioc, queue, job, 6);
  CHECK(queue.rows_of(job.id) == 6);
  CHECK(queue.rows_of("22222222-2222-4222-8222-222222222222") == 0);

  std::optional<bool> answer;
  auto wait = [&]() -> asio::awaitable<void> {
    answer = co_await queue.wait_written(job.id, store::WriteQueue::Steady::now() + std::chrono::seconds(30));
  };
  asio::co_spawn(ioc, wait(), asio::detached);
  ioc.poll();
  CHECK_FALSE(answer.has_value());  // six rows wait
  auto first = queue.take_batch();
  queue.committed(first);
  ioc.poll();
  CHECK_FALSE(answer.has_value());  // two still wait
  auto failed = queue.take_batch();
  queue.failed(failed);
  ioc.poll();
  CHECK_FALSE(answer.has_value());  // a failed batch wrote nothing
  auto last = queue.take_batch();
  queue.committed(last);
  ioc.poll();
  REQUIRE(answer.has_value());
  CHECK(*answer);
  CHECK(queue.rows_of(job.id) == 0);
}

TEST_CASE("a reader of rows that cannot be written gives up at its deadline", "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  auto job = job_in(jobs::JobState::failed);
  add_pages(ioc, queue, job, 1);
  std::optional<bool> answer;
  auto wait = [&]() -> asio::awaitable<void> {
    answer = co_await queue.wait_written(job.id, store::WriteQueue::Steady::now() + std::chrono::milliseconds(20));
  };
  asio::co_spawn(ioc, wait(), asio::detached);
  ioc.run_for(std::chrono::seconds(5));
  REQUIRE(answer.has_value());
  CHECK_FALSE(*answer);
  CHECK(queue.rows_of(job.id) == 1);
}

TEST_CASE("cluster mode: each job's end waits for its own rows, not for other jobs' rows", "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  queue.fence("node-1");
  auto a = job_in(jobs::JobState::succeeded);
  auto b = job_in(jobs::JobState::failed);
  b.id = "22222222-2222-4222-8222-222222222222";
  // Rows in the order A, B, A, A, A: a batch of four holds B's only row
  // and three of A's four.
  add_pages(ioc, queue, a, 1);
  add_pages(ioc, queue, b, 1);
  add_pages(ioc, queue, a, 3);
  queue.add_job(a);
  queue.add_job(b);

  auto first = queue.take_batch();
  CHECK(first.pages.size() == 4);
  REQUIRE(first.jobs.size() == 1);
  CHECK(first.jobs[0].id == b.id);
  queue.committed(first);
  auto second = queue.take_batch();
  CHECK(second.pages.size() == 1);
  REQUIRE(second.jobs.size() == 1);
  CHECK(second.jobs[0].id == a.id);
  queue.committed(second);
  CHECK(queue.empty());
}

TEST_CASE("cluster mode: a held end keeps its newest snapshot and its delivery, and goes again after a failed batch",
          "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  queue.fence("node-1");
  auto job = job_in(jobs::JobState::failed);
  job.error = "first";
  add_pages(ioc, queue, job, 6);
  queue.add_job(job);
  webhooks::Delivery delivery;
  delivery.id = "d1";
  delivery.job_id = job.id;
  delivery.job_attempt = job.attempt;
  queue.add_delivery(delivery);

  auto first = queue.take_batch();  // four of six rows: the end and its delivery wait
  CHECK(first.jobs.empty());
  CHECK(first.deliveries.empty());
  queue.committed(first);
  job.error = "newer";
  queue.add_job(job);  // a newer snapshot of the end that waits
  CHECK(queue.job_updates() == 1);
  CHECK(queue.end_pending());

  auto second = queue.take_batch();
  CHECK(second.pages.size() == 2);
  REQUIRE(second.jobs.size() == 1);
  CHECK(second.jobs[0].error == "newer");
  CHECK(second.deliveries.size() == 1);
  queue.failed(second);  // nothing written: the end comes back with its rows
  CHECK(queue.end_pending());

  auto again = queue.take_batch();
  CHECK(again.pages.size() == 2);
  REQUIRE(again.jobs.size() == 1);
  CHECK(again.jobs[0].error == "newer");
  CHECK(again.deliveries.size() == 1);
  queue.committed(again);
  CHECK(queue.empty());
  CHECK_FALSE(queue.end_pending());
}

TEST_CASE("cluster mode: many held ends each go in the batch of their job's last row", "[store]") {
  asio::io_context ioc;
  store::WriteQueue queue(ioc, small_batches());
  queue.fence("node-1");
  // 40 ended jobs with two rows each, queued one after the other: a batch
  // of four rows ends two jobs, and no job ends before its second row.
  std::vector<jobs::Job> ended;
  for (int i = 0; i < 40; ++i) {
    auto job = job_in(jobs::JobState::succeeded);
    job.id = "job-" + std::to_string(i);
    add_pages(ioc, queue, job, 2);
    ended.push_back(job);
  }
  for (const auto& job : ended) queue.add_job(job);
  for (int b = 0; b < 20; ++b) {
    auto batch = queue.take_batch();
    REQUIRE(batch.pages.size() == 4);
    REQUIRE(batch.jobs.size() == 2);
    std::set<std::string> ids{batch.jobs[0].id, batch.jobs[1].id};
    CHECK(ids == std::set<std::string>{ended[2 * b].id, ended[2 * b + 1].id});
    queue.committed(batch);
  }
  CHECK(queue.empty());
}
