#!/usr/bin/env bash
# The shared library's size as an app would ship it: the desktop release
# build (with the in-process server and system devices) and the mobile
# builds (`--profile mobile` with the features and settings of
# scripts/mobile-env.sh: no server, no cpal / nokhwa, with openh264 and
# without it (the app's platform codec instead), Rust optimised for
# size with the codecs at full speed, LTO, no unwind tables in the C
# codecs, lld with packed relocations and identical code folding,
# stripped), for the host or, with --target, a cross target
# (aarch64-unknown-linux-gnu after scripts/arm64.sh has installed its
# toolchain).
#
#   scripts/size.sh [--target aarch64-unknown-linux-gnu]
set -euo pipefail
cd "$(dirname "$0")/.."
target=""
if [ "${1:-}" = "--target" ]; then
  target="$2"
fi
args=(); dir=target; strip=strip; release_features=(); release_label="release, default features"
if [ -n "$target" ]; then
  # Cross builds leave out the system devices (they would need the
  # target's ALSA): the release row is then server only.
  args=(--target "$target"); dir="target/$target"
  release_features=(--no-default-features --features server,openh264); release_label="release, server, no system devices"
  case "$target" in
    aarch64-unknown-linux-gnu)
      strip=aarch64-linux-gnu-strip
      export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
      export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
      export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
      export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
      ;;
  esac
fi
cargo build --release --lib --quiet "${args[@]}" "${release_features[@]}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(
  # shellcheck source=scripts/mobile-env.sh
  . scripts/mobile-env.sh
  read -ra link <<<"$(mobile_link_args "${target:-$(rustc -vV | sed -n 's/^host: //p')}")"
  mobile() {
    read -ra features <<<"$(mobile_features)"
    cargo rustc --profile mobile "${features[@]}" --lib --crate-type cdylib --quiet "${args[@]}" -- "${link[@]}"
    cp "$dir/mobile/libmedia.so" "$tmp/$1.so"
  }
  MEDIA_PLATFORM_CODEC=1 mobile platform-codec
  MEDIA_PLATFORM_CODEC=0 mobile mobile
)
"$strip" -o "$tmp/release.so" "$dir/release/libmedia.so"
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }
echo "| build | ${target:-host} stripped |"
echo "|---|---|"
echo "| $release_label | $(mb "$tmp/release.so") |"
echo "| mobile, no server, no system devices, openh264 | $(mb "$tmp/mobile.so") |"
echo "| mobile, the platform's H.264 (MEDIA_PLATFORM_CODEC=1) | $(mb "$tmp/platform-codec.so") |"
