"""Jobs over real sockets: the real binary, the real crawler, local sites.

POST /start answers at once while the crawl runs; jobs reach succeeded,
timed_out (watchdog) or cancelled (operator); duplicates get 409, a full
queue 429; bad input 4xx problem+json while the server keeps serving.
"""
import json
import subprocess
import time

import crawld_harness
from crawld_harness import Crawld
from crawld_harness import body
from sites import DEMO_MATCHES_PER_TEAM, DEMO_TEAMS, SitesTestCase, SlowSite


# Time the machine may add to a bound derived from the configuration (2 cores,
# sanitizer builds several times slower).
SLACK = 2.0 if crawld_harness.sanitized() else 0.25


class JobsApiTest(SitesTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.slow = SlowSite()
        config = {
            "crawl": {
                "allow_private_networks": True,
                "request_timeout_ms": 60000,
                "min_season": 2000, "max_season": 2100,
                "targets": [
                    {"name": "demo", "seeds": [cls.demo.url("/season/{season}/")], "shallow_depth": 0,
                     "deep_depth": 2},
                    {"name": "hang", "seeds": [cls.hang.url("/{season}")]},
                    {"name": "slow", "seeds": [cls.slow.url("/")], "deep_depth": 1},
                ],
            },
            "jobs": {"max_running": 2, "max_queued": 2, "hard_kill_grace_ms": 300, "default_timeout_s": 60},
        }
        cls.crawld = Crawld(config, name="jobs-api").start()

    @classmethod
    def tearDownClass(cls):
        cls.crawld.stop()
        cls.slow.stop()
        super().tearDownClass()

    def tearDown(self):
        # Leave no job running or queued for the next test (a queued job
        # starts as soon as a running one is cancelled, hence the loop).
        def settled():
            busy = [j for state in ("running", "queued")
                    for j in body(self.crawld.request("GET", "/jobs?status=%s&limit=500" % state)[2])["jobs"]]
            for job in busy:
                self.crawld.request("DELETE", "/jobs/" + job["id"])
            return not busy
        self.wait_until(settled, interval=0.05)

    def start(self, params, headers=None):
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        return self.crawld.request("POST", "/start", json.dumps(params), hdrs)

    def job(self, job_id):
        status, _, data = self.crawld.request("GET", "/jobs/" + job_id)
        self.assertEqual(status, 200, data)
        return body(data)

    def wait_state_where(self, job_id, predicate, timeout=30):
        return self.wait_until(lambda: (lambda j: j if predicate(j) else None)(self.job(job_id)), timeout,
                               interval=0.01)

    def wait_state(self, job_id, states, timeout=30):
        return self.wait_until(lambda: (lambda j: j if j["state"] in states else None)(self.job(job_id)), timeout,
                               interval=0.01)

    def test_start_answers_at_once_and_the_crawl_succeeds(self):
        status, headers, data = self.start({"target": "demo", "season": 2024, "deep": True})
        self.assertEqual(status, 202, data)
        job = body(data)
        self.assertEqual(headers["location"], "/jobs/" + job["id"])
        # At once: the answer describes a job that has not finished.
        self.assertIn(job["state"], ("queued", "running"))
        self.assertIsNone(job["finished_at"])
        self.assertEqual(job["params"], {"target": "demo", "season": 2024, "deep": True, "timeout": 60,
                                         "log_to_db": True})
        done = self.wait_state(job["id"], ("succeeded", "failed", "cancelled", "timed_out"))
        self.assertEqual(done["state"], "succeeded", done)
        # Season index + teams + their matches; the robots-disallowed page is not fetched.
        expected = 1 + DEMO_TEAMS + DEMO_TEAMS * DEMO_MATCHES_PER_TEAM
        self.assertEqual(done["progress"]["fetched"], expected, done)
        self.assertEqual(done["progress"]["failed"], 0, done)
        self.assertEqual(done["progress"]["http_errors"], 0, done)
        self.assertIsNotNone(done["started_at"])
        self.assertIsNotNone(done["finished_at"])

    def test_a_running_job_shows_its_progress_and_its_broken_links(self):
        status, _, data = self.start({"target": "slow", "deep": True})
        self.assertEqual(status, 202, data)
        job_id = body(data)["id"]
        # Each of the site's pages takes a while: the job is seen running
        # with some pages fetched and some still to go.
        total = 1 + self.slow.pages + self.slow.broken
        midway = self.wait_state_where(
            job_id, lambda j: j["state"] != "running" or 0 < j["progress"]["fetched"] < total)
        self.assertEqual(midway["state"], "running", midway)
        self.assertIsNone(midway["finished_at"])
        done = self.wait_state(job_id, ("succeeded", "failed", "cancelled", "timed_out"))
        self.assertEqual(done["state"], "succeeded", done)
        self.assertEqual(done["progress"]["fetched"], total, done)
        # The 404 links are fetched pages, and the job says how many were broken.
        self.assertEqual(done["progress"]["http_errors"], self.slow.broken, done)
        self.assertEqual(done["progress"]["failed"], 0, done)

    def test_shallow_crawl_fetches_the_seed_only(self):
        status, _, data = self.crawld.request("POST", "/start", "target=demo&season=2023&deep=no",
                                              {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 202, data)
        done = self.wait_state(body(data)["id"], ("succeeded", "failed"))
        self.assertEqual(done["state"], "succeeded", done)
        self.assertEqual(done["progress"]["fetched"], 1, done)

    def test_curl_json_without_a_content_type_starts_a_crawl(self):
        # The operator's command as written: curl labels -d's JSON as a form.
        r = subprocess.run(["curl", "-s", "-w", "\\n%{http_code}", "-X", "POST",
                            f"http://{self.crawld.host}:{self.crawld.port}/start",
                            "-d", '{"deep":false,"season":2022,"target":"demo"}'],
                           capture_output=True, text=True, timeout=30, check=True)
        text, code = r.stdout.rsplit("\n", 1)
        self.assertEqual(code, "202", text)
        job = json.loads(text)
        self.assertEqual((job["params"]["deep"], job["params"]["season"]), (False, 2022), job)
        done = self.wait_state(job["id"], ("succeeded", "failed"))
        self.assertEqual(done["state"], "succeeded", done)

    def test_watchdog_times_out_a_hanging_crawl(self):
        status, _, data = self.start({"target": "hang", "season": 2024, "timeout": 1})
        self.assertEqual(status, 202, data)
        done = self.wait_state(body(data)["id"], ("timed_out", "succeeded", "failed", "cancelled"), timeout=15)
        self.assertEqual(done["state"], "timed_out", done)
        self.assertEqual(done["stop_reason"], "deadline")
        started = crawld_time(done["started_at"])
        finished = crawld_time(done["finished_at"])
        # Not before the deadline; after it, at most the hard-kill grace
        # (0.3 s) and the time to record the end (generous under sanitizers).
        self.assertGreaterEqual(finished - started, 0.99)
        self.assertLess(finished - started, 1.0 + 0.3 + SLACK)

    def test_delete_cancels_a_running_crawl_at_once(self):
        status, _, data = self.start({"target": "hang", "season": 2030})
        job_id = body(data)["id"]
        self.wait_state(job_id, ("running",))
        time.sleep(0.2)  # the crawl is now blocked in a fetch
        requested = time.monotonic()
        status, _, data = self.crawld.request("DELETE", "/jobs/" + job_id)
        self.assertEqual(status, 202, data)
        done = self.wait_state(job_id, ("cancelled",), timeout=5)
        # At once: the blocked fetch (its own timeout is 60 s) is cancelled
        # well before even the watchdog's hard-kill grace (0.3 s) would act.
        self.assertLess(time.monotonic() - requested, 0.3 + (SLACK if crawld_harness.sanitized() else 0))
        self.assertEqual(done["stop_reason"], "user_request")
        status, headers, data = self.crawld.request("POST", "/jobs/%s/cancel" % job_id)
        self.assertEqual(status, 409)
        self.assertEqual(headers["content-type"], "application/problem+json")

    def test_duplicate_is_rejected_naming_the_active_job(self):
        status, _, data = self.start({"target": "hang", "season": 2031})
        first = body(data)["id"]
        status, headers, data = self.start({"target": "hang", "season": 2031})
        self.assertEqual(status, 409, data)
        problem = body(data)
        self.assertEqual(headers["content-type"], "application/problem+json")
        self.assertEqual(problem["job_id"], first)
        self.assertEqual(headers["location"], "/jobs/" + first)
        # A deep crawl of the same season is a different crawl.
        status, _, data = self.start({"target": "hang", "season": 2031, "deep": True})
        self.assertEqual(status, 202, data)

    def test_full_queue_answers_429_with_retry_after(self):
        ids = []
        for season in (2040, 2041, 2042, 2043):  # 2 running + 2 queued
            status, _, data = self.start({"target": "hang", "season": season})
            self.assertEqual(status, 202, data)
            ids.append(body(data))
        self.assertEqual([j["state"] for j in ids], ["running", "running", "queued", "queued"])
        status, headers, data = self.start({"target": "hang", "season": 2044})
        self.assertEqual(status, 429, data)
        self.assertGreater(int(headers["retry-after"]), 0)
        # Cancelling a queued job removes it at once.
        status, _, data = self.crawld.request("POST", "/jobs/%s/cancel" % ids[3]["id"])
        self.assertEqual(status, 202)
        self.assertEqual(self.job(ids[3]["id"])["state"], "cancelled")

    def test_idempotency_key(self):
        key = {"Idempotency-Key": "retry-me-%d" % time.monotonic_ns()}
        status, headers, data = self.start({"target": "hang", "season": 2050}, key)
        self.assertEqual(status, 202, data)
        original = body(data)
        status, headers2, data = self.start({"target": "hang", "season": 2050}, key)
        self.assertEqual(status, 200, data)
        self.assertEqual(body(data)["id"], original["id"])
        self.assertEqual(headers2["location"], headers["location"])
        status, _, data = self.start({"target": "hang", "season": 2051}, key)
        self.assertEqual(status, 422, data)
        # A control character cannot be a header value at all (the parser's 400);
        # a well-formed header with a key that is not 1-255 visible characters is 422.
        status, _, data = self.start({"target": "hang", "season": 2052}, {"Idempotency-Key": "bad key\x01"})
        self.assertEqual(status, 400, data)
        for bad in ("bad key", "k" * 256):
            status, _, data = self.start({"target": "hang", "season": 2052}, {"Idempotency-Key": bad})
            self.assertEqual(status, 422, data)
            self.assertEqual(body(data)["errors"][0]["field"], "Idempotency-Key")

    def test_listing_and_lookup(self):
        status, _, data = self.start({"target": "demo", "season": 2020})
        job_id = body(data)["id"]
        self.wait_state(job_id, ("succeeded", "failed"))
        status, _, data = self.crawld.request("GET", "/jobs?limit=1")
        self.assertEqual(status, 200)
        self.assertEqual(body(data)["jobs"][0]["id"], job_id)  # newest first
        status, _, data = self.crawld.request("GET", "/jobs?status=succeeded&limit=500")
        self.assertTrue(all(j["state"] == "succeeded" for j in body(data)["jobs"]))
        # Invalid values are 422 everywhere, as for POST /start, naming the field.
        for bad, field in (("/jobs?limit=0", "limit"), ("/jobs?limit=501", "limit"), ("/jobs?limit=x", "limit"),
                           ("/jobs?status=done", "status")):
            status, headers, data = self.crawld.request("GET", bad)
            self.assertEqual(status, 422, bad)
            self.assertEqual(headers["content-type"], "application/problem+json")
            self.assertEqual([e["field"] for e in body(data)["errors"]], [field], bad)
        status, _, data = self.crawld.request("GET", "/jobs/not-a-uuid")
        self.assertEqual(status, 422)
        self.assertEqual(body(data)["errors"][0]["field"], "id")
        status, _, _ = self.crawld.request("GET", "/jobs/00000000-0000-4000-8000-000000000000")
        self.assertEqual(status, 404)
        status, _, _ = self.crawld.request("DELETE", "/jobs/00000000-0000-4000-8000-000000000000")
        self.assertEqual(status, 404)
        status, _, data = self.crawld.request("GET", "/status")
        summary = body(data)
        self.assertEqual(summary["state"], "running")
        self.assertGreaterEqual(summary["jobs"]["succeeded"], 1)
        self.assertIn("p99_1m", summary["loop_lag_ms"])

    def test_invalid_bodies_get_problem_json_and_the_server_keeps_serving(self):
        cases = [
            ('{"deep": "true"}', "application/json", 422),
            ('{"season": 2024.5}', "application/json", 422),
            ('{"season": "2024"}', "application/json", 422),
            ('{"target": "nope"}', "application/json", 422),
            ('{"timeout": 0}', "application/json", 422),
            ('{"bogus": 1}', "application/json", 422),
            ('{"deep": tru', "application/json", 400),
            ('[1, 2]', "application/json", 400),
            ('{"target": "\xff"}', "application/json", 400),
            ("deep=maybe", "application/x-www-form-urlencoded", 422),
            ("season=%zz", "application/x-www-form-urlencoded", 400),
            ("<xml/>", "text/xml", 415),
        ]
        for text, content_type, expected in cases:
            data = text.encode("latin-1")
            status, headers, answer = self.crawld.request("POST", "/start", data, {"Content-Type": content_type})
            self.assertEqual(status, expected, (text, answer))
            self.assertEqual(headers["content-type"], "application/problem+json", text)
            problem = body(answer)
            self.assertEqual(problem["status"], expected)
            if expected == 422:
                self.assertTrue(problem["errors"], text)
        status, _, _ = self.crawld.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertTrue(self.crawld.alive())


def crawld_time(text):
    import datetime
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


if __name__ == "__main__":
    crawld_harness.main()
