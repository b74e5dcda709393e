#!/usr/bin/python3
"""A small web site for the crawler tests (Python standard library only).

Serves on 127.0.0.1, port 0 (the kernel picks one), and prints the port on
the first line of standard output. Everything a crawler must cope with is
here: a link graph with known reachable sets per depth, redirects (one
followed, one loop, one into a disallowed path, one to another host), 404
and 500 pages, a non-HTML file, pages bigger than a body cap, pages that
never answer, a robots.txt, a link to another host and an endless calendar.

It records every request path and the largest number of requests in flight
at once; GET /__log returns them as JSON, GET /__reset clears them.

Link graph (P = this server's port; depth from "/"):
  0  /
  1  /a.html /b.html /c.html /private/open.html /redirect/to-d (-> /d.html)
     /redirect/loop1 (<-> /redirect/loop2) /redirect/to-private
     /redirect/to-foreign /missing /error /file.pdf /big.html /calendar/2024/1
  2  /sub/x.html (via <base href>) /e.html /~user.html /f.html
     /calendar/2024/2 /calendar/2023/12
  3  /g.html /h.html /calendar/2024/3 /calendar/2023/11
  4  /i.html
Never requested by a well-behaved crawler: /private/secret.html (robots),
/nofollowed.html (rel=nofollow), http://localhost:P/foreign.html (other host).

Compressed bodies: /enc/ links to /enc/gzip.html, /enc/deflate.html,
/enc/raw-deflate.html and /enc/br.html, each sent with that Content-Encoding
when the request's Accept-Encoding names it (plain otherwise), each linking
to /enc/found-<kind>.html; /enc/bomb is 10 MB of zeros gzipped to 10 KB.

Retries: /retry/503-after-2 answers 503 with Retry-After: 2 once, then 200;
/retry/429-date 429 with Retry-After as an HTTP-date 2 s ahead once, then
200; /retry/502-twice 502 twice, then 200; /retry/always-503 always 503;
/retry/too-long 503 with Retry-After: 3600. /to-reset/ links to 20 pages on
the --away-port server; started with --reset, a server resets every
connection at once.

Sitemaps: robots.txt names /maps/index.xml, an index of /maps/a.xml.gz (a
gzip file), /maps/b.xml (sent gzip-encoded) and a sitemap on another host;
they list /hidden/1.html../hidden/3.html, which no link reaches; /sitemap.xml
is a text sitemap listing /hidden/4.html.

Redirects across hosts: /away/ links to /away/0../away/3, each of which
redirects to /slow/N on another server (--away-port); /ping redirects to
http://localhost:P/pong, which redirects back to http://127.0.0.1:P/ping.
"""

import argparse
import email.utils
import gzip
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


try:
    import brotli  # Debian python3-brotli
except ImportError:  # the br page is then sent plain, and the test says so
    brotli = None


