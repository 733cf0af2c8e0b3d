#!/usr/bin/env bash
# Regenerates include/media.h from src/ffi/ with cbindgen.
set -euo pipefail
cd "$(dirname "$0")/.."
MEDIA_UPDATE_HEADER=1 cargo test --release --test header --quiet
