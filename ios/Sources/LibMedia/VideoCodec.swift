// VideoCodec: an H.264 codec of the app's (VideoToolbox: `VideoToolboxCodec`)
// used by the engine in place of its own openh264 (`media_video_codec` in
// media.h). Set `EngineConfig.videoCodec`.
//
// Threads. Encoders and decoders are made and freed on any thread (the
// app's, inside an Engine call that starts or stops video, or an engine
// thread) and used on engine threads: one send thread, one receive thread
// per remote. The calls on one encoder or decoder never overlap; `makeEncoder`
// and `makeDecoder` may run at the same time on different threads. Nothing
// here may call back into the Engine.
//
// Ownership. The Engine holds the codec (a `CodecBox`) until its `deinit`
// has freed the C engine; C holds each encoder and decoder as a retained
// box that `encoder_free` / `decoder_free` release.

import CMedia

/// What an encoder is made for. A new size or frame rate gets a new encoder.
public struct VideoEncoderSettings: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var fps: Int
    public var bitrateBps: Int
}

/// An I420 picture lent to an encoder: valid only during `encode`.
public struct CodecPicture {
    public let width: Int
    public let height: Int
    public let y: UnsafePointer<UInt8>
    public let u: UnsafePointer<UInt8>
    public let v: UnsafePointer<UInt8>
    public let yStride: Int
    public let uStride: Int
    public let vStride: Int
}

/// A decoded picture. Its planes stay valid until the decoder's next call
/// (the decoder keeps what holds them, e.g. a locked CVPixelBuffer).
public struct DecodedPicture {
    public var format: PixelFormat
    public var width: Int
    public var height: Int
    /// Y; U (I420) or the interleaved chroma (NV12 / NV21); V (I420 only).
    public var planes: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>?)
    public var strides: (Int, Int, Int)

    public init(format: PixelFormat, width: Int, height: Int,
                planes: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>?),
                strides: (Int, Int, Int)) {
        self.format = format
        self.width = width
        self.height = height
        self.planes = planes
        self.strides = strides
    }
}

/// Makes the engine's H.264 encoders and decoders (constrained baseline,
/// Annex B byte streams).
public protocol VideoCodec: AnyObject {
    /// A new encoder whose first frame is an IDR, or nil when none can be made.
    func makeEncoder(settings: VideoEncoderSettings) -> VideoEncoder?
    /// A new decoder, or nil when none can be made.
    func makeDecoder() -> VideoDecoder?
}

/// I420 pictures in, access units out. Released when the engine is done.
public protocol VideoEncoder: AnyObject {
    /// Encodes `picture` as one access unit of Annex B NAL units written to
    /// the start of `output` (at least twice the pixel count): an IDR when
    /// `keyframe`, or whenever the encoder wants. Returns the bytes
    /// written; 0 skips the frame. Throwing fails this frame (a CODEC error
    /// event).
    func encode(_ picture: CodecPicture, timestampUs: UInt64, keyframe: Bool,
                into output: UnsafeMutableRawBufferPointer) throws -> Int
    /// Changes the target bitrate from the next frame.
    func setBitrate(_ bitrateBps: Int) throws
}

/// Access units in, pictures out. Released when the engine is done.
public protocol VideoDecoder: AnyObject {
    /// Decodes one access unit (valid only during the call); nil: no
    /// picture yet. Throwing makes the engine wait for (and ask for) the
    /// next keyframe.
    func decode(_ accessUnit: UnsafeRawBufferPointer) throws -> DecodedPicture?
}

/// The codec as C's `userdata`; owned by the Engine.
final class CodecBox {
    let codec: VideoCodec
    init(_ codec: VideoCodec) { self.codec = codec }

    /// The C struct that calls this box's codec; valid while the box lives.
    func raw() -> media_video_codec {
        var c = media_video_codec()
        c.struct_size = UInt32(MemoryLayout<media_video_codec>.size)
        c.userdata = Unmanaged.passUnretained(self).toOpaque()
        c.encoder_new = codecEncoderNew
        c.encoder_encode = codecEncode
        c.encoder_set_bitrate = codecSetBitrate
        c.encoder_free = codecRelease
        c.decoder_new = codecDecoderNew
        c.decoder_decode = codecDecode
        c.decoder_free = codecRelease
        return c
    }
}

