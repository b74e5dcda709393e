// What one fetched URL yields, and where it goes.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>

namespace crawld::crawl {

struct PageResult {
  std::string url;        // normalized URL as queued
  std::string final_url;  // after redirects
  std::uint32_t depth = 0;
  int status = 0;         // HTTP status, 0 when no response was received
  std::string content_type;  // media type only, lower-case ("text/html")
  std::string charset;
  std::uint64_t bytes = 0;   // body bytes received (capped)
  bool truncated = false;    // body exceeded max_body_bytes
  std::string title;
  std::string sha256;        // hex of the (possibly truncated) body; empty without body
  std::uint32_t elapsed_ms = 0;
  std::string error;         // empty on success ("timeout", "robots: disallowed", ...)
};

// Live counters of one crawl; updated on the loop while it runs.
struct CrawlProgress {
  std::uint64_t queued = 0;   // URLs waiting in the frontier
  std::uint64_t fetched = 0;  // pages fetched successfully (a response was received)
  std::uint64_t failed = 0;   // pages that ended with an error
  std::uint64_t bytes = 0;    // body bytes received
  std::uint64_t skipped = 0;  // not fetched: disallowed by robots.txt (still reported to the sink)
  std::uint64_t http_errors = 0;  // fetched, but answered 4xx or 5xx (broken links); also counted in fetched
};

// Receives every PageResult of a crawl, on the loop. Awaiting lets a slow
// sink (the database writer with a full backlog) slow the crawl down.
class PageSink {
 public:
  virtual ~PageSink() = default;
  virtual boost::asio::awaitable<void> on_page(PageResult page) = 0;
};

}  // namespace crawld::crawl
