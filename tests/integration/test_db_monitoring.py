"""The monitoring files in deploy/: promtool checks and unit-tests the
Prometheus rules; the Grafana dashboard has the shape Grafana imports, every
query filtered by the instance variable; and every metric the dashboard and
the rules name is one a real crawld exports, run with a database both alone
and in cluster mode, after a crawl so that the series created on first use
exist. The comparison is shown to notice a name crawld does not export."""
import json
import os
import re
import subprocess
import tempfile

import crawld_harness
import pg
from crawld_harness import Crawld
from crawld_harness import body
from sites import ROOT
from sites import SitesTestCase

RULES = os.path.join(ROOT, "deploy", "prometheus", "crawld-rules.yml")
RULES_TEST = os.path.join(ROOT, "deploy", "prometheus", "crawld-rules.test.yml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "crawld.json")

# Series Prometheus makes itself; the rules may name them.
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE"}

# PromQL's functions and aggregation operators (Prometheus 2.42): the only
# identifiers that may stand before "(" besides the grouping keywords.
FUNCTIONS = set("""
    abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max
    clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv
    end exp floor histogram_count histogram_fraction histogram_quantile histogram_sum holt_winters hour
    idelta increase irate label_join label_replace last_over_time ln log10 log2 max_over_time min_over_time
    minute month pi predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn
    sin sinh sort sort_desc sqrt start stddev_over_time stdvar_over_time sum_over_time tan tanh time
    timestamp vector year
    sum min max avg group stddev stdvar count count_values bottomk topk quantile
""".split())
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}

IDENTIFIER = re.compile(r"(?<![\w.:$])[A-Za-z_:][A-Za-z0-9_:]*")


def _blank(match):
    """The match with everything but its first and last character turned into spaces (positions stay)."""
    text = match.group(0)
    return text[0] + " " * (len(text) - 2) + text[-1] if len(text) > 1 else text


def _spaces(match):
    return " " * len(match.group(0))


def selectors(expr):
    """The metric names a PromQL expression selects, each with the text of its
    label matchers ("" when it has none), in order.

    Strings, Grafana variables, range and subquery brackets, label matchers and
    grouping lists (by, on, ...) are blanked out first, so that label names and
    values are never taken for metrics; what is left before "(" must be a
    PromQL function, else ValueError."""
    masked = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', _blank, expr)
    masked = re.sub(r"\$\{[^}]*\}|\$\w+", _spaces, masked)
    masked = re.sub(r"\[[^\]]*\]", _blank, masked)
    braces = {m.start(): expr[m.start() + 1:m.end() - 1] for m in re.finditer(r"\{[^}]*\}", masked)}
    masked = re.sub(r"\{[^}]*\}", _blank, masked)
    masked = re.sub(r"\b(?:%s)\s*\([^)]*\)" % "|".join(sorted(GROUPING)), _spaces, masked)
    found = []
    for m in IDENTIFIER.finditer(masked):
        name = m.group(0)
        rest = masked[m.end():]
        after = rest.lstrip()
        if after.startswith("("):
            if name not in FUNCTIONS and name not in GROUPING:
                raise ValueError("%r is not a PromQL function, in: %s" % (name, expr))
            continue
        if name.lower() in KEYWORDS or name in GROUPING:
            continue
        matchers = braces.get(m.end() + len(rest) - len(after), "") if after.startswith("{") else ""
        found.append((name, matchers))
    return found


def metric_names(expr):
    return [name for name, _ in selectors(expr)]


def rules_file(path):
    """[(kind, name, expr)] for every rule of a rules file: kind "record" or
    "alert". Reads the plain YAML shape promtool checks (a rule's `record:` or
    `alert:` item, its `expr:` on the same line or as a `|`/`>` block)."""
    rules = []
    with open(path) as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(- )?(record|alert|expr):\s*(.*?)\s*$", lines[i])
        i += 1
        if not m:
            continue
        column, key, value = len(m.group(1)) + len(m.group(2) or ""), m.group(3), m.group(4)
        if key != "expr":
            rules.append([key, value, None])
            continue
        if re.fullmatch(r"[|>][-+]?", value):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > column):
                block.append(lines[i].strip())
                i += 1
            value = "\n".join(block).strip()
        elif value[:1] == "'" and value[-1:] == "'":
            value = value[1:-1].replace("''", "'")
        elif value[:1] == '"':
            value = json.loads(value)
        if not rules or rules[-1][2] is not None:
            raise ValueError("%s: an expr: outside a rule, line %d" % (path, i))
        rules[-1][2] = value
    missing = [name for _, name, expr in rules if expr is None]
    if missing:
        raise ValueError("%s: rules without expr: %s" % (path, missing))
    return [tuple(rule) for rule in rules]


