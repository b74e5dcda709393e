-- Lease renewals without index work. Every heartbeat moves lease_until of
-- each job an instance holds; with lease_until indexed, each renewal wrote a
-- new entry into every index of crawl_jobs. Unindexed, and with room left
-- on each page for the new row versions, a renewal is a heap-only update.
-- Rescue finds running jobs through crawl_jobs_state_created_at_idx: there
-- are never more of them than the instances' slots.
drop index crawl_jobs_running_lease_idx;
alter table crawl_jobs set (fillfactor = 80);
