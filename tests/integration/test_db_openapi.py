"""The API document (GET /openapi.json) against the real binary.

- lint: the document passes Redocly's linter (@redocly/cli, pinned by
  tests/openapi/package-lock.json) with no errors;
- contract: every route is called for its success and for each error status
  it can produce, and each real answer's status must be in the document and
  its body valid against the document's schema for that route and status
  (python3-jsonschema). Every status the document names is produced, or
  listed in UNPRODUCED with the reason;
- the contract check can fail: a document that disagrees with a real answer
  is caught.
"""
import copy
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import uuid

import jsonschema

import pg
from crawld_harness import Crawld
from sites import ROOT, DemoSite, HangingServer

TOKEN = "contract-test-token-0123456789"
AUTH = {"Authorization": "Bearer " + TOKEN}
JSON = {"Content-Type": "application/json"}

# Statuses the document names that this test does not bring about, and why.
UNPRODUCED = {
    ("/start", "post", 503): "needs a stop in progress or the database's write backlog full",
}


def operation_for(document, method, path):
    """(pattern, operation) of the document's path that `path` matches; the
    operation is None when the path has no such method."""
    bare = path.split("?", 1)[0]
    found = None
    for pattern, item in document["paths"].items():
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(pattern)) + "$"
        if re.match(regex, bare):
            if method.lower() in item:
                return pattern, item[method.lower()]
            found = pattern
    return found, None


