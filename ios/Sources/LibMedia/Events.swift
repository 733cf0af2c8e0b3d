// What the engine reports: events, statistics and video frames, as Swift
// values. Everything here is a copy made on the engine thread that
// received it (C pointers are valid only during a callback), so it can be
// handed to the host's queue.

import CMedia
import Foundation

/// An engine statistics snapshot (`media_stats`). Counters are totals since
/// the engine was created; bitrates cover the last stats interval;
/// latencies are in microseconds.
public struct Stats: Sendable {
    public let audioFramesCaptured: UInt64
    public let audioFramesEncoded: UInt64
    public let audioPacketsReceived: UInt64
    public let audioPacketsLost: UInt64
    public let audioFramesDecoded: UInt64
    public let audioFecRecovered: UInt64
    public let audioConcealed: UInt64
    public let audioPlayoutUnderruns: UInt64
    public let audioSendBitrateBps: UInt32
    public let audioRecvBitrateBps: UInt32
    public let audioJitterUs: UInt64
    public let videoFramesCaptured: UInt64
    public let videoFramesEncoded: UInt64
    public let videoFramesDecoded: UInt64
    public let videoFramesRendered: UInt64
    public let videoFramesDropped: UInt64
    public let videoFramesLost: UInt64
    public let videoKeyframesSent: UInt64
    public let videoKeyframeRequests: UInt64
    public let videoDecodeErrors: UInt64
    public let videoSendBitrateBps: UInt32
    public let videoRecvBitrateBps: UInt32
    public let videoEncodeLatencyP50Us: UInt64
    public let videoTransportLatencyP50Us: UInt64
    public let videoDecodeLatencyP50Us: UInt64
    public let videoLatencyP50Us: UInt64
    public let videoLatencyP95Us: UInt64
    /// Host audio: pushed frames that found the ring full; pulled frames
    /// that were silence.
    public let audioPushDroppedFrames: UInt64
    public let audioPullSilentFrames: UInt64
    /// The Opus encoder's FEC budget now (percent of loss it expects,
    /// following the peer's reports) and its bitrate.
    public let audioExpectedLossPct: UInt32
    public let audioTargetBitrateBps: UInt32
    /// The size and frame rate the encoder runs at now (the resolution
    /// ladder steps down when the bitrate cannot carry the configured size).
    public let videoSendWidth: UInt32
    public let videoSendHeight: UInt32
    public let videoSendFps: UInt32
    /// The delay the receiver adds to show remote video smoothly
    /// (`EngineConfig.videoDelay`), microseconds.
    public let videoRenderDelayUs: UInt32
    /// Freezes in shown remote video (as WebRTC counts them) and their
    /// total length.
    public let videoFreezes: UInt64
    public let videoFrozenMs: UInt64
    /// 20 ms audio frames the jitter buffer dropped to cut its delay.
    public let audioFramesRemoved: UInt64
    /// Samples (48 kHz) time-stretching added to / took out of played
    /// speech to move the jitter buffer's depth.
    public let audioSamplesInserted: UInt64
    public let audioSamplesRemoved: UInt64
    /// Lip sync, for the remote whose audio and video are furthest apart
    /// (0 until both were measured), microseconds: its audio from the
    /// sender's capture to the speaker; how far that audio plays ahead of
    /// its video (negative: behind); the delay sync adds to the audio and
    /// to the video (part of `videoRenderDelayUs`).
    public let audioLatencyUs: UInt32
    public let avSyncOffsetUs: Int32
    public let audioSyncDelayUs: UInt32
    public let videoSyncDelayUs: UInt32

