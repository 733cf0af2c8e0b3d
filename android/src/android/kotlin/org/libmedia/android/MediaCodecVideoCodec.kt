package org.libmedia.android

import android.media.Image
import android.media.MediaCodec
import android.media.MediaCodecInfo
import android.media.MediaFormat
import android.os.Build
import android.os.Bundle
import android.util.Log
import org.libmedia.DecodedPicture
import org.libmedia.PixelFormat
import org.libmedia.VideoCodec
import org.libmedia.VideoDecoder
import org.libmedia.VideoEncoder
import org.libmedia.VideoEncoderSettings
import java.nio.ByteBuffer

/**
 * The phone's H.264 codec (MediaCodec, usually hardware) as the engine's
 * video codec: set `EngineConfig(videoCodec = MediaCodecVideoCodec())`. With
 * it the app can ship a libmedia built without openh264
 * (`MEDIA_PLATFORM_CODEC=1 android/scripts/build-ndk.sh`, about 1.1 MB less).
 *
 * Synchronous MediaCodec: each call queues one picture or access unit and
 * waits a short while for the output. A hardware encoder that holds a frame
 * longer hands it out with the next call (the engine sends what it gets);
 * a decoder likewise. Pictures are copied through `Image`, so every
 * YUV_420_888 layout (planar or semi-planar, padded rows) works.
 *
 * Written against the Android API (21+, with newer keys where the device
 * has them); not compiled where it was written (no Android SDK there).
 */
class MediaCodecVideoCodec : VideoCodec {
    override fun newEncoder(settings: VideoEncoderSettings): VideoEncoder? = try {
        MediaCodecEncoder(settings)
    } catch (e: Exception) {
        Log.w(TAG, "no H.264 encoder for $settings", e)
        null
    }

    override fun newDecoder(): VideoDecoder? = try {
        MediaCodecDecoder()
    } catch (e: Exception) {
        Log.w(TAG, "no H.264 decoder", e)
        null
    }

    private companion object {
        const val TAG = "libmedia"
        const val MIME = MediaFormat.MIMETYPE_VIDEO_AVC
        const val INPUT_WAIT_US = 10_000L
        const val OUTPUT_WAIT_US = 20_000L
    }

    private class MediaCodecEncoder(private val settings: VideoEncoderSettings) : VideoEncoder {
        private val codec = MediaCodec.createEncoderByType(MIME)
        private val info = MediaCodec.BufferInfo()

        /** SPS and PPS from the codec-config output, put before every IDR that lacks them. */
        private var parameterSets = ByteArray(0)

        init {
            try {
                val caps = codec.codecInfo.getCapabilitiesForType(MIME)
                val format = MediaFormat.createVideoFormat(MIME, settings.width, settings.height).apply {
                    setInteger(MediaFormat.KEY_COLOR_FORMAT, MediaCodecInfo.CodecCapabilities.COLOR_FormatYUV420Flexible)
                    setInteger(MediaFormat.KEY_BIT_RATE, settings.bitrateBps)
                    setInteger(MediaFormat.KEY_FRAME_RATE, settings.fps)
                    // IDRs only when the engine asks (an hour is "never" for a call).
                    setInteger(MediaFormat.KEY_I_FRAME_INTERVAL, 3600)
                    val cbr = MediaCodecInfo.EncoderCapabilities.BITRATE_MODE_CBR
                    if (caps.encoderCapabilities?.isBitrateModeSupported(cbr) == true) {
                        setInteger(MediaFormat.KEY_BITRATE_MODE, cbr)
                    }
                    // Constrained baseline where the encoder names it; else
                    // baseline, which such encoders produce without B-slices
                    // anyway. The level is the encoder's choice for the size.
                    val constrained = MediaCodecInfo.CodecProfileLevel.AVCProfileConstrainedBaseline
                    val profile = if (Build.VERSION.SDK_INT >= 27 && caps.profileLevels.any { it.profile == constrained }) {
                        constrained
                    } else {
                        MediaCodecInfo.CodecProfileLevel.AVCProfileBaseline
                    }
                    setInteger(MediaFormat.KEY_PROFILE, profile)
                    if (Build.VERSION.SDK_INT >= 26) setInteger(MediaFormat.KEY_LATENCY, 1)
                }
                // Parameter sets before every IDR where the encoder offers it
                // (some refuse the key at configure: then they are kept from
                // the codec-config output and put there by this class).
                if (Build.VERSION.SDK_INT >= 29) {
                    format.setInteger(MediaFormat.KEY_PREPEND_HEADER_TO_SYNC_FRAMES, 1)
                    try {
                        codec.configure(format, null, null, MediaCodec.CONFIGURE_FLAG_ENCODE)
                    } catch (e: Exception) {
                        codec.reset()
                        format.removeKey(MediaFormat.KEY_PREPEND_HEADER_TO_SYNC_FRAMES)
                        codec.configure(format, null, null, MediaCodec.CONFIGURE_FLAG_ENCODE)
                    }
                } else {
                    codec.configure(format, null, null, MediaCodec.CONFIGURE_FLAG_ENCODE)
                }
                codec.start()
            } catch (e: Exception) {
                codec.release()
                throw e
            }
        }

