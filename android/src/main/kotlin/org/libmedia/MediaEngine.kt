package org.libmedia

import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/**
 * A libmedia engine (`media_engine *`). Create it, set listeners, start
 * streams; [close] it when done (it stops everything and frees the native
 * handle). Any call after [close] throws [IllegalStateException]; failures
 * of the library throw [MediaException] with the `media_result` code.
 *
 * ```
 * MediaEngine(EngineConfig.fake()).use { engine ->
 *     engine.setEventListener { e -> Log.i("media", "$e") }
 *     engine.setFrameListener { f -> renderer.draw(f.copyI420(), f.width, f.height) }
 *     engine.startEchoTest()
 *     ...
 * }
 * ```
 *
 * Thread safety: every method may be called from any thread, also from
 * inside a listener, except [close] (the engine joins the listener's own
 * thread while closing, so [close] there throws [IllegalStateException]).
 * [close] waits for calls already running on other threads to return.
 */
class MediaEngine(config: EngineConfig = EngineConfig()) : AutoCloseable {
    private val lock = ReentrantLock()
    private val idle = lock.newCondition() // signalled when inFlight drops to 0
    private var handle: Long = 0 // guarded by lock
    private var inFlight = 0 // guarded by lock
    private var closed = false // guarded by lock

    /** The app's video codec as the shim calls it, if [EngineConfig.videoCodec] is set. */
    internal val codecBridge: CodecBridge? = config.videoCodec?.let { CodecBridge(it) }

    init {
        val out = LongArray(1)
        throwOnError(NativeLib.engineNew(config.devices == Devices.FAKE, config.toNativeFields(), codecBridge, out))
        handle = out[0]
    }

    /** True once [close] has started. */
    val isClosed: Boolean get() = lock.withLock { closed }

    /** Starts the echo test: microphone to speaker, camera to the frame listener's remote frames. */
    fun startEchoTest() = call { NativeLib.startEchoTest(it) }
    fun stopEchoTest() = call { NativeLib.stopEchoTest(it) }

    /** Opens the camera; local frames reach the frame listener. [MediaResult.NO_DEVICE] without a camera. */
    fun startLocalPreview() = call { NativeLib.startLocalPreview(it) }
    fun stopLocalPreview() = call { NativeLib.stopLocalPreview(it) }
    fun startLocalAudio() = call { NativeLib.startLocalAudio(it) }
    fun stopLocalAudio() = call { NativeLib.stopLocalAudio(it) }

    /** Sends silence instead of the microphone while [muted]. */
    fun muteLocalAudio(muted: Boolean) = call { NativeLib.muteLocalAudio(it, muted) }

    /** Stops or resumes sending video; the preview goes on. */
    fun muteLocalVideo(muted: Boolean) = call { NativeLib.muteLocalVideo(it, muted) }

    /** [MediaResult.INVALID_ARGUMENT] outside the configured min / max. */
    fun setVideoBitrate(bps: Long) = call { NativeLib.setVideoBitrate(it, bps) }

    /**
     * Hands a frame the app captured to the engine ([VideoInput.EXTERNAL]):
     * planes as direct ByteBuffers (CameraX `ImageProxy` planes), each with
     * its row stride; [v] only for [PixelFormat.I420]. [rotation] (0, 90,
     * 180, 270) turns it upright; [timestampUs] is the capture time on any
     * monotonic clock (0: now). Read only during the call.
     */
    fun pushVideoFrame(
        format: PixelFormat, width: Int, height: Int,
        y: java.nio.ByteBuffer, yStride: Int,
        uv: java.nio.ByteBuffer, uvStride: Int,
        v: java.nio.ByteBuffer? = null, vStride: Int = 0,
        rotation: Int = 0, timestampUs: Long = 0,
    ) = call {
        NativeLib.pushVideoFrame(it, format.code, width, height, y, yStride, uv, uvStride, v, vStride, rotation, timestampUs)
    }

    /**
     * Hands the microphone's PCM to the engine ([AudioInput.EXTERNAL]):
     * [count] interleaved samples from [offset], a whole number of frames
     * at [EngineConfig.audioInputSampleRate] and channels. Call it from the
     * thread reading `AudioRecord`; it copies and returns without waiting
     * on the engine's threads.
     */
    fun pushAudio(pcm: ShortArray, offset: Int = 0, count: Int = pcm.size - offset) =
        call { NativeLib.pushAudio(it, pcm, offset, count) }

    /**
     * Fills [count] samples of [pcm] from [offset] with the next PCM for
     * the speaker ([AudioOutput.EXTERNAL]); what is not decoded yet is
     * silence. Returns how many frames were real audio. Call it from the
     * thread writing `AudioTrack`: its pace is the playout clock.
     */
    fun pullAudio(pcm: ShortArray, offset: Int = 0, count: Int = pcm.size - offset): Int {
        var frames = 0
        call {
            val r = NativeLib.pullAudio(it, pcm, offset, count)
            frames = maxOf(r, 0)
            if (r < 0) -r else 0
        }
        return frames
    }

