"""Shared helpers for the cluster scenarios (tests/cluster/).

Each scenario starts several real crawld instances in cluster mode against
one PostgreSQL database (the run's shared cluster, or one of its own when it
restarts the server), a counting site on 127.0.0.1 that logs every fetch,
and where it needs one a real load balancer (Debian's nginx, an `upstream`
of the instances). It asserts its pass criterion and prints one line

    FIGURE scenario=cluster-<n> key=value ...

On failure the logs of every crawld it started are printed and it exits 1
(faultlib's run()).
"""
import collections
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import faultlib  # noqa: E402
from faultlib import Crawld, check, note, wait_until, TIME_FACTOR, SANITIZED  # noqa: E402,F401
import pg  # noqa: E402

TERMINAL = faultlib.TERMINAL
MIN_SEASON, MAX_SEASON = 1000, 9999


def figure(n, **values):
    faultlib.figure("cluster-%s" % n, **values)


class CountingSite:
    """A site whose crawl of season S is the index /s/S/ linking `pages`
    pages /s/S/p/i (a shallow crawl fetches the index only), each answered
    after `delay` seconds. Every fetch is
    counted, so a test can tell how many times each season's crawl ran (its
    seed's fetches)."""

    def __init__(self, pages=3, delay=0.0):
        site = self
        self.pages, self.delay = pages, delay
        self.fetches = collections.Counter()
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with site.lock:
                    site.fetches[self.path] += 1
                m = re.match(r"^/s/(\d+)/(p/(\d+))?$", self.path)
                if self.path == "/robots.txt" or not m:
                    return self.answer(404, "no")
                if site.delay:
                    time.sleep(site.delay)
                if m.group(2):
                    return self.answer(200, "<html><title>%s</title></html>" % self.path)
                links = "".join('<a href="p/%d">p%d</a> ' % (i, i) for i in range(site.pages))
                self.answer(200, "<html><title>index</title><body>%s</body></html>" % links)

            def answer(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a crawler killed on purpose drops its connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seed(self):
        return "http://127.0.0.1:%d/s/{season}/" % self.port

    def seed_fetches(self, season):
        with self.lock:
            return self.fetches["/s/%d/" % season]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def config(db, site, instance_id, cluster=None, jobs=None, crawl=None, **top):
    """A cluster-mode configuration for one instance."""
    c = {
        "crawl": {"allow_private_networks": True, "per_host_concurrency": 4, "per_host_delay_ms": 0,
                  "min_season": MIN_SEASON, "max_season": MAX_SEASON,
                  "targets": [{"name": "site", "seeds": [site.seed()], "deep_depth": 2}]},
        "jobs": {"max_running": 4, "max_queued": 10000, "on_duplicate": "allow", "hard_kill_grace_ms": 300},
        "database": {"url": db, "instance_id": instance_id, "flush_ms": 50},
        "cluster": {"enabled": True, "heartbeat_ms": 300, "lease_ms": 1500, "poll_ms": 300, "max_attempts": 3},
        "log": {"access_log": False},
        "server": {"shutdown_grace_s": 5},
    }
    for key, value in (("cluster", cluster), ("jobs", jobs), ("crawl", crawl)):
        if value:
            c[key].update(value)
    for key, value in top.items():
        c.setdefault(key, {}).update(value)
    return c


def start_instances(db, site, n, prefix="node", **overrides):
    nodes = []
    for i in range(n):
        node = Crawld(config(db, site, "%s-%d" % (prefix, i + 1), **overrides), name="%s-%d" % (prefix, i + 1))
        nodes.append(node.start())
    for node in nodes:
        wait_until(lambda: registered(node), 30 * TIME_FACTOR, what="%s registered" % node.name)
    return nodes


def registered(node):
    return any("cluster: instance" in line and "registered" in line for line in list(node.log_lines))


def post(node_or_lb, params, headers=None):
    """POST /start; returns (status, body)."""
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    status, _, data = node_or_lb.request("POST", "/start", json.dumps(params), hdrs, timeout=30)
    return status, faultlib.body(data)


def job_rows(db):
    """id -> (state, instance_id, attempt, season) from the database."""
    rows = pg.query(db, "select id, state, instance_id, attempt, season from crawl_jobs")
    return {r[0]: (r[1], r[2], int(r[3]), int(r[4])) for r in rows}


def sessions(db):
    """The database's other sessions: what each is doing and how long its
    transaction has been open (a stalled one holds its locks)."""
    return pg.query(db, "select application_name, state, coalesce(wait_event_type || ':' || wait_event, ''),"
                        " round(extract(epoch from now() - xact_start)::numeric, 2), left(query, 60)"
                        " from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
                        " and xact_start is not null")


def wait_rows(db, predicate, timeout, what):
    """wait_until over the job rows (predicate(job_rows(db))); a timeout's
    message lists the rows as they were and the sessions with a transaction
    open, so a failure says what it saw."""
    try:
        return wait_until(lambda: predicate(job_rows(db)), timeout, what=what)
    except faultlib.ScenarioFailed as e:
        seen = sorted(job_rows(db).values(), key=lambda r: r[3])
        raise faultlib.ScenarioFailed("%s; rows (state, instance, attempt, season): %s; open transactions"
                                      " (application, state, wait, seconds, query): %s"
                                      % (e, seen, sessions(db))) from None


def wait_all_terminal(db, ids, timeout):
    def done():
        rows = job_rows(db)
        return all(rows.get(i, ("",))[0] in TERMINAL for i in ids) and rows
    return wait_until(done, timeout, interval=0.2, what="every job ended")


def duplicate_pages(db):
    return int(pg.scalar(db, "select count(*) - count(distinct (job_id, url)) from crawl_pages"))


def percentile(values, p):
    values = sorted(values)
    if not values:
        return 0.0
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


class Endpoint:
    """Anything answering HTTP on 127.0.0.1:port (the load balancer)."""

    def __init__(self, port):
        self.host, self.port = "127.0.0.1", port

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


class LoadBalancer(Endpoint):
    """Debian's nginx with an upstream of the instances, in a prefix of its own."""

    def __init__(self, nodes):
        self.dir = tempfile.mkdtemp(prefix="crawld-lb-", dir="/tmp")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        super().__init__(port)
        servers = "".join("    server 127.0.0.1:%d max_fails=0;\n" % n.port for n in nodes)
        user = "user www-data;\n" if os.geteuid() == 0 else ""
        conf = (user + "worker_processes 1;\nerror_log %s/error.log warn;\npid %s/nginx.pid;\n"
                "events { worker_connections 1024; }\n"
                "http {\n  access_log off;\n  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
                "  upstream crawld {\n%s    keepalive 32;\n  }\n"
                "  server {\n    listen 127.0.0.1:%d;\n    location / {\n"
                "      proxy_pass http://crawld;\n      proxy_http_version 1.1;\n"
                "      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n"
                "      proxy_next_upstream off;\n    }\n  }\n}\n"
                % (self.dir, self.dir, self.dir, self.dir, servers, port))
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        os.chmod(self.dir, 0o777)
        subprocess.run(["nginx", "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf")], check=True,
                       capture_output=True)
        wait_until(self._up, 10, what="load balancer listening")

    def _up(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        try:
            with open(os.path.join(self.dir, "nginx.pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)


def run(main):
    faultlib.run(main)


def forget(node):
    """A crawld that was meant to exit on its own: not checked for exit 0."""
    if node in faultlib.crawld_harness.STARTED:
        faultlib.crawld_harness.STARTED.remove(node)
