package org.libmedia

import java.nio.ByteBuffer
import java.util.concurrent.atomic.AtomicLong

/**
 * An H.264 codec of the app's, used by the engine in place of the library's
 * own openh264 (`media_video_codec` in media.h): on Android, MediaCodec
 * (`org.libmedia.android.MediaCodecVideoCodec`), hardware that saves
 * battery and lets the app ship a library built without openh264. Set it
 * in [EngineConfig.videoCodec].
 *
 * Constrained baseline, Annex B byte streams. Encoders and decoders are made
 * on the thread that starts video (an app thread inside a [MediaEngine] call)
 * or on an engine thread, and used on engine threads (one send thread, one
 * receive thread per remote): [newEncoder] and [newDecoder] may run at the
 * same time on different threads, the calls on one encoder or decoder never
 * overlap.
 * Nothing here may call back into the [MediaEngine]. A method that throws
 * fails that call only (logged). An encoder's failures give one CODEC error
 * event per run, and after 3 in a row the engine closes it and makes a new
 * one; a decoder's failure makes the engine wait for (and ask for) the next
 * keyframe, and a decoder that fails on a keyframe is closed and replaced.
 * Decoders are made when a remote's first video arrives.
 */
interface VideoCodec {
    /** A new encoder whose first frame is an IDR, or null when none can be made. */
    fun newEncoder(settings: VideoEncoderSettings): VideoEncoder?

    /** A new decoder, or null when none can be made. */
    fun newDecoder(): VideoDecoder?
}

/** What an encoder is made for. A new size or frame rate gets a new encoder. */
data class VideoEncoderSettings(val width: Int, val height: Int, val fps: Int, val bitrateBps: Int)

/** I420 pictures in, H.264 access units out. Closed by the engine when it is done with it. */
interface VideoEncoder : AutoCloseable {
    /**
     * Encodes one I420 picture of the encoder's size ([y], [u], [v]: read-only
     * direct buffers over the engine's memory, valid ONLY during the call, rows
     * [yStride] / [uStride] / [vStride] bytes apart) into [out] (a direct
     * buffer over the engine's memory, at least twice the pixel count) as one
     * access unit of Annex B NAL units written from position 0. [keyframe]
     * asks for an IDR once per request (and on a new encoder's first call):
     * an encoder whose output comes a call or two later makes that one an
     * IDR. Returns the bytes written; 0 skips the frame (or has no output yet).
     */
    fun encode(
        y: ByteBuffer, u: ByteBuffer, v: ByteBuffer,
        yStride: Int, uStride: Int, vStride: Int,
        timestampUs: Long, keyframe: Boolean, out: ByteBuffer,
    ): Int

    /** Changes the target bitrate from the next frame (congestion control calls it). */
    fun setBitrate(bitrateBps: Int)
}

/**
 * A decoded picture: [planes] are direct buffers (Y, U, V for I420; Y and the
 * interleaved chroma for NV12 / NV21) that stay valid until the decoder's next
 * call, each at least `stride * rows` bytes. Each plane starts at its buffer's
 * start, whatever its position and limit: hand over `slice()`s.
 */
class DecodedPicture(
    val format: PixelFormat,
    val width: Int,
    val height: Int,
    val planes: List<ByteBuffer>,
    val strides: List<Int>,
)

/** H.264 access units in, pictures out. Closed by the engine when it is done with it. */
interface VideoDecoder : AutoCloseable {
    /** Decodes one access unit ([data]: read-only, valid only during the call); null: no picture yet. */
    fun decode(data: ByteBuffer): DecodedPicture?
}

/**
 * The shim's side of a [VideoCodec] (media_jni.c calls these on engine
 * threads): fixed signatures, results as codes, every throwable caught here
 * and logged, never thrown into native code.
 */
internal class CodecBridge(private val codec: VideoCodec) {
    /** Encoders and decoders made and not yet closed (tests read them). */
    val live = AtomicLong()

    private fun failed(what: String, t: Throwable) {
        System.err.println("libmedia: the app's video codec failed in $what: $t")
    }

    fun newEncoder(width: Int, height: Int, fps: Int, bitrateBps: Int): Any? = try {
        codec.newEncoder(VideoEncoderSettings(width, height, fps, bitrateBps))?.also { live.incrementAndGet() }
    } catch (t: Throwable) {
        failed("newEncoder", t)
        null
    }

    fun encode(
        encoder: Any, y: ByteBuffer, u: ByteBuffer, v: ByteBuffer,
        yStride: Int, uStride: Int, vStride: Int, timestampUs: Long, keyframe: Boolean, out: ByteBuffer,
    ): Int = try {
        val n = (encoder as VideoEncoder).encode(
            y.asReadOnlyBuffer(), u.asReadOnlyBuffer(), v.asReadOnlyBuffer(),
            yStride, uStride, vStride, timestampUs, keyframe, out,
        )
        if (n < 0 || n > out.capacity()) -1 else n
    } catch (t: Throwable) {
        failed("encode", t)
        -1
    }

    fun setBitrate(encoder: Any, bitrateBps: Int): Int = try {
        (encoder as VideoEncoder).setBitrate(bitrateBps)
        0
    } catch (t: Throwable) {
        failed("setBitrate", t)
        -1
    }

    fun newDecoder(): Any? = try {
        codec.newDecoder()?.also { live.incrementAndGet() }
    } catch (t: Throwable) {
        failed("newDecoder", t)
        null
    }

    /**
     * Decodes into [ints] (format, width, height, three strides) and [planes];
     * 1: a picture, 0: none yet, -1: failed.
     */
    fun decode(decoder: Any, data: ByteBuffer, ints: IntArray, planes: Array<ByteBuffer?>): Int = try {
        val p = (decoder as VideoDecoder).decode(data.asReadOnlyBuffer())
        when {
            p == null -> 0
            p.planes.size != p.strides.size || p.planes.size < 2 || p.planes.any { !it.isDirect } -> {
                failed("decode", IllegalStateException("a picture needs 2 or 3 direct planes with their strides"))
                -1
            }
            else -> {
                ints[0] = p.format.code
                ints[1] = p.width
                ints[2] = p.height
                for (i in 0 until 3) {
                    ints[3 + i] = p.strides.getOrElse(i) { 0 }
                    planes[i] = p.planes.getOrNull(i)
                }
                1
            }
        }
    } catch (t: Throwable) {
        failed("decode", t)
        -1
    }

    fun close(coder: Any) {
        try {
            (coder as AutoCloseable).close()
        } catch (t: Throwable) {
            failed("close", t)
        } finally {
            live.decrementAndGet()
        }
    }
}
