#include "crawl.hpp"

#include "crawld/crawl/page_analysis.hpp"
#include "crawld/crawl/url.hpp"
#include "crawld/util/offload.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace crawld::crawl {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// Links added to the frontier between two yields to the loop: a page with
// 100,000 links must not hold the loop for the whole batch.
constexpr std::size_t links_per_turn = 1024;
// Pages named one by one in the job's log for a kind of trouble (a body cut
// at max_body_bytes); past it one line says the rest are only counted.
constexpr std::uint64_t events_per_kind = 20;

}  // namespace

asio::awaitable<void> Crawl::crawl_page(FrontierEntry entry) {
  HostSlot slot(*this, entry.host);
  // A handed-over redirect target is recorded under the URL first queued.
  PageResult page;
  page.url = entry.origin ? entry.origin->url : entry.url;
  page.final_url = entry.url;
  page.depth = entry.depth;

  if (entry.sitemap) co_return co_await crawl_sitemap(std::move(entry), slot);
  const bool fetch_now = co_await may_fetch(entry, page, slot);
  if (!fetch_now) co_return;

  // Time spent on this page, including the redirects that led here.
  const auto start = clock::now();
  auto elapsed_ms = [&start, before = entry.origin ? entry.origin->elapsed_ms : 0] {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
    return static_cast<std::uint32_t>(ms) + before;
  };
  auto response = co_await fetch_with_retries(entry);
  if (response.error_kind == FetchErrorKind::cancelled) co_return;
  if (!response.redirect_to.empty() && hand_over_redirect(response, entry, page, elapsed_ms())) co_return;
  note_host_outcome(entry.host, response);

  take_response(response, page);
  if (page.final_url != entry.url) frontier_.mark_seen(page.final_url);
  if (!response.body.empty()) co_await analyze(response, entry, page);
  page.elapsed_ms = elapsed_ms();

  count(page, entry);
  slot.release();
  co_await record(std::move(page));
}

asio::awaitable<bool> Crawl::may_fetch(FrontierEntry& entry, PageResult& page, HostSlot& slot) {
  if (frontier_.given_up(entry.host)) {
    page.error = given_up_.at(entry.host);
    ++progress_.failed;
    slot.release();
    co_await record(std::move(page));
    co_return false;
  }
  if (config_.obey_robots) {
    const auto step = co_await check_robots(entry, page, slot);
    switch (step) {
      case RobotsStep::allowed:
        break;
      case RobotsStep::requeued:
        co_return false;
      case RobotsStep::refused:
        co_await record(std::move(page));
        co_return false;
    }
  }
  if (!may_start()) {
    frontier_.put_back(std::move(entry));
    co_return false;
  }
  ++started_;
  if (request_.target.sitemaps && entry.depth == 0 && seeds_.contains(entry.url)) queue_sitemaps(entry);
  co_return true;
}

asio::awaitable<FetchResponse> Crawl::fetch(const FrontierEntry& entry) {
  Fetcher::RedirectCheck check = [this, &host = entry.host](const std::string& url) {
    return check_redirect(host, url);
  };
  co_return co_await fetcher_.fetch(entry.url, std::move(check), entry.origin ? entry.origin->redirects : 0);
}

void Crawl::take_response(const FetchResponse& response, PageResult& page) {
  page.final_url = response.final_url;
  page.status = response.status;
  page.content_type = response.content_type;
  page.charset = response.charset;
  page.bytes = response.body.size();  // until analyze() decodes it
  page.wire_bytes = response.body.size();
  page.truncated = response.truncated;
  page.error = response.error;
}

asio::awaitable<Crawl::RobotsStep> Crawl::check_robots(FrontierEntry& entry, PageResult& page, HostSlot& slot) {
  const RobotsRules* rules = known_robots(entry.host, entry.url);
  if (rules == nullptr) {
    // First URL of this host: fetch robots.txt in this slot, then queue the
    // URL again so that the host's delay also separates the two requests.
    co_await robots_for(entry.host, entry.url);
    frontier_.put_back(std::move(entry));
    co_return RobotsStep::requeued;
  }
  auto key = url_key(entry.url);
  if (key && rules->allowed(key->target)) co_return RobotsStep::allowed;
  const auto& unavailable = robots_.at(entry.host)->unavailable;
  std::string why = "robots: disallowed";
  if (!unavailable.empty()) why += " (robots.txt unavailable: " + unavailable + ")";
  // A disallowed link is skipped; a disallowed redirect target is the
  // redirecting page's failure, as when it is refused within one fetch.
  page.error = entry.origin ? "redirect to " + entry.url + " not followed: " + why : why;
  page.skipped = !entry.origin;
  ++(entry.origin ? progress_.failed : progress_.skipped);
  if (seed_error_.empty() && seeds_.contains(page.url)) seed_error_ = page.url + ": " + page.error;
  slot.release();
  co_return RobotsStep::refused;
}

