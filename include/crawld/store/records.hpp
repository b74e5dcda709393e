// What the store hands back: rows as read, the database's state, and the
// error for "the database cannot answer now".
#pragma once

#include "crawld/crawl/page_result.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/util/unavailable.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace crawld::store {

// The database could not answer (down, unreachable, too slow, schema
// refused). The HTTP server turns it into 503 with Retry-After.
class StoreUnavailable : public util::Unavailable {
 public:
  using util::Unavailable::Unavailable;
};

// A page row as read back.
struct PageRecord {
  std::int64_t id = 0;
  std::string job_id;
  crawl::PageResult page;
  jobs::Clock::time_point fetched_at{};
};

// A job event as read back.
struct EventRecord {
  std::int64_t id = 0;
  std::string job_id;
  jobs::Clock::time_point at{};
  std::string level;
  std::string message;
};

// For /readyz and /status.
struct DatabaseStatus {
  bool up = false;        // the last contact succeeded
  bool migrated = false;  // schema is current (writes may flow)
  bool refused = false;   // schema newer than this binary: writes are held
  int schema_version = 0;
  std::string last_error;  // empty when none; never contains a password
  std::optional<jobs::Clock::time_point> last_error_at;
  std::size_t backlog_pages = 0;
  std::size_t backlog_events = 0;
  std::size_t backlog_jobs = 0;
  std::uint64_t pages_written = 0;
  // Cluster mode: rows of attempts this instance no longer owned, not written.
  std::uint64_t rows_fenced = 0;
  std::uint64_t rows_rejected = 0;

  bool ready() const { return up && migrated && !refused; }
};

}  // namespace crawld::store
