#include "crawld/crawl/crawler.hpp"

#include "crawld/crawl/fetcher.hpp"
#include "crawld/crawl/frontier.hpp"
#include "crawld/crawl/links.hpp"
#include "crawld/crawl/robots.hpp"
#include "crawld/crawl/url.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>

namespace crawld::crawl {
namespace {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Idle workers re-check the soft stop flag this often: CrawlControl is a
// plain struct, so nobody wakes them when it changes.
constexpr auto stop_poll_interval = std::chrono::milliseconds(200);

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{length} * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xF]);
  }
  return out;
}

// What the compute pool makes of a body: CPU work proportional to its size.
struct Analysis {
  std::string title;
  std::vector<FrontierEntry> links;  // resolved, normalized, on an allowed host
  std::string sha256;
};

// Links added to the frontier between two yields to the loop: a page with
// 100,000 links must not hold the loop for the whole batch.
constexpr std::size_t links_per_turn = 1024;
// robots.txt files kept across crawls. The hosts a crawl may visit come from
// the configured targets, so this is a bound that configurations stay under.
constexpr std::size_t max_cached_robots = 1024;

Analysis analyze(const std::string& body, bool html, bool want_links, const std::string& page_url,
                 const std::set<std::string>& allowed_hosts, std::uint32_t depth) {
  Analysis analysis;
  analysis.sha256 = sha256_hex(body);
  if (!html) return analysis;
  auto extracted = extract_links(body);
  analysis.title = std::move(extracted.title);
  if (!want_links || extracted.nofollow) return analysis;
  std::string base = page_url;
  if (extracted.base_href) {
    if (auto resolved = resolve_url(page_url, *extracted.base_href)) base = std::move(*resolved);
  }
  for (const auto& href : extracted.hrefs) {
    auto url = resolve_url(base, href);
    if (!url) continue;
    auto key = url_key(*url);
    if (!key || !allowed_hosts.contains(key->host)) continue;
    analysis.links.push_back({std::move(*url), std::move(key->host), depth, std::nullopt});
  }
  return analysis;
}

}  // namespace

// A target's seeds for a season repeat from crawl to crawl; each one's
// normalized URL and host are found once. Bounded: past `limit` seeds the
// cache starts over. Used on the loop only.
class SeedCache {
 public:
  struct Seed {
    std::string url;
    std::string host;
  };

  explicit SeedCache(std::size_t limit) : limit_(limit) {}

  // The normalized URL and host of `seed`, or nullopt when it is not a
  // valid http(s) URL.
  const std::optional<Seed>& get(const std::string& seed) {
    if (auto it = seeds_.find(seed); it != seeds_.end()) return it->second;
    if (seeds_.size() >= limit_) seeds_.clear();
    std::optional<Seed> found;
    if (auto url = normalize_url(seed)) {
      if (auto key = url_key(*url)) found = Seed{std::move(*url), std::move(key->host)};
    }
    return seeds_.emplace(seed, std::move(found)).first->second;
  }

 private:
  std::size_t limit_;
  std::unordered_map<std::string, std::optional<Seed>> seeds_;
};

namespace {

constexpr std::size_t max_cached_seeds = 4096;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return text;
}

// One running crawl. Lives in CrawlEngine::run's coroutine frame; run()
// does not return before every worker has finished, so workers may use it.
class Crawl {
 public:
  Crawl(asio::any_io_executor executor, FetchContext& fetch_context, RobotsCache& robots_cache, SeedCache& seed_cache,
        asio::thread_pool& pool, CrawlRequest request, PageSink& sink, std::shared_ptr<CrawlControl> control)
      : executor_(executor),
        config_(fetch_context.config()),
        robots_cache_(robots_cache),
        seed_cache_(seed_cache),
        pool_(pool),
        request_(std::move(request)),
        sink_(sink),
        control_(control ? std::move(control) : std::make_shared<CrawlControl>()),
        max_depth_(request_.deep ? request_.target.deep_depth : request_.target.shallow_depth),
        frontier_(config_.per_host_concurrency, std::chrono::milliseconds(config_.per_host_delay_ms)),
        fetcher_(executor, fetch_context),
        done_event_(executor) {}

