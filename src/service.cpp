#include "crawld/service.hpp"

#include "crawld/api/auth.hpp"
#include "crawld/api/event_streams.hpp"
#include "crawld/api/job_json.hpp"
#include "crawld/api/routes.hpp"
#include "crawld/cluster/coordinator.hpp"
#include "crawld/crawl/crawler.hpp"
#include "crawld/http/server.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/logging.hpp"
#include "crawld/metrics/loop_lag.hpp"
#include "crawld/metrics/metrics.hpp"
#include "crawld/store/store.hpp"
#include "crawld/util/systemd_notify.hpp"
#include "crawld/version.hpp"
#include "crawld/webhooks/sender.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <barrier>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

namespace crawld {

namespace asio = boost::asio;

namespace {

// Counts every page for /metrics, then hands it on (to the database writer
// when one is configured and the job logs to it).
// The crawl's own events go to the job's log.
class ObservedSink : public crawl::PageSink {
 public:
  ObservedSink(metrics::Metrics& metrics, crawl::PageSink* next, jobs::JobService& jobs, std::string job_id)
      : metrics_(metrics), next_(next), jobs_(jobs), job_id_(std::move(job_id)) {}
  asio::awaitable<void> on_page(crawl::PageResult page) override {
    metrics_.page_fetched(page);
    if (next_ != nullptr) co_await next_->on_page(std::move(page));
  }
  void on_event(std::string_view level, const std::string& message) override {
    jobs_.crawl_event(job_id_, level, message);
  }

 private:
  metrics::Metrics& metrics_;
  crawl::PageSink* next_;
  jobs::JobService& jobs_;
  std::string job_id_;
};

constexpr int compute_nice = 5;

std::size_t compute_threads(const CrawlConfig& config) {
  if (config.compute_threads > 0) return config.compute_threads;
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 1 ? cores - 1 : 1;
}

// The compute pool's threads (decoding, parsing, hashing) run a few nice
// levels below the loop: when the cores are all busy the loop still gets
// its turn at once, and requests and timers stay on time. Each thread takes
// one of the tasks (the barrier holds it until all have).
asio::thread_pool& yielding_to_the_loop(asio::thread_pool& pool, std::size_t threads) {
  auto barrier = std::make_shared<std::barrier<>>(static_cast<std::ptrdiff_t>(threads));
  for (std::size_t i = 0; i < threads; ++i) {
    asio::post(pool, [barrier] {
      if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), compute_nice) != 0) {
        spdlog::debug("compute thread: cannot lower its priority: {}", std::strerror(errno));
      }
      barrier->arrive_and_wait();
    });
  }
  return pool;
}

bool is_loopback(const std::string& address) {
  boost::system::error_code ec;
  auto parsed = asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

// --- database wiring --------------------------------------------------------

// Names this process in crawl_jobs.instance_id: restart recovery marks the
// jobs the database shows active for this id. Default: host name + ":" + port.
std::string instance_id_for(const Config& config) {
  if (!config.database.instance_id.empty()) return config.database.instance_id;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(config.server.port);
}

std::unique_ptr<store::Store> make_store(asio::io_context& ioc, const Config& config) {
  if (config.database.url.empty()) {
    spdlog::warn("no database configured (database.url): jobs are kept in memory only, pages are not recorded");
    return nullptr;
  }
  return std::make_unique<store::Store>(ioc, config.database, instance_id_for(config));
}

}  // namespace

struct Service::Impl {
  Config config;
  asio::io_context ioc{1};
  std::size_t compute_thread_count = compute_threads(config.crawl);
  asio::thread_pool compute_pool{compute_thread_count};
  metrics::Metrics metrics;
  std::unique_ptr<store::Store> store = make_store(ioc, config);  // null without a database
  crawl::CrawlEngine engine{config.crawl, compute_pool};
  jobs::JobService jobs{ioc, config.jobs,
                        [this](const jobs::Job& job, std::shared_ptr<crawl::CrawlControl> control) {
                          return run_crawl(job, std::move(control));
                        },
                        instance_id_for(config)};
  // Cluster mode only: the shared queue in the database.
  std::unique_ptr<cluster::Coordinator> cluster;
  // Webhook deliveries wait in the database, or without one in memory.
  std::unique_ptr<webhooks::MemoryOutbox> memory_outbox =
      store ? nullptr : std::make_unique<webhooks::MemoryOutbox>();
  webhooks::Outbox& outbox = store ? store->webhook_outbox() : *memory_outbox;
  webhooks::WebhookSender webhook_sender{ioc, config, outbox, [](const jobs::Job& job) { return api::job_json(job); }};
  api::TokenAuth auth{config.auth};
  http::Router router;
  api::ApiContext api_context;
  api::EventStreams streams{api_context};
  metrics::LoopLagMonitor loop_lag{ioc};
  http::HttpServer server{ioc, config.server, router};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  asio::signal_set hangup{ioc, SIGHUP};
  bool draining = false;

