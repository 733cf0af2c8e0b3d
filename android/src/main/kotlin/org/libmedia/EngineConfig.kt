package org.libmedia

/** Which devices the engine starts from (see [EngineConfig]). */
enum class Devices {
    /** The system's microphone, speaker and first camera (`media_engine_config_default`). */
    SYSTEM,

    /** A 440 Hz tone, a null speaker and the moving test pattern (`media_engine_config_fake`). */
    FAKE,
}

/** `media_audio_input` values this wrapper can select (the rest need paths or ids). */
enum class AudioInput(override val code: Int) : CodedEnum {
    /** The system's default microphone. */
    DEFAULT(0),

    /** A sine tone. */
    TONE(2),
    SILENCE(4),

    /** 16-bit PCM the app pushes with [MediaEngine.pushAudio] (AudioRecord, VOICE_COMMUNICATION). */
    EXTERNAL(5),
}

/** `media_audio_output` values this wrapper can select. */
enum class AudioOutput(override val code: Int) : CodedEnum {
    /** The system's default speaker. */
    DEFAULT(0),

    /** Played into nothing, in real time. */
    NULL(3),

    /** 16-bit PCM the app pulls with [MediaEngine.pullAudio] (AudioTrack). */
    EXTERNAL(4),
}

/** `media_video_input` values this wrapper can select. */
enum class VideoInput(override val code: Int) : CodedEnum {
    /** Camera number [EngineConfig.cameraIndex]. */
    CAMERA(0),

    /** A moving test pattern that carries its frame number. */
    TEST_PATTERN(1),

    /** Frames the app pushes with [MediaEngine.pushVideoFrame] (CameraX). */
    EXTERNAL(3),
}

/** `media_pixel_format` values for [MediaEngine.pushVideoFrame]. */
enum class PixelFormat(override val code: Int) : CodedEnum {
    /** Three planes: Y, U, V. */
    I420(0),

    /** Y, then interleaved U/V (`YUV_420_888` with pixel stride 2). */
    NV12(1),

    /** Y, then interleaved V/U (`ImageFormat.NV21`). */
    NV21(2),
}

/** How much delay the receiver may add to show remote video without freezes (`media_video_delay`). */
enum class VideoDelay(override val code: Int) : CodedEnum {
    /** Up to 400 ms: covers 95 % of frames' lateness in full and the rest to within a 100 ms hitch, no freeze (the default). */
    BALANCED(0),

    /** Frames are shown as soon as they are decoded. */
    IMMEDIATE(1),

    /** Up to 100 ms, covering 95 %. */
    LOW_LATENCY(2),

    /** Up to 1 s, covering every frame of the last 10 s. */
    SMOOTH(3),
}

/**
 * Which stages clean the microphone's audio (`media_voice_processing`).
 * [AUTO], the default, runs all but gain control for the system microphone and none
 * for tone, file and pushed audio (an app pushing `VOICE_COMMUNICATION`
 * audio has the platform's echo canceller already).
 */
class VoiceProcessing private constructor(internal val code: Int) {
    companion object {
        val AUTO = VoiceProcessing(0x100)
        val OFF = VoiceProcessing(0)
        val ALL = stages(echoCancellation = true, noiseSuppression = true, gainControl = true, highPass = true)

        /** Exactly these stages. */
        fun stages(
            echoCancellation: Boolean = false,
            noiseSuppression: Boolean = false,
            gainControl: Boolean = false,
            highPass: Boolean = false,
        ): VoiceProcessing = VoiceProcessing(
            (if (echoCancellation) 1 else 0) or (if (noiseSuppression) 2 else 0) or
                (if (gainControl) 4 else 0) or (if (highPass) 8 else 0),
        )
    }

    override fun equals(other: Any?): Boolean = other is VoiceProcessing && other.code == code
    override fun hashCode(): Int = code
    override fun toString(): String = "VoiceProcessing(0x${code.toString(16)})"
}

