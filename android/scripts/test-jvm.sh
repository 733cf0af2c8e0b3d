#!/usr/bin/env bash
# Builds and tests the Android wrapper's foundation on the desktop JVM, no
# Android SDK or NDK needed: the JNI shim (src/main/cpp/media_jni.c, gcc,
# linked to the host's target/release/libmedia.so), the Kotlin wrapper
# (kotlinc from npm) and its JUnit 4 tests, run with -Xcheck:jni.
# Installs what is missing first (scripts/setup-jvm.sh). Prints
# "jvm: N passed, N failed" and exits non-zero when a test failed or the
# JVM's JNI checks warned.
#
#   android/scripts/test-jvm.sh              # every test class
#   android/scripts/test-jvm.sh VersionTest  # some of them
#
# Env: MEDIA_LIB_DIR (default target/release; built with cargo if missing),
#      JAVA_HOME (default: from javac on PATH), CC (default gcc).
set -euo pipefail
android="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$android/.." && pwd)"

"$android/scripts/setup-jvm.sh"

if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
fi
[ -f "$JAVA_HOME/include/jni.h" ] || { echo "test-jvm: no jni.h under JAVA_HOME=$JAVA_HOME" >&2; exit 1; }
kotlin_home="$android/.tools/node_modules/kotlin-compiler"
kotlinc="$kotlin_home/bin/kotlinc"
stdlib="$kotlin_home/lib/kotlin-stdlib.jar"
junit=/usr/share/java/junit4.jar
hamcrest=/usr/share/java/hamcrest-core.jar
for f in "$stdlib" "$junit" "$hamcrest"; do
  [ -f "$f" ] || { echo "test-jvm: $f missing" >&2; exit 1; }
done

lib_dir="${MEDIA_LIB_DIR:-$root/target/release}"
if [ ! -f "$lib_dir/libmedia.so" ]; then
  echo "test-jvm: $lib_dir/libmedia.so missing: cargo build --release --lib" >&2
  (cd "$root" && cargo build --release --lib)
fi

out="$android/build/jvm-test"
native="$out/native"
mkdir -p "$native" "$out/classes"

# 1. The JNI shim, next to a link to libmedia.so (found through $ORIGIN).
ln -sf "$(readlink -f "$lib_dir/libmedia.so")" "$native/libmedia.so"
# ... and under its soname (libmedia.so.N), the name the shim records.
soname=$("$root/scripts/soname.sh" "$lib_dir/libmedia.so")
[ -z "$soname" ] || ln -sf "$(readlink -f "$lib_dir/libmedia.so")" "$native/$soname"
"${CC:-gcc}" -std=c11 -D_GNU_SOURCE -shared -fPIC -O2 -g \
  -I"$JAVA_HOME/include" -I"$JAVA_HOME/include/linux" -I"$root/include" \
  -Wall -Wextra -Werror \
  "$android/src/main/cpp/media_jni.c" -o "$native/libmedia_jni.so" \
  -L"$native" -lmedia -lpthread -Wl,-rpath,'$ORIGIN'

# 2. Kotlin: the wrapper, then the tests against it (skipped when unchanged).
compile() { # name, classpath, sources...
  local name="$1" cp="$2"; shift 2
  local stamp="$out/classes/$name.sha256"
  local sum
  # The classes this compile links against count too: tests compiled
  # against an older wrapper must be rebuilt with it.
  local deps="" d
  for d in ${cp//:/ }; do
    if [ -f "$d.sha256" ]; then deps+="$(cat "$d.sha256")"; fi
  done
  sum="$( (echo "$cp $deps"; "$kotlinc" -version 2>&1; cat "$@") | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -d "$out/classes/$name" ]; then
    return
  fi
  echo "test-jvm: kotlinc $name ($# files)" >&2
  rm -rf "$out/classes/$name" "$stamp"
  "$kotlinc" -jvm-target 17 -Werror -nowarn -cp "$cp" -d "$out/classes/$name" "$@" 2>&1 | grep -v '^$' >&2 || true
  [ -d "$out/classes/$name/org" ] || { echo "test-jvm: kotlinc $name failed" >&2; exit 1; }
  echo "$sum" >"$stamp"
}
mapfile -t main_src < <(find "$android/src/main/kotlin" -name '*.kt' | sort)
mapfile -t test_src < <(find "$android/src/test/kotlin" -name '*.kt' | sort)
compile main "$stdlib" "${main_src[@]}"
compile test "$stdlib:$out/classes/main:$junit:$hamcrest" "${test_src[@]}"

# 3. JUnit.
if (($#)); then
  classes=("${@/#/org.libmedia.}")
else
  mapfile -t classes < <(cd "$out/classes/test" && find . -name '*Test.class' ! -name '*$*' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
fi
log="$out/junit.log"
set +e
java -Xcheck:jni -Xss2m \
  -Djava.library.path="$native" -Dlibmedia.header="$root/include/media.h" \
  -cp "$out/classes/main:$out/classes/test:$stdlib:$junit:$hamcrest" \
  org.junit.runner.JUnitCore "${classes[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# JUnitCore ends with "OK (N tests)" or "Tests run: N,  Failures: M".
total=0 failed=0
if line="$(grep -E '^OK \([0-9]+ tests?\)' "$log" | tail -1)" && [ -n "$line" ]; then
  total="$(sed -E 's/^OK \(([0-9]+).*/\1/' <<<"$line")"
elif line="$(grep -E '^Tests run: [0-9]+, +Failures: [0-9]+' "$log" | tail -1)" && [ -n "$line" ]; then
  total="$(sed -E 's/^Tests run: ([0-9]+),.*/\1/' <<<"$line")"
  failed="$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")"
else
  echo "test-jvm: JUnit printed no result (exit $status)" >&2
  failed=1
fi
# -Xcheck:jni reports misuse (pending exceptions, bad references, local
# reference overflow) as warnings or fatal errors: each fails the run.
jni_warnings="$(grep -cE 'WARNING in native method|FATAL ERROR in native method|JNI local refs: [0-9]+, exceeds capacity' "$log" || true)"
if [ "$jni_warnings" -gt 0 ]; then
  echo "test-jvm: -Xcheck:jni reported $jni_warnings problem(s):" >&2
  grep -E 'WARNING in native method|FATAL ERROR in native method|exceeds capacity' "$log" | sort | uniq -c >&2
  failed=$((failed + 1))
  total=$((total + 1))
fi
passed=$((total - failed))
echo "jvm: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
