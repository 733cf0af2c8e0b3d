# Settings every mobile build of libmedia shares, sourced by
# scripts/size.sh, android/scripts/build-ndk.sh and
# ios/scripts/build-xcframework.sh, which build with the `mobile` profile
# (Cargo.toml: size-optimised Rust, the codecs at full speed, fat LTO).
#
# The C and C++ dependencies (openh264, Opus) are compiled without unwind
# tables: nothing unwinds through them (they call no Rust code, and
# openh264 throws no exceptions), and the tables cost ~0.3 MB.
no_unwind="-fno-asynchronous-unwind-tables -fno-unwind-tables"
export CFLAGS="${CFLAGS:+$CFLAGS }$no_unwind"
export CXXFLAGS="${CXXFLAGS:+$CXXFLAGS }$no_unwind"
unset no_unwind

# Linker arguments for the shared library on ELF targets, by target:
# relative relocations packed (DT_RELR: ~0.4 MB of .rela.dyn becomes a few
# KB). Linux needs binutils ≥ 2.38 to link and glibc ≥ 2.36 to load it;
# Android's own packing needs API level 23 (RELR itself API level 28).
mobile_link_args() {
  case "$1" in
    *-linux-android*)
      if [ "${ANDROID_API:-24}" -ge 28 ]; then
        echo "-C link-arg=-Wl,--pack-dyn-relocs=android+relr -C link-arg=-Wl,--use-android-relr-tags"
      else
        echo "-C link-arg=-Wl,--pack-dyn-relocs=android"
      fi
      ;;
    *-linux-gnu) echo "-C link-arg=-Wl,-z,pack-relative-relocs" ;;
    *) echo "" ;;
  esac
}
