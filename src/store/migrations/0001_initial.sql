-- crawld's first schema: jobs, the pages each job fetched, and the job's own log.

create table crawl_jobs (
    id              uuid primary key,
    target          text not null,
    season          bigint not null,
    deep            boolean not null,
    params          jsonb not null default '{}'::jsonb,
    state           text not null
                    check (state in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted')),
    stop_reason     text,
    error           text,
    created_at      timestamptz not null,
    started_at      timestamptz,
    finished_at     timestamptz,
    queued          bigint not null default 0,
    fetched         bigint not null default 0,
    failed          bigint not null default 0,
    bytes           bigint not null default 0,
    instance_id     text not null default '',
    idempotency_key text,
    updated_at      timestamptz not null default now()
);

-- GET /jobs (newest first, optionally by state) and restart recovery.
create index crawl_jobs_created_at_idx on crawl_jobs (created_at desc);
create index crawl_jobs_state_created_at_idx on crawl_jobs (state, created_at desc);
create index crawl_jobs_active_instance_idx on crawl_jobs (instance_id)
    where state in ('queued', 'running');

create table crawl_pages (
    id           bigserial primary key,
    job_id       uuid not null references crawl_jobs (id) on delete cascade,
    -- Bounded so that the unique index below can always hold the key.
    url          text not null check (octet_length(url) <= 2048),
    final_url    text,
    depth        integer not null check (depth >= 0),
    status       integer not null check (status between 0 and 999),
    content_type text,
    bytes        bigint not null default 0 check (bytes >= 0),
    truncated    boolean not null default false,
    title        text,
    sha256       text check (sha256 is null or sha256 ~ '^[0-9a-f]{64}$'),
    elapsed_ms   integer not null default 0,
    error        text,
    fetched_at   timestamptz not null default now(),
    -- A retried batch must never duplicate rows.
    unique (job_id, url)
);

-- GET /jobs/{id}/pages: keyset pagination by id within a job.
create index crawl_pages_job_id_id_idx on crawl_pages (job_id, id);

create table crawl_job_events (
    id      bigserial primary key,
    job_id  uuid not null references crawl_jobs (id) on delete cascade,
    at      timestamptz not null default now(),
    level   text not null,
    message text not null
);

-- GET /jobs/{id}/events.
create index crawl_job_events_job_id_id_idx on crawl_job_events (job_id, id);