    init(_ raw: media_stats) {
        audioFramesCaptured = raw.audio_frames_captured
        audioFramesEncoded = raw.audio_frames_encoded
        audioPacketsReceived = raw.audio_packets_received
        audioPacketsLost = raw.audio_packets_lost
        audioFramesDecoded = raw.audio_frames_decoded
        audioFecRecovered = raw.audio_fec_recovered
        audioConcealed = raw.audio_concealed
        audioPlayoutUnderruns = raw.audio_playout_underruns
        audioSendBitrateBps = raw.audio_send_bitrate_bps
        audioRecvBitrateBps = raw.audio_recv_bitrate_bps
        audioJitterUs = raw.audio_jitter_us
        videoFramesCaptured = raw.video_frames_captured
        videoFramesEncoded = raw.video_frames_encoded
        videoFramesDecoded = raw.video_frames_decoded
        videoFramesRendered = raw.video_frames_rendered
        videoFramesDropped = raw.video_frames_dropped
        videoFramesLost = raw.video_frames_lost
        videoKeyframesSent = raw.video_keyframes_sent
        videoKeyframeRequests = raw.video_keyframe_requests
        videoDecodeErrors = raw.video_decode_errors
        videoSendBitrateBps = raw.video_send_bitrate_bps
        videoRecvBitrateBps = raw.video_recv_bitrate_bps
        videoEncodeLatencyP50Us = raw.video_encode_latency_p50_us
        videoTransportLatencyP50Us = raw.video_transport_latency_p50_us
        videoDecodeLatencyP50Us = raw.video_decode_latency_p50_us
        videoLatencyP50Us = raw.video_latency_p50_us
        videoLatencyP95Us = raw.video_latency_p95_us
        audioPushDroppedFrames = raw.audio_push_dropped_frames
        audioPullSilentFrames = raw.audio_pull_silent_frames
        audioExpectedLossPct = raw.audio_expected_loss_pct
        audioTargetBitrateBps = raw.audio_target_bitrate_bps
        videoSendWidth = raw.video_send_width
        videoSendHeight = raw.video_send_height
        videoSendFps = raw.video_send_fps
        videoRenderDelayUs = raw.video_render_delay_us
        videoFreezes = raw.video_freezes
        videoFrozenMs = raw.video_frozen_ms
        audioFramesRemoved = raw.audio_frames_removed
        audioSamplesInserted = raw.audio_samples_inserted
        audioSamplesRemoved = raw.audio_samples_removed
        audioLatencyUs = raw.audio_latency_us
        avSyncOffsetUs = raw.av_sync_offset_us
        audioSyncDelayUs = raw.audio_sync_delay_us
        videoSyncDelayUs = raw.video_sync_delay_us
    }
}

/// Statistics of one remote user (`media_remote_stats`): the peer of a 1:1
/// call (`uid` 0) or a channel member. Bitrates and fps cover about the
/// last second; losses are fractions 0...1; qualities 0 unknown,
/// 1 excellent ... 6 down.
public struct RemoteStats: Sendable {
    public let uid: UInt32
    public let rttUs: UInt64
    public let egressLoss: Float
    public let ingressLoss: Float
    public let audioJitterUs: UInt64
    public let bandwidthEstimateBps: UInt32
    public let sendBitrateBps: UInt32
    public let audioRecvBitrateBps: UInt32
    public let videoRecvBitrateBps: UInt32
    public let videoFps: Float
    public let videoWidth: UInt32
    public let videoHeight: UInt32
    public let audioPacketsReceived: UInt64
    public let audioPacketsLost: UInt64
    public let audioFramesDecoded: UInt64
    public let audioConcealed: UInt64
    public let videoFramesReceived: UInt64
    public let videoFramesDecoded: UInt64
    public let videoFramesLost: UInt64
    public let videoNacksSent: UInt64
    public let txQuality: UInt32
    public let rxQuality: UInt32
    /// Freezes in this user's shown video and their total length.
    public let videoFreezes: UInt64
    public let videoFrozenMs: UInt64
    /// Our audio to this user carries redundant copies of earlier frames
    /// (RED), as the loss it reports asks.
    public let audioRedundancy: Bool
    /// Audio held in this user's jitter buffer now, milliseconds.
    public let audioBufferMs: UInt32
    /// The largest round trip in the last stats interval (about a
    /// second); `rttUs` is the latest.
    public let rttMaxUs: UInt64

    init(_ raw: media_remote_stats) {
        uid = raw.uid
        rttUs = raw.rtt_us
        egressLoss = raw.egress_loss
        ingressLoss = raw.ingress_loss
        audioJitterUs = raw.audio_jitter_us
        bandwidthEstimateBps = raw.bandwidth_estimate_bps
        sendBitrateBps = raw.send_bitrate_bps
        audioRecvBitrateBps = raw.audio_recv_bitrate_bps
        videoRecvBitrateBps = raw.video_recv_bitrate_bps
        videoFps = raw.video_fps
        videoWidth = raw.video_width
        videoHeight = raw.video_height
        audioPacketsReceived = raw.audio_packets_received
        audioPacketsLost = raw.audio_packets_lost
        audioFramesDecoded = raw.audio_frames_decoded
        audioConcealed = raw.audio_concealed
        videoFramesReceived = raw.video_frames_received
        videoFramesDecoded = raw.video_frames_decoded
        videoFramesLost = raw.video_frames_lost
        videoNacksSent = raw.video_nacks_sent
        txQuality = raw.tx_quality
        rxQuality = raw.rx_quality
        videoFreezes = raw.video_freezes
        videoFrozenMs = raw.video_frozen_ms
        audioRedundancy = raw.audio_redundancy != 0
        audioBufferMs = raw.audio_buffer_ms
        rttMaxUs = raw.rtt_max_us
    }
}

