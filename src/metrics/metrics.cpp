#include "crawld/metrics/metrics.hpp"

#include "crawld/version.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <vector>

namespace crawld::metrics {

namespace pm = prometheus;

namespace {

// Bounded label values: anything unusual collapses into "other".
std::string_view method_label(std::string_view method) {
  static constexpr std::string_view known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  for (auto m : known) {
    if (method == m) return m;
  }
  return "other";
}

constexpr const char* page_outcomes[] = {"error", "ok", "redirect", "http_error", "skipped"};

// Index into page_outcomes.
std::size_t page_outcome(const crawl::PageResult& page) {
  if (page.skipped) return 4;
  if (!page.error.empty()) return 0;
  if (page.status >= 200 && page.status < 300) return 1;
  if (page.status >= 300 && page.status < 400) return 2;
  return 3;
}

const pm::Histogram::BucketBoundaries latency_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                         0.05,   0.1,   0.25,   0.5,   1,    2.5};
const pm::Histogram::BucketBoundaries fetch_buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
const pm::Histogram::BucketBoundaries job_buckets = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};
const pm::Histogram::BucketBoundaries lag_buckets = {0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075,
                                                     0.01,   0.025, 0.05,  0.1,   0.5,   1};

}  // namespace

struct Metrics::Impl {
  struct RequestSeries {
    std::string_view method;  // one of method_label's literals
    int status = 0;
    std::string route;
    pm::Counter* count = nullptr;
    pm::Histogram* duration = nullptr;
  };
  // Searched in order; a series found moves one place forward, so the few
  // that take most requests are met first.
  std::vector<RequestSeries> request_series;
  // Like request_series: a series is added on first use, then remembered.
  std::array<pm::Counter*, std::size(page_outcomes)> pages_by_outcome{};
  std::array<pm::Counter*, std::size(jobs::all_job_states)> jobs_finished_by_result{};
  static_assert(static_cast<std::size_t>(jobs::JobState::interrupted) + 1 == std::size(jobs::all_job_states),
                "jobs_finished_by_result is indexed by JobState");
  std::shared_ptr<pm::Registry> registry = std::make_shared<pm::Registry>();
  pm::Family<pm::Counter>& http_requests = pm::BuildCounter()
                                               .Name("crawld_http_requests_total")
                                               .Help("HTTP requests answered, by method, route pattern and status")
                                               .Register(*registry);
  pm::Family<pm::Histogram>& http_duration = pm::BuildHistogram()
                                                 .Name("crawld_http_request_duration_seconds")
                                                 .Help("Time from the first request byte to the answer, by route")
                                                 .Register(*registry);
  pm::Family<pm::Gauge>& jobs_by_state =
      pm::BuildGauge().Name("crawld_jobs").Help("Jobs known to this instance, by state").Register(*registry);
  pm::Counter& jobs_started =
      pm::BuildCounter().Name("crawld_jobs_started_total").Help("Crawls started").Register(*registry).Add({});
  pm::Family<pm::Counter>& jobs_finished =
      pm::BuildCounter().Name("crawld_jobs_finished_total").Help("Jobs finished, by result").Register(*registry);
  pm::Histogram& job_duration = pm::BuildHistogram()
                                    .Name("crawld_job_duration_seconds")
                                    .Help("Run time of finished crawls")
                                    .Register(*registry)
                                    .Add({}, job_buckets);
  pm::Family<pm::Counter>& pages =
      pm::BuildCounter()
          .Name("crawld_pages_fetched_total")
          .Help("Pages fetched, by outcome (ok, redirect, http_error, error; skipped: disallowed by robots.txt)")
          .Register(*registry);
  pm::Counter& fetch_bytes = pm::BuildCounter()
                                 .Name("crawld_fetch_bytes_total")
                                 .Help("Body bytes received by crawls")
                                 .Register(*registry)
                                 .Add({});
  pm::Histogram& fetch_duration = pm::BuildHistogram()
                                      .Name("crawld_fetch_duration_seconds")
                                      .Help("Time to fetch one page")
                                      .Register(*registry)
                                      .Add({}, fetch_buckets);
  pm::Gauge& db_backlog = pm::BuildGauge()
                              .Name("crawld_db_backlog_rows")
                              .Help("Rows waiting to be written to the database")
                              .Register(*registry)
                              .Add({});
  pm::Counter& db_write_errors = pm::BuildCounter()
                                     .Name("crawld_db_write_errors_total")
                                     .Help("Failed database write attempts (retried)")
                                     .Register(*registry)
                                     .Add({});
  pm::Histogram& db_write_duration = pm::BuildHistogram()
                                         .Name("crawld_db_write_duration_seconds")
                                         .Help("Time to write one batch to the database")
                                         .Register(*registry)
                                         .Add({}, fetch_buckets);
  pm::Gauge& db_up = pm::BuildGauge()
                         .Name("crawld_db_up")
                         .Help("1 when the database is reachable and migrated")
                         .Register(*registry)
                         .Add({});
  pm::Histogram& loop_lag = pm::BuildHistogram()
                                .Name("crawld_event_loop_lag_seconds")
                                .Help("How late the 100 ms loop timer fired")
                                .Register(*registry)
                                .Add({}, lag_buckets);
  pm::Gauge& open_connections =
      pm::BuildGauge().Name("crawld_open_connections").Help("Open HTTP connections").Register(*registry).Add({});
  pm::Gauge& open_streams = pm::BuildGauge()
                                .Name("crawld_open_streams")
                                .Help("Open event streams (text/event-stream), among the open connections")
                                .Register(*registry)
                                .Add({});
  pm::Gauge& resident_memory = pm::BuildGauge()
                                   .Name("process_resident_memory_bytes")
                                   .Help("Resident memory size in bytes")
                                   .Register(*registry)
                                   .Add({});
  // Cluster mode. Counters the coordinator keeps are carried over at scrape
  // time (by what they grew since the last one).
  pm::Counter& cluster_claims =
      counter("crawld_cluster_claims_total", "Jobs this instance claimed from the shared queue");
  pm::Histogram& cluster_claim_latency = pm::BuildHistogram()
                                             .Name("crawld_cluster_claim_latency_seconds")
                                             .Help("From a job's accept to its claim")
                                             .Register(*registry)
                                             .Add({}, fetch_buckets);
  pm::Counter& cluster_rescues =
      counter("crawld_cluster_rescues_total", "Jobs whose lease ran out, rescued by this instance");
  pm::Counter& cluster_lost = counter("crawld_cluster_lost_leases_total", "Attempts this instance lost its lease on");
  pm::Counter& cluster_reconnects =
      counter("crawld_cluster_notify_reconnects_total", "Times the LISTEN connection was made again");
  pm::Counter& fenced_rows =
      counter("crawld_db_fenced_rows_total", "Rows not written: their attempt was no longer this instance's");
  pm::Gauge& cluster_queue_depth = pm::BuildGauge()
                                       .Name("crawld_cluster_queue_depth")
                                       .Help("Queued jobs cluster-wide, as last seen")
                                       .Register(*registry)
                                       .Add({});
  pm::Gauge& cluster_held = pm::BuildGauge()
                                .Name("crawld_cluster_held_attempts")
                                .Help("Attempts this instance holds a lease on")
                                .Register(*registry)
                                .Add({});
  ClusterSnapshot last_cluster;
  std::uint64_t last_fenced = 0;