  asio::awaitable<CrawlResult> run();

 private:
  struct Worker {
    explicit Worker(const asio::any_io_executor& executor) : wake(executor) {}
    asio::cancellation_signal signal;
    asio::steady_timer wake;
    bool alive = false;
    bool waiting = false;  // idle, in wake.async_wait
  };
  struct HostRobots {
    explicit HostRobots(const asio::any_io_executor& executor) : ready_event(executor) {}
    bool ready = false;
    std::shared_ptr<const RobotsRules> rules;  // set once ready
    std::string unavailable;  // why robots.txt could not be read (everything is then disallowed)
    asio::steady_timer ready_event;
  };

  asio::awaitable<void> work(std::size_t index);
  asio::awaitable<void> crawl_page(FrontierEntry entry);
  // The host's rules when they are known without a fetch: read by this crawl
  // already, or kept from an earlier crawl (then adopted). Null otherwise.
  const RobotsRules* known_robots(const std::string& host, const std::string& page_url);
  // The host's rules, fetching robots.txt (or waiting for the fetch under way).
  asio::awaitable<const RobotsRules*> robots_for(const std::string& host, const std::string& page_url);
  asio::awaitable<Fetcher::RedirectVerdict> check_redirect(const std::string& from_host, const std::string& url);
  asio::awaitable<void> record(PageResult page);
  void cancel_workers();
  // Wakes up to `count` idle workers (all by default) and returns how many it
  // woke. Waking only as many as there is work for avoids a thundering herd
  // at high concurrency.
  std::size_t wake_workers(std::size_t count = static_cast<std::size_t>(-1));
  // Starts up to `count` more workers, within crawl.concurrency. Workers are
  // started as work appears rather than all at once: a crawl of one page
  // needs one worker, and starting a job stays cheap on the loop.
  void add_workers(std::size_t count);
  bool may_start() const;
  void publish();

  asio::any_io_executor executor_;
  const CrawlConfig& config_;
  RobotsCache& robots_cache_;
  SeedCache& seed_cache_;
  asio::thread_pool& pool_;
  CrawlRequest request_;
  PageSink& sink_;
  std::shared_ptr<CrawlControl> control_;
  std::uint32_t max_depth_;
  std::set<std::string> allowed_hosts_;
  std::set<std::string> seeds_;
  Frontier frontier_;
  Fetcher fetcher_;
  std::map<std::string, std::unique_ptr<HostRobots>> robots_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::size_t live_workers_ = 0;
  asio::steady_timer done_event_;
  CrawlProgress progress_;
  std::uint64_t started_ = 0;
  bool cancelled_ = false;
  bool seed_ok_ = false;
  std::string seed_error_;
  std::string fatal_error_;
};

bool Crawl::may_start() const {
  return !cancelled_ && fatal_error_.empty() && !control_->stop_requested && started_ < request_.target.max_pages;
}

void Crawl::publish() {
  progress_.queued = frontier_.queued();
  control_->progress = progress_;
}

std::size_t Crawl::wake_workers(std::size_t count) {
  std::size_t woken = 0;
  for (auto& worker : workers_) {
    if (woken == count) break;
    if (!worker->waiting) continue;
    worker->waiting = false;
    worker->wake.cancel();
    ++woken;
  }
  return woken;
}

void Crawl::add_workers(std::size_t count) {
  const std::size_t limit = std::max<std::uint32_t>(config_.concurrency, 1);
  while (count > 0 && workers_.size() < limit && may_start()) {
    --count;
    const std::size_t i = workers_.size();
    workers_.push_back(std::make_unique<Worker>(executor_));
    workers_[i]->alive = true;
    ++live_workers_;
    asio::co_spawn(executor_, work(i),
                   asio::bind_cancellation_slot(workers_[i]->signal.slot(), [this, i](std::exception_ptr) {
                     workers_[i]->alive = false;
                     if (--live_workers_ == 0) done_event_.cancel();
                   }));
  }
}