/// Something the engine reports (`media_event`), delivered to
/// `EngineDelegate.engine(_:didReceive:)` on the delegate queue.
public enum EngineEvent: Sendable {
    /// `stream` changed to `state`.
    case streamStateChanged(stream: StreamKind, state: StreamState)
    /// A failure while running; `error` is nil only for a code this wrapper
    /// does not know.
    case error(MediaError?, message: String)
    case firstLocalVideoFrame(width: Int, height: Int)
    /// `uid` is the channel member (0 in a 1:1 call or the echo test).
    case firstRemoteVideoFrame(uid: UInt32, width: Int, height: Int)
    case firstRemoteAudioFrame(uid: UInt32)
    /// A snapshot every `EngineConfig.statsIntervalMs`.
    case stats(Stats)
    /// The media connection with `uid` changed.
    case connection(uid: UInt32, state: ConnectionState)
    /// The server connection changed; on `.failed`, `error` and `code`
    /// ("token_expired", "replaced", ...) say why.
    case server(state: ServerState, error: MediaError?, code: String?, message: String?)
    /// Progress of a 1:1 call.
    case call(CallUpdate)
    /// Membership and mute changes in a channel.
    case channel(ChannelUpdate)
    /// The token expires at `expiresAt`: call `Engine.renewToken(_:)`.
    case tokenWillExpire(expiresAt: Date)
    /// The server refused a request.
    case serverError(error: MediaError?, code: String?, message: String?, channel: String?)
    /// Every 2 s in a call: 0 unknown, 1 excellent, 2 good, 3 poor, 4 bad,
    /// 5 very bad, 6 down.
    case networkQuality(uid: UInt32, tx: UInt32, rx: UInt32)
    /// An event (or a value inside one) newer than this wrapper.
    case unknown(type: UInt32)
}

/// A `MEDIA_EVENT_CALL`.
public struct CallUpdate: Sendable {
    public let progress: CallProgress
    public let callId: String?
    /// The caller, on `.incoming`.
    public let userId: String?
    public let nickname: String?
    /// An incoming call with video.
    public let video: Bool
    /// On `.ended`.
    public let endReason: CallEndReason
    /// On `.ended` in failure (busy, offline, refused, media failed).
    public let error: MediaError?
    /// The server's code when it refused something about the call.
    public let code: String?
    /// On `.remoteMute`.
    public let audioMuted: Bool
    public let videoMuted: Bool
}

/// A `MEDIA_EVENT_CHANNEL`.
public struct ChannelUpdate: Sendable {
    public let change: ChannelChange
    public let channel: String?
    /// Our uid on `.joined`; the member's otherwise.
    public let uid: UInt32
    public let userId: String?
    public let nickname: String?
    /// On `.userOffline`: lost rather than left.
    public let dropped: Bool
    /// On `.remoteMute`.
    public let audioMuted: Bool
    public let videoMuted: Bool
}

/// A C string valid only now, copied; nil for NULL.
func copyString(_ pointer: UnsafePointer<CChar>?) -> String? {
    guard let pointer = pointer else { return nil }
    return String(cString: pointer)
}

extension EngineEvent {
    /// Copies everything out of `ev`, whose pointers are valid only during
    /// the C callback.
    init(copying ev: media_event) {
        let type = cValue(ev.type)
        switch ev.type {
        case MEDIA_EVENT_STATE_CHANGED:
            guard let stream = StreamKind(rawValue: cValue(ev.stream)),
                  let state = StreamState(rawValue: cValue(ev.state)) else {
                self = .unknown(type: type)
                return
            }
            self = .streamStateChanged(stream: stream, state: state)
        case MEDIA_EVENT_ERROR:
            self = .error(MediaError(result: ev.error), message: copyString(ev.message) ?? "")
        case MEDIA_EVENT_FIRST_LOCAL_VIDEO_FRAME:
            self = .firstLocalVideoFrame(width: Int(ev.width), height: Int(ev.height))
        case MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME:
            self = .firstRemoteVideoFrame(uid: ev.uid, width: Int(ev.width), height: Int(ev.height))
        case MEDIA_EVENT_FIRST_REMOTE_AUDIO_FRAME:
            self = .firstRemoteAudioFrame(uid: ev.uid)
        case MEDIA_EVENT_STATS:
            guard let stats = ev.stats else {
                self = .unknown(type: type)
                return
            }
            self = .stats(Stats(stats.pointee))
        case MEDIA_EVENT_CONNECTION:
            guard let state = ConnectionState(rawValue: cValue(ev.connection)) else {
                self = .unknown(type: type)
                return
            }
            self = .connection(uid: ev.uid, state: state)
        case MEDIA_EVENT_SERVER:
            guard let state = ServerState(rawValue: cValue(ev.server_state)) else {
                self = .unknown(type: type)
                return
            }
            self = .server(state: state, error: MediaError(result: ev.error),
                           code: copyString(ev.code), message: copyString(ev.message))
        case MEDIA_EVENT_CALL:
            guard let progress = CallProgress(rawValue: cValue(ev.call)),
                  let endReason = CallEndReason(rawValue: cValue(ev.end_reason)) else {
                self = .unknown(type: type)
                return
            }
            self = .call(CallUpdate(
                progress: progress,
                callId: copyString(ev.call_id),
                userId: copyString(ev.user_id),
                nickname: copyString(ev.nickname),
                video: ev.video,
                endReason: endReason,
                error: MediaError(result: ev.error),
                code: copyString(ev.code),
                audioMuted: ev.audio_muted,
                videoMuted: ev.video_muted))
        case MEDIA_EVENT_CHANNEL:
            guard let change = ChannelChange(rawValue: cValue(ev.channel_event)) else {
                self = .unknown(type: type)
                return
            }
            self = .channel(ChannelUpdate(
                change: change,
                channel: copyString(ev.channel),
                uid: ev.uid,
                userId: copyString(ev.user_id),
                nickname: copyString(ev.nickname),
                dropped: ev.dropped,
                audioMuted: ev.audio_muted,
                videoMuted: ev.video_muted))
        case MEDIA_EVENT_TOKEN_WILL_EXPIRE:
            self = .tokenWillExpire(expiresAt: Date(timeIntervalSince1970: TimeInterval(ev.expires_at)))
        case MEDIA_EVENT_SERVER_ERROR:
            self = .serverError(error: MediaError(result: ev.error), code: copyString(ev.code),
                                message: copyString(ev.message), channel: copyString(ev.channel))
        case MEDIA_EVENT_NETWORK_QUALITY:
            self = .networkQuality(uid: ev.uid, tx: ev.tx_quality, rx: ev.rx_quality)
        default:
            self = .unknown(type: type)
        }
    }
}

