// The Chromium half of the impairment bench: a two-way audio+video call
// between two headless Chromiums (Debian's /usr/bin/chromium), each in its
// own network namespace, over plain RTCPeerConnection with host candidates
// only. This script does the signaling itself (offer from A, answer from B,
// each once ICE gathering is complete) and measures what B receives from A;
// the caller impairs A's egress link.
//
//   node scripts/bench/chromium.mjs --ns-a NS_A --ns-b NS_B --seconds 30 \
//     --audio speech48k.wav [--video clip.y4m] --width 1280 --height 720 \
//     --fps 30 --max-bitrate 2500000 --out DIR
//
// Both browsers send the looped --audio WAV as their microphone (without
// echo cancellation, noise suppression or gain control, as libmedia sends
// a WAV input) and the --video Y4M (or Chromium's built-in test pattern at
// --width x --height, --fps) as their camera. Video prefers H.264
// constrained baseline (42e01f, packetization-mode=1), audio is Chromium's
// default Opus, and the video senders are capped at --max-bitrate.
// Everything else (RED, FEC, NACK, congestion control) is as Chromium
// negotiates by default.
//
// Writes to DIR:
//   stats.jsonl   one line per second once B is connected:
//                 {t_s, a_out: {video: {bitrate_bps, width, height, fps,
//                 quality_limitation_reason}, audio: {bitrate_bps}, rtt_ms,
//                 available_outgoing_bitrate_bps}, b_in: {video: {...},
//                 audio: {...}}}, A's sending and B's receiving side
//   received.wav  the audio B received and played, 48 kHz mono 16-bit
//   summary.json  set-up times, totals over the run and the codecs in use;
//                 also printed as one JSON line on stdout
// Stats Chromium does not report are null; bitrates without data are 0.
// Exits non-zero with a message on stderr when a browser fails to launch,
// the call does not connect within 20 s, no video is decoded, or the run
// exceeds --seconds + 60 s.
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(new URL("../../tests/browser/", import.meta.url));
const { chromium } = require("playwright-core");

const CONNECT_TIMEOUT_MS = 20000;
const FIRST_FRAME_TIMEOUT_MS = 20000;

const { values: opt } = parseArguments({
  options: {
    "ns-a": { type: "string" },
    "ns-b": { type: "string" },
    seconds: { type: "string", default: "30" },
    audio: { type: "string" },
    video: { type: "string" },
    width: { type: "string", default: "1280" },
    height: { type: "string", default: "720" },
    fps: { type: "string", default: "30" },
    "max-bitrate": { type: "string", default: "2500000" },
    out: { type: "string" },
  },
});
for (const name of ["ns-a", "ns-b", "audio", "out"]) {
  if (!opt[name]) usage(`--${name} is required`);
}
const seconds = positive("seconds");
const width = positive("width");
const height = positive("height");
const fps = positive("fps");
const maxBitrate = positive("max-bitrate");
const audioFile = path.resolve(opt.audio);
const videoFile = opt.video && path.resolve(opt.video);
const outDir = path.resolve(opt.out);
for (const file of [audioFile, videoFile]) {
  if (file && !fs.existsSync(file)) usage(`${file} does not exist`);
}
for (const ns of [opt["ns-a"], opt["ns-b"]]) {
  if (!fs.existsSync(`/run/netns/${ns}`)) usage(`network namespace ${ns} does not exist`);
}

function usage(message) {
  console.error(`chromium bench: ${message}\nusage: node scripts/bench/chromium.mjs --ns-a NS_A --ns-b NS_B --seconds S --audio WAV [--video Y4M] --width W --height H --fps F --max-bitrate BPS --out DIR`);
  process.exit(2);
}

function parseArguments(config) {
  try {
    return parseArgs(config);
  } catch (e) {
    usage(e.message);
  }
}

function positive(name) {
  const value = Number(opt[name]);
  if (!(value > 0)) usage(`--${name} must be a positive number`);
  return value;
}

