#!/usr/bin/env bash
# Builds libmedia as a static library for iOS devices (aarch64-apple-ios)
# and the simulator (aarch64-apple-ios-sim + x86_64-apple-ios, one fat
# library), without the in-process server (scripts/mobile-env.sh's
# mobile_features; MEDIA_PLATFORM_CODEC=1 also leaves out openh264), and
# packages it with include/media.h and a module map (module CMedia) as
# ios/build/CMedia.xcframework, the binary target Package.swift uses when
# LIBMEDIA_XCFRAMEWORK=1.
#
# Needs a Mac with Xcode (xcodebuild, lipo and the iOS SDKs: the C parts of
# the library — opus, openh264 — are compiled with them) and a Rust
# toolchain; the three rustup targets are added if missing.
# NOT RUN YET: written on Linux, where it stops at the check below.
#
#   usage: ios/scripts/build-xcframework.sh        (IPHONEOS_DEPLOYMENT_TARGET, default 13.0)
#          ios/scripts/build-xcframework.sh --headers-only DIR
#             only writes the XCFramework's headers (DIR/CMedia/media.h and
#             its module.modulemap); runs anywhere (ios/scripts/check.sh
#             imports the module from there with clang).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

# The module SwiftPM and Xcode import: the header as is, in a folder named
# after the module (clang finds DIR/CMedia/module.modulemap for
# `import CMedia`, and two XCFrameworks' module maps cannot collide). The
# static library is linked by the XCFramework itself; what it needs from
# the system is linked by Package.swift's linkerSettings (and c++ here).
write_headers() {
  mkdir -p "$1/CMedia"
  cp "$ROOT/include/media.h" "$1/CMedia/media.h"
  cat >"$1/CMedia/module.modulemap" <<'EOF'
module CMedia {
    header "media.h"
    link "c++"
    export *
}
EOF
}

if [ "${1:-}" = "--headers-only" ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 --headers-only DIR" >&2; exit 64; }
  write_headers "$2"
  echo "build-xcframework: headers in $2/CMedia"
  exit 0
fi

if [ "$(uname -s)" != "Darwin" ] || ! command -v xcodebuild >/dev/null 2>&1; then
  echo "build-xcframework: needs macOS with Xcode (xcodebuild and the iOS SDKs);" \
       "this is $(uname -s) without them, so nothing was built." >&2
  exit 2
fi

OUT="$ROOT/ios/build"
WORK="$OUT/work"
DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-13.0}"

installed="$(rustup target list --installed)"
for target in "$DEVICE" "${SIMULATORS[@]}"; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target"
done

cd "$ROOT"
# The mobile profile and the settings of scripts/mobile-env.sh.
# shellcheck source=../../scripts/mobile-env.sh
. "$ROOT/scripts/mobile-env.sh"
for target in "$DEVICE" "${SIMULATORS[@]}"; do
  echo "build-xcframework: cargo (staticlib) for $target"
  # Only the static library: no cdylib to link for iOS.
  read -ra features <<<"$(mobile_features)"
  cargo rustc --profile mobile --lib "${features[@]}" --target "$target" --crate-type staticlib
done

rm -rf "$WORK" "$OUT/CMedia.xcframework"
mkdir -p "$WORK/device" "$WORK/simulator" "$WORK/Headers"
cp "target/$DEVICE/mobile/libmedia.a" "$WORK/device/libmedia.a"
lipo -create \
  "target/${SIMULATORS[0]}/mobile/libmedia.a" \
  "target/${SIMULATORS[1]}/mobile/libmedia.a" \
  -output "$WORK/simulator/libmedia.a"

write_headers "$WORK/Headers"

xcodebuild -create-xcframework \
  -library "$WORK/device/libmedia.a" -headers "$WORK/Headers" \
  -library "$WORK/simulator/libmedia.a" -headers "$WORK/Headers" \
  -output "$OUT/CMedia.xcframework"

# The size that matters is what the app store gets after linking and
# stripping (goal: 5 MB per architecture); an archive's size is an upper bound.
for lib in "$WORK/device/libmedia.a" "$WORK/simulator/libmedia.a"; do
  echo "build-xcframework: $(du -h "$lib" | cut -f1) $lib ($(lipo -archs "$lib"))"
done
echo "build-xcframework: wrote $OUT/CMedia.xcframework;" \
     "build the Swift package with LIBMEDIA_XCFRAMEWORK=1"
