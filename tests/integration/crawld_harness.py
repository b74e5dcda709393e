"""Starts the real crawld binary for integration tests.

CRAWLD_BIN names the binary (CTest sets it). A Crawld instance writes a
temporary config file (server.port 0 plus the test's overrides), starts the
binary with --port 0, waits for its "listening on ADDR:PORT" line and keeps
reading its log in the background so the pipe never fills up. The process is
always killed at the end; the log is kept under CRAWLD_TEST_OUT (or a
temporary directory) and printed when a test fails.
"""

import copy
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

LISTENING = re.compile(r"listening on (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)")

ONE_TARGET = [{"name": "league", "seeds": ["http://127.0.0.1:9/{season}"]}]
# Every server started, for the logs printed when a test fails.
STARTED = []

TWO_TARGETS = ONE_TARGET + [{"name": "cup", "seeds": ["http://127.0.0.1:9/cup/{season}"]}]


def body(data):
    """A JSON response body (bytes) as Python values."""
    return json.loads(data.decode("utf-8"))


def crawld_bin():
    path = os.environ.get("CRAWLD_BIN")
    if not path:
        raise RuntimeError("CRAWLD_BIN is not set (run the tests through ctest)")
    return path


def sanitized(path=None):
    """True when the binary (default CRAWLD_BIN) is an AddressSanitizer or
    ThreadSanitizer build (scripts/test runs the suite under each)."""
    path = path or os.environ.get("CRAWLD_BIN", "")
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in out or "libtsan" in out


def wait_for(predicate, what, timeout=30, interval=0.05):
    """Polls `predicate` until it returns something true, which is returned;
    fails the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(what + " not reached within %s s" % timeout)


def out_dir():
    path = os.environ.get("CRAWLD_TEST_OUT") or os.path.join(tempfile.gettempdir(), "crawld-test-out")
    os.makedirs(path, exist_ok=True)
    return path


def merge(base, overrides):
    """Deep-merges dict `overrides` into a copy of `base`."""
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def write_config(config, name="crawld"):
    fd, path = tempfile.mkstemp(prefix=name + "-", suffix=".json", dir=out_dir())
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
    return path


def run_binary(args, timeout=30, env=None):
    """Runs crawld to completion (for CLI checks); returns CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([crawld_bin()] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=full_env)


class Crawld:
    """One running crawld; use as a context manager."""

    def __init__(self, config=None, name="crawld", start_timeout=20, extra_args=()):
        self.config = merge({"server": {"port": 0}, "crawl": {"targets": ONE_TARGET}}, config or {})
        self.name = name
        self.start_timeout = start_timeout
        self.extra_args = list(extra_args)
        self.proc = None
        self.host = None
        self.port = None
        self.log_lines = []
        self._log_lock = threading.Lock()
        self._reader = None
        self.config_path = None
        self.log_path = None

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        self.config_path = write_config(self.config, self.name)
        self.log_path = self.config_path[:-len(".json")] + ".log"
        env = dict(os.environ)
        for var in ("CRAWLD_PORT", "CRAWLD_LISTEN", "CRAWLD_DATABASE_URL", "CRAWLD_LOG_LEVEL", "CRAWLD_API_TOKEN"):
            env.pop(var, None)
        # ASan/UBSan reports go to the log as well.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        # A process group of its own: a test that stops an instance (SIGSTOP)
        # must be the only one to continue it. In the test's group, the exit
        # of another member can leave the group orphaned with a stopped
        # process in it, and the kernel then sends the group SIGHUP and
        # SIGCONT (POSIX's rule for orphaned process groups).
        self.proc = subprocess.Popen(
            [crawld_bin(), "--config", self.config_path, "--port", "0"] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, process_group=0)
        found = threading.Event()

        def read_log():
            with open(self.log_path, "wb") as log:
                for raw in self.proc.stderr:
                    log.write(raw)
                    log.flush()
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    with self._log_lock:
                        self.log_lines.append(line)
                    if not found.is_set():
                        m = LISTENING.search(line)
                        if m:
                            self.host = m.group(1).strip("[]")
                            self.port = int(m.group(2))
                            found.set()

        STARTED.append(self)
        self._reader = threading.Thread(target=read_log, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.start_timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("crawld did not report 'listening on ADDR:PORT' (exit code %s); log:\n%s"
                                   % (self.proc.returncode, self.log_text()))
        return self

    def stop(self):
        """Stops the process: SIGTERM, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        with self._log_lock:
            return "\n".join(self.log_lines)

    # -- clients -------------------------------------------------------------

    def address(self):
        return (self.host, self.port)

    def connection(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def socket(self, timeout=10):
        return socket.create_connection(self.address(), timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a fresh connection: (status, headers dict lower-case, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()


def read_response(sock, head=False, data=b""):
    """Reads one HTTP response from a raw socket.

    `data` holds bytes already received (the leftover of a previous call).
    Returns (status line, headers dict lower-case, body bytes, leftover bytes)
    or raises ConnectionError when the peer closes before a full response.
    """
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a full header; got %r" % data)
        data += chunk
    header, _, rest = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed in the body")
        rest += chunk
    return lines[0], headers, rest[:length], rest[length:]


def closed_by_peer(sock, timeout):
    """True when the peer closes the connection (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def main():
    """unittest.main(), then the logs of every server started when something failed."""
    import unittest
    program = unittest.main(exit=False, verbosity=2)
    result = program.result
    if not result.wasSuccessful():
        for server in STARTED:
            lines = server.log_text().splitlines()
            sys.stderr.write("---- crawld log %s (last 200 of %d lines) ----\n%s\n---- end of log ----\n"
                             % (server.log_path, len(lines), "\n".join(lines[-200:])))
        sys.exit(1)
    sys.exit(0)
