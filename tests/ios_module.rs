//! The iOS wrapper's checks that run without Swift (ios/scripts/check.sh):
//! the CMedia module map imports with `clang -fmodules -Werror`, an
//! Objective-C smoke test through the module runs the echo test against
//! the release library and prints its OK line, the Swift sources have not
//! drifted from include/media.h (and the drift check catches drift), and
//! every Swift file parses. See ios/README.md for what is not checked here.

mod common;

use std::process::Command;

use common::*;

#[test]
fn ios_module_map_smoke_test_and_drift_check_pass() {
    build_library();

    let out = Command::new("bash")
        .arg(root().join("ios/scripts/check.sh"))
        .current_dir(root())
        .env("LIBMEDIA_LIB_DIR", root().join("target/release"))
        .output()
        .expect("run ios/scripts/check.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ios/scripts/check.sh failed (exit {:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("smoke: OK")),
        "the Objective-C smoke test did not print its OK line:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("drift: ok"), "{stdout}");
    assert!(
        stdout.contains("drift self-test: ok"),
        "the drift check did not prove it catches drift:\n{stdout}"
    );
    assert!(
        stdout.contains("ios check: all "),
        "check.sh did not finish:\n{stdout}\n{stderr}"
    );
}
