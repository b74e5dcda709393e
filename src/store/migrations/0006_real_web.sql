-- What a crawl of the real web reports: bodies cut at max_body_bytes, hrefs
-- that could not be resolved, and fetches tried again after a transient
-- failure. Counted like the other progress columns, one bigint each.
alter table crawl_jobs
  add column truncated bigint not null default 0,
  add column links_dropped bigint not null default 0,
  add column retries bigint not null default 0;

-- The URL a page names as its own (<link rel="canonical">), resolved.
alter table crawl_pages add column canonical text;

-- A compressed body's size as it came over the network; bytes is the
-- decoded size. NULL in rows written before bodies were asked for
-- compressed: they came as they are (reads take bytes then). Adding a
-- nullable column rewrites nothing, however large the table.
alter table crawl_pages add column wire_bytes bigint;
