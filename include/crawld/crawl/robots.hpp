// robots.txt rules for one host, as seen by one user agent.
//
// Groups are chosen by user-agent (the most specific group naming our product
// token, else "*"); Allow/Disallow use longest-match precedence with "*" and
// "$" patterns (Allow wins a tie), as in RFC 9309. Groups naming the same
// agent are merged. Only the first 500 KiB of a file are read. Patterns and
// paths are compared after percent-encoding normalization ("%7E" == "~",
// but "%2F" != "/"). "/robots.txt" is always allowed.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crawld::crawl {

class RobotsRules {
 public:
  static RobotsRules allow_all();
  static RobotsRules disallow_all();
  // `user_agent` is our full User-Agent; its product token ("crawld") is
  // what groups are matched against, case-insensitively: a group applies when
  // its name (up to any '/') occurs in our token, and the longest such name
  // wins ("crawld" over "crawl"); without one, "*" applies; without that,
  // everything is allowed.
  static RobotsRules parse(std::string_view text, std::string_view user_agent);

  // `target` is path + optional query, e.g. "/a/b?x=1" (UrlParts::target).
  bool allowed(std::string_view target) const;
  // From the chosen group only; decimals allowed, capped at 24 hours.
  std::optional<std::chrono::milliseconds> crawl_delay() const { return crawl_delay_; }

 private:
  struct Rule {
    std::string pattern;
    bool allow = false;
  };
  std::vector<Rule> rules_;
  bool disallow_all_ = false;
  std::optional<std::chrono::milliseconds> crawl_delay_;
};

}  // namespace crawld::crawl
