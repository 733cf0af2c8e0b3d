// swift-tools-version:5.9
//
// LibMedia: the Swift wrapper of libmedia for iOS (and macOS) hosts.
//
// Two ways to get the C library (the module `CMedia` either way):
//  - default: a system-library target whose module map
//    (Sources/CMedia/module.modulemap) covers ../include/media.h, the
//    header of this repository. Link libmedia yourself, e.g. on a Mac:
//      cargo build --release --lib
//      swift build -Xlinker -L../target/release
//  - LIBMEDIA_XCFRAMEWORK=1: a binary target, build/CMedia.xcframework,
//    made by scripts/build-xcframework.sh (static libmedia for iOS devices
//    and the simulator, with media.h and its own module map).
//
// This package lives in ios/ of the repository, so use it as a local
// package (Xcode: Add Local..., or `.package(path: "<repo>/ios")`).
// Nothing here was compiled by a Swift compiler yet: see README.md.

import PackageDescription

let useXCFramework = Context.environment["LIBMEDIA_XCFRAMEWORK"] == "1"

let cmedia: Target = useXCFramework
    ? .binaryTarget(name: "CMedia", path: "build/CMedia.xcframework")
    : .systemLibrary(name: "CMedia", path: "Sources/CMedia")

let package = Package(
    name: "LibMedia",
    platforms: [.iOS(.v13), .macOS(.v11)],
    products: [
        .library(name: "LibMedia", targets: ["LibMedia"]),
    ],
    targets: [
        cmedia,
        .target(
            name: "LibMedia",
            dependencies: ["CMedia"],
            path: "Sources/LibMedia",
            linkerSettings: [
                // What the static Rust library needs from the system:
                // openh264 is C++; cpal uses Core Audio; the rest is libc.
                .linkedLibrary("c++"),
                .linkedFramework("AudioToolbox"),
                .linkedFramework("AVFoundation"),
                .linkedFramework("CoreAudio"),
                .linkedFramework("CoreMedia"),
                .linkedFramework("CoreVideo"),
                .linkedFramework("Foundation"),
                .linkedFramework("Security"),
            ]
        ),
        .testTarget(
            name: "LibMediaTests",
            dependencies: ["LibMedia"],
            path: "Tests/LibMediaTests"
        ),
    ]
)
