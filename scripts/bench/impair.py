"""The impairment bench: libmedia and Chromium on the same impaired links.

Two namespaces joined by a veth pair; side A's egress is impaired (tbf for
capacity, an NFQUEUE delayer for loss, bursts, delay and jitter). In each
scenario A calls B for --seconds, first with two libmedia callers
(examples/caller) and then with two headless Chromiums
(scripts/bench/chromium.mjs), both sending the same looped 720p30 clip and
the same looped speech. What B receives from A is measured:

- PESQ-WB (ITU-T P.862.2) of the received speech, per repetition of the
  reference sentence, each repetition aligned by cross-correlation;
- freezes (WebRTC's definition in both), received frame rate and height;
- A's send bitrate and RTT; after a capacity drop, the time until A's
  sending fits the new capacity (per second of payload, and from the
  bottleneck's queue sampled every 100 ms) and the RTT and queue peaks it
  costs, next to what went into the link in the second before it; after a capacity rise, the time until 720p is sent again; on a
  steady 500 kbit/s bottleneck, the RTT and the share of the link used
  (media payload, and every byte the bottleneck sent);
- libmedia's glass-to-glass latency (capture to frame callback);
- CPU of everything running in each namespace.

Run by scripts/impair-bench.sh, which installs and builds what it needs.
Writes results.json and a Markdown table into --out; prints the table.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
from pesq import pesq

ROOT = Path(__file__).resolve().parents[2]
NS_A, NS_B = "mbench_a", "mbench_b"
IP_A, IP_B = "10.77.0.1", "10.77.0.2"
DEV_A = "mbv_a"
STEP_AT_S = 10.0  # the capacity step, seconds after media started

# name: (description, impairment)
SCENARIOS = {
    "clean": ("no impairment", {}),
    "loss10": ("10 % random loss", {"loss": 0.10}),
    "loss20": ("20 % random loss", {"loss": 0.20}),
    "loss30": ("30 % random loss", {"loss": 0.30}),
    # mean loss 0.0265 / (0.0265 + 0.25) = 9.6 %, bursts of 4 packets
    "bursty": ("Gilbert-Elliott ~9.6 % (bursts of 4)", {"ge": "0.0265,0.25,1.0"}),
    "loss5_delay50": ("5 % loss + 50±10 ms", {"loss": 0.05, "delay_ms": 50, "jitter_ms": 10}),
    "step": ("2 → 0.5 Mbit/s at 10 s", {"rate_kbit": 2000, "step_kbit": 500}),
    "cap500": ("500 kbit/s steady", {"rate_kbit": 500}),
    "rise": ("0.5 → 2.5 Mbit/s at 10 s", {"rate_kbit": 500, "step_kbit": 2500}),
}


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def in_ns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


# ---------------------------------------------------------------- network

def net_down():
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)


def net_up():
    net_down()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", DEV_A, "netns", NS_A, "type", "veth", "peer", "name", "mbv_b", "netns", NS_B)
    sh("ip", "-n", NS_A, "addr", "add", f"{IP_A}/24", "dev", DEV_A)
    sh("ip", "-n", NS_B, "addr", "add", f"{IP_B}/24", "dev", "mbv_b")
    for ns, dev in ((NS_A, DEV_A), (NS_B, "mbv_b")):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", dev, "up")


def capacity_drop(spec):
    """Whether the scenario's capacity steps down (else up, or not at all)."""
    return "step_kbit" in spec and spec["step_kbit"] < spec["rate_kbit"]


def capacity_rise(spec):
    return "step_kbit" in spec and spec["step_kbit"] > spec["rate_kbit"]


def qdisc_counts():
    """(bytes sent, bytes queued) of A's bottleneck (tbf), link-layer
    headers included: what its rate limits."""
    out = sh(*in_ns(NS_A, "tc", "-s", "-j", "qdisc", "show", "dev", DEV_A), check=False).stdout
    try:
        q = json.loads(out)[0]
        return q["bytes"], q["backlog"]
    except (ValueError, IndexError, KeyError):
        return None


