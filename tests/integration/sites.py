"""Local sites for integration tests, all on 127.0.0.1.

DemoSite runs scripts/demo_site.py (the same site scripts/run serves);
HangingServer accepts connections and never answers; SlowSite answers each
page after a delay and has broken links.
"""
import http.server
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from crawld_harness import wait_for

ROOT = os.environ.get("CRAWLD_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# The demo site's shape (scripts/demo_site.py): a season index linking 12
# teams (and a robots-disallowed /private/ page); each team links 4 matches.
DEMO_TEAMS = 12
DEMO_MATCHES_PER_TEAM = 4


class DemoSite:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="demo-site-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "scripts", "demo_site.py"),
                                      "--port", str(self.port), "--root", self.root],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url("/robots.txt"), timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("demo site did not start")
                time.sleep(0.05)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class HangingServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self._stop = True
        self.thread.join(timeout=2)
        for conn in self.held:
            conn.close()
        self.sock.close()


class SlowSite:
    """A small site whose pages each take `delay` seconds: an index linking
    `pages` pages and `broken` links that answer 404. Slow enough to watch a
    crawl run; robots.txt is 404 (no rules)."""

    def __init__(self, pages=8, broken=3, delay=0.15):
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/":
                    links = "".join('<a href="/p/%d">p%d</a> ' % (i, i) for i in range(site.pages))
                    links += "".join('<a href="/missing/%d">gone</a> ' % i for i in range(site.broken))
                    self.answer(200, "<html><title>slow</title><body>%s</body></html>" % links)
                elif self.path.startswith("/p/"):
                    time.sleep(site.delay)
                    self.answer(200, "<html><title>%s</title></html>" % self.path)
                else:
                    self.answer(404, "not here")

            def answer(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.pages, self.broken, self.delay = pages, broken, delay
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SitesTestCase(unittest.TestCase):
    """A test case with a DemoSite and a HangingServer for the whole class,
    and polling with a deadline."""

    @classmethod
    def setUpClass(cls):
        cls.demo = DemoSite()
        cls.hang = HangingServer()

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()
        cls.hang.stop()

    def wait_until(self, predicate, timeout=30, interval=0.05, what="condition"):
        """Polls until predicate() returns something truthy, and returns it."""
        return wait_for(predicate, what, timeout, interval)
