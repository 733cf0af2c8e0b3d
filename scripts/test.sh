#!/usr/bin/env bash
# Runs every test: installs what is missing, starts PulseAudio with null
# sinks (real audio devices for cpal), then the whole cargo test suite
# (unit tests, echo-test pipelines, C example under valgrind, header drift,
# real-device audio), then the 64-bit ARM build under qemu
# (scripts/arm64.sh; MEDIA_SKIP_ARM64=1 leaves it out, e.g. when running a
# single test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
eval "$(scripts/pulse.sh)"
cargo test --release --workspace "$@"
if [ "${MEDIA_SKIP_ARM64:-0}" != 1 ] && [ $# -eq 0 ]; then
  scripts/arm64.sh
fi