void Crawl::cancel_workers() {
  cancelled_ = true;
  for (auto& worker : workers_) {
    // A finished worker's slot may hold a stale handler: only signal live ones.
    if (worker->alive) worker->signal.emit(asio::cancellation_type::terminal);
  }
}

asio::awaitable<CrawlResult> Crawl::run() {
  // run() must outlive its workers, so its own waits never throw (the
  // caller switched that off); a terminal cancellation shows up in the
  // cancellation state and is forwarded to the workers.
  auto cancellation = co_await asio::this_coro::cancellation_state;

  CrawlResult result;
  for (auto& seed : expand_seeds(request_.target, request_.season)) {
    const auto& normalized = seed_cache_.get(seed);
    if (!normalized) {
      if (seed_error_.empty()) seed_error_ = "invalid seed URL \"" + seed + "\"";
      continue;
    }
    seeds_.insert(normalized->url);
    if (request_.target.allowed_hosts.empty()) allowed_hosts_.insert(normalized->host);
    frontier_.add({normalized->url, normalized->host, 0, std::nullopt});
  }
  for (const auto& host : request_.target.allowed_hosts) allowed_hosts_.insert(lower(host));
  publish();

  if (!seeds_.empty()) {
    // One worker per seed to begin with; more join as links are found.
    add_workers(std::max<std::size_t>(frontier_.queued(), 1));
    while (live_workers_ > 0) {
      if (cancellation.cancelled() != asio::cancellation_type::none && !cancelled_) cancel_workers();
      done_event_.expires_at(clock::time_point::max());
      co_await done_event_.async_wait(use_tuple);
    }
    // Let the workers' coroutine frames finish unwinding before ours goes.
    co_await asio::post(executor_, asio::use_awaitable);
  }

  publish();
  result.progress = progress_;
  result.max_pages_reached = started_ >= request_.target.max_pages;
  if (cancelled_ || cancellation.cancelled() != asio::cancellation_type::none) {
    result.outcome = CrawlOutcome::cancelled;
    result.error = "cancelled";
  } else if (!fatal_error_.empty()) {
    result.outcome = CrawlOutcome::failed;
    result.error = fatal_error_;
  } else if (!seed_ok_) {
    result.outcome = CrawlOutcome::failed;
    result.error = "no seed could be fetched" + (seed_error_.empty() ? std::string() : ": " + seed_error_);
  } else if (control_->stop_requested) {
    result.outcome = CrawlOutcome::cancelled;
    result.error = "stop requested";
  }
  co_return result;
}

asio::awaitable<void> Crawl::work(std::size_t index) {
  auto& self = *workers_[index];
  try {
    while (may_start()) {
      auto now = clock::now();
      auto pick = frontier_.next(now);
      if (pick.entry) {
        co_await crawl_page(std::move(*pick.entry));
        continue;
      }
      if (frontier_.queued() == 0 && frontier_.active() == 0) break;  // nothing left, nobody adding
      // Wait for a slot, a link, or a host's delay to pass.
      self.wake.expires_at(std::min(pick.retry_at.value_or(clock::time_point::max()), now + stop_poll_interval));
      self.waiting = true;
      co_await self.wake.async_wait(use_tuple);
      self.waiting = false;
    }
  } catch (const std::exception&) {
    // Cancellation (operation_aborted) ends the worker; anything else was
    // recorded where it happened.
  }
  wake_workers();  // the others may be waiting for work this one would have added
}

