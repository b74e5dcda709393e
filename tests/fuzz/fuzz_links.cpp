// libFuzzer: HTML link and title extraction on arbitrary bytes.
#include "crawld/crawl/links.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto links = crawld::crawl::extract_links(std::string_view(reinterpret_cast<const char*>(data), size), 1000);
  if (links.hrefs.size() > 1000) std::abort();
  if (links.nofollow && !links.hrefs.empty()) std::abort();
  return 0;
}
