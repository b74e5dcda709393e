#!/usr/bin/python3
"""Cluster scenario 3: an owner paused past its lease is fenced.

Instance A runs a deep crawl; B is idle. A is stopped with SIGSTOP for
longer than its lease; B rescues the job (attempt 2) and runs it. Then A
gets SIGCONT. Pass: no page row of attempt 1 lands after the rescue; the
job ends succeeded, owned by B, attempt 2; A logs that it lost the lease
and stops its crawl within one heartbeat of resuming (plus slack).
"""
import datetime
import re
import signal
import time

import clusterlib
from clusterlib import check, figure, note, wait_until, TIME_FACTOR
import pg

LEASE_MS, HEARTBEAT_MS, POLL_MS = 1500, 300, 300


def log_time(line):
    stamp = line.split(" ", 1)[0].rstrip("Z")
    return datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp()


def main():
    site = clusterlib.CountingSite(pages=40, delay=0.2)
    db = pg.create_database()
    common = dict(crawl={"per_host_concurrency": 1},
                  cluster={"lease_ms": LEASE_MS, "heartbeat_ms": HEARTBEAT_MS, "poll_ms": POLL_MS})
    a = clusterlib.start_instances(db, site, 1, prefix="c3a", **common)[0]
    try:
        job = clusterlib.post(a, {"target": "site", "season": 2500, "deep": True, "timeout": 120})[1]["id"]
        wait_until(lambda: int(pg.scalar(db, "select count(*) from crawl_pages where job_id = '%s'" % job)) >= 3,
                   20 * TIME_FACTOR, what="A writing pages")
        b = clusterlib.start_instances(db, site, 1, prefix="c3b", **common)[0]
        a.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        clusterlib.wait_rows(db, lambda rows: rows[job][1:3] == ("c3b-1", 2), (LEASE_MS / 1000 + 5) * TIME_FACTOR,
                             what="B rescued the job")
        time.sleep(1.0)  # A's writes queued before the pause stay queued, B writes attempt 2
        before = int(pg.scalar(db, "select count(*) from crawl_pages where job_id = '%s' and attempt = 1" % job))
        paused = time.monotonic() - stopped_at
        resumed = time.time()
        a.proc.send_signal(signal.SIGCONT)
        lost = wait_until(lambda: [l for l in list(a.log_lines) if "lease lost" in l and job in l],
                          10 * TIME_FACTOR, what="A noticing the lost lease")
        lost_after = log_time(lost[0]) - resumed
        time.sleep(2.0)  # whatever A still had queued has had its chance to land
        after = int(pg.scalar(db, "select count(*) from crawl_pages where job_id = '%s' and attempt = 1" % job))
        check(after == before, "attempt 1 wrote %d page rows after it was fenced" % (after - before))
        rows = clusterlib.wait_all_terminal(db, [job], 60 * TIME_FACTOR)
        check(rows[job][:3] == ("succeeded", "c3b-1", 2), "the job ended as %s" % (rows[job],))
        bound = (HEARTBEAT_MS / 1000.0 + 0.5) * TIME_FACTOR
        check(lost_after <= bound, "A noticed the lost lease %.2fs after resuming (bound %.2fs)" % (lost_after, bound))
        fenced = re.findall(r"(\d+) rows of job attempts this instance no longer owns", a.log_text())
        note("paused %.1fs; A stopped its crawl %.3fs after SIGCONT; %s rows fenced" % (paused, lost_after, fenced))
        figure(3, paused_s="%.1f" % paused, stale_rows_landed=after - before, noticed_after_s="%.3f" % lost_after,
               fenced_rows=sum(int(x) for x in fenced), final_owner=rows[job][1], final_attempt=rows[job][2])
        b.stop()
    finally:
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