/// A video frame as the engine hands it over (`media_video_frame`), on the
/// engine's render thread: the plane pointers are valid only while the
/// handler that received it runs. Call `copy()` to keep it.
public struct VideoFrameView {
    public let source: FrameSource
    public let width: Int
    public let height: Int
    /// For remote frames: the channel member (0 in a 1:1 call).
    public let uid: UInt32
    /// Capture time on the engine clock (microseconds since the engine was created).
    public let captureTimeUs: UInt64
    /// I420 planes: Y is `width` x `height`, U and V `chromaWidth` x `chromaHeight`.
    public let y: UnsafePointer<UInt8>
    public let u: UnsafePointer<UInt8>
    public let v: UnsafePointer<UInt8>
    public let yStride: Int
    public let uStride: Int
    public let vStride: Int

    public var chromaWidth: Int { (width + 1) / 2 }
    public var chromaHeight: Int { (height + 1) / 2 }

    init?(_ raw: media_video_frame) {
        guard let source = FrameSource(rawValue: cValue(raw.source)),
              let y = raw.y, let u = raw.u, let v = raw.v else {
            return nil
        }
        self.source = source
        self.width = Int(raw.width)
        self.height = Int(raw.height)
        self.uid = raw.uid
        self.captureTimeUs = raw.capture_time_us
        self.y = y
        self.u = u
        self.v = v
        self.yStride = Int(raw.y_stride)
        self.uStride = Int(raw.u_stride)
        self.vStride = Int(raw.v_stride)
    }

    /// A copy with tightly packed planes that outlives the handler.
    public func copy() -> VideoFrame {
        VideoFrame(source: source, width: width, height: height, uid: uid,
                   captureTimeUs: captureTimeUs,
                   y: copyPlane(y, stride: yStride, width: width, height: height),
                   u: copyPlane(u, stride: uStride, width: chromaWidth, height: chromaHeight),
                   v: copyPlane(v, stride: vStride, width: chromaWidth, height: chromaHeight))
    }
}

/// A copied I420 frame, delivered to `EngineDelegate` on the delegate
/// queue. Planes are tightly packed: Y has `width` bytes a row, U and V
/// `chromaWidth`.
public struct VideoFrame: Sendable {
    public let source: FrameSource
    public let width: Int
    public let height: Int
    public let uid: UInt32
    public let captureTimeUs: UInt64
    public let y: Data
    public let u: Data
    public let v: Data

    public var chromaWidth: Int { (width + 1) / 2 }
    public var chromaHeight: Int { (height + 1) / 2 }
}

/// Copies `height` rows of `width` bytes, `stride` bytes apart.
func copyPlane(_ base: UnsafePointer<UInt8>, stride: Int, width: Int, height: Int) -> Data {
    guard width > 0, height > 0, stride >= width else {
        return Data()
    }
    var data = Data(count: width * height)
    data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
        guard let out = buffer.baseAddress else { return }
        if stride == width {
            memcpy(out, base, width * height)
        } else {
            for row in 0..<height {
                memcpy(out + row * width, base + row * stride, width)
            }
        }
    }
    return data
}