def wire_use_pct(wire, rate_kbit, start_s, end_s):
    """The share of the link's rate the bottleneck sent between `start_s`
    and `end_s` after media started (every packet, headers, repairs and
    feedback included)."""
    inside = [w for w in wire if start_s <= w[0] <= end_s]
    if len(inside) < 2:
        return None
    (t0, b0, _), (t1, b1, _) = inside[0], inside[-1]
    return round(100 * (b1 - b0) * 8 / (rate_kbit * 1000 * (t1 - t0)))


def queue_after_step(wire, step_at, rate_kbit, within_s=8.0):
    """From the bottleneck's queue after a capacity step: how long until
    it stopped growing (from then on, sending fits), and the delay it
    reached, in ms. The queue grows exactly while more is sent than the
    link carries; sampled every 100 ms."""
    after = [w for w in wire if step_at <= w[0] <= step_at + within_s]
    if not after:
        return None, None
    peak = max(w[2] for w in after)
    at = next(w[0] for w in after if w[2] == peak)
    return round(at - step_at, 1), round(peak * 8 / rate_kbit, 1)


def sent_before_step(wire, step_at, span_s=1.0):
    """What the bottleneck took in (sent, plus the growth of its queue)
    in the `span_s` before a capacity step, kbit/s: the queue a step
    builds before the sender reacts grows with it."""
    inside = [w for w in wire if step_at - span_s <= w[0] <= step_at]
    if len(inside) < 2:
        return None
    (t0, b0, q0), (t1, b1, q1) = inside[0], inside[-1]
    return round(((b1 - b0) + (q1 - q0)) * 8 / (1000 * (t1 - t0)))


class Impairment:
    """What one scenario does to A's egress, set up and torn down around
    each run."""

    def __init__(self, spec, seed, venv_python):
        self.spec, self.seed, self.python = spec, seed, venv_python
        self.delayer = None
        self.step_timer = None
        # (seconds since media started, bytes the bottleneck sent, bytes
        # queued in it), every 100 ms, on rate-limited links; when the
        # capacity step was made.
        self.wire = []
        self.step_done_at = None
        self.sampling = threading.Event()

    def start(self):
        s = self.spec
        if "rate_kbit" in s:
            sh(*in_ns(NS_A, "tc", "qdisc", "replace", "dev", DEV_A, "root", "tbf",
                      "rate", f"{s['rate_kbit']}kbit", "burst", "16kb", "latency", "400ms"))
        if any(k in s for k in ("loss", "ge", "delay_ms")):
            sh(*in_ns(NS_A, "iptables", "-A", "OUTPUT", "-p", "udp", "-d", IP_B,
                      "-j", "NFQUEUE", "--queue-num", "0"))
            args = [self.python, str(ROOT / "scripts/bench/delayer.py"), "--seed", str(self.seed)]
            if "loss" in s:
                args += ["--loss", str(s["loss"])]
            if "ge" in s:
                args += ["--ge", s["ge"]]
            if "delay_ms" in s:
                args += ["--delay-ms", str(s["delay_ms"]), "--jitter-ms", str(s.get("jitter_ms", 0))]
            self.delayer = subprocess.Popen(in_ns(NS_A, *args), stdout=subprocess.PIPE, text=True)
            if self.delayer.stdout.readline().strip() != "ready":
                raise RuntimeError("the delayer did not start")

    def media_started(self):
        """Called when media flows: schedules the capacity step."""
        t0 = time.monotonic()
        if "step_kbit" in self.spec:
            def step():
                sh(*in_ns(NS_A, "tc", "qdisc", "change", "dev", DEV_A, "root", "tbf",
                          "rate", f"{self.spec['step_kbit']}kbit", "burst", "16kb", "latency", "400ms"))
                self.step_done_at = time.monotonic() - t0
            self.step_timer = threading.Timer(STEP_AT_S, step)
            self.step_timer.start()
        if "rate_kbit" in self.spec:
            def sample():
                while not self.sampling.wait(0.1):
                    counts = qdisc_counts()
                    if counts is not None:
                        self.wire.append((time.monotonic() - t0, *counts))
            threading.Thread(target=sample, daemon=True).start()

    def stop(self):
        self.sampling.set()
        if self.step_timer:
            self.step_timer.cancel()
        counts = None
        if self.delayer:
            self.delayer.send_signal(signal.SIGTERM)
            try:
                out, _ = self.delayer.communicate(timeout=5)
                counts = json.loads(out.strip().splitlines()[-1])
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                self.delayer.kill()
        sh(*in_ns(NS_A, "iptables", "-F", "OUTPUT"), check=False)
        sh(*in_ns(NS_A, "tc", "qdisc", "del", "dev", DEV_A, "root"), check=False)
        return counts


