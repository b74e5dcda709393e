// One crawl of one target: a coroutine on the I/O loop.
//
// The crawl keeps a frontier of normalized URLs, runs up to `concurrency`
// fetches at once (at most `per_host_concurrency` per host, spaced by the
// host's delay), honours robots.txt, and hands every PageResult to a sink.
// HTML parsing and hashing run on the compute pool.
//
// Stopping: `CrawlControl::request_stop()` is a soft stop (no new fetches;
// in-flight ones finish). Terminal cancellation arriving through the
// coroutine's cancellation slot (bound by whoever co_spawns run()) ends every
// in-flight connect/read at once.
#pragma once

#include "crawld/config.hpp"
#include "crawld/crawl/page_result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <string>

namespace crawld::crawl {

enum class CrawlOutcome { succeeded, failed, cancelled };

struct CrawlResult {
  CrawlOutcome outcome = CrawlOutcome::succeeded;
  std::string error;  // why it failed or was cancelled
  CrawlProgress progress;
  bool max_pages_reached = false;  // the crawl stopped at target.max_pages
};

struct CrawlRequest {
  TargetConfig target;  // a copy: the crawl must not depend on config lifetime
  std::int64_t season = 0;
  bool deep = false;
};

// Shared between the crawl and its owner (job manager, watchdog).
struct CrawlControl {
  // Soft stop: no new fetches, in-flight ones finish. Wakes the crawl's idle
  // workers so that they see it at once.
  void request_stop() {
    stop_requested = true;
    if (on_stop) on_stop();
  }

  bool stop_requested = false;   // read by the crawl
  CrawlProgress progress;        // live counters, updated by the crawl
  std::function<void()> on_stop;  // set by the running crawl
};

// Shared by all crawls of a process: settings, the TLS context, robots.txt
// answers and normalized seeds kept across crawls, the compute pool.
class CrawlEngine {
 public:
  CrawlEngine(const CrawlConfig& config, boost::asio::thread_pool& compute_pool);
  ~CrawlEngine();
  CrawlEngine(const CrawlEngine&) = delete;
  CrawlEngine& operator=(const CrawlEngine&) = delete;

  // Runs one crawl to the end. Never throws: errors become
  // CrawlOutcome::failed with a message; terminal cancellation through the
  // coroutine's cancellation slot becomes CrawlOutcome::cancelled. Must run
  // on the loop's executor, in a coroutine spawned for the crawl (co_spawn
  // it, or await it from one): it handles cancellation as values for that
  // whole coroutine (throw_if_cancelled off).
  boost::asio::awaitable<CrawlResult> run(CrawlRequest request, PageSink& sink,
                                          std::shared_ptr<CrawlControl> control);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Seed URLs of a target for a season ("{season}" replaced).
std::vector<std::string> expand_seeds(const TargetConfig& target, std::int64_t season);

}  // namespace crawld::crawl
