#include "crawld/crawl/redirects.hpp"

#include "crawld/crawl/url.hpp"

namespace crawld::crawl {

RedirectDecision decide_redirect(const std::string& from_host, const std::string& url,
                                 const std::set<std::string>& allowed_hosts, bool obey_robots) {
  using Action = RedirectDecision::Action;
  auto key = url_key(url);
  if (!key) return {Action::refuse, "invalid URL", {}, {}};
  if (!allowed_hosts.contains(key->host)) return {Action::refuse, "host " + key->host + " is not allowed", {}, {}};
  if (key->host != from_host) return {Action::hand_back, {}, std::move(key->host), std::move(key->target)};
  if (obey_robots) return {Action::check_robots, {}, std::move(key->host), std::move(key->target)};
  return {Action::follow, {}, std::move(key->host), std::move(key->target)};
}

}  // namespace crawld::crawl
