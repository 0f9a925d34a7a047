// Drives Debian's chromium (playwright-core) through the wardwatch web console as the duty
// officer and the integrator would. Run by tests/web_console.rs, which starts wardwatch,
// the broker and an MQTT subscriber, and checks what this prints.
//
// env: WW_URL (http://127.0.0.1:PORT), WW_TOKEN, WW_CAMERA, WW_OUT (screenshots), and
// CHROMIUM (default /usr/bin/chromium).
// stdout: one JSON object per step, {"step": ..., ...}; exit 1 with {"step":"error"} on failure.

import { chromium } from "playwright-core";

const url = process.env.WW_URL, token = process.env.WW_TOKEN, camera = process.env.WW_CAMERA;
const out = process.env.WW_OUT || ".";
const say = (o) => console.log(JSON.stringify(o));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Root in CI has no user namespace sandbox; the alarm must ring without a click.
  args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  // A page without the token asks for it and shows nothing.
  await page.goto(url + "/");
  await page.waitForSelector("#login", { state: "visible" });
  say({ step: "login_prompt", main_hidden: await page.$eval("#main", (m) => m.hidden) });

  await page.goto(url + "/?token=" + encodeURIComponent(token));
  await page.waitForFunction(() => window.ww && window.ww.ready, null, { timeout: 10000 });
  // The token left the address bar (screenshots, shoulder-surfing).
  say({ step: "ready", address: page.url() });

  // The camera's live frame arrives with its zones drawn.
  await page.waitForSelector(`.cam[data-camera="${camera}"] .view img`, { timeout: 20000 });
  await page.waitForSelector(`.cam[data-camera="${camera}"] .view svg polygon`);
  say({ step: "live_frame", badge: await page.$eval(`.cam[data-camera="${camera}"] .badge`, (b) => b.textContent) });

  // The alert: wait for it, then report when the page first showed it (browser clock,
  // ms since the epoch, the same clock the test reads on this machine).
  const el = await page.waitForSelector(".alert.unacked[data-incident]", { timeout: 90000 });
  const id = await el.getAttribute("data-incident");
  const shown = await page.evaluate((i) => window.ww.alertShown[i], id);
  await page.waitForFunction(() => window.ww.alarms > 0, null, { timeout: 5000 });
  const title = await el.$eval(".title", (t) => t.textContent);
  const img = await el.$("img");
  let snapshotLoaded = false;
  if (img) {
    await page.waitForFunction((e) => e.complete && e.naturalWidth > 0, img, { timeout: 5000 }).catch(() => {});
    snapshotLoaded = await img.evaluate((e) => e.complete && e.naturalWidth > 0);
  }
  // Let the next preview frame with the group's boxes come in before the picture.
  await page.waitForTimeout(1500);
  await page.screenshot({ path: `${out}/console.png` });
  say({ step: "alert", id, shown_ms: shown, alarms: await page.evaluate(() => window.ww.alarms), title, snapshot_loaded: snapshotLoaded });

  // Acknowledge: it stops flashing.
  await page.click(`.alert[data-incident="${id}"] [data-ack]`);
  await page.waitForSelector(`.alert.unacked[data-incident="${id}"]`, { state: "detached", timeout: 5000 });
  say({ step: "acked", id });

  // The zone editor: move the first vertex of the first zone, save.
  await page.click(`[data-edit="${camera}"]`);
  await page.waitForSelector("#editor.open");
  await page.waitForFunction(() => { const i = document.getElementById("ed-img"); return i.complete && i.naturalWidth > 0; }, null, { timeout: 10000 });
  const handle = await page.waitForSelector('#ed-svg circle[data-vertex="0"]');
  const box = await page.$eval("#ed-svg", (s) => { const r = s.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
  const hb = await handle.boundingBox();
  const target = { x: box.x + 0.05 * box.w, y: box.y + 0.35 * box.h };
  await page.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2);
  await page.mouse.down();
  await page.mouse.move(target.x, target.y, { steps: 8 });
  await page.mouse.up();
  await page.screenshot({ path: `${out}/editor.png` });
  await page.click("#ed-save");
  await page.waitForSelector("#ed-msg.ok, #ed-msg.err", { timeout: 10000 });
  const saved = await page.$eval("#ed-msg", (m) => ({ ok: m.classList.contains("ok"), text: m.textContent }));
  say({ step: "zone_saved", target: [0.05, 0.35], ...saved });

  // A broken polygon (two points) is refused with the field named, the file unchanged.
  await page.click("#ed-redraw");
  for (const [fx, fy] of [[0.2, 0.2], [0.6, 0.6]]) await page.mouse.click(box.x + fx * box.w, box.y + fy * box.h);
  await page.click("#ed-save");
  await page.waitForSelector("#ed-msg.err", { timeout: 10000 });
  say({ step: "zone_refused", text: await page.$eval("#ed-msg", (m) => m.textContent) });

  // A new zone: named in Vietnamese, gathering and loitering, drawn corner by corner.
  await page.click("#ed-reset");
  await page.click("#ed-new");
  await page.fill("#ed-new-id", "cho-dem");
  await page.fill("#ed-new-name", "Chợ đêm");
  await page.check("#ed-rule-loitering");
  await page.fill("#ed-new-schedule", "22:00-05:00");
  await page.click("#ed-new-go");
  for (const [fx, fy] of [[0.55, 0.60], [0.90, 0.60], [0.90, 0.95], [0.55, 0.95]]) await page.mouse.click(box.x + fx * box.w, box.y + fy * box.h);
  await page.screenshot({ path: `${out}/editor-new-zone.png` });
  await page.click("#ed-save");
  await page.waitForSelector("#ed-msg.ok, #ed-msg.err", { timeout: 10000 });
  say({ step: "zone_added", ...(await page.$eval("#ed-msg", (m) => ({ ok: m.classList.contains("ok"), text: m.textContent }))) });
  // The appliance reloads the camera and sends its zones back: "Undo edits" reads them.
  const hasZone = (want) => page.waitForFunction((w) => {
    document.getElementById("ed-reset").click();
    return [...document.querySelectorAll("#ed-zone option")].some((o) => o.textContent.includes("cho-dem")) === w;
  }, want, { timeout: 15000, polling: 300 });
  await hasZone(true);
  say({ step: "zone_added_live", options: await page.$$eval("#ed-zone option", (os) => os.map((o) => o.textContent)) });

  // Delete it again.
  const idx = await page.$$eval("#ed-zone option", (os) => os.findIndex((o) => o.textContent.includes("cho-dem")));
  await page.selectOption("#ed-zone", String(idx));
  await page.click("#ed-delete");
  await page.click("#ed-save");
  await page.waitForSelector("#ed-msg.ok, #ed-msg.err", { timeout: 10000 });
  say({ step: "zone_removed", ...(await page.$eval("#ed-msg", (m) => ({ ok: m.classList.contains("ok"), text: m.textContent }))) });
  await hasZone(false);
  say({ step: "zone_removed_live", options: await page.$$eval("#ed-zone option", (os) => os.map((o) => o.textContent)) });
  await page.click("#ed-close");

  say({ step: "done", page_errors: errors });
} catch (e) {
  say({ step: "error", error: String(e && e.stack || e) });
  process.exitCode = 1;
} finally {
  await browser.close();
}
