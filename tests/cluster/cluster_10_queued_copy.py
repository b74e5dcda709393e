#!/usr/bin/python3
"""Cluster scenario 10: with jobs.on_duplicate "queue", a queued copy of a
crawl starts as soon as the crawl ends, wherever it ran.

X runs on one instance (A); the other (B) queues a second POST of the same
crawl (Q). Both instances have free slots, and both looked for a claim
when Q was queued and had to skip it (its crawl runs on A), so neither
thinks anything is left to claim. The NOTIFY that X's end row sends is what tells them
otherwise: cluster.poll_ms is 60 s, so the poll cannot be what starts Q.
Pass: X is cancelled through B; Q is running (attempt 1) within 3 s of X's
end (scaled for sanitizer builds), and ends cancelled when asked.
"""
import time

import clusterlib
from clusterlib import check, figure, wait_until, TIME_FACTOR
import pg

SEASON = 2001


def main():
    site = clusterlib.CountingSite(pages=40, delay=0.5)  # a deep crawl of minutes
    db = pg.create_database()
    try:
        nodes = clusterlib.start_instances(db, site, 2, prefix="c10", jobs={"on_duplicate": "queue"},
                                           crawl={"per_host_concurrency": 1}, cluster={"poll_ms": 60000})
        params = {"target": "site", "season": SEASON, "deep": True, "timeout": 600}
        status, x = clusterlib.post(nodes[0], params)
        check(status == 202, "POST X answered %s: %s" % (status, x))
        wait_until(lambda: clusterlib.job_rows(db)[x["id"]][0] == "running", 20 * TIME_FACTOR, what="X running")
        a_id = clusterlib.job_rows(db)[x["id"]][1]
        b = next(n for n in nodes if n.config["database"]["instance_id"] != a_id)
        status, q = clusterlib.post(b, params)
        check(status == 202 and q["state"] == "queued", "POST Q (a copy of X) to B answered %s: %s" % (status, q))
        time.sleep(1.0 * TIME_FACTOR)
        check(clusterlib.job_rows(db)[q["id"]][0] == "queued", "Q started while X was still running")

        status, _, _ = b.request("POST", "/jobs/%s/cancel" % x["id"])
        check(status == 202, "cancel of X answered %s" % status)
        wait_until(lambda: clusterlib.job_rows(db)[x["id"]][0] == "cancelled", 10 * TIME_FACTOR, interval=0.02,
                   what="X cancelled")
        ended = time.monotonic()
        wait_until(lambda: clusterlib.job_rows(db)[q["id"]][0] != "queued", 3 * TIME_FACTOR, interval=0.02,
                   what="Q claimed after X ended (the poll is 60 s away)")
        waited_ms = (time.monotonic() - ended) * 1000
        state, owner, attempt, _ = clusterlib.job_rows(db)[q["id"]]
        check((state, attempt) == ("running", 1), "Q is %s on %s, attempt %s" % (state, owner, attempt))

        status, _, _ = b.request("POST", "/jobs/%s/cancel" % q["id"])
        check(status == 202, "cancel of Q answered %s" % status)
        clusterlib.wait_all_terminal(db, [q["id"]], 10 * TIME_FACTOR)
        check(clusterlib.job_rows(db)[q["id"]][0] == "cancelled", "Q ended %s" % clusterlib.job_rows(db)[q["id"]][0])
        figure(10, queued_copy_started_ms="%.0f" % waited_ms, owner=owner, poll_ms=60000)
    finally:
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
