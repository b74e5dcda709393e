// Link and title extraction from HTML with libxml2's HTML push (SAX) parser.
//
// A real parser, not regular expressions: it copes with broken markup the way
// browsers and lxml do. Streaming SAX keeps memory flat on large pages: no
// tree is built. This is CPU work proportional to the page's size, so the
// crawler runs it on the compute pool, never on the I/O loop.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crawld::crawl {

struct ExtractedLinks {
  std::string title;                     // text of the first <title>, whitespace collapsed
  std::optional<std::string> base_href;  // first <base href>
  std::optional<std::string> canonical;  // first <link rel="canonical" href>
  // Raw link values in document order: <a href> and <area href> (without
  // rel="nofollow" ones), <frame src>, <iframe src>, <link
  // rel="next|prev|alternate" href>, and <meta http-equiv="refresh"> URLs.
  std::vector<std::string> hrefs;
  bool nofollow = false;  // <meta name="robots" content="...nofollow...">:
                          // hrefs is then empty
};

// Never throws on malformed input. Stops collecting hrefs after max_links.
// Strings are UTF-8: the page is read as UTF-8 unless a <meta charset> says
// otherwise. Hrefs are raw attribute values (entities decoded, whitespace
// kept): pass them to resolve_url. Title is capped at 1000 bytes. Meta robots
// "nofollow" and "none" both set nofollow. Safe to call from many threads.
ExtractedLinks extract_links(std::string_view html, std::size_t max_links = 100'000);

// libxml2's one-time set-up, safe to call from any thread (every parser
// of crawld calls it first).
void init_libxml2_once();

}  // namespace crawld::crawl
