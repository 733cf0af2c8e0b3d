// VideoToolboxCodec: the device's H.264 encoder and decoder (hardware) as
// the engine's video codec: `config.videoCodec = VideoToolboxCodec()`. With
// it an app can ship a libmedia built without openh264
// (`MEDIA_PLATFORM_CODEC=1 ios/scripts/build-xcframework.sh`, about 1 MB
// less per architecture).
//
// Encoding: I420 is copied into an NV12 CVPixelBuffer from the session's
// pool, encoded as real-time constrained baseline without frame reordering,
// and the session is flushed for each frame (`CompleteFrames`), so each call
// returns its own access unit. VideoToolbox's length-prefixed NAL units
// become Annex B, with SPS and PPS before every IDR.
//
// Decoding: SPS and PPS in the stream (re)create the decompression session;
// the other NAL units of an access unit go in as one length-prefixed sample,
// decoded synchronously into an NV12 CVPixelBuffer that stays locked until
// the next call (the engine copies it before then).
//
// Written against Apple's VideoToolbox and CoreMedia APIs; not compiled
// where it was written (no Swift there). Not run on any device.

#if canImport(VideoToolbox)
import CoreMedia
import CoreVideo
import Foundation
import VideoToolbox

/// The device's H.264 codec (VideoToolbox).
public final class VideoToolboxCodec: VideoCodec {
    public init() {}

    public func makeEncoder(settings: VideoEncoderSettings) -> VideoEncoder? {
        try? VideoToolboxEncoder(settings: settings)
    }

    public func makeDecoder() -> VideoDecoder? {
        VideoToolboxDecoder()
    }
}

/// A VideoToolbox call that failed, with its status.
public struct VideoToolboxError: Error {
    public let call: String
    public let status: OSStatus
}

private func vt(_ status: OSStatus, _ call: String) throws {
    if status != noErr {
        throw VideoToolboxError(call: call, status: status)
    }
}

private let startCode: [UInt8] = [0, 0, 0, 1]

final class VideoToolboxEncoder: VideoEncoder {
    private let session: VTCompressionSession
    private let settings: VideoEncoderSettings
    /// Filled by the output handler while `encode` waits for it.
    private var output: [UInt8] = []
    private var failure: OSStatus = noErr

