#!/usr/bin/env bash
# Formatting and lints, as every test run checks them: rustfmt's layout
# and clippy with every warning an error, over the whole workspace (the
# library, the server, tests, examples and benches).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
