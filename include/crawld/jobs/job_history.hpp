// Jobs beyond what this process holds in memory: the ones that ended long
// ago, or (in cluster mode) run elsewhere. Implemented by the store's
// JobRepository; JobService merges it with memory so that handlers never do.
#pragma once

#include "crawld/jobs/job.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace crawld::jobs {

class JobHistory {
 public:
  virtual ~JobHistory() = default;
  // Both throw util::Unavailable when the history cannot answer in time.
  virtual boost::asio::awaitable<std::optional<Job>> find(std::string id) = 0;
  // Newest first.
  virtual boost::asio::awaitable<std::vector<Job>> list(std::optional<JobState> state, std::size_t limit) = 0;
};

}  // namespace crawld::jobs