    init(settings: VideoEncoderSettings) throws {
        self.settings = settings
        let attributes: [CFString: Any] = [
            kCVPixelBufferPixelFormatTypeKey: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
            kCVPixelBufferWidthKey: settings.width,
            kCVPixelBufferHeightKey: settings.height,
        ]
        var created: VTCompressionSession?
        try vt(VTCompressionSessionCreate(allocator: nil,
                                          width: Int32(settings.width),
                                          height: Int32(settings.height),
                                          codecType: kCMVideoCodecType_H264,
                                          encoderSpecification: nil,
                                          imageBufferAttributes: attributes as CFDictionary,
                                          compressedDataAllocator: nil,
                                          outputCallback: nil,
                                          refcon: nil,
                                          compressionSessionOut: &created),
               "VTCompressionSessionCreate")
        guard let session = created else {
            throw VideoToolboxError(call: "VTCompressionSessionCreate", status: -1)
        }
        self.session = session
        let profile: CFString
        if #available(iOS 15.0, macOS 12.0, *) {
            profile = kVTProfileLevel_H264_ConstrainedBaseline_AutoLevel
        } else {
            profile = kVTProfileLevel_H264_Baseline_AutoLevel
        }
        let properties: [(CFString, CFTypeRef)] = [
            (kVTCompressionPropertyKey_RealTime, kCFBooleanTrue),
            (kVTCompressionPropertyKey_ProfileLevel, profile),
            (kVTCompressionPropertyKey_AllowFrameReordering, kCFBooleanFalse),
            // IDRs only when the engine asks (an hour is "never" for a call).
            (kVTCompressionPropertyKey_MaxKeyFrameIntervalDuration, 3600 as CFNumber),
            (kVTCompressionPropertyKey_ExpectedFrameRate, settings.fps as CFNumber),
            (kVTCompressionPropertyKey_AverageBitRate, settings.bitrateBps as CFNumber),
        ]
        for (key, value) in properties {
            try vt(VTSessionSetProperty(session, key: key, value: value), "VTSessionSetProperty \(key)")
        }
        try vt(VTCompressionSessionPrepareToEncodeFrames(session), "VTCompressionSessionPrepareToEncodeFrames")
    }

    deinit {
        VTCompressionSessionInvalidate(session)
    }

    func setBitrate(_ bitrateBps: Int) throws {
        try vt(VTSessionSetProperty(session, key: kVTCompressionPropertyKey_AverageBitRate,
                                    value: bitrateBps as CFNumber), "VTSessionSetProperty bitrate")
    }

    func encode(_ picture: CodecPicture, timestampUs: UInt64, keyframe: Bool,
                into out: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let pool = VTCompressionSessionGetPixelBufferPool(session) else {
            throw VideoToolboxError(call: "VTCompressionSessionGetPixelBufferPool", status: -1)
        }
        var made: CVPixelBuffer?
        try vt(CVPixelBufferPoolCreatePixelBuffer(nil, pool, &made), "CVPixelBufferPoolCreatePixelBuffer")
        guard let buffer = made else {
            throw VideoToolboxError(call: "CVPixelBufferPoolCreatePixelBuffer", status: -1)
        }
        try copyNV12(picture, into: buffer)

        output.removeAll(keepingCapacity: true)
        failure = noErr
        let time = CMTime(value: CMTimeValue(timestampUs), timescale: 1_000_000)
        let options: CFDictionary? = keyframe
            ? [kVTEncodeFrameOptionKey_ForceKeyFrame: kCFBooleanTrue] as CFDictionary
            : nil
        try vt(VTCompressionSessionEncodeFrame(session, imageBuffer: buffer,
                                               presentationTimeStamp: time, duration: .invalid,
                                               frameProperties: options, infoFlagsOut: nil) {
            [weak self] status, _, sample in
            self?.collect(status, sample)
        }, "VTCompressionSessionEncodeFrame")
        // Flushed: the handler has run for this frame when this returns.
        try vt(VTCompressionSessionCompleteFrames(session, untilPresentationTimeStamp: time),
               "VTCompressionSessionCompleteFrames")
        try vt(failure, "the encoder's output")
        guard output.count <= out.count else {
            throw VideoToolboxError(call: "encode (access unit larger than the engine's buffer)", status: -1)
        }
        output.withUnsafeBytes { out.copyMemory(from: $0) }
        return output.count
    }

    /// I420 rows into the pixel buffer's Y and interleaved UV planes.
    private func copyNV12(_ p: CodecPicture, into buffer: CVPixelBuffer) throws {
        CVPixelBufferLockBaseAddress(buffer, [])
        defer { CVPixelBufferUnlockBaseAddress(buffer, []) }
        guard let yBase = CVPixelBufferGetBaseAddressOfPlane(buffer, 0),
              let uvBase = CVPixelBufferGetBaseAddressOfPlane(buffer, 1) else {
            throw VideoToolboxError(call: "CVPixelBufferGetBaseAddressOfPlane", status: -1)
        }
        let yRow = CVPixelBufferGetBytesPerRowOfPlane(buffer, 0)
        let uvRow = CVPixelBufferGetBytesPerRowOfPlane(buffer, 1)
        let y = yBase.assumingMemoryBound(to: UInt8.self)
        let uv = uvBase.assumingMemoryBound(to: UInt8.self)
        for r in 0..<p.height {
            memcpy(y + r * yRow, p.y + r * p.yStride, p.width)
        }
        for r in 0..<(p.height / 2) {
            let row = uv + r * uvRow
            let u = p.u + r * p.uStride
            let v = p.v + r * p.vStride
            for c in 0..<(p.width / 2) {
                row[2 * c] = u[c]
                row[2 * c + 1] = v[c]
            }
        }
    }

    /// A sample as Annex B: parameter sets first when it is a sync sample,
    /// then each length-prefixed NAL unit behind a start code.
    private func collect(_ status: OSStatus, _ sample: CMSampleBuffer?) {
        guard status == noErr else {
            failure = status
            return
        }
        // No sample without an error: a frame VideoToolbox dropped (a skip).
        guard let sample = sample, let data = CMSampleBufferGetDataBuffer(sample) else {
            return
        }
        if isSync(sample), let format = CMSampleBufferGetFormatDescription(sample) {
            var count = 0
            CMVideoFormatDescriptionGetH264ParameterSetAtIndex(format, parameterSetIndex: 0,
                                                               parameterSetPointerOut: nil,
                                                               parameterSetSizeOut: nil,
                                                               parameterSetCountOut: &count,
                                                               nalUnitHeaderLengthOut: nil)
            for index in 0..<count {
                var pointer: UnsafePointer<UInt8>?
                var size = 0
                if CMVideoFormatDescriptionGetH264ParameterSetAtIndex(format, parameterSetIndex: index,
                                                                      parameterSetPointerOut: &pointer,
                                                                      parameterSetSizeOut: &size,
                                                                      parameterSetCountOut: nil,
                                                                      nalUnitHeaderLengthOut: nil) == noErr,
                   let pointer = pointer {
                    output += startCode
                    output += UnsafeBufferPointer(start: pointer, count: size)
                }
            }
        }
        let length = CMBlockBufferGetDataLength(data)
        var bytes = [UInt8](repeating: 0, count: length)
        guard CMBlockBufferCopyDataBytes(data, atOffset: 0, dataLength: length,
                                         destination: &bytes) == noErr else {
            failure = -1
            return
        }
        // VideoToolbox writes 4-byte big-endian NAL unit lengths.
        var at = 0
        while at + 4 <= length {
            let n = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            at += 4
            guard n > 0, at + n <= length else { break }
            output += startCode
            output += bytes[at..<(at + n)]
            at += n
        }
    }

    private func isSync(_ sample: CMSampleBuffer) -> Bool {
        guard let attachments = CMSampleBufferGetSampleAttachmentsArray(sample, createIfNecessary: false)
            as? [[CFString: Any]], let first = attachments.first else {
            return true // no attachments: a sync sample
        }
        return !((first[kCMSampleAttachmentKey_NotSync] as? Bool) ?? false)
    }
}

