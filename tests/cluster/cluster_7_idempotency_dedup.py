#!/usr/bin/python3
"""Cluster scenario 7: idempotency and duplicates across instances.

Round 1, 50 times: the same Idempotency-Key sent to 3 instances at once.
Pass: one job each time; every answer is 202 (created) or 200 (replayed)
naming it. The key with other parameters is refused (422).
Round 2 (jobs.on_duplicate "reject"): 100 identical POSTs spread over the
instances at once. Pass: exactly one 202; 99 × 409 naming that job.
"""
import collections
import threading
import uuid

import clusterlib
from clusterlib import check, figure
import pg


def race(calls):
    """Runs the calls at the same moment; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def go(i):
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def main():
    site = clusterlib.CountingSite(pages=1, delay=3)
    db = pg.create_database()
    nodes = clusterlib.start_instances(db, site, 3, prefix="c7", jobs={"on_duplicate": "reject", "max_running": 4})
    try:
        # Round 1: one key, three instances, fifty times.
        for round_ in range(50):
            key = str(uuid.uuid4())
            params = {"target": "site", "season": 3000 + round_, "timeout": 60}
            answers = race([lambda n=n: clusterlib.post(n, params, {"Idempotency-Key": key}) for n in nodes])
            statuses = sorted(s for s, _ in answers)
            check(all(s in (200, 202) for s in statuses) and statuses.count(202) == 1,
                  "round %d: answers %s %s" % (round_, statuses, [b for _, b in answers]))
            check(len({b["id"] for _, b in answers}) == 1, "round %d: several jobs %s" % (round_, answers))
            jobs = int(pg.scalar(db, "select count(*) from crawl_jobs where season = %d" % (3000 + round_)))
            check(jobs == 1, "round %d: %d jobs in the database" % (round_, jobs))
        mismatch, body = clusterlib.post(nodes[1], {"target": "site", "season": 2999, "timeout": 60},
                                         {"Idempotency-Key": key})
        check(mismatch == 422, "key with other parameters: %s %s" % (mismatch, body))

        # Round 2: 100 identical POSTs, on_duplicate reject.
        params = {"target": "site", "season": 4000, "timeout": 60}
        answers = race([lambda i=i: clusterlib.post(nodes[i % 3], params) for i in range(100)])
        statuses = collections.Counter(s for s, _ in answers)
        check(statuses == {202: 1, 409: 99}, "identical POSTs: %s" % dict(statuses))
        created = [b["id"] for s, b in answers if s == 202][0]
        named = collections.Counter(b.get("job_id") for s, b in answers if s == 409)
        check(named == {created: 99}, "409s name %s, not %s" % (dict(named), created))
        figure(7, key_rounds=50, jobs_per_key=1, identical=100, accepted=statuses[202], refused=statuses[409])
    finally:
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
