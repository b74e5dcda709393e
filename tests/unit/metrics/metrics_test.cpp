#include "crawld/metrics/metrics.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

// The value of one sample line ("name{labels} value"), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

crawld::crawl::PageResult page(int status, std::string error = {}) {
  crawld::crawl::PageResult result;
  result.status = status;
  result.error = std::move(error);
  return result;
}

}  // namespace

TEST_CASE("Metrics counts pages by outcome and finished jobs by result", "[metrics]") {
  crawld::metrics::Metrics metrics;
  for (int i = 0; i < 3; ++i) metrics.page_fetched(page(200));
  metrics.page_fetched(page(301));
  metrics.page_fetched(page(404));
  metrics.page_fetched(page(500));
  metrics.page_fetched(page(0, "connection refused"));
  metrics.page_fetched(page(200, "body too large"));
  auto skipped = page(0, "robots: disallowed");
  skipped.skipped = true;
  metrics.page_fetched(skipped);
  metrics.page_fetched(skipped);

  crawld::jobs::Job job;
  for (auto state :
       {crawld::jobs::JobState::succeeded, crawld::jobs::JobState::timed_out, crawld::jobs::JobState::succeeded,
        crawld::jobs::JobState::running, crawld::jobs::JobState::queued}) {
    job.state = state;
    metrics.job_changed(job);
  }

  auto text = metrics.render({});
  CHECK(sample(text, R"(crawld_pages_fetched_total{outcome="ok"})") == 3);
  CHECK(sample(text, R"(crawld_pages_fetched_total{outcome="redirect"})") == 1);
  CHECK(sample(text, R"(crawld_pages_fetched_total{outcome="http_error"})") == 2);
  CHECK(sample(text, R"(crawld_pages_fetched_total{outcome="error"})") == 2);
  // Robots exclusions are not errors, and took no fetch to time.
  CHECK(sample(text, R"(crawld_pages_fetched_total{outcome="skipped"})") == 2);
  CHECK(sample(text, "crawld_fetch_duration_seconds_count") == 8);
  CHECK(sample(text, R"(crawld_jobs_finished_total{result="succeeded"})") == 2);
  CHECK(sample(text, R"(crawld_jobs_finished_total{result="timed_out"})") == 1);
  CHECK(sample(text, R"(crawld_jobs_finished_total{result="failed"})") == -1);  // never seen: no series
  CHECK(sample(text, "crawld_jobs_started_total") == 1);
}

TEST_CASE("Metrics keeps one series per method, route and status, whatever order requests come in", "[metrics]") {
  crawld::metrics::Metrics metrics;
  // Interleaved, so that the series change places in the lookup order.
  for (int i = 0; i < 50; ++i) {
    metrics.http_request("GET", "/start", 200, 0.001);
    if (i % 5 == 0) metrics.http_request("POST", "/start", 202, 0.002);
    if (i % 10 == 0) metrics.http_request("POST", "/start", 409, 0.002);
    if (i % 25 == 0) metrics.http_request("BREW", "unmatched", 405, 0.0);
  }
  std::string route("/jobs/{id}");
  for (int i = 0; i < 7; ++i) metrics.http_request("GET", route, 404, 0.5);
  route = "/jobs/{id}/cancel";  // the same buffer, another label
  metrics.http_request("GET", route, 404, 0.5);

  auto text = metrics.render({});
  CHECK(sample(text, R"(crawld_http_requests_total{code="200",method="GET",route="/start"})") == 50);
  CHECK(sample(text, R"(crawld_http_requests_total{code="202",method="POST",route="/start"})") == 10);
  CHECK(sample(text, R"(crawld_http_requests_total{code="409",method="POST",route="/start"})") == 5);
  CHECK(sample(text, R"(crawld_http_requests_total{code="405",method="other",route="unmatched"})") == 2);
  CHECK(sample(text, R"(crawld_http_requests_total{code="404",method="GET",route="/jobs/{id}"})") == 7);
  CHECK(sample(text, R"(crawld_http_requests_total{code="404",method="GET",route="/jobs/{id}/cancel"})") == 1);
  CHECK(sample(text, R"(crawld_http_request_duration_seconds_count{route="/start"})") == 65);
  CHECK(sample(text, R"(crawld_http_request_duration_seconds_count{route="/jobs/{id}"})") == 7);
}
