// Drives `vnx serve` in Debian's Chromium, headless, through playwright-core, as a person on a
// phone would: pairs through the QR code's address, approves a blocked worker, answers a
// question, approves a plan from the list while another tab keeps its transcript where it was
// scrolled, taps 44 px diff lines (upright and on its side; a desktop's stay dense), comments
// one, runs the gates and merges, meets a refused merge, and keeps a screenshot of each
// page at phone and desktop size. Run by tests/it/browser.rs, which checks the ledger after.
//
//   node browser.mjs   (settings in the environment: VNX_PLAYWRIGHT, VNX_BASE, VNX_CODE,
//                       VNX_BLOCKED, VNX_ASKED, VNX_PLANNED, VNX_DONE, VNX_HELD, VNX_ARTIFACTS,
//                       VNX_CHROMIUM)
// Prints one JSON line per step; exits 1 on the first step that fails.
import { createRequire } from "node:module";
import path from "node:path";

const env = process.env;
const require = createRequire(import.meta.url);
const { chromium } = require(env.VNX_PLAYWRIGHT);
const base = env.VNX_BASE;
const shots = env.VNX_ARTIFACTS;
const say = (step, more = {}) => console.log(JSON.stringify({ step, ...more }));

const browser = await chromium.launch({
  executablePath: env.VNX_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  // (playwright starts it with a new, empty profile of its own)
});
const phone = await browser.newContext({
  viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
});
const page = await phone.newPage();
const alerts = [];
page.on("dialog", async (d) => {
  if (d.type() === "confirm") { await d.accept(); } else { alerts.push(d.message()); await d.dismiss(); }
});
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));

async function shoot(name, url) {
  await page.goto(base + url);
  await page.screenshot({ path: path.join(shots, `${name}-390x844.png`), fullPage: false });
}

