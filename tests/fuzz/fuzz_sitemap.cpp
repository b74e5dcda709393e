// libFuzzer: sitemap files on arbitrary bytes, as they come off the wire.
// The first byte picks the Content-Encoding (none, gzip, deflate, br); the
// rest is the body, decoded (capped) and parsed.
#include "crawld/crawl/sitemap.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const encodings[] = {"", "gzip", "deflate", "br"};
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto sitemap = crawld::crawl::read_sitemap({body, encodings[data[0] % 4], false}, 1 << 20, 1000);
  if (sitemap.urls.size() + sitemap.sitemaps.size() > 1000) __builtin_trap();
  crawld::crawl::parse_sitemap(body, 1000);
  return 0;
}
