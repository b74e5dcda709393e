// The URLs a crawl has seen, kept as 64-bit fingerprints (XXH3 of the
// normalized URL) in an open-addressing table: 8 bytes a slot, at most 80%
// full and at least 53% after it grows (by half), so 10 to 15 bytes a URL
// instead of the URL itself (about 130 bytes in a hash set of strings).
//
// Two different URLs with the same fingerprint count as one: the second is
// taken as seen and not fetched. With n URLs the chance that any two collide
// is about n² / 2⁶⁵: 2.7 × 10⁻⁶ at 10 million URLs, 2.7 × 10⁻⁸ at a million.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace crawld::crawl {

class SeenSet {
 public:
  // True when the URL was not seen before (it is now).
  bool insert(std::string_view url);
  bool contains(std::string_view url) const;

  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(std::uint64_t); }

  static std::uint64_t fingerprint(std::string_view url);

 private:
  static constexpr std::size_t initial_slots = 1024;
  // 0 marks an empty slot; a URL whose fingerprint is 0 is stored as 1.
  std::size_t slot_of(std::uint64_t fingerprint) const;
  bool insert_fingerprint(std::uint64_t fingerprint);
  void grow();

  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;
};

}  // namespace crawld::crawl
