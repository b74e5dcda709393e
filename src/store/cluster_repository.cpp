#include "crawld/store/cluster_repository.hpp"

#include "crawld/util/json_text.hpp"
#include "crawld/version.hpp"
#include "db_pool.hpp"
#include "health.hpp"
#include "queries.hpp"
#include "rows.hpp"
#include "statements.hpp"

#include <algorithm>

namespace crawld::store {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// The class half of the instance lock's key ("crwl"); the other half is a
// hash of the instance id. The migration lock uses the one-key form.
constexpr int instance_lock_class = 0x6377726c;
// The maintenance lock: one instance at a time rescues and expires.
constexpr int maintenance_lock = 1;

std::string submit_json(const std::vector<SubmitRow>& rows) {
  std::string out = "[";
  for (const auto& row : rows) {
    const auto& job = row.job;
    if (out.size() > 1) out += ',';
    out += "{\"id\":";
    util::append_json_string(out, job.id);
    out += ",\"target\":";
    util::append_json_string(out, job.params.target);
    out += ",\"season\":" + std::to_string(job.params.season);
    out += job.params.deep ? ",\"deep\":true" : ",\"deep\":false";
    out += ",\"params\":" + params_json(job.params);
    out += ",\"created_at\":";
    util::append_json_string(out, jobs::format_time(job.created_at));
    out += ",\"idempotency_key\":";
    if (job.idempotency_key.empty()) {
      out += "null";
    } else {
      util::append_json_string(out, job.idempotency_key);
    }
    out += row.claim ? ",\"claim\":true" : ",\"claim\":false";
    out += ",\"dedup_key\":";
    if (row.dedup_key.empty()) {
      out += "null";
    } else {
      util::append_json_string(out, row.dedup_key);
    }
    out += '}';
  }
  out += ']';
  return out;
}

// Rows crawld_submit would insert as they are, claimed: no key to look up,
// no queue room to count (statements::submit_claimed).
bool all_claimed_plain(const std::vector<SubmitRow>& rows) {
  return std::all_of(rows.begin(), rows.end(), [](const SubmitRow& row) {
    return row.claim && row.job.idempotency_key.empty() && row.dedup_key.empty();
  });
}

SubmitOutcome parse_outcome(const std::string& text) {
  if (text == "created") return SubmitOutcome::created;
  if (text == "claimed") return SubmitOutcome::claimed;
  if (text == "replayed") return SubmitOutcome::replayed;
  if (text == "duplicate") return SubmitOutcome::duplicate;
  if (text == "mismatch") return SubmitOutcome::mismatch;
  return SubmitOutcome::queue_full;
}

jobs::Clock::time_point from_ms(const pqxx::field& field) {
  return jobs::Clock::time_point(std::chrono::milliseconds(field.as<std::int64_t>()));
}

// Takes the instance lock on this connection unless it holds it already.
void hold_instance_lock(pqxx::connection& c, const std::string& id, std::atomic<int>& locked_pid) {
  if (locked_pid.load() == c.backendpid()) return;
  pqxx::nontransaction tx(c);
  bool got =
      tx.exec_params1("select pg_try_advisory_lock($1::integer, hashtext($2))", instance_lock_class, id)[0].as<bool>();
  if (!got) {
    throw InstanceConflict("another live crawld instance uses instance_id \"" + id +
                           "\"; give each instance its own database.instance_id");
  }
  locked_pid.store(c.backendpid());
}

// The deliveries of `jobs`' new states, inserted in the change's transaction.
void insert_deliveries(pqxx::work& tx, const ClusterRepository::DatabaseChanges& changes,
                       const std::vector<jobs::Job>& jobs) {
  if (!changes.make) return;
  std::vector<webhooks::Delivery> deliveries;
  for (const auto& job : jobs) {
    for (auto& delivery : changes.make(job)) deliveries.push_back(std::move(delivery));
  }
  if (deliveries.empty()) return;
  tx.exec_prepared(statements::insert_deliveries,
                   deliveries_json(deliveries.data(), deliveries.data() + deliveries.size()));
}

// The jobs `ids` as the transaction has made them.
std::vector<jobs::Job> read_jobs(pqxx::work& tx, const std::vector<std::string>& ids) {
  std::vector<jobs::Job> out;
  for (const auto& id : ids) {
    auto rows = tx.exec_prepared(statements::select_job, id);
    if (!rows.empty()) out.push_back(job_from_row(rows[0]));
  }
  return out;
}

}  // namespace