asio::awaitable<void> Crawl::crawl_page(FrontierEntry entry) {
  // The host slot taken by Frontier::next is released on every path.
  struct Slot {
    Crawl& crawl;
    std::string host;
    bool held = true;
    void release() {
      if (!held) return;
      held = false;
      crawl.frontier_.done(host);
      crawl.publish();
      // One worker for the freed slot, one more for each queued URL. When
      // too few are idle, new ones start (this worker takes the next URL
      // itself, so it counts for one).
      std::size_t queued = crawl.frontier_.queued();
      std::size_t woken = crawl.wake_workers(1 + queued);
      if (queued > woken + 1) crawl.add_workers(queued - woken - 1);
    }
    ~Slot() { release(); }
  } slot{*this, entry.host};

  PageResult page;
  page.url = entry.origin ? entry.origin->url : entry.url;
  page.final_url = entry.url;
  page.depth = entry.depth;

  if (config_.obey_robots) {
    const RobotsRules* rules = known_robots(entry.host, entry.url);
    if (rules == nullptr) {
      // First URL of this host: fetch robots.txt in this slot, then queue the
      // URL again so that the host's delay also separates the two requests.
      co_await robots_for(entry.host, entry.url);
      frontier_.put_back(std::move(entry));
      co_return;
    }
    auto key = url_key(entry.url);
    if (!key || !rules->allowed(key->target)) {
      const auto& unavailable = robots_.at(entry.host)->unavailable;
      std::string why = "robots: disallowed";
      if (!unavailable.empty()) why += " (robots.txt unavailable: " + unavailable + ")";
      // A disallowed link is skipped; a disallowed redirect target is the
      // redirecting page's failure, as when it is refused within one fetch.
      page.error = entry.origin ? "redirect to " + entry.url + " not followed: " + why : why;
      ++(entry.origin ? progress_.failed : progress_.skipped);
      if (seed_error_.empty() && seeds_.contains(page.url)) seed_error_ = page.url + ": " + page.error;
      slot.release();
      const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
      co_await asio::this_coro::throw_if_cancelled(false);  // see record()
      co_await record(std::move(page));
      co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
      co_return;
    }
  }
  if (!may_start()) {
    frontier_.put_back(std::move(entry));
    co_return;
  }
  ++started_;

  const auto start = clock::now();
  auto elapsed_ms = [&] {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
    return static_cast<std::uint32_t>(ms) + (entry.origin ? entry.origin->elapsed_ms : 0);
  };
  Fetcher::RedirectCheck check = [this, &host = entry.host](const std::string& url) {
    return check_redirect(host, url);
  };
  auto response =
      co_await fetcher_.fetch(entry.url, std::move(check), entry.origin ? entry.origin->redirects : 0);
  if (response.error_kind == FetchErrorKind::cancelled) co_return;
  if (!response.redirect_to.empty()) {
    if (response.redirect_to == page.url) {
      response.error = "redirect loop: " + response.redirect_to;
    } else {
      // Another host's URL waits for a slot of that host (its concurrency
      // limit, delay and robots.txt), not in this one. Its fetch counts
      // towards max_pages when it starts.
      auto host = url_key(response.redirect_to)->host;  // the check parsed it
      frontier_.add_redirect({std::move(response.redirect_to), std::move(host), entry.depth,
                              RedirectOrigin{page.url, response.redirects + 1, elapsed_ms()}});
      --started_;
      co_return;
    }
  }
  page.final_url = response.final_url;
  page.status = response.status;
  page.content_type = response.content_type;
  page.charset = response.charset;
  page.bytes = response.body.size();
  page.truncated = response.truncated;
  page.error = response.error;
  if (page.final_url != entry.url) frontier_.mark_seen(page.final_url);

  if (!response.body.empty()) {
    // Parsing and hashing happen on the compute pool; the loop only waits.
    bool html = response.content_type == "text/html";
    bool want_links = entry.depth < max_depth_;
    // A named lambda, not a temporary inside the co_await expression: GCC 12
    // destroys such temporaries twice.
    // URL parsing and the host check run there too (allowed_hosts_ does not
    // change once the crawl runs); the loop only adds to the frontier.
    auto task = [body = std::move(response.body), html, want_links, base = page.final_url,
                 allowed = &allowed_hosts_, depth = entry.depth + 1]() -> asio::awaitable<Analysis> {
      co_return analyze(body, html, want_links, base, *allowed, depth);
    };
    auto analysis = co_await asio::co_spawn(pool_, std::move(task), asio::use_awaitable);
    page.title = std::move(analysis.title);
    page.sha256 = std::move(analysis.sha256);
    for (std::size_t i = 0; i < analysis.links.size(); ++i) {
      if (i > 0 && i % links_per_turn == 0) co_await asio::post(executor_, asio::use_awaitable);
      // The frontier holds no more URLs than the crawl may still start, so a
      // page with 100,000 links costs memory for max_pages of them. A link
      // left out is not marked seen: a later page may queue it when a queued
      // URL turned out to be skipped (robots.txt) and there is room again.
      const std::uint64_t max_pages = request_.target.max_pages;
      if (started_ + frontier_.queued() >= max_pages) break;
      frontier_.add(std::move(analysis.links[i]));
    }
  }
  page.elapsed_ms = elapsed_ms();

  progress_.bytes += page.bytes;
  if (page.error.empty()) {
    ++progress_.fetched;
  } else {
    ++progress_.failed;
  }
  if (seeds_.contains(page.url)) {
    if (page.error.empty() && page.status >= 200 && page.status < 400) {
      seed_ok_ = true;
    } else if (seed_error_.empty()) {
      seed_error_ = entry.url + ": " + (page.error.empty() ? "HTTP " + std::to_string(page.status) : page.error);
    }
  }
  slot.release();

  const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
  co_await asio::this_coro::throw_if_cancelled(false);  // see record()
  co_await record(std::move(page));
  co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
}

