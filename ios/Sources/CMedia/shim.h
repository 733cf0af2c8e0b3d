/*
 * Umbrella header of the CMedia module: the repository's C API, as is.
 *
 * SwiftPM's system-library target (Package.swift) and `clang -fmodules`
 * (scripts/check.sh) read module.modulemap beside this file, which names
 * this header. The path climbs from ios/Sources/CMedia to the repository's
 * include/media.h, so the Swift wrapper always sees the header the Rust
 * library was built with. The XCFramework (scripts/build-xcframework.sh)
 * ships its own copy of media.h with a module map of the same name instead.
 */
#ifndef CMEDIA_SHIM_H
#define CMEDIA_SHIM_H

#include "../../../include/media.h"

#endif /* CMEDIA_SHIM_H */
