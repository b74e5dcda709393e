// How a job ended, decided from how its crawl ended: a pure function, so
// every case is unit-tested without running a crawl.
//
// A stop the service asked for (deadline, operator, shutdown) decides the
// state whatever the crawl reported; an exception from the crawl is its
// failure, unless it is the cancellation we emitted escaping as
// operation_aborted.
#pragma once

#include "crawld/crawl/crawler.hpp"
#include "crawld/jobs/job.hpp"

#include <exception>
#include <string>

namespace crawld::jobs {

struct Outcome {
  JobState state = JobState::succeeded;
  std::string error;  // empty for a success
};

// `error` is what escaped the crawl coroutine (null when it returned).
Outcome classify_outcome(StopReason stop, std::uint32_t timeout_s, std::exception_ptr error,
                         const crawl::CrawlResult& result);

}  // namespace crawld::jobs
