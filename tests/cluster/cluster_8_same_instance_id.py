#!/usr/bin/python3
"""Cluster scenario 8: two instances started with the same instance_id.

Pass: the second exits with status 1 and says why (another live instance
uses the id); the first keeps running and accepting jobs. Once the first
has stopped, an instance with that id starts again.
"""
import time

import clusterlib
from clusterlib import Crawld, check, figure, wait_until, TIME_FACTOR
import pg


def main():
    site = clusterlib.CountingSite()
    db = pg.create_database()
    first = clusterlib.start_instances(db, site, 1, prefix="c8")[0]
    try:
        second = Crawld(clusterlib.config(db, site, "c8-1"), name="c8-dup").start()
        second.killed_on_purpose = False
        t0 = time.monotonic()
        code = second.proc.wait(timeout=30 * TIME_FACTOR)
        waited = time.monotonic() - t0
        check(code == 1, "the second instance exited with %s, expected 1" % code)
        check("another live crawld instance uses instance_id \"c8-1\"" in second.log_text(),
              "no clear error in the log:\n" + second.log_text()[-2000:])
        status, body = clusterlib.post(first, {"target": "site", "season": 2000, "timeout": 30})
        check(status == 202, "the first instance no longer accepts jobs: %s %s" % (status, body))
        clusterlib.forget(second)
        check(first.stop() == 0, "the first instance did not stop cleanly")
        again = clusterlib.start_instances(db, site, 1, prefix="c8")[0]
        check(again.alive(), "the id could not be used again after a clean stop")
        figure(8, second_exit=code, refused_after_s="%.2f" % waited, restart_ok=1)
    finally:
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