asio::awaitable<void> Crawl::record(PageResult page) {
  // Awaiting the sink is the back-pressure: a slow store slows the crawl.
  // Callers have counted the page already, so it must be handed over even
  // when a cancellation arrived meanwhile (its last wait, e.g. the analysis
  // on the compute pool, completed normally). With throw_if_cancelled on,
  // asio throws operation_aborted at the co_await of any nested coroutine
  // once the cancellation state is set, and the counted page was dropped
  // (the job reported more pages than were recorded). So callers switch it
  // off around this call; the sink's own waits check cancellation themselves.
  try {
    co_await sink_.on_page(std::move(page));
  } catch (const std::exception& e) {
    fatal_error_ = std::string("page sink: ") + e.what();
  }
}

const RobotsRules* Crawl::known_robots(const std::string& host, const std::string& page_url) {
  if (auto it = robots_.find(host); it != robots_.end()) return it->second->ready ? it->second->rules.get() : nullptr;
  auto robots_url = robots_txt_url(page_url);
  auto kept = robots_url ? robots_cache_.find(*robots_url, clock::now()) : nullptr;
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
  if (!first) {
    // Someone else is fetching it: wait for them.
    while (!robots.ready) {
      robots.ready_event.expires_at(clock::time_point::max());
      co_await robots.ready_event.async_wait(use_tuple);
    }
    co_return robots.rules.get();
  }

  frontier_.block(host, true);
  auto robots_url = robots_txt_url(page_url);
  FetchResponse response;
  if (robots_url) {
    response = co_await fetcher_.fetch(*robots_url);
  } else {
    response.error = "invalid URL";
  }
  // RFC 9309: unreachable or a server error means "disallow everything";
  // 4xx means there are no rules. A refused address is reported by the
  // page fetch itself, so it does not hide behind "disallowed".
  const bool answered = response.error.empty() && response.status >= 200 && response.status < 500;
  if (response.error_kind == FetchErrorKind::refused || (answered && response.status >= 400)) {
    robots.rules = std::make_shared<const RobotsRules>(RobotsRules::allow_all());
  } else if (!response.error.empty()) {
    robots.rules = std::make_shared<const RobotsRules>(RobotsRules::disallow_all());
    robots.unavailable = response.error;
  } else if (response.status >= 200 && response.status < 300) {
    robots.rules =
        std::make_shared<const RobotsRules>(RobotsRules::parse(response.body, config_.effective_user_agent()));
  } else {
    robots.rules = std::make_shared<const RobotsRules>(RobotsRules::disallow_all());
    robots.unavailable = "HTTP " + std::to_string(response.status);
  }
  // Only a definite answer is kept for later crawls (a 3xx that was not
  // followed to its end is not one).
  if (answered && (response.status < 300 || response.status >= 400)) {
    robots_cache_.store(*robots_url, robots.rules, clock::now());
  }
  if (auto delay = robots.rules->crawl_delay()) frontier_.raise_delay(host, *delay);
  robots.ready = true;
  robots.ready_event.cancel();
  frontier_.block(host, false);
  co_return robots.rules.get();
}

