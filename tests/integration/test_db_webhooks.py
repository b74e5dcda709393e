"""Webhooks against the real binary, a real PostgreSQL and local receivers.

- every delivery carries webhook-id, webhook-timestamp and a signature the
  receiver verifies (Standard Webhooks: HMAC-SHA256 over id.timestamp.body
  with the secret's bytes); each state change of a job is delivered to the
  webhooks that asked for its event, and only to those;
- a receiver that answers 500 three times gets the delivery on the 4th
  try, and GET /webhooks/deliveries shows the four attempts;
- crawld killed -9 with deliveries pending delivers them after a restart;
- a webhook on a private address is refused (at start for an IP literal, at
  each delivery for a name) unless crawl.allow_private_networks is set;
- a receiver that hangs delays neither the other receiver nor the loop;
- without a database the outbox is kept in memory and still delivers;
- bad input to GET /webhooks/deliveries gets 422.
"""
import json
import statistics
import time
import unittest

import jsonschema

import pg
from crawld_harness import Crawld, run_binary, wait_for, write_config
from sites import HangingServer
from webhook_receiver import SECRET, Receiver


class WebhooksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hang = HangingServer()
        # "refused" fails at once (nothing listens on port 1); "hang" runs
        # until cancelled.
        cls.targets = [{"name": "refused", "seeds": ["http://127.0.0.1:1/{season}"]},
                       {"name": "hang", "seeds": [cls.hang.url("/{season}")]}]

    @classmethod
    def tearDownClass(cls):
        cls.hang.stop()

    def config(self, webhooks, database=True, private=True, **top):
        config = {"crawl": {"allow_private_networks": private, "targets": self.targets,
                            "request_timeout_ms": 3000, "connect_timeout_ms": 1000},
                  "jobs": {"max_queued": 1000, "max_running": 50, "on_duplicate": "allow"},
                  "webhooks": webhooks, "webhooks_retry_ms": 100}
        if database:
            config["database"] = {"url": pg.create_database(), "flush_ms": 50}
        config.update(top)
        return config

    def start(self, crawld, target="refused", season=2024):
        wait_for(lambda: crawld.request("GET", "/readyz")[0] == 200, "ready")
        status, _, data = crawld.request("POST", "/start", json.dumps({"target": target, "season": season}))
        self.assertEqual(status, 202, data)
        return json.loads(data)["id"]

    def deliveries(self, crawld, job_id):
        status, _, data = crawld.request("GET", f"/webhooks/deliveries?job={job_id}")
        self.assertEqual(status, 200, data)
        return json.loads(data)["deliveries"]

    def test_each_state_change_is_delivered_signed_to_the_webhooks_that_asked(self):
        everything, ends = Receiver(), Receiver()
        try:
            hooks = [{"url": everything.url(), "secret": SECRET},
                     {"url": ends.url(), "secret": SECRET, "events": ["job.failed", "job.cancelled"]}]
            with Crawld(self.config(hooks), name="webhooks-signed") as crawld:
                failed = self.start(crawld)
                cancelled = self.start(crawld, target="hang")
                wait_for(lambda: crawld.request("GET", f"/jobs/{cancelled}")[2].find(b'"running"') >= 0, "running")
                self.assertEqual(crawld.request("POST", f"/jobs/{cancelled}/cancel")[0], 202)
                wait_for(lambda: len(everything.payloads()) == 6 and len(ends.payloads()) == 2, "eight deliveries")
                time.sleep(0.5)  # nothing more comes
                self.assertEqual(everything.bad + ends.bad, [], "a signature did not verify")
                got = sorted((p["data"]["id"], p["type"]) for p in everything.payloads())
                self.assertEqual(got, sorted([(failed, "job.queued"), (failed, "job.started"), (failed, "job.failed"),
                                              (cancelled, "job.queued"), (cancelled, "job.started"),
                                              (cancelled, "job.cancelled")]))
                self.assertEqual(sorted((p["data"]["id"], p["type"]) for p in ends.payloads()),
                                 sorted([(failed, "job.failed"), (cancelled, "job.cancelled")]))
                # The body is the job as the API renders it, in its final state for an end.
                _, _, data = crawld.request("GET", "/openapi.json")
                document = json.loads(data)
                job_schema = jsonschema.Draft202012Validator(
                    document["components"]["schemas"]["Job"],
                    resolver=jsonschema.RefResolver.from_schema(document))
                for payload in everything.payloads():
                    job_schema.validate(payload["data"])
                    self.assertEqual(payload["type"], "job." + {"running": "started"}.get(
                        payload["data"]["state"], payload["data"]["state"]))
                # The outbox shows each one delivered at its first attempt.
                listed = self.deliveries(crawld, failed)
                self.assertEqual(len(listed), 4)
                self.assertTrue(all(d["state"] == "delivered" and d["attempts"] == 1 for d in listed), listed)
                schema = jsonschema.Draft202012Validator(
                    document["components"]["schemas"]["DeliveryList"],
                    resolver=jsonschema.RefResolver.from_schema(document))
                status, _, data = crawld.request("GET", "/webhooks/deliveries")
                schema.validate(json.loads(data))
                self.assertEqual(json.loads(data)["count"], 8)
                # The rows are in the database, with the job.
                url = crawld.config["database"]["url"]
                self.assertEqual(pg.scalar(url, "select count(*) from webhook_deliveries where state = 'delivered'"),
                                 "8")
        finally:
            everything.stop()
            ends.stop()

    def test_a_failing_receiver_gets_the_delivery_on_its_fourth_try(self):
        receiver = Receiver(fail_first=3)
        try:
            hooks = [{"url": receiver.url(), "secret": SECRET, "events": ["job.failed"]}]
            with Crawld(self.config(hooks), name="webhooks-retry") as crawld:
                job_id = self.start(crawld)
                wait_for(lambda: receiver.payloads(), "the delivery")
                (delivery,) = wait_for(lambda: [d for d in self.deliveries(crawld, job_id)
                                                if d["state"] == "delivered"], "delivered")
                self.assertEqual(delivery["attempts"], 4)
                self.assertEqual([a["status"] for a in delivery["attempt_log"]], [500, 500, 500, 204])
                self.assertEqual([a["error"] for a in delivery["attempt_log"]], ["HTTP 500"] * 3 + [None])
                self.assertEqual(receiver.tries[delivery["id"]], 4)
                # The retries waited: at least half of 100, 200 and 400 ms.
                times = [a["at"] for a in delivery["attempt_log"]]
                self.assertEqual(times, sorted(times))
                print("FIGURE webhook_retry attempts=4 first_to_last=%s..%s" % (times[0], times[-1]))
        finally:
            receiver.stop()

    def test_pending_deliveries_survive_kill_9(self):
        receiver = Receiver()
        receiver.stop()  # nobody listens: every try fails
        hooks = [{"url": receiver.url(), "secret": SECRET, "events": ["job.failed"]}]
        config = self.config(hooks, webhooks_retry_ms=200)
        url = config["database"]["url"]
        with Crawld(config, name="webhooks-kill") as crawld:
            ids = [self.start(crawld, season=2000 + i) for i in range(5)]
            wait_for(lambda: pg.scalar(url, "select count(*) from webhook_deliveries where attempts > 0") == "5",
                     "five deliveries tried")
            crawld.proc.kill()
            crawld.proc.wait(timeout=10)
        port = int(receiver.url().split(":")[2].split("/")[0])
        receiver = Receiver(port=port)
        try:
            with Crawld(config, name="webhooks-kill-2") as crawld:
                wait_for(lambda: len(receiver.payloads()) >= 5, "five deliveries after the restart", timeout=30)
                self.assertEqual(sorted(p["data"]["id"] for p in receiver.payloads()), sorted(ids))
                self.assertEqual(receiver.bad, [])
                wait_for(lambda: pg.scalar(url, "select count(*) from webhook_deliveries where state = 'delivered'")
                         == "5", "recorded delivered")
        finally:
            receiver.stop()

    def test_private_addresses_are_refused_unless_allowed(self):
        receiver = Receiver()
        try:
            # An IP literal: refused at start, with the reason.
            config = self.config([{"url": receiver.url(), "secret": SECRET}], database=False, private=False)
            path = write_config(config, "webhooks-private")
            result = run_binary(["--config", path, "--port", "0"])
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("webhooks[0].url", result.stderr)
            self.assertIn("allow_private_networks", result.stderr)
            # A name that resolves to loopback: each try is refused, nothing is sent.
            config = self.config([{"url": receiver.url("localhost"), "secret": SECRET, "events": ["job.failed"]}],
                                 private=False)
            # The crawl target itself must be allowed to fail: it is refused the same way.
            with Crawld(config, name="webhooks-private-name") as crawld:
                job_id = self.start(crawld)
                delivery = wait_for(lambda: [d for d in self.deliveries(crawld, job_id) if d["attempts"] >= 2],
                                    "two refused tries")[0]
                self.assertEqual(delivery["state"], "pending")
                self.assertIn("refused", delivery["attempt_log"][0]["error"])
                self.assertEqual(receiver.payloads(), [])
            # Allowed: delivered.
            config = self.config([{"url": receiver.url("localhost"), "secret": SECRET, "events": ["job.failed"]}])
            with Crawld(config, name="webhooks-private-allowed") as crawld:
                self.start(crawld)
                wait_for(lambda: receiver.payloads(), "the delivery")
        finally:
            receiver.stop()

    def test_a_hanging_receiver_delays_neither_others_nor_the_loop(self):
        receiver = Receiver()
        try:
            hooks = [{"url": self.hang.url("/hook"), "secret": SECRET, "events": ["job.failed"]},
                     {"url": receiver.url(), "secret": SECRET, "events": ["job.failed"]}]
            with Crawld(self.config(hooks), name="webhooks-hang") as crawld:
                held_before = len(self.hang.held)
                started = time.monotonic()
                ids = [self.start(crawld, season=2000 + i) for i in range(20)]
                wait_for(lambda: len(receiver.payloads()) == 20, "twenty deliveries to the live receiver")
                took = time.monotonic() - started
                # Within its first request timeout (3 s) the hanging receiver got
                # at most 4 of its 20 deliveries: one receiver's sends are capped.
                if took < 2.5:
                    self.assertLessEqual(len(self.hang.held) - held_before, 4)
                # Far less than the hanging receiver's request timeout (3 s) per delivery.
                self.assertLess(took, 10)
                times = []
                for _ in range(50):
                    t0 = time.perf_counter()
                    self.assertEqual(crawld.request("GET", "/healthz")[0], 200)
                    times.append(time.perf_counter() - t0)
                p99 = statistics.quantiles(times, n=100)[98]
                print("FIGURE webhook_hanging_receiver live_deliveries=20 seconds=%.2f healthz_p99_ms=%.1f"
                      % (took, p99 * 1000))
                self.assertLess(p99, 0.1)
                # The hanging receiver's deliveries time out and wait for their retry.
                delivery = wait_for(lambda: [d for d in self.deliveries(crawld, ids[0])
                                             if "/hook" in d["url"] and str(self.hang.port) in d["url"] and
                                             d["attempt_log"]], "a timed-out try", timeout=15)[0]
                self.assertEqual(delivery["state"], "pending")
                self.assertIsNone(delivery["attempt_log"][0]["status"])
        finally:
            receiver.stop()

    def test_without_a_database_deliveries_are_kept_in_memory(self):
        receiver = Receiver(fail_first=1)
        try:
            hooks = [{"url": receiver.url(), "secret": SECRET, "events": ["job.failed"]}]
            with Crawld(self.config(hooks, database=False), name="webhooks-memory") as crawld:
                job_id = self.start(crawld)
                wait_for(lambda: receiver.payloads(), "the delivery")
                (delivery,) = wait_for(lambda: [d for d in self.deliveries(crawld, job_id)
                                                if d["state"] == "delivered"], "delivered")
                self.assertEqual(delivery["attempts"], 2)
                self.assertEqual(receiver.bad, [])
        finally:
            receiver.stop()

    def test_bad_input(self):
        with Crawld(self.config([], database=False), name="webhooks-input") as crawld:
            status, headers, data = crawld.request("GET", "/webhooks/deliveries?job=nope&limit=0")
            self.assertEqual(status, 422)
            self.assertEqual(headers["content-type"], "application/problem+json")
            fields = sorted(e["field"] for e in json.loads(data)["errors"])
            self.assertEqual(fields, ["job", "limit"])
            status, _, data = crawld.request("GET", "/webhooks/deliveries")
            self.assertEqual((status, json.loads(data)), (200, {"count": 0, "deliveries": []}))
        bad = [({"url": "ftp://x/", "secret": SECRET}, "webhooks[0].url"),
               ({"url": "http://example.com/", "secret": "nope"}, "webhooks[0].secret"),
               ({"url": "http://example.com/", "secret": SECRET, "events": ["job.done"]}, "webhooks[0].events[0]"),
               ({"url": "http://example.com/", "secret": SECRET, "extra": 1}, "webhooks[0].extra")]
        for hook, where in bad:
            path = write_config(self.config([hook], database=False), "webhooks-bad")
            result = run_binary(["--config", path, "--port", "0"])
            self.assertNotEqual(result.returncode, 0, hook)
            self.assertIn(where, result.stderr)


if __name__ == "__main__":
    unittest.main()
