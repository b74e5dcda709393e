#!/usr/bin/python3
"""Scenario 6: slowloris, connection floods, oversized and malformed requests.

A. 500 connections send a request header one byte a second
   (server.request_timeout_ms = 2000) while a separate process polls
   /healthz on a keep-alive connection every 10 ms. Pass: every one of them
   is closed by the server between the request timeout and 1 s after it;
   /healthz p99 < 10 ms, no failed poll.
B. server.max_connections = 100: 100 connections are held open, then 2,000
   more are opened in waves. Pass: each of those is refused (503 or closed)
   within 3 s, RSS stays flat (within 8 MiB), the descriptors are released,
   and the server serves again once the held connections go.
C. A 10 KB header gets 431; a Content-Length of 10 MB gets 413 at once,
   before any body byte is sent.
D. 1,000 malformed requests of 30 kinds (bad request lines, bad chunked
   encoding, conflicting Content-Length/Transfer-Encoding, NUL and control
   bytes, invalid UTF-8 in JSON, ...), each on its own connection. Pass:
   every one gets 400 application/problem+json and the server keeps serving.
"""
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

import faultlib
from faultlib import Crawld, check, figure, note, wait_until
from crawld_harness import read_response

SLOW = 500
REQUEST_TIMEOUT_MS = 2000
MAX_CONNECTIONS = 100
FLOOD = 2000
MALFORMED = 1000

POLLER = r"""
import http.client, json, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conn = http.client.HTTPConnection(host, port, timeout=5)
lat, bad = [], []
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.perf_counter()
    try:
        conn.request("GET", "/healthz"); r = conn.getresponse(); r.read()
        if r.status != 200: bad.append(r.status)
    except Exception as e:
        bad.append(repr(e)); conn.close(); conn = http.client.HTTPConnection(host, port, timeout=5)
    lat.append((time.perf_counter() - t0) * 1000)
    time.sleep(0.01)
print(json.dumps({"lat": lat, "bad": bad}))
"""


def post(ctype, body, extra=b""):
    return (b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s"
            % (ctype, len(body), extra, body))


def chunked(body_lines, extra=b""):
    return (b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
            b"Transfer-Encoding: chunked\r\n\r\n%s" % (extra, body_lines))


