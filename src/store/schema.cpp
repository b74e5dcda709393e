#include "crawld/store/schema.hpp"

#include "crawld/store/migrations.hpp"
#include "queries.hpp"

namespace crawld::store {

namespace {

// Any fixed key shared by all crawld instances ("crawld" in ASCII).
constexpr std::int64_t migration_lock_key = 109330926102372;

}  // namespace

int binary_schema_version() {
  const auto& all = migrations();
  return all.empty() ? 0 : all.back().version;
}

MigrationOutcome apply_migrations(pqxx::connection& connection) {
  MigrationOutcome outcome;
  pqxx::work tx(connection);
  // Held until commit or rollback: concurrent starters wait here and then
  // find the work done.
  tx.exec_params("select pg_advisory_xact_lock($1)", migration_lock_key);
  tx.exec(
      "create table if not exists schema_migrations ("
      " version integer primary key,"
      " name text not null,"
      " applied_at timestamptz not null default now())");
  outcome.before = tx.exec1("select coalesce(max(version), 0) from schema_migrations")[0].as<int>();
  int latest = binary_schema_version();
  if (outcome.before > latest) {
    outcome.refused = true;
    outcome.after = outcome.before;
    outcome.message = "database schema version " + std::to_string(outcome.before) +
                      " is newer than this binary supports (" + std::to_string(latest) +
                      "); refusing to use it: upgrade crawld or point it at another database";
    tx.abort();
    return outcome;
  }
  for (const auto& migration : migrations()) {
    if (migration.version <= outcome.before) continue;
    tx.exec(std::string(migration.sql));
    tx.exec_params("insert into schema_migrations (version, name) values ($1, $2)", migration.version,
                   std::string(migration.name));
    outcome.applied.push_back(migration.version);
  }
  tx.commit();
  outcome.after = std::max(outcome.before, latest);
  if (outcome.applied.empty()) {
    outcome.message = "database schema is current (version " + std::to_string(outcome.after) + ")";
  } else {
    outcome.message = "database schema migrated from version " + std::to_string(outcome.before) + " to " +
                      std::to_string(outcome.after);
  }
  return outcome;
}

MigrationOutcome migrate_database(const std::string& conninfo) {
  pqxx::connection connection(conninfo);
  return apply_migrations(connection);
}

std::vector<RecoveredJob> recover_interrupted(pqxx::connection& connection, const std::string& instance_id,
                                              jobs::Clock::time_point started_at) {
  std::vector<RecoveredJob> recovered;
  pqxx::work tx(connection);
  const std::string reason = "interrupted: the service stopped or crashed while the job was active";
  auto rows = tx.exec_params(
      "with stale as ("
      "  select id, state from crawl_jobs"
      "  where instance_id = $1 and state in ('queued', 'running') and created_at < $2::timestamptz"
      "  for update)"
      " update crawl_jobs j set state = 'interrupted', stop_reason = 'shutdown', error = $3,"
      " finished_at = now(), updated_at = now()"
      " from stale where j.id = stale.id"
      " returning j.id::text, stale.state",
      instance_id, jobs::format_time(started_at), reason);
  for (const auto& row : rows) {
    RecoveredJob job{row[0].as<std::string>(), row[1].as<std::string>()};
    tx.exec_params("insert into crawl_job_events (job_id, level, message) values ($1::uuid, 'warn', $2)", job.id,
                   "marked interrupted at start-up of instance " + instance_id + ": the job was " +
                       job.previous_state + " when the service stopped or crashed");
    recovered.push_back(std::move(job));
  }
  tx.commit();
  return recovered;
}

}  // namespace crawld::store
