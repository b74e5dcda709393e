// What one fetched URL yields, and where it goes.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace crawld::crawl {

struct PageResult {
  std::string url;        // normalized URL as queued
  std::string final_url;  // after redirects
  std::uint32_t depth = 0;
  int status = 0;            // HTTP status, 0 when no response was received
  std::string content_type;  // media type only, lower-case ("text/html")
  std::string charset;
  std::uint64_t bytes = 0;       // body bytes, decoded (capped at max_body_bytes)
  std::uint64_t wire_bytes = 0;  // body bytes as received (compressed, when the server compressed it)
  bool truncated = false;        // body (decoded) exceeded max_body_bytes
  std::string title;
  std::string sha256;     // hex of the (possibly truncated) body; empty without body
  std::string canonical;  // the page's <link rel="canonical"> URL, resolved; empty without one
  std::uint32_t elapsed_ms = 0;
  std::string error;     // empty on success ("timeout", "robots: disallowed", ...)
  bool skipped = false;  // never fetched: robots.txt disallows it (error says so)
};

// What a running crawl's frontier holds (the job's JSON shows it while it
// runs; it is not stored).
struct FrontierStats {
  std::uint64_t seen = 0;             // URLs in the seen set
  std::uint64_t seen_bytes = 0;       // the seen set's table
  std::uint64_t memory_bytes = 0;     // queued entries held in memory (and waiting to be spilled)
  std::uint64_t spilled = 0;          // queued entries on disk
  std::uint64_t spill_bytes = 0;      // their bytes on disk
  std::uint64_t spilled_total = 0;    // entries ever spilled
};

// Live counters of one crawl; updated on the loop while it runs.
struct CrawlProgress {
  std::uint64_t queued = 0;         // URLs waiting in the frontier
  std::uint64_t fetched = 0;        // pages fetched successfully (a response was received)
  std::uint64_t failed = 0;         // pages that ended with an error
  std::uint64_t bytes = 0;          // body bytes received, as on the wire
  std::uint64_t skipped = 0;        // not fetched: disallowed by robots.txt (still reported to the sink)
  std::uint64_t http_errors = 0;    // fetched, but answered 4xx or 5xx (broken links); also counted in fetched
  std::uint64_t truncated = 0;      // bodies cut at max_body_bytes (their later links are lost)
  std::uint64_t links_dropped = 0;  // hrefs that could not be resolved to an http(s) URL
  std::uint64_t retries = 0;        // fetches tried again after a transient failure
  FrontierStats frontier{};         // not a counter: not in progress_fields
};

// Every counter, by the name it has in the job's JSON and its column in
// crawl_jobs, in that JSON's (sorted) order: the API, the rows written and
// the rows read all walk this one list.
struct ProgressField {
  const char* name;
  std::uint64_t CrawlProgress::*member;
};
inline constexpr ProgressField progress_fields[] = {
    {"bytes", &CrawlProgress::bytes},
    {"failed", &CrawlProgress::failed},
    {"fetched", &CrawlProgress::fetched},
    {"http_errors", &CrawlProgress::http_errors},
    {"links_dropped", &CrawlProgress::links_dropped},
    {"queued", &CrawlProgress::queued},
    {"retries", &CrawlProgress::retries},
    {"skipped", &CrawlProgress::skipped},
    {"truncated", &CrawlProgress::truncated},
};

// Receives every PageResult of a crawl, on the loop. Awaiting lets a slow
// sink (the database writer with a full backlog) slow the crawl down.
class PageSink {
 public:
  virtual ~PageSink() = default;
  virtual boost::asio::awaitable<void> on_page(PageResult page) = 0;
  // A line for the job's log about what the crawl met (a body cut at
  // max_body_bytes, a host given up). The crawl bounds how many it sends.
  virtual void on_event(std::string_view level, const std::string& message) {}
};

}  // namespace crawld::crawl
