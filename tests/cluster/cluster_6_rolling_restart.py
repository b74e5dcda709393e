#!/usr/bin/python3
"""Cluster scenario 6: a rolling restart under 20 running deep crawls.

Three instances run 20 deep crawls that take far longer than the planned
stop's grace (server.shutdown_grace_s 1). Each instance in turn gets
SIGTERM, exits, and starts again with the same instance_id. Pass: every
instance exits 0; every job ends succeeded, none interrupted; no attempt is
counted for a hand-back (attempt stays 1 for every job).
"""
import collections
import time

import clusterlib
from clusterlib import Crawld, check, figure, note, wait_until, TIME_FACTOR
import pg

JOBS = 20


def main():
    site = clusterlib.CountingSite(pages=12, delay=0.5)
    db = pg.create_database()
    common = dict(jobs={"max_running": 8}, crawl={"per_host_concurrency": 1},
                  server={"shutdown_grace_s": 1})
    nodes = clusterlib.start_instances(db, site, 3, prefix="c6", **common)
    try:
        ids = [clusterlib.post(nodes[i % 3], {"target": "site", "season": 2000 + i, "deep": True,
                                              "timeout": 300})[1]["id"] for i in range(JOBS)]
        wait_until(lambda: sum(1 for r in clusterlib.job_rows(db).values() if r[0] == "running") == JOBS,
                   20 * TIME_FACTOR, what="%d running" % JOBS)
        handed = 0
        for i, node in enumerate(list(nodes)):
            held = sum(1 for r in clusterlib.job_rows(db).values() if r[0] == "running" and r[1] == "c6-%d" % (i + 1))
            code = node.stop()
            check(code == 0, "c6-%d exited with %s" % (i + 1, code))
            handed += held
            clusterlib.forget(node)
            again = Crawld(clusterlib.config(db, site, "c6-%d" % (i + 1), **common), name="c6-%d" % (i + 1)).start()
            wait_until(lambda: clusterlib.registered(again), 30 * TIME_FACTOR, what="c6-%d back" % (i + 1))
            nodes[i] = again
            note("c6-%d restarted (it held %d running jobs)" % (i + 1, held))
        rows = clusterlib.wait_all_terminal(db, ids, 120 * TIME_FACTOR)
        states = collections.Counter(rows[i][0] for i in ids)
        check(states == {"succeeded": JOBS}, "end states: %s" % dict(states))
        attempts = collections.Counter(rows[i][2] for i in ids)
        check(attempts == {1: JOBS}, "attempts: %s" % dict(attempts))
        back = int(pg.scalar(db, "select count(*) from crawl_job_events where message like 'handed back%'"))
        check(back >= 1, "no job was handed back: the restarts did not test anything")
        figure(6, jobs=JOBS, succeeded=states["succeeded"], interrupted=states["interrupted"], handed_back=back)
        for node in nodes:
            check(node.stop() == 0, "an instance did not stop cleanly")
    finally:
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
