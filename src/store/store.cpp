#include "crawld/store/store.hpp"

#include "crawld/store/conninfo.hpp"
#include "db_pool.hpp"
#include "queries.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>

#include <deque>
#include <map>

namespace crawld::store {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

struct Store::Impl {
  class JobSink;

  asio::io_context& ioc;
  DatabaseConfig config;
  std::string instance_id;
  const jobs::Clock::time_point started_at = jobs::Clock::now();
  DbPool pool;

  DatabaseStatus state;
  bool down_logged = false;

  // The write queue: job snapshots (newest per job, written first), then
  // events and pages in arrival order.
  std::vector<std::string> job_order;
  std::map<std::string, jobs::Job> pending_jobs;
  std::deque<EventRow> events;
  std::deque<PageRow> pages;
  std::optional<Steady::time_point> first_pending_at;
  std::map<std::string, Steady::time_point> last_progress;
  bool backpressure_logged = false;
  bool odd_row_to_events = false;

  asio::steady_timer wake{ioc};                              // the writer's
  asio::steady_timer space{ioc, Steady::time_point::max()};  // back-pressure waiters'
  asio::steady_timer tick{ioc};                              // maintenance
  Steady::time_point retry_at{};
  bool in_flight = false;
  int flushers = 0;
  bool closing = false;
  bool writer_running = false;
  bool maintainer_running = false;
  Store::BatchCallback on_batch;

  Impl(asio::io_context& ioc, DatabaseConfig c, std::string id)
      : ioc(ioc),
        config(std::move(c)),
        instance_id(std::move(id)),
        pool(config.url, config.threads, config.statement_timeout_ms) {}

  bool empty() const { return pending_jobs.empty() && events.empty() && pages.empty(); }
  std::size_t rows() const { return events.size() + pages.size(); }

  // --- status -------------------------------------------------------------

  void mark_down(const std::string& error) {
    state.last_error = error;
    state.last_error_at = jobs::Clock::now();
    if (state.up || !down_logged) {
      spdlog::warn("database unavailable: {} ({} page rows, {} events, {} job updates waiting)", error, pages.size(),
                   events.size(), pending_jobs.size());
      down_logged = true;
    }
    state.up = false;
  }

  void mark_up() {
    if (!state.up && down_logged) {
      spdlog::info("database reachable again ({} page rows, {} events waiting)", pages.size(), events.size());
    }
    down_logged = false;
    state.up = true;
    // Whatever waits for a retry may go now.
    if (retry_at > Steady::now()) {
      retry_at = {};
      wake.cancel();
    }
  }

  // --- queueing -------------------------------------------------------------

  void note_pending() {
    bool was_idle = !first_pending_at.has_value();
    if (was_idle) first_pending_at = Steady::now();
    if (was_idle || rows() >= config.batch_rows) wake.cancel();
  }

  void enqueue_job(const jobs::Job& job) {
    if (!pending_jobs.contains(job.id)) job_order.push_back(job.id);
    pending_jobs.insert_or_assign(job.id, job);
    note_pending();
  }

  void enqueue_event(const jobs::Job& job, std::string_view level, const std::string& message) {
    events.push_back({job.id, jobs::Clock::now(), std::string(level), message});
    note_pending();
  }

