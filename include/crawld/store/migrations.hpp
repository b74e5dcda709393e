// Versioned schema migrations compiled into the binary from
// src/store/migrations/NNNN_name.sql (see cmake/embed_migrations.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace crawld::store {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Sorted by version.
const std::vector<Migration>& migrations();

}  // namespace crawld::store
