#include "seed_cache.hpp"

#include "crawld/crawl/url.hpp"

namespace crawld::crawl {

const std::optional<SeedCache::Seed>& SeedCache::get(const std::string& seed) {
  if (auto it = seeds_.find(seed); it != seeds_.end()) return it->second;
  if (seeds_.size() >= limit_) seeds_.clear();
  std::optional<Seed> found;
  if (auto url = normalize_url(seed)) {
    if (auto key = url_key(*url)) found = Seed{std::move(*url), std::move(key->host)};
  }
  return seeds_.emplace(seed, std::move(found)).first->second;
}

}  // namespace crawld::crawl
