// Applying the compiled-in migrations to a database.
//
// Migrations run in one transaction under a transaction-scoped advisory
// lock, so several instances starting at once apply each version exactly
// once; each applied version is recorded in schema_migrations. A database
// whose schema is newer than this binary knows is refused, never touched.
#pragma once

#include <string>
#include <vector>

namespace crawld::store {

struct MigrationOutcome {
  int before = 0;        // schema version found
  int after = 0;         // schema version now
  bool refused = false;  // the database is newer than this binary
  std::vector<int> applied;
  std::string message;  // for the log
};

// The newest schema version compiled into this binary.
int binary_schema_version();

// Connects to `conninfo` and migrates (blocking; for tools and tests — the
// service migrates through Store on its pool).
MigrationOutcome migrate_database(const std::string& conninfo);

}  // namespace crawld::store
