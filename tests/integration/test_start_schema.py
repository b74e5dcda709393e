"""The JSON Schema published by GET /start agrees with POST /start.

For each sample body, jsonschema's verdict on the published schema must equal
the service's: a 400 or 422 answer means rejected, anything else accepted
(today a valid body gets 501; later 202 or 409, which still mean the
parameters were valid).
"""

import json
import unittest

import jsonschema

import crawld_harness
from crawld_harness import Crawld

# Raw JSON texts, so that numbers like 2024.0 and 1e400 reach the service as
# written. The comment says what the schema should decide.
SAMPLES = [
    "{}",                                               # all defaults
    '{"deep": true}',
    '{"deep": false}',
    '{"deep": "true"}',                                 # a string is not a boolean
    '{"deep": 1}',
    '{"deep": 0}',
    '{"deep": null}',
    '{"deep": [true]}',
    '{"season": 2024}',
    '{"season": 1900}',                                 # bounds are inclusive
    '{"season": 2100}',
    '{"season": 1899}',
    '{"season": 2101}',
    '{"season": 2024.0}',                               # an integer for JSON Schema
    '{"season": 2.024e3}',
    '{"season": 2024.5}',
    '{"season": "2024"}',
    '{"season": -2024}',
    '{"season": true}',
    '{"season": 18446744073709551616}',                 # beyond 64 bits
    '{"season": -9223372036854775809}',
    '{"season": 1e300}',
    '{"season": 1e400}',                                # overflows a double
    '{"timeout": 1}',
    '{"timeout": 0}',
    '{"timeout": 3600}',
    '{"timeout": 3601}',
    '{"timeout": 60.0}',
    '{"timeout": -1}',
    '{"log_to_db": false}',
    '{"log_to_db": "false"}',
    '{"target": "league"}',
    '{"target": "cup"}',
    '{"target": "League"}',
    '{"target": ""}',
    '{"target": null}',
    '{"target": ["league"]}',
    '{"depth": 3}',                                     # unknown parameter
    '{"Deep": true}',
    '{"": 1}',
    '{"deep": true, "season": 2020, "timeout": 120, "log_to_db": false, "target": "league"}',
    '{"deep": true, "season": 2020, "extra": null}',
    '{"deep": true, "deep": "x"}',                      # duplicate key: the last one counts
    '{"deep": "x", "deep": true}',
    '[]',
    '"deep"',
    'null',
    '2024',
]

REJECTED = (400, 422)


def with_target(text, target):
    """The sample with "target" added in front (objects without one only)."""
    if not text.startswith("{") or '"target"' in text:
        return None
    rest = text[1:].strip()
    return '{"target": "%s"%s%s' % (target, "" if rest == "}" else ", ", rest)


def service_accepts(server, text):
    status, headers, body = server.request("POST", "/start", body=text.encode(),
                                           headers={"Content-Type": "application/json"})
    if status in REJECTED:
        # Rejections are problem+json naming the reason.
        assert headers.get("content-type") == "application/problem+json", headers
        assert json.loads(body)["status"] == status
    return status not in REJECTED, status, body


def schema_accepts(validator, text):
    try:
        document = json.loads(text)
    except ValueError:
        return False
    return validator.is_valid(document)


class SchemaConformance:
    """Mixin: runs every sample against one server configuration."""

    targets = None
    server = None

    @classmethod
    def samples(cls):
        return SAMPLES

    @classmethod
    def setUpClass(cls):
        cls.server = Crawld({"crawl": {"targets": cls.targets}}, name="schema").start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def fetch_schema(self):
        status, headers, body = self.server.request("GET", "/start")
        self.assertEqual(status, 200)
        docs = json.loads(body)
        schema = docs["schema"]
        validator_class = jsonschema.validators.validator_for(schema)
        self.assertIs(validator_class, jsonschema.Draft7Validator)
        validator_class.check_schema(schema)
        return validator_class(schema)

    def test_verdicts_agree(self):
        validator = self.fetch_schema()
        disagreements = []
        for text in self.samples():
            expected = schema_accepts(validator, text)
            accepted, status, body = service_accepts(self.server, text)
            if expected != accepted:
                disagreements.append("%s: schema %s, service %d %s" % (
                    text, "accepts" if expected else "rejects", status, body[:200].decode("utf-8", "replace")))
        self.assertEqual(disagreements, [], "\n".join(disagreements))

    def test_no_sample_is_a_server_error(self):
        for text in self.samples():
            _, status, body = service_accepts(self.server, text)
            # 501 is POST /start's answer until jobs exist; any other 5xx is a bug.
            self.assertTrue(status < 500 or status == 501, "%s -> %d %s" % (text, status, body))

    def test_samples_cover_both_verdicts(self):
        validator = self.fetch_schema()
        verdicts = [schema_accepts(validator, text) for text in self.samples()]
        self.assertGreaterEqual(verdicts.count(True), 8)
        self.assertGreaterEqual(verdicts.count(False), 20)


class OneTarget(SchemaConformance, unittest.TestCase):
    targets = crawld_harness.ONE_TARGET

    def test_target_is_optional(self):
        validator = self.fetch_schema()
        self.assertNotIn("required", validator.schema)
        self.assertEqual(validator.schema["properties"]["target"]["default"], "league")


class TwoTargets(SchemaConformance, unittest.TestCase):
    targets = crawld_harness.TWO_TARGETS

    @classmethod
    def samples(cls):
        # Target is required here: each sample as is (mostly rejected), and
        # with a valid and an invalid target added.
        extra = [with_target(text, name) for text in SAMPLES for name in ("cup", "nope")]
        return SAMPLES + [text for text in extra if text is not None]

    def test_target_is_required(self):
        validator = self.fetch_schema()
        self.assertEqual(validator.schema["required"], ["target"])
        self.assertFalse(validator.is_valid({}))
        self.assertTrue(validator.is_valid({"target": "cup"}))
        accepted, status, _ = service_accepts(self.server, "{}")
        self.assertFalse(accepted)
        self.assertEqual(status, 422)


if __name__ == "__main__":
    crawld_harness.main()
