#!/usr/bin/python3
"""Cluster scenario 9: webhooks for the changes the database makes alone.

Two instances, A and B, one slot each, the same webhook (a local receiver
that verifies every signature). B takes job W at once (claimed as it is
accepted); A takes job X the same way; job Y, accepted by A, waits in the
queue (no slot anywhere). Y is cancelled through B while queued. Then A is
killed with SIGKILL (max_attempts 1), so B's maintenance ends X as
interrupted when its lease runs out.

No owner records "accepted", "cancelled while queued" or "interrupted by a
rescue": those deliveries are written by the statement that makes the
change. Pass: the receiver gets exactly W queued+started, X
queued+started+interrupted, Y queued+cancelled, each once (by webhook-id),
every signature valid, each body the job in the state its event names; the
outbox rows are all delivered.
"""
import collections
import signal
import time

import clusterlib
from clusterlib import check, figure, note, wait_until, TIME_FACTOR
import pg
from webhook_receiver import SECRET, Receiver

LEASE_MS, POLL_MS = 1500, 300


def start(db, site, name, receiver):
    config = clusterlib.config(db, site, name, jobs={"max_running": 1},
                               cluster={"lease_ms": LEASE_MS, "poll_ms": POLL_MS, "max_attempts": 1})
    config["webhooks"] = [{"url": receiver.url(), "secret": SECRET}]
    config["webhooks_retry_ms"] = 200
    node = clusterlib.Crawld(config, name=name).start()
    wait_until(lambda: clusterlib.registered(node), 30 * TIME_FACTOR, what="%s registered" % name)
    return node


def main():
    site = clusterlib.CountingSite(pages=50, delay=2.0)  # a crawl that runs for minutes
    receiver = Receiver()
    db = pg.create_database()
    try:
        b = start(db, site, "c9b", receiver)
        a = start(db, site, "c9a", receiver)
        long_crawl = {"target": "site", "deep": True, "timeout": 600}
        w = clusterlib.post(b, dict(long_crawl, season=2001))[1]["id"]
        x = clusterlib.post(a, dict(long_crawl, season=2002))[1]["id"]
        y = clusterlib.post(a, dict(long_crawl, season=2003))[1]["id"]
        clusterlib.wait_rows(db, lambda rows: [rows[i][0] for i in (w, x, y)] == ["running", "running", "queued"],
                             10 * TIME_FACTOR, what="W and X running, Y queued")
        status, _, data = b.request("POST", "/jobs/%s/cancel" % y)
        check(status == 202, "cancel of queued Y through B answered %s: %s" % (status, data))
        check(clusterlib.job_rows(db)[y][0] == "cancelled", "Y is %s" % clusterlib.job_rows(db)[y][0])

        a.proc.send_signal(signal.SIGKILL)
        a.killed_on_purpose = True
        killed_at = time.monotonic()
        a.proc.wait(10)
        bound = (LEASE_MS + POLL_MS) / 1000.0 + 3
        wait_until(lambda: clusterlib.job_rows(db)[x][0] == "interrupted", bound * TIME_FACTOR + 10,
                   what="X interrupted by B's rescue")
        note("X interrupted %.2fs after the kill" % (time.monotonic() - killed_at))

        expected = sorted([(w, "job.queued"), (w, "job.started"), (x, "job.queued"), (x, "job.started"),
                           (x, "job.interrupted"), (y, "job.queued"), (y, "job.cancelled")])

        def delivered():
            return sorted((p["data"]["id"], p["type"]) for p in receiver.payloads())
        wait_until(lambda: delivered() == expected, 15 * TIME_FACTOR, interval=0.1,
                   what="7 deliveries (got %s)" % delivered())
        time.sleep(1.0)  # nothing more comes (a retry would)
        check(delivered() == expected, "deliveries: %s" % delivered())
        check(receiver.bad == [], "%d signatures did not verify" % len(receiver.bad))
        ids = [{k.lower(): v for k, v in h.items()}["webhook-id"] for _, h, _ in receiver.accepted]
        check(len(set(ids)) == len(ids) == 7, "webhook-ids: %s" % collections.Counter(ids))
        state_of = {"job.queued": "queued", "job.started": "running", "job.cancelled": "cancelled",
                    "job.interrupted": "interrupted"}
        for p in receiver.payloads():
            check(p["data"]["state"] == state_of[p["type"]], "%s carries state %s" % (p["type"], p["data"]["state"]))
        interrupted = [p["data"] for p in receiver.payloads() if p["type"] == "job.interrupted"][0]
        check("the lease of c9a ran out on attempt 1 of 1" in (interrupted.get("error") or ""),
              "interrupted body's error: %r" % interrupted.get("error"))
        rows = pg.query(db, "select state, count(*) from webhook_deliveries group by state")
        check(rows == [["delivered", "7"]], "outbox rows: %s" % rows)
        # Any instance lists them.
        status, _, data = b.request("GET", "/webhooks/deliveries?job=%s" % y)
        listed = clusterlib.faultlib.body(data)["deliveries"]
        check(status == 200 and sorted(d["event"] for d in listed) == ["job.cancelled", "job.queued"],
              "B lists Y's deliveries: %s" % listed)
        figure(9, deliveries=len(ids), bad_signatures=len(receiver.bad), duplicates=len(ids) - len(set(ids)),
               outbox_delivered=7)
        b.stop()
    finally:
        receiver.stop()
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
