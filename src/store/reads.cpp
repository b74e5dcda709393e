#include "queries.hpp"
#include "statements.hpp"

#include <nlohmann/json.hpp>

namespace crawld::store {

namespace {

jobs::Clock::time_point from_ms(const pqxx::field& field) {
  return jobs::Clock::time_point(std::chrono::milliseconds(field.as<std::int64_t>()));
}

std::optional<jobs::Clock::time_point> optional_time(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return from_ms(field);
}

std::string text(const pqxx::field& field) { return field.is_null() ? std::string() : field.as<std::string>(); }

}  // namespace

// Columns in the order of statements::job_fields().
jobs::Job job_from_row(const pqxx::row& row) {
  jobs::Job job;
  job.id = row[0].as<std::string>();
  job.params.target = row[1].as<std::string>();
  job.params.season = row[2].as<std::int64_t>();
  job.params.deep = row[3].as<bool>();
  auto params = nlohmann::json::parse(row[4].as<std::string>(), nullptr, false);
  if (params.is_object()) {
    job.params.timeout_s = params.value("timeout", 0u);
    job.params.log_to_db = params.value("log_to_db", true);
  }
  job.state = jobs::parse_job_state(row[5].as<std::string>()).value_or(jobs::JobState::failed);
  std::string stop = text(row[6]);
  for (auto reason : {jobs::StopReason::user_request, jobs::StopReason::deadline, jobs::StopReason::shutdown}) {
    if (jobs::to_string(reason) == stop) job.stop_reason = reason;
  }
  job.error = text(row[7]);
  job.created_at = from_ms(row[8]);
  job.started_at = optional_time(row[9]);
  job.finished_at = optional_time(row[10]);
  job.instance_id = text(row[11]);
  job.idempotency_key = text(row[12]);
  job.attempt = row[13].as<std::uint32_t>();
  auto column = statements::job_fixed_count;
  for (const auto& field : crawl::progress_fields) job.progress.*field.member = row[column++].as<std::uint64_t>();
  return job;
}

std::vector<jobs::Job> select_jobs(pqxx::connection& connection, std::optional<jobs::JobState> state,
                                   std::size_t limit) {
  pqxx::read_transaction tx(connection);
  auto rows = state ? tx.exec_prepared(statements::select_jobs_in_state, std::string(jobs::to_string(*state)), limit)
                    : tx.exec_prepared(statements::select_jobs, limit);
  std::vector<jobs::Job> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(job_from_row(row));
  return out;
}

std::optional<jobs::Job> select_job(pqxx::connection& connection, const std::string& id) {
  pqxx::read_transaction tx(connection);
  auto rows = tx.exec_prepared(statements::select_job, id);
  if (rows.empty()) return std::nullopt;
  return job_from_row(rows[0]);
}

namespace {

PageRecord page_from_row(const pqxx::row& row, const std::string& job_id) {
  PageRecord record;
  record.id = row[0].as<std::int64_t>();
  record.job_id = job_id;
  auto& page = record.page;
  page.url = row[1].as<std::string>();
  page.final_url = text(row[2]);
  page.depth = row[3].as<std::uint32_t>();
  page.status = row[4].as<int>();
  page.content_type = text(row[5]);
  page.bytes = row[6].as<std::uint64_t>();
  page.truncated = row[7].as<bool>();
  page.title = text(row[8]);
  page.sha256 = text(row[9]);
  page.elapsed_ms = row[10].as<std::uint32_t>();
  page.error = text(row[11]);
  record.fetched_at = from_ms(row[12]);
  page.canonical = text(row[13]);
  page.wire_bytes = row[14].as<std::uint64_t>();
  return record;
}

EventRecord event_from_row(const pqxx::row& row, const std::string& job_id) {
  return {row[0].as<std::int64_t>(), job_id, from_ms(row[1]), row[2].as<std::string>(), row[3].as<std::string>()};
}

// One page of a job's rows (pages or events): id > after, oldest first.
template <class Record>
std::vector<Record> select_window(pqxx::connection& connection, const char* statement, const std::string& job_id,
                                  std::int64_t after, std::size_t limit,
                                  Record (*from_row)(const pqxx::row&, const std::string&)) {
  pqxx::read_transaction tx(connection);
  auto rows = tx.exec_prepared(statement, job_id, after, limit);
  std::vector<Record> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(from_row(row, job_id));
  return out;
}

}  // namespace

std::vector<PageRecord> select_pages(pqxx::connection& connection, const std::string& job_id, std::int64_t after,
                                     std::size_t limit) {
  return select_window(connection, statements::select_pages, job_id, after, limit, page_from_row);
}

std::vector<EventRecord> select_events(pqxx::connection& connection, const std::string& job_id, std::int64_t after,
                                       std::size_t limit) {
  return select_window(connection, statements::select_events, job_id, after, limit, event_from_row);
}

}  // namespace crawld::store
