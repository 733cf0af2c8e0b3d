#!/usr/bin/env bash
# Prints the soname a shared library records (libmedia.so.N), or nothing
# when it has none. Hosts linked with -lmedia load that file at run time,
# so the scripts that link or install the library put it beside.
#
#   scripts/soname.sh target/release/libmedia.so
set -euo pipefail
readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'
