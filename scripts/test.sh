#!/usr/bin/env bash
# Runs every test: installs what is missing, starts PulseAudio with null
# sinks (real audio devices for cpal), then the whole cargo test suite
# (unit tests, echo-test pipelines, C example under valgrind, header drift,
# real-device audio).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
eval "$(scripts/pulse.sh)"
cargo test --release --workspace "$@"