ClusterRepository::ClusterRepository(asio::io_context& ioc, const DatabaseConfig& database,
                                     const ClusterConfig& cluster, const DatabaseHealth& health,
                                     std::string instance_id)
    : ioc_(ioc),
      database_(database),
      cluster_(cluster),
      health_(health),
      instance_id_(std::move(instance_id)),
      work_(std::make_unique<DbPool>(database.url, 2, database.statement_timeout_ms)),
      beat_(std::make_unique<DbPool>(database.url, 1, cluster.lease_ms)) {
  work_->set_idle_in_transaction_timeout(idle_in_transaction_ms(cluster));
  beat_->set_idle_in_transaction_timeout(idle_in_transaction_ms(cluster));
}

ClusterRepository::~ClusterRepository() = default;

void ClusterRepository::stop() {
  work_->stop();
  beat_->stop();
}

// Each body is a named local, not a temporary inside the co_await
// expression (GCC 12 mishandles those).

asio::awaitable<void> ClusterRepository::register_instance(std::uint32_t slots) {
  health_.require_ready();
  auto body = [this, slots](pqxx::connection& c) {
    hold_instance_lock(c, instance_id_, locked_pid_);
    pqxx::work tx(c);
    tx.exec_prepared(statements::register_instance, instance_id_, std::string(version), slots);
    tx.commit();
    return true;
  };
  co_await beat_->run_bounded(ioc_, std::move(body), std::chrono::milliseconds(cluster_.lease_ms));
}

asio::awaitable<std::vector<SubmitAnswer>> ClusterRepository::submit(std::vector<SubmitRow> rows,
                                                                     std::uint32_t max_queued) {
  health_.require_ready();
  std::string json = submit_json(rows);
  auto body = [this, json = std::move(json), rows = std::move(rows), max_queued](pqxx::connection& c) {
    const std::size_t count = rows.size();
    auto submit_in = [&](pqxx::transaction_base& tx) {
      std::vector<std::optional<SubmitAnswer>> answers(count);
      auto result = all_claimed_plain(rows)
                        ? tx.exec_prepared(statements::submit_claimed, json, instance_id_, cluster_.lease_ms)
                        : tx.exec_prepared(statements::submit_jobs, json, max_queued, instance_id_, cluster_.lease_ms);
      for (const auto& row : result) {
        auto n = row[0].as<std::size_t>();
        if (n < 1 || n > count) throw std::runtime_error("crawld_submit answered for row " + std::to_string(n));
        answers[n - 1] = {parse_outcome(row[1].as<std::string>()), row[2].is_null() ? "" : row[2].as<std::string>()};
      }
      std::vector<SubmitAnswer> out;
      for (auto& answer : answers) {
        if (!answer) throw std::runtime_error("crawld_submit did not answer for every row");
        out.push_back(std::move(*answer));
      }
      return out;
    };
    if (!changes_.make) {
      // Nothing else to write: the one statement is its own transaction,
      // committed as it ends, without the BEGIN and COMMIT round trips. A
      // connection that died while idle is found before anything is sent
      // (get_notifs reads what the server left on it, and the pool tries
      // again on a fresh connection); one lost after the group was sent
      // leaves it in doubt, as a lost COMMIT does, and is not tried again.
      c.get_notifs();
      pqxx::nontransaction tx(c);
      try {
        return submit_in(tx);
      } catch (const std::exception& error) {
        if (!DbPool::is_connection_lost(c, error)) throw;
        throw pqxx::in_doubt_error(std::string("connection lost while the jobs were stored: ") + error.what());
      }
    }
    pqxx::work tx(c);
    auto out = submit_in(tx);
    std::vector<jobs::Job> accepted;  // queued (or claimed at once): job.queued
    for (std::size_t i = 0; i < count; ++i) {
      if (out[i].outcome == SubmitOutcome::created || out[i].outcome == SubmitOutcome::claimed) {
        accepted.push_back(rows[i].job);
      }
    }
    insert_deliveries(tx, changes_, accepted);
    tx.commit();
    return out;
  };
  auto answers = co_await work_->run_bounded(ioc_, std::move(body),
                                             std::chrono::milliseconds(database_.statement_timeout_ms));
  bool accepted = std::any_of(answers.begin(), answers.end(), [](const SubmitAnswer& a) {
    return a.outcome == SubmitOutcome::created || a.outcome == SubmitOutcome::claimed;
  });
  if (accepted && changes_.written) changes_.written();
  co_return answers;
}

