// MediaError: the Swift twin of `media_result` (include/media.h).
//
// One case per code other than `MEDIA_OK`, with the same value.
// ios/scripts/check-drift.py fails when a code is missing here, extra, or
// has another value (the `drift:` line below names the C enum it mirrors).

import CMedia
import Foundation

// drift: media_result prefix=MEDIA_ERR_ skip=MEDIA_OK
/// Why a libmedia call failed, or the error a `MEDIA_EVENT_ERROR`,
/// a failed server connection or an ended call reports.
public enum MediaError: Int32, Error, CustomStringConvertible, Sendable {
    /// A required pointer argument was NULL.
    case nullArgument = 1
    /// An argument was out of range, not UTF-8, or an unknown enum value.
    case invalidArgument = 2
    /// The call does not fit the engine's current state.
    case invalidState = 3
    /// The device id, index or file does not exist.
    case notFound = 4
    /// No device of that kind exists on this system (e.g. no camera).
    case noDevice = 5
    /// The device exists but could not be opened, or vanished. Retry later.
    case deviceUnavailable = 6
    /// The system refused access to the microphone or camera.
    case permissionDenied = 7
    /// An encoder or decoder failed.
    case codec = 8
    /// Reading or writing a file failed.
    case io = 9
    /// Valid, but not supported by this build or device.
    case unsupported = 10
    /// An output buffer was too small.
    case bufferTooSmall = 11
    /// A bug inside libmedia was caught at the API boundary.
    case panic = 12
    /// Any other internal failure.
    case `internal` = 13
    /// The callee is in another call.
    case busy = 14
    /// The callee is not connected to the server.
    case peerOffline = 15
    /// Taken: the channel is full, the uid is in use, the user signed in
    /// elsewhere, or the server is full.
    case occupied = 16
    /// The token is expired, forged, for another scope, or the app is unknown.
    case badToken = 17
    /// The server could not be reached (after the reconnection attempts).
    case serverUnreachable = 18
    /// The media connection to a peer could not be made or was lost for good.
    case network = 19

    /// The library's own description of the code (`media_result_str`).
    public var description: String {
        String(cString: media_result_str(UInt32(bitPattern: rawValue)))
    }

    /// The detail of the last failed libmedia call made on the calling
    /// thread (`media_last_error_message`), e.g. which argument was wrong;
    /// nil when that call succeeded. Read it on the thread that got the
    /// error, before making another libmedia call there.
    public static func lastFailureDetail() -> String? {
        let length = media_last_error_message(nil, 0)
        if length == 0 {
            return nil
        }
        let capacity = length + 1
        var buffer = [CChar](repeating: 0, count: capacity)
        _ = media_last_error_message(&buffer, capacity)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

extension MediaError: LocalizedError {
    public var errorDescription: String? { description }
}

/// A `media_result` this wrapper does not know (a library newer than the
/// wrapper). The drift check keeps this from happening with the header the
/// package is built against.
public struct UnknownMediaResult: Error, CustomStringConvertible, Sendable {
    public let code: UInt32
    public var description: String { String(cString: media_result_str(code)) }
}

/// The C value of an imported C enum (Swift imports `media_*` enums as
/// structs whose `rawValue` is the enum's integer type).
@inline(__always)
func cValue<T: RawRepresentable>(_ value: T) -> UInt32 where T.RawValue: BinaryInteger {
    UInt32(truncatingIfNeeded: value.rawValue)
}

extension MediaError {
    /// The error for a `media_result` field of an event: nil for `MEDIA_OK`
    /// (and for a code this wrapper does not know).
    init?(result: media_result) {
        let code = cValue(result)
        if code == cValue(MEDIA_OK) {
            return nil
        }
        self.init(rawValue: Int32(truncatingIfNeeded: code))
    }
}

/// Throws the matching error unless `result` is `MEDIA_OK`.
@inline(__always)
func check(_ result: media_result) throws {
    let code = cValue(result)
    if code == cValue(MEDIA_OK) {
        return
    }
    if let error = MediaError(rawValue: Int32(truncatingIfNeeded: code)) {
        throw error
    }
    throw UnknownMediaResult(code: code)
}
