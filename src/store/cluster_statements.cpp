// Cluster mode's SQL: claims, leases, fencing, rescue, cancel, instances.
// Every statement an owner runs on a job is conditional on (owner, attempt)
// and a lease that has not run out; job rows are locked in id order
// everywhere, so that two of these never wait on each other in a circle.
// They lock "for no key update", as their updates do: an event or page row
// inserted meanwhile (its foreign key check takes "for key share") does not
// wait for them.
#include "statements.hpp"

#include <string>

namespace crawld::store::statements {

namespace {

const std::string lease_from_now = "now() + $2 * interval '1 millisecond'";

// The $4 oldest queued jobs nobody else is claiming; with one_per_crawl ($3),
// only one whose crawl (target, season, deep) is not running anywhere.
const std::string claim_sql =
    "with picked as ("
    " select q.id as pick from crawl_jobs q where q.state = 'queued'"
    "   and (not $3 or not exists (select 1 from crawl_jobs r where r.state = 'running'"
    "        and r.target = q.target and r.season = q.season and r.deep = q.deep))"
    " order by q.created_at, q.id limit $4 for no key update skip locked)"
    " update crawl_jobs c set state = 'running', instance_id = $1, attempt = c.attempt + 1,"
    " lease_until = " +
    lease_from_now +
    ", started_at = coalesce(c.started_at, now()),"
    " deadline_at = coalesce(c.deadline_at, now() + (c.params->>'timeout')::bigint * interval '1 second'),"
    " cancel_requested = false, stop_reason = null, error = null, updated_at = now()"
    " from picked where c.id = picked.pick returning " +
    job_fields() + ", greatest(0, (extract(epoch from (deadline_at - now())) * 1000)::bigint)";

// crawld_submit for a group whose rows carry neither an Idempotency-Key nor
// a dedup key and all have a slot on the accepting instance (the common
// case under load): nothing to look up, no queue room to count, nothing
// queued to NOTIFY about. One statement instead of the function's loop
// over the rows: a quarter less time per group in PostgreSQL (pgbench,
// groups of 3).
const std::string submit_claimed_sql =
    "with fresh as ("
    " select * from rows from (jsonb_to_recordset($1::jsonb)"
    "  as (id uuid, target text, season bigint, deep boolean, params jsonb, created_at timestamptz))"
    "  with ordinality as j(id, target, season, deep, params, created_at, n)),"
    " jobs as ("
    " insert into crawl_jobs (id, target, season, deep, params, created_at, state, instance_id, attempt,"
    "  lease_until, started_at, deadline_at)"
    " select f.id, f.target, f.season, f.deep, f.params, f.created_at, s.*"
    " from fresh f, crawld_start_columns(true, $2, $3, f.params) s),"
    " events as ("
    " insert into crawl_job_events (job_id, level, message)"
    " select id, 'info', 'job accepted by ' || $2 from fresh order by n)"
    " select n, 'claimed', id::text from fresh";

// A renewal is a row version (and its WAL) per held attempt. Only the
// leases with less than $5 ms left (ClusterConfig::renew_within_ms) are
// renewed; the others, claimed moments ago, are read, not locked. Every
// attempt the instance still holds comes back, with its cancel flag.
const std::string heartbeat_sql =
    "with mine as ("
    " select c.id, c.attempt, c.cancel_requested, c.lease_until < now() + $5 * interval '1 millisecond' as due"
    " from crawl_jobs c join unnest($3::uuid[], $4::integer[]) as h(id, attempt)"
    "   on c.id = h.id and c.attempt = h.attempt"
    " where c.instance_id = $1 and c.state <> 'queued' and c.lease_until > now()),"
    " held as ("
    " select c.id from crawl_jobs c join mine on c.id = mine.id and mine.due and c.attempt = mine.attempt"
    " where c.instance_id = $1 and c.state <> 'queued' and c.lease_until > now()"
    " order by c.id for no key update of c),"
    " renewed as ("
    " update crawl_jobs c set lease_until = " +
    lease_from_now +
    " from held where c.id = held.id returning c.id, c.cancel_requested)"
    " select id::text, cancel_requested from renewed"
    " union all select id::text, cancel_requested from mine where not due";

// A planned stop hands the job back: the attempt does not count.
const std::string release_sql =
    "with r as (update crawl_jobs set state = 'queued', instance_id = '', attempt = attempt - 1,"
    " lease_until = null, cancel_requested = false, stop_reason = null, updated_at = now()"
    " where id = $1::uuid and instance_id = $2 and attempt = $3 and state = 'running' and lease_until > now()"
    " returning id)"
    " insert into crawl_job_events (job_id, level, message) select id, 'info', $4 from r returning job_id";

// Jobs whose lease ran out (and, at start-up, the ones this instance id
// held before it last stopped: that process is gone) go back to the queue
// while attempts are left; else they are interrupted. A cancel that was
// asked for wins over both.
const std::string rescue_sql =
    "with expired as ("
    " select id, instance_id as owner, attempt, cancel_requested as cancelled from crawl_jobs"
    " where state = 'running' and (lease_until < now() or ($3 and instance_id = $1))"
    " order by id for no key update skip locked),"
    " moved as ("
    " update crawl_jobs c set"
    "  state = case when e.cancelled then 'cancelled' when e.attempt < $2 then 'queued' else 'interrupted' end,"
    "  instance_id = case when e.attempt < $2 and not e.cancelled then '' else c.instance_id end,"
    "  stop_reason = case when e.cancelled then 'user_request' else null end,"
    "  error = case when e.cancelled then 'cancelled by operator' when e.attempt < $2 then null"
    "   else 'interrupted: the lease of ' || e.owner || ' ran out on attempt ' || e.attempt || ' of ' || $2 end,"
    "  finished_at = case when e.attempt < $2 and not e.cancelled then null else now() end,"
    "  lease_until = null, cancel_requested = false, updated_at = now()"
    " from expired e where c.id = e.id returning c.id, c.state, e.owner, e.attempt),"
    " logged as ("
    " insert into crawl_job_events (job_id, level, message) select id, 'warn',"
    "  'the lease of ' || owner || ' on attempt ' || attempt || ' ran out; ' || case state"
    "   when 'queued' then 'queued again by ' || $1"
    "   when 'cancelled' then 'cancelled by ' || $1 || ' (a cancel was asked for)'"
    "   else 'interrupted by ' || $1 || ': no attempts left (cluster.max_attempts ' || $2 || ')' end"
    " from moved)"
    " select id::text, state, owner, attempt from moved";

}  // namespace

void prepare_cluster(pqxx::connection& connection) {
  connection.prepare(lock_owned,
                     "select id::text, attempt from crawl_jobs where id = any($1::uuid[]) and instance_id = $2"
                     " and state <> 'queued' and lease_until > now() order by id for no key update");
  connection.prepare(submit_jobs, "select o_n, o_outcome, o_job::text from crawld_submit($1::jsonb, $2, $3, $4)");
  connection.prepare(submit_claimed, submit_claimed_sql);
  connection.prepare(claim_job, claim_sql);
  connection.prepare(heartbeat, heartbeat_sql);
  connection.prepare(release_attempt, release_sql);
  connection.prepare(rescue_expired, rescue_sql);
  connection.prepare(cancel_job, "select crawld_cancel($1::uuid, $2)");
  connection.prepare(register_instance,
                     "insert into crawl_instances (id, version, slots) values ($1, $2, $3)"
                     " on conflict (id) do update set version = excluded.version, started_at = now(),"
                     " heartbeat_at = now(), slots = excluded.slots, running = 0, stopping = false");
  connection.prepare(beat_instance,
                     "insert into crawl_instances (id, version, slots, running, stopping) values ($1, $2, $3, $4, $5)"
                     " on conflict (id) do update set heartbeat_at = now(), slots = excluded.slots,"
                     " running = excluded.running, stopping = excluded.stopping");
  connection.prepare(select_instances, "select id, version, " + epoch_ms("started_at") + ", " +
                                           epoch_ms("heartbeat_at") +
                                           ", slots, running, stopping from crawl_instances"
                                           " where heartbeat_at > now() - $1 * interval '1 millisecond' order by id");
  connection.prepare(count_active,
                     "select state, count(*) from crawl_jobs where state in ('queued', 'running') group by state");
}

}  // namespace crawld::store::statements
