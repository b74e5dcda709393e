#!/usr/bin/python3
"""Scenario 5: 100 concurrent identical POST /start, twice.

Round 1: 100 connections are opened first, then all send the same body at
the same moment (a barrier). Round 2: the same with another crawl and one
shared Idempotency-Key. Pass, each round: exactly one job exists for the
crawl; every 2xx answer (202 created, 200 replayed) names that job; every
other answer is a 409 problem+json naming it too.
"""
import collections
import json
import threading
import time

import faultlib
from faultlib import Crawld, check, figure, note
from sites import HangingServer

N = 100


def race(crawld, payload, headers):
    socks = [crawld.socket(timeout=20) for _ in range(N)]
    request = ("POST /start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n%s\r\n" % (len(payload), "".join("%s: %s\r\n" % kv for kv in headers.items()))
               ).encode() + payload
    barrier = threading.Barrier(N)
    answers = [None] * N

    def go(i):
        barrier.wait()
        socks[i].sendall(request)
        try:
            status_line, hdrs, data, _ = faultlib.crawld_harness.read_response(socks[i])
            answers[i] = (int(status_line.split()[1]), hdrs.get("content-type", ""), json.loads(data))
        except (OSError, ValueError) as e:
            answers[i] = (0, "", repr(e))
        socks[i].close()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


def check_round(crawld, name, answers, season):
    statuses = collections.Counter(a[0] for a in answers)
    check(0 not in statuses, "%s: connections failed: %s" % (name, [a[2] for a in answers if a[0] == 0][:3]))
    status, _, data = crawld.request("GET", "/jobs?limit=500")
    jobs = [j for j in faultlib.body(data)["jobs"] if j["season"] == season]
    check(len(jobs) == 1, "%s: %d jobs exist for the crawl" % (name, len(jobs)))
    job_id = jobs[0]["id"]
    for status, ctype, data in answers:
        if 200 <= status < 300:
            check(data["id"] == job_id, "%s: a %d answer names %s, not %s" % (name, status, data["id"], job_id))
        else:
            check(status == 409 and ctype.startswith("application/problem+json") and data.get("job_id") == job_id,
                  "%s: unexpected answer %s %s %s" % (name, status, ctype, str(data)[:200]))
    created = statuses.get(202, 0)
    check(created == 1, "%s: %d answers 202" % (name, created))
    note("%s: %s, job %s" % (name, dict(statuses), job_id))
    return statuses


def main():
    hang = HangingServer()
    config = {
        "crawl": {"allow_private_networks": True, "min_season": 2000, "max_season": 2100,
                  "targets": [{"name": "hang", "seeds": [hang.url("/{season}")]}]},
        "jobs": {"max_running": 4, "on_duplicate": "reject"},
        "server": {"shutdown_grace_s": 1},
        "log": {"access_log": False},
    }
    try:
        with Crawld(config, name="f5-dedup") as crawld:
            t0 = time.monotonic()
            plain = check_round(crawld, "identical", race(crawld, b'{"target":"hang","season":2030,"deep":true}', {}),
                                2030)
            keyed = check_round(crawld, "idempotency-key",
                                race(crawld, b'{"target":"hang","season":2031,"deep":true}',
                                     {"Idempotency-Key": "fault-5-shared-key"}), 2031)
            check(keyed.get(200, 0) + keyed.get(202, 0) == N, "idempotency-key: not every answer is 2xx: %s"
                  % dict(keyed))
            elapsed = time.monotonic() - t0
        figure(5, concurrent=N, rounds=2, identical="+".join("%d:%d" % kv for kv in sorted(plain.items())),
               idempotency_key="+".join("%d:%d" % kv for kv in sorted(keyed.items())), jobs_per_crawl=1,
               seconds="%.1f" % elapsed)
    finally:
        hang.stop()


if __name__ == "__main__":
    faultlib.run(main)