  pm::Counter& counter(const char* name, const char* help) {
    return pm::BuildCounter().Name(name).Help(help).Register(*registry).Add({});
  }

  pm::Gauge& open_fds =
      pm::BuildGauge().Name("process_open_fds").Help("Number of open file descriptors").Register(*registry).Add({});

  Impl() {
    pm::BuildGauge()
        .Name("crawld_build_info")
        .Help("Build information; always 1")
        .Register(*registry)
        .Add({{"version", std::string(version)}})
        .Set(1);
    for (auto state : jobs::all_job_states) jobs_by_state.Add({{"state", std::string(jobs::to_string(state))}});
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::http_request(std::string_view method, std::string_view route, int status, double seconds) {
  // Family::Add builds a label map and takes the family's lock on every call;
  // the series a request lands in are found once and remembered (the label
  // values are bounded: known methods, route patterns, status codes).
  std::string_view method_text = method_label(method);
  auto& all = impl_->request_series;
  auto it = std::find_if(all.begin(), all.end(), [&](const Impl::RequestSeries& series) {
    return series.status == status && series.method == method_text && series.route == route;
  });
  if (it == all.end()) {
    Impl::RequestSeries series{method_text, status, std::string(route)};
    std::string code = std::to_string(status);
    series.count =
        &impl_->http_requests.Add({{"method", std::string(method_text)}, {"route", series.route}, {"code", code}});
    series.duration = &impl_->http_duration.Add({{"route", series.route}}, latency_buckets);
    all.push_back(std::move(series));
    it = all.end() - 1;
  } else if (it != all.begin()) {
    std::iter_swap(it, it - 1);
    --it;
  }
  it->count->Increment();
  it->duration->Observe(seconds);
}

void Metrics::page_fetched(const crawl::PageResult& page) {
  auto outcome = page_outcome(page);
  auto*& counter = impl_->pages_by_outcome[outcome];
  if (counter == nullptr) counter = &impl_->pages.Add({{"outcome", page_outcomes[outcome]}});
  counter->Increment();
  // A page robots.txt kept us from fetching took no fetch to observe.
  if (page.skipped) return;
  impl_->fetch_bytes.Increment(static_cast<double>(page.wire_bytes));
  impl_->fetch_duration.Observe(page.elapsed_ms / 1000.0);
}

void Metrics::loop_lag(double seconds) { impl_->loop_lag.Observe(seconds); }

void Metrics::db_write(double seconds, std::size_t rows, bool ok) {
  if (ok) {
    impl_->db_write_duration.Observe(seconds);
  } else {
    impl_->db_write_errors.Increment();
  }
}

void Metrics::cluster_claim(double seconds) { impl_->cluster_claim_latency.Observe(seconds); }

void Metrics::job_changed(const jobs::Job& job) {
  if (job.state == jobs::JobState::running) {
    impl_->jobs_started.Increment();
    return;
  }
  if (!jobs::is_terminal(job.state)) return;
  auto*& counter = impl_->jobs_finished_by_result[static_cast<std::size_t>(job.state)];
  if (counter == nullptr) counter = &impl_->jobs_finished.Add({{"result", std::string(jobs::to_string(job.state))}});
  counter->Increment();
  if (job.started_at && job.finished_at) {
    impl_->job_duration.Observe(std::chrono::duration<double>(*job.finished_at - *job.started_at).count());
  }
}

std::string Metrics::render(const Snapshot& snapshot) {
  for (const auto& [state, count] : snapshot.jobs) {
    impl_->jobs_by_state.Add({{"state", std::string(jobs::to_string(state))}}).Set(static_cast<double>(count));
  }
  impl_->open_connections.Set(static_cast<double>(snapshot.open_connections));
  impl_->open_streams.Set(static_cast<double>(snapshot.open_streams));
  impl_->db_backlog.Set(static_cast<double>(snapshot.db_backlog_rows));
  impl_->db_up.Set(snapshot.db_up ? 1 : 0);
  auto grow = [](pm::Counter& counter, std::uint64_t now, std::uint64_t& last) {
    if (now > last) counter.Increment(static_cast<double>(now - last));
    last = now;
  };
  grow(impl_->fenced_rows, snapshot.db_rows_fenced, impl_->last_fenced);
  if (const auto& c = snapshot.cluster) {
    auto& last = impl_->last_cluster;
    grow(impl_->cluster_claims, c->claims, last.claims);
    grow(impl_->cluster_rescues, c->rescues, last.rescues);
    grow(impl_->cluster_lost, c->lost_leases, last.lost_leases);
    grow(impl_->cluster_reconnects, c->notify_reconnects, last.notify_reconnects);
    impl_->cluster_queue_depth.Set(static_cast<double>(c->queue_depth));
    impl_->cluster_held.Set(static_cast<double>(c->held));
  }
  impl_->resident_memory.Set(static_cast<double>(resident_memory_bytes()));
  impl_->open_fds.Set(static_cast<double>(open_file_descriptors()));
  return pm::TextSerializer().Serialize(impl_->registry->Collect());
}

std::size_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0;
  std::size_t pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::size_t open_file_descriptors() {
  std::size_t count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    if (count > 0) --count;  // the descriptor opendir itself holds
  }
  return count;
}

}  // namespace crawld::metrics
