// The crawl's queue of URLs still to fetch, with per-host manners.
//
// URLs are de-duplicated on their normalized form for the whole crawl: a URL
// is queued at most once, whatever spelling the links use. Each host has its
// own FIFO (breadth-first within the host); `next` hands out the oldest URL
// of a host that has a free slot (per-host concurrency), whose delay since
// its last request start has passed, and that is not blocked (robots.txt
// still being fetched). Hosts take turns, so one big host cannot starve the
// others. The caller passes the time.
//
// Memory stays within a budget whatever the crawl's size: the seen set keeps
// 64-bit fingerprints (SeenSet), and once the queued entries held in memory
// pass `memory_bytes`, a host's further URLs are appended to its spilled tail
// on disk (FrontierSpool) and read back, in order, when its in-memory queue
// runs dry. Order, politeness and per-host turns are the same either way. A
// spool that cannot be written keeps the entries in memory (nothing lost) and
// says so once (spill_error).
#pragma once

#include "crawld/crawl/frontier_spool.hpp"
#include "crawld/crawl/page_result.hpp"
#include "crawld/crawl/seen_set.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

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

struct FrontierLimits {
  std::size_t memory_bytes = 0;        // 0: no budget, nothing spilled
  std::filesystem::path spool_dir;     // the crawl's own folder (made on the first spill)
  std::size_t block_bytes = 32 * 1024; // a host's spilled entries are written in blocks of about this
};

class Frontier {
 public:
  using clock = std::chrono::steady_clock;

  Frontier(std::uint32_t per_host_concurrency, std::chrono::milliseconds default_delay, FrontierLimits limits = {});
  ~Frontier();
  Frontier(const Frontier&) = delete;
  Frontier& operator=(const Frontier&) = delete;

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
  FrontierStats stats() const;
  // Why spilling stopped or spilled entries were lost; empty while all is
  // well. take_spill_error hands it out once.
  std::string take_spill_error();
  // Entries that were spilled and could not be read back (disk error).
  std::uint64_t lost() const { return lost_; }

 private:
  // A queued entry; its host is the queue's.
  struct Queued {
    std::string url;
    std::uint32_t depth = 0;
    bool sitemap = false;
    std::unique_ptr<RedirectOrigin> origin;
  };
  struct Host {
    std::deque<Queued> queue;         // the head, in memory
    std::deque<FrontierSpool::Block> spilled;  // then these, on disk, oldest first
    std::string pending;              // then these, encoded, not yet written
    std::uint32_t pending_count = 0;
    std::uint32_t active = 0;
    bool blocked = false;
    bool given_up = false;
    std::chrono::milliseconds delay{0};
    std::chrono::milliseconds floor{0};  // per_host_delay, raised by Crawl-delay
    std::optional<clock::time_point> last_start;
    std::optional<clock::time_point> paused_until;
  };

  bool has_queued(const Host& host) const {
    return !host.queue.empty() || !host.spilled.empty() || host.pending_count > 0;
  }
  Host& host(const std::string& name);
  void push_back(Host& host, FrontierEntry&& entry);
  static std::size_t cost(const Queued& queued);
  void spill(Host& host, const FrontierEntry& entry);
  void write_pending(Host& host);
  void write_all_pending();
  // Fills an empty in-memory queue from the host's spilled tail.
  void refill(Host& host);
  void spill_failed(const std::string& why);
  // When the host may start its next request (delay, Retry-After); nullopt: now.
  static std::optional<clock::time_point> ready_time(const Host& host);

  std::uint32_t per_host_concurrency_;
  std::chrono::milliseconds default_delay_;
  FrontierLimits limits_;
  SeenSet seen_;
  std::map<std::string, Host> hosts_;
  std::string last_host_;  // round-robin position
  std::size_t queued_ = 0;
  std::size_t active_ = 0;
  std::size_t memory_ = 0;   // in-memory entries, by cost()
  std::size_t pending_ = 0;  // bytes in every host's pending
  std::unique_ptr<FrontierSpool> spool_;
  bool spill_broken_ = false;  // a write failed: keep everything in memory from now on
  std::uint64_t spilled_ = 0;
  std::uint64_t spilled_total_ = 0;
  std::uint64_t lost_ = 0;
  std::string spill_error_;
};

}  // namespace crawld::crawl
