// Sitemaps (sitemaps.org protocol 0.9): the URLs a site lists for crawlers.
//
// A target with `sitemaps: true` reads, for each seed's host, the Sitemap
// lines of its robots.txt and /sitemap.xml. A file is a <urlset> (page
// URLs), a <sitemapindex> (more sitemaps, one level deep), or plain text
// (one URL per line); any of them may be gzipped. Read with libxml2's
// streaming reader (no tree, no network, no entity expansion), bounded as
// the protocol says: 50,000 URLs and 50 MB decoded per file. CPU work for
// the compute pool. Pure, and safe to call from any thread.
#pragma once

#include "crawld/crawl/page_analysis.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace crawld::crawl {

inline constexpr std::size_t sitemap_max_urls = 50'000;
inline constexpr std::size_t sitemap_max_bytes = std::size_t{50} * 1024 * 1024;

struct Sitemap {
  std::vector<std::string> urls;      // <urlset><url><loc>, or the lines of a text sitemap
  std::vector<std::string> sitemaps;  // <sitemapindex><sitemap><loc>
  bool truncated = false;             // past max_urls entries, or past its byte cap
  std::string error;                  // empty unless nothing could be read
};

// `body` is the decoded file. Entries are as written (trimmed): resolve and
// check them as links.
Sitemap parse_sitemap(std::string_view body, std::size_t max_urls = sitemap_max_urls);

// As fetched: the Content-Encoding decoded, then a gzip file (by its magic
// bytes: "sitemap.xml.gz" served as application/gzip) unpacked, at most
// `max_bytes` in all, then parsed.
Sitemap read_sitemap(WireBody wire, std::size_t max_bytes = sitemap_max_bytes, std::size_t max_urls = sitemap_max_urls);

}  // namespace crawld::crawl
