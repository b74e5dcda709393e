#include "crawld/jobs/outcome.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace crawld::jobs {

namespace {

bool is_our_cancellation(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

std::string failure_message(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return std::string("crawl failed: ") + e.what();
  } catch (...) {
    return "crawl failed: unknown error";
  }
}

Outcome by_stop_reason(StopReason stop, std::uint32_t timeout_s) {
  switch (stop) {
    case StopReason::deadline: return {JobState::timed_out, "timed out after " + std::to_string(timeout_s) + "s"};
    case StopReason::user_request: return {JobState::cancelled, "cancelled by operator"};
    case StopReason::shutdown: return {JobState::interrupted, "interrupted: the service stopped"};
    case StopReason::none: break;
  }
  return {};
}

Outcome by_crawl_result(const crawl::CrawlResult& result) {
  switch (result.outcome) {
    case crawl::CrawlOutcome::failed: return {JobState::failed, result.error.empty() ? "crawl failed" : result.error};
    case crawl::CrawlOutcome::cancelled: return {JobState::cancelled, result.error.empty() ? "cancelled" : result.error};
    case crawl::CrawlOutcome::succeeded: break;
  }
  return {};
}

}  // namespace

Outcome classify_outcome(StopReason stop, std::uint32_t timeout_s, std::exception_ptr error,
                         const crawl::CrawlResult& result) {
  // A crawl that ends by letting the cancellation we emitted escape was
  // stopped, not broken: its stop reason decides.
  if (error && stop != StopReason::none && is_our_cancellation(error)) error = nullptr;
  // Nothing a crawl throws may escape: it becomes the job's failure.
  if (error) return {JobState::failed, failure_message(error)};
  if (stop != StopReason::none) return by_stop_reason(stop, timeout_s);
  return by_crawl_result(result);
}

}  // namespace crawld::jobs
