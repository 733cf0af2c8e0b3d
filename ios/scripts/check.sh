#!/usr/bin/env bash
# What of the iOS wrapper can be checked on Linux, where no Swift compiler
# exists (see ios/README.md). Idempotent; exits non-zero on any failure and
# prints what it checked:
#
#  1. module map: `@import CMedia;` with `clang -fmodules -fsyntax-only
#     -Werror` through -I and through -fmodule-map-file=, also under ARC
#     rules; every header of the repository it reaches is part of the
#     module (no non-modular include of ours); the XCFramework's header
#     layout (build-xcframework.sh --headers-only) imports the same way.
#  2. smoke test: ios/Tests/smoke.m (Objective-C importing the module,
#     linked to target/release/libmedia.so) runs the echo test, pushed
#     frames and the NULL-argument checks, and prints "smoke: OK".
#  3. drift: ios/scripts/check-drift.py (media_result ↔ MediaError and the
#     other enums, struct fields, names the Swift uses), and its self-test
#     (mutated copies of the header and of MediaError.swift must fail).
#  4. Swift syntax: every .swift file parses with tree-sitter's Swift
#     grammar (PyPI tree-sitter + tree-sitter-swift, in a venv under
#     target/ios-check). A parser, not a type checker.
#  5. scripts: bash -n (and shellcheck when installed); the XCFramework
#     build stops with a clear message and status 2 off a Mac.
#
# Needs clang (scripts/setup.sh installs it), python3 and a built library:
# `cargo build --release --lib` (LIBMEDIA_LIB_DIR overrides target/release).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
IOS="$ROOT/ios"
LIB_DIR="${LIBMEDIA_LIB_DIR:-$ROOT/target/release}"
WORK="$ROOT/target/ios-check"
CLANG="${CLANG:-clang}"
PYTHON="${PYTHON:-python3}"
# Pinned: the Swift grammar is what decides "parses".
TREE_SITTER_PACKAGES=(tree-sitter==0.26.1 tree-sitter-swift==0.7.4)

