"""Shared pieces of crawld's benchmarks: nginx and wrk on 127.0.0.1, a
crawld started from the integration-test harness, tables with ratios.

Everything binds to 127.0.0.1; every load is bounded in time.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import crawld_harness  # noqa: E402  (the integration tests' process harness)

OUT = os.path.join(ROOT, "bench", "out")


def ensure_build(build=True):
    """Installs the packages and builds the release flavour, unless `build` is
    false (the scripts' --no-build, which bench/ab passes): then CRAWLD_BIN
    and the bench tools in build/release/bench are used as they are."""
    if build:
        subprocess.run([os.path.join(ROOT, "scripts", "setup")], check=True)
        subprocess.run([os.path.join(ROOT, "scripts", "build"), "release"], check=True,
                       stdout=subprocess.DEVNULL)
    os.environ.setdefault("CRAWLD_BIN", os.path.join(ROOT, "build", "release", "crawld"))
    if not os.access(os.environ["CRAWLD_BIN"], os.X_OK):
        raise SystemExit(f"crawld binary not found or not executable: {os.environ['CRAWLD_BIN']}")
    os.environ.setdefault("CRAWLD_TEST_OUT", OUT)
    os.makedirs(OUT, exist_ok=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_string(text):
    """`text` as a single-quoted nginx string: quotes and backslashes escaped,
    `$` through the $dollar variable (nginx has no escape for it; define it
    with NGINX_DOLLAR among the upstream lines)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "${dollar}") + "'"


NGINX_DOLLAR = 'geo $dollar { default "$"; }'


class Nginx:
    """nginx with worker_processes 1 under its own prefix in bench/out."""

    def __init__(self, locations, root=None, upstream="", wrapper=(), ready_s=10, access_log="off"):
        """`access_log` is the directive's value (a file, a log_format the
        `upstream` lines define, buffer=...). `wrapper` runs nginx under
        another program (bench/instructions: valgrind); nginx is then one
        process, its master doing the work."""
        self.port = free_port()
        self.prefix = tempfile.mkdtemp(prefix="nginx-", dir=OUT)
        os.chmod(self.prefix, 0o755)
        self.root = root or self.prefix
        user = "user www-data;" if os.geteuid() == 0 else ""
        conf = f"""
{user}
worker_processes 1;
{"master_process off;" if wrapper else ""}
daemon off;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  client_body_temp_path {self.prefix}/body;
  proxy_temp_path {self.prefix}/proxy;
  fastcgi_temp_path {self.prefix}/fastcgi;
  uwsgi_temp_path {self.prefix}/uwsgi;
  scgi_temp_path {self.prefix}/scgi;
  keepalive_requests 1000000;
  default_type text/html;
  {upstream}
  access_log {access_log};
  server {{
    listen 127.0.0.1:{self.port};
    root {self.root};
    {locations}
  }}
}}
"""
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(list(wrapper) + ["nginx", "-p", self.prefix, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Postgres:
    """A PostgreSQL cluster under bench/out (scripts/pg) with a fresh database
    for this run: rows left by earlier runs would make each insert costlier
    from one run to the next. `url` is None when PostgreSQL is unavailable."""

    def __init__(self, database):
        self.dir = os.path.join(OUT, "pg")
        self.url = None
        try:
            url = subprocess.run([os.path.join(ROOT, "scripts", "pg"), "start", self.dir, str(free_port())],
                                 capture_output=True, text=True, check=True).stdout.strip()
            for sql in (f"drop database if exists {database}", f"create database {database}"):
                subprocess.run(["psql", "-q", url, "-c", sql], check=True, capture_output=True)
            self.url = url.rsplit("/", 1)[0] + "/" + database
        except subprocess.CalledProcessError as e:
            print("PostgreSQL unavailable, skipping the database runs:", e.stderr)

    def stop(self):
        subprocess.run([os.path.join(ROOT, "scripts", "pg"), "stop", self.dir])


def wait_drained(port, timeout=120):
    """Waits until crawld's database backlog (pages, events, jobs) is empty;
    returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        backlog = get_json(port, "/status")["database"].get("backlog", {})
        if not any(backlog.values()):
            return time.monotonic() - start
        time.sleep(0.1)
    raise RuntimeError(f"crawld's database backlog did not drain within {timeout} s")


def wait_ready(port, timeout=30):
    """Waits until crawld's /readyz says ready (its database is reachable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get_json(port, "/readyz")["status"] == "ready":
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError("crawld did not become ready")


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url, connections, duration_s=5, threads=1, script=None):
    """Runs wrk; returns {'rps':, 'p50':, 'p99':, 'errors':} (latencies in seconds)."""
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s", "--latency"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60).stdout
    result = {"rps": 0.0, "p50": None, "p99": None, "errors": 0, "non2xx": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        result["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if m:
            result[key] = _seconds(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        result["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        result["non2xx"] = int(m.group(1))
    result["raw"] = out
    return result


def median_of(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def get_json(port, path, timeout=5):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return json.loads(r.read())


def post_json(port, path, body, timeout=5):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def write_json(path, doc):
    """Writes the figures a script printed as JSON (its --json PATH), for
    bench/ab to read."""
    if path:
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


def print_table(title, headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print()
    print(title)
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    sys.stdout.flush()


def histogram(port, name):
    """Cumulative buckets {le: count} of a Prometheus histogram from /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    buckets = {}
    for line in text.splitlines():
        m = re.match(rf'{name}_bucket\{{le="([^"]+)"\}} (\S+)', line)
        if m:
            buckets[float(m.group(1))] = float(m.group(2))
    return buckets


def histogram_quantile(before, after, q):
    """Upper bound of the bucket holding quantile q of the observations
    between two scrapes (like PromQL's histogram_quantile, without interpolation)."""
    delta = {le: after[le] - before.get(le, 0.0) for le in after}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return 0.0
    for le in sorted(delta):
        if delta[le] >= q * total:
            return le
    return float("inf")


def paced_posts(port, path, body, rate, seconds, connections):
    """Open-loop load: `connections` keep-alive clients sending `rate` requests/s
    in total; returns (latencies in seconds, status counts)."""
    import http.client
    import threading
    latencies, statuses, lock = [], {}, threading.Lock()
    interval = connections / rate
    deadline = time.monotonic() + seconds

    def client(offset):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        next_at = time.monotonic() + offset
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if next_at > now:
                time.sleep(next_at - now)
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1
            next_at += interval
        conn.close()

    threads = [threading.Thread(target=client, args=(i * interval / connections,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1)))] if values else None
