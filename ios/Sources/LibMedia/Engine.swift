// Engine: the Swift owner of a `media_engine *`.
//
// Threads. libmedia calls back on its own threads ("media-events" for
// events, "media-render" for video frames). The C callbacks here copy what
// they received (pointers are valid only during the callback) and hop to
// the DispatchQueue the host chose, where the delegate is called. The
// userdata given to C is an unretained pointer to a `CallbackContext` that
// the Engine owns; `deinit` calls `media_engine_free` first, which joins
// the engine's threads, so no callback can run once the context goes.
//
// Engine threads never take a strong reference to the Engine or to the
// delegate: the last reference could then drop on an engine thread, and
// `deinit` would call `media_engine_free` from inside a callback, which the
// header forbids. They only read plain flags under a lock; the Engine and
// the delegate are loaded (weakly) on the host's queue.

import CMedia
import Dispatch
import Foundation

/// Receives what an `Engine` reports, on the engine's delegate queue.
public protocol EngineDelegate: AnyObject {
    /// An event: state changes, errors, calls, channels, stats.
    func engine(_ engine: Engine, didReceive event: EngineEvent)
    /// A copied video frame (local preview or remote), when
    /// `Engine.deliversVideoFrames` is on. Frames that would queue up
    /// behind a slow queue are dropped and counted in
    /// `Engine.droppedDelegateFrames`.
    func engine(_ engine: Engine, didReceiveVideoFrame frame: VideoFrame)
}

public extension EngineDelegate {
    func engine(_ engine: Engine, didReceiveVideoFrame frame: VideoFrame) {}
}

/// A libmedia engine: devices, codecs, the echo test, calls and channels.
///
/// Create it, start what you need, and let it go: `deinit` stops
/// everything and frees the engine. Don't release the last reference from
/// inside a `frameHandler` (that runs on an engine thread).
public final class Engine {
    private let handle: OpaquePointer
    private let context: CallbackContext
    /// The app's video codec, which C calls until `deinit` frees the engine.
    private let codec: CodecBox?

    /// Creates an engine; no device opens yet.
    ///
    /// - Parameters:
    ///   - config: `.systemDevices` (the default) or `.fake`, then changed.
    ///   - delegate: held weakly.
    ///   - queue: where the delegate is called; use a serial queue (the
    ///     main queue by default) so events arrive in order.
    public init(config: EngineConfig = .systemDevices,
                delegate: EngineDelegate? = nil,
                queue: DispatchQueue = .main) throws {
        var created: OpaquePointer?
        let codec = config.videoCodec.map { CodecBox($0) }
        if let codec = codec {
            var raw = codec.raw() // copied by media_engine_new
            try withUnsafePointer(to: &raw) { pointer in
                try config.withRaw(codec: pointer) { try check(media_engine_new($0, &created)) }
            }
        } else {
            try config.withRaw { raw in
                try check(media_engine_new(raw, &created))
            }
        }
        guard let handle = created else {
            throw MediaError.internal
        }
        // The callbacks are set before `self` is complete: if that fails,
        // the handle is freed here and `deinit` does not run.
        let context = CallbackContext(queue: queue)
        let userdata = Unmanaged.passUnretained(context).toOpaque()
        do {
            try check(media_engine_set_event_callback(handle, engineEventCallback, userdata))
            try check(media_engine_set_frame_callback(handle, engineFrameCallback, userdata))
        } catch {
            media_engine_free(handle)
            throw error
        }
        self.handle = handle
        self.context = context
        self.codec = codec
        context.engine = self
        context.setDelegate(delegate)
    }

    deinit {
        // Joins the engine's threads: no callback runs after this line, so
        // `context` (released after deinit) is never used by C again.
        media_engine_free(handle)
    }

    // MARK: Delivery

    /// Held weakly; called on `delegateQueue`.
    public var delegate: EngineDelegate? {
        get { context.delegate }
        set { context.setDelegate(newValue) }
    }

    /// Where the delegate is called (a serial queue keeps events in order).
    public var delegateQueue: DispatchQueue {
        get { context.queue }
        set { context.queue = newValue }
    }

