-- Cluster mode: several instances share the jobs through this database.
-- A job's current attempt is owned by one instance (instance_id, attempt)
-- while its lease lasts; every write the owner makes is fenced by that pair.
-- Standalone instances leave these columns at their defaults.

alter table crawl_jobs add column attempt integer not null default 0;
alter table crawl_jobs add column lease_until timestamptz;
-- Set on the first claim: a rescued attempt gets only the time left.
alter table crawl_jobs add column deadline_at timestamptz;
alter table crawl_jobs add column cancel_requested boolean not null default false;
-- With jobs.on_duplicate "reject": target, season and deep of an active job;
-- at most one active job per key, whichever instance accepted it.
alter table crawl_jobs add column dedup_key text;
create unique index crawl_jobs_active_dedup_idx on crawl_jobs (dedup_key)
    where dedup_key is not null and state in ('queued', 'running');
-- Claims take the oldest queued job first; rescue looks at running leases.
create index crawl_jobs_queued_idx on crawl_jobs (created_at, id) where state = 'queued';
create index crawl_jobs_running_lease_idx on crawl_jobs (lease_until) where state = 'running';

-- The attempt that wrote the page: a rescued attempt skips pages already there.
alter table crawl_pages add column attempt integer not null default 1;

-- Idempotency-Key replays across instances (standalone keeps them in memory).
create table crawl_idempotency_keys (
    key        text primary key,
    job_id     uuid not null references crawl_jobs (id) on delete cascade,
    params     jsonb not null,
    created_at timestamptz not null default now()
);
create index crawl_idempotency_keys_created_at_idx on crawl_idempotency_keys (created_at);

-- The live instances, for GET /status; each one renews its row with its leases.
create table crawl_instances (
    id           text primary key,
    version      text not null,
    started_at   timestamptz not null default now(),
    heartbeat_at timestamptz not null default now(),
    slots        integer not null,
    running      integer not null default 0,
    stopping     boolean not null default false
);

-- Durable accept for a group of POST /start requests, in one transaction:
-- each row is replayed (its Idempotency-Key is known), refused (the queue
-- is full, or an active job has its dedup key), queued, or, when the
-- accepting instance has a free slot for it (`claim`), claimed by that
-- instance at once: attempt 1, its lease and its deadline start now.
-- Answers carry the row's position (o_n, from 1). Rows with neither key nor
-- dedup key, the common case, go in with one statement. One NOTIFY, when
-- something was queued, wakes the instances' claim loops.
create function crawld_submit(batch jsonb, max_queued bigint, accepted_by text, lease_ms bigint)
returns table (o_n bigint, o_outcome text, o_job uuid)
language plpgsql as $$
declare
    r record;
    known record;
    room bigint;
    plain bigint[] := '{}';
    queued integer := 0;
