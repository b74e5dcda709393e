#!/usr/bin/python3
"""Scenario 4: a burst of 5,000 POST /start from 64 keep-alive connections.

Valid bodies (JSON and form) for 40 distinct crawls (target, season, deep),
each sent many times, mixed with invalid ones (broken JSON, invalid UTF-8,
wrong types, out-of-range and unknown parameters, unknown target, wrong
content type, bad Idempotency-Key). The crawls hang (their target never
answers) so none ends during the burst. Pass: every answer is 202, 409, 429
or a 4xx application/problem+json -- no 5xx, no dropped connection; exactly
one job per distinct crawl (jobs.on_duplicate = reject); RSS afterwards
within 20 MiB of before.
"""
import collections
import http.client
import json
import random
import threading
import time

import faultlib
from faultlib import Crawld, check, figure, note
from sites import HangingServer

TOTAL, CONNECTIONS = 5000, 64
SEASONS = list(range(2001, 2021))

INVALID = [
    ("application/json", b'{"season": 20', {}),
    ("application/json", b'{"season": "abc"}', {}),
    ("application/json", b'{"season": 1800}', {}),
    ("application/json", b'{"deep": "maybe"}', {}),
    ("application/json", b'{"bogus": 1}', {}),
    ("application/json", b'{"target": "nope"}', {}),
    ("application/json", b'{"target": "\xff\xfe"}', {}),
    ("application/json", b'\xff\xfe\xfd', {}),
    ("application/json", b'[1, 2, 3]', {}),
    ("application/json", b'{"timeout": -5}', {}),
    ("application/json", b'{"timeout": 1e400}', {}),
    ("application/json", b'{"season": 2001, "season": 2002, "deep": null}', {}),
    ("text/plain", b'season=2001', {}),
    ("application/x-www-form-urlencoded", b'season=abc&deep=true', {}),
    ("application/x-www-form-urlencoded", b'season=%zz', {}),
    ("application/json", b'{"season": 2001}', {"Idempotency-Key": "bad key with spaces"}),
]


def valid_body(rng):
    season, deep = rng.choice(SEASONS), rng.random() < 0.5
    if rng.random() < 0.7:
        return ("application/json", json.dumps({"target": "hang", "season": season, "deep": deep}).encode(),
                {}), (season, deep)
    return ("application/x-www-form-urlencoded",
            ("target=hang&season=%d&deep=%s" % (season, "true" if deep else "false")).encode(), {}), (season, deep)


def main():
    hang = HangingServer()
    config = {
        "crawl": {"allow_private_networks": True, "min_season": 2000, "max_season": 2100,
                  "targets": [{"name": "hang", "seeds": [hang.url("/{season}")]}]},
        "jobs": {"max_running": 4, "max_queued": 100, "on_duplicate": "reject"},
        "server": {"shutdown_grace_s": 1},
    }
    try:
        with Crawld(config, name="f4-burst") as crawld:
            pid = crawld.proc.pid
            # Warm up: allocator arenas and caches settle before the baseline.
            for _ in range(50):
                crawld.request("GET", "/status")
                crawld.request("POST", "/start", b'{"season": 1}', {"Content-Type": "application/json"})
            rss_before = faultlib.rss_mib(pid)
            lock = threading.Lock()
            statuses = collections.Counter()
            bad = []
            dropped = []
            created = collections.Counter()
            sent_combos = set()
            per_thread = [TOTAL // CONNECTIONS + (1 if i < TOTAL % CONNECTIONS else 0) for i in range(CONNECTIONS)]
            barrier = threading.Barrier(CONNECTIONS)

            def client(index):
                rng = random.Random(index)
                conn = http.client.HTTPConnection(crawld.host, crawld.port, timeout=20)
                barrier.wait()
                for _ in range(per_thread[index]):
                    combo = None
                    if rng.random() < 0.6:
                        (ctype, payload, extra), combo = valid_body(rng)
                    else:
                        ctype, payload, extra = rng.choice(INVALID)
                    headers = {"Content-Type": ctype}
                    headers.update(extra)
                    try:
                        conn.request("POST", "/start", body=payload, headers=headers)
                        resp = conn.getresponse()
                        data = resp.read()
                    except (OSError, http.client.HTTPException) as e:
                        with lock:
                            dropped.append(repr(e))
                        conn.close()
                        conn = http.client.HTTPConnection(crawld.host, crawld.port, timeout=20)
                        continue
                    status, content_type = resp.status, resp.getheader("Content-Type", "")
                    with lock:
                        statuses[status] += 1
                        if combo:
                            sent_combos.add(combo)
                        if status == 202:
                            j = json.loads(data)
                            created[(j["target"], j["season"], j["deep"])] += 1
                        elif status in (409, 429) or 400 <= status < 500:
                            if not content_type.startswith("application/problem+json"):
                                bad.append((status, content_type, payload[:60]))
                        else:
                            bad.append((status, content_type, payload[:60], data[:200]))
                conn.close()

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CONNECTIONS)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            elapsed = time.monotonic() - t0
            check(not any(t.is_alive() for t in threads), "clients still running after 120s")
            answered = sum(statuses.values())
            note("%d answers in %.1fs: %s" % (answered, elapsed, dict(statuses)))
            fivexx = sum(n for s, n in statuses.items() if s >= 500)
            check(fivexx == 0, "%d 5xx answers" % fivexx)
            check(not dropped, "%d dropped connections: %s" % (len(dropped), dropped[:3]))
            check(not bad, "unexpected answers: %s" % bad[:5])
            check(answered == TOTAL, "%d answers for %d requests" % (answered, TOTAL))
            # Exactly one job per distinct crawl, in the answers and in the registry.
            check(all(n == 1 for n in created.values()), "more than one 202 for a crawl: %s"
                  % [k for k, n in created.items() if n > 1])
            status, _, data = crawld.request("GET", "/jobs?limit=500")
            check(status == 200, "GET /jobs: %s" % status)
            jobs = faultlib.body(data)["jobs"]
            per_combo = collections.Counter((j["target"], j["season"], j["deep"]) for j in jobs)
            dups = {k: n for k, n in per_combo.items() if n != 1}
            check(not dups, "crawls with more than one job: %s" % dups)
            check(set(per_combo) == {("hang", s, d) for s, d in sent_combos},
                  "jobs %d vs distinct valid crawls sent %d" % (len(per_combo), len(sent_combos)))
            time.sleep(0.5)
            rss_after = faultlib.rss_mib(pid)
            note("RSS before %.1f MiB, after %.1f MiB" % (rss_before, rss_after))
            faultlib.check_memory(rss_after - rss_before <= 20, "RSS grew by %.1f MiB" % (rss_after - rss_before))
            check(crawld.request("GET", "/healthz")[0] == 200, "healthz after the burst")
        figure(4, requests=TOTAL, connections=CONNECTIONS, seconds="%.1f" % elapsed,
               rps="%.0f" % (TOTAL / elapsed),
               answers="+".join("%d:%d" % kv for kv in sorted(statuses.items())), http_5xx=fivexx,
               dropped=len(dropped), distinct_crawls=len(sent_combos), jobs=len(jobs),
               rss_before_mib="%.1f" % rss_before, rss_after_mib="%.1f" % rss_after,
               rss_delta_mib="%.1f" % (rss_after - rss_before))
    finally:
        hang.stop()


if __name__ == "__main__":
    faultlib.run(main)