    /// Copy video frames to the delegate (on by default). Turn it off when
    /// a `frameHandler` renders them, or when the host shows no video.
    public var deliversVideoFrames: Bool {
        get { context.deliversFrames }
        set { context.deliversFrames = newValue }
    }

    /// Frames not copied to the delegate because earlier ones were still
    /// queued on `delegateQueue`.
    public var droppedDelegateFrames: UInt64 { context.droppedFrames }

    /// Called on the engine's render thread with every video frame, before
    /// any copy: the plane pointers are valid only during the call, so
    /// render or copy them there (e.g. into a CVPixelBuffer). A slow handler
    /// makes the engine drop (and count) frames. Must not block on
    /// `delegateQueue`, and must not hold the last reference to the Engine.
    public var frameHandler: ((VideoFrameView) -> Void)? {
        get { context.frameHandler }
        set { context.frameHandler = newValue }
    }

    // MARK: Local media and the echo test

    /// Opens the microphone and starts sending audio. Starting twice is OK.
    /// On iOS, call it once the audio session is active (e.g. from CallKit's
    /// `provider(_:didActivate:)`).
    public func startLocalAudio() throws {
        try check(media_engine_start_local_audio(handle))
    }

    /// Closes the microphone. Stopping twice is OK.
    public func stopLocalAudio() throws {
        try check(media_engine_stop_local_audio(handle))
    }

    /// Hands the engine a frame the host captured; the engine's config must
    /// have `videoInput = .external` (else `.invalidState`). Call from any
    /// thread (e.g. the AVCaptureVideoDataOutput queue) at the camera's
    /// rate: the planes are read before this returns. Frames pushed while
    /// no local video runs are discarded without an error.
    ///
    /// - Parameters:
    ///   - format: `.nv12` / `.nv21` (planes 0 and 1) or `.i420` (0, 1, 2).
    ///   - width, height: of the stored pixels, before rotation; both even.
    ///   - planes, strides: the plane pointers and bytes from one row to
    ///     the next; `plane2` only for `.i420`.
    ///   - rotation: clockwise degrees that make the picture upright
    ///     (0, 90, 180, 270).
    ///   - timestampUs: capture time on any monotonic clock (only the
    ///     spacing counts); 0: now.
    public func pushVideoFrame(format: PixelFormat, width: Int, height: Int,
                               plane0: UnsafePointer<UInt8>, stride0: Int,
                               plane1: UnsafePointer<UInt8>, stride1: Int,
                               plane2: UnsafePointer<UInt8>? = nil, stride2: Int = 0,
                               rotation: UInt32 = 0, timestampUs: UInt64 = 0) throws {
        var frame = media_video_push_frame()
        // C's sizeof: the stride of an imported C struct (its size with tail padding).
        frame.struct_size = UInt32(MemoryLayout<media_video_push_frame>.stride)
        frame.format = format.rawValue
        frame.width = UInt32(clamping: width)
        frame.height = UInt32(clamping: height)
        frame.planes = (plane0, plane1, plane2)
        frame.strides = (UInt32(clamping: stride0), UInt32(clamping: stride1), UInt32(clamping: stride2))
        frame.rotation = rotation
        frame.timestamp_us = timestampUs
        try check(media_engine_push_video_frame(handle, &frame))
    }

    /// Hands the host's microphone PCM to the engine (`AudioInput.external`):
    /// interleaved 16-bit samples at `EngineConfig.audioInputSampleRate` with
    /// `audioInputChannels`, a whole number of frames, any chunk size.
    /// Real-time safe (no lock, allocation or system call): call it from the
    /// VoiceProcessingIO input callback.
    public func pushAudio(_ samples: UnsafeBufferPointer<Int16>) throws {
        try check(media_engine_push_audio(handle, samples.baseAddress, samples.count))
    }

    /// Fills `samples` with the next interleaved 16-bit samples for the
    /// speaker (`AudioOutput.external`); what is not decoded yet is silence.
    /// Returns how many frames were real audio. Real-time safe: call it from
    /// the VoiceProcessingIO render callback.
    @discardableResult
    public func pullAudio(_ samples: UnsafeMutableBufferPointer<Int16>) throws -> Int {
        var frames = 0
        try check(media_engine_pull_audio(handle, samples.baseAddress, samples.count, &frames))
        return frames
    }