  asio::awaitable<void> enqueue_page(const std::string& job_id, crawl::PageResult page) {
    // Back-pressure: the crawl waits here while the backlog is full. A
    // cancelled crawl stops waiting; its page is still kept.
    while (pages.size() >= config.max_backlog_rows && !closing) {
      if (!backpressure_logged) {
        spdlog::warn("database write backlog full ({} page rows): crawls pause until it drains", pages.size());
        backpressure_logged = true;
      }
      auto cancellation = co_await asio::this_coro::cancellation_state;
      if (cancellation.cancelled() != asio::cancellation_type::none) break;
      co_await space.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    pages.push_back({job_id, std::move(page), jobs::Clock::now()});
    note_pending();
  }

  Batch take_batch() {
    Batch batch;
    for (const auto& id : job_order) batch.jobs.push_back(std::move(pending_jobs.at(id)));
    job_order.clear();
    pending_jobs.clear();
    // Events and pages share the budget half and half (an odd row goes to
    // each in turn), and a share one of them leaves unused goes to the
    // other: a flood of either cannot hold the other back.
    std::size_t budget = config.batch_rows;
    std::size_t events_share = budget / 2 + (budget % 2 == 1 && odd_row_to_events ? 1 : 0);
    odd_row_to_events = !odd_row_to_events;
    std::size_t n_events = std::min(events.size(), std::max(events_share, budget - std::min(pages.size(), budget)));
    batch.events.assign(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(n_events));
    std::size_t n_pages = std::min(pages.size(), budget - n_events);
    batch.pages.assign(pages.begin(), pages.begin() + static_cast<std::ptrdiff_t>(n_pages));
    return batch;
  }

  // A failed batch's job snapshots go back unless a newer one arrived.
  void restore_jobs(Batch& batch) {
    std::vector<std::string> order;
    for (auto& job : batch.jobs) {
      if (pending_jobs.contains(job.id)) continue;
      order.push_back(job.id);
      pending_jobs.emplace(job.id, std::move(job));
    }
    order.insert(order.end(), job_order.begin(), job_order.end());
    job_order = std::move(order);
  }

  void committed(const Batch& batch, const BatchResult& result) {
    events.erase(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(batch.events.size()));
    pages.erase(pages.begin(), pages.begin() + static_cast<std::ptrdiff_t>(batch.pages.size()));
    state.pages_written += result.pages_inserted;
    for (const auto& rejected : result.rejected) {
      ++state.rows_rejected;
      spdlog::error("job {}: {} rejected by the database, not recorded: {}", rejected.job_id, rejected.what,
                    rejected.error);
    }
    first_pending_at = empty() ? std::nullopt : std::optional(Steady::now());
    if (pages.size() < config.max_backlog_rows) space.cancel();
    // Logged with hysteresis: a draining backlog hovers around its bound.
    if (backpressure_logged && pages.size() <= config.max_backlog_rows / 2) {
      spdlog::info("database write backlog down to {} page rows: crawls resume", pages.size());
      backpressure_logged = false;
    }
  }

  // --- background coroutines ------------------------------------------------

  asio::awaitable<void> wait_wake(Steady::time_point until) {
    wake.expires_at(until);
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  asio::awaitable<void> writer() {
    writer_running = true;
    Backoff backoff(100ms, 5s);
    while (!closing) {
      auto now = Steady::now();
      if (!state.migrated || empty()) {
        co_await wait_wake(Steady::time_point::max());
        continue;
      }
      if (now < retry_at) {
        co_await wait_wake(retry_at);
        continue;
      }
      auto due = *first_pending_at + std::chrono::milliseconds(config.flush_ms);
      if (flushers == 0 && rows() < config.batch_rows && now < due) {
        co_await wait_wake(due);
        continue;
      }
      auto batch = std::make_shared<Batch>(take_batch());
      in_flight = true;
      auto started = Steady::now();
      std::exception_ptr error;
      BatchResult result;
      // Named, not a temporary in the co_await expression: GCC 12 mishandles
      // the lifetime of such temporaries.
      auto body = [batch](pqxx::connection& c) { return write_batch(c, *batch); };
      try {
        result = co_await pool.run(std::move(body));
      } catch (...) {
        error = std::current_exception();
      }
      in_flight = false;
      if (on_batch) {
        on_batch(std::chrono::duration<double>(Steady::now() - started).count(), batch->rows() + batch->jobs.size(),
                 !error);
      }
      if (error) {
        // Kept in the queue, retried later: nothing is lost, and the page
        // insert's ON CONFLICT makes a retry harmless.
        restore_jobs(*batch);
        if (!is_transient(error)) spdlog::error("database write failed, will retry: {}", short_message(error));
        mark_down(short_message(error));
        retry_at = Steady::now() + backoff.next();
        continue;
      }
      backoff.reset();
      retry_at = {};
      mark_up();
      committed(*batch, result);
    }
    writer_running = false;
  }

  struct Prepared {
    MigrationOutcome migration;
    std::vector<RecoveredJob> recovered;
  };

  asio::awaitable<void> maintain() {
    maintainer_running = true;
    Backoff backoff(200ms, 5s);
    while (!closing) {
      std::chrono::milliseconds next = 1s;
      if (state.refused) {
        next = 60s;
      } else if (!state.migrated) {
        std::exception_ptr error;
        Prepared prepared;
        auto body = [this](pqxx::connection& c) {
          Prepared p{apply_migrations(c), {}};
          if (!p.migration.refused) p.recovered = recover_interrupted(c, instance_id, started_at);
          return p;
        };
        try {
          prepared = co_await pool.run(std::move(body));
        } catch (...) {
          error = std::current_exception();
        }
        if (error) {
          mark_down(short_message(error));
          next = backoff.next();
        } else {
          on_prepared(prepared);
        }
      } else {
        // Health check: notices an outage (and the way back) even when
        // nothing is being written.
        std::exception_ptr error;
        auto body = [](pqxx::connection& c) {
          pqxx::nontransaction tx(c);
          tx.exec("select 1");
          return true;
        };
        try {
          co_await pool.run(std::move(body));
        } catch (...) {
          error = std::current_exception();
        }
        if (error) {
          mark_down(short_message(error));
        } else {
          mark_up();
        }
        // Once a second: /readyz should notice an outage promptly.
        next = 1s;
      }
      tick.expires_after(next);
      co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    maintainer_running = false;
  }

  void on_prepared(const Prepared& prepared) {
    const auto& migration = prepared.migration;
    state.schema_version = migration.after;
    if (migration.refused) {
      // Writes stay queued (bounded by back-pressure) and /readyz says why.
      state.refused = true;
      state.up = true;
      state.last_error = migration.message;
      state.last_error_at = jobs::Clock::now();
      spdlog::error("database refused: {}", migration.message);
      return;
    }
    spdlog::info("{}", migration.message);
    for (const auto& job : prepared.recovered) {
      spdlog::warn("job {} was {} when this instance ({}) last stopped: marked interrupted", job.id, job.previous_state,
                   instance_id);
    }
    state.migrated = true;
    mark_up();
    wake.cancel();
  }

  // A read on the pool, raced against read_timeout_ms. The blocking call
  // cannot be interrupted, so it runs detached and reports into shared state
  // that outlives this coroutine; the caller stops waiting when the timer
  // fires first, and the late answer is dropped.
  template <class R, class F>
  asio::awaitable<R> read(F body) {
    if (state.refused) throw StoreUnavailable("database unavailable: " + state.last_error);
    if (!state.migrated) {
      throw StoreUnavailable("database unavailable: " +
                             (state.last_error.empty() ? std::string("not connected yet") : state.last_error));
    }
    struct Shared {
      explicit Shared(asio::io_context& ioc) : done(ioc) {}
      asio::steady_timer done;
      bool finished = false;
      std::exception_ptr error;
      R value{};
    };
    auto shared = std::make_shared<Shared>(ioc);
    shared->done.expires_after(std::chrono::milliseconds(config.read_timeout_ms));
    asio::co_spawn(
        pool.executor(),
        [pool = &pool, body = std::move(body)]() mutable -> asio::awaitable<R> {
          co_return pool->with_connection(body);
        },
        asio::bind_executor(ioc.get_executor(), [shared](std::exception_ptr error, R value) {
          shared->finished = true;
          shared->error = error;
          shared->value = std::move(value);
          shared->done.cancel();
        }));
    co_await shared->done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!shared->finished) {
      throw StoreUnavailable("database unavailable: no answer within " + std::to_string(config.read_timeout_ms) +
                             " ms");
    }
    if (shared->error) {
      if (!is_transient(shared->error)) std::rethrow_exception(shared->error);
      std::string message = short_message(shared->error);
      mark_down(message);
      throw StoreUnavailable("database unavailable: " + message);
    }
    co_return std::move(shared->value);
  }
};

class Store::Impl::JobSink : public crawl::PageSink {
 public:
  JobSink(Store::Impl& impl, std::string job_id, bool record)
      : impl_(impl), job_id_(std::move(job_id)), record_(record) {}

  asio::awaitable<void> on_page(crawl::PageResult page) override {
    if (!record_) co_return;  // log_to_db=false
    co_await impl_.enqueue_page(job_id_, std::move(page));
  }

 private:
  Store::Impl& impl_;
  std::string job_id_;
  bool record_;
};

Store::Store(asio::io_context& ioc, DatabaseConfig config, std::string instance_id)
    : impl_(std::make_unique<Impl>(ioc, std::move(config), std::move(instance_id))) {}

Store::~Store() = default;

void Store::start() {
  spdlog::info("database {} (instance {}, {} threads)", redact_conninfo(impl_->config.url), impl_->instance_id,
               impl_->config.threads);
  asio::co_spawn(impl_->ioc, impl_->maintain(), asio::detached);
  asio::co_spawn(impl_->ioc, impl_->writer(), asio::detached);
}

asio::awaitable<bool> Store::flush(std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  auto deadline = Steady::now() + timeout;
  ++impl.flushers;
  impl.wake.cancel();
  asio::steady_timer poll(impl.ioc);
  while ((!impl.empty() || impl.in_flight) && Steady::now() < deadline) {
    poll.expires_after(10ms);
    co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  --impl.flushers;
  co_return impl.empty() && !impl.in_flight;
}

asio::awaitable<void> Store::close(std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  if (!co_await flush(timeout)) {
    spdlog::error("database: {} page rows, {} events and {} job updates could not be written before shutdown",
                  impl.pages.size(), impl.events.size(), impl.pending_jobs.size());
  }
  impl.closing = true;
  impl.wake.cancel();
  impl.tick.cancel();
  impl.space.cancel();
  // An in-flight statement ends within statement_timeout.
  auto deadline = Steady::now() + std::chrono::milliseconds(impl.config.statement_timeout_ms) + 2s;
  asio::steady_timer poll(impl.ioc);
  while ((impl.writer_running || impl.maintainer_running) && Steady::now() < deadline) {
    poll.expires_after(10ms);
    co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void Store::job_created(const jobs::Job& job) { impl_->enqueue_job(job); }

void Store::job_changed(const jobs::Job& job) {
  impl_->enqueue_job(job);
  if (jobs::is_terminal(job.state)) impl_->last_progress.erase(job.id);
}

void Store::job_progress(const jobs::Job& job) {
  auto now = Steady::now();
  auto [it, inserted] = impl_->last_progress.try_emplace(job.id, now);
  if (!inserted) {
    if (now - it->second < 1s) return;
    it->second = now;
  }
  impl_->enqueue_job(job);
}

void Store::job_event(const jobs::Job& job, std::string_view level, const std::string& message) {
  impl_->enqueue_event(job, level, message);
}

std::unique_ptr<crawl::PageSink> Store::page_sink(const jobs::Job& job) {
  return std::make_unique<Impl::JobSink>(*impl_, job.id, job.params.log_to_db);
}

// The query bodies are named locals, not temporaries inside the co_await
// expression (GCC 12 mishandles those).
asio::awaitable<std::vector<jobs::Job>> Store::list(std::optional<jobs::JobState> state, std::size_t limit) {
  auto body = [state, limit](pqxx::connection& c) { return select_jobs(c, state, limit); };
  co_return co_await impl_->read<std::vector<jobs::Job>>(std::move(body));
}

asio::awaitable<std::optional<jobs::Job>> Store::find(std::string id) {
  auto body = [id = std::move(id)](pqxx::connection& c) { return select_job(c, id); };
  co_return co_await impl_->read<std::optional<jobs::Job>>(std::move(body));
}

asio::awaitable<std::vector<PageRecord>> Store::pages(std::string job_id, std::int64_t after, std::size_t limit) {
  auto body = [job_id = std::move(job_id), after, limit](pqxx::connection& c) {
    return select_pages(c, job_id, after, limit);
  };
  co_return co_await impl_->read<std::vector<PageRecord>>(std::move(body));
}

asio::awaitable<std::vector<EventRecord>> Store::events(std::string job_id, std::int64_t after, std::size_t limit) {
  auto body = [job_id = std::move(job_id), after, limit](pqxx::connection& c) {
    return select_events(c, job_id, after, limit);
  };
  co_return co_await impl_->read<std::vector<EventRecord>>(std::move(body));
}

void Store::on_batch(BatchCallback callback) { impl_->on_batch = std::move(callback); }

bool Store::backlog_full() const {
  return impl_->events.size() + impl_->pending_jobs.size() >= impl_->config.max_backlog_rows;
}

DatabaseStatus Store::status() const {
  DatabaseStatus status = impl_->state;
  status.backlog_pages = impl_->pages.size();
  status.backlog_events = impl_->events.size();
  status.backlog_jobs = impl_->pending_jobs.size();
  return status;
}

const std::string& Store::instance_id() const { return impl_->instance_id; }

}  // namespace crawld::store
