package org.libmedia

import java.nio.ByteBuffer

/**
 * The native methods of the JNI shim (`src/main/cpp/media_jni.c`, loaded as
 * `libmedia_jni.so`, which links `libmedia.so`). Engine methods return a
 * `media_result` code; [MediaEngine] turns codes into exceptions.
 */
internal object NativeLib {
    /** Sizes of the arrays exchanged with the shim: keep in step with media_jni.c. */
    const val CONFIG_FIELDS = 19
    const val STATS_FIELDS = 44
    const val COUNTER_FIELDS = 6

    init {
        // libmedia.so first: on Android the linker then finds it for
        // libmedia_jni.so's dependency; on the desktop the shim's rpath does.
        try {
            System.loadLibrary("media")
        } catch (e: UnsatisfiedLinkError) {
            // Not on the library path: libmedia_jni.so's own search decides.
        }
        System.loadLibrary("media_jni")
    }

    @JvmStatic external fun version(): String
    @JvmStatic external fun resultString(code: Int): String
    @JvmStatic external fun lastErrorMessage(): ByteArray

    @JvmStatic external fun engineNew(fake: Boolean, fields: LongArray, codec: CodecBridge?, out: LongArray): Int
    @JvmStatic external fun engineFree(handle: Long)
    @JvmStatic external fun setEventSink(handle: Long, sink: EventDispatcher?): Int
    @JvmStatic external fun setFrameSink(handle: Long, sink: FrameDispatcher?): Int
    @JvmStatic external fun startEchoTest(handle: Long): Int
    @JvmStatic external fun stopEchoTest(handle: Long): Int
    @JvmStatic external fun startLocalPreview(handle: Long): Int
    @JvmStatic external fun stopLocalPreview(handle: Long): Int
    @JvmStatic external fun startLocalAudio(handle: Long): Int
    @JvmStatic external fun stopLocalAudio(handle: Long): Int
    @JvmStatic external fun muteLocalAudio(handle: Long, muted: Boolean): Int
    @JvmStatic external fun muteLocalVideo(handle: Long, muted: Boolean): Int
    @JvmStatic external fun setVideoBitrate(handle: Long, bps: Long): Int
    @JvmStatic external fun getStats(handle: Long, out: LongArray): Int
    @JvmStatic external fun debugCounters(): LongArray
    @JvmStatic external fun pushVideoFrame(
        handle: Long, format: Int, width: Int, height: Int,
        p0: java.nio.ByteBuffer, s0: Int, p1: java.nio.ByteBuffer, s1: Int, p2: java.nio.ByteBuffer?, s2: Int,
        rotation: Int, timestampUs: Long,
    ): Int
    @JvmStatic external fun pushAudio(handle: Long, pcm: ShortArray, offset: Int, count: Int): Int
    @JvmStatic external fun pullAudio(handle: Long, pcm: ShortArray, offset: Int, count: Int): Int
    @JvmStatic external fun connectServer(
        handle: Long, url: ByteArray, appId: ByteArray, userId: ByteArray, nickname: ByteArray?,
        token: ByteArray, hostIp: ByteArray?,
    ): Int
    @JvmStatic external fun disconnectServer(handle: Long): Int
    @JvmStatic external fun call(handle: Long, userId: ByteArray, video: Boolean, out: Array<ByteArray?>): Int
    @JvmStatic external fun accept(handle: Long, callId: ByteArray): Int
    @JvmStatic external fun hangup(handle: Long): Int
    @JvmStatic external fun localServerStart(listen: ByteArray, appId: ByteArray, secret: ByteArray, out: LongArray): Int
    @JvmStatic external fun localServerUrl(server: Long): ByteArray?
    @JvmStatic external fun localServerToken(server: Long, userId: ByteArray, ttlSeconds: Int): ByteArray?
    @JvmStatic external fun localServerFree(server: Long)
    @JvmStatic external fun interruptAudio(handle: Long): Int
    @JvmStatic external fun resumeAudio(handle: Long): Int
    @JvmStatic external fun setBackground(handle: Long, background: Boolean): Int
    @JvmStatic external fun joinChannel(handle: Long, channel: ByteArray, uid: Long, audience: Boolean): Int
    @JvmStatic external fun leaveChannel(handle: Long, channel: ByteArray): Int
    @JvmStatic external fun setLogSink(maxLevel: Int, sink: LogDispatcher?): Int
}

/** Marks the threads that are inside a listener, so close() can refuse there. */
internal object CallbackScope {
    private val depth = ThreadLocal.withInitial { 0 }

    val active: Boolean get() = depth.get() > 0

    inline fun run(block: () -> Unit) {
        enter()
        try {
            block()
        } finally {
            leave()
        }
    }

    fun enter() = depth.set(depth.get() + 1)
    fun leave() = depth.set(depth.get() - 1)
}

private fun utf8(bytes: ByteArray?): String? = bytes?.toString(Charsets.UTF_8)

/** Held by the shim as a global reference; turns raw event fields into a [MediaEvent]. */
internal class EventDispatcher(private val listener: EngineListener) {
    /** Called from native code (media_jni.c, on_event). Signature: (I[I[B[B[B[B[B[B[JJ)V. */
    fun onNativeEvent(
        type: Int,
        f: IntArray,
        message: ByteArray?,
        callId: ByteArray?,
        userId: ByteArray?,
        nickname: ByteArray?,
        channel: ByteArray?,
        code: ByteArray?,
        stats: LongArray?,
        expiresAt: Long,
    ) {
        val event = MediaEvent(
            typeCode = type,
            type = codeToEnum<EventType>(type),
            stream = codeToEnum<Stream>(f[0]),
            state = codeToEnum<StreamState>(f[1]),
            error = MediaResult.fromCode(f[2]),
            message = utf8(message),
            width = f[3],
            height = f[4],
            connection = f[5],
            stats = stats?.let { MediaStats.fromNative(it) },
            serverState = f[6],
            call = f[7],
            endReason = f[8],
            channelEvent = f[9],
            callId = utf8(callId),
            userId = utf8(userId),
            nickname = utf8(nickname),
            channel = utf8(channel),
            code = utf8(code),
            uid = f[10].toLong() and 0xffff_ffffL,
            video = f[11] != 0,
            dropped = f[12] != 0,
            expiresAt = expiresAt,
            txQuality = f[13],
            rxQuality = f[14],
            audioMuted = f[15] != 0,
            videoMuted = f[16] != 0,
        )
        CallbackScope.run { listener.onEvent(event) }
    }
}

/** Held by the shim as a global reference; wraps the planes into a [VideoFrame]. */
internal class FrameDispatcher(private val listener: FrameListener) {
    /** Called from native code (media_jni.c, on_frame). */
    fun onNativeFrame(
        source: Int,
        width: Int,
        height: Int,
        y: ByteBuffer,
        u: ByteBuffer,
        v: ByteBuffer,
        yStride: Int,
        uStride: Int,
        vStride: Int,
        captureTimeUs: Long,
        uid: Int,
    ) {
        val frame = VideoFrame(
            codeToEnum<FrameSource>(source), width, height,
            y.asReadOnlyBuffer(), u.asReadOnlyBuffer(), v.asReadOnlyBuffer(),
            yStride, uStride, vStride, captureTimeUs, uid.toLong() and 0xffff_ffffL,
        )
        CallbackScope.run { listener.onFrame(frame) }
    }
}
