#include "crawl.hpp"

#include "crawld/crawl/content_encoding.hpp"
#include "crawld/crawl/page_analysis.hpp"
#include "crawld/crawl/redirects.hpp"
#include "crawld/crawl/url.hpp"
#include "crawld/util/offload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace crawld::crawl {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

const RobotsRules* Crawl::known_robots(const std::string& host, const std::string& page_url) {
  if (auto it = robots_.find(host); it != robots_.end()) return it->second->ready ? it->second->rules.get() : nullptr;
  auto robots_url = robots_txt_url(page_url);
  auto kept = robots_url ? shared_.robots_cache.find(*robots_url, clock::now()) : nullptr;
  if (!kept) return nullptr;
  auto& robots = *robots_.emplace(host, std::make_unique<HostRobots>(executor_)).first->second;
  robots.rules = std::move(kept);
  robots.ready = true;
  if (auto delay = robots.rules->crawl_delay()) frontier_.raise_delay(host, *delay);
  return robots.rules.get();
}

asio::awaitable<const RobotsRules*> Crawl::robots_for(const std::string& host, const std::string& page_url) {
  if (const RobotsRules* known = known_robots(host, page_url)) co_return known;
  auto [it, first] = robots_.try_emplace(host, nullptr);
  if (first) it->second = std::make_unique<HostRobots>(executor_);
  HostRobots& robots = *it->second;
  if (first) {
    co_await fetch_robots(robots, host, page_url);
    co_return robots.rules.get();
  }
  // Someone else is fetching it: wait for them (or for a cancellation).
  auto cancellation = co_await asio::this_coro::cancellation_state;
  while (!robots.ready && cancellation.cancelled() == asio::cancellation_type::none) {
    robots.ready_event.expires_at(clock::time_point::max());
    co_await robots.ready_event.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return robots.ready ? robots.rules.get() : nullptr;
}

asio::awaitable<void> Crawl::fetch_robots(HostRobots& robots, const std::string& host, const std::string& page_url) {
  frontier_.block(host, true);
  auto robots_url = robots_txt_url(page_url);
  RobotsFetchResult fetched;
  WireBody wire;
  if (robots_url) {
    auto response = co_await fetcher_.fetch(*robots_url);
    fetched = {response.status, std::move(response.error), response.error_kind == FetchErrorKind::refused, {}};
    wire = {std::move(response.body), std::move(response.content_encoding), response.truncated};
  } else {
    fetched.error = "invalid URL";
  }
  // Decoding and parsing are CPU work for the compute pool.
  auto task = [fetched = std::move(fetched), wire = std::move(wire), cap = config_.max_body_bytes,
               agent = config_.effective_user_agent()]() mutable -> asio::awaitable<RobotsAnswer> {
    auto decoded = decode_body(wire.encoding, std::move(wire.data), wire.truncated, cap);
    if (decoded.error.empty()) {
      fetched.body = std::move(decoded.body);
    } else if (fetched.error.empty()) {
      fetched.error = std::move(decoded.error);
    }
    co_return robots_answer(fetched, agent);
  };
  auto answer = co_await util::offload(shared_.compute_pool, std::move(task));
  robots.rules = std::move(answer.rules);
  robots.unavailable = std::move(answer.unavailable);
  if (answer.keep) shared_.robots_cache.store(*robots_url, robots.rules, clock::now());
  if (auto delay = robots.rules->crawl_delay()) frontier_.raise_delay(host, *delay);
  robots.ready = true;
  robots.ready_event.cancel();
  frontier_.block(host, false);
}

asio::awaitable<Fetcher::RedirectVerdict> Crawl::check_redirect(const std::string& from_host, const std::string& url) {
  using Action = Fetcher::RedirectVerdict::Action;
  auto decision = decide_redirect(from_host, url, allowed_hosts_, config_.obey_robots);
  switch (decision.action) {
    case RedirectDecision::Action::refuse:
      co_return Fetcher::RedirectVerdict{Action::refuse, decision.reason};
    case RedirectDecision::Action::hand_back:
      co_return Fetcher::RedirectVerdict{Action::hand_back, {}};
    case RedirectDecision::Action::follow:
      co_return Fetcher::RedirectVerdict{};
    case RedirectDecision::Action::check_robots:
      break;
  }
  // The host's own rules: known, since this fetch was allowed by them.
  const RobotsRules* rules = co_await robots_for(decision.host, url);
  if (rules == nullptr) co_return Fetcher::RedirectVerdict{Action::refuse, "cancelled"};
  if (!rules->allowed(decision.target)) co_return Fetcher::RedirectVerdict{Action::refuse, "robots: disallowed"};
  co_return Fetcher::RedirectVerdict{};
}

}  // namespace crawld::crawl
