package org.libmedia

import java.nio.ByteBuffer

/**
 * Receives engine events. Called on the engine's "media-events" thread, one
 * event at a time, never on the thread that called into the engine: hand
 * work to your own thread (on Android, post to a Handler). It may call the
 * engine (start, stop, stats, mute) but not [MediaEngine.close]. An
 * exception it throws is logged and dropped; the engine goes on.
 */
fun interface EngineListener {
    fun onEvent(event: MediaEvent)
}

/**
 * Receives video frames (local preview and decoded remote video). Called on
 * the engine's "media-render" thread. If it is slower than the video the
 * engine drops (and counts) the oldest queued frames. Same rules as
 * [EngineListener].
 */
fun interface FrameListener {
    fun onFrame(frame: VideoFrame)
}

/**
 * An I420 frame lent by the engine for the duration of [FrameListener.onFrame].
 *
 * The planes are read-only direct [ByteBuffer]s over the engine's own
 * memory (no copy). **They are valid only during the callback**: reading
 * them after it returns reads freed memory and can crash the process. Keep
 * a frame with [copyI420] (or copy the planes) before returning.
 */
class VideoFrame internal constructor(
    val source: FrameSource?,
    val width: Int,
    val height: Int,
    /** `yStride * height` bytes. */
    val y: ByteBuffer,
    /** `uStride * ((height + 1) / 2)` bytes. */
    val u: ByteBuffer,
    val v: ByteBuffer,
    val yStride: Int,
    val uStride: Int,
    val vStride: Int,
    /** Capture time on the engine clock, microseconds since the engine was created. */
    val captureTimeUs: Long,
    /** For remote frames, the channel member's uid (0 in a 1v1 call); unsigned 32-bit. */
    val uid: Long,
) {
    /** The frame as one packed I420 array (Y, then U, then V, without stride padding). */
    fun copyI420(): ByteArray {
        val cw = (width + 1) / 2
        val ch = (height + 1) / 2
        val out = ByteArray(width * height + 2 * cw * ch)
        var at = 0
        fun plane(buf: ByteBuffer, stride: Int, w: Int, h: Int) {
            val b = buf.duplicate()
            for (row in 0 until h) {
                b.position(row * stride)
                b.get(out, at, w)
                at += w
            }
        }
        plane(y, yStride, width, height)
        plane(u, uStride, cw, ch)
        plane(v, vStride, cw, ch)
        return out
    }

    override fun toString(): String = "VideoFrame($source ${width}x$height t=${captureTimeUs}us uid=$uid)"
}
