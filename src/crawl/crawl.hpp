// One running crawl (private to src/crawl): the frontier, the workers that
// take URLs from it, and each host's robots.txt.
//
// Lives in CrawlEngine::run's coroutine frame; run() does not return before
// every worker has finished, so workers may refer to it. Every coroutine of
// a crawl (the one CrawlEngine::run runs in, and each worker) handles
// cancellation as values: throw_if_cancelled is turned off once, at its
// start, and the cancellation state is looked at after each wait, so a page
// that was counted is always handed to the sink.
//
//   crawl.cpp        the workers: start, wake, stop, the crawl's result
//   crawl_page.cpp   one URL: robots check, fetch, analysis, the sink
//   crawl_robots.cpp each host's robots.txt, and the redirect policy's robots check
//   crawl_sitemap.cpp a seed host's sitemaps, read for URLs no link may reach
//   crawl_retry.cpp  retries of transient failures, Retry-After, adaptive delay, hosts given up
#pragma once

#include "crawld/crawl/crawler.hpp"
#include "crawld/crawl/fetcher.hpp"
#include "crawld/crawl/frontier.hpp"
#include "crawld/crawl/page_analysis.hpp"
#include "crawld/crawl/robots.hpp"
#include "seed_cache.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace crawld::crawl {

class Crawl {
 public:
  // What a crawl uses but does not own.
  struct Shared {
    FetchContext& fetch_context;
    RobotsCache& robots_cache;
    SeedCache& seed_cache;
    boost::asio::thread_pool& compute_pool;
    const std::filesystem::path& spool_root;  // CrawlConfig::effective_spool_dir(), found once
  };

  Crawl(boost::asio::any_io_executor executor, Shared shared, CrawlRequest request, PageSink& sink,
        std::shared_ptr<CrawlControl> control);

  boost::asio::awaitable<CrawlResult> run();

 private:
  struct Worker {
    explicit Worker(const boost::asio::any_io_executor& executor) : wake(executor) {}
    boost::asio::cancellation_signal signal;
    boost::asio::steady_timer wake;
    bool alive = false;
    bool waiting = false;  // idle, in wake.async_wait
  };
  struct HostRobots {
    explicit HostRobots(const boost::asio::any_io_executor& executor) : ready_event(executor) {}
    bool ready = false;
    std::shared_ptr<const RobotsRules> rules;  // set once ready
    std::string unavailable;                   // why robots.txt could not be read (everything is then disallowed)
    boost::asio::steady_timer ready_event;
  };
  // The host slot Frontier::next handed out, released on every path.
  class HostSlot {
   public:
    HostSlot(Crawl& crawl, std::string host) : crawl_(crawl), host_(std::move(host)) {}
    ~HostSlot() { release(); }
    HostSlot(const HostSlot&) = delete;
    HostSlot& operator=(const HostSlot&) = delete;
    void release();

   private:
    Crawl& crawl_;
    std::string host_;
    bool held_ = true;
  };
  enum class RobotsStep { allowed, requeued, refused };

  // crawl.cpp
  void add_seeds();
  boost::asio::awaitable<void> work(std::size_t index);
  boost::asio::awaitable<void> wait_for_workers();
  CrawlResult result() const;
  void cancel_workers();
  // Wakes up to `count` idle workers (all by default) and returns how many it
  // woke. Waking only as many as there is work for avoids a thundering herd
  // at high concurrency.
  std::size_t wake_workers(std::size_t count = static_cast<std::size_t>(-1));
  // Starts up to `count` more workers, within crawl.concurrency. Workers are
  // started as work appears rather than all at once: a crawl of one page
  // needs one worker, and starting a job stays cheap on the loop.
  void add_workers(std::size_t count);
  bool may_start() const;
  void publish();