passed=0
step() { printf '\n== ios check: %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; passed=$((passed + 1)); }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

command -v "$CLANG" >/dev/null || fail "clang not found (scripts/setup.sh installs it)"
command -v "$PYTHON" >/dev/null || fail "python3 not found"
[ -f "$LIB_DIR/libmedia.so" ] || fail "$LIB_DIR/libmedia.so is missing: run cargo build --release --lib"
# Programs linked with -lmedia load the soname (libmedia.so.N): put it beside.
soname=$("$ROOT/scripts/soname.sh" "$LIB_DIR/libmedia.so")
[ -z "$soname" ] || [ -e "$LIB_DIR/$soname" ] || ln -s libmedia.so "$LIB_DIR/$soname"

# Fresh each run: no module cache or binary from an earlier header.
rm -rf "$WORK/modules" "$WORK/xcframework-headers" "$WORK/smoke"
mkdir -p "$WORK/modules"
MODULE_FLAGS=(-fmodules "-fmodules-cache-path=$WORK/modules")
WARN_FLAGS=(-std=gnu11 -Wall -Wextra -Wpedantic -Werror)

# ---------------------------------------------------------------- 1
step "1. the module map imports (clang $("$CLANG" -dumpversion))"
IMPORT_M="$WORK/import.m"
cat >"$IMPORT_M" <<'EOF'
/* Only the module: no #include of media.h. */
@import CMedia;
int main(void) {
    media_engine_config config;
    media_engine_config_fake(&config);
    config.video_input = MEDIA_VIDEO_INPUT_EXTERNAL;
    return media_result_str(MEDIA_ERR_NETWORK) == 0 && media_version() == 0;
}
EOF
"$CLANG" "${MODULE_FLAGS[@]}" -fsyntax-only "${WARN_FLAGS[@]}" -I "$IOS/Sources/CMedia" "$IMPORT_M" ||
  fail "@import CMedia with -I ios/Sources/CMedia"
ok "@import CMedia; with -fmodules -fsyntax-only -Werror -I ios/Sources/CMedia"
"$CLANG" "${MODULE_FLAGS[@]}" -fsyntax-only "${WARN_FLAGS[@]}" \
  "-fmodule-map-file=$IOS/Sources/CMedia/module.modulemap" "$IMPORT_M" ||
  fail "@import CMedia with -fmodule-map-file="
ok "@import CMedia; with -fmodule-map-file=ios/Sources/CMedia/module.modulemap (as SwiftPM passes it)"
"$CLANG" "${MODULE_FLAGS[@]}" -fsyntax-only "${WARN_FLAGS[@]}" -fobjc-arc -fobjc-runtime=gnustep-2.0 \
  -I "$IOS/Sources/CMedia" "$IMPORT_M" "$IOS/Tests/smoke.m" ||
  fail "the module (and smoke.m) under ARC rules"
ok "the module and smoke.m parse under -fobjc-arc (GNUstep 2 runtime rules; nothing linked)"

# Swift's importer wants every header of ours inside the module. On Linux
# the C library's own headers are never modular (no module maps for
# glibc), so only warnings about headers in this repository count.
rm -rf "$WORK/modules" && mkdir -p "$WORK/modules"
nonmodular="$("$CLANG" "${MODULE_FLAGS[@]}" -fsyntax-only -Wnon-modular-include-in-module \
  -I "$IOS/Sources/CMedia" "$IMPORT_M" 2>&1 | grep 'non-modular-include-in-module' || true)"
ours="$(grep -F "'$ROOT/" <<<"$nonmodular" || true)"
[ -z "$ours" ] || fail "headers of the repository outside the module: $ours"
ok "no header of the repository is a non-modular include ($(grep -c . <<<"$nonmodular" || true) system headers are, as always on Linux)"

"$IOS/scripts/build-xcframework.sh" --headers-only "$WORK/xcframework-headers" >/dev/null
"$CLANG" "${MODULE_FLAGS[@]}" -fsyntax-only "${WARN_FLAGS[@]}" -I "$WORK/xcframework-headers" "$IMPORT_M" ||
  fail "@import CMedia from the XCFramework's header layout"
ok "@import CMedia; from the XCFramework's Headers/CMedia/module.modulemap layout"

# A module that does not exist must fail: the checks above are not vacuous.
printf '@import CMediaMissing;\nint main(void) { return 0; }\n' >"$WORK/missing.m"
if "$CLANG" "${MODULE_FLAGS[@]}" -fsyntax-only -I "$IOS/Sources/CMedia" "$WORK/missing.m" 2>/dev/null; then
  fail "clang accepted @import of a module that does not exist"
fi
ok "clang refuses @import CMediaMissing; (control)"

# ---------------------------------------------------------------- 2
step "2. Objective-C smoke test through the module, linked to libmedia"
mkdir -p "$WORK/smoke"
"$CLANG" "${MODULE_FLAGS[@]}" "${WARN_FLAGS[@]}" -g -O1 -I "$IOS/Sources/CMedia" \
  "$IOS/Tests/smoke.m" -o "$WORK/smoke/smoke" \
  -L "$LIB_DIR" -lmedia "-Wl,-rpath,$LIB_DIR" -lpthread ||
  fail "ios/Tests/smoke.m did not compile"
smoke_out="$WORK/smoke/output.txt"
if ! timeout 60 "$WORK/smoke/smoke" >"$smoke_out" 2>&1; then
  cat "$smoke_out"
  fail "the smoke test failed"
fi
cat "$smoke_out"
grep -q '^smoke: OK' "$smoke_out" || fail "the smoke test did not print its OK line"
ok "smoke test: $(grep '^smoke: OK' "$smoke_out")"

# ---------------------------------------------------------------- 3
step "3. drift between include/media.h and the Swift sources"
"$PYTHON" "$IOS/scripts/check-drift.py" || fail "the Swift sources drifted from include/media.h"
ok "drift check: MediaError and every mirrored enum match include/media.h"
"$PYTHON" "$IOS/scripts/check-drift.py" --self-test || fail "the drift check missed a mutation"
ok "drift self-test: extra, missing and changed codes (and other mutations) are caught"

# ---------------------------------------------------------------- 4
step "4. Swift syntax (tree-sitter Swift grammar; not a compiler)"
VENV="$WORK/venv"
if ! "$VENV/bin/python" -c 'import tree_sitter, tree_sitter_swift' 2>/dev/null; then
  if [ "${LIBMEDIA_IOS_SKIP_SWIFT_SYNTAX:-}" = "1" ]; then
    echo "skipped: LIBMEDIA_IOS_SKIP_SWIFT_SYNTAX=1 and no parser installed"
  else
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${TREE_SITTER_PACKAGES[@]}" ||
      fail "pip could not install ${TREE_SITTER_PACKAGES[*]} (set LIBMEDIA_IOS_SKIP_SWIFT_SYNTAX=1 offline)"
  fi
fi
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import tree_sitter_swift' 2>/dev/null; then
  mapfile -t swift_files < <(cd "$ROOT" && find ios -name '*.swift' -not -path '*/.build/*' | sort)
  (cd "$ROOT" && "$VENV/bin/python" "$IOS/scripts/swift-syntax.py" "${swift_files[@]}") ||
    fail "a Swift file does not parse"
  # Control: a broken copy must not parse.
  sed 's/case nullArgument = 1/case nullArgument = = 1/' "$IOS/Sources/LibMedia/MediaError.swift" \
    >"$WORK/broken.swift"
  if "$VENV/bin/python" "$IOS/scripts/swift-syntax.py" "$WORK/broken.swift" >/dev/null; then
    fail "the Swift parser accepted a broken file"
  fi
  ok "${#swift_files[@]} Swift files parse (and a broken copy does not)"
fi

# ---------------------------------------------------------------- 5
step "5. scripts"
for script in "$IOS"/scripts/*.sh; do
  bash -n "$script" || fail "bash -n $script"
done
if command -v shellcheck >/dev/null; then
  shellcheck "$IOS"/scripts/*.sh || fail "shellcheck"
  ok "bash -n and shellcheck: ios/scripts/*.sh"
else
  ok "bash -n: ios/scripts/*.sh (shellcheck not installed)"
fi
if [ "$(uname -s)" != "Darwin" ]; then
  set +e
  message="$("$IOS/scripts/build-xcframework.sh" 2>&1)"
  status=$?
  set -e
  [ "$status" -eq 2 ] && grep -q "needs macOS with Xcode" <<<"$message" ||
    fail "build-xcframework.sh off a Mac: exit $status, said: $message"
  ok "build-xcframework.sh stops off a Mac (exit 2: $message)"
fi

printf '\nios check: all %d checks passed\n' "$passed"