    /// Opens the camera and starts the local preview; `.noDevice` without one.
    public func startLocalPreview() throws {
        try check(media_engine_start_local_preview(handle))
    }

    /// Closes the camera. Stopping twice is OK.
    public func stopLocalPreview() throws {
        try check(media_engine_stop_local_preview(handle))
    }

    /// Microphone to speaker and camera to remote frames through the whole
    /// pipeline; starts local audio and preview if needed.
    public func startEchoTest() throws {
        try check(media_engine_start_echo_test(handle))
    }

    /// Stops the echo test and the local streams it started.
    public func stopEchoTest() throws {
        try check(media_engine_stop_echo_test(handle))
    }

    /// Sends silence while muted.
    public func muteLocalAudio(_ muted: Bool) throws {
        try check(media_engine_mute_local_audio(handle, muted))
    }

    /// Stops or resumes sending video; the preview goes on.
    public func muteLocalVideo(_ muted: Bool) throws {
        try check(media_engine_mute_local_video(handle, muted))
    }

    /// The video target bitrate; `.invalidArgument` outside the configured
    /// min/max.
    public func setVideoBitrate(_ bitsPerSecond: UInt32) throws {
        try check(media_engine_set_video_bitrate(handle, bitsPerSecond))
    }

    /// Selects the camera by index (`.noDevice`, `.notFound`).
    public func selectCamera(_ index: UInt32) throws {
        try check(media_engine_select_camera(handle, index))
    }

    // MARK: Statistics

    /// A statistics snapshot.
    public func stats() throws -> Stats {
        var raw = media_stats()
        raw.struct_size = UInt32(MemoryLayout<media_stats>.stride)
        try check(media_engine_get_stats(handle, &raw))
        return Stats(raw)
    }

    /// Statistics of each remote user of the running call or channel.
    public func remoteStats() throws -> [RemoteStats] {
        var count = 0
        try check(media_engine_get_remote_stats(handle, nil, 0, &count))
        // Members can join between the two calls: retry with more room.
        for _ in 0..<4 {
            if count == 0 {
                return []
            }
            var entry = media_remote_stats()
            entry.struct_size = UInt32(MemoryLayout<media_remote_stats>.stride)
            var buffer = [media_remote_stats](repeating: entry, count: count)
            let capacity = buffer.count
            var total = 0
            try check(media_engine_get_remote_stats(handle, &buffer, capacity, &total))
            if total <= capacity {
                return buffer.prefix(total).map(RemoteStats.init)
            }
            count = total
        }
        throw MediaError.bufferTooSmall
    }

    // MARK: Server, calls and channels

    /// Connects to the rendezvous server and registers; `.server` events
    /// follow. Replaces an earlier connection.
    public func connect(server: ServerConfig) throws {
        try server.withRaw { raw in
            try check(media_engine_connect_server(handle, raw))
        }
    }

    /// Leaves the server, ending any call. A no-op when not connected.
    public func disconnectServer() throws {
        try check(media_engine_disconnect_server(handle))
    }

