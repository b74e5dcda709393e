"""Shared helpers for the fault and abuse scenarios (tests/faults/).

Each scenario is a plain script: it drives the real crawld binary
(CRAWLD_BIN) against local sites on 127.0.0.1 and, where it needs one, the
run's throwaway PostgreSQL (CRAWLD_PG_URL_FILE). It asserts its pass
criterion and prints one line

    FIGURE scenario=<n> key=value ...

so that a table can be built from the CTest output. On failure the logs of
every crawld it started are printed and the script exits 1.
"""
import json
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import crawld_harness  # noqa: E402
from crawld_harness import Crawld  # noqa: E402,F401

TERMINAL = ("succeeded", "failed", "cancelled", "timed_out", "interrupted")


# Under a sanitizer the binary is several times slower and its memory use
# (shadow, quarantine) says nothing about the real build: latency bounds are
# widened by TIME_FACTOR and memory bounds are reported but not asserted.
SANITIZED = crawld_harness.sanitized()
TIME_FACTOR = 5 if SANITIZED else 1


class ScenarioFailed(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise ScenarioFailed(message)


def figure(scenario, **values):
    if SANITIZED:
        values["sanitized"] = 1
    parts = " ".join("%s=%s" % (k, v) for k, v in values.items())
    print("FIGURE scenario=%s %s" % (scenario, parts), flush=True)


def note(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def check_memory(condition, message):
    """A memory bound: asserted on the real build, only reported under a sanitizer."""
    if SANITIZED:
        if not condition:
            note("memory bound not asserted under a sanitizer: " + message)
        return
    check(condition, message)


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScenarioFailed("%s not reached within %ss" % (what, timeout))
        time.sleep(interval)


def proc_status(pid, key):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_mib(pid):
    return proc_status(pid, "VmRSS") / 1024.0


def peak_rss_mib(pid):
    return proc_status(pid, "VmHWM") / 1024.0


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def body(data):
    return json.loads(data.decode("utf-8"))


def post_start(crawld, params, headers=None, expect=202):
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    status, _, data = crawld.request("POST", "/start", json.dumps(params), hdrs)
    if expect is not None:
        check(status == expect, "POST /start %r: expected %s, got %s %r" % (params, expect, status, data[:300]))
    return body(data)


def job(crawld, job_id):
    status, _, data = crawld.request("GET", "/jobs/" + job_id)
    check(status == 200, "GET /jobs/%s: %s %r" % (job_id, status, data[:300]))
    return body(data)


def ready(crawld):
    try:
        return crawld.request("GET", "/readyz", timeout=3)[0] == 200
    except OSError:
        return False


def parse_time(text):
    """The API's timestamps: 2024-05-01T12:00:00.123Z -> epoch seconds."""
    import calendar
    main, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + (int(frac) / 1000.0 if frac else 0.0)


def run(main):
    """Runs a scenario; on failure prints the crawld logs and exits 1."""
    started = time.monotonic()
    try:
        main()
        # Every crawld stopped by its context manager (SIGTERM) must exit 0:
        # under a sanitizer this is where leaks and late errors show.
        for server in crawld_harness.STARTED:
            server.stop()
            expected = (-signal.SIGKILL,) if getattr(server, "killed_on_purpose", False) else (0,)
            check(server.proc.returncode in expected, "crawld %s exited with %s, expected %s"
                  % (server.log_path, server.proc.returncode, expected))
    except BaseException:  # noqa: B902 - a failed scenario must always report
        traceback.print_exc()
        for server in crawld_harness.STARTED:
            lines = server.log_text().splitlines()
            sys.stderr.write("---- crawld log %s (last 80 of %d lines) ----\n%s\n---- end of log ----\n"
                             % (server.log_path, len(lines), "\n".join(lines[-80:])))
        for server in crawld_harness.STARTED:
            if server.alive():
                server.proc.kill()
        sys.exit(1)
    finally:
        note("scenario took %.1fs" % (time.monotonic() - started))
    sys.exit(0)
