// Engine and server settings: Swift values over `media_engine_config` and
// `media_server_config`. Numbers live in the C struct (so a field added to
// the header keeps the library's default); strings are Swift strings,
// copied to C only for the duration of the call that reads them.

import CMedia
import Foundation

/// Which stages clean the microphone's audio (`media_voice_processing`):
/// combine stages, or use `.auto` alone.
public struct VoiceProcessing: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Removes the far end's voice played by the speaker.
    public static let echoCancellation = VoiceProcessing(rawValue: MEDIA_VOICE_ECHO_CANCELLATION.rawValue)
    public static let noiseSuppression = VoiceProcessing(rawValue: MEDIA_VOICE_NOISE_SUPPRESSION.rawValue)
    public static let gainControl = VoiceProcessing(rawValue: MEDIA_VOICE_GAIN_CONTROL.rawValue)
    public static let highPass = VoiceProcessing(rawValue: MEDIA_VOICE_HIGH_PASS.rawValue)
    public static let all = VoiceProcessing(rawValue: MEDIA_VOICE_ALL.rawValue)
    /// None: the microphone's audio is encoded untouched.
    public static let off: VoiceProcessing = []
    /// Echo cancellation, noise suppression and high-pass for the system
    /// microphone (not gain control), none for tone, file and
    /// pushed audio (the default).
    public static let auto = VoiceProcessing(rawValue: MEDIA_VOICE_PROCESSING_AUTO.rawValue)
}

/// Settings of an `Engine`. Start from `.systemDevices` or `.fake`, then
/// change what you need.
public struct EngineConfig {
    var raw = media_engine_config()

    public var audioInputDevice: String?
    public var audioInputFile: String?
    public var audioOutputDevice: String?
    public var audioOutputFile: String?
    public var videoInputFile: String?
    /// When set, decoded remote video is also written to this Y4M file.
    public var recordRemoteVideoFile: String?
    /// When set, the audio the speaker plays is also written to this WAV
    /// file (48 kHz mono).
    public var recordRemoteAudioFile: String?
    /// The app's H.264 codec (`VideoToolboxCodec()`) in place of the
    /// library's openh264; nil uses openh264. A library built without
    /// openh264 (`MEDIA_PLATFORM_CODEC=1`) needs one for video. Held by the
    /// Engine until it is freed.
    public var videoCodec: VideoCodec?

    /// The system's microphone, speaker and first camera, 640x360 at
    /// 30 fps, 800 kbit/s (`media_engine_config_default`).
    public static var systemDevices: EngineConfig {
        var config = EngineConfig()
        media_engine_config_default(&config.raw)
        return config
    }

    /// Synthetic devices: a 440 Hz tone at -20 dBFS, a null speaker and the
    /// test pattern (`media_engine_config_fake`). Runs anywhere, also in the
    /// simulator and in unit tests.
    public static var fake: EngineConfig {
        var config = EngineConfig()
        media_engine_config_fake(&config.raw)
        return config
    }

