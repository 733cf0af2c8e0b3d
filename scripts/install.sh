#!/usr/bin/env bash
# Installs libmedia for desktop C hosts under PREFIX (default /usr/local):
# the shared and static libraries, include/media.h and a pkg-config file,
# so a host builds with `cc app.c $(pkg-config --cflags --libs libmedia)`
# (static: `pkg-config --static --libs libmedia` with libmedia.a).
#
#   scripts/install.sh [PREFIX]          # builds the release library first
#   PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --modversion libmedia
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cargo build --release --quiet -p libmedia --lib
install -d "$prefix/lib/pkgconfig" "$prefix/include"
# The soname (libmedia.so.N) is the file hosts load; libmedia.so is the
# name they link against.
soname=$(scripts/soname.sh target/release/libmedia.so)
[ -n "$soname" ] || { echo "install: target/release/libmedia.so has no soname" >&2; exit 1; }
install -m 0755 target/release/libmedia.so "$prefix/lib/$soname"
ln -sf "$soname" "$prefix/lib/libmedia.so"
install -m 0644 target/release/libmedia.a "$prefix/lib/libmedia.a"
install -m 0644 include/media.h "$prefix/include/media.h"
cat > "$prefix/lib/pkgconfig/libmedia.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libmedia
Description: Real-time voice and video calling engine (C ABI)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lmedia
Libs.private: -lasound -lstdc++ -lm -lpthread -ldl
PC
echo "installed libmedia $version under $prefix (pkg-config: $prefix/lib/pkgconfig/libmedia.pc)"
