// Hostile nicknames in the server's web client, for tests/browser.rs:
// what a member sends must show as text, never become markup.
//
//   node captions.mjs <page-url> <channel> <spec-json>
//
// <spec-json> is {"victim":{user,token},"hostile":[{user,token},{user,token}],
// "nickname":"<markup>"}. In one headless Chromium: the first hostile page
// joins <channel> (audience) with <nickname>, the victim page joins as a
// broadcaster (its captions come from the "joined" member list), then the
// second hostile page joins (its caption comes from "user_joined"). Prints
// one JSON line with what each page shows: caption texts, the number of
// elements inside captions, elements that markup would have created, and
// `typeof window.__pwned`.
import { chromium } from "playwright-core";

const [pageUrl, channel, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
  ],
});
try {
  const dialogs = [];
  const open = async ({ user, token }, nickname, audience) => {
    const page = await browser.newPage();
    page.on("pageerror", (e) => console.error(`page error (${user}): ${e}`));
    page.on("dialog", (d) => { dialogs.push(`${user}: ${d.message()}`); d.dismiss().catch(() => {}); });
    const url = new URL(pageUrl);
    for (const [k, v] of Object.entries({ app: "demo", user, token, channel, nickname, audience: audience ? "1" : "0" })) {
      url.searchParams.set(k, v);
    }
    await page.goto(url.toString());
    await page.waitForFunction(() => window.media && window.media.channel && window.media.channel.joined, null, { timeout: 20000 })
      .catch(async (e) => { throw new Error(`${user} did not join: ${e}: ${JSON.stringify(await page.evaluate(() => window.media.events))}`); });
    return page;
  };
  const first = await open(spec.hostile[0], spec.nickname, true);
  const victim = await open(spec.victim, "", false);
  const second = await open(spec.hostile[1], spec.nickname, true);
  await victim.waitForFunction(() => document.querySelectorAll("#members figcaption").length >= 2, null, { timeout: 20000 })
    .catch(async (e) => { throw new Error(`no captions for both members: ${e}: ${JSON.stringify(await victim.evaluate(() => window.media.events))}`); });
  // Injected `<img src=x onerror=…>` would have failed to load and run its
  // handler by now.
  await victim.waitForTimeout(1500);
  const inspect = (page) => page.evaluate(() => ({
    captions: [...document.querySelectorAll("#members figcaption")].map((c) => c.textContent),
    elementsInCaptions: document.querySelectorAll("#members figcaption *").length,
    // The page has no img, b or iframe of its own, and one script.
    injected: document.querySelectorAll("img, b, iframe").length + document.querySelectorAll("script").length - 1,
    pwned: typeof window.__pwned,
    events: window.media.events,
  }));
  console.log(JSON.stringify({
    victim: await inspect(victim),
    hostile: [await inspect(first), await inspect(second)],
    dialogs,
  }));
} finally {
  await browser.close();
}