try {
  // Pairing: the QR code's address carries the code after '#'; the page fills it in.
  await page.goto(`${base}/pair#code=${env.VNX_CODE}`);
  await page.screenshot({ path: path.join(shots, "pair-390x844.png") });
  if ((await page.inputValue("#code")) !== env.VNX_CODE) throw new Error("the code was not filled in");
  await page.fill("input[name=name]", "test phone");
  await page.click("button[type=submit]");
  await page.waitForURL(base + "/");
  say("paired");
  await page.screenshot({ path: path.join(shots, "list-390x844.png"), fullPage: true });

  // A blocked worker approved from its page.
  await page.goto(`${base}/d/${env.VNX_BLOCKED}`);
  await page.screenshot({ path: path.join(shots, "blocked-390x844.png"), fullPage: true });
  await page.click("button.b-approve");
  await page.waitForURL(/said=/);
  const approved = await page.textContent("p.said");
  if (!/approved/.test(approved)) throw new Error(`approve said: ${approved}`);
  say("approved", { said: approved });

  // A question answered in a follow-up.
  await page.goto(`${base}/d/${env.VNX_ASKED}`);
  await page.screenshot({ path: path.join(shots, "asked-390x844.png"), fullPage: true });
  await page.fill("form.msg:has(input[value=answer]) textarea", "English, please");
  await page.click("button.b-answer");
  await page.waitForURL(/said=/);
  const answered = await page.textContent("p.said");
  if (!/started/.test(answered)) throw new Error(`answer said: ${answered}`);
  say("answered", { said: answered });

  // The done dispatch open in another tab, its transcript at its end, scrolled back to its
  // start by the reader: the redraw the plan's approval below causes keeps it there.
  const reader = await phone.newPage();
  const listening = reader.waitForResponse((r) => r.url().endsWith("/events"));
  await reader.goto(`${base}/d/${env.VNX_DONE}`);
  await listening;
  const log = await reader.evaluate(() => {
    const pre = document.querySelector("pre.log");
    return { top: pre.scrollTop, shown: pre.clientHeight, all: pre.scrollHeight };
  });
  if (log.all <= log.shown) throw new Error(`the transcript fits: ${JSON.stringify(log)}`);
  if (log.top + log.shown < log.all - 2) throw new Error(`the transcript opened above its end: ${JSON.stringify(log)}`);
  say("transcript at its end", log);
  await reader.evaluate(() => {
    document.querySelector("pre.log").scrollTop = 0;
    window.vnxRedrawn = new Promise((r) => document.addEventListener("vnx:redrawn", r, { once: true }));
  });

  // A plan approved before any edit, from its row in the list, which tells it from a
  // question.
  await page.goto(`${base}/d/${env.VNX_PLANNED}`);
  await page.screenshot({ path: path.join(shots, "plan-390x844.png"), fullPage: true });
  await page.goto(`${base}/`);
  const planRow = page.locator(`li.row:has(a[href="/d/${env.VNX_PLANNED}"])`);
  const badge = await planRow.locator(".badge").textContent();
  if (badge !== "plan waits") throw new Error(`the plan's row says ${badge}`);
  await planRow.locator("button.b-approve-plan").click();
  await page.waitForURL(/said=/);
  const planned = await page.textContent("p.said");
  if (!/: ok: /.test(planned)) throw new Error(`plan approval said: ${planned}`);
  say("plan approved", { said: planned });
  await reader.evaluate(() => window.vnxRedrawn);
  const kept = await reader.evaluate(() => document.querySelector("pre.log").scrollTop);
  if (kept !== 0) throw new Error(`a redraw moved the transcript the reader scrolled to its start to ${kept}`);
  say("transcript kept where scrolled", { top: kept });
  await reader.close();

  // The done dispatch: a comment on a diff line (tap the line), its gates, then its merge.
  await page.goto(`${base}/d/${env.VNX_DONE}`);
  await page.screenshot({ path: path.join(shots, "done-390x844.png"), fullPage: true });
  // Every line a finger taps is a 44 px target: on a phone upright or on its side (wider
  // than a narrow screen), not with a mouse on a desktop, where the diff stays dense.
  const targets = "tr[data-line], details.file summary, header a.home";
  const heights = (p) => p.$$eval(targets, (all) => all.map((e) => [e.tagName, e.getBoundingClientRect().height]));
  const side = await browser.newContext({
    viewport: { width: 844, height: 390 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  await side.addCookies(await phone.cookies());
  const sideways = await side.newPage();
  await sideways.goto(`${base}/d/${env.VNX_DONE}`);
  for (const [where, p] of [["390x844", page], ["844x390", sideways]]) {
    const small = (await heights(p)).filter(([, h]) => h < 44);
    if (small.length) throw new Error(`at ${where}, targets under 44 px: ${JSON.stringify(small)}`);
  }
  await sideways.screenshot({ path: path.join(shots, "done-844x390.png") });
  await side.close();
  const mouse = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await mouse.addCookies(await phone.cookies());
  const desktop = await mouse.newPage();
  await desktop.goto(`${base}/d/${env.VNX_DONE}`);
  const dense = await desktop.$eval("tr[data-line]", (e) => e.getBoundingClientRect().height);
  if (dense >= 44) throw new Error(`with a mouse a diff line is ${dense} px tall`);
  await mouse.close();
  say("tap targets", { desktop_line: dense });
  const line = page.locator("tr[data-line]").first();
  await line.tap();
  await page.fill("#comment-form textarea", "Say which greeting this is.");
  await page.screenshot({ path: path.join(shots, "comment-390x844.png"), fullPage: true });
  await page.click("#comment-form button[type=submit]");
  await page.waitForURL(/said=/);
  const commented = await page.textContent("p.said");
  if (!/recorded/.test(commented)) throw new Error(`comment said: ${commented}`);
  say("commented", { said: commented });
  await page.click("button.b-gate-check");
  await page.waitForURL(/said=/);
  await page.click("button.b-merge");
  await page.waitForURL(/said=/);
  const merged = await page.textContent("p.said");
  if (!/: ok: /.test(merged)) throw new Error(`merge said: ${merged}`);
  const okLook = await page.$eval("p.said", (p) => getComputedStyle(p).backgroundColor);
  say("merged", { said: merged });

  // A merge its gate refuses: an alert, unlike a success, with the command's hint.
  await page.goto(`${base}/d/${env.VNX_HELD}`);
  await page.click("button.b-merge");
  await page.waitForURL(/said=/);
  const alert = page.locator('[role="alert"]');
  const refused = await alert.textContent();
  if (!/gates_passed/.test(refused) || !/hint: /.test(refused)) throw new Error(`the refusal said: ${refused}`);
  const badLook = await alert.evaluate((a) => getComputedStyle(a).backgroundColor);
  if (badLook === okLook) throw new Error(`a refusal looks like a success (${badLook})`);
  await page.screenshot({ path: path.join(shots, "refused-390x844.png"), fullPage: true });
  say("refused", { said: refused });

  // Every page at desktop size too.
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await desk.addCookies((await phone.cookies()).map((c) => ({ ...c })));
  const wide = await desk.newPage();
  for (const [name, url] of [["list", "/"], ["blocked", `/d/${env.VNX_BLOCKED}`],
    ["asked", `/d/${env.VNX_ASKED}`], ["plan", `/d/${env.VNX_PLANNED}`],
    ["done", `/d/${env.VNX_DONE}`]]) {
    await wide.goto(base + url);
    await wide.screenshot({ path: path.join(shots, `${name}-1280x800.png`) });
  }
  say("desktop");
  // The list's load time as the browser measured it.
  await page.goto(base + "/");
  const nav = await page.evaluate(() => performance.getEntriesByType("navigation")[0].toJSON());
  say("timing", { response_ms: nav.responseEnd - nav.requestStart });
  if (alerts.length) throw new Error(`a page script ran: ${alerts.join(", ")}`);
  if (errors.length) throw new Error(`page errors: ${errors.join(", ")}`);
  say("end");
} catch (e) {
  await page.screenshot({ path: path.join(shots, "failure.png"), fullPage: true }).catch(() => {});
  say("failed", { error: String(e), url: page.url() });
  await browser.close();
  process.exit(1);
}
await browser.close();
