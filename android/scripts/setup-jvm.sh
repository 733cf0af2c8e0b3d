#!/usr/bin/env bash
# Installs what the desktop-JVM tests of the Android wrapper need, skipping
# what is already there:
#   - Debian: a JDK (javac + JNI headers), gcc, junit4, libhamcrest-java
#     (`apt-get update` runs once, only when something is missing);
#   - npm: kotlin-compiler (JetBrains kotlinc + stdlib), into android/.tools/
#     (git-ignored), pinned below.
# Prints nothing on success when everything is present. Needs no Android SDK
# or NDK (those are for scripts/build-ndk.sh and Gradle only).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"   # android/

KOTLIN_VERSION=2.4.20
PACKAGES=(default-jdk-headless gcc junit4 libhamcrest-java)

have_javac() { command -v javac >/dev/null 2>&1; }
missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$p" = default-jdk-headless ] && have_javac; then continue; fi
  if [ "$p" = gcc ] && command -v gcc >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-jvm: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

tools="$here/.tools"
kotlinc="$tools/node_modules/kotlin-compiler/bin/kotlinc"
installed=""
[ -f "$tools/node_modules/kotlin-compiler/package.json" ] &&
  installed="$(node -p "require('$tools/node_modules/kotlin-compiler/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$KOTLIN_VERSION" ]; then
  echo "setup-jvm: installing npm kotlin-compiler@$KOTLIN_VERSION into $tools" >&2
  mkdir -p "$tools"
  [ -f "$tools/package.json" ] || echo '{"name":"libmedia-android-tools","private":true}' >"$tools/package.json"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
fi
[ -x "$kotlinc" ] || chmod +x "$kotlinc" 2>/dev/null || true
[ -f "$kotlinc" ] || { echo "setup-jvm: $kotlinc missing after install" >&2; exit 1; }