/// An encoder or decoder held by C (retained until `codecRelease`).
private final class CoderBox {
    let encoder: VideoEncoder?
    let decoder: VideoDecoder?
    init(encoder: VideoEncoder? = nil, decoder: VideoDecoder? = nil) {
        self.encoder = encoder
        self.decoder = decoder
    }
}

private func box(_ pointer: UnsafeMutableRawPointer?) -> CoderBox? {
    guard let pointer = pointer else { return nil }
    return Unmanaged<CoderBox>.fromOpaque(pointer).takeUnretainedValue()
}

private func retained(_ coder: CoderBox) -> UnsafeMutableRawPointer {
    Unmanaged.passRetained(coder).toOpaque()
}

private let codecEncoderNew: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<media_video_encoder_settings>?) -> UnsafeMutableRawPointer? = { userdata, settings in
    guard let userdata = userdata, let s = settings?.pointee else { return nil }
    let codec = Unmanaged<CodecBox>.fromOpaque(userdata).takeUnretainedValue().codec
    let wanted = VideoEncoderSettings(width: Int(s.width), height: Int(s.height),
                                      fps: Int(s.fps), bitrateBps: Int(s.bitrate_bps))
    guard let encoder = codec.makeEncoder(settings: wanted) else { return nil }
    return retained(CoderBox(encoder: encoder))
}

private let codecEncode: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<media_video_push_frame>?, Bool, UnsafeMutablePointer<UInt8>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = { coder, frame, keyframe, out, capacity, outLen in
    outLen?.pointee = 0
    guard let encoder = box(coder)?.encoder, let f = frame?.pointee, let out = out,
          let y = f.planes.0, let u = f.planes.1, let v = f.planes.2 else { return -1 }
    let picture = CodecPicture(width: Int(f.width), height: Int(f.height), y: y, u: u, v: v,
                               yStride: Int(f.strides.0), uStride: Int(f.strides.1),
                               vStride: Int(f.strides.2))
    do {
        let n = try encoder.encode(picture, timestampUs: f.timestamp_us, keyframe: keyframe,
                                   into: UnsafeMutableRawBufferPointer(start: out, count: capacity))
        guard n >= 0, n <= capacity else { return -1 }
        outLen?.pointee = n
        return 0
    } catch {
        return -1
    }
}

private let codecSetBitrate: @convention(c) (UnsafeMutableRawPointer?, UInt32) -> Int32 = { coder, bps in
    guard let encoder = box(coder)?.encoder else { return -1 }
    do {
        try encoder.setBitrate(Int(bps))
        return 0
    } catch {
        return -1
    }
}

private let codecDecoderNew: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { userdata in
    guard let userdata = userdata else { return nil }
    let codec = Unmanaged<CodecBox>.fromOpaque(userdata).takeUnretainedValue().codec
    guard let decoder = codec.makeDecoder() else { return nil }
    return retained(CoderBox(decoder: decoder))
}

private let codecDecode: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<media_video_push_frame>?) -> Int32 = { coder, data, len, out in
    guard let decoder = box(coder)?.decoder, let data = data, let out = out else { return -1 }
    do {
        guard let p = try decoder.decode(UnsafeRawBufferPointer(start: data, count: len)) else {
            return 0 // no picture: out->width stays 0
        }
        out.pointee.format = p.format.rawValue
        out.pointee.width = UInt32(p.width)
        out.pointee.height = UInt32(p.height)
        out.pointee.planes = (Optional(p.planes.0), Optional(p.planes.1), p.planes.2)
        out.pointee.strides = (UInt32(p.strides.0), UInt32(p.strides.1), UInt32(p.strides.2))
        return 0
    } catch {
        return -1
    }
}

private let codecRelease: @convention(c) (UnsafeMutableRawPointer?) -> Void = { coder in
    guard let coder = coder else { return }
    Unmanaged<CoderBox>.fromOpaque(coder).release()
}
