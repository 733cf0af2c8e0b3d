//! Refuses to build when openh264 would silently lose its assembly, and
//! gives the desktop Linux shared library its versioned soname.
//!
//! openh264-sys2 falls back to plain C++ when `nasm` is missing on x86,
//! which makes H.264 encoding about three times slower without a word. We
//! check for nasm the same way it does and fail loudly instead. Set
//! `MEDIA_ALLOW_NO_ASM=1` to build anyway (e.g. a quick check on a machine
//! without nasm), accepting the slow encoder.

use std::process::Command;

/// `libmedia.so.N`: N is the oldest C ABI version (`media_check_abi`) the
/// library serves, so it changes only when hosts must be rebuilt.
const SONAME_VERSION: u32 = 2;

fn main() {
    println!("cargo:rustc-env=MEDIA_SONAME_VERSION={SONAME_VERSION}");
    // Android loads libraries by file name and packs only `libmedia.so`:
    // no soname there.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmedia.so.{SONAME_VERSION}");
    }
    println!("cargo:rerun-if-env-changed=NASM");
    println!("cargo:rerun-if-env-changed=OPENH264_NO_ASM");
    println!("cargo:rerun-if-env-changed=MEDIA_ALLOW_NO_ASM");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch != "x86_64" && arch != "x86" {
        return; // ARM builds use NEON sources through the C compiler.
    }
    let allow = std::env::var_os("MEDIA_ALLOW_NO_ASM").is_some_and(|v| v == "1");
    let problem = if std::env::var_os("OPENH264_NO_ASM").is_some() {
        Some("OPENH264_NO_ASM is set".to_string())
    } else {
        let nasm = std::env::var("NASM").unwrap_or_else(|_| "nasm".into());
        match Command::new(&nasm).arg("-v").output() {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(format!(
                "`{nasm} -v` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Some(format!("`{nasm}` not found ({e})")),
        }
    };
    if let Some(problem) = problem {
        if allow {
            println!("cargo:warning=openh264 builds without assembly ({problem}); H.264 encoding will be ~3x slower");
        } else {
            panic!(
                "\n\nopenh264 would be built without its x86 assembly: {problem}.\n\
                 H.264 encoding would silently run about 3x slower.\n\
                 Install nasm (Debian: `apt-get install nasm`, or run scripts/setup.sh),\n\
                 or set MEDIA_ALLOW_NO_ASM=1 to accept the slow encoder.\n"
            );
        }
    }
}
