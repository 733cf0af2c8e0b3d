#!/usr/bin/env bash
# Runs every test: installs what is missing, starts PulseAudio with null
# sinks (real audio devices for cpal), then the whole cargo test suite
# (unit tests, echo-test pipelines, C example under valgrind, header drift,
# real-device audio), then formatting and clippy (scripts/lint.sh) and the
# 64-bit ARM build under qemu (scripts/arm64.sh). Both run only for the
# whole suite; MEDIA_SKIP_ARM64=1 leaves the ARM build out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
eval "$(scripts/pulse.sh)"
cargo test --release --workspace "$@"
if [ $# -eq 0 ]; then
  scripts/lint.sh
fi
if [ "${MEDIA_SKIP_ARM64:-0}" != 1 ] && [ $# -eq 0 ]; then
  scripts/arm64.sh
fi
