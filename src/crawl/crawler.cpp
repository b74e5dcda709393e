#include "crawld/crawl/crawler.hpp"

#include "crawl.hpp"
#include "crawld/crawl/fetcher.hpp"
#include "crawld/crawl/robots.hpp"
#include "seed_cache.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <mutex>

namespace crawld::crawl {

namespace asio = boost::asio;

namespace {

// robots.txt files kept across crawls. The hosts a crawl may visit come from
// the configured targets, so this is a bound that configurations stay under.
constexpr std::size_t max_cached_robots = 1024;
constexpr std::size_t max_cached_seeds = 4096;

// What crashed or killed processes left under the spool folder goes, once per
// process, before its first crawl.
void clean_spool_once(const CrawlConfig& config) {
  static std::once_flag once;
  std::call_once(once, [&] {
    const auto root = config.effective_spool_dir();
    if (const auto removed = clean_spool_root(root); removed > 0) {
      spdlog::info("removed {} crawl spool folder(s) under {} left by processes that are gone", removed, root);
    }
  });
}

}  // namespace

struct CrawlEngine::Impl {
  Impl(const CrawlConfig& config, asio::thread_pool& pool)
      : fetch_context((clean_spool_once(config), config)),
        robots_cache(std::chrono::seconds(config.robots_cache_s), max_cached_robots),
        seed_cache(max_cached_seeds),
        compute_pool(pool),
        spool_root(config.effective_spool_dir()) {}

  FetchContext fetch_context;
  RobotsCache robots_cache;
  SeedCache seed_cache;
  asio::thread_pool& compute_pool;
  const std::filesystem::path spool_root;
};

CrawlEngine::CrawlEngine(const CrawlConfig& config, asio::thread_pool& compute_pool)
    : impl_(std::make_unique<Impl>(config, compute_pool)) {}

CrawlEngine::~CrawlEngine() = default;

asio::awaitable<CrawlResult> CrawlEngine::run(CrawlRequest request, PageSink& sink,
                                              std::shared_ptr<CrawlControl> control) {
  // Cancellation comes back as values from here on (see crawl.hpp): this
  // coroutine's thread of execution is the crawl's own (whoever runs a crawl
  // spawns a coroutine for it), so the setting is not switched back.
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  Crawl::Shared shared{impl_->fetch_context, impl_->robots_cache, impl_->seed_cache, impl_->compute_pool,
                        impl_->spool_root};
  CrawlResult result;
  try {
    Crawl crawl(executor, shared, std::move(request), sink, control);
    result = co_await crawl.run();
  } catch (const std::exception& e) {
    // Nothing a crawl throws may escape: it is the crawl's failure.
    result = CrawlResult{};
    result.outcome = CrawlOutcome::failed;
    result.error = std::string("internal error: ") + e.what();
  }
  if (control) control->progress = result.progress;
  co_return result;
}

std::vector<std::string> expand_seeds(const TargetConfig& target, std::int64_t season) {
  static constexpr std::string_view placeholder = "{season}";
  const auto text = std::to_string(season);
  std::vector<std::string> out;
  for (auto seed : target.seeds) {
    for (auto pos = seed.find(placeholder); pos != std::string::npos; pos = seed.find(placeholder, pos + text.size())) {
      seed.replace(pos, placeholder.size(), text);
    }
    out.push_back(std::move(seed));
  }
  return out;
}

}  // namespace crawld::crawl