asio::awaitable<std::vector<ClaimedJob>> ClusterRepository::claim(std::size_t slots, bool one_per_crawl) {
  health_.require_ready();
  auto body = [this, slots, one_per_crawl](pqxx::connection& c) {
    pqxx::work tx(c);
    std::vector<ClaimedJob> claimed;
    // With one_per_crawl, one at a time in one transaction: a job claimed
    // here is seen running by the next pick. The transaction-scoped lock
    // keeps two instances from picking two queued copies of one crawl.
    if (one_per_crawl) tx.exec_params("select pg_advisory_xact_lock($1::integer, $2::integer)", instance_lock_class, 2);
    while (claimed.size() < slots) {
      std::size_t take = one_per_crawl ? 1 : slots - claimed.size();
      auto rows = tx.exec_prepared(statements::claim_job, instance_id_, cluster_.lease_ms, one_per_crawl, take);
      for (const auto& row : rows) {
        claimed.push_back(
            {job_from_row(row), std::chrono::milliseconds(row[statements::job_field_count()].as<std::int64_t>())});
      }
      if (rows.size() < take) break;
    }
    tx.commit();
    return claimed;
  };
  co_return co_await work_->run_bounded(ioc_, std::move(body),
                                        std::chrono::milliseconds(database_.statement_timeout_ms));
}

asio::awaitable<Heartbeat> ClusterRepository::heartbeat(std::vector<HeldAttempt> held, std::uint32_t slots,
                                                        bool stopping, std::chrono::milliseconds limit) {
  health_.require_ready();
  auto body = [this, held = std::move(held), slots, stopping](pqxx::connection& c) {
    hold_instance_lock(c, instance_id_, locked_pid_);
    std::string ids = "{";
    std::string attempts = "{";
    for (const auto& [id, attempt] : held) {
      if (ids.size() > 1) {
        ids += ',';
        attempts += ',';
      }
      ids += id;  // UUIDs made by the service: nothing to quote
      attempts += std::to_string(attempt);
    }
    ids += '}';
    attempts += '}';
    pqxx::work tx(c);
    find_jobs_by_key(tx);
    Heartbeat beat;
    for (const auto& row : tx.exec_prepared(statements::heartbeat, instance_id_, cluster_.lease_ms, ids, attempts,
                                            cluster_.renew_within_ms())) {
      beat.kept.push_back(row[0].as<std::string>());
      if (row[1].as<bool>()) beat.cancel_requested.push_back(row[0].as<std::string>());
    }
    tx.exec_prepared(statements::beat_instance, instance_id_, std::string(version), slots, held.size(), stopping);
    tx.commit();
    return beat;
  };
  co_return co_await beat_->run_bounded(ioc_, std::move(body),
                                        std::min(limit, std::chrono::milliseconds(cluster_.lease_ms)));
}

asio::awaitable<bool> ClusterRepository::release(jobs::Job job, std::string why) {
  health_.require_ready();
  auto body = [this, id = job.id, attempt = job.attempt, why = std::move(why)](pqxx::connection& c) {
    pqxx::work tx(c);
    auto result = tx.exec_prepared(statements::release_attempt, id, instance_id_, attempt, why);
    tx.exec("select pg_notify('crawld_jobs', '')");
    tx.commit();
    return result.size() == 1;
  };
  co_return co_await work_->run_bounded(ioc_, std::move(body),
                                        std::chrono::milliseconds(database_.statement_timeout_ms));
}