/**
 * Engine settings. Every field left null keeps the value of the base
 * configuration chosen by [devices], so the library stays the one place
 * that defines defaults (640x360 at 30 fps, 800 kbit/s today). Values are
 * checked by the library when the engine is created: out of range gives a
 * [MediaException] with [MediaResult.INVALID_ARGUMENT].
 */
data class EngineConfig(
    val devices: Devices = Devices.SYSTEM,
    val audioInput: AudioInput? = null,
    val audioOutput: AudioOutput? = null,
    val videoInput: VideoInput? = null,
    val cameraIndex: Int? = null,
    /** Even, non-zero. */
    val videoWidth: Int? = null,
    val videoHeight: Int? = null,
    /** 1..120. */
    val videoFps: Int? = null,
    /** Start bitrate, within [videoMinBitrateBps]..[videoMaxBitrateBps]. */
    val videoBitrateBps: Int? = null,
    val videoMinBitrateBps: Int? = null,
    val videoMaxBitrateBps: Int? = null,
    val audioBitrateBps: Int? = null,
    /** Period of [EventType.STATS] events; 0 turns them off, else 100..3,600,000. */
    val statsIntervalMs: Int? = null,
    /** [AudioInput.EXTERNAL]: the pushed PCM's rate (8000..48000) and channels (1 or 2). */
    val audioInputSampleRate: Int? = null,
    val audioInputChannels: Int? = null,
    /** [AudioOutput.EXTERNAL]: the pulled PCM's rate and channels. */
    val audioOutputSampleRate: Int? = null,
    val audioOutputChannels: Int? = null,
    /** Echo cancellation, noise suppression, gain control, high-pass; null keeps [VoiceProcessing.AUTO]. */
    val voiceProcessing: VoiceProcessing? = null,
    /** Null keeps [VideoDelay.BALANCED]. */
    val videoDelay: VideoDelay? = null,
    /**
     * Lip sync: delay a remote's audio while it plays more than 20 ms ahead of its video
     * (or the video while the audio is more than 80 ms behind). Null keeps it off; the
     * offset is measured either way ([MediaStats.avSyncOffsetUs]).
     */
    val lipSync: Boolean? = null,
    /**
     * The app's H.264 codec (MediaCodec) in place of the library's openh264;
     * null uses openh264. A library built without openh264 needs one for video.
     */
    val videoCodec: VideoCodec? = null,
) {
    companion object {
        /** Synthetic devices: runs anywhere, no permission or hardware needed. */
        fun fake(): EngineConfig = EngineConfig(devices = Devices.FAKE)
    }

    /** The values in the shim's order (media_jni.c, CONFIG_FIELDS); -1 keeps the base value. */
    internal fun toNativeFields(): LongArray {
        val named = listOf(
            "audioInput" to audioInput?.code,
            "audioOutput" to audioOutput?.code,
            "videoInput" to videoInput?.code,
            "cameraIndex" to cameraIndex,
            "videoWidth" to videoWidth,
            "videoHeight" to videoHeight,
            "videoFps" to videoFps,
            "videoBitrateBps" to videoBitrateBps,
            "videoMinBitrateBps" to videoMinBitrateBps,
            "videoMaxBitrateBps" to videoMaxBitrateBps,
            "audioBitrateBps" to audioBitrateBps,
            "statsIntervalMs" to statsIntervalMs,
            "audioInputSampleRate" to audioInputSampleRate,
            "audioInputChannels" to audioInputChannels,
            "audioOutputSampleRate" to audioOutputSampleRate,
            "audioOutputChannels" to audioOutputChannels,
            "voiceProcessing" to voiceProcessing?.code,
            "videoDelay" to videoDelay?.code,
            "lipSync" to lipSync?.let { if (it) 1 else 0 },
        )
        check(named.size == NativeLib.CONFIG_FIELDS)
        return LongArray(named.size) { i ->
            val (name, value) = named[i]
            when {
                value == null -> -1L
                value < 0 -> throw MediaException(MediaResult.INVALID_ARGUMENT, "$name $value is negative")
                else -> value.toLong()
            }
        }
    }
}