asio::awaitable<Fetcher::RedirectVerdict> Crawl::check_redirect(const std::string& from_host,
                                                                  const std::string& url) {
  using Action = Fetcher::RedirectVerdict::Action;
  auto key = url_key(url);
  if (!key) co_return Fetcher::RedirectVerdict{Action::refuse, "invalid URL"};
  if (!allowed_hosts_.contains(key->host)) {
    co_return Fetcher::RedirectVerdict{Action::refuse, "host " + key->host + " is not allowed"};
  }
  if (key->host != from_host) co_return Fetcher::RedirectVerdict{Action::hand_back, {}};
  if (config_.obey_robots) {
    // The host's own rules: known, since this fetch was allowed by them.
    const RobotsRules* rules = co_await robots_for(key->host, url);
    if (!rules->allowed(key->target)) co_return Fetcher::RedirectVerdict{Action::refuse, "robots: disallowed"};
  }
  co_return Fetcher::RedirectVerdict{};
}

}  // namespace

CrawlEngine::CrawlEngine(const CrawlConfig& config, asio::thread_pool& compute_pool)
    : config_(config),
      compute_pool_(compute_pool),
      fetch_context_(std::make_unique<FetchContext>(config)),
      robots_cache_(std::make_unique<RobotsCache>(std::chrono::seconds(config.robots_cache_s), max_cached_robots)),
      seed_cache_(std::make_unique<SeedCache>(max_cached_seeds)) {}

CrawlEngine::~CrawlEngine() = default;

asio::awaitable<CrawlResult> CrawlEngine::run(CrawlRequest request, PageSink& sink,
                                              std::shared_ptr<CrawlControl> control) {
  // The flag belongs to the whole coroutine chain (the caller's too), so it is
  // restored before returning.
  const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
  co_await asio::this_coro::throw_if_cancelled(false);
  CrawlResult result;
  try {
    auto executor = co_await asio::this_coro::executor;
    Crawl crawl(executor, *fetch_context_, *robots_cache_, *seed_cache_, compute_pool_, std::move(request), sink,
                control);
    result = co_await crawl.run();
  } catch (const std::exception& e) {
    result.outcome = CrawlOutcome::failed;
    result.error = std::string("internal error: ") + e.what();
  }
  if (control) control->progress = result.progress;
  co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
  co_return result;
}

std::vector<std::string> expand_seeds(const TargetConfig& target, std::int64_t season) {
  static constexpr std::string_view placeholder = "{season}";
  const auto text = std::to_string(season);
  std::vector<std::string> out;
  for (auto seed : target.seeds) {
    for (auto pos = seed.find(placeholder); pos != std::string::npos; pos = seed.find(placeholder, pos + text.size())) {
      seed.replace(pos, placeholder.size(), text);
    }
    out.push_back(std::move(seed));
  }
  return out;
}

}  // namespace crawld::crawl
