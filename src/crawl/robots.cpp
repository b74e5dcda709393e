#include "crawld/crawl/robots.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace crawld::crawl {
namespace {

// Google reads at most 500 KiB of a robots.txt and so do we: a larger file is
// a mistake or an attack, and parsing it would cost more than it tells.
constexpr std::size_t kMaxRobotsBytes = std::size_t{500} * 1024;
// Longer delays are nonsense; the cap also keeps the conversion from overflowing.
constexpr double kMaxCrawlDelaySeconds = 24 * 60 * 60;

constexpr char kHex[] = "0123456789ABCDEF";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// One spelling for patterns and paths, so that "/%7Ejoe", "/%7ejoe" and
// "/~joe" compare equal and a UTF-8 pattern matches its escaped form in a
// URL: unreserved characters decoded, everything a URL cannot hold raw as
// upper-case "%XX" of its UTF-8 bytes. Reserved characters stay as they are
// written: "%2F" is not "/".
std::string canonical_path(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto append_escaped = [&out](unsigned char c) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      const auto decoded = static_cast<unsigned char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      if (is_unreserved(decoded)) {
        out += static_cast<char>(decoded);
      } else {
        append_escaped(decoded);
      }
      i += 2;
    } else if (c <= 0x20 || c >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' ||
               c == '{' || c == '|' || c == '}') {
      // What a URL cannot hold raw: the crawl's URLs carry it escaped.
      append_escaped(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// "*" matches any run of characters; a final "$" anchors the end; otherwise
// the pattern need only match a prefix. Greedy matching that backtracks only
// to the last "*" is exact for this language and costs at most
// O(|pattern| * |path|), whatever the pattern ("/*a*a*a*a*b" included).
bool pattern_matches(std::string_view pattern, std::string_view path) {
  const bool anchored = !pattern.empty() && pattern.back() == '$';
  if (anchored) pattern.remove_suffix(1);
  if (pattern.find('*') == std::string_view::npos) {
    return anchored ? path == pattern : path.substr(0, pattern.size()) == pattern;
  }
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < path.size()) {
    if (!anchored && p == pattern.size()) return true;
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == path[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

enum class Key { user_agent, allow, disallow, crawl_delay, sitemap, other };

// Sitemap lines kept from one file; more are a mistake or an attack.
constexpr std::size_t kMaxSitemaps = 100;

// Common misspellings are accepted, as Google's parser does.
Key key_of(std::string_view raw) {
  const auto key = lower(trim(raw));
  if (key == "user-agent" || key == "useragent" || key == "user agent") return Key::user_agent;
  if (key == "allow") return Key::allow;
  if (key == "disallow" || key == "dissallow" || key == "dissalow" || key == "disalow" || key == "diasllow" ||
      key == "disallaw") {
    return Key::disallow;
  }
  if (key == "crawl-delay" || key == "crawldelay" || key == "crawl delay") return Key::crawl_delay;
  if (key == "sitemap" || key == "site-map") return Key::sitemap;
  return Key::other;
}

// "crawld/0.1 (+https://...)" -> "crawld"; also applied to group names, so
// "User-agent: crawld/2.0" names us.
std::string product_token(std::string_view user_agent) {
  user_agent = trim(user_agent);
  const auto end = user_agent.find_first_of("/ \t");
  return lower(user_agent.substr(0, end));
}

std::optional<std::chrono::milliseconds> parse_crawl_delay(std::string_view value) {
  double seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || end == value.data() || !std::isfinite(seconds) || seconds < 0) return std::nullopt;
  seconds = std::min(seconds, kMaxCrawlDelaySeconds);
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

struct Group {
  std::vector<std::string> agents;                  // product tokens, lower-case; "*" for everyone
  std::vector<std::pair<std::string, bool>> rules;  // canonical pattern, allow
  std::optional<std::chrono::milliseconds> crawl_delay;
};

// The part of a robots.txt that is read: without a byte order mark, cut at
// the last line break inside the cap so no rule is read half.
std::string_view readable_part(std::string_view text) {
  // A byte order mark, or the start of one (a file cut by a broken editor),
  // is skipped, as Google's parser does.
  constexpr std::string_view bom = "\xEF\xBB\xBF";
  for (std::size_t i = 0; i < bom.size() && !text.empty() && text.front() == bom[i]; ++i) text.remove_prefix(1);
  if (text.size() > kMaxRobotsBytes) {
    text = text.substr(0, kMaxRobotsBytes);
    if (const auto last_break = text.find_last_of("\r\n"); last_break != std::string_view::npos) {
      text = text.substr(0, last_break);
    }
  }
  return text;
}

// "key: value", or "key value" without the colon (as Google's parser
// accepts: exactly two words). An empty key when the line is neither.
std::pair<std::string_view, std::string_view> split_line(std::string_view line) {
  line = trim(line);
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    return {trim(line.substr(0, colon)), trim(line.substr(colon + 1))};
  }
  const auto space = line.find_first_of(" \t");
  if (space == std::string_view::npos) return {};
  const auto value = trim(line.substr(space));
  if (value.find_first_of(" \t") != std::string_view::npos) return {};
  return {line.substr(0, space), value};
}

// Reads robots.txt line by line into groups. A group opens with one or more
// consecutive user-agent lines; the next user-agent line after a rule opens
// the following group.
class GroupParser {
 public:
  void line(std::string_view line) {
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const auto [raw_key, value] = split_line(line);
    if (raw_key.empty()) return;  // blank or garbage
    const auto key = key_of(raw_key);
    switch (key) {
      case Key::user_agent:
        if (!reading_agents_) groups_.emplace_back();
        reading_agents_ = true;
        if (auto agent = product_token(value); !agent.empty()) groups_.back().agents.push_back(std::move(agent));
        break;
      case Key::allow:
      case Key::disallow:
        reading_agents_ = false;
        // Rules before any user-agent line belong to no group. An empty
        // Disallow means "allow everything", which is the default anyway.
        if (groups_.empty() || value.empty()) break;
        groups_.back().rules.emplace_back(canonical_path(value), key == Key::allow);
        break;
      case Key::crawl_delay:
        reading_agents_ = false;
        if (!groups_.empty() && !groups_.back().crawl_delay) groups_.back().crawl_delay = parse_crawl_delay(value);
        break;
      case Key::sitemap:  // not part of any group
        if (!value.empty() && sitemaps_.size() < kMaxSitemaps) sitemaps_.emplace_back(value);
        break;
      case Key::other:  // extensions
        break;
    }
  }
  std::vector<Group> take() { return std::move(groups_); }
  std::vector<std::string> take_sitemaps() { return std::move(sitemaps_); }

 private:
  std::vector<Group> groups_;
  std::vector<std::string> sitemaps_;
  bool reading_agents_ = false;
};

GroupParser parse_lines(std::string_view text) {
  text = readable_part(text);
  GroupParser parser;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto end = std::min(text.find_first_of("\r\n", pos), text.size());
    parser.line(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return parser;
}

}  // namespace

RobotsRules RobotsRules::allow_all() { return RobotsRules{}; }

RobotsRules RobotsRules::disallow_all() {
  RobotsRules rules;
  rules.disallow_all_ = true;
  return rules;
}

RobotsRules RobotsRules::parse(std::string_view text, std::string_view user_agent) {
  auto parser = parse_lines(text);
  const auto groups = parser.take();
  const auto token = product_token(user_agent);

  // RFC 9309 2.2.1: the group whose name equals our product token,
  // case-insensitively ("crawl" does not name "crawld"); without one, the
  // "*" group.
  const bool named = !token.empty() && std::any_of(groups.begin(), groups.end(), [&](const Group& group) {
    return std::find(group.agents.begin(), group.agents.end(), token) != group.agents.end();
  });
  const std::string_view wanted = named ? std::string_view(token) : std::string_view("*");
  auto selected = [&](const Group& group) {
    return std::find(group.agents.begin(), group.agents.end(), wanted) != group.agents.end();
  };

  // RFC 9309 2.2.1: several groups naming the same agent are merged.
  RobotsRules rules;
  rules.sitemaps_ = parser.take_sitemaps();
  for (const auto& group : groups) {
    if (!selected(group)) continue;
    for (const auto& [pattern, allow] : group.rules) rules.rules_.push_back(Rule{pattern, allow});
    if (!rules.crawl_delay_) rules.crawl_delay_ = group.crawl_delay;
  }
  return rules;
}

bool RobotsRules::allowed(std::string_view target) const {
  // RFC 9309 2.2.2: /robots.txt itself is always allowed.
  if (target == "/robots.txt") return true;
  if (disallow_all_) return false;
  if (rules_.empty()) return true;

  const auto path = canonical_path(target.empty() ? std::string_view("/") : target);
  // Longest pattern wins; on equal length Allow wins.
  std::size_t best_length = 0;
  bool matched = false;
  bool allow = true;
  for (const auto& rule : rules_) {
    const auto length = rule.pattern.size();
    // A match could not change the verdict.
    if (matched && (length < best_length || (length == best_length && (allow || !rule.allow)))) continue;
    if (!pattern_matches(rule.pattern, path)) continue;
    matched = true;
    best_length = length;
    allow = rule.allow;
  }
  return allow;
}

RobotsCache::RobotsCache(std::chrono::seconds ttl, std::size_t max_entries) : ttl_(ttl), entries_(max_entries) {}

std::shared_ptr<const RobotsRules> RobotsCache::find(const std::string& url, Clock::time_point now) {
  const auto* kept = entries_.find(url, now);
  return kept == nullptr ? nullptr : *kept;
}

void RobotsCache::store(const std::string& url, std::shared_ptr<const RobotsRules> rules, Clock::time_point now) {
  if (ttl_.count() > 0) entries_.store(url, std::move(rules), now + ttl_, now);
}

RobotsAnswer robots_answer(const RobotsFetchResult& fetch, std::string_view user_agent) {
  RobotsAnswer answer;
  const bool answered = fetch.error.empty() && fetch.status >= 200 && fetch.status < 500;
  if (fetch.refused || (answered && fetch.status >= 400)) {
    answer.rules = std::make_shared<const RobotsRules>(RobotsRules::allow_all());
  } else if (!fetch.error.empty()) {
    answer.rules = std::make_shared<const RobotsRules>(RobotsRules::disallow_all());
    answer.unavailable = fetch.error;
  } else if (fetch.status >= 200 && fetch.status < 300) {
    answer.rules = std::make_shared<const RobotsRules>(RobotsRules::parse(fetch.body, user_agent));
  } else {
    answer.rules = std::make_shared<const RobotsRules>(RobotsRules::disallow_all());
    answer.unavailable = "HTTP " + std::to_string(fetch.status);
  }
  answer.keep = answered && (fetch.status < 300 || fetch.status >= 400);
  return answer;
}

}  // namespace crawld::crawl