  explicit Impl(Config c) : config(std::move(c)) {
    yielding_to_the_loop(compute_pool, compute_thread_count);
    jobs.add_observer(&metrics);
    api_context.config = &config;
    api_context.streams = &streams;
    api_context.jobs = &jobs;
    api_context.loop_lag = &loop_lag;
    api_context.metrics = &metrics;
    api_context.draining = [this] { return draining; };
    api_context.snapshot = [this] { return metrics_snapshot(); };
    api_context.outbox = &outbox;
    wire_store();
    wire_cluster();
    // After the store: a delivery goes in the batch with its job's change.
    if (!config.webhooks.empty()) jobs.add_observer(&webhook_sender);
    jobs.add_observer(&streams);  // after the store: a stream's wake-up finds the rows queued
    api::register_routes(router, api_context);
    server.set_filter([this](const http::Request& request, std::string_view route) { auth.check(request, route); });
    bool access_log = config.log.access_log;
    server.on_request([this, access_log](const http::RequestRecord& r) {
      metrics.http_request(r.method, r.route, r.status, r.seconds);
      if (access_log) {
        // A secret a client put in the query is not written to the log.
        std::string redacted;
        std::string_view target = r.target;
        if (target.find('?') != std::string_view::npos) target = redacted = http::redact_target(target);
        log_access({r.remote, r.method, target, r.status, r.bytes, r.seconds, r.finished});
      }
    });
    loop_lag.on_sample([this](double seconds) { metrics.loop_lag(seconds); });
  }

  // The gauges /metrics samples at scrape time.
  metrics::Snapshot metrics_snapshot() const {
    metrics::Snapshot snapshot;
    snapshot.jobs = jobs.counts();
    snapshot.open_connections = server.open_connections();
    snapshot.open_streams = server.open_streams();
    if (store) {
      auto db = store->status();
      snapshot.db_configured = true;
      snapshot.db_up = db.ready();
      snapshot.db_backlog_rows = db.backlog_pages + db.backlog_events;
      snapshot.db_rows_fenced = db.rows_fenced;
    }
    if (cluster) {
      auto c = cluster->counters();
      snapshot.cluster = metrics::ClusterSnapshot{c.claims,      c.rescues,      c.lost_leases, c.notify_reconnects,
                                                  c.queue_depth, cluster->held()};
    }
    return snapshot;
  }

  // The store records jobs and events as a JobService observer, pages
  // through each crawl's sink, and answers for the jobs no longer in memory.
  void wire_store() {
    if (!store) return;
    jobs.add_observer(store.get());
    jobs.set_history(&store->repository());
    api_context.store = store.get();
    store->on_batch([this](double seconds, std::size_t rows, bool ok) { metrics.db_write(seconds, rows, ok); });
    store->on_events_written([this](const std::string& job_id) { streams.events_written(job_id); });
  }

  // Cluster mode: jobs are accepted into and claimed from the database.
  // An instance whose id another live process holds cannot take part.
  void wire_cluster() {
    if (!config.cluster.enabled || !store) return;
    cluster = std::make_unique<cluster::Coordinator>(ioc, config, jobs, *store);
    api_context.cluster = cluster.get();
    cluster->on_claim([this](double seconds) { metrics.cluster_claim(seconds); });
    // Accepted into the queue, cancelled while queued, ended by a rescue:
    // no owner records these, so their deliveries go in with the change.
    if (!config.webhooks.empty()) {
      cluster->on_database_changes({[this](const jobs::Job& job) { return webhook_sender.deliveries_for(job); },
                                    [this] { webhook_sender.wake(); }});
    }
    cluster->on_fatal([](const std::string& why) {
      spdlog::critical("refusing to run: {}", why);
      spdlog::default_logger()->flush();
      std::_Exit(1);
    });
  }