    /** Connects to the rendezvous server and registers; [EventType.SERVER] events follow. */
    fun connectServer(config: ServerConfig) = call {
        NativeLib.connectServer(
            it, config.url.utf8(), config.appId.utf8(), config.userId.utf8(), config.nickname?.utf8(),
            config.token.utf8(), config.hostIp?.utf8(),
        )
    }

    /** Leaves the server, ending any call. */
    fun disconnectServer() = call { NativeLib.disconnectServer(it) }

    /**
     * Rings [userId] (audio only unless [video]); returns the call id.
     * The outcome arrives as [EventType.CALL] events: accepted, or ended
     * with busy / offline / rejected / no answer.
     */
    fun call(userId: String, video: Boolean): String {
        val out = arrayOfNulls<ByteArray>(1)
        call { NativeLib.call(it, userId.utf8(), video, out) }
        return out[0]?.toString(Charsets.UTF_8) ?: throw MediaException(MediaResult.INTERNAL, "no call id")
    }

    /** Accepts the incoming call [callId] (from its INCOMING event). */
    fun accept(callId: String) = call { NativeLib.accept(it, callId.utf8()) }

    /** Ends the current call. */
    fun hangup() = call { NativeLib.hangup(it) }

    /**
     * Joins [channel] as [uid] (0: the server assigns one, reported in the
     * JOINED channel event); [audience] members receive only. Members
     * joining and leaving (or dropping) arrive as [EventType.CHANNEL] events.
     */
    fun joinChannel(channel: String, uid: Long = 0, audience: Boolean = false) =
        call { NativeLib.joinChannel(it, channel.utf8(), uid, audience) }

    fun leaveChannel(channel: String) = call { NativeLib.leaveChannel(it, channel.utf8()) }

    /**
     * The platform took the audio devices (a phone call, losing audio
     * focus): microphone and speaker are released, the call goes on.
     * [resumeAudio] opens them again.
     */
    fun interruptAudio() = call { NativeLib.interruptAudio(it) }
    fun resumeAudio() = call { NativeLib.resumeAudio(it) }

    /** The app went to the background (true) or came back: video sending pauses, audio goes on. */
    fun setBackground(background: Boolean) = call { NativeLib.setBackground(it, background) }

    /** A statistics snapshot. */
    fun stats(): MediaStats {
        val values = LongArray(NativeLib.STATS_FIELDS)
        call { NativeLib.getStats(it, values) }
        return MediaStats.fromNative(values)
    }

    /**
     * Sets (null clears) the event listener; it runs on the engine's
     * "media-events" thread. A replaced listener may still see events that
     * were already on their way.
     */
    fun setEventListener(listener: EngineListener?) =
        call { NativeLib.setEventSink(it, listener?.let(::EventDispatcher)) }

    /** Sets (null clears) the frame listener; it runs on the engine's "media-render" thread. */
    fun setFrameListener(listener: FrameListener?) =
        call { NativeLib.setFrameSink(it, listener?.let(::FrameDispatcher)) }

    /**
     * Stops everything, joins the engine's threads and frees the handle.
     * Idempotent. Throws [IllegalStateException] inside a listener.
     */
    override fun close() {
        check(!CallbackScope.active) { "MediaEngine.close() inside a listener: call it from another thread" }
        val h = lock.withLock {
            if (closed) return
            closed = true
            while (inFlight > 0) idle.awaitUninterruptibly()
            handle.also { handle = 0 }
        }
        NativeLib.engineFree(h)
    }

    private inline fun call(op: (Long) -> Int) {
        val h = lock.withLock {
            check(!closed) { "MediaEngine is closed" }
            inFlight++
            handle
        }
        try {
            throwOnError(op(h))
        } finally {
            lock.withLock {
                if (--inFlight == 0) idle.signalAll()
            }
        }
    }

    companion object {
        /** The library version, e.g. "0.1.0". */
        @JvmStatic
        val version: String get() = NativeLib.version()

        /** What the shim holds right now: for leak checks in tests and debug builds. */
        @JvmStatic
        fun shimCounters(): ShimCounters = ShimCounters.fromNative(NativeLib.debugCounters())

        /** Throws [MediaException] for a code other than OK, with the calling thread's error detail. */
        internal fun throwOnError(code: Int) {
            if (code == MediaResult.OK.code) return
            val detail = NativeLib.lastErrorMessage().toString(Charsets.UTF_8)
            val result = MediaResult.fromCode(code)
                ?: throw MediaException(MediaResult.INTERNAL, "unknown media_result $code: $detail")
            throw MediaException(result, detail)
        }
    }
}

/** Counters of the JNI shim (media_jni.c), process-wide. */
data class ShimCounters(
    /** Global references the shim holds (two cached classes plus one per listener set). */
    val globalRefs: Long,
    /** Engine threads the shim attached to the JVM and that have not exited yet. */
    val attachedThreads: Long,
    /** Exceptions thrown by listeners, caught and logged by the shim. */
    val callbackExceptions: Long,
    /** Engines created and not yet closed. */
    val liveEngines: Long,
    val eventsDelivered: Long,
    val framesDelivered: Long,
) {
    internal companion object {
        fun fromNative(v: LongArray): ShimCounters {
            require(v.size == NativeLib.COUNTER_FIELDS)
            return ShimCounters(v[0], v[1], v[2], v[3], v[4], v[5])
        }
    }
}
