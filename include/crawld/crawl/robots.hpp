// robots.txt rules for one host, as seen by one user agent.
//
// Groups are chosen by user-agent (the groups naming our product token,
// else "*"); Allow/Disallow use longest-match precedence with "*" and
// "$" patterns (Allow wins a tie), as in RFC 9309. Groups naming the same
// agent are merged. Only the first 500 KiB of a file are read. Patterns and
// paths are compared after percent-encoding normalization ("%7E" == "~",
// but "%2F" != "/"). "/robots.txt" is always allowed.
#pragma once

#include "crawld/util/ttl_cache.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace crawld::crawl {

class RobotsRules {
 public:
  static RobotsRules allow_all();
  static RobotsRules disallow_all();
  // `user_agent` is our full User-Agent; its product token ("crawld") is
  // what groups are matched against (RFC 9309 2.2.1): a group applies when
  // its name (up to any '/' or space) equals our token case-insensitively
  // ("crawl" and "crawldx" do not name "crawld"); without one, "*" applies;
  // without that, everything is allowed. Lines may omit the colon
  // ("disallow /x", exactly two words), and a byte order mark or the start
  // of one is skipped, as Google's parser does.
  static RobotsRules parse(std::string_view text, std::string_view user_agent);

  // `target` is path + optional query, e.g. "/a/b?x=1" (UrlParts::target).
  bool allowed(std::string_view target) const;
  // From the chosen group only; decimals allowed, capped at 24 hours.
  std::optional<std::chrono::milliseconds> crawl_delay() const { return crawl_delay_; }
  // The file's Sitemap lines, as written (any group or none; at most 100).
  const std::vector<std::string>& sitemaps() const { return sitemaps_; }

 private:
  struct Rule {
    std::string pattern;
    bool allow = false;
  };
  std::vector<Rule> rules_;
  bool disallow_all_ = false;
  std::optional<std::chrono::milliseconds> crawl_delay_;
  std::vector<std::string> sitemaps_;
};

// robots.txt answers kept across crawls, so that consecutive crawls of a site
// do not each fetch its robots.txt again (RFC 9309 allows up to 24 hours).
// Only definite answers are kept: a file that was read (2xx) or a missing
// one (4xx, no rules). Failures (5xx, network errors) are not: the next crawl
// asks again. Keyed by the robots.txt URL (scheme, host and port). At most
// `max_entries` are kept, the oldest dropped first; a ttl of zero keeps none.
// Not thread-safe: the crawls use it on the loop.
class RobotsCache {
 public:
  using Clock = std::chrono::steady_clock;
  RobotsCache(std::chrono::seconds ttl, std::size_t max_entries);

  // The rules kept for this robots.txt URL, or null when none are fresh.
  std::shared_ptr<const RobotsRules> find(const std::string& url, Clock::time_point now);
  void store(const std::string& url, std::shared_ptr<const RobotsRules> rules, Clock::time_point now);
  std::size_t size() const { return entries_.size(); }

 private:
  std::chrono::seconds ttl_;
  util::TtlCache<std::shared_ptr<const RobotsRules>> entries_;
};

// What a crawl makes of its fetch of a host's robots.txt (RFC 9309): the
// rules, why the file could not be read (everything is then disallowed),
// and whether the answer is definite enough to keep for later crawls.
struct RobotsFetchResult {
  int status = 0;        // HTTP status, 0 without a response
  std::string error;     // the fetch's error, empty on success
  bool refused = false;  // the address was refused by policy (private network)
  std::string body;
};
struct RobotsAnswer {
  std::shared_ptr<const RobotsRules> rules;
  std::string unavailable;  // empty unless the rules are "disallow all" for lack of a file
  bool keep = false;        // cache it (a 3xx not followed to its end is not an answer)
};
// Unreachable or a server error means "disallow everything"; 4xx means
// there are no rules; a refused address is reported by the page fetch
// itself, so it does not hide behind "disallowed".
RobotsAnswer robots_answer(const RobotsFetchResult& fetch, std::string_view user_agent);

}  // namespace crawld::crawl
