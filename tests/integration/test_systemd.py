"""deploy/systemd/crawld.service: systemd-analyze verifies it and rates its
sandbox, and the real binary speaks Type=notify's protocol (READY once it
listens, RELOADING/READY around SIGHUP, STOPPING at a graceful stop) to a
NOTIFY_SOCKET of the test's own."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import crawld_harness
from sites import ROOT

UNIT = os.path.join(ROOT, "deploy", "systemd", "crawld.service")
# systemd-analyze security's exposure: 0 is fully locked down, 10 is none at
# all; below 2 it says "OK" (the README quotes the figure).
MAX_EXPOSURE = 2.0


def unit_for(binary, folder):
    """The unit with ExecStart pointing at the binary under test (verify
    checks that the command exists)."""
    with open(UNIT) as f:
        text = f.read()
    path = os.path.join(folder, "crawld.service")
    with open(path, "w") as f:
        f.write(text.replace("/usr/local/bin/crawld", binary))
    return path


@unittest.skipIf(shutil.which("systemd-analyze") is None, "systemd-analyze is not installed")
class UnitFileTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="crawld-unit-")
        self.addCleanup(shutil.rmtree, self.folder, True)

    def test_verify_passes(self):
        path = unit_for(crawld_harness.crawld_bin(), self.folder)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("crawld.service:", r.stderr, "verify warned about the unit: " + r.stderr)

    def test_verify_fails_on_a_broken_unit(self):
        # The check above can fail: an unknown directive in [Service] is reported.
        path = unit_for(crawld_harness.crawld_bin(), self.folder)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("[Service]\n", "[Service]\nProtectEverything=yes\n"))
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True, timeout=60)
        self.assertIn("ProtectEverything", r.stderr)

    def test_sandbox_exposure_is_low(self):
        path = unit_for(crawld_harness.crawld_bin(), self.folder)
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", path],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for crawld\.service: ([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLess(float(m.group(1)), MAX_EXPOSURE, r.stdout)

    def test_unit_keys(self):
        with open(UNIT) as f:
            keys = {}
            for line in f:
                if "=" in line and not line.startswith("#"):
                    k, v = line.rstrip("\n").split("=", 1)
                    keys.setdefault(k, []).append(v)
        self.assertEqual(keys["Type"], ["notify"])
        self.assertEqual(keys["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(keys["CapabilityBoundingSet"], [""])
        for k in ("DynamicUser", "NoNewPrivileges", "PrivateTmp"):
            self.assertEqual(keys[k], ["yes"], k)
        self.assertEqual(keys["ProtectSystem"], ["strict"])
        self.assertEqual(keys["ReadWritePaths"], ["/var/log/crawld"])


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="crawld-notify-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.path = os.path.join(self.folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.addCleanup(self.sock.close)

    def messages_until(self, wanted, timeout):
        """Datagrams received until one holds `wanted` (each as a dict)."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            got.append(fields)
            if wanted in data:
                return got
        self.fail(f"no {wanted!r} within {timeout}s; got {got}")

    @staticmethod
    def start_crawld(name, notify_socket):
        # crawld inherits the environment: NOTIFY_SOCKET set to the given
        # path, or removed for None, only while it starts.
        saved = os.environ.pop("NOTIFY_SOCKET", None)
        if notify_socket is not None:
            os.environ["NOTIFY_SOCKET"] = notify_socket
        try:
            return crawld_harness.Crawld(name=name).start()
        finally:
            os.environ.pop("NOTIFY_SOCKET", None)
            if saved is not None:
                os.environ["NOTIFY_SOCKET"] = saved

    def test_ready_reload_and_stopping(self):
        server = self.start_crawld("notify", self.path)
        try:
            first = self.messages_until("READY=1", 10)[-1]
            self.assertEqual(first.get("STATUS"), f"listening on {server.host}:{server.port}", first)
            # Ready means ready: the API answers.
            self.assertEqual(server.request("GET", "/healthz")[0], 200)

            server.proc.send_signal(signal.SIGHUP)
            got = self.messages_until("READY=1", 10)
            self.assertEqual(got[0].get("RELOADING"), "1", got)
            # READY=1 follows the reopen at once; the log line may still be
            # on its way to the file (slower under sanitizers).
            deadline = time.monotonic() + 10
            while "log file reopened" not in server.log_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("log file reopened", server.log_text())

            server.proc.send_signal(signal.SIGTERM)
            got = self.messages_until("STOPPING=1", 10)
            self.assertEqual(server.proc.wait(timeout=20), 0)
        finally:
            server.stop()

    def test_without_a_manager_nothing_breaks(self):
        # No NOTIFY_SOCKET at all (as when run by hand, or under systemd's
        # Type=simple): the service starts, answers and stops with exit 0.
        server = self.start_crawld("no-notify", None)
        try:
            self.assertEqual(server.request("GET", "/healthz")[0], 200)
            server.proc.send_signal(signal.SIGHUP)
            self.assertEqual(server.request("GET", "/healthz")[0], 200)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_a_manager_that_went_away_does_not_stop_the_service(self):
        # NOTIFY_SOCKET names a socket nobody listens on any more.
        self.sock.close()
        os.unlink(self.path)
        server = self.start_crawld("notify-gone", self.path)
        try:
            self.assertEqual(server.request("GET", "/healthz")[0], 200)
            server.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            self.assertTrue(server.alive())
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    crawld_harness.main()
