// libFuzzer: robots.txt parsing and matching on arbitrary bytes. The first
// line is the path asked about, the rest the file.
#include "crawld/crawl/robots.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto split = input.find('\n');
  std::string_view path = split == std::string_view::npos ? "/" : input.substr(0, split);
  auto rules = crawld::crawl::RobotsRules::parse(input, "crawld/0.1 (+https://github.com/crawld/crawld)");
  rules.allowed(path);
  rules.allowed("/");
  rules.crawl_delay();
  return 0;
}