def raw_deflate(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {"gzip": ("gzip", gzip.compress), "deflate": ("deflate", zlib.compress),
            "raw-deflate": ("deflate", raw_deflate), "br": ("br", brotli.compress if brotli else None)}


def page(title, links=(), head=""):
    anchors = "\n".join('<a href="%s">%s</a>' % (href, text) for href, text in links)
    return ("<!DOCTYPE html>\n<html><head><title>%s</title>%s</head>\n<body>\n%s\n</body></html>\n"
            % (title, head, anchors)).encode()


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.times = []
        self.inflight = 0
        self.max_inflight = 0
        self.connections = 0
        self.accept_encodings = []
        self.hits = {}

    def reset(self):
        with self.lock:
            self.requests, self.times = [], []
            self.max_inflight = self.inflight
            self.connections = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be seen
    server_version = "crawld-test-site"

    def log_message(self, format, *args):  # quiet
        pass

    def handle(self):
        if self.server.options.reset:
            # An RST instead of an answer: SO_LINGER with a zero timeout.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        # Crawlers drop connections mid-body (a capped page) and at exit.
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1

    def send(self, status, body=b"", content_type="text/html; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location, status=302):
        self.send(status, b"moved", headers=[("Location", location)])

    def do_GET(self):
        state = self.server.state
        path = self.path
        if path.startswith("/__"):
            return self.control(path)
        with state.lock:
            state.requests.append(path)
            state.times.append(time.monotonic())
            state.inflight += 1
            state.max_inflight = max(state.max_inflight, state.inflight)
        try:
            self.route(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with state.lock:
                state.inflight -= 1

    def control(self, path):
        state = self.server.state
        if path == "/__reset":
            state.reset()
            return self.send(200, b"{}", "application/json")
        with state.lock:
            body = json.dumps({"requests": state.requests, "times": state.times,
                               "max_inflight": state.max_inflight,
                               "connections": state.connections,
                               "accept_encodings": state.accept_encodings}).encode()
        self.send(200, body, "application/json")

    def route(self, path):
        opts = self.server.options
        port = self.server.server_address[1]
        graph = {
            "/": page("Index", [
                ("a.html", "relative"),
                ("/b.html", "absolute path"),
                ("http://127.0.0.1:%d/c.html#frag" % port, "absolute URL with fragment"),
                ("/./a.html#top", "a.html spelled differently"),
                ("HTTP://127.0.0.1:%d/b.html" % port, "b.html spelled differently"),
                ("/private/secret.html", "disallowed by robots.txt"),
                ("/private/open.html", "allowed inside a disallowed folder"),
                ("http://localhost:%d/foreign.html" % port, "another host"),
                ("mailto:someone@example.com", "mail"),
                ("javascript:void(0)", "script"),
                ("/redirect/to-d", "redirect"),
                ("/redirect/loop1", "redirect loop"),
                ("/redirect/to-private", "redirect into robots-disallowed"),
                ("/redirect/to-foreign", "redirect to another host"),
                ("/missing", "404"),
                ("/error", "500"),
                ("/file.pdf", "not HTML"),
                ("/big.html", "bigger than the cap"),
                ("/calendar/2024/1", "link trap"),
            ]).replace(b"</body>", b'<a href="/nofollowed.html" rel="nofollow">nofollow</a></body>'),
            "/a.html": page("A", [("x.html", "via base"), ("../a.html", "self via base")],
                            head='<base href="/sub/">'),
            "/b.html": page("B", [("/c.html", "c"), ("e.html", "e")]),
            "/c.html": page("C", [("/%7euser.html", "percent-encoded tilde"), ("/c.html#again", "self")]),
            "/d.html": page("D", [("/f.html", "f")]),
            "/e.html": page("E", [("/h.html", "h")]),
            "/f.html": page("F"),
            "/g.html": page("G", [("/i.html", "i")]),
            "/h.html": page("H", [("/i.html", "i")]),
            "/i.html": page("I"),
            "/sub/x.html": page("X", [("/g.html", "g")]),
            "/~user.html": page("User"),
            "/%7Euser.html": page("User"),
            "/private/open.html": page("Open"),
            "/private/secret.html": page("Secret"),
            "/nofollowed.html": page("Nofollowed"),
            "/foreign.html": page("Foreign"),
            "/hang-start.html": page("Hang", [("/hang/%d" % i, "hang") for i in range(4)]),
            "/fan/": page("Fan", [("/slow/%d" % i, "slow") for i in range(20)]),
            "/away/": page("Away", [("/away/%d" % i, "elsewhere") for i in range(4)]),
        }
        if path == "/enc/":
            return self.send(200, page("Encodings", [("/enc/%s.html" % kind, kind) for kind in ENCODERS] +
                                       [("/enc/bomb", "bomb")]))
        if path.startswith("/enc/") and path[5:-5] in ENCODERS:
            kind = path[5:-5]
            encoding, encode = ENCODERS[kind]
            body = page("Encoded " + kind, [("/enc/found-%s.html" % kind, "found")])
            with self.server.state.lock:
                self.server.state.accept_encodings.append(self.headers.get("Accept-Encoding", ""))
            if encode and encoding in self.headers.get("Accept-Encoding", ""):
                return self.send(200, encode(body), headers=[("Content-Encoding", encoding)])
            return self.send(200, body)
        if path == "/enc/bomb":
            return self.send(200, gzip.compress(b"\0" * (10 << 20)), headers=[("Content-Encoding", "gzip")])
        if path.startswith("/maps/") or path == "/sitemap.xml":
            return self.sitemap(path, port)
        if path.startswith("/hidden/"):
            return self.send(200, page("Hidden " + path))
        if path.startswith("/retry/"):
            return self.retry(path)
        if path == "/to-reset/" and opts.away_port:
            return self.send(200, page("To reset", [("http://127.0.0.1:%d/r/%d" % (opts.away_port, i), "r")
                                                    for i in range(20)]))
        if path == "/robots.txt":
            if opts.robots_status != 200:
                return self.send(opts.robots_status, b"no robots", "text/plain")
            text = ("User-agent: *\nDisallow: /private/\nAllow: /private/open.html\n"
                    "Sitemap: http://127.0.0.1:%d/maps/index.xml\n" % port)
            if opts.crawl_delay:
                text += "Crawl-delay: %s\n" % opts.crawl_delay
            return self.send(200, text.encode(), "text/plain")
        if path in graph:
            return self.send(200, graph[path])
        if path == "/redirect/to-d":
            return self.redirect("/d.html")
        if path == "/redirect/loop1":
            return self.redirect("/redirect/loop2")
        if path == "/redirect/loop2":
            return self.redirect("http://127.0.0.1:%d/redirect/loop1" % port, 301)
        if path == "/redirect/to-private":
            return self.redirect("/private/secret.html")
        if path == "/redirect/to-foreign":
            return self.redirect("http://localhost:%d/foreign.html" % port)
        if path.startswith("/away/") and opts.away_port:
            return self.redirect("http://127.0.0.1:%d/slow/%s" % (opts.away_port, path.rsplit("/", 1)[1]))
        if path == "/ping":
            return self.redirect("http://localhost:%d/pong" % port)
        if path == "/pong":
            return self.redirect("http://127.0.0.1:%d/ping" % port)
        if path.startswith("/redirect/chain/"):
            n = int(path.rsplit("/", 1)[1])
            return self.redirect("/redirect/chain/%d" % (n - 1)) if n > 0 else self.send(200, page("End"))
        if path == "/error":
            return self.send(500, page("Server error"))
        if path == "/file.pdf":
            return self.send(200, b"%PDF-1.4 not really a pdf\n" * 20, "application/pdf")
        if path == "/big.html":
            body = page("Big").replace(b"</body>", b"<p>" + b"lorem ipsum " * 20000 + b"</p></body>")
            return self.send(200, body)
        if path == "/huge":
            # Claims a gigabyte and streams until the client goes away.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            chunk = b"x" * 65536
            for _ in range((1 << 30) // len(chunk)):
                self.wfile.write(chunk)
            return
        if path.startswith("/calendar/"):
            year, month = (int(x) for x in path.split("/")[2:4])
            nxt = (year + 1, 1) if month == 12 else (year, month + 1)
            prv = (year - 1, 12) if month == 1 else (year, month - 1)
            return self.send(200, page("%d-%02d" % (year, month), [
                ("/calendar/%d/%d" % nxt, "next"), ("/calendar/%d/%d" % prv, "previous")]))
        if path.startswith("/hang/"):
            deadline = time.monotonic() + opts.hang_seconds
            while time.monotonic() < deadline:
                time.sleep(0.05)
            return self.send(200, page("Finally"))
        if path.startswith("/slow/"):
            time.sleep(0.1)
            return self.send(200, page("Slow " + path))
        if path.startswith("/content-type/"):
            return self.send(200, page("CT"), 'Text/HTML ; Charset="ISO-8859-1"')
        return self.send(404, page("Not found"))


    def sitemap(self, path, port):
        origin = "http://127.0.0.1:%d" % port
        ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        def urlset(*paths):
            return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset %s>%s</urlset>\n' % (ns, "".join(
                "<url><loc> %s </loc><lastmod>2024-01-01</lastmod></url>" % p for p in paths))).encode()
        if path == "/maps/index.xml":
            maps = [origin + "/maps/a.xml.gz", origin + "/maps/b.xml", "http://localhost:%d/maps/c.xml" % port]
            body = ('<?xml version="1.0"?><sitemapindex %s>%s</sitemapindex>' % (ns, "".join(
                "<sitemap><loc>%s</loc></sitemap>" % m for m in maps))).encode()
            return self.send(200, body, "application/xml")
        if path == "/maps/a.xml.gz":
            body = urlset(origin + "/hidden/1.html", "/hidden/2.html", "http://localhost:%d/hidden/x" % port,
                          "http://[::1")
            return self.send(200, gzip.compress(body), "application/gzip")
        if path == "/maps/b.xml":
            return self.send(200, gzip.compress(urlset(origin + "/hidden/3.html")), "application/xml",
                             headers=[("Content-Encoding", "gzip")])
        if path == "/sitemap.xml":
            return self.send(200, (origin + "/hidden/4.html\n").encode(), "text/plain")
        return self.send(404, page("Not found"))

    def retry(self, path):
        state = self.server.state
        with state.lock:
            hits = state.hits[path] = state.hits.get(path, 0) + 1
        if path == "/retry/503-after-2" and hits == 1:
            return self.send(503, b"busy", "text/plain", headers=[("Retry-After", "2")])
        if path == "/retry/429-date" and hits == 1:
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            return self.send(429, b"slow down", "text/plain", headers=[("Retry-After", when)])
        if path == "/retry/502-twice" and hits <= 2:
            return self.send(502, b"bad gateway", "text/plain")
        if path == "/retry/always-503":
            return self.send(503, b"down", "text/plain")
        if path == "/retry/too-long":
            return self.send(503, b"down for maintenance", "text/plain", headers=[("Retry-After", "3600")])
        return self.send(200, page("Retried " + path))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--crawl-delay", default="", help="Crawl-delay value for robots.txt (seconds)")
    parser.add_argument("--robots-status", type=int, default=200)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--away-port", type=int, default=0, help="port of the server /away/N redirects to")
    parser.add_argument("--reset", action="store_true", help="reset every connection instead of answering")
    options = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # a hanging request must not keep the process alive
    server.options = options
    server.state = State()
    if options.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls[0], options.tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    # Exit with the test that started us, even when it dies without stopping us.
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
