#!/usr/bin/env bash
# Installs what building and testing libmedia needs on a fresh Debian machine
# (and any further packages named as arguments).
# Idempotent: packages already present are skipped, and `apt-get update`
# runs once, only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config cmake nasm clang libclang-dev   # openh264 (asm), opus, bindgen
  libasound2-dev                                             # cpal's ALSA backend
  pulseaudio pulseaudio-utils libasound2-plugins alsa-utils  # real audio devices in tests
  valgrind                                                   # C example under valgrind
  iproute2 iptables                                          # network namespaces with loss and NAT in tests
  coturn                                                     # a STUN server behind which a NAT is tested
  chromium                                                   # a real WebRTC peer for interop tests
  xvfb x11-apps                                              # a display for the caller's window, xwd to read it
  libavcodec-dev                                             # FFmpeg (x264) as a host-supplied H.264 codec in a C test
)
# Callers needing more (scripts/impair-bench.sh) name them as arguments.
PACKAGES+=("$@")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# playwright-core drives Debian's Chromium in tests/browser.rs (no browser download).
browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ]; then
  (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
