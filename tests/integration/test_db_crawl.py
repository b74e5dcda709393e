"""Persistence end to end: the real binary and crawler, a local site, a real
PostgreSQL. Rows equal pages, nothing duplicated, nothing lost across an
outage, and jobs a crash left behind are marked interrupted."""
import json
import signal
import time

import crawld_harness
import pg
from crawld_harness import Crawld
from crawld_harness import body
from sites import SitesTestCase


class DbCrawlTest(SitesTestCase):
    def config(self, db_url, **extra):
        config = {
            "crawl": {"allow_private_networks": True, "min_season": 2000, "max_season": 2100,
                      "targets": [
                          {"name": "demo", "seeds": [self.demo.url("/season/{season}/")], "deep_depth": 2},
                          {"name": "hang", "seeds": [self.hang.url("/{season}")]}]},
            "database": {"url": db_url, "instance_id": "test-instance"},
            "jobs": {"hard_kill_grace_ms": 200},
        }
        return crawld_harness.merge(config, extra)

    def ready(self, crawld):
        return crawld.request("GET", "/readyz")[0] == 200

    def start(self, crawld, params):
        status, _, data = crawld.request("POST", "/start", json.dumps(params), {"Content-Type": "application/json"})
        self.assertEqual(status, 202, data)
        return body(data)["id"]

    def finished(self, crawld, job_id, timeout=60):
        def done():
            job = body(crawld.request("GET", "/jobs/" + job_id)[2])
            return job if job["state"] not in ("queued", "running") else None
        return self.wait_until(done, timeout, what="job end")

    def test_deep_crawl_rows_equal_pages(self):
        db = pg.create_database()
        with Crawld(self.config(db), name="db-crawl") as crawld:
            self.wait_until(lambda: self.ready(crawld), what="readyz 200")
            job_id = self.start(crawld, {"target": "demo", "season": 2024, "deep": True})
            job = self.finished(crawld, job_id)
            self.assertEqual(job["state"], "succeeded", job)
            pages = job["progress"]["fetched"] + job["progress"]["failed"] + job["progress"]["skipped"]
            self.assertGreater(pages, 10)
            # Rows are flushed within flush_ms; wait for the last batch.
            self.wait_until(lambda: int(pg.scalar(db, f"select count(*) from crawl_pages where job_id='{job_id}'"))
                            == pages, 10, what="all page rows")
            self.assertEqual(int(pg.scalar(db, f"select count(distinct url) from crawl_pages "
                                               f"where job_id='{job_id}'")), pages)
            row = pg.query(db, f"select state, fetched from crawl_jobs where id='{job_id}'")
            self.assertEqual(row[0][0], "succeeded")
            self.wait_until(lambda: int(pg.scalar(db, f"select fetched from crawl_jobs where id='{job_id}'"))
                            == job["progress"]["fetched"], 10, what="job counters")
            events = int(pg.scalar(db, f"select count(*) from crawl_job_events where job_id='{job_id}'"))
            self.assertGreaterEqual(events, 3)  # accepted, started, finished
            # The API pages through the same rows.
            seen, path = set(), f"/jobs/{job_id}/pages?limit=7"
            while path:
                status, _, data = crawld.request("GET", path)
                self.assertEqual(status, 200, data)
                page = body(data)
                for p in page["pages"]:
                    seen.add(p["url"])
                    # The demo site sends bodies as they are: as many bytes on the wire as decoded.
                    self.assertEqual(p["wire_bytes"], p["bytes"], p)
                    self.assertIn("canonical", p)
                path = page["next"]
            self.assertEqual(len(seen), pages)
            # The new counters are in the job's JSON and its row alike.
            for key in ("truncated", "links_dropped", "retries"):
                self.assertIn(key, job["progress"])
            self.wait_until(lambda: pg.query(db, f"select truncated, links_dropped, retries, bytes from crawl_jobs "
                                                 f"where id='{job_id}'")[0] ==
                            [str(job["progress"][k]) for k in ("truncated", "links_dropped", "retries", "bytes")],
                            10, what="job counters in the row")
            status, _, data = crawld.request("GET", f"/jobs/{job_id}/events")
            self.assertEqual(status, 200)
            self.assertGreaterEqual(len(body(data)["events"]), 3)

    def test_a_finished_jobs_lists_are_complete_at_once(self):
        # Rows wait up to flush_ms (1 s here) before they are written: a
        # list read as soon as the job is final still has every row.
        db = pg.create_database()
        with Crawld(self.config(db, database={"flush_ms": 1000}), name="db-crawl-lists") as crawld:
            self.wait_until(lambda: self.ready(crawld), what="readyz 200")
            job_id = self.start(crawld, {"target": "demo", "season": 2024, "deep": True})
            job = self.finished(crawld, job_id)
            pages = body(crawld.request("GET", f"/jobs/{job_id}/pages?limit=1000")[2])["pages"]
            events = body(crawld.request("GET", f"/jobs/{job_id}/events")[2])["events"]
            progress = job["progress"]
            self.assertGreater(len(pages), 10)
            self.assertEqual(len(pages), progress["fetched"] + progress["failed"] + progress["skipped"])
            self.assertIn("job succeeded", events[-1]["message"], events)

    def test_log_to_db_false_writes_no_page_rows(self):
        db = pg.create_database()
        with Crawld(self.config(db), name="db-nolog") as crawld:
            self.wait_until(lambda: self.ready(crawld), what="readyz 200")
            job_id = self.start(crawld, {"target": "demo", "season": 2023, "deep": True, "log_to_db": False})
            job = self.finished(crawld, job_id)
            self.assertEqual(job["state"], "succeeded")
            self.wait_until(lambda: pg.scalar(db, f"select state from crawl_jobs where id='{job_id}'") == "succeeded",
                            10, what="job row")
            self.assertEqual(int(pg.scalar(db, f"select count(*) from crawl_pages where job_id='{job_id}'")), 0)
            self.assertGreater(int(pg.scalar(db, f"select count(*) from crawl_job_events where job_id='{job_id}'")), 0)

    def test_kill_9_leaves_no_job_running(self):
        db = pg.create_database()
        config = self.config(db, jobs={"max_running": 2})
        crawld = Crawld(config, name="db-kill9").start()
        try:
            self.wait_until(lambda: self.ready(crawld), what="readyz 200")
            ids = [self.start(crawld, {"target": "hang", "season": s}) for s in (2001, 2002, 2003)]
            self.wait_until(lambda: int(pg.scalar(db, "select count(*) from crawl_jobs where state in "
                                                      "('running','queued')")) == 3, 10, what="rows in the db")
            crawld.proc.send_signal(signal.SIGKILL)
            crawld.proc.wait(timeout=10)
        finally:
            crawld.stop()
        with Crawld(config, name="db-kill9-restart") as again:
            self.wait_until(lambda: self.ready(again), what="readyz 200")
            states = self.wait_until(
                lambda: (lambda rows: rows if all(r[1] == "interrupted" for r in rows) and len(rows) == 3 else None)(
                    pg.query(db, "select id, state from crawl_jobs")), 15, what="jobs interrupted")
            self.assertEqual(sorted(r[0] for r in states), sorted(ids))
            for job_id in ids:  # history survives the restart, through the database
                status, _, data = again.request("GET", "/jobs/" + job_id)
                self.assertEqual(status, 200, data)
                self.assertEqual(body(data)["state"], "interrupted")
                # Known only from the database, and over: cancelling it is a conflict, not "unknown".
                status, headers, data = again.request("DELETE", "/jobs/" + job_id)
                self.assertEqual(status, 409, data)
                self.assertEqual(headers["content-type"], "application/problem+json")
                self.assertEqual(body(data)["job"]["state"], "interrupted")
            events = int(pg.scalar(db, "select count(*) from crawl_job_events where message like '%interrupted%'"))
            self.assertGreaterEqual(events, 3)

    def test_outage_mid_crawl_loses_nothing(self):
        cluster = pg.DedicatedCluster()
        try:
            db = pg.create_database(cluster.url)
            config = self.config(db, crawl={"per_host_concurrency": 1, "per_host_delay_ms": 60})
            with Crawld(config, name="db-outage") as crawld:
                self.wait_until(lambda: self.ready(crawld), what="readyz 200")
                job_id = self.start(crawld, {"target": "demo", "season": 2022, "deep": True})
                self.wait_until(lambda: body(crawld.request("GET", "/jobs/" + job_id)[2])["progress"]["fetched"] >= 5,
                                what="crawl under way")
                cluster.stop("immediate")
                self.wait_until(lambda: crawld.request("GET", "/readyz")[0] == 503, 10, what="readyz 503")
                for _ in range(20):  # liveness is unaffected
                    self.assertEqual(crawld.request("GET", "/healthz")[0], 200)
                    time.sleep(0.1)
                cluster.start()
                self.wait_until(lambda: self.ready(crawld), 30, what="readyz back to 200")
                job = self.finished(crawld, job_id)
                self.assertEqual(job["state"], "succeeded", job)
                pages = job["progress"]["fetched"] + job["progress"]["failed"] + job["progress"]["skipped"]
                self.wait_until(lambda: int(pg.scalar(db, f"select count(*) from crawl_pages where job_id='{job_id}'"))
                                == pages, 30, what="every row written")
                self.assertEqual(int(pg.scalar(db, f"select count(distinct url) from crawl_pages "
                                                   f"where job_id='{job_id}'")), pages)
        finally:
            cluster.destroy()

    def test_start_refused_while_the_event_backlog_is_full(self):
        # The database is down: every job's row and events wait in memory.
        # Once they reach max_backlog_rows, POST /start answers 503 instead
        # of growing the queue; every accepted job's rows land afterwards.
        cluster = pg.DedicatedCluster()
        try:
            db = pg.create_database(cluster.url)
            config = self.config(db, database={"max_backlog_rows": 20, "flush_ms": 50},
                                 jobs={"on_duplicate": "allow", "max_running": 50})
            with Crawld(config, name="db-event-backlog") as crawld:
                self.wait_until(lambda: self.ready(crawld), what="readyz 200")
                cluster.stop("immediate")
                self.wait_until(lambda: crawld.request("GET", "/readyz")[0] == 503, 10, what="readyz 503")
                accepted, refused = [], None
                for _ in range(40):
                    status, headers, data = crawld.request("POST", "/start", json.dumps({"target": "demo"}),
                                                           {"Content-Type": "application/json"})
                    if status == 503:
                        refused = (headers, body(data))
                        break
                    self.assertEqual(status, 202, data)
                    accepted.append(body(data)["id"])
                self.assertIsNotNone(refused, "40 jobs accepted with the database down and a bound of 20 rows")
                headers, problem = refused
                self.assertEqual(headers["content-type"], "application/problem+json")
                self.assertEqual(headers["retry-after"], "5")
                self.assertIn("write backlog is full", problem["detail"])
                self.assertGreater(len(accepted), 0)
                database = body(crawld.request("GET", "/status")[2])["database"]
                self.assertGreaterEqual(database["backlog"]["events"] + database["backlog"]["jobs"], 20)
                self.assertFalse(database["accepting_jobs"])
                self.assertEqual(crawld.request("GET", "/healthz")[0], 200)

                cluster.start()
                self.wait_until(lambda: self.ready(crawld), 30, what="readyz back to 200")
                for job_id in accepted:
                    self.finished(crawld, job_id)
                ids = ",".join(f"'{job_id}'" for job_id in accepted)
                self.wait_until(lambda: int(pg.scalar(db, f"select count(*) from crawl_jobs where id in ({ids}) "
                                                          f"and state not in ('queued', 'running')")) == len(accepted),
                                30, what="every accepted job's row")
                self.wait_until(lambda: int(pg.scalar(db, f"select count(*) from (select job_id from crawl_job_events "
                                                          f"where job_id in ({ids}) group by job_id "
                                                          f"having count(*) >= 3) e")) == len(accepted),
                                30, what="every accepted job's events")
                self.wait_until(lambda: not crawld_backlog(crawld), 30, what="the backlog drained")
                self.assertTrue(body(crawld.request("GET", "/status")[2])["database"]["accepting_jobs"])
                status, _, data = crawld.request("POST", "/start", json.dumps({"target": "demo"}),
                                                 {"Content-Type": "application/json"})
                self.assertEqual(status, 202, data)
        finally:
            cluster.destroy()


def crawld_backlog(crawld):
    return any(body(crawld.request("GET", "/status")[2])["database"]["backlog"].values())


if __name__ == "__main__":
    crawld_harness.main()
