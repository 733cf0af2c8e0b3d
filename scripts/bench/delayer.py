"""Impairs the packets an iptables NFQUEUE rule hands it: random or
Gilbert-Elliott (bursty) loss, and a delay with uniform jitter. Run inside
the namespace whose egress it impairs, next to a rule such as

    iptables -A OUTPUT -p udp -d 10.77.0.2 -j NFQUEUE --queue-num 0

    python delayer.py --queue 0 --loss 0.05 --delay-ms 50 --jitter-ms 10 --seed 1

A packet's delay is drawn from delay ± jitter on its own, so jitter
reorders packets as a real path with several queues can. Loss is decided
before the delay. Seeded: the same seed drops the same packet numbers.
On SIGTERM it prints one JSON line of counts and exits.
"""

import argparse
import heapq
import json
import random
import select
import signal
import sys
import time

from netfilterqueue import COPY_META, NetfilterQueue


class GilbertElliott:
    """Two states: in Good no packet is lost, in Bad each is lost with
    probability `loss_bad`. Good→Bad with probability `p` per packet,
    Bad→Good with `r`: the mean loss is p / (p + r) * loss_bad and the mean
    burst 1 / r packets."""

    def __init__(self, p, r, loss_bad, rng):
        self.p, self.r, self.loss_bad, self.rng = p, r, loss_bad, rng
        self.bad = False

    def lost(self):
        if self.bad:
            self.bad = self.rng.random() >= self.r
        else:
            self.bad = self.rng.random() < self.p
        return self.bad and self.rng.random() < self.loss_bad


class Random:
    def __init__(self, p, rng):
        self.p, self.rng = p, rng

    def lost(self):
        return self.rng.random() < self.p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--loss", type=float, default=0.0, help="random loss, 0..1")
    ap.add_argument("--ge", help="Gilbert-Elliott loss: p,r,loss_in_bad")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    if args.ge:
        p, r, h = (float(x) for x in args.ge.split(","))
        model = GilbertElliott(p, r, h, rng)
    else:
        model = Random(args.loss, rng)
    delay_rng = random.Random(args.seed + 1)

    held = []  # (release time, arrival order, packet)
    counts = {"packets": 0, "dropped": 0}
    order = 0

    def on_packet(pkt):
        nonlocal order
        counts["packets"] += 1
        if model.lost():
            counts["dropped"] += 1
            pkt.drop()
            return
        d = args.delay_ms + delay_rng.uniform(-args.jitter_ms, args.jitter_ms)
        if d <= 0:
            pkt.accept()
            return
        order += 1
        heapq.heappush(held, (time.monotonic() + d / 1000.0, order, pkt))

    nfq = NetfilterQueue()
    # Metadata only: the verdict does not need the payload.
    nfq.bind(args.queue, on_packet, max_len=10_000, mode=COPY_META)
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    fd = nfq.get_fd()
    print("ready", flush=True)
    while not stop:
        now = time.monotonic()
        while held and held[0][0] <= now:
            heapq.heappop(held)[2].accept()
        timeout = max(0.0, held[0][0] - now) if held else 0.1
        try:
            ready, _, _ = select.select([fd], [], [], timeout)
        except InterruptedError:
            continue
        if ready:
            nfq.run(block=False)
    for _, _, pkt in held:
        pkt.accept()
    nfq.unbind()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    sys.exit(main())