        override fun encode(
            y: ByteBuffer, u: ByteBuffer, v: ByteBuffer,
            yStride: Int, uStride: Int, vStride: Int,
            timestampUs: Long, keyframe: Boolean, out: ByteBuffer,
        ): Int {
            if (keyframe) {
                codec.setParameters(Bundle().apply { putInt(MediaCodec.PARAMETER_KEY_REQUEST_SYNC_FRAME, 0) })
            }
            val input = codec.dequeueInputBuffer(INPUT_WAIT_US)
            if (input >= 0) {
                val w = settings.width
                val h = settings.height
                try {
                    val image = codec.getInputImage(input) ?: error("encoder gave no input image")
                    copyIn(y, yStride, image.planes[0], w, h)
                    copyIn(u, uStride, image.planes[1], w / 2, h / 2)
                    copyIn(v, vStride, image.planes[2], w / 2, h / 2)
                } catch (e: Exception) {
                    // The slot goes back empty, or the encoder runs out of them.
                    codec.queueInputBuffer(input, 0, 0, timestampUs, 0)
                    throw e
                }
                codec.queueInputBuffer(input, 0, w * h * 3 / 2, timestampUs, 0)
            }
            // Whatever output is ready: one access unit (parameter sets are kept).
            while (true) {
                val index = codec.dequeueOutputBuffer(info, OUTPUT_WAIT_US)
                if (index == MediaCodec.INFO_OUTPUT_FORMAT_CHANGED) continue
                if (index < 0) return 0
                val data = codec.getOutputBuffer(index) ?: error("encoder gave no output buffer")
                data.position(info.offset).limit(info.offset + info.size)
                try {
                    if (info.flags and MediaCodec.BUFFER_FLAG_CODEC_CONFIG != 0) {
                        parameterSets = ByteArray(info.size).also { data.get(it) }
                        continue
                    }
                    out.clear()
                    val sync = info.flags and MediaCodec.BUFFER_FLAG_KEY_FRAME != 0
                    if (sync && !startsWithSps(data)) out.put(parameterSets)
                    out.put(data)
                    return out.position()
                } finally {
                    codec.releaseOutputBuffer(index, false)
                }
            }
        }

        /** Whether an Annex B access unit opens with a sequence parameter set. */
        private fun startsWithSps(data: ByteBuffer): Boolean {
            val at = data.position()
            for (i in at until minOf(data.limit() - 3, at + 8)) {
                if (data.get(i).toInt() == 0 && data.get(i + 1).toInt() == 0 && data.get(i + 2).toInt() == 1) {
                    return data.get(i + 3).toInt() and 0x1f == 7
                }
            }
            return false
        }

        override fun setBitrate(bitrateBps: Int) {
            codec.setParameters(Bundle().apply { putInt(MediaCodec.PARAMETER_KEY_VIDEO_BITRATE, bitrateBps) })
        }

        override fun close() {
            try {
                codec.stop()
            } finally {
                codec.release()
            }
        }

