#!/usr/bin/env bash
# Cross-compiles libmedia.so for Android with cargo-ndk into
# android/src/main/jniLibs/<abi>/ for arm64-v8a, armeabi-v7a and x86_64,
# with the features of scripts/mobile-env.sh (no in-process rendezvous
# server: media_local_server_* return MEDIA_ERR_UNSUPPORTED; openh264 in,
# or out with MEDIA_PLATFORM_CODEC=1 for apps that set
# MediaCodecVideoCodec), the mobile profile and its settings (the sizes
# BENCHMARKS.md reports).
#
# NEEDS THE ANDROID NDK (ANDROID_NDK_HOME or ANDROID_NDK_ROOT), cargo-ndk
# (`cargo install cargo-ndk`) and the Rust targets (added below with
# rustup). It has not been run where it was written: no NDK there. The
# desktop-JVM tests (scripts/test-jvm.sh) need none of this.
#
#   android/scripts/build-ndk.sh            # all three ABIs, API level 24
#   ANDROID_API=26 android/scripts/build-ndk.sh arm64-v8a
set -euo pipefail
android="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$android/.." && pwd)"

ndk="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
if [ -z "$ndk" ] || [ ! -d "$ndk" ]; then
  echo "build-ndk: this script needs the Android NDK: set ANDROID_NDK_HOME (or ANDROID_NDK_ROOT)" >&2
  echo "build-ndk: to its folder, e.g. \$ANDROID_SDK_ROOT/ndk/27.2.12479018" >&2
  exit 2
fi
export ANDROID_NDK_HOME="$ndk"
if ! cargo ndk --version >/dev/null 2>&1; then
  echo "build-ndk: cargo-ndk missing: cargo install cargo-ndk" >&2
  exit 2
fi

abis=("$@")
((${#abis[@]})) || abis=(arm64-v8a armeabi-v7a x86_64)
declare -A triple=(
  [arm64-v8a]=aarch64-linux-android
  [armeabi-v7a]=armv7-linux-androideabi
  [x86_64]=x86_64-linux-android
)
targets=()
for abi in "${abis[@]}"; do
  [ -n "${triple[$abi]:-}" ] || { echo "build-ndk: unknown ABI $abi" >&2; exit 2; }
  rustup target add "${triple[$abi]}" >/dev/null
  targets+=(-t "$abi")
done

cd "$root"
# shellcheck source=../../scripts/mobile-env.sh
. "$root/scripts/mobile-env.sh"
for abi in "${abis[@]}"; do
  t="${triple[$abi]}"
  export "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$t")_RUSTFLAGS=$(mobile_link_args "$t")"
done
read -ra features <<<"$(mobile_features)"
cargo ndk "${targets[@]}" --platform "${ANDROID_API:-24}" -o "$android/src/main/jniLibs" \
  build --profile mobile --lib "${features[@]}"
for abi in "${abis[@]}"; do
  so="$android/src/main/jniLibs/$abi/libmedia.so"
  [ -f "$so" ] || { echo "build-ndk: $so was not produced" >&2; exit 1; }
  echo "build-ndk: $so ($(du -h "$so" | cut -f1))"
done
