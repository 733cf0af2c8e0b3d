package org.libmedia.platform

import java.nio.ByteBuffer

/**
 * A camera owned by the host app (see DESIGN.md, "Mobile hosts"): the
 * engine has no Android camera backend, so the host captures (CameraX /
 * Camera2 in a later step) and pushes frames. No Android class appears
 * here, so this compiles and is tested on a desktop JVM.
 */
interface CameraSource {
    /**
     * Starts capturing at about [width] x [height] and [fps]; every frame
     * goes to [sink] on the camera's thread.
     */
    fun start(width: Int, height: Int, fps: Int, sink: FrameSink)

    /** Stops capturing. Idempotent. */
    fun stop()

    /** Receives captured frames. The frame's buffers are valid only during the call. */
    fun interface FrameSink {
        fun onFrame(frame: CapturedFrame)
    }
}

/** Pixel layouts a camera hands over. */
enum class PixelFormat {
    I420,
    NV12,
    NV21,
}

/**
 * One captured picture: [planes] (3 for I420, 2 for NV12 / NV21) with
 * their [strides], the [rotationDegrees] (0, 90, 180, 270) needed to show
 * it upright, and its capture time on the monotonic clock.
 */
class CapturedFrame(
    val format: PixelFormat,
    val width: Int,
    val height: Int,
    val planes: List<ByteBuffer>,
    val strides: IntArray,
    val rotationDegrees: Int,
    val timestampNs: Long,
)
