"""A large deep crawl whose frontier spills to disk: the real binary, a
generated site (tree_site: nginx, every path a page), a real PostgreSQL.
Every page is fetched exactly once and has exactly one row, nothing is lost
across the spill, the spool folder goes when the crawl ends, memory stays
under a bound, and spool folders a dead process left are removed at start-up.
bench/scale runs the same crawl at a million pages."""
import collections
import json
import os
import shutil
import time
import unittest

import crawld_harness
import pg
from crawld_harness import Crawld
from crawld_harness import body
from tree_site import TreeSite

SANITIZED = crawld_harness.sanitized()
# Sanitizer builds crawl several times slower: fewer pages, still well past
# the 1 MiB frontier budget (about 10,000 queued URLs in memory; the queue
# peaks at about two thirds of the pages).
PAGES = 30_000 if SANITIZED else 50_000
FRONTIER_BUDGET = 1024 * 1024
# Release builds only: sanitizers multiply memory. An idle crawld takes about
# 20 MiB; the crawl adds the 1 MiB frontier, its seen set (16 bytes a URL at
# most) and the pages in flight.
PEAK_RSS_LIMIT_MIB = 48


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class LargeCrawlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.site = TreeSite(access_log=True)

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    def wait_until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        self.fail(f"{what} not reached in {timeout}s")

    def test_every_page_once_across_the_spill(self):
        db = pg.create_database()
        spool_root = os.path.join(crawld_harness.out_dir(), f"spool-{os.getpid()}")
        shutil.rmtree(spool_root, ignore_errors=True)
        # What a crashed crawld left: a pid above any pid_max, so no process has it.
        stale = os.path.join(spool_root, "crawl-999999999-4")
        os.makedirs(stale)
        with open(os.path.join(stale, "segment-0"), "wb") as f:
            f.write(b"x" * 4096)
        config = {
            "log": {"access_log": False},
            "crawl": {"allow_private_networks": True, "concurrency": 32, "per_host_concurrency": 32,
                      "max_idle_connections_per_host": 32, "frontier_memory_bytes": FRONTIER_BUDGET,
                      "spool_dir": spool_root,
                      "targets": [{"name": "tree", "seeds": [self.site.seed], "deep_depth": 100,
                                   "max_pages": PAGES}]},
            "database": {"url": db},
            "jobs": {"max_timeout_s": 3600},
        }
        with Crawld(config, name="large-crawl") as crawld:
            self.assertFalse(os.path.exists(stale), "a dead process's spool folder is removed at start-up")
            self.assertIn("removed 1 crawl spool folder", crawld.log_text())
            self.wait_until(lambda: crawld.request("GET", "/readyz")[0] == 200, 30, "readyz 200")
            status, _, data = crawld.request("POST", "/start", json.dumps({"deep": True, "timeout": 3600,
                                                                           "log_to_db": True}),
                                             {"Content-Type": "application/json"})
            self.assertEqual(status, 202, data)
            job_id = body(data)["id"]

            most_spilled, spool_seen, max_memory = 0, False, 0
            deadline = time.monotonic() + 280
            while True:
                job = body(crawld.request("GET", "/jobs/" + job_id)[2])
                if job["state"] not in ("queued", "running"):
                    break
                frontier = job["frontier"]
                most_spilled = max(most_spilled, frontier["spilled_total"])
                max_memory = max(max_memory, frontier["memory_bytes"])
                if frontier["spill_bytes"] > 0 and os.listdir(spool_root):
                    spool_seen = True
                self.assertLess(time.monotonic(), deadline, "crawl did not finish in time")
                time.sleep(0.2)
            self.assertEqual(job["state"], "succeeded", job)
            progress = job["progress"]
            self.assertEqual(progress["fetched"], PAGES, progress)
            self.assertEqual(progress["failed"], 0, progress)
            self.assertGreater(most_spilled, PAGES // 10, "the frontier spilled a good part of its URLs")
            self.assertTrue(spool_seen, "spilled URLs were on disk under spool_dir")
            # The budget, and what a block read back or written adds to it.
            self.assertLess(max_memory, FRONTIER_BUDGET + 256 * 1024)
            self.assertNotIn("frontier spool", crawld.log_text())

            # The site saw each page once.
            counts = collections.Counter(u for u in self.site.requests() if u not in ("/robots.txt", "/sitemap.xml"))
            self.assertEqual(len(counts), PAGES)
            self.assertEqual(max(counts.values()), 1, counts.most_common(3))
            # And the database has one row for each.
            self.wait_until(lambda: int(pg.scalar(db, f"select count(*) from crawl_pages where job_id='{job_id}'"))
                            == PAGES, 60, "all page rows")
            self.assertEqual(int(pg.scalar(db, f"select count(distinct url) from crawl_pages "
                                               f"where job_id='{job_id}'")), PAGES)
            self.assertEqual(int(pg.scalar(db, f"select count(*) from crawl_pages where job_id='{job_id}' "
                                               f"and status <> 200")), 0)
            # The crawl's spool folder went with it.
            self.assertEqual(os.listdir(spool_root), [])
            rss = peak_rss_mib(crawld.proc.pid)
            print(f"FIGURE large-crawl pages={PAGES} most_spilled={most_spilled} "
                  f"frontier_max_bytes={max_memory} peak_rss_mib={rss:.1f}")
            if not SANITIZED:
                self.assertLess(rss, PEAK_RSS_LIMIT_MIB)


if __name__ == "__main__":
    unittest.main()
