// Drives headless Chromium (Debian's /usr/bin/chromium) through the
// server's web client for tests/browser.rs.
//
//   node interop.mjs call  <page-url> <callee> <seconds> <y4m>
//   node interop.mjs answer <page-url> <seconds-limit> <y4m>
//
// <page-url> carries app, user and token. Prints "ready" once registered
// and, at the end, one JSON line with what the browser received.
import { chromium } from "playwright-core";

const [mode, pageUrl, a, b, c] = process.argv.slice(2);
const y4m = mode === "call" ? c : b;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  ignoreDefaultArgs: ["--mute-audio"],
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    `--use-file-for-fake-video-capture=${y4m}`,
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
const deadline = (s) => Date.now() + s * 1000;
try {
  const page = await browser.newPage();
  const url = new URL(pageUrl);
  if (mode === "call") url.searchParams.set("call", a);
  else url.searchParams.set("answer", "auto");
  await page.goto(url.toString());
  await page.waitForFunction(() => window.media && window.media.status !== "connecting" && window.media.status !== "offline", null, { timeout: 20000 });
  console.log("ready");

  const stats = () => page.evaluate(async () => {
    const out = { framesDecoded: 0, audioSamples: 0, audioEnergy: 0, videoCodec: null, framesSent: 0 };
    const pc = window.media.pc;
    if (!pc) return out;
    const report = await pc.getStats();
    const codecs = {};
    report.forEach((s) => { if (s.type === "codec") codecs[s.id] = s.mimeType; });
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") { out.framesDecoded = s.framesDecoded || 0; out.videoCodec = codecs[s.codecId] || null; }
      if (s.type === "inbound-rtp" && s.kind === "audio") { out.audioSamples = s.totalSamplesReceived || 0; out.audioEnergy = s.totalAudioEnergy || 0; }
      if (s.type === "outbound-rtp" && s.kind === "video") out.framesSent = s.framesSent || 0;
    });
    return out;
  });

  let result;
  if (mode === "call") {
    const seconds = Number(b);
    // Wait for decoded video, then let the call run, then hang up.
    const until = deadline(30);
    while ((await stats()).framesDecoded < 10) {
      if (Date.now() > until) throw new Error("no video decoded: " + JSON.stringify(await page.evaluate(() => window.media.events)));
      await page.waitForTimeout(200);
    }
    await page.waitForTimeout(seconds * 1000);
    result = await stats();
    await page.evaluate(() => window.hangup());
  } else {
    const until = deadline(Number(a));
    let last = await stats();
    while (!(await page.evaluate(() => window.media.ended))) {
      if (Date.now() > until) throw new Error("call did not end: " + JSON.stringify(await page.evaluate(() => window.media.events)));
      last = await stats();
      await page.waitForTimeout(200);
    }
    result = last;
  }
  result.events = await page.evaluate(() => window.media.events);
  result.ended = await page.evaluate(() => window.media.ended);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