class Contract:
    """Checks real answers against a document and records what was covered."""

    def __init__(self, document):
        self.document = document
        self.covered = set()

    def check(self, method, path, status, headers, data):
        pattern, operation = operation_for(self.document, method, path)
        if pattern is None:
            raise AssertionError(f"{method} {path}: no path in the document")
        if operation is None:
            # A method the path does not have: a problem (405).
            operation = {"responses": {"default": {"content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}}
        responses = operation["responses"]
        key = str(status) if str(status) in responses else "default"
        if key == "default" and status < 400:
            raise AssertionError(f"{method} {pattern}: status {status} is not in the document")
        self.covered.add((pattern, method.lower(), status))
        got = headers.get("content-type", "").split(";")[0].strip()
        contents = responses[key]["content"]
        if got not in contents:
            raise AssertionError(f"{method} {pattern} {status}: Content-Type {got}, the document says "
                                 f"{' or '.join(contents)}")
        media, spec = got, contents[got]
        body = json.loads(data) if media.endswith("json") else data.decode("utf-8")
        resolver = jsonschema.RefResolver.from_schema(self.document)
        jsonschema.Draft202012Validator(spec["schema"], resolver=resolver).validate(body)
        for name in responses[key].get("headers", {}):
            if name.lower() != "www-authenticate" or status == 401:
                if name.lower() not in headers:
                    raise AssertionError(f"{method} {pattern} {status}: no {name} header")
        return body


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo, cls.hang = DemoSite(), HangingServer()
        targets = [{"name": "demo", "seeds": [cls.demo.url("/season/{season}/")], "deep_depth": 1},
                   {"name": "hang", "seeds": [cls.hang.url("/{season}")]}]
        cls.config = {"crawl": {"allow_private_networks": True, "targets": targets},
                      "jobs": {"max_running": 1, "max_queued": 2, "on_duplicate": "reject"},
                      "auth": {"tokens": [TOKEN], "protect_reads": True, "public_metrics": False},
                      "database": {"url": pg.create_database()},
                      # Nothing listens there: its deliveries stay pending, with failed attempts.
                      "webhooks": [{"url": "http://127.0.0.1:1/hook", "events": ["job.succeeded"],
                                    "secret": "whsec_" + "QUFB" * 8}],
                      "webhooks_retry_ms": 100}

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()
        cls.hang.stop()

    def document(self, crawld):
        status, headers, data = crawld.request("GET", "/openapi.json", headers=AUTH)
        self.assertEqual(status, 200)
        return json.loads(data)

    def test_the_document_passes_redocly_lint(self):
        tools = os.path.join(ROOT, "tests", "openapi")
        redocly = os.path.join(tools, "node_modules", ".bin", "redocly")
        if not os.path.exists(redocly):
            self.fail("@redocly/cli missing: run scripts/setup")
        with Crawld(self.config, name="openapi-lint") as crawld:
            document = self.document(crawld)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "openapi.json")
            with open(path, "w") as f:
                json.dump(document, f)
            # No telemetry, no update check: nothing leaves 127.0.0.1.
            env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true", CI="true")
            run = subprocess.run([redocly, "lint", "--format", "json", path], capture_output=True, text=True,
                                 timeout=120, cwd=folder, env=env)
        report = json.loads(run.stdout[run.stdout.index("{"):]) if "{" in run.stdout else {}
        errors = [p for p in report.get("problems", []) if p.get("severity") == "error"]
        self.assertEqual(errors, [], run.stdout[-4000:] + run.stderr[-2000:])
        self.assertEqual(run.returncode, 0, run.stdout[-4000:] + run.stderr[-2000:])
        print("FIGURE redocly_warnings=%d" % len(report.get("problems", [])))

    def call(self, contract, crawld, method, path, expect, body=None, headers=None, token=True):
        sent = dict(AUTH if token else {}, **(headers or {}))
        status, got, data = crawld.request(method, path, body=body, headers=sent)
        self.assertEqual(status, expect, f"{method} {path}: {data[:500]!r}")
        return contract.check(method, path, status, got, data)

    def call_stream(self, contract, crawld, path, ended=True):
        """A text/event-stream answer: read to its end (a job that ended), or
        its head and first event only (a stream that goes on)."""
        conn = crawld.connection()
        try:
            conn.request("GET", path, headers=dict(AUTH, Accept="text/event-stream"))
            response = conn.getresponse()
            got = {k.lower(): v for k, v in response.getheaders()}
            data = response.read() if ended else response.readline() + response.readline()
        finally:
            conn.close()
        self.assertEqual(response.status, 200, data[:500])
        self.assertEqual(got["content-type"], "text/event-stream")
        contract.check("GET", path, 200, got, data)
        return data.decode()

    def wait_state(self, crawld, job_id, states, limit=30):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            status, _, data = crawld.request("GET", f"/jobs/{job_id}", headers=AUTH)
            if status == 200 and json.loads(data)["state"] in states:
                return
            time.sleep(0.05)
        self.fail(f"job {job_id} did not reach {states}")

    def test_every_route_and_status_agrees_with_the_document(self):
        nobody = f"/jobs/{uuid.uuid4()}"
        with Crawld(self.config, name="openapi-contract") as crawld:
            contract = Contract(self.document(crawld))
            call = lambda *args, **kwargs: self.call(contract, crawld, *args, **kwargs)  # noqa: E731

            # A crawl that ends, with pages and events.
            done = call("POST", "/start", 202, json.dumps({"target": "demo", "season": 2020}), JSON)
            self.wait_state(crawld, done["id"], ("succeeded",))
            # Idempotency: created, replayed, reused with other parameters.
            key = dict(JSON, **{"Idempotency-Key": "contract-key-1"})
            once = call("POST", "/start", 202, json.dumps({"target": "demo", "season": 2021}), key)
            self.wait_state(crawld, once["id"], ("succeeded",))
            call("POST", "/start", 200, json.dumps({"target": "demo", "season": 2021}), key)
            call("POST", "/start", 422, json.dumps({"target": "demo", "season": 2022}), key)
            # One running (it never ends), two queued, then the queue is full.
            running = call("POST", "/start", 202, json.dumps({"target": "hang", "season": 2020}), JSON)
            self.wait_state(crawld, running["id"], ("running",))
            conflict = call("POST", "/start", 409, json.dumps({"target": "hang", "season": 2020}), JSON)
            self.assertEqual(conflict["job"]["id"], running["id"])
            queued = [call("POST", "/start", 202, json.dumps({"target": "hang", "season": s}), JSON)
                      for s in (2021, 2022)]
            call("POST", "/start", 429, json.dumps({"target": "hang", "season": 2023}), JSON)
            call("POST", "/start", 400, "{not json", JSON)
            call("POST", "/start", 415, "deep=true", {"Content-Type": "text/plain"})
            call("POST", "/start", 422, json.dumps({"season": "soon"}), JSON)

            listed = call("GET", "/jobs", 200)
            self.assertGreaterEqual(listed["count"], 5)
            call("GET", "/jobs?status=running&limit=10", 200)
            call("GET", "/jobs?limit=0", 422)
            call("GET", "/jobs?status=sleeping", 422)
            running_now = call("GET", f"/jobs/{running['id']}", 200)
            self.assertIn("frontier", running_now)
            call("GET", f"/jobs/{done['id']}", 200)
            call("GET", nobody, 404)
            call("GET", "/jobs/not-a-uuid", 422)

            call("POST", f"/jobs/{queued[0]['id']}/cancel", 202)
            call("POST", f"/jobs/{done['id']}/cancel", 409)
            call("POST", nobody + "/cancel", 404)
            call("POST", "/jobs/not-a-uuid/cancel", 422)
            call("DELETE", f"/jobs/{queued[1]['id']}", 202)
            call("DELETE", f"/jobs/{done['id']}", 409)
            call("DELETE", nobody, 404)
            call("DELETE", "/jobs/not-a-uuid", 422)

            for what in ("pages", "events"):
                # Rows are written in batches (database.flush_ms): wait for them.
                deadline = time.monotonic() + 20
                rows = call("GET", f"/jobs/{done['id']}/{what}", 200)
                while rows["count"] == 0 and time.monotonic() < deadline:
                    time.sleep(0.1)
                    rows = call("GET", f"/jobs/{done['id']}/{what}", 200)
                self.assertGreater(rows["count"], 0, what)
                call("GET", f"/jobs/{done['id']}/{what}?after=1&limit=1", 200)
                call("GET", f"/jobs/{done['id']}/{what}?limit=0", 422)
                call("GET", f"{nobody}/{what}", 404)
                call("GET", f"/jobs/not-a-uuid/{what}", 422)
            # The events live: a job that ended replays its rows and its state.
            replay = self.call_stream(contract, crawld, f"/jobs/{done['id']}/events")
            self.assertIn("event: log", replay)
            self.assertTrue(replay.rstrip().split("\n")[-1].startswith("data: "))
            self.assertIn("retry:", self.call_stream(contract, crawld, "/events", ended=False))

            # Webhook deliveries: the crawl that ended has one, tried and failed.
            deadline = time.monotonic() + 20
            deliveries = call("GET", f"/webhooks/deliveries?job={done['id']}", 200)
            while not (deliveries["count"] and deliveries["deliveries"][0]["attempt_log"]) and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
                deliveries = call("GET", f"/webhooks/deliveries?job={done['id']}", 200)
            self.assertEqual(deliveries["deliveries"][0]["state"], "pending")
            call("GET", "/webhooks/deliveries?limit=5", 200)
            call("GET", "/webhooks/deliveries?job=nope", 422)

            status = call("GET", "/status", 200)
            self.assertEqual(len(status["running"]), 1)
            call("GET", "/metrics", 200)
            call("GET", "/healthz", 200, token=False)
            call("GET", "/readyz", 200, token=False)
            docs = call("GET", "/start", 200)
            self.assertEqual(docs["schema"], contract.document["components"]["schemas"]["StartParameters"])
            call("GET", "/", 200, token=False)
            call("GET", "/openapi.json", 200)
            call("PUT", "/status", 405)  # the default answer

            # Without a token: 401 wherever the document says a token is asked for.
            for pattern, item in contract.document["paths"].items():
                for method, operation in item.items():
                    if method == "parameters" or "401" not in operation["responses"]:
                        continue
                    path = pattern.replace("{id}", done["id"])
                    body = json.dumps({"target": "demo"}) if method == "post" else None
                    call(method.upper(), path, 401, body, JSON if body else None, token=False)
            call("DELETE", f"/jobs/{running['id']}", 202)

        # A database that cannot be reached: readiness, history and rows are 503.
        # No event stream may open there either (server.max_streams 0): 503.
        down = dict(self.config, database={"url": "postgresql://crawld@127.0.0.1:1/crawld", "read_timeout_ms": 300},
                    server={"max_streams": 0})
        with Crawld(down, name="openapi-contract-db-down") as crawld:
            call = lambda *args, **kwargs: self.call(contract, crawld, *args, **kwargs)  # noqa: E731
            call("GET", "/readyz", 503, token=False)
            call("GET", nobody, 503)
            call("GET", nobody + "/pages", 503)
            call("GET", nobody + "/events", 503)
            call("GET", "/events", 503, headers={"Accept": "text/event-stream"})
            call("GET", "/webhooks/deliveries", 503)

        documented = set()
        for pattern, item in contract.document["paths"].items():
            for method, operation in item.items():
                if method == "parameters":
                    continue
                for status in operation["responses"]:
                    if status != "default":
                        documented.add((pattern, method, int(status)))
        missing = documented - contract.covered - set(UNPRODUCED)
        self.assertEqual(missing, set(), "documented statuses no call produced")
        print("FIGURE contract_checks=%d documented_statuses=%d" % (len(contract.covered), len(documented)))

        # The check can fail: a document whose Job lacks a member the service
        # writes, or that does not name a status the service answers.
        with Crawld(dict(self.config, database={"url": pg.create_database()}), name="openapi-contract-fail") as crawld:
            document = self.document(crawld)
            broken = copy.deepcopy(document)
            del broken["components"]["schemas"]["Job"]["properties"]["state"]
            broken["components"]["schemas"]["Job"]["required"].remove("state")
            call_raw = crawld.request("POST", "/start", json.dumps({"target": "demo", "season": 2030}),
                                            dict(AUTH, **JSON))
            self.assertEqual(call_raw[0], 202)
            with self.assertRaises(jsonschema.ValidationError):
                Contract(broken).check("POST", "/start", *call_raw)
            Contract(document).check("POST", "/start", *call_raw)  # the real document agrees
            undocumented = copy.deepcopy(document)
            del undocumented["paths"]["/start"]["post"]["responses"]["202"]
            with self.assertRaises(AssertionError):
                Contract(undocumented).check("POST", "/start", *call_raw)


if __name__ == "__main__":
    unittest.main()