    public var audioInput: AudioInput {
        get { AudioInput(rawValue: raw.audio_input) ?? .default }
        set { raw.audio_input = newValue.rawValue }
    }
    public var toneHz: Float {
        get { raw.tone_hz }
        set { raw.tone_hz = newValue }
    }
    public var toneLevelDbfs: Float {
        get { raw.tone_level_dbfs }
        set { raw.tone_level_dbfs = newValue }
    }
    public var audioOutput: AudioOutput {
        get { AudioOutput(rawValue: raw.audio_output) ?? .default }
        set { raw.audio_output = newValue.rawValue }
    }
    /// `AudioInput.external`: the pushed PCM's rate (8000...48000) and
    /// channels (1 or 2).
    public var audioInputSampleRate: UInt32 {
        get { raw.audio_input_sample_rate }
        set { raw.audio_input_sample_rate = newValue }
    }
    public var audioInputChannels: UInt32 {
        get { raw.audio_input_channels }
        set { raw.audio_input_channels = newValue }
    }
    /// `AudioOutput.external`: the pulled PCM's rate and channels.
    public var audioOutputSampleRate: UInt32 {
        get { raw.audio_output_sample_rate }
        set { raw.audio_output_sample_rate = newValue }
    }
    public var audioOutputChannels: UInt32 {
        get { raw.audio_output_channels }
        set { raw.audio_output_channels = newValue }
    }
    /// Echo cancellation and friends on the microphone's audio; `.auto`
    /// by default (all but gain control for the system microphone, none for pushed
    /// audio, which VoiceProcessingIO has already cleaned).
    public var voiceProcessing: VoiceProcessing {
        get { VoiceProcessing(rawValue: raw.voice_processing) }
        set { raw.voice_processing = newValue.rawValue }
    }
    /// How much delay the receiver may add to show remote video without
    /// freezes; `.balanced` by default.
    public var videoDelay: VideoDelay {
        get { VideoDelay(rawValue: raw.video_delay) ?? .balanced }
        set { raw.video_delay = newValue.rawValue }
    }
    /// Lip sync: delay a remote's audio while it plays more than 20 ms
    /// ahead of its video (or the video while the audio is more than
    /// 80 ms behind); off by default. The offset is measured either way
    /// (`MediaStats.avSyncOffsetUs`).
    public var lipSync: Bool {
        get { raw.lip_sync != 0 }
        set { raw.lip_sync = newValue ? 1 : 0 }
    }
    public var videoInput: VideoInput {
        get { VideoInput(rawValue: raw.video_input) ?? .camera }
        set { raw.video_input = newValue.rawValue }
    }
    public var cameraIndex: UInt32 {
        get { raw.camera_index }
        set { raw.camera_index = newValue }
    }
    public var videoWidth: UInt32 {
        get { raw.video_width }
        set { raw.video_width = newValue }
    }
    public var videoHeight: UInt32 {
        get { raw.video_height }
        set { raw.video_height = newValue }
    }
    public var videoFps: UInt32 {
        get { raw.video_fps }
        set { raw.video_fps = newValue }
    }
    public var videoBitrateBps: UInt32 {
        get { raw.video_bitrate_bps }
        set { raw.video_bitrate_bps = newValue }
    }
    public var videoMinBitrateBps: UInt32 {
        get { raw.video_min_bitrate_bps }
        set { raw.video_min_bitrate_bps = newValue }
    }
    public var videoMaxBitrateBps: UInt32 {
        get { raw.video_max_bitrate_bps }
        set { raw.video_max_bitrate_bps = newValue }
    }
    public var audioBitrateBps: UInt32 {
        get { raw.audio_bitrate_bps }
        set { raw.audio_bitrate_bps = newValue }
    }
    public var audioFec: Bool {
        get { raw.audio_fec }
        set { raw.audio_fec = newValue }
    }
    /// Expected packet loss, 0...100, steering Opus FEC.
    public var audioExpectedLossPct: UInt32 {
        get { raw.audio_expected_loss_pct }
        set { raw.audio_expected_loss_pct = newValue }
    }
    public var audioDtx: Bool {
        get { raw.audio_dtx }
        set { raw.audio_dtx = newValue }
    }
    /// Echo test path: probability 0...1 that an audio packet is lost.
    public var loopbackAudioLoss: Float {
        get { raw.loopback_audio_loss }
        set { raw.loopback_audio_loss = newValue }
    }
    /// Echo test path: probability 0...1 that a video frame is lost.
    public var loopbackVideoLoss: Float {
        get { raw.loopback_video_loss }
        set { raw.loopback_video_loss = newValue }
    }
    public var loopbackDelayMs: UInt32 {
        get { raw.loopback_delay_ms }
        set { raw.loopback_delay_ms = newValue }
    }
    public var loopbackJitterMs: UInt32 {
        get { raw.loopback_jitter_ms }
        set { raw.loopback_jitter_ms = newValue }
    }
    public var loopbackSeed: UInt64 {
        get { raw.loopback_seed }
        set { raw.loopback_seed = newValue }
    }
    /// Period of `.stats` events in milliseconds; 0 turns them off.
    public var statsIntervalMs: UInt32 {
        get { raw.stats_interval_ms }
        set { raw.stats_interval_ms = newValue }
    }