asio::awaitable<ClusterRepository::Rescue> ClusterRepository::rescue(bool own, std::uint32_t key_ttl_s) {
  health_.require_ready();
  auto body = [this, own, key_ttl_s](pqxx::connection& c) {
    pqxx::work tx(c);
    Rescue result;
    auto& rescued = result.jobs;
    // Another instance doing this right now: nothing for this one to do.
    // (Its own jobs at start-up are rescued regardless: they are nobody's.)
    bool leader = tx.exec_params1("select pg_try_advisory_xact_lock($1::integer, $2::integer)", instance_lock_class,
                                  maintenance_lock)[0]
                      .as<bool>();
    auto count_queued = [&] {
      result.queued =
          tx.exec1("select count(*) from (select 1 from crawl_jobs where state = 'queued' limit 100000) q")[0]
              .as<std::uint64_t>();
    };
    if (!leader && !own) {
      count_queued();
      return result;
    }
    std::vector<std::string> ended;  // interrupted, or cancelled as asked
    for (const auto& row : tx.exec_prepared(statements::rescue_expired, instance_id_, cluster_.max_attempts, own)) {
      rescued.push_back(
          {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::uint32_t>()});
      if (rescued.back().state != "queued") ended.push_back(rescued.back().id);
    }
    if (changes_.make && !ended.empty()) insert_deliveries(tx, changes_, read_jobs(tx, ended));
    if (leader) {
      tx.exec_params("delete from crawl_idempotency_keys where created_at < now() - $1 * interval '1 second'",
                     key_ttl_s);
      tx.exec("delete from crawl_instances where heartbeat_at < now() - interval '1 day'");
    }
    if (!rescued.empty()) tx.exec("select pg_notify('crawld_jobs', '')");
    count_queued();
    tx.commit();
    return result;
  };
  auto rescue = co_await work_->run_bounded(ioc_, std::move(body),
                                            std::chrono::milliseconds(database_.statement_timeout_ms));
  bool ended = std::any_of(rescue.jobs.begin(), rescue.jobs.end(), [](const auto& r) { return r.state != "queued"; });
  if (ended && changes_.written) changes_.written();
  co_return rescue;
}

asio::awaitable<ClusterCancel> ClusterRepository::cancel(std::string id) {
  health_.require_ready();
  auto body = [this, id = std::move(id)](pqxx::connection& c) {
    pqxx::work tx(c);
    auto outcome = tx.exec_prepared1(statements::cancel_job, id, instance_id_)[0].as<std::string>();
    // A queued job was cancelled here and now: nobody else records it.
    if (outcome == "cancelled" && changes_.make) insert_deliveries(tx, changes_, read_jobs(tx, {id}));
    tx.commit();
    ClusterCancel answer = ClusterCancel::not_found;
    if (outcome == "cancelled") answer = ClusterCancel::cancelled;
    if (outcome == "requested") answer = ClusterCancel::requested;
    if (outcome == "ended") answer = ClusterCancel::ended;
    return answer;
  };
  auto answer = co_await work_->run_bounded(ioc_, std::move(body),
                                            std::chrono::milliseconds(database_.statement_timeout_ms));
  if (answer == ClusterCancel::cancelled && changes_.written) changes_.written();
  co_return answer;
}

asio::awaitable<std::vector<InstanceRecord>> ClusterRepository::instances() {
  health_.require_ready();
  // An instance whose heartbeat is older than three leases is gone.
  auto body = [this](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<InstanceRecord> out;
    for (const auto& row : tx.exec_prepared(statements::select_instances, 3 * cluster_.lease_ms)) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), from_ms(row[2]), from_ms(row[3]),
                     row[4].as<std::uint32_t>(), row[5].as<std::uint32_t>(), row[6].as<bool>()});
    }
    return out;
  };
  co_return co_await work_->run_bounded(ioc_, std::move(body), std::chrono::milliseconds(database_.read_timeout_ms));
}

asio::awaitable<ClusterCounts> ClusterRepository::counts() {
  health_.require_ready();
  auto body = [](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    ClusterCounts counts;
    for (const auto& row : tx.exec_prepared(statements::count_active)) {
      (row[0].as<std::string>() == "queued" ? counts.queued : counts.running) = row[1].as<std::uint64_t>();
    }
    return counts;
  };
  co_return co_await work_->run_bounded(ioc_, std::move(body), std::chrono::milliseconds(database_.read_timeout_ms));
}

}  // namespace crawld::store
