// What a fetched body yields: its SHA-256, its title, and the links to follow
// (resolved against the page or its <base href>, normalized, on an allowed
// host). CPU work proportional to the body's size: the crawl runs it on the
// compute pool, never on the loop. Pure, and safe to call from any thread.
#pragma once

#include "crawld/crawl/frontier.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace crawld::crawl {

struct PageAnalysis {
  std::string title;
  std::vector<FrontierEntry> links;  // at `depth`
  std::string sha256;                // lower-case hex
  std::string canonical;             // <link rel="canonical">, resolved; empty without one
  std::uint64_t links_dropped = 0;   // http(s) or relative hrefs that did not resolve to a URL
  // Set by analyze_response: the decoded body's size, whether decoding
  // stopped at the cap (or the wire was cut), and why it could not decode.
  std::uint64_t bytes = 0;
  bool truncated = false;
  std::string error;
};

struct AnalysisRequest {
  bool html = false;        // only HTML is parsed (for links and title)
  bool want_links = false;  // false past the crawl's depth limit
  std::string page_url;     // the final URL, links are resolved against it
  const std::set<std::string>* allowed_hosts = nullptr;
  std::uint32_t depth = 0;  // of the links found
};

PageAnalysis analyze_page(std::string_view body, const AnalysisRequest& request);

// A body as it came off the wire: decoded (decode_body, at most `cap`
// bytes), then analyzed. A body that cannot be decoded is not analyzed.
struct WireBody {
  std::string data;
  std::string encoding;    // Content-Encoding
  bool truncated = false;  // the fetch cut it at its cap
};
PageAnalysis analyze_response(WireBody wire, std::size_t cap, const AnalysisRequest& request);

// Lower-case hex SHA-256 of `data` (empty if the digest fails).
std::string sha256_hex(std::string_view data);

}  // namespace crawld::crawl
