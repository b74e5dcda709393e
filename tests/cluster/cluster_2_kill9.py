#!/usr/bin/python3
"""Cluster scenario 2: kill -9 an instance holding 8 running jobs, 8 more queued.

Instance A (8 slots) accepts 16 deep crawls: it runs 8, 8 wait in the
queue. B and C start and take the queued 8. A is killed with SIGKILL while
its 8 still run. Pass: all 16 end succeeded, the 8 of A on B or C as
attempt 2, within lease + poll + the crawl's own time; each job's page rows
equal the pages its last attempt reported, with no duplicates.
"""
import collections
import signal
import time

import clusterlib
from clusterlib import check, figure, note, TIME_FACTOR
import pg

PAGES, DELAY = 6, 0.25
LEASE_MS, POLL_MS = 1500, 300


def main():
    site = clusterlib.CountingSite(pages=PAGES, delay=DELAY)
    db = pg.create_database()
    common = dict(jobs={"max_running": 8}, crawl={"per_host_concurrency": 1},
                  cluster={"lease_ms": LEASE_MS, "poll_ms": POLL_MS})
    a = clusterlib.start_instances(db, site, 1, prefix="c2a", **common)[0]
    try:
        ids = [clusterlib.post(a, {"target": "site", "season": 2000 + i, "deep": True, "timeout": 120})[1]["id"]
               for i in range(16)]
        clusterlib.wait_rows(db, lambda rows: sum(1 for r in rows.values() if r[0] == "running" and r[1] == "c2a-1")
                             == 8, 10 * TIME_FACTOR, what="8 running on A")
        others = clusterlib.start_instances(db, site, 2, prefix="c2b", **common)
        clusterlib.wait_rows(db, lambda rows: sum(1 for r in rows.values() if r[0] == "running") == 16,
                             10 * TIME_FACTOR, what="16 running")
        on_a = [i for i, r in clusterlib.job_rows(db).items() if r[1] == "c2a-1" and r[0] == "running"]
        check(len(on_a) == 8, "A holds %d running jobs" % len(on_a))
        a.proc.send_signal(signal.SIGKILL)
        a.killed_on_purpose = True
        killed_at = time.monotonic()
        a.proc.wait(10)
        crawl_s = (PAGES + 1) * DELAY
        bound = (LEASE_MS + POLL_MS) / 1000.0 + crawl_s + 3
        rows = clusterlib.wait_all_terminal(db, ids, bound * TIME_FACTOR + 10)
        took = time.monotonic() - killed_at
        states = collections.Counter(rows[i][0] for i in ids)
        check(states == {"succeeded": 16}, "end states: %s" % dict(states))
        check(all(rows[i][2] == 2 and rows[i][1] != "c2a-1" for i in on_a),
              "A's jobs: %s" % [rows[i] for i in on_a])
        check(took <= bound * TIME_FACTOR, "all ended %.1fs after the kill, bound %.1fs" % (took, bound))
        dupes = clusterlib.duplicate_pages(db)
        check(dupes == 0, "%d duplicated page rows" % dupes)
        mismatched = pg.query(db, "select j.id, j.fetched + j.failed + j.skipped, count(p.id) from crawl_jobs j"
                                  " left join crawl_pages p on p.job_id = j.id group by j.id"
                                  " having j.fetched + j.failed + j.skipped <> count(p.id)")
        check(not mismatched, "page rows differ from the pages reported: %s" % mismatched[:3])
        rescued = int(pg.scalar(db, "select count(*) from crawl_job_events where message like '%ran out; queued again%'"))
        check(rescued == 8, "%d rescue events" % rescued)
        note("all 16 ended %.2fs after the kill" % took)
        figure(2, jobs=16, rescued=rescued, succeeded=states["succeeded"], end_after_kill_s="%.2f" % took,
               bound_s="%.1f" % bound, duplicate_rows=dupes)
        for node in others:
            node.stop()
    finally:
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
