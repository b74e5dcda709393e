-- The webhook outbox: one row per delivery of a job's state change to one
-- webhook, inserted in the transaction that records the change, sent from
-- here by whichever instance claims it (lease_until), and kept with its
-- attempts for GET /webhooks/deliveries.
create table webhook_deliveries (
    id              uuid primary key,
    job_id          uuid not null references crawl_jobs (id) on delete cascade,
    event           text not null,
    url             text not null,
    payload         text not null,
    state           text not null default 'pending' check (state in ('pending', 'delivered', 'failed')),
    attempts        integer not null default 0,
    created_at      timestamptz not null,
    next_attempt_at timestamptz not null,
    lease_until     timestamptz,
    delivered_at    timestamptz,
    last_status     integer,
    last_error      text
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_job_idx on webhook_deliveries (job_id, created_at);
create index webhook_deliveries_created_idx on webhook_deliveries (created_at);

create table webhook_attempts (
    delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
    n           integer not null,
    at          timestamptz not null,
    status      integer,
    error       text,
    elapsed_ms  integer not null,
    primary key (delivery_id, n)
);
