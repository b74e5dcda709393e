// Which redirects a crawl follows, and how.
//
// A redirect to a host the target does not allow is refused (it becomes the
// page's error); one to another allowed host is handed back, to wait for a
// slot of that host (its concurrency limit, delay and robots.txt); one on the
// same host is followed within the fetch, if that host's robots.txt allows
// it. Pure: the caller supplies the robots answer.
#pragma once

#include <set>
#include <string>

namespace crawld::crawl {

struct RedirectDecision {
  enum class Action { follow, refuse, hand_back, check_robots };
  Action action = Action::follow;
  std::string reason;  // refuse: why
  std::string host;    // the target's host key (check_robots: whose rules)
  std::string target;  // the target's path and query (check_robots: what to ask)
};

// The decision for a redirect from a page on `from_host` to `url`
// (normalized). With obey_robots, a same-host redirect is check_robots: the
// caller then asks that host's rules about `target`.
RedirectDecision decide_redirect(const std::string& from_host, const std::string& url,
                                 const std::set<std::string>& allowed_hosts, bool obey_robots);

}  // namespace crawld::crawl
