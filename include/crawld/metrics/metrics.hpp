// The service's Prometheus metrics (prometheus-cpp core, served by our own
// HTTP server at /metrics).
//
// Counters and histograms are updated where things happen (requests, pages,
// job transitions); gauges that describe current state (jobs by state, open
// connections, database backlog, process memory) are sampled at scrape time
// from a Snapshot, so they can never drift from the truth.
// prometheus-cpp is included only in src/metrics/.
#pragma once

#include "crawld/crawl/page_result.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/jobs/job_observer.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

namespace crawld::metrics {

struct ClusterSnapshot {
  std::uint64_t claims = 0;
  std::uint64_t rescues = 0;
  std::uint64_t lost_leases = 0;
  std::uint64_t notify_reconnects = 0;
  std::uint64_t queue_depth = 0;
  std::size_t held = 0;
};

struct Snapshot {
  std::map<jobs::JobState, std::size_t> jobs;
  std::size_t open_connections = 0;
  std::size_t open_streams = 0;  // event streams, among the connections
  std::size_t db_backlog_rows = 0;
  bool db_configured = false;
  bool db_up = false;
  std::uint64_t db_rows_fenced = 0;
  std::optional<ClusterSnapshot> cluster;  // cluster mode only
};

class Metrics : public jobs::JobObserver {
 public:
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // `route` is the matched pattern ("/jobs/{id}") or "unmatched". Called on
  // the loop only (it keeps an unlocked cache of series).
  void http_request(std::string_view method, std::string_view route, int status, double seconds);
  void page_fetched(const crawl::PageResult& page);
  void loop_lag(double seconds);
  void db_write(double seconds, std::size_t rows, bool ok);
  // Cluster mode: a job claimed, `seconds` after it was accepted.
  void cluster_claim(double seconds);

  void job_changed(const jobs::Job& job) override;

  // Text exposition format 0.0.4.
  std::string render(const Snapshot& snapshot);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Resident set size of this process in bytes, and its open descriptors.
std::size_t resident_memory_bytes();
std::size_t open_file_descriptors();

}  // namespace crawld::metrics
