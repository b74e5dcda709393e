// Drives crawld's status page in headless Chromium (Debian's /usr/bin/chromium)
// the way an operator would: load it, start a crawl from the form and watch it
// succeed, open it in the detail view (its parameters, events and pages), start
// another, watch its events arrive live in the detail view and its sparkline,
// cancel it, and keep screenshots at 1280 and 400 px.
//
//   node drive_status_page.mjs BASE_URL OUT_DIR FAST_TARGET SLOW_TARGET
// Prints one JSON line: {"succeeded": id, "cancelled": id, "screenshots": [...]}.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, outDir, fastTarget, slowTarget] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "crawld-chromium-"));

// A fresh profile per run (Playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const screenshots = [];
const errors = [];
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/", { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("service-state").textContent === "running",
                             null, { timeout: 10000 });
  // The page hears of changes through the live stream (GET /events).
  await page.waitForFunction(() => document.body.dataset.live === "stream", null, { timeout: 10000 });
  const liveMode = await page.evaluate(() => document.body.dataset.live);
  // From here on the page does not poll: every change below must reach it
  // through the stream.
  await page.evaluate(() => { clearInterval(timer); timer = null; });

  // The message line keeps the previous answer: clear it so each wait sees a new one.
  const clearMessage = () => page.evaluate(() => { document.getElementById("message").textContent = ""; });

  async function startFromForm(target) {
    await page.selectOption("#target", target);
    await page.fill("#season", "2024");
    await page.check("#deep");
    await clearMessage();
    await page.click("#start-button");
    await page.waitForFunction(() => /Started job/.test(document.getElementById("message").textContent),
                               null, { timeout: 10000 });
    const text = await page.textContent("#message");
    return text.match(/Started job ([0-9a-f]{8})/)[1];
  }
  const rowFor = (prefix) => `#jobs tr[data-job-id^="${prefix}"]`;

  // A crawl that runs to its end: its row changes without a reload or a poll.
  const fast = await startFromForm(fastTarget);
  await page.waitForSelector(`${rowFor(fast)}[data-state="succeeded"]`, { timeout: 30000 });

  // Its detail: parameters, events, pages (written in batches: the view
  // lists them once its final state came).
  await page.click(`${rowFor(fast)} td.id`);
  await page.waitForSelector(`#detail.open[data-state="succeeded"]`, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll("#detail-pages tr").length > 0, null,
                             { timeout: 15000 });
  // Pages and events load side by side: the events end with the final one.
  await page.waitForFunction(() => [...document.querySelectorAll("#detail-events li")]
    .some((li) => li.textContent.includes("job succeeded")), null, { timeout: 15000 }).catch(() => {});
  const fastDetail = await page.evaluate(() => ({
    id: document.getElementById("detail").dataset.jobId,
    target: document.querySelector('#detail-fields dd[data-field="target"]').textContent,
    deep: document.querySelector('#detail-fields dd[data-field="deep"]').textContent,
    fetched: document.querySelector('#detail-fields dd[data-field="fetched"]').textContent,
    events: [...document.querySelectorAll("#detail-events li")].map((li) => li.textContent),
    pages: document.querySelectorAll("#detail-pages tr").length,
    firstPage: document.querySelector("#detail-pages td.url").textContent,
  }));
  const reloads = await page.evaluate(() => performance.getEntriesByType("navigation").length);

  // A crawl that would run for a long time: cancel it from its row.
  const slow = await startFromForm(slowTarget);
  await page.waitForSelector(`${rowFor(slow)}[data-state="running"] button`, { timeout: 15000 });
  // Its detail, live: the events it logs appear without a reload.
  await page.click(`${rowFor(slow)} td.id`);
  await page.waitForSelector(`#detail.open[data-live="live"]`, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll("#detail-events li").length > 0, null,
                             { timeout: 10000 });
  const eventsBefore = await page.evaluate(() => document.querySelectorAll("#detail-events li").length);
  // The running job's sparkline: samples every 2 s.
  await page.waitForSelector(`${rowFor(slow)} svg.spark`, { timeout: 10000 });
  await page.screenshot({ path: path.join(outDir, "status-1280-running.png"), fullPage: true });
  screenshots.push("status-1280-running.png");
  await page.click(`${rowFor(slow)} button`);
  await page.waitForSelector(`${rowFor(slow)}[data-state="cancelled"]`, { timeout: 15000 });
  // The cancel reaches the open detail through its stream: state and events.
  await page.waitForSelector(`#detail[data-state="cancelled"]`, { timeout: 15000 });
  await page.waitForFunction((n) => document.querySelectorAll("#detail-events li").length > n, eventsBefore,
                             { timeout: 15000 });
  const slowEvents = await page.evaluate(() => [...document.querySelectorAll("#detail-events li")]
    .map((li) => li.textContent));

  // An error from the API is shown, not swallowed: the same crawl twice is a 409.
  await page.selectOption("#target", slowTarget);
  await page.uncheck("#deep");
  await clearMessage();
  await page.click("#start-button");
  await page.waitForFunction(() => /Started job/.test(document.getElementById("message").textContent),
                             null, { timeout: 10000 });
  await clearMessage();
  await page.click("#start-button");
  await page.waitForFunction(() => /Start failed/.test(document.getElementById("message").textContent),
                             null, { timeout: 10000 });
  const errorShown = await page.textContent("#message");
  const errorClass = await page.getAttribute("#message", "class");

  await page.screenshot({ path: path.join(outDir, "status-1280.png"), fullPage: true });
  screenshots.push("status-1280.png");
  // The detail of the crawl that succeeded, with its pages, at 1280 and 400 px.
  await page.click(`${rowFor(fast)} td.id`);
  await page.waitForFunction(() => document.querySelectorAll("#detail-pages tr").length > 0, null,
                             { timeout: 15000 });
  await page.screenshot({ path: path.join(outDir, "detail-1280.png"), fullPage: true });
  screenshots.push("detail-1280.png");
  await page.setViewportSize({ width: 400, height: 900 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(outDir, "status-400.png"), fullPage: true });
  screenshots.push("status-400.png");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);

  const ids = await page.$$eval("#jobs tr", (rows) => rows.map((r) => r.dataset.jobId));
  const full = (prefix) => ids.find((id) => id.startsWith(prefix));
  console.log(JSON.stringify({ succeeded: full(fast), cancelled: full(slow), screenshots, errorShown, errorClass,
                               horizontalOverflowAt400: overflow, pageErrors: errors, liveMode, reloads,
                               fastDetail, slowEvents, eventsBefore }));
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
