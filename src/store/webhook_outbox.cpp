#include "webhook_outbox.hpp"

#include "crawld/store/text.hpp"
#include "statements.hpp"

#include <map>

namespace crawld::store {

namespace asio = boost::asio;
using webhooks::Delivery;
using webhooks::DeliveryRecord;
using webhooks::DeliveryState;

namespace statements {

void prepare_webhooks(pqxx::connection& connection) {
  // The oldest due deliveries not leased, to the URLs asked for; each claim
  // counts its attempt.
  connection.prepare(claim_deliveries,
                     "update webhook_deliveries d set lease_until = now() + $3::bigint * interval '1 millisecond',"
                     " attempts = d.attempts + 1 where d.id in (select id from webhook_deliveries"
                     " where state = 'pending' and next_attempt_at <= now()"
                     " and (lease_until is null or lease_until < now()) and url = any($2::text[])"
                     " order by next_attempt_at limit $1 for update skip locked)"
                     " returning d.id::text, d.job_id::text, d.event, d.url, d.payload, " +
                         epoch_ms("d.created_at") + ", d.attempts");
  connection.prepare(record_delivery,
                     "with attempt as (insert into webhook_attempts (delivery_id, n, at, status, error, elapsed_ms)"
                     " values ($1::uuid, $2, now(), $3::integer, $4, $5) on conflict do nothing)"
                     " update webhook_deliveries set state = $6, lease_until = null, last_status = $3::integer,"
                     " last_error = $4, next_attempt_at = coalesce(to_timestamp($7::bigint / 1000.0), next_attempt_at),"
                     " delivered_at = case when $6 = 'delivered' then now() else delivered_at end"
                     " where id = $1::uuid");
  connection.prepare(select_deliveries, "select id::text, job_id::text, event, url, payload, " +
                                            epoch_ms("created_at") + ", attempts, state, " +
                                            epoch_ms("next_attempt_at") + ", " + epoch_ms("delivered_at") +
                                            " from webhook_deliveries where ($1::uuid is null or job_id = $1::uuid)"
                                            " order by created_at desc, id limit $2");
  connection.prepare(select_delivery_attempts, "select delivery_id::text, n, " + epoch_ms("at") +
                                                   ", coalesce(status, 0), coalesce(error, ''), elapsed_ms"
                                                   " from webhook_attempts where delivery_id = any($1::uuid[])"
                                                   " order by delivery_id, n");
}

}  // namespace statements

namespace {

jobs::Clock::time_point from_ms(std::int64_t ms) { return jobs::Clock::time_point(std::chrono::milliseconds(ms)); }

std::int64_t to_ms(jobs::Clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

Delivery delivery_from_row(const pqxx::row& row) {
  Delivery d;
  d.id = row[0].as<std::string>();
  d.job_id = row[1].as<std::string>();
  d.event = row[2].as<std::string>();
  d.url = row[3].as<std::string>();
  d.payload = row[4].as<std::string>();
  d.created_at = from_ms(row[5].as<std::int64_t>());
  d.attempts = row[6].as<std::uint32_t>();
  return d;
}

DeliveryState state_from(const std::string& text) {
  if (text == "delivered") return DeliveryState::delivered;
  if (text == "failed") return DeliveryState::failed;
  return DeliveryState::pending;
}

}  // namespace

void DatabaseOutbox::add(const jobs::Job&, Delivery delivery) { queue_.add_delivery(std::move(delivery)); }

asio::awaitable<std::vector<Delivery>> DatabaseOutbox::claim(std::size_t n, std::set<std::string> urls,
                                                             std::chrono::milliseconds lease) {
  health_.require_ready();
  auto body = [n, urls = array_literal(urls), lease](pqxx::connection& c) {
    pqxx::work tx(c);
    std::vector<Delivery> claimed;
    for (const auto& row : tx.exec_prepared(statements::claim_deliveries, static_cast<std::int64_t>(n), urls,
                                            static_cast<std::int64_t>(lease.count()))) {
      claimed.push_back(delivery_from_row(row));
    }
    tx.commit();
    return claimed;
  };
  co_return co_await pool_.run_bounded(ioc_, std::move(body), std::chrono::milliseconds(config_.statement_timeout_ms));
}

asio::awaitable<void> DatabaseOutbox::record(webhooks::DeliveryOutcome outcome) {
  health_.require_ready();
  auto body = [outcome = std::move(outcome)](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto& a = outcome.attempt;
    // NULL parameters go as null pointers (libpqxx 6.4 sends those as NULL).
    std::string status = a.status != 0 ? std::to_string(a.status) : std::string();
    std::string error = a.error.substr(0, 1000);
    std::string next = outcome.state == DeliveryState::pending ? std::to_string(to_ms(outcome.next_at)) : std::string();
    auto or_null = [](const std::string& text) { return text.empty() ? nullptr : text.c_str(); };
    tx.exec_prepared(statements::record_delivery, outcome.id, static_cast<std::int64_t>(a.n), or_null(status),
                     or_null(error), static_cast<std::int64_t>(a.elapsed_ms),
                     std::string(webhooks::to_string(outcome.state)), or_null(next));
    tx.commit();
    return true;
  };
  co_await pool_.run_bounded(ioc_, std::move(body), std::chrono::milliseconds(config_.statement_timeout_ms));
}

asio::awaitable<std::vector<DeliveryRecord>> DatabaseOutbox::list(std::string job_id, std::size_t limit) {
  health_.require_ready();
  auto body = [job_id = std::move(job_id), limit](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    const char* job = job_id.empty() ? nullptr : job_id.c_str();
    std::vector<DeliveryRecord> records;
    std::map<std::string, std::size_t> index;
    for (const auto& row : tx.exec_prepared(statements::select_deliveries, job, static_cast<std::int64_t>(limit))) {
      DeliveryRecord record;
      record.delivery = delivery_from_row(row);
      record.state = state_from(row[7].as<std::string>());
      if (record.state == DeliveryState::pending) record.next_attempt_at = from_ms(row[8].as<std::int64_t>());
      if (!row[9].is_null()) record.delivered_at = from_ms(row[9].as<std::int64_t>());
      index[record.delivery.id] = records.size();
      records.push_back(std::move(record));
    }
    if (!records.empty()) {
      std::vector<std::string> ids;
      for (const auto& [id, at] : index) ids.push_back(id);
      for (const auto& row : tx.exec_prepared(statements::select_delivery_attempts, array_literal(ids))) {
        webhooks::DeliveryAttempt attempt;
        attempt.n = row[1].as<std::uint32_t>();
        attempt.at = from_ms(row[2].as<std::int64_t>());
        attempt.status = row[3].as<int>();
        attempt.error = row[4].as<std::string>();
        attempt.elapsed_ms = row[5].as<std::uint32_t>();
        records[index.at(row[0].as<std::string>())].attempts.push_back(std::move(attempt));
      }
    }
    return records;
  };
  co_return co_await pool_.run_bounded(ioc_, std::move(body), std::chrono::milliseconds(config_.read_timeout_ms));
}

}  // namespace crawld::store
