// Normalized seed URLs kept across crawls (private to src/crawl).
//
// A target's seeds for a season repeat from crawl to crawl; each one's
// normalized URL and host are found once. Bounded: past `limit` seeds the
// cache starts over. Used on the loop only.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>

namespace crawld::crawl {

class SeedCache {
 public:
  struct Seed {
    std::string url;
    std::string host;
  };

  explicit SeedCache(std::size_t limit) : limit_(limit) {}

  // The normalized URL and host of `seed`, or nullopt when it is not a
  // valid http(s) URL.
  const std::optional<Seed>& get(const std::string& seed);

 private:
  std::size_t limit_;
  std::unordered_map<std::string, std::optional<Seed>> seeds_;
};

}  // namespace crawld::crawl
