// Swift twins of the C enums in include/media.h that the wrapper exposes.
//
// Each `drift:` line names the C enum the Swift enum below it mirrors and
// the prefix its constants share; ios/scripts/check-drift.py fails when a
// value is missing, extra or different (case names are the C names without
// the prefix, in lowerCamelCase). Raw values are the C values.

// drift: media_stream prefix=MEDIA_STREAM_
/// Which stream a state change concerns.
public enum StreamKind: UInt32, Sendable {
    case none = 0
    case localAudio = 1
    case localVideo = 2
    case echoTest = 3
    /// A call with a network peer.
    case call = 4
    /// The media of a channel.
    case channel = 5
}

// drift: media_stream_state prefix=MEDIA_STREAM_
/// The state of a stream.
public enum StreamState: UInt32, Sendable {
    case stopped = 0
    case started = 1
    /// Stopped by a failure; an `.error` event came first.
    case failed = 2
}

// drift: media_connection_state prefix=MEDIA_CONNECTION_
/// The media connection with a peer.
public enum ConnectionState: UInt32, Sendable {
    case connecting = 0
    case connected = 1
    /// Lost after being connected; the engine keeps trying.
    case disconnected = 2
    /// Could not connect, or gave up.
    case failed = 3
}

// drift: media_server_state prefix=MEDIA_SERVER_
/// The connection to the rendezvous server.
public enum ServerState: UInt32, Sendable {
    case connecting = 0
    /// Registered: calls can be placed and received.
    case connected = 1
    /// The connection broke; trying again.
    case reconnecting = 2
    /// Gave up; the event's `code` says why ("token_expired", ...).
    case failed = 3
    /// Closed on request.
    case disconnected = 4
}

// drift: media_call_event prefix=MEDIA_CALL_
/// The progress of a 1:1 call.
public enum CallProgress: UInt32, Sendable {
    /// Someone calls: `Engine.accept` or `Engine.reject`.
    case incoming = 0
    /// The callee's app is ringing.
    case ringing = 1
    /// The callee accepted; media is connecting.
    case accepted = 2
    /// Over: see `CallUpdate.endReason`.
    case ended = 3
    /// The peer muted or unmuted.
    case remoteMute = 4
}

// drift: media_call_end_reason prefix=MEDIA_CALL_END_
/// Why a call ended.
public enum CallEndReason: UInt32, Sendable {
    case none = 0
    case offline = 1
    case busy = 2
    case rejected = 3
    case timeout = 4
    case cancelled = 5
    case hangup = 6
    case peerDropped = 7
    case connectionLost = 8
    case error = 9
    case mediaFailed = 10
}

// drift: media_channel_event prefix=MEDIA_CHANNEL_
/// A change in a channel.
public enum ChannelChange: UInt32, Sendable {
    /// We joined as `uid`.
    case joined = 0
    /// Member `uid` joined, or was there when we joined.
    case userJoined = 1
    /// Member `uid` left (`dropped` false) or was lost (`dropped` true).
    case userOffline = 2
    /// We left.
    case left = 3
    /// Member `uid` muted or unmuted.
    case remoteMute = 4
}

// drift: media_frame_source prefix=MEDIA_FRAME_
/// Whose picture a video frame is.
public enum FrameSource: UInt32, Sendable {
    /// The local camera preview.
    case local = 0
    /// Decoded video from the peer (or the echo test).
    case remote = 1
}

// drift: media_audio_input prefix=MEDIA_AUDIO_INPUT_
/// Where the engine's microphone audio comes from.
public enum AudioInput: UInt32, Sendable {
    /// The system's default microphone.
    case `default` = 0
    /// The microphone `EngineConfig.audioInputDevice`.
    case device = 1
    /// A sine tone (`toneHz`, `toneLevelDbfs`).
    case tone = 2
    /// The WAV file `audioInputFile`, looped.
    case wavFile = 3
    case silence = 4
    /// 16-bit PCM the host pushes with `Engine.pushAudio` (VoiceProcessingIO).
    case external = 5
}

// drift: media_audio_output prefix=MEDIA_AUDIO_OUTPUT_
/// Where the engine plays received audio.
public enum AudioOutput: UInt32, Sendable {
    /// The system's default speaker.
    case `default` = 0
    /// The speaker `EngineConfig.audioOutputDevice`.
    case device = 1
    /// The WAV file `audioOutputFile` (48 kHz mono).
    case wavFile = 2
    /// Played into nothing, in real time.
    case null = 3
    /// 16-bit PCM the host pulls with `Engine.pullAudio`.
    case external = 4
}

// drift: media_video_delay prefix=MEDIA_VIDEO_DELAY_
/// How much delay the receiver may add to show remote video without
/// freezes.
public enum VideoDelay: UInt32, Sendable {
    /// Up to 400 ms: covers 95 % of frames' lateness in full and the
    /// rest to within a 100 ms hitch, no freeze (the default).
    case balanced = 0
    /// Frames are shown as soon as they are decoded.
    case immediate = 1
    /// Up to 100 ms, covering 95 %.
    case lowLatency = 2
    /// Up to 1 s, covering every frame of the last 10 s.
    case smooth = 3
}

// drift: media_video_input prefix=MEDIA_VIDEO_INPUT_
/// Where the engine's video comes from.
public enum VideoInput: UInt32, Sendable {
    /// The camera `EngineConfig.cameraIndex`.
    case camera = 0
    /// A moving test pattern that carries its frame number.
    case testPattern = 1
    /// The Y4M file `videoInputFile`, looped.
    case y4mFile = 2
    /// Frames the host pushes with `Engine.pushVideoFrame` (a phone's
    /// camera through AVCaptureSession, a screen, any custom source).
    case external = 3
}

// drift: media_pixel_format prefix=MEDIA_PIXEL_
/// The layout of a frame the host pushes.
public enum PixelFormat: UInt32, Sendable {
    /// Three planes: Y, U, V (chroma at half width and height).
    case i420 = 0
    /// Two planes: Y, then U and V interleaved, U first (iOS
    /// `kCVPixelFormatType_420YpCbCr8BiPlanar*`).
    case nv12 = 1
    /// Two planes: Y, then V and U interleaved, V first (Android NV21).
    case nv21 = 2
}
