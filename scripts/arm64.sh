#!/usr/bin/env bash
# Cross-builds libmedia for 64-bit ARM Linux (aarch64-unknown-linux-gnu, a
# phone's CPU) the way a phone app takes it — without system devices (the
# app owns microphone, speaker and camera) — and runs it under qemu-user:
# the library's unit tests and the C echo example (NULL / bad-value checks,
# then the echo test with synthetic devices and its PSNR / tone checks).
# The in-process server stays in, for the example's log check.
#
#   scripts/arm64.sh            # installs what it lacks (Debian cross gcc, qemu-user)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=aarch64-unknown-linux-gnu

PACKAGES=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "arm64: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
features=(--no-default-features --features server,openh264)

echo "== arm64: unit tests under qemu"
cargo test --release --target "$target" "${features[@]}" --lib --quiet

echo "== arm64: the library and the C echo example under qemu"
cargo build --release --target "$target" "${features[@]}" --lib --quiet
lib="$root/target/$target/release"
ln -sf libmedia.so "$lib/$(scripts/soname.sh "$lib/libmedia.so")"
file "$lib/libmedia.so" | grep -q "ARM aarch64" || { echo "arm64: $lib/libmedia.so is not an aarch64 library" >&2; exit 1; }
out="$root/target/$target/c"
mkdir -p "$out"
aarch64-linux-gnu-gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -O1 \
  -I"$root/include" -I"$root/examples/c" "$root/examples/c/echo.c" -o "$out/echo" \
  -L"$lib" -lmedia -lpthread -lm
log="$out/echo.log"
if ! qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH="$lib" "$out/echo" 3 >"$log" 2>&1; then
  cat "$log" >&2
  echo "arm64: the C echo example failed under qemu" >&2
  exit 1
fi
grep -E "first remote frame|OK \(" "$log"
grep -q "OK (0 failures)" "$log"
aarch64-linux-gnu-strip -o "$out/libmedia.stripped.so" "$lib/libmedia.so"
echo "arm64: ok: libmedia.so $(stat -c %s "$out/libmedia.stripped.so") bytes stripped (release, server, no system devices)"