# ---------------------------------------------------------------- CPU

def ns_inode(ns):
    return os.stat(f"/run/netns/{ns}").st_ino


class CpuSampler:
    """CPU seconds of every process in a namespace (a browser's many
    processes included), sampled twice a second."""

    def __init__(self, ns, exclude=()):
        self.inode, self.exclude = ns_inode(ns), set(exclude)
        self.samples = []  # (time, {pid: cpu seconds})
        self.stop_flag = threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def snapshot(self):
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in self.exclude:
                continue
            try:
                if os.stat(f"/proc/{pid}/ns/net").st_ino != self.inode:
                    continue
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                out[int(pid)] = (int(fields[11]) + int(fields[12])) / self.tick
            except (OSError, IndexError, ValueError):
                continue
        return out

    def run(self):
        while not self.stop_flag.wait(0.5):
            self.samples.append((time.monotonic(), self.snapshot()))

    def share(self, t0, t1):
        """Mean share of one core between t0 and t1 (monotonic)."""
        self.stop_flag.set()
        self.thread.join()
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return None
        (ta, a), (tb, b) = inside[0], inside[-1]
        used = sum(v - a.get(pid, 0.0) for pid, v in b.items())
        return used / (tb - ta)


# ---------------------------------------------------------------- speech

def read_wav(path):
    with wave.open(str(path)) as w:
        rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        x = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    else:
        raise ValueError(f"{path}: {width}-byte samples")
    return x.reshape(-1, ch).mean(axis=1), rate


def resample_to_16k(x, rate):
    if rate == 16000:
        return x
    tmp_in, tmp_out = Path("/tmp/mbench_rs_in.wav"), Path("/tmp/mbench_rs_out.wav")
    write_wav(tmp_in, x, rate)
    sh("sox", str(tmp_in), "-r", "16000", str(tmp_out))
    y, _ = read_wav(tmp_out)
    return y