// Runs inside each page (serialised into it): the call's peer connection,
// media elements, first-media watch, received-audio tap and stats reads,
// as window.bench.
function pageMain() {
  const bench = (window.bench = { connectedAt: null, firstFrameAt: null, firstAudioAt: null, recording: false });
  let pc;
  let local;

  // Received media plays as in a call: video in a muted <video>, audio in an
  // <audio> element (without a media element Chromium may feed WebAudio
  // silence for a remote track).
  const videoEl = document.createElement("video");
  const audioEl = document.createElement("audio");
  videoEl.muted = true;
  for (const el of [videoEl, audioEl]) el.autoplay = true;
  document.body.append(videoEl, audioEl);

  const gathered = () => new Promise((resolve, reject) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const timer = setTimeout(() => reject(new Error("ICE gathering did not complete within 10 s")), 10000);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
    });
  });
  const addLocalTracks = () => { for (const track of local.getTracks()) pc.addTrack(track, local); };

  // Camera and microphone (Chromium's fake devices), and the connection.
  // With media access granted, host candidates carry the namespace's
  // address rather than an mDNS name.
  // The microphone's audio is sent untouched, as libmedia sends a WAV
  // input: echo cancellation would otherwise take the far end's copy of
  // the same looped speech, played here, for echo and remove it.
  bench.start = async ({ width, height, fps, fileVideo }) => {
    local = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      video: fileVideo ? true : { width, height, frameRate: fps },
    });
    pc = new RTCPeerConnection({ iceServers: [] });
    pc.ontrack = (e) => {
      const el = e.track.kind === "video" ? videoEl : audioEl;
      el.srcObject = new MediaStream([e.track]);
      el.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected" && !bench.connectedAt) bench.connectedAt = Date.now();
    };
    return local.getVideoTracks()[0].getSettings();
  };

  // A: the offer, video preferring H.264 constrained baseline with
  // packetization-mode=1 (other codecs stay offered after it).
  bench.offer = async () => {
    addLocalTracks();
    const video = pc.getTransceivers().find((t) => t.sender.track && t.sender.track.kind === "video");
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
    const h264 = codecs.filter((c) => c.mimeType === "video/H264" && /profile-level-id=42e01f/i.test(c.sdpFmtpLine || "")
      && /packetization-mode=1/.test(c.sdpFmtpLine || ""));
    if (h264.length) video.setCodecPreferences([...h264, ...codecs.filter((c) => !h264.includes(c))]);
    await pc.setLocalDescription();
    await gathered();
    return { sdp: pc.localDescription.sdp, h264: h264.length > 0 };
  };

  // B: the answer. addTrack after the offer reuses the transceivers it
  // created, so both directions send. Starts the first-media watch.
  bench.answer = async (sdp) => {
    await pc.setRemoteDescription({ type: "offer", sdp });
    addLocalTracks();
    await pc.setLocalDescription();
    await gathered();
    watchFirstMedia();
    return pc.localDescription.sdp;
  };

  // A: applies the answer; returns when it started (the set-up clock's zero).
  bench.accept = async (sdp) => {
    const start = Date.now();
    await pc.setRemoteDescription({ type: "answer", sdp });
    return start;
  };

  bench.limitVideo = async (maxBitrate) => {
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video");
    const params = sender.getParameters();
    if (!params.encodings.length) params.encodings = [{}];
    params.encodings[0].maxBitrate = maxBitrate;
    await sender.setParameters(params);
    return sender.getParameters().encodings[0].maxBitrate;
  };

  // Polls B's stats every 20 ms until the first decoded video frame and
  // the first audio sample played out from a received packet (rather than
  // concealment).
  function watchFirstMedia() {
    (async () => {
      while (!(bench.firstFrameAt && bench.firstAudioAt) && pc.signalingState !== "closed") {
        const report = await pc.getStats();
        const now = Date.now();
        report.forEach((s) => {
          if (s.type !== "inbound-rtp") return;
          if (s.kind === "video" && !bench.firstFrameAt && s.framesDecoded > 0) bench.firstFrameAt = now;
          if (s.kind === "audio" && !bench.firstAudioAt && s.totalSamplesReceived > (s.concealedSamples || 0)) bench.firstAudioAt = now;
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
  }

  // B: taps the received audio track into an AudioWorklet that sends it
  // down-mixed to mono in 100 ms blocks; blocks are kept while recording.
  const TAP = `registerProcessor("tap", class extends AudioWorkletProcessor {
    constructor() { super(); this.block = new Float32Array(4800); this.n = 0; }
    process(inputs) {
      const channels = inputs[0];
      const frames = channels.length ? channels[0].length : 128;
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (const c of channels) sum += c[i];
        this.block[this.n++] = channels.length ? sum / channels.length : 0;
        if (this.n === this.block.length) {
          this.port.postMessage(this.block, [this.block.buffer]);
          this.block = new Float32Array(4800);
          this.n = 0;
        }
      }
      return true;
    }
  });`;
  const blocks = [];
  bench.prepareCapture = async () => {
    const track = pc.getReceivers().find((r) => r.track.kind === "audio").track;
    const ctx = new AudioContext({ sampleRate: 48000 });
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([TAP], { type: "text/javascript" })));
    const tap = new AudioWorkletNode(ctx, "tap");
    tap.port.onmessage = (e) => { if (bench.recording) blocks.push(e.data); };
    ctx.createMediaStreamSource(new MediaStream([track])).connect(tap);
    tap.connect(ctx.destination);
    await ctx.resume();
    return ctx.state;
  };
  bench.blockCount = () => blocks.length;
  // Blocks [from, from + count) as base64 16-bit little-endian PCM.
  bench.takeAudio = (from, count) => {
    const part = blocks.slice(from, from + count);
    const pcm = new Int16Array(part.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const block of part) {
      for (const x of block) pcm[at++] = Math.round(Math.max(-1, Math.min(1, x)) * 32767);
    }
    const bytes = new Uint8Array(pcm.buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  };

  // The RTP streams (with their codec) and the selected candidate pair.
  bench.stats = async () => {
    const report = await pc.getStats();
    const out = { at: Date.now(), connectedAt: bench.connectedAt, firstFrameAt: bench.firstFrameAt, firstAudioAt: bench.firstAudioAt };
    report.forEach((s) => {
      if (s.type === "inbound-rtp" || s.type === "outbound-rtp") {
        out[`${s.type === "inbound-rtp" ? "in" : "out"}_${s.kind}`] = { ...s, codec: report.get(s.codecId) || null };
      }
      if (s.type === "transport" && s.selectedCandidatePairId) out.pair = report.get(s.selectedCandidatePairId) || null;
    });
    return out;
  };
}

const PAGE_URL = "http://localhost/bench";
const PAGE = `<!doctype html><body><script>(${pageMain})()</script></body>`;

const browsers = [];
let closing = false;

// Closes the browsers (killing them if they do not close within 5 s) and
// exits. Playwright SIGKILLs the process group of any browser still
// running when this process exits.
async function shutdown(code, message) {
  if (closing) return;
  closing = true;
  if (message) console.error(`chromium bench: ${message}`);
  await Promise.race([
    Promise.allSettled(browsers.map((b) => b.close())),
    new Promise((resolve) => setTimeout(resolve, 5000)),
  ]);
  process.exit(code);
}

process.on("SIGINT", () => shutdown(130, "interrupted"));
process.on("SIGTERM", () => shutdown(143, "terminated"));
process.on("SIGHUP", () => shutdown(129, "hung up"));
setTimeout(() => shutdown(1, `timed out after ${seconds + 60} s`), (seconds + 60) * 1000);

main().then(() => shutdown(0), (e) => shutdown(1, e.message));

// Launches Chromium inside network namespace `ns` through a wrapper script
// in the output directory, and opens the bench page.
async function open(name, ns) {
  const wrapper = path.join(outDir, `chromium-${name}.sh`);
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || "/usr/bin/chromium"} "$@"\n`);
  fs.chmodSync(wrapper, 0o755);
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: wrapper,
      ignoreDefaultArgs: ["--mute-audio"],
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: 30000,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        // The built-in test pattern runs at 20 fps unless told otherwise.
        `--use-fake-device-for-media-stream=fps=${fps}`, "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        `--use-file-for-fake-audio-capture=${audioFile}`,
        ...(videoFile ? [`--use-file-for-fake-video-capture=${videoFile}`] : []),
      ],
    });
  } catch (e) {
    throw new Error(`browser ${name} (netns ${ns}) failed to launch: ${e.message}`);
  }
  browsers.push(browser);
  browser.on("disconnected", () => shutdown(1, `browser ${name} exited unexpectedly`));
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error(`chromium bench: page ${name}: ${e}`));
  // The page is served by Playwright itself on a secure (localhost) origin,
  // which getUserMedia and AudioWorklet need.
  await page.route(PAGE_URL, (route) => route.fulfill({ contentType: "text/html", body: PAGE }));
  await page.goto(PAGE_URL);
  return page;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const [a, b] = await Promise.all([open("a", opt["ns-a"]), open("b", opt["ns-b"])]);
  const media = { width, height, fps, fileVideo: Boolean(videoFile) };
  const [capture] = await Promise.all([a, b].map((p) => p.evaluate((m) => window.bench.start(m), media)));

  // Signaling: A's offer to B, B's answer back, both with all candidates.
  const offer = await a.evaluate(() => window.bench.offer());
  if (!offer.h264) console.error("chromium bench: warning: no H.264 42e01f packetization-mode=1 in A's capabilities; using Chromium's default video codec order");
  const answer = await b.evaluate((sdp) => window.bench.answer(sdp), offer.sdp);
  const audioState = await b.evaluate(() => window.bench.prepareCapture());
  if (audioState !== "running") console.error(`chromium bench: warning: B's AudioContext is ${audioState}, not running`);
  const t0 = await a.evaluate((sdp) => window.bench.accept(sdp), answer);
  const limits = await Promise.all([a, b].map((p) => p.evaluate((bps) => window.bench.limitVideo(bps), maxBitrate)));
  if (limits.some((bps) => bps !== maxBitrate)) throw new Error(`video maxBitrate not applied: ${limits}`);

  try {
    await b.waitForFunction(() => window.bench.connectedAt, null, { timeout: CONNECT_TIMEOUT_MS, polling: 10 });
  } catch {
    throw new Error(`B did not connect within ${CONNECT_TIMEOUT_MS / 1000} s`);
  }
  await b.evaluate(() => { window.bench.recording = true; });
  const recordStart = Date.now();

  // One sample a second from B's connection on, with deltas over the
  // previous sample.
  const statsFile = path.join(outDir, "stats.jsonl");
  fs.writeFileSync(statsFile, "");
  const read = () => Promise.all([a.evaluate(() => window.bench.stats()), b.evaluate(() => window.bench.stats())]);
  const first = await read();
  const connectedAt = first[1].connectedAt;
  const samples = [];
  let prev = first;
  for (let k = 1; k <= seconds; k++) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, connectedAt + k * 1000 - Date.now())));
    const cur = await read();
    const sample = perSecond(cur, prev, connectedAt);
    samples.push(sample);
    fs.appendFileSync(statsFile, JSON.stringify(sample) + "\n");
    if (!cur[1].firstFrameAt && Date.now() - t0 > FIRST_FRAME_TIMEOUT_MS) {
      throw new Error(`B decoded no video within ${FIRST_FRAME_TIMEOUT_MS / 1000} s`);
    }
    prev = cur;
  }
  const last = prev;
  await b.evaluate(() => { window.bench.recording = false; });
  const audio = await saveReceivedAudio(b, (Date.now() - recordStart) / 1000);

  const [aEnd, bEnd] = last;
  const [aStart, bStart] = first;
  const runS = (bEnd.at - bStart.at) / 1000;
  const heights = samples.map((s) => s.b_in.video.height).filter((h) => h > 0);
  const rtts = samples.map((s) => s.a_out.rtt_ms).filter((r) => r !== null).sort((x, y) => x - y);
  const vin = bEnd.in_video || {};
  const ain = bEnd.in_audio || {};
  const summary = {
    t_connected_ms: ms(bEnd.connectedAt, t0),
    t_first_frame_ms: ms(bEnd.firstFrameAt, t0),
    t_first_audio_ms: ms(bEnd.firstAudioAt, t0),
    seconds: samples.length,
    capture: { width: capture.width ?? null, height: capture.height ?? null, fps: capture.frameRate ?? null },
    max_bitrate_bps: maxBitrate,
    b_in: {
      video: {
        freeze_count: vin.freezeCount ?? null,
        total_freezes_duration_ms: vin.totalFreezesDuration === undefined ? null : round(vin.totalFreezesDuration * 1000),
        frames_decoded: vin.framesDecoded ?? 0,
        frames_dropped: vin.framesDropped ?? null,
        avg_fps: round(((vin.framesDecoded ?? 0) - (bStart.in_video?.framesDecoded ?? 0)) / runS),
        avg_height: heights.length ? round(heights.reduce((s, h) => s + h, 0) / heights.length) : null,
        min_height: heights.length ? Math.min(...heights) : null,
        packets_lost: vin.packetsLost ?? null,
        nack_count: vin.nackCount ?? null,
        codec: codec(vin.codec),
      },
      audio: {
        total_samples_received: ain.totalSamplesReceived ?? null,
        concealed_samples: ain.concealedSamples ?? null,
        packets_lost: ain.packetsLost ?? null,
        codec: codec(ain.codec),
      },
    },
    a_out: {
      avg_video_bitrate_bps: bitrate(aEnd, aStart, "out_video", "bytesSent"),
      avg_audio_bitrate_bps: bitrate(aEnd, aStart, "out_audio", "bytesSent"),
      rtt_ms_p50: rtts.length ? rtts[Math.floor((rtts.length - 1) / 2)] : null,
      rtt_ms_max: rtts.length ? rtts[rtts.length - 1] : null,
    },
    received_audio: audio,
  };
  fs.writeFileSync(path.join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  console.log(JSON.stringify(summary));
  if (!summary.b_in.video.frames_decoded) throw new Error("B decoded no video");
}

