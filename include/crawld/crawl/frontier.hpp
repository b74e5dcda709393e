// The crawl's queue of URLs still to fetch, with per-host manners.
//
// URLs are de-duplicated on their normalized form for the whole crawl: a URL
// is queued at most once, whatever spelling the links use. Each host has its
// own FIFO (breadth-first within the host); `next` hands out the oldest URL
// of a host that has a free slot (per-host concurrency), whose delay since
// its last request start has passed, and that is not blocked (robots.txt
// still being fetched). Hosts take turns, so one big host cannot starve the
// others. Pure logic: no I/O, the caller passes the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>

namespace crawld::crawl {

// A redirect target that a fetch on another host handed over: it waits for
// a slot of its own host, and its page is recorded under the URL first
// queued.
struct RedirectOrigin {
  std::string url;               // the URL first queued (the page's url)
  std::uint32_t redirects = 0;   // redirects followed to reach the entry's url
  std::uint32_t elapsed_ms = 0;  // time the earlier hops took
};

struct FrontierEntry {
  std::string url;   // normalized
  std::string host;  // host_key of the URL
  std::uint32_t depth = 0;
  std::optional<RedirectOrigin> origin;  // set for a handed-over redirect target
  bool sitemap = false;                  // a sitemap file, not a page (depth 1: listed by an index)
};

class Frontier {
 public:
  using clock = std::chrono::steady_clock;

  Frontier(std::uint32_t per_host_concurrency, std::chrono::milliseconds default_delay);

  // Queues a URL not seen before; false (and nothing queued) when seen.
  bool add(FrontierEntry entry);
  // Records a URL as seen without queueing it (a redirect target that was
  // fetched on the way). False when it was already seen.
  bool mark_seen(const std::string& url);

  struct Pick {
    std::optional<FrontierEntry> entry;         // set: the caller now holds one of the host's slots
    std::optional<clock::time_point> retry_at;  // nothing ready before this time (delay)
  };
  // The next URL that may be fetched at `now`.
  Pick next(clock::time_point now);
  // Returns a picked entry to the front of its host's queue (the caller
  // still has to release the slot with `done`).
  void put_back(FrontierEntry entry);
  // Queues a redirect target at the front of its host's queue and marks it
  // seen. It is queued even when seen before: it stands for the page that
  // redirected, not for a link.
  void add_redirect(FrontierEntry entry);
  // Releases the host slot taken by `next`.
  void done(const std::string& host);

  // Robots.txt: a blocked host hands out nothing; its delay may be raised
  // (Crawl-delay), which is then also the floor adapt() keeps to.
  void block(const std::string& name, bool blocked);
  void raise_delay(const std::string& name, std::chrono::milliseconds delay);
  // Retry-After: the host hands out nothing before `until`.
  void pause(const std::string& name, clock::time_point until);
  // AutoThrottle's rule: the delay moves halfway towards latency / target
  // concurrency (and at least to it), between the floor and max_delay. A
  // failed fetch never shortens it.
  void adapt(const std::string& name, std::chrono::milliseconds latency, std::uint32_t target_concurrency, bool ok);
  static constexpr std::chrono::milliseconds max_adaptive_delay{60'000};
  // A host given up (it kept failing) hands out its URLs at once, without
  // slot limit or delay: the caller records them as not fetched.
  void give_up(const std::string& name);
  bool given_up(const std::string& name) const;
  std::chrono::milliseconds delay(const std::string& name) const;

  std::size_t queued() const { return queued_; }
  std::size_t active() const { return active_; }

 private:
  struct Host {
    std::deque<FrontierEntry> queue;
    std::uint32_t active = 0;
    bool blocked = false;
    bool given_up = false;
    std::chrono::milliseconds delay{0};
    std::chrono::milliseconds floor{0};  // per_host_delay, raised by Crawl-delay
    std::optional<clock::time_point> last_start;
    std::optional<clock::time_point> paused_until;
  };

  Host& host(const std::string& name);
  // When the host may start its next request (delay, Retry-After); nullopt: now.
  static std::optional<clock::time_point> ready_time(const Host& host);

  std::uint32_t per_host_concurrency_;
  std::chrono::milliseconds default_delay_;
  std::unordered_set<std::string> seen_;
  std::map<std::string, Host> hosts_;
  std::string last_host_;  // round-robin position
  std::size_t queued_ = 0;
  std::size_t active_ = 0;
};

}  // namespace crawld::crawl
