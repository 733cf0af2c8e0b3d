#!/usr/bin/env bash
# Starts a PulseAudio daemon with two 48 kHz mono null sinks (sink_a,
# sink_b) so that cpal's ALSA "default" device is real and recordable on a
# machine without a sound card. Idempotent: reuses a running daemon.
#
#   eval "$(scripts/pulse.sh)"   # exports XDG_RUNTIME_DIR for the caller
set -euo pipefail
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/media-xdg}
mkdir -p -m 700 "$XDG_RUNTIME_DIR"

if ! pactl info >/dev/null 2>&1; then
  pulseaudio -D -n --exit-idle-time=-1 --log-target=file:"$XDG_RUNTIME_DIR/pa.log" \
    -L "module-native-protocol-unix auth-anonymous=1" \
    -L "module-null-sink sink_name=sink_a rate=48000 channels=1" \
    -L "module-null-sink sink_name=sink_b rate=48000 channels=1" >&2
  for _ in $(seq 100); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  pactl info >/dev/null 2>&1 || { echo "pulse.sh: PulseAudio did not start; see $XDG_RUNTIME_DIR/pa.log" >&2; exit 1; }
fi
for sink in sink_a sink_b; do
  pactl list short sinks | grep -q "\b$sink\b" ||
    pactl load-module module-null-sink sink_name=$sink rate=48000 channels=1 >/dev/null
done
pactl set-default-sink sink_a
pactl set-default-source sink_a.monitor
echo "export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