// One stats.jsonl line from the current and previous reads of [A, B].
function perSecond([aCur, bCur], [aPrev, bPrev], connectedAt) {
  const vout = aCur.out_video || {};
  const vin = bCur.in_video || {};
  const ain = bCur.in_audio || {};
  return {
    t_s: round((Date.now() - connectedAt) / 1000),
    a_out: {
      video: {
        bitrate_bps: bitrate(aCur, aPrev, "out_video", "bytesSent"),
        width: vout.frameWidth ?? null,
        height: vout.frameHeight ?? null,
        fps: vout.framesPerSecond ?? null,
        quality_limitation_reason: vout.qualityLimitationReason ?? null,
      },
      audio: { bitrate_bps: bitrate(aCur, aPrev, "out_audio", "bytesSent") },
      rtt_ms: aCur.pair?.currentRoundTripTime === undefined ? null : round(aCur.pair.currentRoundTripTime * 1000),
      available_outgoing_bitrate_bps: aCur.pair?.availableOutgoingBitrate ?? null,
    },
    b_in: {
      video: {
        fps: vin.framesPerSecond ?? null,
        width: vin.frameWidth ?? null,
        height: vin.frameHeight ?? null,
        frames_decoded: vin.framesDecoded ?? 0,
        frames_dropped: vin.framesDropped ?? null,
        freeze_count: vin.freezeCount ?? null,
        total_freezes_duration_ms: vin.totalFreezesDuration === undefined ? null : round(vin.totalFreezesDuration * 1000),
        jitter_buffer_delay_ms: jitterBufferDelay(bCur.in_video, bPrev.in_video),
        bitrate_bps: bitrate(bCur, bPrev, "in_video", "bytesReceived"),
        packets_lost: vin.packetsLost ?? null,
        nack_count: vin.nackCount ?? null,
      },
      audio: {
        concealed_samples: ain.concealedSamples ?? null,
        total_samples_received: ain.totalSamplesReceived ?? null,
        packets_lost: ain.packetsLost ?? null,
        jitter_buffer_delay_ms: jitterBufferDelay(bCur.in_audio, bPrev.in_audio),
        bitrate_bps: bitrate(bCur, bPrev, "in_audio", "bytesReceived"),
      },
    },
  };
}

