#include "crawl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace crawld::crawl {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

Crawl::Crawl(asio::any_io_executor executor, Shared shared, CrawlRequest request, PageSink& sink,
             std::shared_ptr<CrawlControl> control)
    : executor_(executor),
      config_(shared.fetch_context.config()),
      shared_(shared),
      request_(std::move(request)),
      sink_(sink),
      control_(control ? std::move(control) : std::make_shared<CrawlControl>()),
      max_depth_(request_.deep ? request_.target.deep_depth : request_.target.shallow_depth),
      frontier_(config_.per_host_concurrency, std::chrono::milliseconds(config_.per_host_delay_ms),
                FrontierLimits{config_.frontier_memory_bytes, spool_dir_for_crawl(shared.spool_root)}),
      fetcher_(executor, shared.fetch_context),
      done_event_(executor) {}

bool Crawl::may_start() const {
  return !cancelled_ && fatal_error_.empty() && !control_->stop_requested && started_ < request_.target.max_pages;
}

void Crawl::publish() {
  progress_.queued = frontier_.queued();
  progress_.frontier = frontier_.stats();
  if (auto error = frontier_.take_spill_error(); !error.empty()) sink_.on_event("error", error);
  control_->progress = progress_;
}

void Crawl::HostSlot::release() {
  if (!held_) return;
  held_ = false;
  crawl_.frontier_.done(host_);
  crawl_.publish();
  // One worker for the freed slot, one more for each queued URL. When too
  // few are idle, new ones start (this worker takes the next URL itself, so
  // it counts for one).
  std::size_t queued = crawl_.frontier_.queued();
  std::size_t woken = crawl_.wake_workers(1 + queued);
  if (queued > woken + 1) crawl_.add_workers(queued - woken - 1);
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
                   asio::bind_cancellation_slot(workers_[i]->signal.slot(), [this, i](std::exception_ptr error) {
                     workers_[i]->alive = false;
                     if (error && fatal_error_.empty()) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         fatal_error_ = std::string("internal error: ") + e.what();
                       }
                     }
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

void Crawl::add_seeds() {
  for (auto& seed : expand_seeds(request_.target, request_.season)) {
    const auto& normalized = shared_.seed_cache.get(seed);
    if (!normalized) {
      if (seed_error_.empty()) seed_error_ = "invalid seed URL \"" + seed + "\"";
      continue;
    }
    seeds_.insert(normalized->url);
    if (request_.target.allowed_hosts.empty()) allowed_hosts_.insert(normalized->host);
    frontier_.add({normalized->url, normalized->host, 0, std::nullopt});
  }
  // Canonical already (config.cpp): as url_key names hosts.
  for (const auto& host : request_.target.allowed_hosts) allowed_hosts_.insert(host);
}

asio::awaitable<CrawlResult> Crawl::run() {
  add_seeds();
  publish();
  // A soft stop wakes the idle workers, for as long as this crawl runs.
  struct StopHook {
    CrawlControl& control;
    ~StopHook() { control.on_stop = nullptr; }
  } hook{*control_};
  control_->on_stop = [this] { wake_workers(); };
  if (!seeds_.empty()) {
    // One worker per seed to begin with; more join as links are found.
    add_workers(std::max<std::size_t>(frontier_.queued(), 1));
    co_await wait_for_workers();
  }
  publish();
  co_return result();
}

asio::awaitable<void> Crawl::wait_for_workers() {
  // A terminal cancellation of the crawl shows up in its cancellation state
  // and is forwarded to the workers; the crawl itself waits for them all.
  auto cancellation = co_await asio::this_coro::cancellation_state;
  while (live_workers_ > 0) {
    if (cancellation.cancelled() != asio::cancellation_type::none && !cancelled_) cancel_workers();
    done_event_.expires_at(clock::time_point::max());
    co_await done_event_.async_wait(use_tuple);
  }
  if (cancellation.cancelled() != asio::cancellation_type::none) cancelled_ = true;
  // Let the workers' coroutine frames finish unwinding before ours goes.
  co_await asio::post(executor_, asio::use_awaitable);
}

CrawlResult Crawl::result() const {
  CrawlResult result;
  result.progress = progress_;
  result.max_pages_reached = started_ >= request_.target.max_pages;
  if (cancelled_) {
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
  return result;
}

asio::awaitable<void> Crawl::work(std::size_t index) {
  // Cancellation comes back as values (a fetch ends "cancelled", a wait
  // early); cancel_workers() has set cancelled_ first, so may_start() ends
  // the loop.
  co_await asio::this_coro::throw_if_cancelled(false);
  auto& self = *workers_[index];
  while (may_start()) {
    auto now = clock::now();
    auto pick = frontier_.next(now);
    if (pick.entry) {
      co_await crawl_page(std::move(*pick.entry));
      continue;
    }
    if (frontier_.queued() == 0 && frontier_.active() == 0) break;  // nothing left, nobody adding
    // Wait for a slot, a link, or a host's delay to pass (whoever frees a
    // slot, adds a link or stops the crawl wakes idle workers).
    self.wake.expires_at(pick.retry_at.value_or(clock::time_point::max()));
    self.waiting = true;
    co_await self.wake.async_wait(use_tuple);
    self.waiting = false;
  }
  wake_workers();  // the others may be waiting for work this one would have added
}

}  // namespace crawld::crawl
