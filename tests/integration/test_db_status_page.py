"""The status page in a real browser: headless Chromium driven by
Playwright (tests/browser/drive_status_page.mjs) against the real binary and
a real PostgreSQL (the detail view lists a job's pages from it).
Screenshots are kept under the test output folder (CRAWLD_TEST_OUT/status-page).
"""
import json
import os
import subprocess
import unittest

import crawld_harness
import pg
from crawld_harness import Crawld
from sites import ROOT, DemoSite, HangingServer


class StatusPageTest(unittest.TestCase):
    def test_start_watch_and_cancel_from_the_page(self):
        browser_dir = os.path.join(ROOT, "tests", "browser")
        if not os.path.exists("/usr/bin/chromium") or not os.path.isdir(os.path.join(browser_dir, "node_modules")):
            self.fail("Chromium or playwright-core missing: run scripts/setup")
        demo, hang = DemoSite(), HangingServer()
        config = {"crawl": {"allow_private_networks": True, "targets": [
            {"name": "demo", "seeds": [demo.url("/season/{season}/")], "deep_depth": 1},
            {"name": "hang", "seeds": [hang.url("/{season}")]}]},
            "database": {"url": pg.create_database(), "flush_ms": 100},
            # The page leaves a crawl of "hang" running: a 1 s grace at stop, not 10.
            "server": {"shutdown_grace_s": 1}}
        out = os.path.join(crawld_harness.out_dir(), "status-page")
        try:
            with Crawld(config, name="status-page") as crawld:
                # The page itself: self-contained, served from the binary.
                status, headers, page = crawld.request("GET", "/")
                self.assertEqual(status, 200)
                self.assertTrue(headers["content-type"].startswith("text/html"))
                self.assertNotIn(b"http://", page.replace(b"http://www.w3.org", b""))  # no external assets
                run = subprocess.run(["node", os.path.join(browser_dir, "drive_status_page.mjs"),
                                      f"http://127.0.0.1:{crawld.port}", out, "demo", "hang"],
                                     capture_output=True, text=True, timeout=120, cwd=browser_dir)
                self.assertEqual(run.returncode, 0, run.stderr[-3000:])
                result = json.loads(run.stdout.strip().splitlines()[-1])
                self.assertEqual(result["pageErrors"], [])
                self.assertEqual(result["liveMode"], "stream")
                self.assertEqual(result["reloads"], 1)
                for name in result["screenshots"]:
                    self.assertGreater(os.path.getsize(os.path.join(out, name)), 10_000, name)
                self.assertFalse(result["horizontalOverflowAt400"])
                self.assertIn("409", result["errorShown"])
                self.assertEqual(result["errorClass"], "error")
                # The detail view showed the crawl's parameters, its events and its pages.
                detail = result["fastDetail"]
                self.assertEqual(detail["id"], result["succeeded"])
                self.assertEqual((detail["target"], detail["deep"]), ("demo", "yes"))
                status, _, data = crawld.request("GET", f"/jobs/{result['succeeded']}/pages?limit=1000")
                pages = json.loads(data)["pages"]
                self.assertEqual(detail["pages"], min(25, len(pages)))
                self.assertEqual(detail["firstPage"], pages[0]["url"])
                self.assertEqual(int(detail["fetched"]), json.loads(crawld.request(
                    "GET", f"/jobs/{result['succeeded']}")[2])["progress"]["fetched"])
                self.assertTrue(any("job succeeded" in e for e in detail["events"]), detail["events"])
                # The running crawl's events came live, the cancel among them.
                self.assertGreater(result["eventsBefore"], 0)
                self.assertTrue(any("cancel" in e for e in result["slowEvents"]), result["slowEvents"])
                # What the page showed is what the API says.
                for key, state in (("succeeded", "succeeded"), ("cancelled", "cancelled")):
                    status, _, data = crawld.request("GET", "/jobs/" + result[key])
                    self.assertEqual(json.loads(data)["state"], state)
        finally:
            demo.stop()
            hang.stop()


if __name__ == "__main__":
    crawld_harness.main()
