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

# Linker arguments for the shared library on ELF targets, by target.
# Both linkers used here are lld (the NDK's, and rustc's own on Linux):
# - relative relocations packed (DT_RELR: ~0.15-0.4 MB of .rela.dyn
#   becomes a few KB). Linux needs glibc >= 2.36 to load it; Android's own
#   packing needs API level 23 (RELR itself API level 28);
# - identical code folding (`--icf=all`): functions with the same machine
#   code, common among Rust's generic instances, kept once.
# On Linux, rustc's lld is chosen explicitly: x86_64 links with it by
# default, but the aarch64 cross linker (GNU ld) packs relocations only on
# x86 and has no code folding.
mobile_link_args() {
  case "$1" in
    *-linux-android*)
      local icf="-C link-arg=-Wl,--icf=all"
      if [ "${ANDROID_API:-24}" -ge 28 ]; then
        echo "$icf -C link-arg=-Wl,--pack-dyn-relocs=android+relr -C link-arg=-Wl,--use-android-relr-tags"
      else
        echo "$icf -C link-arg=-Wl,--pack-dyn-relocs=android"
      fi
      ;;
    *-linux-gnu)
      local gcc_ld
      gcc_ld="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
      echo "-C link-arg=-B$gcc_ld -C link-arg=-fuse-ld=lld -C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,--icf=all"
      ;;
    *) echo "" ;;
  esac
}

# The cargo features of a mobile build: no in-process server, no cpal /
# nokhwa (the app owns the devices), and the library's own H.264 codec
# (openh264, about 1.1 MB). With MEDIA_PLATFORM_CODEC=1 openh264 is left
# out: the app then hands in the platform's codec (MediaCodec,
# VideoToolbox) through `media_engine_config.video_codec`, or has no video.
mobile_features() {
  if [ "${MEDIA_PLATFORM_CODEC:-0}" = 1 ]; then
    echo "--no-default-features"
  else
    echo "--no-default-features --features openh264"
  fi
}