    /// Calls `body` with the C struct, its strings set to C copies that
    /// live until `body` returns, and its `video_codec` to `codec`.
    func withRaw<R>(codec: UnsafePointer<media_video_codec>? = nil,
                    _ body: (UnsafePointer<media_engine_config>) throws -> R) throws -> R {
        let strings = [audioInputDevice, audioInputFile, audioOutputDevice,
                       audioOutputFile, videoInputFile, recordRemoteVideoFile,
                       recordRemoteAudioFile]
        return try withCStrings(strings) { (c: [UnsafePointer<CChar>?]) throws -> R in
            var copy = raw
            copy.audio_input_device = c[0]
            copy.audio_input_file = c[1]
            copy.audio_output_device = c[2]
            copy.audio_output_file = c[3]
            copy.video_input_file = c[4]
            copy.record_remote_video_file = c[5]
            copy.record_remote_audio_file = c[6]
            copy.video_codec = codec
            return try withUnsafePointer(to: &copy) { try body($0) }
        }
    }
}

/// Where and who to register as (`Engine.connect(server:)`).
public struct ServerConfig {
    /// "ws://host:port/ws".
    public var url: String
    public var appId: String
    /// The user's openid.
    public var userId: String
    /// From the app's token service (or `media-server token`).
    public var token: String
    /// Shown to people this user calls; nil: the user id.
    public var nickname: String?
    /// Offer only this IP as ICE host candidate; nil: every interface.
    public var hostIp: String?
    /// "host:port" of a STUN server for a server-reflexive candidate.
    public var stunServer: String?
    /// Reconnection attempts after the connection breaks (library default: 5).
    public var maxReconnects: UInt32?

    public init(url: String, appId: String, userId: String, token: String,
                nickname: String? = nil, hostIp: String? = nil,
                stunServer: String? = nil, maxReconnects: UInt32? = nil) {
        self.url = url
        self.appId = appId
        self.userId = userId
        self.token = token
        self.nickname = nickname
        self.hostIp = hostIp
        self.stunServer = stunServer
        self.maxReconnects = maxReconnects
    }

    func withRaw<R>(_ body: (UnsafePointer<media_server_config>) throws -> R) throws -> R {
        var raw = media_server_config()
        media_server_config_default(&raw)
        if let maxReconnects = maxReconnects {
            raw.max_reconnects = maxReconnects
        }
        let strings: [String?] = [url, appId, userId, nickname, token, hostIp, stunServer]
        return try withCStrings(strings) { (c: [UnsafePointer<CChar>?]) throws -> R in
            raw.url = c[0]
            raw.app_id = c[1]
            raw.user_id = c[2]
            raw.nickname = c[3]
            raw.token = c[4]
            raw.host_ip = c[5]
            raw.stun_server = c[6]
            return try withUnsafePointer(to: &raw) { try body($0) }
        }
    }
}

/// Calls `body` with C copies of `strings` (NULL for nil) that are freed
/// when it returns.
func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) throws -> R) throws -> R {
    var copies: [UnsafeMutablePointer<CChar>?] = []
    copies.reserveCapacity(strings.count)
    for string in strings {
        if let string = string {
            copies.append(strdup(string))
        } else {
            copies.append(nil)
        }
    }
    defer {
        for copy in copies {
            free(copy)
        }
    }
    return try body(copies.map { copy in copy.map { UnsafePointer($0) } })
}