def write_wav(path, x, rate):
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def make_speech(out_dir):
    """Reference speech: two Harvard sentences by espeak-ng, 48 kHz mono."""
    ref = out_dir / "speech48k.wav"
    if ref.exists():
        return ref
    # About 5 s: a 30 s call holds five scored repetitions.
    text = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
    raw = out_dir / "speech_raw.wav"
    sh("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text)
    # Half a second of silence after each pass keeps the repetitions apart.
    sh("sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(ref), "pad", "0", "0.5")
    return ref


def make_clip(out_dir, seconds=4, fps=30, w=1280, h=720):
    """The video both engines send: a textured background panning 4 px a
    frame and a bright square bouncing across it, 720p30, looped by both
    (Y4M, I420)."""
    clip = out_dir / "clip720p.y4m"
    if clip.exists():
        return clip
    rng = np.random.default_rng(7)
    n = seconds * fps
    period = 4 * n  # the pan's length: the loop has no seam
    # A smooth texture, periodic across: noise blurred by box filters (on a
    # circle, so the tile wraps), costing bits like a real scene.
    tile = rng.integers(0, 256, (h, period)).astype(np.float32)
    for _ in range(3):
        for axis in (0, 1):
            tile = sum(np.roll(tile, k, axis=axis) for k in range(-6, 7)) / 13
    tile = (tile - tile.mean()) * 60 / tile.std() + 128
    tex = np.tile(np.clip(tile, 16, 235).astype(np.uint8), (1, w // period + 2))
    chroma = np.full((h // 2, w // 2), 128, np.uint8)

    def tri(x):  # 0 → 1 → 0 as x goes 0 → 1
        return 1 - abs(2 * (x % 1.0) - 1)

    with open(clip, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(n):
            x = 4 * i
            y = tex[:, x: x + w].copy()
            sx, sy = int((w - 160) * tri(i / n)), int((h - 160) * tri(2 * i / n))
            y[sy: sy + 160, sx: sx + 160] = 235
            f.write(b"FRAME\n")
            f.write(y.tobytes())
            f.write(chroma.tobytes())
            f.write(chroma.tobytes())
    return clip


def pesq_per_repeat(ref16, rec16, skip_s=2.0):
    """PESQ-WB of each full repetition of `ref16` in `rec16` after the
    first `skip_s` seconds. A repetition is found by cross-correlation
    near where the previous one ended, and runs until the next one starts:
    playout may have stretched, or moved its delay, within it (PESQ aligns
    the utterances inside)."""
    n = len(ref16)
    if len(rec16) < n:
        return []
    # Cross-correlation of the reference with the recording at every lag.
    fft_n = 1 << int(np.ceil(np.log2(len(rec16) + n)))
    c = np.fft.irfft(np.fft.rfft(rec16, fft_n) * np.conj(np.fft.rfft(ref16, fft_n)), fft_n)[: len(rec16) - n + 1]
    # The first repetition: the best match within the first pass; each
    # next one refined within ±250 ms of where the last one ended.
    starts = [int(np.argmax(c[: min(len(c), n + 16000)]))]
    while starts[-1] + n < len(c):
        pos = starts[-1] + n
        lo, hi = max(0, pos - 4000), min(len(c) - 1, pos + 4000)
        starts.append(lo + int(np.argmax(c[lo: hi + 1])))
    scores = []
    for i, pos in enumerate(starts):
        if pos + n > len(rec16) or pos < skip_s * 16000:
            continue
        end = starts[i + 1] if i + 1 < len(starts) else pos + n
        seg = rec16[pos: end]
        try:
            scores.append(pesq(16000, ref16, seg, "wb"))
        except Exception:  # no utterance found: the speech was lost
            scores.append(1.0)
    return scores


# ---------------------------------------------------------------- runs

def read_jsonl(path):
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def wait_for_line(path, pred, limit_s):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        for line in read_jsonl(path):
            if pred(line):
                return True
        time.sleep(0.05)
    return False


def token(user):
    return sh(str(ROOT / "target/release/media-server"), "token", "--app", "demo:secret", "--user", user).stdout.strip()


def run_call(proc, stats, has_media, connect_s, limit_s, imp):
    """Waits for `stats` to show media (then starts the scenario's timed
    impairments) and for `proc` to end, killing it after `limit_s`.
    Returns (media seen, media start, end) on the monotonic clock."""
    ok = wait_for_line(stats, has_media, connect_s)
    t0 = time.monotonic()
    if ok:
        imp.media_started()
    try:
        proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.kill()
    return ok, t0, time.monotonic()


def run_libmedia(args, run_dir, speech, clip, imp):
    caller = str(ROOT / "target/release/examples/caller")
    server = subprocess.Popen(
        in_ns(NS_B, str(ROOT / "target/release/media-server"), "serve", "--app", "demo:secret",
              "--listen", f"{IP_B}:8090"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server.stdout.readline()
    common = ["--server", f"ws://{IP_B}:8090/ws", "--fake", "--headless", "--width", "1280",
              "--height", "720", "--fps", "30", "--bitrate", str(args.max_bitrate),
              "--audio-in", str(speech), "--video-in", str(clip), "--video-delay", args.video_delay]
    if args.lip_sync:
        common.append("--lip-sync")
    a_json, b_json = run_dir / "a.jsonl", run_dir / "b.jsonl"
    logs = [open(run_dir / "b.log", "w"), open(run_dir / "a.log", "w")]
    bob = subprocess.Popen(
        in_ns(NS_B, caller, *common, "--token", token("bob"), "--me", "bob", "--host-ip", IP_B,
              "--record", str(run_dir / "b"), "--record-audio-only", "--stats-json", str(b_json),
              "answer"), stdout=logs[0], stderr=subprocess.STDOUT)
    time.sleep(0.5)  # bob registers; a call before that finds him offline and fails loudly below
    cpu_a = CpuSampler(NS_A, exclude={imp.delayer.pid} if imp.delayer else ())
    cpu_b = CpuSampler(NS_B, exclude={server.pid})
    alice = subprocess.Popen(
        in_ns(NS_A, caller, *common, "--token", token("alice"), "--me", "alice", "--host-ip", IP_A,
              "--stats-json", str(a_json), "--duration", str(args.seconds), "call", "bob"),
        stdout=logs[1], stderr=subprocess.STDOUT)
    ok, t0, t1 = run_call(alice, a_json, lambda l: l.get("remotes"), 20, args.seconds + 40, imp)
    try:
        bob.wait(timeout=20)
    except subprocess.TimeoutExpired:
        bob.kill()
    server.kill()
    for f in logs:
        f.close()
    cpu = (cpu_a.share(t0 + 3, t1 - 1), cpu_b.share(t0 + 3, t1 - 1))
    if not ok:
        raise RuntimeError(f"libmedia: no media within 20 s (see {run_dir}/a.log)")

    # Per-second rows on one scale: t from the first line with media.
    a_lines = [l for l in read_jsonl(a_json) if l.get("remotes")]
    b_lines = [l for l in read_jsonl(b_json) if l.get("remotes")]
    ta0 = a_lines[0]["t_s"] if a_lines else 0
    tb0 = b_lines[0]["t_s"] if b_lines else 0
    send = [{"t": l["t_s"] - ta0,
             "bps": l["engine"]["video_send_bitrate_bps"] + l["engine"]["audio_send_bitrate_bps"],
             "rtt_ms": l["remotes"][0]["rtt_us"] / 1000,
             # the largest of the ten round trips a second (the above is the latest)
             "rtt_peak_ms": l["remotes"][0].get("rtt_max_us", l["remotes"][0]["rtt_us"]) / 1000,
             "height": l["engine"]["video_send_height"],
             "fps": l["engine"]["video_send_fps"]} for l in a_lines]
    recv = [{"t": l["t_s"] - tb0,
             "fps": l["remotes"][0]["video_fps"],
             "height": l["remotes"][0]["video_height"],
             "freezes": l["remotes"][0]["video_freezes"],
             "frozen_ms": l["remotes"][0]["video_frozen_ms"]} for l in b_lines]
    latency = b_lines[-1]["engine"]["video_end_to_end_latency"]["p50_us"] / 1000 if b_lines else None
    # How far B's audio played ahead of A's video (negative: behind), from 10 s on.
    offsets = [l["engine"]["av_sync_offset_us"] / 1000 for l in b_lines
               if l["t_s"] - tb0 >= 10 and l["engine"].get("audio_latency_us")]
    receiver = {"g2g": latency, "av_offset": round(statistics.median(offsets), 1) if offsets else None}
    audio = run_dir / "b" / "audio.wav"
    return send, recv, audio, cpu, receiver


def run_chromium(args, run_dir, speech, clip, imp):
    cmd = ["node", str(ROOT / "scripts/bench/chromium.mjs"), "--ns-a", NS_A, "--ns-b", NS_B,
           "--seconds", str(args.seconds), "--audio", str(speech), "--video", str(clip), "--width", "1280",
           "--height", "720", "--fps", "30", "--max-bitrate", str(args.max_bitrate),
           "--out", str(run_dir)]
    stats = run_dir / "stats.jsonl"
    log = open(run_dir / "chromium.log", "w")
    cpu_a = CpuSampler(NS_A, exclude={imp.delayer.pid} if imp.delayer else ())
    cpu_b = CpuSampler(NS_B)
    node = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    ok, t0, t1 = run_call(node, stats, lambda l: True, 40, args.seconds + 90, imp)
    log.close()
    cpu = (cpu_a.share(t0 + 3, t1 - 3), cpu_b.share(t0 + 3, t1 - 3))
    if node.returncode != 0 or not ok:
        raise RuntimeError(f"chromium run failed (see {run_dir}/chromium.log)")
    lines = read_jsonl(stats)
    send = [{"t": l["t_s"],
             "bps": (l["a_out"]["video"].get("bitrate_bps") or 0) + (l["a_out"]["audio"].get("bitrate_bps") or 0),
             "rtt_ms": l["a_out"].get("rtt_ms") or 0, "rtt_peak_ms": l["a_out"].get("rtt_ms") or 0,
             "height": l["a_out"]["video"].get("height") or 0,
             "fps": l["a_out"]["video"].get("fps") or 0} for l in lines]
    recv = [{"t": l["t_s"], "fps": l["b_in"]["video"].get("fps") or 0,
             "height": l["b_in"]["video"].get("height") or 0,
             "freezes": l["b_in"]["video"].get("freeze_count") or 0,
             "frozen_ms": l["b_in"]["video"].get("total_freezes_duration_ms") or 0} for l in lines]
    return send, recv, run_dir / "received.wav", cpu, None


# ---------------------------------------------------------------- metrics

def summarize(name, spec, send, recv, audio, cpu, receiver, ref16):
    m = {"cpu_a_pct": None if cpu[0] is None else round(cpu[0] * 100),
         "cpu_b_pct": None if cpu[1] is None else round(cpu[1] * 100),
         "g2g_p50_ms": None}
    if receiver is not None:  # libmedia's: glass-to-glass and the A/V offset
        m["g2g_p50_ms"] = None if receiver["g2g"] is None else round(receiver["g2g"], 1)
        m["av_offset_p50_ms"] = receiver["av_offset"]
    if audio.exists():
        rec, rate = read_wav(audio)
        scores = pesq_per_repeat(ref16, resample_to_16k(rec, rate))
        m["pesq_wb"] = round(statistics.mean(scores), 2) if scores else None
        m["pesq_n"] = len(scores)
    steady = [r for r in recv if r["t"] >= 2]
    if steady:
        m["fps_mean"] = round(statistics.mean(r["fps"] for r in steady), 1)
        m["fps_min"] = round(min(r["fps"] for r in steady), 1)
        m["height_mean"] = round(statistics.mean(r["height"] for r in steady))
        m["height_min"] = min(r["height"] for r in steady)
    if recv:
        m["freezes"] = recv[-1]["freezes"]
        m["frozen_ms"] = recv[-1]["frozen_ms"]
    s2 = [s for s in send if s["t"] >= 2]
    if s2:
        m["send_kbps"] = round(statistics.mean(s["bps"] for s in s2) / 1000)
        rtts = sorted(s["rtt_ms"] for s in s2)
        m["rtt_p50_ms"] = round(rtts[len(rtts) // 2], 1)
        m["rtt_max_ms"] = round(max(s["rtt_peak_ms"] for s in s2), 1)
    if capacity_rise(spec):
        after = [s for s in send if s["t"] > STEP_AT_S]
        top = next((s["t"] - STEP_AT_S for s in after if s["height"] >= 720), None)
        m["back_to_720p_s"] = None if top is None else round(top, 1)
        last = [s for s in after if s["t"] >= STEP_AT_S + 10]
        if last:
            m["send_late_kbps"] = round(statistics.mean(s["bps"] for s in last) / 1000)
    elif capacity_drop(spec):
        cap = spec["step_kbit"] * 1000
        after = [s for s in send if s["t"] > STEP_AT_S]
        fit = next((s["t"] - STEP_AT_S for i, s in enumerate(after)
                    if all(x["bps"] <= cap * 1.05 for x in after[i:])), None)
        m["fit_s"] = None if fit is None else round(fit, 1)
        m["rtt_peak_after_step_ms"] = round(max((s["rtt_peak_ms"] for s in after), default=0), 1)
        ra = [r for r in recv if r["t"] > STEP_AT_S]
        m["fps_min_after_step"] = round(min((r["fps"] for r in ra), default=0), 1)
        m["height_after_step"] = ra[-1]["height"] if ra else None
    if spec.get("rate_kbit") and "step_kbit" not in spec:
        late = [s for s in send if s["t"] >= 10]
        if late:
            rtts = sorted(s["rtt_ms"] for s in late)
            m["steady_rtt_p50_ms"] = round(rtts[len(rtts) // 2], 1)
            m["link_use_pct"] = round(statistics.mean(s["bps"] for s in late) / (spec["rate_kbit"] * 10))
    return m


def table(results):
    cols = [("pesq_wb", "PESQ-WB"), ("freezes", "freezes"), ("frozen_ms", "frozen ms"),
            ("fps_mean", "fps"), ("fps_min", "fps min"), ("height_mean", "height"),
            ("send_kbps", "send kbit/s"), ("rtt_p50_ms", "RTT p50"), ("rtt_max_ms", "RTT max"),
            ("fit_s", "fit s (payload per s)"), ("queue_fit_s", "fit s (queue stops growing)"),
            ("sent_before_step_kbps", "kbit/s into the link in the second before the step"),
            ("queue_peak_ms", "queue peak after step ms"),
            ("back_to_720p_s", "720p again after rise s"), ("send_late_kbps", "send kbit/s from 10 s after rise"), ("rtt_peak_after_step_ms", "RTT peak after step"),
            ("steady_rtt_p50_ms", "RTT p50 after 10 s"), ("link_use_pct", "media payload % of link"),
            ("wire_use_pct", "link use % (wire)"), ("g2g_p50_ms", "glass-to-glass p50 ms"),
            ("av_offset_p50_ms", "audio ahead of video p50 ms"),
            ("cpu_a_pct", "CPU A %"), ("cpu_b_pct", "CPU B %")]
    used = [c for c in cols if any(r["metrics"].get(c[0]) is not None for r in results)]
    lines = ["| scenario | engine | " + " | ".join(h for _, h in used) + " |",
             "|---|---|" + "---|" * len(used)]
    for r in results:
        vals = []
        for k, _ in used:
            v = r["metrics"].get(k)
            vals.append("–" if v is None else str(v))
        lines.append(f"| {SCENARIOS[r['scenario']][0]} | {r['engine']} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--engines", default="libmedia,chromium")
    ap.add_argument("--max-bitrate", type=int, default=2_500_000)
    ap.add_argument("--video-delay", default="balanced",
                    help="libmedia's receive-side delay mode (immediate, low-latency, balanced, smooth)")
    ap.add_argument("--lip-sync", action="store_true",
                    help="libmedia's lip sync on (EngineConfig::lip_sync)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "target/bench/impair"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("impair: needs root (network namespaces, tc, iptables)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    speech = make_speech(out)
    clip = make_clip(out)
    ref, rate = read_wav(speech)
    ref16 = resample_to_16k(ref, rate)
    venv_python = sys.executable
    results = []
    net_up()
    try:
        for name in args.scenarios.split(","):
            desc, spec = SCENARIOS[name]
            for engine in args.engines.split(","):
                run_dir = out / name / engine
                shutil.rmtree(run_dir, ignore_errors=True)
                run_dir.mkdir(parents=True)
                print(f"== {name} ({desc}): {engine}", flush=True)
                imp = Impairment(spec, args.seed, venv_python)
                imp.start()
                try:
                    run = run_libmedia if engine == "libmedia" else run_chromium
                    send, recv, audio, cpu, receiver = run(args, run_dir, speech, clip, imp)
                except RuntimeError as e:
                    print(f"   failed: {e}", flush=True)
                    results.append({"scenario": name, "engine": engine, "metrics": {}, "error": str(e)})
                    continue
                finally:
                    counts = imp.stop()
                m = summarize(name, spec, send, recv, audio, cpu, receiver, ref16)
                if "rate_kbit" in spec and "step_kbit" not in spec:
                    m["wire_use_pct"] = wire_use_pct(imp.wire, spec["rate_kbit"], 10, args.seconds - 2)
                if capacity_drop(spec) and imp.step_done_at is not None:
                    m["queue_fit_s"], m["queue_peak_ms"] = queue_after_step(
                        imp.wire, imp.step_done_at, spec["step_kbit"])
                    m["sent_before_step_kbps"] = sent_before_step(imp.wire, imp.step_done_at)
                if counts:
                    m["link_loss_pct"] = round(100 * counts["dropped"] / max(1, counts["packets"]), 1)
                print("   " + json.dumps(m), flush=True)
                results.append({"scenario": name, "engine": engine, "metrics": m,
                                "send": send, "recv": recv, "bottleneck": imp.wire,
                                "step_at": imp.step_done_at})
                (out / "results.json").write_text(json.dumps(results, indent=1))
    finally:
        net_down()
    md = table(results)
    (out / "table.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
