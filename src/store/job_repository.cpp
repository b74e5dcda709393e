#include "crawld/store/job_repository.hpp"

#include "db_pool.hpp"
#include "health.hpp"
#include "queries.hpp"
#include "rows.hpp"
#include "statements.hpp"

namespace crawld::store {

namespace asio = boost::asio;

namespace {

// An optional text parameter: NULL when empty (libpqxx sends a null char
// pointer as SQL NULL).
const char* text_or_null(const std::string& text) { return text.empty() ? nullptr : text.c_str(); }

std::string time_or_empty(const std::optional<jobs::Clock::time_point>& when) {
  return when ? jobs::format_time(*when) : std::string();
}

// Runs `body` on the pool once the database may be used, waiting at most
// `timeout` (then the statement is cancelled).
template <class F>
auto bounded(DbPool& pool, asio::io_context& ioc, const DatabaseHealth& health, F body,
             std::chrono::milliseconds timeout) {
  health.require_ready();
  return pool.run_bounded(ioc, std::move(body), timeout);
}

}  // namespace

JobRepository::JobRepository(asio::io_context& ioc, const DatabaseConfig& config, DbPool& pool,
                             const DatabaseHealth& health)
    : ioc_(ioc),
      read_timeout_(config.read_timeout_ms),
      command_timeout_(config.statement_timeout_ms),
      pool_(pool),
      health_(health) {}

// Each body is a named local, not a temporary inside the co_await
// expression (GCC 12 mishandles those).

asio::awaitable<void> JobRepository::insert(jobs::Job job) {
  auto body = [job = std::move(job)](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_prepared(statements::insert_job, jobs_json(&job, &job + 1));
    tx.commit();
    return true;
  };
  co_await bounded(pool_, ioc_, health_, std::move(body), command_timeout_);
}

asio::awaitable<bool> JobRepository::change_state(jobs::Job job) {
  auto body = [job = std::move(job)](pqxx::connection& c) {
    pqxx::work tx(c);
    std::string stop =
        job.stop_reason == jobs::StopReason::none ? std::string() : std::string(to_string(job.stop_reason));
    std::string started = time_or_empty(job.started_at);
    std::string finished = time_or_empty(job.finished_at);
    auto result =
        tx.exec_prepared(statements::change_state, job.id, std::string(to_string(job.state)), text_or_null(stop),
                         text_or_null(job.error), text_or_null(started), text_or_null(finished));
    tx.commit();
    return result.affected_rows() == 1;
  };
  co_return co_await bounded(pool_, ioc_, health_, std::move(body), command_timeout_);
}

asio::awaitable<bool> JobRepository::record_progress(std::string id, crawl::CrawlProgress progress) {
  auto body = [id = std::move(id), progress = progress_json(progress)](pqxx::connection& c) {
    pqxx::work tx(c);
    auto result = tx.exec_prepared(statements::record_progress, id, progress);
    tx.commit();
    return result.affected_rows() == 1;
  };
  co_return co_await bounded(pool_, ioc_, health_, std::move(body), command_timeout_);
}

asio::awaitable<std::optional<jobs::Job>> JobRepository::find(std::string id) {
  auto body = [id = std::move(id)](pqxx::connection& c) { return select_job(c, id); };
  co_return co_await bounded(pool_, ioc_, health_, std::move(body), read_timeout_);
}

asio::awaitable<std::vector<jobs::Job>> JobRepository::list(std::optional<jobs::JobState> state, std::size_t limit) {
  auto body = [state, limit](pqxx::connection& c) { return select_jobs(c, state, limit); };
  co_return co_await bounded(pool_, ioc_, health_, std::move(body), read_timeout_);
}

asio::awaitable<std::vector<PageRecord>> JobRepository::pages(std::string job_id, std::int64_t after,
                                                              std::size_t limit) {
  auto body = [job_id = std::move(job_id), after, limit](pqxx::connection& c) {
    return select_pages(c, job_id, after, limit);
  };
  co_return co_await bounded(pool_, ioc_, health_, std::move(body), read_timeout_);
}

asio::awaitable<std::vector<EventRecord>> JobRepository::events(std::string job_id, std::int64_t after,
                                                                std::size_t limit) {
  auto body = [id = std::move(job_id), after, limit](pqxx::connection& c) {
    return select_events(c, id, after, limit);
  };
  co_return co_await bounded(pool_, ioc_, health_, std::move(body), read_timeout_);
}

}  // namespace crawld::store
