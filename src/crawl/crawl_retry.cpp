#include "crawl.hpp"

#include "crawld/crawl/retry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace crawld::crawl {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// The longest backoff, whatever the attempt: past it a site is down, not busy.
constexpr milliseconds max_backoff{60'000};

// What counts towards giving a host up: it did not answer, or not sanely,
// even after the retries. A 404 is an answer; a refused redirect is the
// crawl's own rule.
bool host_failed(const FetchResponse& response) {
  if (transient_failure(response)) return true;
  const auto kind = response.error_kind;
  return !response.error.empty() && (kind == FetchErrorKind::network || kind == FetchErrorKind::timeout ||
                                     kind == FetchErrorKind::tls || kind == FetchErrorKind::http);
}

bool asks_to_wait(const FetchResponse& response) {
  return response.error.empty() && (response.status == 429 || response.status == 503) && !response.retry_after.empty();
}

}  // namespace

asio::awaitable<FetchResponse> Crawl::fetch_with_retries(const FrontierEntry& entry) {
  const auto base = milliseconds(config_.retry_backoff_ms);
  for (std::uint32_t attempt = 0;; ++attempt) {
    const auto started = clock::now();
    auto response = co_await fetch(entry);
    if (response.error_kind == FetchErrorKind::cancelled) co_return response;
    const bool failed = transient_failure(response);
    if (config_.adaptive_delay) {
      frontier_.adapt(entry.host, std::chrono::duration_cast<milliseconds>(clock::now() - started),
                      config_.adaptive_concurrency, response.error.empty() && !failed);
    }
    if (!failed || attempt >= config_.max_retries || (control_ && control_->stop_requested)) co_return response;

    auto wait = std::max(backoff(attempt, base, max_backoff, jitter_random()), frontier_.delay(entry.host));
    if (asks_to_wait(response)) {
      if (const auto after = parse_retry_after(response.retry_after, std::chrono::system_clock::now())) {
        if (after->count() > config_.max_retry_after_s) {
          response.error_kind = FetchErrorKind::http;
          response.error = "HTTP " + std::to_string(response.status) + " with Retry-After " +
                           std::to_string(after->count()) + " s, more than crawl.max_retry_after_s (" +
                           std::to_string(config_.max_retry_after_s) + ")";
          co_return response;
        }
        // The whole host waits, not only this page.
        frontier_.pause(entry.host, clock::now() + *after);
        wait = std::max(wait, milliseconds(*after));
      }
    }
    if (!co_await sleep(wait)) {
      response.error_kind = FetchErrorKind::cancelled;
      co_return response;
    }
    ++progress_.retries;
    publish();
  }
}

asio::awaitable<bool> Crawl::sleep(milliseconds duration) {
  asio::steady_timer timer(executor_, duration);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  auto cancellation = co_await asio::this_coro::cancellation_state;
  co_return cancellation.cancelled() == asio::cancellation_type::none && !cancelled_;
}

void Crawl::note_host_outcome(const std::string& host, const FetchResponse& response) {
  if (!host_failed(response)) {
    host_failures_.erase(host);
    return;
  }
  const auto failures = ++host_failures_[host];
  if (config_.host_failure_limit == 0 || failures != config_.host_failure_limit || frontier_.given_up(host)) return;
  frontier_.give_up(host);
  auto last = response.error.empty() ? "HTTP " + std::to_string(response.status) : response.error;
  given_up_[host] = "not fetched: host " + host + " given up after " + std::to_string(failures) +
                    " failures in a row (last: " + last + ")";
  sink_.on_event("warn", "host " + host + " given up after " + std::to_string(failures) +
                             " failures in a row (last: " + last + "); its other pages are not fetched");
  wake_workers();
}

}  // namespace crawld::crawl