def dashboard_queries(dashboard):
    """[(place, PromQL)] of every panel target and of the query variables
    (`label_values(SELECTOR, label)` gives its selector)."""
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append(("panel %r" % panel["title"], target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        m = re.fullmatch(r"\s*label_values\((.+),\s*\w+\)\s*", query)
        queries.append(("variable %r" % variable["name"], m.group(1) if m else query))
    return queries


def referenced_metrics(dashboard, rules):
    """{metric name: [places]} over the dashboard and the rules, without the
    rules' own recording names."""
    recorded = {name for kind, name, _ in rules if kind == "record"}
    places = dashboard_queries(dashboard)
    places += [("%s %r" % (kind, name), expr) for kind, name, expr in rules]
    names = {}
    for place, expr in places:
        for name in metric_names(expr):
            if name not in recorded:
                names.setdefault(name, []).append(place)
    return names


def exposition(text):
    """(family -> type from the # TYPE lines, the names of the samples present)."""
    types = {}
    samples = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
        elif line and not line.startswith("#"):
            samples.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return types, samples


def family(name, types):
    """The family a series name belongs to: itself, or for a histogram's or a
    summary's _bucket, _sum and _count series the histogram or summary."""
    for suffix, kinds in (("_bucket", {"histogram"}), ("_sum", {"histogram", "summary"}),
                          ("_count", {"histogram", "summary"})):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in kinds:
            return name[:-len(suffix)]
    return name if name in types else None


def unexported(names, metrics_text, allowed=PROMETHEUS_OWN):
    """The names (sorted) that are not series of a family the exposition has:
    a histogram's bare name or a gauge's _bucket count as missing too."""
    types, samples = exposition(metrics_text)
    return sorted(n for n in set(names) - set(allowed) if family(n, types) is None or n not in samples)


def for_promtool(expr):
    """A dashboard query with Grafana's variables replaced, so promtool can parse it."""
    expr = re.sub(r"\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$__range", "5m", expr)
    return re.sub(r"\$\{\w+\}|\$\w+", ".+", expr)


class MonitoringTest(SitesTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(DASHBOARD) as f:
            cls.dashboard = json.load(f)
        cls.rules = rules_file(RULES)

    def promtool(self, *args):
        out = subprocess.run(["promtool"] + list(args), capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, "promtool %s:\n%s%s" % (" ".join(args), out.stdout, out.stderr))
        return out.stdout

    def test_promtool_checks_and_tests_the_rules(self):
        self.assertIn("SUCCESS", self.promtool("check", "rules", RULES))
        self.assertIn("SUCCESS", self.promtool("test", "rules", RULES_TEST))

    def test_rules_are_read_as_yaml_reads_them(self):
        kinds = [kind for kind, _, _ in self.rules]
        self.assertGreaterEqual(kinds.count("record"), 3)
        self.assertGreaterEqual(kinds.count("alert"), 5)
        with open(RULES) as f:
            items = len(re.findall(r"^\s*- (?:record|alert):", f.read(), re.M))
        self.assertEqual(len(self.rules), items)
        try:
            import yaml
        except ImportError:
            return  # promtool has checked the YAML itself
        with open(RULES) as f:
            loaded = yaml.safe_load(f)
        expected = [("record" if "record" in r else "alert", r.get("record") or r["alert"], " ".join(r["expr"].split()))
                    for group in loaded["groups"] for r in group["rules"]]
        self.assertEqual([(kind, name, " ".join(expr.split())) for kind, name, expr in self.rules], expected)

    def test_every_alert_has_for_severity_summary_and_description(self):
        with open(RULES) as f:
            items = re.split(r"^\s*- (?=record:|alert:)", f.read(), flags=re.M)[1:]
        alerts = [item for item in items if item.startswith("alert:")]
        self.assertEqual(len(alerts), len([kind for kind, _, _ in self.rules if kind == "alert"]))
        for item in alerts:
            name = item.splitlines()[0]
            self.assertRegex(item, r"\n\s+for: \d+[smh]\n", name)
            self.assertRegex(item, r"\n\s+severity: (warning|critical)\n", name)
            self.assertRegex(item, r"\n\s+summary: \S", name)
            self.assertRegex(item, r"\n\s+description: \S", name)

    def test_dashboard_shape(self):
        d = self.dashboard
        self.assertEqual(d["uid"], "crawld")
        self.assertGreaterEqual(d["schemaVersion"], 36)
        self.assertIsNone(d.get("id"))
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        instance = variables["instance"]
        self.assertEqual(instance["type"], "query")
        self.assertEqual(instance["datasource"]["uid"], "${datasource}")
        self.assertRegex(instance["query"]["query"], r"^label_values\(crawld_build_info\S*, instance\)$")
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        graphs = [p for p in d["panels"] if p["type"] != "row"]
        self.assertGreaterEqual(len(graphs), 20)
        for panel in d["panels"]:
            self.assertTrue({"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"])
            self.assertLessEqual(panel["gridPos"]["x"] + panel["gridPos"]["w"], 24, panel["title"])
        for panel in graphs:
            self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": "${datasource}"}, panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                self.assertEqual(target["datasource"]["uid"], "${datasource}", panel["title"])
                self.assertTrue(target["expr"].strip(), panel["title"])
                # Every series it selects follows the instance variable.
                for name, matchers in selectors(target["expr"]):
                    self.assertIn('instance=~"$instance"', matchers, "%s in panel %r" % (name, panel["title"]))

    def test_dashboard_queries_are_promql(self):
        # promtool parses PromQL only in rules: each query becomes one.
        queries = [expr for place, expr in dashboard_queries(self.dashboard) if place.startswith("panel")]
        fd, path = tempfile.mkstemp(prefix="dashboard-rules-", suffix=".yml", dir=crawld_harness.out_dir())
        with os.fdopen(fd, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for n, expr in enumerate(queries):
                f.write("      - record: dashboard:query_%d\n        expr: %s\n" % (n, json.dumps(for_promtool(expr))))
        self.assertIn("%d rules found" % len(queries), self.promtool("check", "rules", path))

    def test_extraction_skips_functions_labels_and_variables(self):
        expr = ('histogram_quantile(0.99, sum by (instance, le) (rate(crawld_fetch_duration_seconds_bucket'
                '{instance=~"$instance", outcome="ok|skipped"}[$__rate_interval]))) > 1e3 '
                'and on (instance) absent(up{job="crawld"} == 1) or sum without (code) '
                '(instance:crawld_x:rate5m offset 5m) unless crawld_db_up')
        self.assertEqual(selectors(expr), [
            ("crawld_fetch_duration_seconds_bucket", 'instance=~"$instance", outcome="ok|skipped"'),
            ("up", 'job="crawld"'), ("instance:crawld_x:rate5m", ""), ("crawld_db_up", "")])
        with self.assertRaises(ValueError):
            selectors("rat(crawld_jobs_started_total[5m])")

    def crawl_and_scrape(self, config, name):
        """Starts crawld with `config`, runs one deep crawl of the demo site and
        a few reads, and returns its /metrics text."""
        with Crawld(config, name=name) as c:
            self.wait_until(lambda: c.request("GET", "/readyz")[0] == 200, what="readyz 200")
            status, _, data = c.request("POST", "/start", json.dumps({"target": "demo", "season": 2024, "deep": True}),
                                        {"Content-Type": "application/json"})
            self.assertEqual(status, 202, data)
            job_id = body(data)["id"]
            job = self.wait_until(lambda: (lambda j: j if j["state"] not in ("queued", "running") else None)(
                body(c.request("GET", "/jobs/" + job_id)[2])), 60, what="crawl done")
            self.assertEqual(job["state"], "succeeded", job)
            c.request("GET", "/status")
            c.request("GET", "/metrics")
            status, _, data = c.request("GET", "/metrics")
            self.assertEqual(status, 200)
            return data.decode()

    def config(self, db, instance_id, cluster=False):
        config = {"crawl": {"allow_private_networks": True,
                            "targets": [{"name": "demo", "seeds": [self.demo.url("/season/{season}/")],
                                         "deep_depth": 2}]},
                  "database": {"url": db, "instance_id": instance_id, "flush_ms": 50}}
        if cluster:
            config["cluster"] = {"enabled": True, "heartbeat_ms": 300, "lease_ms": 1500, "poll_ms": 300}
        return config

    def test_every_metric_named_is_exported(self):
        names = referenced_metrics(self.dashboard, self.rules)
        self.assertIn("crawld_event_loop_lag_seconds_bucket", names)
        self.assertIn("crawld_cluster_claims_total", names)

        alone = self.crawl_and_scrape(self.config(pg.create_database(), "monitoring-alone"), "monitoring-alone")
        cluster = self.crawl_and_scrape(self.config(pg.create_database(), "monitoring-cluster", cluster=True),
                                        "monitoring-cluster")
        # An instance alone need not export the cluster's metrics; one in
        # cluster mode exports everything.
        for text, wanted in ((alone, [n for n in names if not n.startswith("crawld_cluster_")]), (cluster, names)):
            missing = unexported(wanted, text)
            self.assertEqual(missing, [], "\n".join("%s: named in %s" % (n, ", ".join(names[n])) for n in missing))

        # The same comparison notices a name crawld does not export, a gauge
        # taken for a histogram, and a histogram without its suffix.
        self.assertEqual(unexported(list(names) + ["crawld_no_such_metric"], cluster), ["crawld_no_such_metric"])
        wrong = metric_names('sum(rate(crawld_no_such_metric_total{instance=~"$instance"}[5m])) / sum(crawld_jobs)'
                             ' + crawld_jobs_bucket + crawld_job_duration_seconds + crawld_job_duration_seconds_count')
        self.assertEqual(unexported(wrong, cluster),
                         ["crawld_job_duration_seconds", "crawld_jobs_bucket", "crawld_no_such_metric_total"])


if __name__ == "__main__":
    crawld_harness.main()