  asio::awaitable<crawl::CrawlResult> run_crawl(const jobs::Job& job, std::shared_ptr<crawl::CrawlControl> control) {
    const TargetConfig* target = config.crawl.find_target(job.params.target);
    if (target == nullptr) throw std::runtime_error("unknown target " + job.params.target);
    crawl::CrawlRequest request{*target, job.params.season, job.params.deep};
    std::unique_ptr<crawl::PageSink> db_sink = store ? store->page_sink(job) : nullptr;
    ObservedSink sink(metrics, db_sink.get(), jobs, job.id);
    co_return co_await engine.run(std::move(request), sink, std::move(control));
  }

  void wait_signals() {
    signals.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (draining) {
        // A second signal: the operator wants out now.
        spdlog::warn("second signal ({}), exiting at once", signal);
        spdlog::default_logger()->flush();
        std::_Exit(130);
      }
      spdlog::info("signal {} received, stopping gracefully (grace {}s)", signal, config.server.shutdown_grace_s);
      util::notify_service_manager("STOPPING=1\nSTATUS=stopping gracefully");
      draining = true;
      // Re-arm before spawning: co_spawn dispatches, so with no connection
      // open shutdown() runs to its end right here, and its signals.cancel()
      // must find this wait or the loop never runs out of work.
      wait_signals();
      asio::co_spawn(ioc, shutdown(), asio::detached);
    });
  }

  void wait_hangup() {
    hangup.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      util::notify_service_manager("RELOADING=1");
      reopen_log_file();
      spdlog::info("log file reopened");
      util::notify_service_manager("READY=1");
      wait_hangup();
    });
  }

  // The gate: stop accepting, stop the jobs (queued ones at once, running
  // ones after the grace), flush what they produced, answer open requests,
  // then let the loop end.
  asio::awaitable<void> shutdown() {
    // The whole stop is bounded by the grace plus 2 s.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.server.shutdown_grace_s) +
                    std::chrono::milliseconds(1800);
    server.stop_accepting();
    if (cluster) cluster->drain();  // no more claims
    co_await jobs.shutdown(std::chrono::seconds(config.server.shutdown_grace_s));
    if (cluster) {
      // Unfinished attempts go back to the queue, finished ones are committed.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      co_await cluster->shutdown(std::max(left, std::chrono::milliseconds(config.cluster.lease_ms)));
    }
    // Sends in flight get a moment; the rest are sent after the restart
    // (with a database) or lost (without one).
    co_await webhook_sender.stop(std::chrono::milliseconds(500));
    // What the jobs produced is written before the process ends.
    if (store) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      co_await store->close(std::max(left, std::chrono::milliseconds(300)));
    }
    co_await server.drain(std::chrono::milliseconds(150));
    loop_lag.stop();
    hangup.cancel();
    flush_access_log();  // before the last line, so a reader sees them in order
    spdlog::info("stopped");
    // Everything that matters has been answered and flushed; whatever is
    // still scheduled (idle timers of closed sockets) is dropped with the loop.
    ioc.stop();
  }

  int run() {
    std::string where = server.listen();
    // Operators and scripts look for this line: keep it even when the
    // configured level hides info messages.
    spdlog::log(std::max(spdlog::level::info, spdlog::default_logger()->level()), "crawld {} listening on {}", version,
                where);
    if (!auth.enabled() && !is_loopback(config.server.listen)) {
      spdlog::warn(
          "*** no API token configured and listening on {}: anyone who can reach this address can start "
          "and cancel crawls; set auth.tokens or CRAWLD_API_TOKEN ***",
          config.server.listen);
    }
    if (store) store->start();
    if (cluster) cluster->start();
    webhook_sender.start();
    server.start();
    loop_lag.start();
    wait_signals();
    wait_hangup();
    util::notify_service_manager("READY=1\nSTATUS=listening on " + where);
    ioc.run();
    compute_pool.join();
    flush_access_log();
    return 0;
  }
};

Service::Service(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Service::~Service() = default;
int Service::run() { return impl_->run(); }

}  // namespace crawld
