#include "crawld/jobs/outcome.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <catch2/catch.hpp>

#include <stdexcept>

using namespace crawld::jobs;
using crawld::crawl::CrawlOutcome;
using crawld::crawl::CrawlResult;

namespace {

std::exception_ptr aborted() {
  return std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted));
}

CrawlResult result(CrawlOutcome outcome, std::string error = {}) {
  CrawlResult r;
  r.outcome = outcome;
  r.error = std::move(error);
  return r;
}

}  // namespace

TEST_CASE("a crawl that returns decides the state when nobody stopped it", "[jobs]") {
  CHECK(classify_outcome(StopReason::none, 30, nullptr, result(CrawlOutcome::succeeded)).state == JobState::succeeded);
  CHECK(classify_outcome(StopReason::none, 30, nullptr, result(CrawlOutcome::succeeded)).error.empty());
  auto failed = classify_outcome(StopReason::none, 30, nullptr, result(CrawlOutcome::failed, "no seed could be fetched"));
  CHECK(failed.state == JobState::failed);
  CHECK(failed.error == "no seed could be fetched");
  CHECK(classify_outcome(StopReason::none, 30, nullptr, result(CrawlOutcome::failed)).error == "crawl failed");
  auto cancelled = classify_outcome(StopReason::none, 30, nullptr, result(CrawlOutcome::cancelled));
  CHECK(cancelled.state == JobState::cancelled);
  CHECK(cancelled.error == "cancelled");
}

TEST_CASE("a stop the service asked for decides the state, whatever the crawl reported", "[jobs]") {
  for (auto reported : {CrawlOutcome::succeeded, CrawlOutcome::failed, CrawlOutcome::cancelled}) {
    auto timed_out = classify_outcome(StopReason::deadline, 7, nullptr, result(reported));
    CHECK(timed_out.state == JobState::timed_out);
    CHECK(timed_out.error == "timed out after 7s");
    CHECK(classify_outcome(StopReason::user_request, 7, nullptr, result(reported)).state == JobState::cancelled);
    CHECK(classify_outcome(StopReason::user_request, 7, nullptr, result(reported)).error == "cancelled by operator");
    CHECK(classify_outcome(StopReason::shutdown, 7, nullptr, result(reported)).state == JobState::interrupted);
  }
}

TEST_CASE("our own cancellation escaping as operation_aborted is a stop, not a failure", "[jobs]") {
  CHECK(classify_outcome(StopReason::deadline, 1, aborted(), {}).state == JobState::timed_out);
  CHECK(classify_outcome(StopReason::user_request, 1, aborted(), {}).state == JobState::cancelled);
  CHECK(classify_outcome(StopReason::shutdown, 1, aborted(), {}).state == JobState::interrupted);
  // Without a stop we asked for, the same exception is a failure.
  auto unasked = classify_outcome(StopReason::none, 1, aborted(), {});
  CHECK(unasked.state == JobState::failed);
  CHECK(unasked.error.rfind("crawl failed: ", 0) == 0);
}

TEST_CASE("any other exception is the job's failure, even while stopping", "[jobs]") {
  auto boom = std::make_exception_ptr(std::runtime_error("boom"));
  CHECK(classify_outcome(StopReason::none, 1, boom, {}).error == "crawl failed: boom");
  CHECK(classify_outcome(StopReason::deadline, 1, boom, {}).state == JobState::failed);
  CHECK(classify_outcome(StopReason::none, 1, std::make_exception_ptr(42), {}).error == "crawl failed: unknown error");
}