MALFORMED_KINDS = {
    "no_target": b"GET\r\n\r\n",
    "bad_version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "bad_method_char": b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "utf8_method": b"G\xc3\xa9T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "double_space": b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
    "lf_only": b"GET / HTTP/1.1\nHost: x\n\n",
    "garbage_line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "nul_in_target": b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "del_in_target": b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n",
    "nul_in_header": b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    "ctl_in_header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
    "space_in_name": b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
    "empty_name": b"GET / HTTP/1.1\r\n: novalue\r\n\r\n",
    "no_colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "bad_chunk_size": chunked(b"zz\r\n{}\r\n0\r\n\r\n"),
    "chunk_too_short": chunked(b"5\r\n{}\r\n0\r\n\r\n"),
    "chunk_ext_ctl": chunked(b"2;\x01\r\n{}\r\n0\r\n\r\n"),
    "bad_trailer": chunked(b"2\r\n{}\r\n0\r\nbad trailer\r\n\r\n"),
    "cl_and_te": chunked(b"2\r\n{}\r\n0\r\n\r\n", b"Content-Length: 2\r\n"),
    "te_then_cl": (b"POST /start HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
                   b"2\r\n{}\r\n0\r\n\r\n"),
    "two_lengths": b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
    "length_abc": b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "length_negative": b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "te_gzip": b"POST /start HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n{}",
    "te_chunked_gzip": b"POST /start HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "te_http10": (b"POST /start HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                  b"2\r\n{}\r\n0\r\n\r\n"),
    "json_bad_utf8": post(b"application/json", b'{"target":"\xff\xfe"}'),
    "json_overlong_utf8": post(b"application/json", b'{"target":"\xc0\xaf"}'),
    "json_surrogate_utf8": post(b"application/json", b'{"target":"\xed\xa0\x80"}'),
    "json_nul": post(b"application/json", b'{"season":2024\x00}'),
    "json_raw_nul_in_string": post(b"application/json", b'{"target":"a\x00b"}'),
    "json_truncated": post(b"application/json", b'{"season": 20'),
    "json_deep_nesting": post(b"application/json", b"[" * 32000 + b"]" * 32000),
}


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def slowloris(crawld):
    poller = subprocess.Popen([sys.executable, "-c", POLLER, crawld.host, str(crawld.port), "5.0"],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    sel = selectors.DefaultSelector()
    opened = {}
    closed = {}
    for _ in range(SLOW):
        s = socket.create_connection(crawld.address(), timeout=5)
        s.setblocking(False)
        opened[s] = time.monotonic()
        sel.register(s, selectors.EVENT_READ)
    header = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    position = 0
    next_byte = time.monotonic()
    deadline = time.monotonic() + REQUEST_TIMEOUT_MS / 1000.0 + 3
    answered = 0
    while len(closed) < SLOW and time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_byte:
            for s in opened:
                if s not in closed:
                    try:
                        s.send(header[position:position + 1])
                    except OSError:
                        pass  # seen as closed by the selector
            position += 1
            next_byte += 1.0
        for key, _ in sel.select(timeout=min(0.02, max(0.0, next_byte - time.monotonic()))):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                answered += 1  # a response would be a failure of the timeout: counted
                continue
            closed[s] = time.monotonic() - opened[s]
            sel.unregister(s)
    for s in opened:
        s.close()
    out, _ = poller.communicate(timeout=15)
    result = json.loads(out)
    lat = sorted(result["lat"])
    p99 = lat[int(len(lat) * 0.99) - 1] if lat else float("nan")
    times = sorted(closed.values())
    note("slowloris: %d/%d closed, after %.2f..%.2fs; /healthz %d polls p50 %.2fms p99 %.2fms max %.2fms, bad %s"
         % (len(closed), SLOW, times[0] if times else -1, times[-1] if times else -1, len(lat),
            lat[len(lat) // 2], p99, lat[-1], result["bad"][:3]))
    check(len(closed) == SLOW, "%d of %d slow connections still open after %.1fs"
          % (SLOW - len(closed), SLOW, REQUEST_TIMEOUT_MS / 1000.0 + 3))
    check(answered == 0, "%d slow connections got data instead of being closed" % answered)
    check(times[0] >= REQUEST_TIMEOUT_MS / 1000.0 - 0.05, "a slow connection closed early (%.2fs)" % times[0])
    check(times[-1] <= REQUEST_TIMEOUT_MS / 1000.0 + 1.0 * faultlib.TIME_FACTOR,
          "a slow connection closed late (%.2fs)" % times[-1])
    check(not result["bad"], "/healthz failed during slowloris: %s" % result["bad"][:3])
    check(p99 < 10.0 * faultlib.TIME_FACTOR, "/healthz p99 %.2f ms" % p99)
    return times, p99, len(lat)


def refused(s):
    """True when a connection over the limit is answered 503 or closed within 3 s."""
    s.settimeout(3)
    try:
        data = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return data == b"" or data.startswith(b"HTTP/1.1 503")


def flood(crawld):
    pid = crawld.proc.pid
    held = [socket.create_connection(crawld.address(), timeout=5) for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.5)
    # Warm-up wave, so that the baseline includes whatever one wave allocates once.
    wave = [socket.create_connection(crawld.address(), timeout=5) for _ in range(100)]
    for s in wave:
        refused(s)
        s.close()
    time.sleep(0.3)
    rss_before, fds_before = faultlib.rss_mib(pid), faultlib.open_fds(pid)
    rss_peak = rss_before
    n_refused = n_total = 0
    not_refused = 0
    for _ in range(FLOOD // 250):
        wave = []
        for _ in range(250):
            try:
                wave.append(socket.create_connection(crawld.address(), timeout=5))
            except OSError:
                n_refused += 1  # refused at connect: fine
                n_total += 1
        for s in wave:
            n_total += 1
            if refused(s):
                n_refused += 1
            else:
                not_refused += 1
            s.close()
        rss_peak = max(rss_peak, faultlib.rss_mib(pid))
    time.sleep(0.5)
    rss_after, fds_after = faultlib.rss_mib(pid), faultlib.open_fds(pid)
    note("flood: %d/%d refused; RSS %.1f -> peak %.1f -> %.1f MiB; fds %d -> %d"
         % (n_refused, n_total, rss_before, rss_peak, rss_after, fds_before, fds_after))
    check(not_refused == 0, "%d connections over the limit were not refused" % not_refused)
    faultlib.check_memory(rss_peak - rss_before <= 8, "RSS grew by %.1f MiB during the flood" % (rss_peak - rss_before))
    check(fds_after <= fds_before + 2, "descriptors %d -> %d" % (fds_before, fds_after))
    check(crawld.alive(), "crawld exited")
    for s in held:
        s.close()
    wait_until(lambda: crawld.request("GET", "/healthz")[0] == 200, 5, what="healthz after the flood")
    return n_refused, n_total, rss_before, rss_peak, rss_after


def limits(crawld):
    s = crawld.socket(timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n")
    line, headers, _, _ = read_response(s)
    s.close()
    check(line.split()[1] == "431", "oversized header: %s" % line)
    check(headers.get("content-type", "").startswith("application/problem+json"), "431 content type")
    s = crawld.socket(timeout=5)
    t0 = time.monotonic()
    s.sendall(b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
    line, headers, _, _ = read_response(s)  # no body byte was sent
    ms413 = (time.monotonic() - t0) * 1000
    s.close()
    check(line.split()[1] == "413", "oversized Content-Length: %s" % line)
    check(ms413 < 1000 * faultlib.TIME_FACTOR, "413 took %.0f ms" % ms413)
    return ms413


def malformed(crawld):
    kinds = list(MALFORMED_KINDS.items())
    results = []
    lock = threading.Lock()

    def worker(offset):
        for i in range(offset, MALFORMED, 8):
            name, payload = kinds[i % len(kinds)]
            try:
                s = crawld.socket(timeout=5)
                s.sendall(payload)
                line, headers, data, _ = read_response(s)
                s.close()
                status = int(line.split()[1])
                ok = status == 400 and headers.get("content-type", "").startswith("application/problem+json")
                outcome = (name, status, ok)
            except OSError as e:
                outcome = (name, repr(e), False)
            with lock:
                results.append(outcome)
            if i % 100 == 0:
                with lock:
                    results.append(("healthz", crawld.request("GET", "/healthz")[0], None))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = [r for r in results if r[2] is False]
    health = [r for r in results if r[2] is None]
    n = len(results) - len(health)
    note("malformed: %d requests of %d kinds, %d not answered 400" % (n, len(kinds), len(bad)))
    check(n == MALFORMED, "%d malformed requests done" % n)
    check(not bad, "not answered 400: %s" % sorted(set((r[0], r[1]) for r in bad))[:10])
    check(all(r[1] == 200 for r in health), "healthz during malformed requests: %s" % health)
    check(crawld.alive() and crawld.request("GET", "/healthz")[0] == 200, "server stopped serving")
    return n, len(kinds)


def main():
    fd_limit = raise_fd_limit(8192)
    check(fd_limit >= SLOW + FLOOD // 4 + 200, "open file limit %d too low" % fd_limit)
    config = {"server": {"request_timeout_ms": REQUEST_TIMEOUT_MS}, "log": {"access_log": False}}
    with Crawld(config, name="f6-slowloris") as crawld:
        times, p99, polls = slowloris(crawld)
        ms413 = limits(crawld)
        n_bad, n_kinds = malformed(crawld)
        check(crawld.alive(), "crawld exited")
    config = {"server": {"max_connections": MAX_CONNECTIONS, "request_timeout_ms": 30000},
              "log": {"access_log": False}}
    with Crawld(config, name="f6-flood") as crawld:
        n_refused, n_total, rss_before, rss_peak, rss_after = flood(crawld)
    figure(6, slow_conns=SLOW, request_timeout_ms=REQUEST_TIMEOUT_MS,
           closed_after_s="%.2f-%.2f" % (times[0], times[-1]), healthz_polls=polls, healthz_p99_ms="%.2f" % p99,
           flood=n_total, refused=n_refused, max_connections=MAX_CONNECTIONS,
           flood_rss_mib="%.1f/%.1f/%.1f" % (rss_before, rss_peak, rss_after), h431=1,
           h413_ms="%.1f" % ms413, malformed=n_bad, malformed_kinds=n_kinds, malformed_400=n_bad, http_5xx=0)


if __name__ == "__main__":
    faultlib.run(main)
