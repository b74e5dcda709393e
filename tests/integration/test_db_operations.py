"""Operations over real sockets: /metrics passes promtool and counts what a
crawl did; bearer-token auth on every protected endpoint (and the token never
reaches the log); JSON logs carry job_id; SIGTERM with running and queued jobs
stops within the grace plus 2 s, records them in the database and exits 0; a
second signal exits at once."""
import json
import os
import re
import signal
import subprocess
import time

import crawld_harness
import pg
from crawld_harness import Crawld
from crawld_harness import body
from sites import SitesTestCase

TOKEN = "s3cret-token-for-tests-0123456789"


class OperationsTest(SitesTestCase):
    def targets(self):
        return [{"name": "demo", "seeds": [self.demo.url("/season/{season}/")], "deep_depth": 2},
                {"name": "hang", "seeds": [self.hang.url("/{season}")]}]

    def start(self, crawld, params, headers=None):
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        return crawld.request("POST", "/start", json.dumps(params), hdrs)

    def metrics(self, crawld):
        status, headers, data = crawld.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        return data.decode()

    def sample(self, text, name, labels=""):
        m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def test_metrics_pass_promtool_and_count_a_crawl(self):
        with Crawld({"crawl": {"allow_private_networks": True, "targets": self.targets()}}, name="ops-metrics") as c:
            before = self.metrics(c)
            status, _, data = self.start(c, {"target": "demo", "season": 2024, "deep": True})
            job_id = body(data)["id"]
            job = self.wait_until(lambda: (lambda j: j if j["state"] == "succeeded" else None)(
                body(c.request("GET", "/jobs/" + job_id)[2])), what="crawl done")
            c.request("GET", "/jobs/" + job_id)
            c.request("GET", "/jobs/00000000-0000-4000-8000-000000000000")
            c.request("GET", "/no/such/path/1")
            c.request("GET", "/no/such/path/2")
            text = self.metrics(c)
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            fetched = job["progress"]["fetched"]
            delta = self.sample(text, "crawld_pages_fetched_total", '{outcome="ok"}') - \
                self.sample(before, "crawld_pages_fetched_total", '{outcome="ok"}')
            self.assertEqual(delta, fetched)
            self.assertEqual(self.sample(text, "crawld_jobs_started_total"), 1)
            self.assertEqual(self.sample(text, "crawld_jobs_finished_total", '{result="succeeded"}'), 1)
            self.assertEqual(self.sample(text, "crawld_jobs", '{state="succeeded"}'), 1)
            self.assertGreater(self.sample(text, "crawld_fetch_bytes_total"), 0)
            self.assertGreater(self.sample(text, "process_resident_memory_bytes"), 1e6)
            self.assertGreater(self.sample(text, "process_open_fds"), 3)
            self.assertIn('crawld_build_info{version="', text)
            # Route labels are patterns: no raw ids or unknown paths as label values.
            self.assertNotIn(job_id, text)
            self.assertNotIn("/no/such/path", text)
            self.assertIn('route="/jobs/{id}"', text)
            self.assertIn('route="unmatched"', text)

    def test_bearer_tokens(self):
        config = {"crawl": {"allow_private_networks": True, "targets": self.targets()},
                  "auth": {"tokens": [TOKEN], "protect_reads": True, "public_metrics": True},
                  # The crawl of "hang" below never ends: a 1 s grace at stop, not 10.
                  "server": {"shutdown_grace_s": 1}}
        with Crawld(config, name="ops-auth") as c:
            job_path = "/jobs/00000000-0000-4000-8000-000000000000"
            protected = [("POST", "/start"), ("POST", job_path + "/cancel"), ("DELETE", job_path),
                         ("GET", "/jobs"), ("GET", job_path), ("GET", "/status"), ("GET", "/start")]
            for method, path in protected:
                for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abc"},
                                {"Authorization": "Basic " + TOKEN}):
                    status, hdrs, data = c.request(method, path, headers=headers)
                    self.assertEqual(status, 401, (method, path, headers))
                    self.assertTrue(hdrs["www-authenticate"].startswith("Bearer"))
                    self.assertEqual(hdrs["content-type"], "application/problem+json")
                status, _, data = c.request(method, path, headers={"Authorization": "Bearer " + TOKEN})
                self.assertNotEqual(status, 401, (method, path, data))
            for path in ("/healthz", "/readyz", "/metrics", "/"):
                self.assertEqual(c.request("GET", path)[0], 200, path)
            status, _, data = self.start(c, {"target": "hang", "season": 2024},
                                         {"Authorization": "Bearer " + TOKEN})
            self.assertEqual(status, 202, data)
            c.stop()
            self.assertNotIn(TOKEN, c.log_text())

    def test_mutations_need_a_token_but_reads_stay_open_by_default(self):
        config = {"crawl": {"allow_private_networks": True, "targets": self.targets()}, "auth": {"tokens": [TOKEN]}}
        with Crawld(config, name="ops-auth-reads") as c:
            self.assertEqual(c.request("GET", "/jobs")[0], 200)
            self.assertEqual(self.start(c, {"target": "hang", "season": 2024})[0], 401)

    def test_json_logs_carry_job_id(self):
        config = {"crawl": {"allow_private_networks": True, "targets": self.targets()}}
        with Crawld(config, name="ops-json-log", extra_args=["--log-format", "json"]) as c:
            status, _, data = self.start(c, {"target": "demo", "season": 2021})
            job_id = body(data)["id"]
            self.wait_until(lambda: body(c.request("GET", "/jobs/" + job_id)[2])["state"] == "succeeded")
            c.stop()
            lines = [json.loads(line) for line in c.log_text().splitlines() if line.startswith("{")]
            about_job = [l for l in lines if job_id in l["msg"]]
            self.assertGreaterEqual(len(about_job), 3)
            for line in about_job:
                self.assertEqual(line.get("job_id"), job_id, line)
            self.assertTrue(all("time" in l and "level" in l for l in lines))

    def test_sigterm_with_running_and_queued_jobs(self):
        db = pg.create_database()
        config = {"crawl": {"allow_private_networks": True, "targets": self.targets()},
                  "jobs": {"max_running": 2},
                  "server": {"shutdown_grace_s": 1},
                  "database": {"url": db, "instance_id": "ops-sigterm"}}
        c = Crawld(config, name="ops-sigterm").start()
        try:
            self.wait_until(lambda: c.request("GET", "/readyz")[0] == 200, what="ready")
            ids = [body(self.start(c, {"target": "hang", "season": s})[2])["id"] for s in (2001, 2002, 2003)]
            self.wait_until(lambda: int(pg.scalar(db, "select count(*) from crawl_jobs")) == 3, 10, what="rows")
            started = time.monotonic()
            c.proc.send_signal(signal.SIGTERM)
            # While draining: no new connections are accepted (or readiness says 503).
            code = c.proc.wait(timeout=10)
            elapsed = time.monotonic() - started
        finally:
            c.stop()
        self.assertEqual(code, 0, c.log_text()[-2000:])
        self.assertLess(elapsed, 1 + 2)
        rows = dict((r[0], r[1]) for r in pg.query(db, "select id, state from crawl_jobs"))
        self.assertEqual(sorted(rows), sorted(ids))
        self.assertTrue(all(state == "interrupted" for state in rows.values()), rows)

    def test_second_signal_exits_at_once(self):
        config = {"crawl": {"allow_private_networks": True, "targets": self.targets()},
                  "server": {"shutdown_grace_s": 30}}
        c = Crawld(config, name="ops-second-signal").start()
        try:
            self.assertEqual(self.start(c, {"target": "hang", "season": 2024})[0], 202)
            c.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(c.proc.poll())  # waiting for the running crawl's grace
            started = time.monotonic()
            c.proc.send_signal(signal.SIGTERM)
            code = c.proc.wait(timeout=5)
            self.assertLess(time.monotonic() - started, 1)
            self.assertNotEqual(code, 0)
        finally:
            c.stop()

    def test_sighup_reopens_the_log_file(self):
        log_file = os.path.join(crawld_harness.out_dir(), "ops-sighup-%d.log" % os.getpid())
        rotated = log_file + ".1"
        for path in (log_file, rotated):
            if os.path.exists(path):
                os.remove(path)
        config = {"log": {"file": log_file}, "crawl": {"targets": self.targets()}}
        # With a log file the listening line goes there, not to stderr: start by hand.
        path = crawld_harness.write_config(crawld_harness.merge({"server": {"port": 0}}, config), "ops-sighup")
        proc = subprocess.Popen([crawld_harness.crawld_bin(), "--config", path, "--port", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.wait_until(lambda: os.path.exists(log_file) and "listening on" in open(log_file).read(), 10)
            os.rename(log_file, rotated)
            proc.send_signal(signal.SIGHUP)
            self.wait_until(lambda: os.path.exists(log_file) and "reopened" in open(log_file).read(), 10,
                            what="new log file")
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)


if __name__ == "__main__":
    crawld_harness.main()
