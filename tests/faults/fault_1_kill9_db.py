#!/usr/bin/python3
"""Scenario 1: kill -9 under load.

20 running and 20 queued crawls (deep crawls of the slow demo site), page
rows flowing into PostgreSQL. The page rows are listed just before
`kill -9`; crawld is restarted with the same database.instance_id. Pass:
all 40 jobs end `interrupted` in the database, none is left running or
queued, every page row listed before the kill is still there (and none is
duplicated).
"""
import signal
import time

import faultlib
from faultlib import Crawld, check, figure, note, wait_until
import pg
from sites import DemoSite

RUNNING, QUEUED = 20, 20


def main():
    demo = DemoSite()
    db = pg.create_database()
    config = {
        "crawl": {"allow_private_networks": True, "per_host_concurrency": 1, "per_host_delay_ms": 150,
                  "min_season": 2000, "max_season": 2100,
                  "targets": [{"name": "demo", "seeds": [demo.url("/season/{season}/")], "deep_depth": 3}]},
        "jobs": {"max_running": RUNNING, "max_queued": QUEUED + 10, "on_duplicate": "allow",
                 "hard_kill_grace_ms": 200},
        "database": {"url": db, "instance_id": "faults-kill9", "flush_ms": 100},
        "log": {"access_log": False},
    }
    try:
        crawld = Crawld(config, name="f1-kill9").start()
        wait_until(lambda: faultlib.ready(crawld), 20, what="readyz 200")
        ids = []
        for i in range(RUNNING + QUEUED):
            ids.append(faultlib.post_start(crawld, {"target": "demo", "season": 2020 + i % 6, "deep": True,
                                                    "timeout": 120})["id"])
        wait_until(lambda: pg.query(db, "select count(*) filter (where state='running'), "
                                        "count(*) filter (where state='queued') from crawl_jobs")
                   == [[str(RUNNING), str(QUEUED)]], 20, what="20 running + 20 queued rows in the database")
        # Let the running crawls write pages for a while.
        wait_until(lambda: int(pg.scalar(db, "select count(*) from crawl_pages")) >= 100, 30,
                   interval=0.2, what="100 page rows written")
        before = {r[0] for r in pg.query(db, "select id from crawl_pages")}
        crawld.killed_on_purpose = True
        crawld.proc.send_signal(signal.SIGKILL)
        crawld.proc.wait(timeout=10)
        crawld.stop()
        note("killed with %d page rows in the database" % len(before))
        check(crawld.proc.returncode == -signal.SIGKILL, "exit code %s" % crawld.proc.returncode)

        t0 = time.monotonic()
        with Crawld(config, name="f1-kill9-restart") as again:
            wait_until(lambda: faultlib.ready(again), 20, what="readyz 200 after restart")
            rows = wait_until(lambda: (lambda r: r if all(x[1] == "interrupted" for x in r) else None)(
                pg.query(db, "select id, state from crawl_jobs")), 20, what="all jobs interrupted")
            recovery_s = time.monotonic() - t0
            check(sorted(r[0] for r in rows) == sorted(ids), "job rows differ from the jobs started")
            left = int(pg.scalar(db, "select count(*) from crawl_jobs where state in ('running','queued')"))
            check(left == 0, "%d jobs left running/queued" % left)
            for job_id in ids[:3] + ids[-3:]:
                check(faultlib.job(again, job_id)["state"] == "interrupted", "API state of " + job_id)
            after = {r[0] for r in pg.query(db, "select id from crawl_pages")}
            lost = before - after
            check(not lost, "%d page rows lost" % len(lost))
            dup = int(pg.scalar(db, "select count(*) - count(distinct (job_id, url)) from crawl_pages"))
            check(dup == 0, "%d duplicate page rows" % dup)
        figure(1, jobs=len(ids), running=RUNNING, queued=QUEUED, interrupted=len(rows), left_active=left,
               rows_before_kill=len(before), rows_after=len(after), rows_lost=len(lost), duplicates=dup,
               recovery_s="%.2f" % recovery_s)
    finally:
        demo.stop()


if __name__ == "__main__":
    faultlib.run(main)