        /** Copies [rows] rows of [width] samples into an image plane of any pixel and row stride. */
        private fun copyIn(src: ByteBuffer, srcStride: Int, plane: Image.Plane, width: Int, rows: Int) {
            val dst = plane.buffer
            val pixel = plane.pixelStride
            val row = ByteArray(width)
            for (r in 0 until rows) {
                src.position(r * srcStride)
                src.get(row)
                val base = r * plane.rowStride
                if (pixel == 1) {
                    dst.position(base)
                    dst.put(row)
                } else {
                    for (c in 0 until width) dst.put(base + c * pixel, row[c])
                }
            }
        }
    }

    private class MediaCodecDecoder : VideoDecoder {
        private val codec = MediaCodec.createDecoderByType(MIME)
        private val info = MediaCodec.BufferInfo()
        private var picture: ByteBuffer = ByteBuffer.allocateDirect(0)
        private var queued = 0L

        init {
            // The size is a hint: the stream's parameter sets decide. The
            // input buffers must hold the largest IDR (up to 1080p here).
            val format = MediaFormat.createVideoFormat(MIME, 640, 360)
            format.setInteger(MediaFormat.KEY_MAX_INPUT_SIZE, 1920 * 1088 * 3 / 2)
            if (Build.VERSION.SDK_INT >= 30) format.setInteger(MediaFormat.KEY_LOW_LATENCY, 1)
            try {
                codec.configure(format, null, null, 0)
                codec.start()
            } catch (e: Exception) {
                codec.release()
                throw e
            }
        }

        override fun decode(data: ByteBuffer): DecodedPicture? {
            val input = codec.dequeueInputBuffer(INPUT_WAIT_US)
            if (input < 0) error("decoder has no free input buffer")
            // Presentation times only need to increase: one per access unit.
            val time = queued++ * 33_333
            val size = data.remaining()
            try {
                val buffer = codec.getInputBuffer(input) ?: error("decoder gave no input buffer")
                buffer.clear()
                if (buffer.remaining() < size) error("access unit of $size bytes exceeds the input buffer")
                buffer.put(data)
            } catch (e: Exception) {
                // The slot goes back empty, or the decoder runs out of them.
                codec.queueInputBuffer(input, 0, 0, time, 0)
                throw e
            }
            codec.queueInputBuffer(input, 0, size, time, 0)
            while (true) {
                val index = codec.dequeueOutputBuffer(info, OUTPUT_WAIT_US)
                if (index == MediaCodec.INFO_OUTPUT_FORMAT_CHANGED) continue
                if (index < 0) return null
                try {
                    val image = codec.getOutputImage(index) ?: return null
                    return image.use { toI420(it) }
                } finally {
                    codec.releaseOutputBuffer(index, false)
                }
            }
        }

        override fun close() {
            try {
                codec.stop()
            } finally {
                codec.release()
            }
        }

        /** The picture as tight I420 in this decoder's own buffer (valid until the next call). */
        private fun toI420(image: Image): DecodedPicture {
            val w = image.cropRect.width() and 1.inv()
            val h = image.cropRect.height() and 1.inv()
            val ySize = w * h
            val cSize = ySize / 4
            if (picture.capacity() < ySize + 2 * cSize) picture = ByteBuffer.allocateDirect(ySize + 2 * cSize)
            val left = image.cropRect.left
            val top = image.cropRect.top
            val out = ByteArray(w)
            fun copyOut(plane: Image.Plane, at: Int, width: Int, rows: Int, x0: Int, y0: Int) {
                val src = plane.buffer
                for (r in 0 until rows) {
                    val base = (y0 + r) * plane.rowStride + x0 * plane.pixelStride
                    for (c in 0 until width) out[c] = src.get(base + c * plane.pixelStride)
                    picture.position(at + r * width)
                    picture.put(out, 0, width)
                }
            }
            copyOut(image.planes[0], 0, w, h, left, top)
            copyOut(image.planes[1], ySize, w / 2, h / 2, left / 2, top / 2)
            copyOut(image.planes[2], ySize + cSize, w / 2, h / 2, left / 2, top / 2)
            fun slice(from: Int, len: Int): ByteBuffer {
                val d = picture.duplicate()
                d.position(from)
                d.limit(from + len)
                return d.slice()
            }
            return DecodedPicture(
                PixelFormat.I420, w, h,
                listOf(slice(0, ySize), slice(ySize, cSize), slice(ySize + cSize, cSize)),
                listOf(w, w / 2, w / 2),
            )
        }
    }
}
