#include "crawl.hpp"

#include "crawld/crawl/sitemap.hpp"
#include "crawld/crawl/url.hpp"
#include "crawld/util/offload.hpp"

namespace crawld::crawl {

namespace asio = boost::asio;

namespace {

// Sitemap files one crawl reads at most (an index lists up to 50,000).
constexpr std::size_t max_sitemaps = 1000;
// Sitemap trouble named in the job's log; past it, nothing more is said.
constexpr std::size_t max_sitemap_events = 20;

}  // namespace

// On the compute pool: read the file, resolve its entries, keep those on
// allowed hosts. Page URLs count as depth 1.
Crawl::SitemapLinks Crawl::sitemap_links(WireBody wire, const std::string& url, const std::set<std::string>& allowed) {
  auto sitemap = read_sitemap(std::move(wire));
  SitemapLinks out{{}, {}, 0, sitemap.truncated, std::move(sitemap.error)};
  auto resolve = [&](const std::string& loc, std::vector<FrontierEntry>& into, std::uint32_t depth, bool is_map) {
    auto resolved = resolve_url(url, loc);
    if (!resolved) {
      ++out.dropped;
      return;
    }
    auto key = url_key(*resolved);
    if (!key || !allowed.contains(key->host)) return;
    into.push_back({std::move(*resolved), std::move(key->host), depth, std::nullopt, is_map});
  };
  for (const auto& loc : sitemap.urls) resolve(loc, out.pages, 1, false);
  for (const auto& loc : sitemap.sitemaps) resolve(loc, out.sitemaps, 1, true);
  return out;
}

void Crawl::queue_sitemaps(const FrontierEntry& seed) {
  if (!sitemap_hosts_.insert(seed.host).second) return;
  std::vector<std::string> urls;
  if (const auto it = robots_.find(seed.host); it != robots_.end() && it->second && it->second->rules) {
    for (const auto& line : it->second->rules->sitemaps()) {
      if (auto url = resolve_url(seed.url, line)) urls.push_back(std::move(*url));
    }
  }
  if (auto url = resolve_url(seed.url, "/sitemap.xml")) urls.push_back(std::move(*url));
  for (auto& url : urls) {
    auto key = url_key(url);
    if (!key || !allowed_hosts_.contains(key->host) || sitemaps_queued_ >= max_sitemaps) continue;
    if (frontier_.add({std::move(url), std::move(key->host), 0, std::nullopt, true})) ++sitemaps_queued_;
  }
  wake_workers();
}

asio::awaitable<void> Crawl::crawl_sitemap(FrontierEntry entry, HostSlot& slot) {
  if (frontier_.given_up(entry.host)) co_return;
  if (config_.obey_robots) {
    const RobotsRules* rules = co_await robots_for(entry.host, entry.url);
    const auto key = url_key(entry.url);
    if (rules == nullptr || !key || !rules->allowed(key->target)) co_return;
  }
  Fetcher::RedirectCheck check = [this, &host = entry.host](const std::string& url) {
    return check_redirect(host, url);
  };
  auto response = co_await fetcher_.fetch(entry.url, std::move(check), 0, sitemap_max_bytes);
  slot.release();
  if (response.error_kind == FetchErrorKind::cancelled) co_return;
  if (!response.error.empty() || response.status != 200 || !response.redirect_to.empty()) {
    // A missing /sitemap.xml is the usual case, not news.
    const bool well_known = entry.depth == 0 && url_key(entry.url)->target == "/sitemap.xml";
    if (!well_known || (response.status != 404 && response.status != 410)) {
      sitemap_event(entry, response.error.empty() ? "HTTP " + std::to_string(response.status) : response.error);
    }
    co_return;
  }
  WireBody wire{std::move(response.body), std::move(response.content_encoding), response.truncated};
  auto task = [wire = std::move(wire), url = response.final_url,
               allowed = &allowed_hosts_]() mutable -> asio::awaitable<SitemapLinks> {
    co_return sitemap_links(std::move(wire), url, *allowed);
  };
  auto links = co_await util::offload(shared_.compute_pool, std::move(task));
  co_await take_sitemap(entry, std::move(links));
}

void Crawl::sitemap_event(const FrontierEntry& entry, const std::string& why) {
  if (++sitemap_events_ <= max_sitemap_events) sink_.on_event("warn", "sitemap " + entry.url + ": " + why);
}

asio::awaitable<void> Crawl::take_sitemap(const FrontierEntry& entry, SitemapLinks links) {
  progress_.links_dropped += links.dropped;
  if (!links.error.empty()) sitemap_event(entry, links.error);
  if (links.truncated) sitemap_event(entry, "more than 50,000 entries or 50 MB: the rest is not read");
  // An index lists sitemaps one level deep (the protocol allows no more).
  if (entry.depth == 0) {
    for (auto& map : links.sitemaps) {
      if (sitemaps_queued_ >= max_sitemaps) break;
      if (frontier_.add(std::move(map))) ++sitemaps_queued_;
    }
  }
  if (max_depth_ >= 1) co_await queue_links(std::move(links.pages));
  wake_workers();
}

}  // namespace crawld::crawl