final class VideoToolboxDecoder: VideoDecoder {
    private var session: VTDecompressionSession?
    private var format: CMVideoFormatDescription?
    private var sps: [UInt8] = []
    private var pps: [UInt8] = []
    /// The last picture, locked until the next call.
    private var current: CVPixelBuffer?

    deinit {
        release()
        if let session = session {
            VTDecompressionSessionInvalidate(session)
        }
    }

    private func release() {
        if let buffer = current {
            CVPixelBufferUnlockBaseAddress(buffer, .readOnly)
            current = nil
        }
    }

    func decode(_ accessUnit: UnsafeRawBufferPointer) throws -> DecodedPicture? {
        release()
        var sample: [UInt8] = []
        var newParameters = false
        for nal in Self.nalUnits(accessUnit) {
            switch nal.first.map({ $0 & 0x1f }) {
            case 7?:
                if nal != sps { sps = nal; newParameters = true }
            case 8?:
                if nal != pps { pps = nal; newParameters = true }
            case nil:
                continue
            default:
                let n = UInt32(nal.count).bigEndian
                withUnsafeBytes(of: n) { sample += $0 }
                sample += nal
            }
        }
        if newParameters, !sps.isEmpty, !pps.isEmpty {
            do {
                try makeSession()
            } catch {
                // Forgotten, so the same parameter sets try again.
                sps = []
                pps = []
                throw error
            }
        }
        guard !sample.isEmpty else { return nil }
        guard let session = session, let format = format else {
            throw VideoToolboxError(call: "decode (no SPS / PPS yet)", status: -1)
        }
        let buffer = try Self.sampleBuffer(sample, format: format)
        var status: OSStatus = noErr
        var image: CVImageBuffer?
        // Without kVTDecodeFrame_EnableAsynchronousDecompression the handler
        // runs before this returns.
        try vt(VTDecompressionSessionDecodeFrame(session, sampleBuffer: buffer, flags: [],
                                                 infoFlagsOut: nil) { decodeStatus, _, decoded, _, _ in
            status = decodeStatus
            image = decoded
        }, "VTDecompressionSessionDecodeFrame")
        try vt(status, "the decoder's output")
        guard let picture = image else { return nil }
        CVPixelBufferLockBaseAddress(picture, .readOnly)
        current = picture
        guard let y = CVPixelBufferGetBaseAddressOfPlane(picture, 0),
              let uv = CVPixelBufferGetBaseAddressOfPlane(picture, 1) else {
            release()
            throw VideoToolboxError(call: "CVPixelBufferGetBaseAddressOfPlane", status: -1)
        }
        return DecodedPicture(format: .nv12,
                              width: CVPixelBufferGetWidth(picture) & ~1,
                              height: CVPixelBufferGetHeight(picture) & ~1,
                              planes: (UnsafePointer(y.assumingMemoryBound(to: UInt8.self)),
                                       UnsafePointer(uv.assumingMemoryBound(to: UInt8.self)),
                                       nil),
                              strides: (CVPixelBufferGetBytesPerRowOfPlane(picture, 0),
                                        CVPixelBufferGetBytesPerRowOfPlane(picture, 1), 0))
    }

