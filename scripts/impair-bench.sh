#!/usr/bin/env bash
# The impairment bench: libmedia and Chromium calling across the same
# impaired links (clean, 10/20/30 % loss, bursty loss, 5 % + 50±10 ms,
# a 2 → 0.5 Mbit/s step, 500 kbit/s steady, a 0.5 → 2.5 Mbit/s rise), measured the same way: PESQ-WB
# of received speech, freezes, frame rate, resolution, bitrate, RTT, time
# to fit a capacity step, CPU. Needs root (network namespaces, tc,
# iptables). Installs what it uses (espeak-ng, sox, the NFQUEUE library,
# a Python venv with numpy, pesq and NetfilterQueue; Chromium and
# playwright-core come from scripts/setup.sh), builds the caller and the
# server, then runs scripts/bench/impair.py with the arguments given:
#
#   scripts/impair-bench.sh                          # every scenario, both engines, 30 s each
#   scripts/impair-bench.sh --scenarios clean,step --engines libmedia --seconds 20
#
# Results: target/bench/impair/{results.json,table.md} and one folder per
# run (stats, logs, received audio).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh espeak-ng sox libnetfilter-queue-dev python3-venv python3-dev nodejs

venv=target/bench/venv
if ! "$venv/bin/python" -c "import numpy, pesq, netfilterqueue" 2>/dev/null; then
  /usr/bin/python3 -m venv "$venv"
  # pesq's setup needs numpy already installed.
  "$venv/bin/pip" install -q numpy
  "$venv/bin/pip" install -q pesq NetfilterQueue
fi

cargo build --release --quiet -p media-server --bin media-server
cargo build --release --quiet -p libmedia --example caller
exec "$venv/bin/python" scripts/bench/impair.py "$@"
