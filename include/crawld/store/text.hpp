// Text cleaning before it goes into PostgreSQL.
//
// Crawled pages carry arbitrary bytes in titles, URLs and error messages.
// PostgreSQL text cannot hold NUL and rejects invalid UTF-8, and one such row
// would otherwise fail a whole batch; so NULs are dropped and invalid UTF-8
// sequences become U+FFFD before anything is written.
#pragma once

#include <string>
#include <string_view>

namespace crawld::store {

std::string sanitize_text(std::string_view text);

// A PostgreSQL array literal of the texts ({"a","b"}), each one quoted, for
// an array parameter ($1::text[], $1::uuid[]).
template <class Range>
std::string array_literal(const Range& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace crawld::store