begin
    -- Room left in the queue, counted no further than the bound.
    select max_queued - count(*) into room
        from (select 1 from crawl_jobs where state = 'queued' limit max_queued) q;
    for r in
        select * from rows from (jsonb_to_recordset(batch)
            as (id uuid, target text, season bigint, deep boolean, params jsonb, created_at timestamptz,
                idempotency_key text, dedup_key text, claim boolean)) with ordinality
            as j(id, target, season, deep, params, created_at, idempotency_key, dedup_key, claim, n)
        order by n
    loop
        o_n := r.n;
        if r.idempotency_key is not null then
            select k.job_id, k.params into known from crawl_idempotency_keys k where k.key = r.idempotency_key;
            if found then
                o_job := known.job_id;
                o_outcome := case when known.params = r.params then 'replayed' else 'mismatch' end;
                return next;
                continue;
            end if;
        end if;
        if not r.claim and room <= 0 then
            o_job := null;
            o_outcome := 'queue_full';
            return next;
            continue;
        end if;
        if r.idempotency_key is null and r.dedup_key is null then
            -- Inserted together below.
            plain := plain || r.n;
            room := room - case when r.claim then 0 else 1 end;
            continue;
        end if;
        insert into crawl_jobs (id, target, season, deep, params, created_at, state, instance_id, attempt,
                                lease_until, started_at, deadline_at, idempotency_key, dedup_key)
        select r.id, r.target, r.season, r.deep, r.params, r.created_at, s.*, r.idempotency_key, r.dedup_key
            from crawld_start_columns(r.claim, accepted_by, lease_ms, r.params) s
        on conflict (dedup_key) where dedup_key is not null and state in ('queued', 'running') do nothing;
        if not found then
            -- The active job may be this key's own, committed meanwhile by
            -- another instance: then this is a replay.
            if r.idempotency_key is not null then
                select k.job_id, k.params into known from crawl_idempotency_keys k where k.key = r.idempotency_key;
                if found then
                    o_job := known.job_id;
                    o_outcome := case when known.params = r.params then 'replayed' else 'mismatch' end;
                    return next;
                    continue;
                end if;
            end if;
            select c.id into o_job from crawl_jobs c
                where c.dedup_key = r.dedup_key and c.state in ('queued', 'running') limit 1;
            o_outcome := 'duplicate';
            return next;
            continue;
        end if;
        if r.idempotency_key is not null then
            insert into crawl_idempotency_keys (key, job_id, params) values (r.idempotency_key, r.id, r.params)
                on conflict (key) do nothing;
            if not found then
                -- Another instance took the key first (its commit was waited for).
                delete from crawl_jobs where id = r.id;
                select k.job_id, k.params into known from crawl_idempotency_keys k where k.key = r.idempotency_key;
                o_job := known.job_id;
                o_outcome := case when known.params = r.params then 'replayed' else 'mismatch' end;
                return next;
                continue;
            end if;
        end if;
        insert into crawl_job_events (job_id, level, message)
            values (r.id, 'info', 'job accepted by ' || accepted_by);
        room := room - case when r.claim then 0 else 1 end;
        queued := queued + case when r.claim then 0 else 1 end;
        o_job := r.id;
        o_outcome := case when r.claim then 'claimed' else 'created' end;
        return next;
    end loop;
    if cardinality(plain) > 0 then
        return query
            with fresh as (
                select * from rows from (jsonb_to_recordset(batch)
                    as (id uuid, target text, season bigint, deep boolean, params jsonb, created_at timestamptz,
                        claim boolean))
                    with ordinality as j(id, target, season, deep, params, created_at, claim, n)
                where j.n = any(plain)),
            jobs as (
                insert into crawl_jobs (id, target, season, deep, params, created_at, state, instance_id, attempt,
                                        lease_until, started_at, deadline_at)
                select f.id, f.target, f.season, f.deep, f.params, f.created_at, s.*
                    from fresh f, crawld_start_columns(f.claim, accepted_by, lease_ms, f.params) s
                returning id),
            events as (
                insert into crawl_job_events (job_id, level, message)
                select id, 'info', 'job accepted by ' || accepted_by from fresh order by n)
            select fresh.n, case when fresh.claim then 'claimed' else 'created' end, fresh.id from fresh;
        select queued + count(*) into queued from rows from (jsonb_to_recordset(batch) as (claim boolean))
            with ordinality as j(claim, n) where j.n = any(plain) and not j.claim;
    end if;
    if queued > 0 then
        perform pg_notify('crawld_jobs', '');
    end if;
end
$$;

-- The columns a new job starts with: queued, or claimed by its accepting
-- instance (state, instance_id, attempt, lease_until, started_at,
-- deadline_at).
create function crawld_start_columns(claim boolean, instance text, lease_ms bigint, params jsonb)
returns table (state text, instance_id text, attempt integer, lease_until timestamptz,
               started_at timestamptz, deadline_at timestamptz)
language sql stable as $$
    select case when claim then 'running' else 'queued' end,
           case when claim then instance else '' end, case when claim then 1 else 0 end,
           case when claim then now() + lease_ms * interval '1 millisecond' end,
           case when claim then now() end,
           case when claim then now() + (params->>'timeout')::bigint * interval '1 second' end
$$;

-- Cancel from any instance: a queued job is cancelled at once; a running one
-- gets its request recorded and its owner told by NOTIFY (the owner's
-- heartbeat also finds the flag, should the NOTIFY be missed).
create function crawld_cancel(job uuid, requested_by text)
returns text
language plpgsql as $$
declare
    current text;
    owner text;
begin
    select state, instance_id into current, owner from crawl_jobs where id = job for update;
    if not found then
        return 'not_found';
    end if;
    if current = 'queued' then
        update crawl_jobs set state = 'cancelled', stop_reason = 'user_request', error = 'cancelled by operator',
                              finished_at = now(), dedup_key = null, updated_at = now()
            where id = job;
        insert into crawl_job_events (job_id, level, message)
            values (job, 'info', 'cancelled by operator (through ' || requested_by || ') before it started');
        perform pg_notify('crawld_jobs', '');
        return 'cancelled';
    end if;
    if current = 'running' then
        update crawl_jobs set cancel_requested = true, updated_at = now() where id = job;
        insert into crawl_job_events (job_id, level, message)
            values (job, 'info', 'cancellation requested by operator (through ' || requested_by || ')');
        perform pg_notify('crawld_cancel', job::text);
        return 'requested';
    end if;
    return 'ended';
end
$$;
