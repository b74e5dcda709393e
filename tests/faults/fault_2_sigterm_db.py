#!/usr/bin/python3
"""Scenario 2: SIGTERM under load.

The load of scenario 1 (20 running + 20 queued deep crawls of the slow demo
site), then SIGTERM. Pass: exit code 0 within server.shutdown_grace_s + 2 s;
every job is `interrupted` or finished in the database, none running or
queued; for every job the page rows equal the pages it reported (fetched +
failed, plus the robots-skipped pages it also records).
"""
import signal
import time

import faultlib
from faultlib import Crawld, check, figure, note, wait_until
import pg
from sites import DemoSite

RUNNING, QUEUED = 20, 20
GRACE_S = 3


def main():
    demo = DemoSite()
    db = pg.create_database()
    config = {
        "server": {"shutdown_grace_s": GRACE_S},
        "crawl": {"allow_private_networks": True, "per_host_concurrency": 1, "per_host_delay_ms": 150,
                  "min_season": 2000, "max_season": 2100,
                  "targets": [{"name": "demo", "seeds": [demo.url("/season/{season}/")], "deep_depth": 3}]},
        "jobs": {"max_running": RUNNING, "max_queued": QUEUED + 10, "on_duplicate": "allow",
                 "hard_kill_grace_ms": 200},
        "database": {"url": db, "instance_id": "faults-sigterm", "flush_ms": 100},
        "log": {"access_log": False},
    }
    try:
        crawld = Crawld(config, name="f2-sigterm").start()
        wait_until(lambda: faultlib.ready(crawld), 20, what="readyz 200")
        ids = [faultlib.post_start(crawld, {"target": "demo", "season": 2020 + i % 6, "deep": True,
                                            "timeout": 120})["id"] for i in range(RUNNING + QUEUED)]
        wait_until(lambda: pg.query(db, "select count(*) filter (where state='running'), "
                                        "count(*) filter (where state='queued') from crawl_jobs")
                   == [[str(RUNNING), str(QUEUED)]], 20, what="20 running + 20 queued rows in the database")
        wait_until(lambda: int(pg.scalar(db, "select count(*) from crawl_pages")) >= 100, 30,
                   interval=0.2, what="100 page rows written")
        t0 = time.monotonic()
        crawld.proc.send_signal(signal.SIGTERM)
        try:
            code = crawld.proc.wait(timeout=GRACE_S + 5)
        except Exception:
            code = None
        exit_s = time.monotonic() - t0
        crawld.stop()
        note("exit code %s after %.2fs" % (code, exit_s))
        check(code == 0, "exit code %s" % code)
        check(exit_s <= GRACE_S + 2, "took %.2fs to exit, limit %ss" % (exit_s, GRACE_S + 2))

        rows = pg.query(db, "select j.id, j.state, j.fetched + j.failed, "
                            "  (select count(*) from crawl_pages p where p.job_id = j.id), "
                            "  (select count(*) from crawl_pages p where p.job_id = j.id and p.error like 'robots:%') "
                            "from crawl_jobs j")
        check(sorted(r[0] for r in rows) == sorted(ids), "job rows differ from the jobs started")
        states = {}
        mismatched = []
        total_rows = total_reported = 0
        for job_id, state, reported, n_rows, skipped in rows:
            states[state] = states.get(state, 0) + 1
            total_rows += int(n_rows)
            total_reported += int(reported) + int(skipped)
            if int(n_rows) != int(reported) + int(skipped):
                mismatched.append((job_id, state, reported, n_rows, skipped))
        check(set(states) <= {"interrupted", "succeeded"}, "unexpected states %s" % states)
        check(not mismatched, "page rows differ from reported pages: %s" % mismatched[:5])
        dup = int(pg.scalar(db, "select count(*) - count(distinct (job_id, url)) from crawl_pages"))
        check(dup == 0, "%d duplicate page rows" % dup)
        figure(2, jobs=len(ids), running=RUNNING, queued=QUEUED, exit_code=code, exit_s="%.2f" % exit_s,
               limit_s=GRACE_S + 2, states="+".join("%s:%d" % kv for kv in sorted(states.items())),
               page_rows=total_rows, pages_reported=total_reported, rows_lost=total_reported - total_rows,
               duplicates=dup)
    finally:
        demo.stop()


if __name__ == "__main__":
    faultlib.run(main)
