"""Live job streams (Server-Sent Events) against the real binary.

- a client follows a deep crawl and gets every event row exactly once, in
  order, its progress at most once a second, then the job's final state, and
  the stream ends cleanly; each event's data is valid against the API
  document's schema;
- a client that leaves midway resumes with Last-Event-ID (and ?follow=true)
  without gaps or repeats;
- 300 streams at once: 256 (server.max_streams) are served, the rest get
  503, and /healthz stays fast meanwhile;
- clients that never read are dropped once server.max_stream_buffer_bytes
  wait for them, and the process's memory stays flat;
- heartbeats; graceful stop ends every stream cleanly; without a database the
  events come without ids; bad input gets 404 and 422.
"""
import http.client
import http.server
import json
import re
import socket
import statistics
import threading
import time
import unittest

import jsonschema

import pg
import crawld_harness
from crawld_harness import Crawld
from sites import HangingServer

STREAM = {"Accept": "text/event-stream"}
# Every page is larger than the crawl's max_body_bytes: each is truncated, and
# the crawl reports the first 20 as events (then one "more pages" event).
PAGES = 40
PAGE_BYTES = 4096
# What the slow-reader test lets the process grow by. Unbounded buffering of
# its events would take about 80 MB (40 streams x 2 MB); 400 jobs kept in the
# history take a few MB, several times that under a sanitizer's allocator
# (ThreadSanitizer's run measured 24.5 MB once), hence the larger bound there.
MAX_GROWTH_KIB = (48 if crawld_harness.sanitized() else 24) * 1024


class TruncatingSite:
    """Pages /p/0 .. /p/PAGES-1, each linking to the next two before PAGE_BYTES
    of padding, so every page is cut at max_body_bytes."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                m = re.fullmatch(r"/p/(\d+)", self.path)
                if self.path == "/robots.txt":
                    self.answer(200, "text/plain", b"User-agent: *\nAllow: /\n")
                elif m and int(m.group(1)) < PAGES:
                    n = int(m.group(1))
                    links = "".join(f'<a href="/p/{k}">{k}</a> ' for k in (2 * n + 1, 2 * n + 2) if k < PAGES)
                    page = f"<html><head><title>page {n}</title></head><body>{links}<p>" + "x" * PAGE_BYTES
                    self.answer(200, "text/html", page.encode() + b"</p></body></html>")
                else:
                    self.answer(404, "text/plain", b"no")

            def answer(self, status, kind, data):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class EventStream:
    """One text/event-stream response, parsed as the SSE specification says."""

    def __init__(self, crawld, path, headers=None, timeout=60):
        self.conn = crawld.connection(timeout)
        self.conn.request("GET", path, headers=dict(STREAM, **(headers or {})))
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}
        self.comments = 0
        self.ended = False  # the body ended cleanly (the terminating chunk came)

    def events(self):
        """Yields (received_at, {"event", "data", "id"}) until the stream ends."""
        fields = {}
        while True:
            line = self.response.readline()
            if not line:
                self.ended = True
                return
            line = line.decode("utf-8").rstrip("\n")
            if line == "":
                if "data" in fields:
                    yield time.monotonic(), fields
                fields = {}
            elif line.startswith(":"):
                self.comments += 1
            else:
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value

    def close(self):
        self.conn.close()


def raw_stream(crawld, path, rcvbuf=None):
    """A socket that asked for `path` as a stream; with `rcvbuf` it never reads."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect(crawld.address())
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    return sock


def status_of(sock):
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(256)
        if not chunk:
            return None
        head += chunk
    return int(head.split(b" ", 2)[1])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def metric(crawld, name):
    status, _, data = crawld.request("GET", "/metrics")
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", data.decode(), re.M)
    return float(m.group(1)) if m else None


class StreamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.site, cls.hang = TruncatingSite(), HangingServer()
        cls.targets = [{"name": "cut", "seeds": [cls.site.url("/p/0")], "deep_depth": 10},
                       {"name": "hang", "seeds": [cls.hang.url("/{season}")]},
                       {"name": "refused", "seeds": ["http://127.0.0.1:1/{season}"]}]
        cls.crawl = {"allow_private_networks": True, "max_body_bytes": 1024, "per_host_delay_ms": 100,
                     "targets": cls.targets}

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()
        cls.hang.stop()

    def config(self, **server):
        return {"crawl": self.crawl, "database": {"url": pg.create_database(), "flush_ms": 100},
                "server": server, "jobs": {"max_queued": 1000}}

    def start(self, crawld, target="cut", season=2024, deep=True):
        self.wait_for(lambda: crawld.request("GET", "/readyz")[0] == 200 or not crawld.config.get("database"),
                      "database ready")
        status, _, data = crawld.request("POST", "/start", json.dumps({"target": target, "season": season,
                                                                      "deep": deep}))
        self.assertEqual(status, 202, data)
        return json.loads(data)["id"]

    def rows(self, crawld, job_id):
        """Every event row of the job, from the list (pages of 1000)."""
        rows, path = [], f"/jobs/{job_id}/events"
        while path:
            status, _, data = crawld.request("GET", path)
            self.assertEqual(status, 200, data)
            page = json.loads(data)
            rows += page["events"]
            path = page["next"]
        return rows

    def schemas(self, crawld):
        _, _, data = crawld.request("GET", "/openapi.json")
        document = json.loads(data)
        resolver = jsonschema.RefResolver.from_schema(document)

        def validator(name):
            return jsonschema.Draft202012Validator(document["components"]["schemas"][name], resolver=resolver)

        return {"state": validator("Job"), "progress": validator("Job"), "log": validator("Event")}

    def test_a_client_follows_a_deep_crawl_to_its_end(self):
        with Crawld(self.config(), name="streams-follow") as crawld:
            schemas = self.schemas(crawld)
            job_id = self.start(crawld)
            stream = EventStream(crawld, f"/jobs/{job_id}/events")
            self.assertEqual(stream.status, 200)
            self.assertEqual(stream.headers["content-type"], "text/event-stream")
            self.assertEqual(stream.headers.get("transfer-encoding"), "chunked")
            started = time.monotonic()
            received = list(stream.events())
            took = time.monotonic() - started
            self.assertTrue(stream.ended, "the stream did not end cleanly")
            stream.close()
            for _, event in received:
                schemas[event["event"]].validate(json.loads(event["data"]))
            kinds = [event["event"] for _, event in received]
            self.assertEqual(kinds[0], "state")
            self.assertEqual(kinds[-1], "state")
            final = json.loads(received[-1][1]["data"])
            self.assertEqual(final["state"], "succeeded")
            self.assertEqual(final["id"], job_id)
            # Every row exactly once, in order, each with its row id.
            logs = [event for _, event in received if event["event"] == "log"]
            rows = self.rows(crawld, job_id)
            self.assertGreaterEqual(len(rows), 22, "the crawl reported too few events to be a test")
            self.assertEqual([int(e["id"]) for e in logs], [r["id"] for r in rows])
            self.assertEqual([json.loads(e["data"]) for e in logs], rows)
            # The final state comes after the last row.
            self.assertEqual(kinds[-2], "log")
            # Progress at most once a second (a little slack for the clock).
            progress = [at for at, event in received if event["event"] == "progress"]
            self.assertGreaterEqual(len(progress), 1)
            gaps = [b - a for a, b in zip(progress, progress[1:])]
            self.assertTrue(all(g > 0.8 for g in gaps), gaps)
            self.assertLessEqual(len(progress), took + 1)
            print("FIGURE stream_rows=%d progress_events=%d seconds=%.1f" % (len(logs), len(progress), took))
            # A job that has ended: its rows and its state, at once.
            again = EventStream(crawld, f"/jobs/{job_id}/events?follow=true", headers={"Accept": "*/*"})
            replay = [event for _, event in again.events()]
            self.assertTrue(again.ended)
            self.assertEqual([int(e["id"]) for e in replay if e["event"] == "log"], [r["id"] for r in rows])
            self.assertEqual([e["event"] for e in replay if e["event"] != "log"], ["state"])

    def test_a_client_resumes_with_last_event_id(self):
        with Crawld(self.config(), name="streams-resume") as crawld:
            job_id = self.start(crawld)
            first = EventStream(crawld, f"/jobs/{job_id}/events")
            seen = []
            for _, event in first.events():
                if event["event"] == "log":
                    seen.append(int(event["id"]))
                if len(seen) == 6:
                    break
            first.close()  # midway
            self.assertFalse(first.ended)
            second = EventStream(crawld, f"/jobs/{job_id}/events?follow=true",
                                 headers={"Accept": "application/json", "Last-Event-ID": str(seen[-1])})
            self.assertEqual(second.status, 200)
            rest = [event for _, event in second.events()]
            self.assertTrue(second.ended)
            seen += [int(e["id"]) for e in rest if e["event"] == "log"]
            self.assertEqual(json.loads(rest[-1]["data"])["state"], "succeeded")
            rows = [r["id"] for r in self.rows(crawld, job_id)]
            self.assertEqual(seen, rows, "gaps or repeats across the reconnect")
            self.assertEqual(len(set(seen)), len(seen))
            # ?after= is the same for clients that cannot set headers.
            third = EventStream(crawld, f"/jobs/{job_id}/events?after={rows[-3]}")
            self.assertEqual([int(e["id"]) for _, e in third.events() if e["event"] == "log"], rows[-2:])

    def test_beyond_max_streams_the_answer_is_503_and_the_server_stays_fast(self):
        # The crawl started below never ends: a 1 s grace at stop, not 10.
        with Crawld(self.config(max_connections=2000, shutdown_grace_s=1), name="streams-limit") as crawld:
            socks = [raw_stream(crawld, "/events") for _ in range(300)]
            try:
                statuses = [status_of(s) for s in socks]
                self.assertEqual(statuses.count(200), 256, statuses)
                self.assertEqual(statuses.count(503), 44, statuses)
                self.assertEqual(statuses[:256], [200] * 256)
                self.assertEqual(metric(crawld, "crawld_open_streams"), 256)
                conn = crawld.connection()
                times = []
                for _ in range(300):
                    t0 = time.perf_counter()
                    conn.request("GET", "/healthz")
                    response = conn.getresponse()
                    response.read()
                    times.append(time.perf_counter() - t0)
                    self.assertEqual(response.status, 200)
                conn.close()
                p99 = statistics.quantiles(times, n=100)[98]
                print("FIGURE streams_open=256 healthz_p99_ms=%.2f" % (p99 * 1000))
                self.assertLess(p99, 0.010)
                # A state change reaches every open stream.
                job_id = self.start(crawld, target="hang")
                for s in socks[:256]:
                    data = b""
                    while job_id.encode() not in data:
                        chunk = s.recv(65536)
                        self.assertTrue(chunk, "a stream closed")
                        data += chunk
            finally:
                for s in socks:
                    s.close()
            self.wait_for(lambda: metric(crawld, "crawld_open_streams") == 0, "streams closed")

    def wait_for(self, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        self.fail(what + " not reached")

    def test_clients_that_never_read_are_dropped_and_memory_stays_flat(self):
        config = self.config(max_stream_buffer_bytes=16384)
        config["jobs"] = {"max_queued": 1000, "max_running": 32}
        with Crawld(config, name="streams-slow") as crawld:
            readers = [raw_stream(crawld, "/events", rcvbuf=4096) for _ in range(40)]
            self.wait_for(lambda: metric(crawld, "crawld_open_streams") == 40, "40 streams open")
            before = rss_kib(crawld.proc.pid)
            # 400 jobs that fail at once: 3 state changes each, about 2 MB of
            # events for every stream, which none of them reads.
            conn = crawld.connection()
            for season in range(1900, 2100):
                for deep in (False, True):
                    conn.request("POST", "/start", json.dumps({"target": "refused", "season": season,
                                                               "deep": deep}))
                    response = conn.getresponse()
                    response.read()
                    self.assertEqual(response.status, 202)
            conn.close()
            self.wait_for(lambda: metric(crawld, "crawld_open_streams") == 0, "slow readers dropped", timeout=60)
            after = rss_kib(crawld.proc.pid)
            print("FIGURE slow_readers=40 rss_before_kib=%d rss_after_kib=%d" % (before, after))
            self.assertLess(after - before, MAX_GROWTH_KIB, "memory grew with the unread streams")
            self.assertIn("event stream to 127.0.0.1 dropped", crawld.log_text())
            # The server still serves.
            self.assertEqual(crawld.request("GET", "/healthz")[0], 200)
            for s in readers:
                s.close()

    def test_heartbeats_and_graceful_stop(self):
        with Crawld(self.config(stream_heartbeat_ms=200, shutdown_grace_s=1), name="streams-stop") as crawld:
            job_id = self.start(crawld, target="hang")
            job = EventStream(crawld, f"/jobs/{job_id}/events")
            dashboard = EventStream(crawld, "/events")
            events = job.events()
            next(events)  # the job's state
            time.sleep(1.0)
            crawld.proc.send_signal(15)
            rest = list(events)
            list(dashboard.events())
            self.assertTrue(job.ended and dashboard.ended, "a stream did not end cleanly on stop")
            self.assertGreaterEqual(job.comments, 3)
            self.assertGreaterEqual(dashboard.comments, 3)
            self.assertEqual(crawld.proc.wait(timeout=15), 0)
            self.assertTrue(all(e["event"] in ("state", "progress", "log") for _, e in rest))

    def test_without_a_database_events_come_without_ids(self):
        with Crawld({"crawl": self.crawl}, name="streams-memory") as crawld:
            job_id = self.start(crawld)
            stream = EventStream(crawld, f"/jobs/{job_id}/events")
            received = [event for _, event in stream.events()]
            self.assertTrue(stream.ended)
            logs = [e for e in received if e["event"] == "log"]
            self.assertGreaterEqual(len(logs), 10)
            self.assertTrue(all("id" not in e for e in received))
            self.assertEqual(json.loads(received[-1]["data"])["state"], "succeeded")
            self.assertIn("job succeeded", json.loads(logs[-1]["data"])["message"])

    def test_bad_requests(self):
        with Crawld(self.config(shutdown_grace_s=1), name="streams-errors") as crawld:
            job_id = self.start(crawld, target="hang")  # (waits for the database; never ends)
            nobody = "/jobs/00000000-0000-4000-8000-000000000000/events"
            self.assertEqual(crawld.request("GET", nobody, headers=STREAM)[0], 404)
            self.assertEqual(crawld.request("GET", "/jobs/nope/events", headers=STREAM)[0], 422)
            status, _, data = crawld.request("GET", f"/jobs/{job_id}/events",
                                             headers=dict(STREAM, **{"Last-Event-ID": "x1"}))
            self.assertEqual(status, 422)
            self.assertIn("Last-Event-ID", data.decode())
            self.assertEqual(crawld.request("GET", f"/jobs/{job_id}/events?follow=maybe")[0], 422)
            # The list is still the list.
            status, headers, data = crawld.request("GET", f"/jobs/{job_id}/events")
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "application/json")
        with Crawld(dict(self.config(max_streams=0)), name="streams-none") as crawld:
            status, headers, _ = crawld.request("GET", "/events", headers=STREAM)
            self.assertEqual(status, 503)
            self.assertIn("retry-after", headers)


if __name__ == "__main__":
    unittest.main()
