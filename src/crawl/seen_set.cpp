#include "crawld/crawl/seen_set.hpp"

#include <xxhash.h>

namespace crawld::crawl {

std::uint64_t SeenSet::fingerprint(std::string_view url) {
  const std::uint64_t hash = XXH3_64bits(url.data(), url.size());
  return hash == 0 ? 1 : hash;
}

std::size_t SeenSet::slot_of(std::uint64_t fingerprint) const {
  // The table's size is not a power of two (it grows by half): map the
  // fingerprint onto it by multiplication (Lemire's fast range) rather than
  // by a modulo. Linear probing from there.
  return static_cast<std::size_t>((static_cast<unsigned __int128>(fingerprint) * slots_.size()) >> 64);
}

bool SeenSet::insert(std::string_view url) { return insert_fingerprint(fingerprint(url)); }

bool SeenSet::contains(std::string_view url) const {
  if (slots_.empty()) return false;
  const auto wanted = fingerprint(url);
  for (auto i = slot_of(wanted);; i = i + 1 == slots_.size() ? 0 : i + 1) {
    if (slots_[i] == wanted) return true;
    if (slots_[i] == 0) return false;
  }
}

bool SeenSet::insert_fingerprint(std::uint64_t fingerprint) {
  if ((size_ + 1) * 5 > slots_.size() * 4) grow();  // at most 80% full
  for (auto i = slot_of(fingerprint);; i = i + 1 == slots_.size() ? 0 : i + 1) {
    if (slots_[i] == fingerprint) return false;
    if (slots_[i] == 0) {
      slots_[i] = fingerprint;
      ++size_;
      return true;
    }
  }
}

void SeenSet::grow() {
  std::vector<std::uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? initial_slots : old.size() + old.size() / 2, 0);
  size_ = 0;
  for (const auto fingerprint : old) {
    if (fingerprint != 0) insert_fingerprint(fingerprint);
  }
}

}  // namespace crawld::crawl
