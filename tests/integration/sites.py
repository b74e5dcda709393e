"""Local sites for integration tests, all on 127.0.0.1.

DemoSite runs scripts/demo_site.py (the same site scripts/run serves);
HangingServer accepts connections and never answers.
"""
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        self.fail(f"{what} not reached in {timeout}s")