// Bits per second of counter `key` of `stream` between two reads (a
// stream missing from the earlier read counts from zero).
function bitrate(cur, prev, stream, key) {
  const dt = (cur.at - prev.at) / 1000;
  if (!cur[stream] || cur[stream][key] === undefined || !(dt > 0)) return 0;
  return Math.max(0, Math.round(((cur[stream][key] - (prev[stream]?.[key] ?? 0)) * 8) / dt));
}

// Average jitter-buffer delay of what was emitted between two reads.
function jitterBufferDelay(cur, prev) {
  const emitted = (cur?.jitterBufferEmittedCount ?? 0) - (prev?.jitterBufferEmittedCount ?? 0);
  if (emitted <= 0) return null;
  return round(((cur.jitterBufferDelay - (prev?.jitterBufferDelay ?? 0)) / emitted) * 1000);
}

function codec(c) {
  return c ? { mime_type: c.mimeType, sdp_fmtp_line: c.sdpFmtpLine ?? null, payload_type: c.payloadType } : null;
}

function ms(at, t0) {
  return at ? Math.max(0, at - t0) : null;
}

function round(x) {
  return Math.round(x * 10) / 10;
}

// Fetches B's recorded audio, writes received.wav and checks that it is
// about as long as the recording and not silent (warnings on stderr).
async function saveReceivedAudio(page, expectedS) {
  const count = await page.evaluate(() => window.bench.blockCount());
  const parts = [];
  for (let from = 0; from < count; from += 10) {
    parts.push(Buffer.from(await page.evaluate(([f, n]) => window.bench.takeAudio(f, n), [from, 10]), "base64"));
  }
  const pcm = Buffer.concat(parts);
  fs.writeFileSync(path.join(outDir, "received.wav"), Buffer.concat([wavHeader(pcm.length, 48000), pcm]));
  const samples = pcm.length / 2;
  let energy = 0;
  for (let i = 0; i < samples; i++) energy += pcm.readInt16LE(2 * i) ** 2;
  const rms = samples ? Math.sqrt(energy / samples) / 32768 : 0;
  const result = { seconds: round(samples / 48000), rms_dbfs: rms > 0 ? round(20 * Math.log10(rms)) : null };
  if (Math.abs(result.seconds - expectedS) > Math.max(1, 0.1 * expectedS)) {
    console.error(`chromium bench: warning: received.wav is ${result.seconds} s long, recorded for ${round(expectedS)} s`);
  }
  if (!(result.rms_dbfs > -60)) console.error(`chromium bench: warning: received.wav is silent (RMS ${result.rms_dbfs} dBFS)`);
  return result;
}

// A 44-byte RIFF header for mono 16-bit PCM.
function wavHeader(dataBytes, rate) {
  const h = Buffer.alloc(44);
  h.write("RIFF", 0);
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write("WAVEfmt ", 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36);
  h.writeUInt32LE(dataBytes, 40);
  return h;
}
