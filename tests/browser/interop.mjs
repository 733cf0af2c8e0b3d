// Drives headless Chromium (Debian's /usr/bin/chromium) through the
// server's web client for tests/browser.rs.
//
//   node interop.mjs call  <page-url> <callee> <seconds> <y4m>
//   node interop.mjs answer <page-url> <seconds-limit> <y4m>
//   node interop.mjs channel <page-url> <members> <seconds> <y4m>
//
// In channel mode the page URL also names the channel; the browser waits
// until it decodes video from <members> other members, runs <seconds>
// more, prints per-member results and leaves.
//
// <page-url> carries app, user and token. Prints "ready" once registered
// and, at the end, one JSON line with what the browser received.
import { chromium } from "playwright-core";

const [mode, pageUrl, a, b, c] = process.argv.slice(2);
const y4m = mode === "answer" ? b : c;
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
  page.on("pageerror", (e) => console.error("page error: " + e));
  const url = new URL(pageUrl);
  if (mode === "call") url.searchParams.set("call", a);
  else if (mode === "answer") url.searchParams.set("answer", "auto");
  await page.goto(url.toString());
  await page.waitForFunction(() => window.media && window.media.status !== "connecting" && window.media.status !== "offline", null, { timeout: 20000 });
  console.log("ready");

  // getStats of the call's peer connection, or of channel member `uid`'s.
  const stats = (uid) => page.evaluate(async (uid) => {
    const out = { framesDecoded: 0, audioSamples: 0, audioEnergy: 0, videoCodec: null, framesSent: 0 };
    const pc = uid === undefined ? window.media.pc : window.media.channel && window.media.channel.peers[uid];
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
  }, uid);
  const memberStats = async () => {
    const uids = await page.evaluate(() => window.media.channel ? Object.keys(window.media.channel.peers) : []);
    const out = {};
    for (const uid of uids) out[uid] = await stats(uid);
    return out;
  };

  let result;
  if (mode === "channel") {
    const members = Number(a);
    const until = deadline(40);
    for (;;) {
      const all = Object.values(await memberStats());
      if (all.length >= members && all.every((s) => s.framesDecoded >= 30)) break;
      if (Date.now() > until) throw new Error("not every member's video decoded: " + JSON.stringify({ all, events: await page.evaluate(() => window.media.events), status: await page.evaluate(() => window.media.status), channel: await page.evaluate(() => JSON.stringify(window.media.channel)) }));
      await page.waitForTimeout(200);
    }
    await page.waitForTimeout(Number(b) * 1000);
    result = { members: await memberStats(), uid: await page.evaluate(() => window.media.channel.uid) };
    await page.evaluate(() => window.leave());
  } else if (mode === "call") {
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
      // A read that races the hang-up sees a closed connection, whose RTP
      // stats are gone: keep the fullest read, not the last.
      const now = await stats();
      if (now.framesDecoded >= last.framesDecoded) last = now;
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
