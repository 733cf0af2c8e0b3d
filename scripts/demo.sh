#!/usr/bin/env bash
# Runs the echo test demo: a tone and a moving test pattern go through Opus,
# H.264, the loopback transport and back; prints live stats and a summary.
# Pass --real-devices to use the microphone, speaker and camera instead
# (on a machine without a sound card, PulseAudio null sinks stand in).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ " $* " == *" --real-devices "* ]] && [ ! -e /dev/snd ]; then
  eval "$(scripts/pulse.sh)"
fi
exec cargo run --release --quiet --example echo -- "$@"
