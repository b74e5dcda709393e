#!/usr/bin/python3
"""Scenario 3: PostgreSQL restarted twice under 4 deep crawls.

A dedicated cluster; 4 deep crawls of the slow demo site (per_host_delay_ms);
the cluster is stopped ('fast', then 'immediate') and started again twice
while they run. A background thread polls /healthz the whole time. Pass:
crawld never exits; /readyz goes 503 during each outage and back to 200;
/healthz is 200 on every poll; every crawl succeeds and its page rows equal
the pages it reported, with no duplicates.
"""
import threading
import time

import faultlib
from faultlib import Crawld, check, figure, note, wait_until
import pg
from sites import DemoSite

CRAWLS = 4


class HealthPoller(threading.Thread):
    def __init__(self, crawld):
        super().__init__(daemon=True)
        self.crawld = crawld
        self.stop = False
        self.polls = 0
        self.bad = []
        self.max_ms = 0.0

    def run(self):
        conn = self.crawld.connection(timeout=5)
        while not self.stop:
            t0 = time.monotonic()
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    self.bad.append(resp.status)
            except OSError as e:
                self.bad.append(repr(e))
                conn.close()
                conn = self.crawld.connection(timeout=5)
            self.max_ms = max(self.max_ms, (time.monotonic() - t0) * 1000)
            self.polls += 1
            time.sleep(0.05)
        conn.close()


def main():
    demo = DemoSite()
    cluster = pg.DedicatedCluster()
    poller = None
    try:
        db = pg.create_database(cluster.url)
        config = {
            "crawl": {"allow_private_networks": True, "per_host_concurrency": 1, "per_host_delay_ms": 250,
                      "min_season": 2000, "max_season": 2100,
                      "targets": [{"name": "demo", "seeds": [demo.url("/season/{season}/")], "deep_depth": 3}]},
            "jobs": {"max_running": CRAWLS, "hard_kill_grace_ms": 200},
            "database": {"url": db, "instance_id": "faults-pg-restart", "flush_ms": 100},
            "log": {"access_log": False},
        }
        with Crawld(config, name="f3-pg-restart") as crawld:
            wait_until(lambda: faultlib.ready(crawld), 20, what="readyz 200")
            ids = [faultlib.post_start(crawld, {"target": "demo", "season": 2020 + i, "deep": True,
                                                "timeout": 120})["id"] for i in range(CRAWLS)]
            poller = HealthPoller(crawld)
            poller.start()
            wait_until(lambda: all(faultlib.job(crawld, j)["progress"]["fetched"] >= 3 for j in ids), 20,
                       what="crawls under way")
            outages = []
            for mode in ("fast", "immediate"):
                t0 = time.monotonic()
                cluster.stop(mode)
                wait_until(lambda: crawld.request("GET", "/readyz")[0] == 503, 15, what="readyz 503")
                t503 = time.monotonic() - t0
                time.sleep(1.0)  # the outage lasts a while: writes must wait and retry
                check(crawld.alive(), "crawld exited during the outage")
                cluster.start()
                wait_until(lambda: faultlib.ready(crawld), 30, what="readyz 200 again")
                outages.append((t503, time.monotonic() - t0))
                note("restart (%s): readyz 503 after %.2fs, 200 again after %.2fs" % (mode, *outages[-1]))
            check(any(faultlib.job(crawld, j)["state"] == "running" for j in ids),
                  "the crawls ended before the second restart; the scenario did not test anything")
            jobs = [wait_until(lambda j=j: (lambda x: x if x["state"] in faultlib.TERMINAL else None)(
                faultlib.job(crawld, j)), 90, interval=0.2, what="crawl end") for j in ids]
            poller.stop = True
            poller.join(5)
            check(crawld.alive(), "crawld exited")
            for j in jobs:
                check(j["state"] == "succeeded", "job %s ended %s (%s)" % (j["id"], j["state"], j["error"]))
            reported = {j["id"]: j["progress"]["fetched"] + j["progress"]["failed"] for j in jobs}

            def rows_match():
                rows = pg.query(db, "select job_id, count(*) filter (where error is null or error not like "
                                    "'robots:%'), count(*) from crawl_pages group by job_id")
                got = {r[0]: int(r[1]) for r in rows}
                return rows if got == reported else None
            rows = wait_until(rows_match, 30, interval=0.2, what="page rows equal to reported pages")
            total_rows = sum(int(r[2]) for r in rows)
            dup = int(pg.scalar(db, "select count(*) - count(distinct (job_id, url)) from crawl_pages"))
            check(dup == 0, "%d duplicate page rows" % dup)
            check(not poller.bad, "/healthz failures: %s" % poller.bad[:5])
            check(crawld.alive(), "crawld exited")
        figure(3, crawls=CRAWLS, restarts=len(outages), healthz_polls=poller.polls, healthz_non200=len(poller.bad),
               healthz_max_ms="%.1f" % poller.max_ms,
               readyz_503_after_s="/".join("%.2f" % o[0] for o in outages),
               readyz_200_after_s="/".join("%.2f" % o[1] for o in outages),
               pages_reported=sum(reported.values()), page_rows=total_rows, rows_lost=0, duplicates=dup, crashes=0)
    finally:
        if poller:
            poller.stop = True
        demo.stop()
        cluster.destroy()


if __name__ == "__main__":
    faultlib.run(main)
