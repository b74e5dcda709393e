#!/usr/bin/python3
"""Cluster scenario 1: 300 POSTs through a load balancer over 3 instances.

Three crawld instances in cluster mode share one database; Debian's nginx
balances over them. 300 jobs (one season each) are posted through nginx
from 16 client threads. Pass: every job ends succeeded with attempt 1; the
counting site saw each season's seed fetched exactly once (no crawl ran
twice); every instance ran some of them; /status through the balancer lists
the three instances; the instances' claim counters add up to the jobs.
"""
import collections
import threading

import clusterlib
from clusterlib import check, figure, note, TIME_FACTOR
import pg

JOBS, CLIENTS = 300, 16


def main():
    site = clusterlib.CountingSite(pages=2)
    db = pg.create_database()
    nodes = clusterlib.start_instances(db, site, 3, prefix="c1", jobs={"max_running": 8})
    lb = clusterlib.LoadBalancer(nodes)
    try:
        seasons = list(range(2000, 2000 + JOBS))
        answers = {}
        lock = threading.Lock()

        def client(mine):
            for season in mine:
                status, body = clusterlib.post(lb, {"target": "site", "season": season, "timeout": 60})
                with lock:
                    answers[season] = (status, body)

        threads = [threading.Thread(target=client, args=(seasons[i::CLIENTS],)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        statuses = collections.Counter(s for s, _ in answers.values())
        check(statuses == {202: JOBS}, "POST answers: %s" % dict(statuses))
        ids = [body["id"] for _, body in answers.values()]
        rows = clusterlib.wait_all_terminal(db, ids, 120 * TIME_FACTOR)
        states = collections.Counter(rows[i][0] for i in ids)
        check(states == {"succeeded": JOBS}, "end states: %s" % dict(states))
        attempts = collections.Counter(rows[i][2] for i in ids)
        check(attempts == {1: JOBS}, "attempts: %s" % dict(attempts))
        twice = [s for s in seasons if site.seed_fetches(s) != 1]
        check(not twice, "seeds not fetched exactly once: %s" % [(s, site.seed_fetches(s)) for s in twice[:5]])
        by_instance = collections.Counter(rows[i][1] for i in ids)
        check(len(by_instance) == 3 and min(by_instance.values()) > 0, "spread: %s" % dict(by_instance))
        note("jobs per instance: %s" % dict(by_instance))
        # Any instance's /status lists the live instances and the cluster's queue.
        status = clusterlib.faultlib.body(lb.request("GET", "/status")[2])["cluster"]
        check(sorted(i["id"] for i in status["instances"]) == ["c1-1", "c1-2", "c1-3"],
              "/status instances: %s" % status)
        check(status["jobs"] == {"queued": 0, "running": 0}, "/status cluster jobs: %s" % status["jobs"])
        # Each instance counted its own claims; together, every job once.
        claims = 0
        for node in nodes:
            metrics = node.request("GET", "/metrics")[2].decode()
            line = [l for l in metrics.splitlines() if l.startswith("crawld_cluster_claims_total")]
            check(line, "no crawld_cluster_claims_total on %s" % node.name)
            claims += float(line[0].split()[-1])
        check(claims == JOBS, "claims counted: %s" % claims)
        figure(1, jobs=JOBS, succeeded=states["succeeded"], ran_twice=len(twice),
               spread="/".join(str(by_instance[n]) for n in sorted(by_instance)))
    finally:
        lb.stop()
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
