// Batches as one JSON array parameter each (private to src/store): the
// statements unpack them with jsonb_to_recordset. Text is cleaned first
// (sanitize_text: no NUL, valid UTF-8), which jsonb requires as well.
#pragma once

#include "crawld/crawl/page_result.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/webhooks/outbox.hpp"

#include <string>
#include <vector>

namespace crawld::store {

struct EventRow {
  std::string job_id;
  jobs::Clock::time_point at{};
  std::string level;
  std::string message;
  std::uint32_t attempt = 0;  // the run that wrote it (cluster mode fences by it)
};

struct PageRow {
  std::string job_id;
  crawl::PageResult page;
  jobs::Clock::time_point fetched_at{};
  std::uint32_t attempt = 1;
};

// JSON arrays of the rows [first, last).
std::string jobs_json(const jobs::Job* first, const jobs::Job* last);
std::string events_json(const EventRow* first, const EventRow* last);
std::string pages_json(const PageRow* first, const PageRow* last);
std::string deliveries_json(const webhooks::Delivery* first, const webhooks::Delivery* last);

template <class Row>
std::string rows_json(const Row& row);
template <>
inline std::string rows_json(const jobs::Job& row) {
  return jobs_json(&row, &row + 1);
}
template <>
inline std::string rows_json(const EventRow& row) {
  return events_json(&row, &row + 1);
}
template <>
inline std::string rows_json(const PageRow& row) {
  return pages_json(&row, &row + 1);
}
template <>
inline std::string rows_json(const webhooks::Delivery& row) {
  return deliveries_json(&row, &row + 1);
}

// The progress counters as one JSON object (crawl::progress_fields' names).
std::string progress_json(const crawl::CrawlProgress& progress);

// The params column: what was asked for, as a JSON object.
std::string params_json(const jobs::JobParams& params);

}  // namespace crawld::store
