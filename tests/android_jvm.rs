//! The Android wrapper's foundation on the desktop JVM: builds the library,
//! then runs `android/scripts/test-jvm.sh`, which installs what it lacks
//! (npm `kotlin-compiler`, Debian `junit4` / `libhamcrest-java`), builds
//! the JNI shim against `include/media.h`, compiles the Kotlin wrapper and
//! its JUnit tests and runs them under `-Xcheck:jni`. No Android SDK, NDK
//! or device is involved (see android/README.md for what that leaves out).

mod common;

use std::process::Command;

use common::*;

#[test]
fn kotlin_wrapper_and_jni_shim_pass_their_junit_tests() {
    let root = root();
    build_library();

    let out = Command::new("bash")
        .arg(root.join("android/scripts/test-jvm.sh"))
        .env("MEDIA_LIB_DIR", root.join("target/release"))
        .current_dir(root)
        .output()
        .expect("run android/scripts/test-jvm.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    };
    assert!(
        out.status.success(),
        "test-jvm.sh failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        tail(&stdout),
        tail(&stderr)
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("jvm: ") && l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no 'jvm: N passed, N failed' line:\n{}", tail(&stdout)));
    assert!(summary.ends_with(", 0 failed"), "{summary}");
    let passed: u32 = summary["jvm: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 10, "too few JVM tests ran: {summary}");
    // The leak check's numbers, for the log of a run with --nocapture.
    for line in stdout.lines().filter(|l| l.contains("LifecycleTest:")) {
        println!("{}", line.trim_start_matches('.'));
    }
    println!("{summary}");
}
