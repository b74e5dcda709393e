// robots.txt rules for one host, as seen by one user agent.
//
// Groups are chosen by user-agent (the most specific group naming our product
// token, else "*"); Allow/Disallow use longest-match precedence with "*" and
// "$" patterns (Allow wins a tie), as in RFC 9309.
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
  // what groups are matched against, case-insensitively.
  static RobotsRules parse(std::string_view text, std::string_view user_agent);

  // `target` is path + optional query, e.g. "/a/b?x=1".
  bool allowed(std::string_view target) const;
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
