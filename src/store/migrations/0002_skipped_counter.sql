-- Pages the crawl did not fetch because robots.txt disallowed them; they are
-- still recorded as page rows, so rows = fetched + failed + skipped.
alter table crawl_jobs add column skipped bigint not null default 0;