  // crawl_page.cpp
  boost::asio::awaitable<void> crawl_page(FrontierEntry entry);
  boost::asio::awaitable<RobotsStep> check_robots(FrontierEntry& entry, PageResult& page, HostSlot& slot);
  // Whether the page's fetch may start now: false when it was recorded
  // without one (host given up, robots.txt) or queued again (robots.txt
  // just read, max_pages reached for now). Counts the start.
  boost::asio::awaitable<bool> may_fetch(FrontierEntry& entry, PageResult& page, HostSlot& slot);
  // A handed-back redirect: queued for its own host. False for a loop.
  bool hand_over_redirect(FetchResponse& response, const FrontierEntry& entry, const PageResult& page,
                          std::uint32_t elapsed_ms);
  boost::asio::awaitable<FetchResponse> fetch(const FrontierEntry& entry);
  static void take_response(const FetchResponse& response, PageResult& page);
  boost::asio::awaitable<void> analyze(FetchResponse& response, const FrontierEntry& entry, PageResult& page);
  // Adds links to the frontier, a batch per turn of the loop, within max_pages.
  boost::asio::awaitable<void> queue_links(std::vector<FrontierEntry> links);
  void count(const PageResult& page, const FrontierEntry& entry);
  boost::asio::awaitable<void> record(PageResult page);

  // crawl_sitemap.cpp
  // Queues the seed host's sitemaps (robots.txt's Sitemap lines, and
  // /sitemap.xml), once per host.
  void queue_sitemaps(const FrontierEntry& seed);
  boost::asio::awaitable<void> crawl_sitemap(FrontierEntry entry, HostSlot& slot);
  // What a sitemap file gave, resolved and checked on the compute pool.
  struct SitemapLinks {
    std::vector<FrontierEntry> pages;
    std::vector<FrontierEntry> sitemaps;
    std::uint64_t dropped = 0;
    bool truncated = false;
    std::string error;
  };
  static SitemapLinks sitemap_links(WireBody wire, const std::string& url, const std::set<std::string>& allowed);
  boost::asio::awaitable<void> take_sitemap(const FrontierEntry& entry, SitemapLinks links);
  void sitemap_event(const FrontierEntry& entry, const std::string& why);

  // crawl_retry.cpp
  // The entry's fetch, tried again while it fails transiently (at most
  // max_retries times), after a backoff or what Retry-After asks. The slot
  // stays held meanwhile: the retry is the host's next request.
  boost::asio::awaitable<FetchResponse> fetch_with_retries(const FrontierEntry& entry);
  // Waits `duration`; false when the crawl was cancelled meanwhile.
  boost::asio::awaitable<bool> sleep(std::chrono::milliseconds duration);
  // Counts the host's failures in a row, and gives it up at the limit.
  void note_host_outcome(const std::string& host, const FetchResponse& response);

  // crawl_robots.cpp
  // The host's rules when they are known without a fetch: read by this crawl
  // already, or kept from an earlier crawl (then adopted). Null otherwise.
  const RobotsRules* known_robots(const std::string& host, const std::string& page_url);
  // The host's rules, fetching robots.txt (or waiting for the fetch under
  // way). Null when the crawl was cancelled meanwhile.
  boost::asio::awaitable<const RobotsRules*> robots_for(const std::string& host, const std::string& page_url);
  boost::asio::awaitable<void> fetch_robots(HostRobots& robots, const std::string& host, const std::string& page_url);
  boost::asio::awaitable<Fetcher::RedirectVerdict> check_redirect(const std::string& from_host, const std::string& url);

  boost::asio::any_io_executor executor_;
  const CrawlConfig& config_;
  Shared shared_;
  CrawlRequest request_;
  PageSink& sink_;
  std::shared_ptr<CrawlControl> control_;
  std::uint32_t max_depth_;
  std::set<std::string> allowed_hosts_;
  std::set<std::string> seeds_;
  Frontier frontier_;
  Fetcher fetcher_;
  std::map<std::string, std::unique_ptr<HostRobots>> robots_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::size_t live_workers_ = 0;
  boost::asio::steady_timer done_event_;
  CrawlProgress progress_;
  std::uint64_t started_ = 0;
  bool cancelled_ = false;
  bool seed_ok_ = false;
  std::string seed_error_;
  std::string fatal_error_;
  std::map<std::string, std::uint32_t> host_failures_;  // in a row, per host
  std::map<std::string, std::string> given_up_;         // host -> why its pages are not fetched
  std::set<std::string> sitemap_hosts_;                 // hosts whose sitemaps were queued
  std::size_t sitemaps_queued_ = 0;
  std::size_t sitemap_events_ = 0;
};

}  // namespace crawld::crawl