bool Crawl::hand_over_redirect(FetchResponse& response, const FrontierEntry& entry, const PageResult& page,
                               std::uint32_t elapsed_ms) {
  if (response.redirect_to == page.url) {
    response.error = "redirect loop: " + response.redirect_to;
    return false;
  }
  // Another host's URL waits for a slot of that host (its concurrency
  // limit, delay and robots.txt), not in this one. Its fetch counts towards
  // max_pages when it starts.
  auto host = url_key(response.redirect_to)->host;  // the check parsed it
  frontier_.add_redirect({std::move(response.redirect_to), std::move(host), entry.depth,
                          RedirectOrigin{page.url, response.redirects + 1, elapsed_ms}});
  --started_;
  return true;
}

asio::awaitable<void> Crawl::analyze(FetchResponse& response, const FrontierEntry& entry, PageResult& page) {
  // Decoding, parsing, hashing, URL parsing and the host check happen on the
  // compute pool (allowed_hosts_ does not change once the crawl runs); the
  // loop only waits, then adds to the frontier. A named lambda, not a
  // temporary inside the co_await expression: GCC 12 destroys such
  // temporaries twice.
  AnalysisRequest request{response.content_type == "text/html", entry.depth < max_depth_, page.final_url,
                          &allowed_hosts_, entry.depth + 1};
  WireBody wire{std::move(response.body), std::move(response.content_encoding), response.truncated};
  auto task = [wire = std::move(wire), cap = config_.max_body_bytes,
               request]() mutable -> asio::awaitable<PageAnalysis> {
    co_return analyze_response(std::move(wire), cap, request);
  };
  auto analysis = co_await util::offload(shared_.compute_pool, std::move(task));
  page.bytes = analysis.bytes;
  page.truncated = analysis.truncated;
  if (!analysis.error.empty()) page.error = std::move(analysis.error);
  page.title = std::move(analysis.title);
  page.sha256 = std::move(analysis.sha256);
  page.canonical = std::move(analysis.canonical);
  progress_.links_dropped += analysis.links_dropped;
  co_await queue_links(std::move(analysis.links));
}

asio::awaitable<void> Crawl::queue_links(std::vector<FrontierEntry> links) {
  for (std::size_t i = 0; i < links.size(); ++i) {
    if (i > 0 && i % links_per_turn == 0) co_await asio::post(executor_, asio::use_awaitable);
    // The frontier holds no more URLs than the crawl may still start, so a
    // page with 100,000 links costs memory for max_pages of them. A link
    // left out is not marked seen: a later page may queue it when a queued
    // URL turned out to be skipped (robots.txt) and there is room again.
    if (started_ + frontier_.queued() >= request_.target.max_pages) break;
    frontier_.add(std::move(links[i]));
  }
}

void Crawl::count(const PageResult& page, const FrontierEntry& entry) {
  progress_.bytes += page.wire_bytes;
  if (page.truncated) {
    ++progress_.truncated;
    if (progress_.truncated <= events_per_kind) {
      sink_.on_event("warn", "page truncated at max_body_bytes (" + std::to_string(config_.max_body_bytes) +
                                 " bytes), links past the cut not followed: " + page.final_url);
    } else if (progress_.truncated == events_per_kind + 1) {
      sink_.on_event("warn", "more pages truncated at max_body_bytes: counted in progress.truncated, not listed");
    }
  }
  ++(page.error.empty() ? progress_.fetched : progress_.failed);
  if (page.error.empty() && page.status >= 400) ++progress_.http_errors;
  if (!seeds_.contains(page.url)) return;
  if (page.error.empty() && page.status >= 200 && page.status < 400) {
    seed_ok_ = true;
  } else if (seed_error_.empty()) {
    seed_error_ = entry.url + ": " + (page.error.empty() ? "HTTP " + std::to_string(page.status) : page.error);
  }
}

asio::awaitable<void> Crawl::record(PageResult page) {
  // Awaiting the sink is the back-pressure: a slow store slows the crawl.
  // The page was counted already, so it is handed over even when a
  // cancellation arrived meanwhile (the sink's own waits end early then).
  try {
    co_await sink_.on_page(std::move(page));
  } catch (const std::exception& e) {
    fatal_error_ = std::string("page sink: ") + e.what();
  }
}

}  // namespace crawld::crawl
