#include "crawld/store/store.hpp"

#include "batch_writer.hpp"
#include "crawld/store/conninfo.hpp"
#include "db_pool.hpp"
#include "health.hpp"
#include "webhook_outbox.hpp"
#include "write_queue.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace crawld::store {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

struct Store::Impl {
  Impl(asio::io_context& ioc, DatabaseConfig c, std::string instance_id)
      : ioc(ioc),
        config(std::move(c)),
        pool(config.url, config.threads, config.statement_timeout_ms),
        health(ioc, pool, std::move(instance_id)),
        queue(ioc, config),
        writer(ioc, config, pool, queue, health),
        repository(ioc, config, pool, health),
        outbox(ioc, config, pool, queue, health),
        background(ioc) {
    queue.on_pending([this] { writer.wake(); });
    writer.on_deliveries_written([this] { outbox.written(); });
    health.on_change([this] { return backlog(); }, [this] { writer.wake(); }, [this] { writer.wake(); });
  }

  std::string backlog() const {
    return std::to_string(queue.pages()) + " page rows, " + std::to_string(queue.events()) + " events, " +
           std::to_string(queue.job_updates()) + " job updates";
  }

  asio::io_context& ioc;
  DatabaseConfig config;
  DbPool pool;
  DatabaseHealth health;
  WriteQueue queue;
  BatchWriter writer;
  JobRepository repository;
  DatabaseOutbox outbox;
  std::unique_ptr<ClusterRepository> cluster;
  util::Gate background;  // the writer and the maintenance coroutine
  std::map<std::string, Steady::time_point> last_progress;
};

namespace {

class JobSink : public crawl::PageSink {
 public:
  JobSink(WriteQueue& queue, std::string job_id, std::uint32_t attempt, bool record)
      : queue_(queue), job_id_(std::move(job_id)), attempt_(attempt), record_(record) {}

  asio::awaitable<void> on_page(crawl::PageResult page) override {
    if (!record_) co_return;  // log_to_db=false
    co_await queue_.add_page(job_id_, attempt_, std::move(page));
  }

 private:
  WriteQueue& queue_;
  std::string job_id_;
  std::uint32_t attempt_;
  bool record_;
};

}  // namespace

Store::Store(asio::io_context& ioc, DatabaseConfig config, std::string instance_id)
    : impl_(std::make_unique<Impl>(ioc, std::move(config), std::move(instance_id))) {}

Store::~Store() = default;

void Store::start() {
  spdlog::info("database {} (instance {}, {} threads)", redact_conninfo(impl_->config.url), impl_->health.instance_id(),
               impl_->config.threads);
  impl_->health.start(impl_->background);
  impl_->writer.start(impl_->background);
}

asio::awaitable<bool> Store::flush(std::chrono::milliseconds timeout) { return impl_->writer.flush(timeout); }

asio::awaitable<void> Store::close(std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  if (!co_await impl.writer.flush(timeout)) {
    spdlog::error("database: {} could not be written before shutdown", impl.backlog());
  }
  impl.queue.close();
  impl.writer.stop();
  impl.health.stop();
  // An in-flight statement ends within statement_timeout.
  co_await impl.background.wait(std::chrono::milliseconds(impl.config.statement_timeout_ms) + 2s);
  if (impl.cluster) impl.cluster->stop();
}

void Store::job_created(const jobs::Job& job) { impl_->queue.add_job(job); }

void Store::job_changed(const jobs::Job& job) {
  impl_->queue.add_job(job);
  if (jobs::is_terminal(job.state)) impl_->last_progress.erase(job.id);
}

void Store::job_progress(const jobs::Job& job) {
  // At most one progress snapshot a second per job.
  auto now = Steady::now();
  auto [it, inserted] = impl_->last_progress.try_emplace(job.id, now);
  if (!inserted) {
    if (now - it->second < 1s) return;
    it->second = now;
  }
  impl_->queue.add_job(job);
}

void Store::job_event(const jobs::Job& job, std::string_view level, const std::string& message) {
  impl_->queue.add_event(job, level, message);
}

std::unique_ptr<crawl::PageSink> Store::page_sink(const jobs::Job& job) {
  return std::make_unique<JobSink>(impl_->queue, job.id, std::max(job.attempt, 1U), job.params.log_to_db);
}

JobRepository& Store::repository() { return impl_->repository; }

webhooks::Outbox& Store::webhook_outbox() { return impl_->outbox; }

std::uint32_t idle_in_transaction_ms(const ClusterConfig& cluster) { return std::max(500U, cluster.lease_ms / 4); }

ClusterRepository& Store::enable_cluster(const ClusterConfig& cluster) {
  Impl& impl = *impl_;
  impl.cluster = std::make_unique<ClusterRepository>(impl.ioc, impl.config, cluster, impl.health,
                                                     impl.health.instance_id());
  impl.queue.fence(impl.health.instance_id());
  // Row locks of a stopped owner would keep its jobs from being rescued.
  impl.pool.set_idle_in_transaction_timeout(idle_in_transaction_ms(cluster));
  impl.health.skip_recovery();
  return *impl.cluster;
}


void Store::on_batch(BatchCallback callback) { impl_->writer.on_batch(std::move(callback)); }

void Store::on_end_written(EndCallback callback) { impl_->writer.on_end_written(std::move(callback)); }

void Store::on_events_written(EventsCallback callback) { impl_->writer.on_events_written(std::move(callback)); }

std::size_t Store::pending_events(const std::string& job_id) const { return impl_->queue.events_of(job_id); }

asio::awaitable<bool> Store::rows_written(const std::string& job_id, std::chrono::milliseconds timeout) {
  bool written = co_await impl_->queue.wait_written(job_id, std::chrono::steady_clock::now() + timeout);
  co_return written;
}

bool Store::backlog_full() const { return impl_->queue.full(); }

DatabaseStatus Store::status() const {
  DatabaseStatus status = impl_->health.status();
  status.backlog_pages = impl_->queue.pages();
  status.backlog_events = impl_->queue.events();
  status.backlog_jobs = impl_->queue.job_updates();
  return status;
}

const std::string& Store::instance_id() const { return impl_->health.instance_id(); }

}  // namespace crawld::store