    /// A new session for the current SPS and PPS, decoding into NV12.
    private func makeSession() throws {
        var made: CMFormatDescription?
        let status = sps.withUnsafeBufferPointer { s -> OSStatus in
            pps.withUnsafeBufferPointer { p -> OSStatus in
                let pointers = [s.baseAddress!, p.baseAddress!]
                let sizes = [s.count, p.count]
                return CMVideoFormatDescriptionCreateFromH264ParameterSets(
                    allocator: nil, parameterSetCount: 2, parameterSetPointers: pointers,
                    parameterSetSizes: sizes, nalUnitHeaderLength: 4, formatDescriptionOut: &made)
            }
        }
        try vt(status, "CMVideoFormatDescriptionCreateFromH264ParameterSets")
        guard let description = made else {
            throw VideoToolboxError(call: "CMVideoFormatDescriptionCreateFromH264ParameterSets", status: -1)
        }
        if let old = session {
            VTDecompressionSessionInvalidate(old)
            session = nil
        }
        let attributes: [CFString: Any] = [
            kCVPixelBufferPixelFormatTypeKey: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
        ]
        var created: VTDecompressionSession?
        try vt(VTDecompressionSessionCreate(allocator: nil, formatDescription: description,
                                            decoderSpecification: nil,
                                            imageBufferAttributes: attributes as CFDictionary,
                                            outputCallback: nil,
                                            decompressionSessionOut: &created),
               "VTDecompressionSessionCreate")
        session = created
        format = description
    }

    /// The NAL units of an Annex B access unit, without their start codes.
    static func nalUnits(_ data: UnsafeRawBufferPointer) -> [[UInt8]] {
        let bytes = [UInt8](data)
        var starts: [(code: Int, payload: Int)] = []
        var i = 0
        while i + 3 <= bytes.count {
            if bytes[i] == 0, bytes[i + 1] == 0, bytes[i + 2] == 1 {
                let code = i > 0 && bytes[i - 1] == 0 ? i - 1 : i
                starts.append((code, i + 3))
                i += 3
            } else {
                i += 1
            }
        }
        var units: [[UInt8]] = []
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1].code : bytes.count
            if end > start.payload {
                units.append(Array(bytes[start.payload..<end]))
            }
        }
        return units
    }

    private static func sampleBuffer(_ sample: [UInt8], format: CMVideoFormatDescription) throws -> CMSampleBuffer {
        var block: CMBlockBuffer?
        try vt(CMBlockBufferCreateWithMemoryBlock(allocator: nil, memoryBlock: nil,
                                                  blockLength: sample.count,
                                                  blockAllocator: kCFAllocatorDefault,
                                                  customBlockSource: nil, offsetToData: 0,
                                                  dataLength: sample.count,
                                                  flags: kCMBlockBufferAssureMemoryNowFlag,
                                                  blockBufferOut: &block),
               "CMBlockBufferCreateWithMemoryBlock")
        guard let data = block else {
            throw VideoToolboxError(call: "CMBlockBufferCreateWithMemoryBlock", status: -1)
        }
        try sample.withUnsafeBytes { bytes in
            try vt(CMBlockBufferReplaceDataBytes(with: bytes.baseAddress!, blockBuffer: data,
                                                 offsetIntoDestination: 0, dataLength: sample.count),
                   "CMBlockBufferReplaceDataBytes")
        }
        var made: CMSampleBuffer?
        var size = sample.count
        try vt(CMSampleBufferCreateReady(allocator: nil, dataBuffer: data, formatDescription: format,
                                         sampleCount: 1, sampleTimingEntryCount: 0,
                                         sampleTimingArray: nil, sampleSizeEntryCount: 1,
                                         sampleSizeArray: &size, sampleBufferOut: &made),
               "CMSampleBufferCreateReady")
        guard let buffer = made else {
            throw VideoToolboxError(call: "CMSampleBufferCreateReady", status: -1)
        }
        return buffer
    }
}
#endif
