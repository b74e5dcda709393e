-- Pages that were fetched but answered with an HTTP error status (4xx, 5xx):
-- broken links show in the job, not only in its page rows.
alter table crawl_jobs add column http_errors bigint not null default 0;
