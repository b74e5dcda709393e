// The database writer on its own: N page rows pushed through a job's page
// sink as fast as it accepts them (back-pressure included), then flushed;
// no crawl, no network besides PostgreSQL.
//
//   crawld_bench_writer DATABASE_URL PAGES   prints "pages=N seconds=S pages_per_s=R"
#include "crawld/store/store.hpp"

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATABASE_URL PAGES\n", argv[0]);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  std::size_t pages = std::stoul(argv[2]);
  asio::io_context ioc;
  crawld::DatabaseConfig config;
  config.url = argv[1];
  crawld::store::Store store(ioc, config, "bench-writer");
  store.start();
  double seconds = 0;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(ioc);
        while (!store.status().ready()) {
          timer.expires_after(std::chrono::milliseconds(20));
          co_await timer.async_wait(asio::use_awaitable);
        }
        crawld::jobs::Job job;
        job.id = crawld::jobs::new_job_id();
        job.params = {"bench", 2024, true, 60, true};
        job.created_at = crawld::jobs::Clock::now();
        store.job_created(job);
        auto sink = store.page_sink(job);
        auto started = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < pages; ++i) {
          crawld::crawl::PageResult page;
          page.url = "http://127.0.0.1/p/" + std::to_string(i) + ".html";
          page.final_url = page.url;
          page.depth = 3;
          page.status = 200;
          page.content_type = "text/html";
          page.bytes = 12'000;
          page.title = "Page " + std::to_string(i);
          page.sha256 = std::string(64, 'a');
          page.elapsed_ms = 3;
          co_await sink->on_page(std::move(page));
        }
        co_await store.flush(std::chrono::seconds(120));
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        co_await store.close(std::chrono::seconds(10));
      },
      [&](std::exception_ptr error) {
        if (error) std::rethrow_exception(error);
        ioc.stop();
      });
  ioc.run();
  std::printf("pages=%zu seconds=%.3f pages_per_s=%.0f\n", pages, seconds, static_cast<double>(pages) / seconds);
  return 0;
}
