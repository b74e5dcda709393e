#!/usr/bin/python3
"""Scenario 8: timeout precision.

50 crawls at once (jobs.max_running = 50) against a host that accepts
connections and never answers, with timeouts of 1, 2 and 3 s and
jobs.hard_kill_grace_ms = 100. Pass: each ends `timed_out`, and its
finished_at - started_at is within 250 ms of timeout + hard-kill grace.
"""
import time

import faultlib
from faultlib import Crawld, check, figure, note, wait_until
from sites import HangingServer

CRAWLS = 50
GRACE_MS = 100
TOLERANCE_MS = 250


def main():
    hang = HangingServer()
    config = {
        "crawl": {"allow_private_networks": True, "min_season": 2000, "max_season": 2100,
                  "targets": [{"name": "hang", "seeds": [hang.url("/{season}")]}]},
        "jobs": {"max_running": CRAWLS, "max_queued": 10, "on_duplicate": "allow", "hard_kill_grace_ms": GRACE_MS},
        "server": {"shutdown_grace_s": 1},
        "log": {"access_log": False},
    }
    try:
        with Crawld(config, name="f8-timeouts") as crawld:
            started = {}
            for i in range(CRAWLS):
                timeout = 1 + i % 3
                j = faultlib.post_start(crawld, {"target": "hang", "season": 2000 + i, "deep": i % 2 == 0,
                                                 "timeout": timeout})
                started[j["id"]] = timeout
            jobs = []
            for job_id in started:
                jobs.append(wait_until(lambda: (lambda x: x if x["state"] in faultlib.TERMINAL else None)(
                    faultlib.job(crawld, job_id)), 15, interval=0.05, what="job end"))
            errors = []
            states = {}
            for j in jobs:
                states[j["state"]] = states.get(j["state"], 0) + 1
                took = faultlib.parse_time(j["finished_at"]) - faultlib.parse_time(j["started_at"])
                expected = started[j["id"]] + GRACE_MS / 1000.0
                errors.append(((took - expected) * 1000, j))
            worst = max(abs(e) for e, _ in errors)
            mean = sum(e for e, _ in errors) / len(errors)
            note("states %s; error vs timeout + grace: mean %+.1f ms, min %+.1f, max %+.1f"
                 % (states, mean, min(e for e, _ in errors), max(e for e, _ in errors)))
            check(states == {"timed_out": CRAWLS}, "states %s" % states)
            late = [(round(e), j["id"], started[j["id"]]) for e, j in errors if abs(e) > TOLERANCE_MS]
            check(not late, "%d crawls off by more than %d ms: %s" % (len(late), TOLERANCE_MS, late[:5]))
        figure(8, crawls=CRAWLS, timeouts_s="1-3", hard_kill_grace_ms=GRACE_MS, timed_out=states.get("timed_out", 0),
               error_mean_ms="%+.1f" % mean, error_max_abs_ms="%.1f" % worst, tolerance_ms=TOLERANCE_MS)
    finally:
        hang.stop()


if __name__ == "__main__":
    faultlib.run(main)