    /// Calls `userId`; returns the call id. `.invalidState` when not
    /// registered or already in a call.
    @discardableResult
    public func call(_ userId: String, video: Bool) throws -> String {
        // The header promises 128 bytes always suffice.
        let capacity = 128
        var callId = [CChar](repeating: 0, count: capacity)
        try check(media_engine_call(handle, userId, video, &callId, capacity))
        return callId.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Accepts the ringing incoming call `callId`.
    public func accept(callId: String) throws {
        try check(media_engine_accept(handle, callId))
    }

    /// Rejects the ringing incoming call `callId`.
    public func reject(callId: String) throws {
        try check(media_engine_reject(handle, callId))
    }

    /// Ends the current call (cancels it while ringing); `.invalidState`
    /// when there is none.
    public func hangup() throws {
        try check(media_engine_hangup(handle))
    }

    /// Hands the server a new token (after `.tokenWillExpire`).
    public func renewToken(_ token: String) throws {
        try check(media_engine_renew_token(handle, token))
    }

    /// Joins `channel` as `uid` (0: the server assigns one, reported in
    /// `.joined`), as audience (receive only) or broadcaster.
    public func joinChannel(_ channel: String, uid: UInt32 = 0, audience: Bool = false) throws {
        try check(media_engine_join_channel(handle, channel, uid, audience))
    }

    /// Leaves `channel`.
    public func leaveChannel(_ channel: String) throws {
        try check(media_engine_leave_channel(handle, channel))
    }

    /// The library version, e.g. "0.1.0".
    public static var version: String {
        String(cString: media_version())
    }
}

// MARK: - C callbacks

/// Runs on the engine's "media-events" thread.
private let engineEventCallback: media_event_callback = { userdata, event in
    guard let userdata = userdata, let event = event else { return }
    let context = Unmanaged<CallbackContext>.fromOpaque(userdata).takeUnretainedValue()
    context.deliver(event: event.pointee)
}

/// Runs on the engine's "media-render" thread.
private let engineFrameCallback: media_frame_callback = { userdata, frame in
    guard let userdata = userdata, let frame = frame else { return }
    let context = Unmanaged<CallbackContext>.fromOpaque(userdata).takeUnretainedValue()
    context.deliver(frame: frame.pointee)
}

/// What the C callbacks need, shared between the Engine (host threads) and
/// the engine's threads. Everything mutable is behind `lock`.
final class CallbackContext {
    /// Frames copied for the delegate but not yet delivered, at most.
    static let maxQueuedFrames = 2

    private let lock = NSLock()
    private weak var delegateStorage: EngineDelegate?
    private var hasDelegate = false
    private var queueStorage: DispatchQueue
    private var deliversFramesStorage = true
    private var frameHandlerStorage: ((VideoFrameView) -> Void)?
    private var queuedFrames = 0
    private var droppedFramesStorage: UInt64 = 0

    /// Loaded only on the delegate queue (see the file's header).
    weak var engine: Engine?

    init(queue: DispatchQueue) {
        queueStorage = queue
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var delegate: EngineDelegate? {
        locked { delegateStorage }
    }

    func setDelegate(_ delegate: EngineDelegate?) {
        locked {
            delegateStorage = delegate
            hasDelegate = delegate != nil
        }
    }

    var queue: DispatchQueue {
        get { locked { queueStorage } }
        set { locked { queueStorage = newValue } }
    }

    var deliversFrames: Bool {
        get { locked { deliversFramesStorage } }
        set { locked { deliversFramesStorage = newValue } }
    }

    var frameHandler: ((VideoFrameView) -> Void)? {
        get { locked { frameHandlerStorage } }
        set { locked { frameHandlerStorage = newValue } }
    }

    var droppedFrames: UInt64 {
        locked { droppedFramesStorage }
    }

    /// On the events thread: copy, then hop to the host's queue.
    func deliver(event raw: media_event) {
        let (wanted, queue) = locked { (hasDelegate, queueStorage) }
        if !wanted {
            return
        }
        let event = EngineEvent(copying: raw)
        queue.async { [self] in
            guard let engine = self.engine, let delegate = self.delegate else { return }
            delegate.engine(engine, didReceive: event)
        }
    }

    /// On the render thread: the handler sees the frame in place; the
    /// delegate gets a copy on its queue unless too many are queued.
    func deliver(frame raw: media_video_frame) {
        guard let view = VideoFrameView(raw) else { return }
        let (handler, toDelegate, queue) = locked { () -> (((VideoFrameView) -> Void)?, Bool, DispatchQueue) in
            var copyForDelegate = hasDelegate && deliversFramesStorage
            if copyForDelegate {
                if queuedFrames >= CallbackContext.maxQueuedFrames {
                    droppedFramesStorage += 1
                    copyForDelegate = false
                } else {
                    queuedFrames += 1
                }
            }
            return (frameHandlerStorage, copyForDelegate, queueStorage)
        }
        handler?(view)
        if !toDelegate {
            return
        }
        let frame = view.copy()
        queue.async { [self] in
            self.locked { self.queuedFrames -= 1 }
            guard let engine = self.engine, let delegate = self.delegate else { return }
            delegate.engine(engine, didReceiveVideoFrame: frame)
        }
    }
}
