#!/usr/bin/python3
"""Cluster scenario 5: PostgreSQL restarted twice under load.

Three instances on a PostgreSQL cluster of the test's own. A client posts
a new job every 20 ms, round robin over the instances, and a reader reads
jobs and /status from them the whole time. PostgreSQL is stopped ('fast',
then 'immediate') and started again, twice, for about 2 s each time
(shorter than the lease). Pass: every read answers 200, or 503 within
read_timeout_ms (plus slack); POSTs get 503 (with Retry-After) only around
the outages, and 202 again within 10 s of each; every job that got a 202 is in the
database and ends succeeded; each one's crawl ran exactly once (the
counting site saw its seed once); no instance exits.
"""
import collections
import threading
import time

import clusterlib
from clusterlib import check, figure, note, wait_until, TIME_FACTOR
import pg

READ_TIMEOUT_MS = 1000
RECOVERY_S = 10  # from PostgreSQL back to the first 202


class Load(threading.Thread):
    def __init__(self, nodes, kind):
        super().__init__(daemon=True)
        self.nodes, self.kind = nodes, kind
        self.stop = False
        self.posts = []   # (time, status, id or None, retry_after)
        self.reads = []   # (status, ms)
        self.season = 2000

    def run(self):
        i = 0
        while not self.stop:
            node = self.nodes[i % len(self.nodes)]
            i += 1
            try:
                if self.kind == "post":
                    self.season += 1
                    status, hdrs, data = node.request("POST", "/start", '{"target":"site","season":%d,"timeout":60}'
                                                      % self.season, {"Content-Type": "application/json"}, timeout=30)
                    job = clusterlib.faultlib.body(data).get("id") if status == 202 else None
                    self.posts.append((time.monotonic(), status, job, hdrs.get("retry-after")))
                    time.sleep(0.02)
                else:
                    accepted = [p[2] for p in self.posts if p[2]]
                    path = "/jobs/" + accepted[len(accepted) // 2] if accepted and i % 2 else "/status"
                    t0 = time.monotonic()
                    status = node.request("GET", path, timeout=30)[0]
                    self.reads.append((status, (time.monotonic() - t0) * 1000))
                    time.sleep(0.01)
            except OSError as e:
                (self.posts if self.kind == "post" else self.reads).append((time.monotonic(), repr(e), None, None)
                                                                          if self.kind == "post" else (repr(e), 0))


def main():
    site = clusterlib.CountingSite(pages=1)
    server = pg.DedicatedCluster()
    try:
        db = pg.create_database(server.url)
        nodes = clusterlib.start_instances(db, site, 3, prefix="c5", cluster={"lease_ms": 10000, "heartbeat_ms": 1000},
                                           database={"read_timeout_ms": READ_TIMEOUT_MS,
                                                     "statement_timeout_ms": 2000})
        posts = Load(nodes, "post")
        reads = Load(nodes, "read")
        reads.posts = posts.posts
        posts.start()
        reads.start()
        time.sleep(1.5)
        outages, recoveries = [], []
        for mode in ("fast", "immediate"):
            t0 = time.monotonic()
            server.stop(mode)
            time.sleep(2.0)
            server.start()
            t1 = time.monotonic()
            outages.append((t0, t1))
            note("PostgreSQL stopped (%s) and started again" % mode)
            back = wait_until(lambda: [p[0] for p in list(posts.posts) if p[1] == 202 and p[0] > t1],
                              RECOVERY_S * TIME_FACTOR, what="a 202 after the outage")
            recoveries.append(back[0] - t1)
            time.sleep(2.0)
        posts.stop = reads.stop = True
        posts.join(30)
        reads.join(30)
        for node in nodes:
            check(node.alive(), "%s exited" % node.name)
        statuses = collections.Counter(p[1] for p in posts.posts)
        check(set(statuses) <= {202, 503}, "POST answers: %s" % dict(statuses))
        check(all(p[3] for p in posts.posts if p[1] == 503), "a 503 without Retry-After")
        # 503s only around the outages (a connection lost mid-statement, the
        # pool's reconnect backoff), never long after one.
        for when, status, _, _ in posts.posts:
            if status == 503:
                check(any(t0 - 1 <= when <= t1 + RECOVERY_S * TIME_FACTOR for t0, t1 in outages),
                      "a 503 at %.1f, away from the outages %s" % (when, outages))
        read_status = collections.Counter(r[0] for r in reads.reads)
        check(set(read_status) <= {200, 503}, "read answers: %s" % dict(read_status))
        slow = [r for r in reads.reads if r[1] > (READ_TIMEOUT_MS + 500) * TIME_FACTOR]
        check(not slow, "reads slower than read_timeout_ms: %s" % slow[:5])
        accepted = [p[2] for p in posts.posts if p[1] == 202]
        rows = clusterlib.wait_all_terminal(db, accepted, 60 * TIME_FACTOR)
        missing = [j for j in accepted if j not in rows]
        check(not missing, "%d accepted jobs are not in the database" % len(missing))
        states = collections.Counter(rows[j][0] for j in accepted)
        check(states == {"succeeded": len(accepted)}, "end states: %s" % dict(states))
        twice = [rows[j][3] for j in accepted if site.seed_fetches(rows[j][3]) != 1]
        check(not twice, "crawls not run exactly once: %s" % twice[:5])
        note("first 202 after each outage: %s s" % ", ".join("%.2f" % r for r in recoveries))
        figure(5, outages=2, recovery_s="/".join("%.2f" % r for r in recoveries), posts=len(posts.posts), accepted=len(accepted), refused_503=statuses[503],
               reads=len(reads.reads), reads_503=read_status[503], lost=len(missing), ran_twice=len(twice))
        for node in nodes:
            node.stop()
    finally:
        site.stop()
        server.destroy()


if __name__ == "__main__":
    clusterlib.run(main)
