// libFuzzer: URL resolution and normalization must never crash, and what
// they return must be stable (normalizing a normalized URL changes nothing).
#include "crawld/crawl/url.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto split = input.find('\n');
  std::string_view base = split == std::string_view::npos ? "http://example.com/a/b?c" : input.substr(0, split);
  std::string_view reference = split == std::string_view::npos ? input : input.substr(split + 1);
  if (auto resolved = crawld::crawl::resolve_url(base, reference)) {
    auto again = crawld::crawl::normalize_url(*resolved);
    if (!again || *again != *resolved) std::abort();
    if (!crawld::crawl::split_url(*resolved)) std::abort();
  }
  crawld::crawl::normalize_url(input);
  return 0;
}
