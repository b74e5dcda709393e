#!/usr/bin/python3
"""Cluster scenario 11: the network between an owner and the database is cut.

Instance A reaches PostgreSQL through a TCP relay of the test's own; B
reaches it directly. A runs a deep crawl, then the relay drops everything
both ways (connections stay open, nothing arrives: A's heartbeat hangs
instead of failing). Pass: A gives up its crawl by itself, within
lease_ms - 3/4 heartbeat_ms of its last heartbeat (plus slack), and before B,
which rescues the job once its lease ran out, starts attempt 2; the job ends
succeeded on B. Then B stops, the relay closes what it held and forwards
again: a job posted to A at once runs there to its end on attempt 1 (it is
not given up for the heartbeats A missed before it was claimed).
"""
import datetime
import select
import socket
import threading
import time
import urllib.parse

import clusterlib
from clusterlib import check, figure, note, wait_until, TIME_FACTOR
import pg

LEASE_MS, HEARTBEAT_MS, POLL_MS = 1500, 300, 300
CUTOFF_S = (LEASE_MS - 3 * HEARTBEAT_MS / 4) / 1000.0


def log_time(line):
    stamp = line.split(" ", 1)[0].rstrip("Z")
    return datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp()


class Relay:
    """127.0.0.1:port -> the database. cut(): nothing is forwarded any more
    and new connections are accepted but never answered, as on a network
    that drops every packet. restore(): every connection it holds is closed
    (as they would time out) and new ones are forwarded again."""

    def __init__(self, host, port):
        self.upstream = (host, port)
        self.cut_off = False
        self.lock = threading.Lock()
        self.sockets = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.sockets.append(client)
                if self.cut_off:
                    continue  # held, never answered
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.append(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(src, dst), daemon=True).start()

    def pump(self, src, dst):
        try:
            while True:
                ready, _, _ = select.select([src], [], [], 0.05)
                if self.cut_off or not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.cut_off = True

    def restore(self):
        with self.lock:
            held, self.sockets = self.sockets, []
            self.cut_off = False
        for s in held:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self):
        self.server.close()
        self.restore()


def main():
    site = clusterlib.CountingSite(pages=40, delay=0.2)
    db = pg.create_database()
    url = urllib.parse.urlsplit(db)
    relay = Relay(url.hostname, url.port)
    db_a = urllib.parse.urlunsplit(url._replace(netloc=url.netloc.replace(":%d" % url.port, ":%d" % relay.port)))
    # "reject": a job posted with a free slot is claimed by the instance that
    # stores it, in the same commit (with "queue" any instance may claim it).
    common = dict(crawl={"per_host_concurrency": 1}, jobs={"on_duplicate": "reject"},
                  cluster={"lease_ms": LEASE_MS, "heartbeat_ms": HEARTBEAT_MS, "poll_ms": POLL_MS})
    try:
        a = clusterlib.start_instances(db_a, site, 1, prefix="c11a", **common)[0]
        job = clusterlib.post(a, {"target": "site", "season": 2600, "deep": True, "timeout": 120})[1]["id"]
        wait_until(lambda: int(pg.scalar(db, "select count(*) from crawl_pages where job_id = '%s'" % job)) >= 3,
                   20 * TIME_FACTOR, what="A writing pages")
        b = clusterlib.start_instances(db, site, 1, prefix="c11b", **common)[0]
        cut_at = time.time()
        relay.cut()

        lost = wait_until(lambda: [l for l in list(a.log_lines) if "lease lost" in l and job in l],
                          (CUTOFF_S + 10) * TIME_FACTOR, what="A giving up its crawl")
        check("no heartbeat got through" in lost[0], "A lost the job for another reason: %s" % lost[0])
        lost_at = log_time(lost[0])
        clusterlib.wait_rows(db, lambda rows: rows[job][1:3] == ("c11b-1", 2), (LEASE_MS / 1000 + 10) * TIME_FACTOR,
                             what="B rescued the job")
        started = wait_until(lambda: [l for l in list(b.log_lines) if "crawl started" in l and job in l],
                             10 * TIME_FACTOR, what="B starting attempt 2")
        b_started_at = log_time(started[0])
        # A's last heartbeat went out at most one heartbeat before the cut.
        bound = CUTOFF_S + 0.5 * TIME_FACTOR
        check(lost_at - cut_at <= bound,
              "A gave up its crawl %.2fs after the cut (bound %.2fs)" % (lost_at - cut_at, bound))
        check(lost_at <= b_started_at, "B started attempt 2 %.3fs before A gave up attempt 1"
              % (lost_at - b_started_at))

        ended = clusterlib.wait_all_terminal(db, [job], 60 * TIME_FACTOR)[job]
        check(ended[:3] == ("succeeded", "c11b-1", 2), "the job ended as %s" % (ended,))
        b.stop()
        relay.restore()
        # A is back, alone: a job posted to it at once (before its heartbeat
        # gets through again) runs there to its end on attempt 1: its lease
        # runs from its claim, whatever heartbeats A missed before. A may
        # answer 503 while it reconnects.
        deadline = time.monotonic() + 10 * TIME_FACTOR
        while True:
            status, body = clusterlib.post(a, {"target": "site", "season": 2601, "deep": True, "timeout": 60})
            if status == 202 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(status == 202, "A answered %s after the network came back: %s" % (status, body))
        again = clusterlib.wait_all_terminal(db, [body["id"]], 60 * TIME_FACTOR)[body["id"]]
        check(again[:3] == ("succeeded", "c11a-1", 1), "A's new job ended as %s" % (again,))
        check(not [l for l in list(a.log_lines) if "lease lost" in l and body["id"] in l],
              "A gave up the job posted after the network came back")
        note("A gave up its crawl %.2fs after the cut; B started attempt 2 %.2fs after that"
             % (lost_at - cut_at, b_started_at - lost_at))
        figure(11, cut_to_given_up_s="%.2f" % (lost_at - cut_at),
               given_up_to_rescued_start_s="%.2f" % (b_started_at - lost_at), final_owner=ended[1],
               final_attempt=ended[2])
    finally:
        relay.stop()
        site.stop()


if __name__ == "__main__":
    clusterlib.run(main)
