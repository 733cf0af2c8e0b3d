package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.nio.ByteBuffer
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference

/**
 * The app's own video codec ([EngineConfig.videoCodec]) through the shim:
 * the engine's threads call a Kotlin encoder and decoder, keyframe and
 * bitrate requests reach them, what they return comes back as remote
 * frames, and each is closed when the engine is done with it. The codec
 * here stores pictures uncompressed inside an Annex B IDR / non-IDR NAL
 * unit (the echo test's loopback path carries any bytes): a stand-in for
 * MediaCodec, which needs a phone.
 */
class VideoCodecTest {
    /** Counts what the engine asked, and the threads encoding and decoding ran on. */
    class RawCodec(private val failDecoders: Boolean = false) : VideoCodec {
        val encoders = AtomicInteger()
        val decoders = AtomicInteger()
        val closed = AtomicInteger()
        val encoded = AtomicInteger()
        val keyframesAsked = AtomicInteger()
        val decoded = AtomicInteger()
        val lastBitrate = AtomicInteger()
        val threads: MutableSet<String> = ConcurrentHashMap.newKeySet()
        val problem = AtomicReference<String>()

        override fun newEncoder(settings: VideoEncoderSettings): VideoEncoder {
            encoders.incrementAndGet()
            if (settings.width != 320 || settings.height != 180 || settings.fps != 30) {
                problem.set("settings $settings")
            }
            return object : VideoEncoder {
                override fun encode(
                    y: ByteBuffer, u: ByteBuffer, v: ByteBuffer,
                    yStride: Int, uStride: Int, vStride: Int,
                    timestampUs: Long, keyframe: Boolean, out: ByteBuffer,
                ): Int {
                    threads += Thread.currentThread().name
                    encoded.incrementAndGet()
                    if (keyframe) keyframesAsked.incrementAndGet()
                    if (!y.isReadOnly || !y.isDirect || !out.isDirect) problem.set("buffers")
                    val (w, h) = settings.width to settings.height
                    out.put(byteArrayOf(0, 0, 0, 1, if (keyframe) 0x65 else 0x41))
                    out.putShort(w.toShort()).putShort(h.toShort())
                    fun rows(p: ByteBuffer, stride: Int, width: Int, count: Int) {
                        val row = ByteArray(width)
                        for (r in 0 until count) {
                            p.position(r * stride)
                            p.get(row)
                            out.put(row)
                        }
                    }
                    rows(y, yStride, w, h)
                    rows(u, uStride, w / 2, h / 2)
                    rows(v, vStride, w / 2, h / 2)
                    return out.position()
                }

                override fun setBitrate(bitrateBps: Int) {
                    lastBitrate.set(bitrateBps)
                }

                override fun close() {
                    closed.incrementAndGet()
                }
            }
        }

        override fun newDecoder(): VideoDecoder? {
            if (failDecoders) return null
            decoders.incrementAndGet()
            return object : VideoDecoder {
                var picture: ByteBuffer = ByteBuffer.allocateDirect(0)

                override fun decode(data: ByteBuffer): DecodedPicture {
                    threads += Thread.currentThread().name
                    decoded.incrementAndGet()
                    data.position(5)
                    val w = data.short.toInt()
                    val h = data.short.toInt()
                    val size = w * h * 3 / 2
                    if (picture.capacity() < size) picture = ByteBuffer.allocateDirect(size)
                    picture.clear()
                    picture.put(data)
                    fun plane(from: Int, len: Int): ByteBuffer =
                        picture.duplicate().position(from).limit(from + len).slice()
                    val ySize = w * h
                    val cSize = ySize / 4
                    return DecodedPicture(
                        PixelFormat.I420, w, h,
                        listOf(plane(0, ySize), plane(ySize, cSize), plane(ySize + cSize, cSize)),
                        listOf(w, w / 2, w / 2),
                    )
                }

                override fun close() {
                    closed.incrementAndGet()
                }
            }
        }
    }

    @Test(timeout = 60_000)
    fun the_echo_test_runs_through_a_kotlin_codec() {
        val before = ProcessSnapshot.take()
        val codec = RawCodec()
        val remote = AtomicInteger()
        val local = AtomicReference<ByteArray>()
        val matched = AtomicInteger()
        val frameProblem = AtomicReference<String>()
        MediaEngine(smallFakeConfig().copy(statsIntervalMs = 0, videoCodec = codec)).use { engine ->
            // The test pattern is the same picture locally and remotely for the
            // same frame: uncompressed, the remote copy must equal a local one.
            val seen = ConcurrentHashMap<Int, Boolean>()
            engine.setFrameListener { f ->
                if (f.width != 320 || f.height != 180) frameProblem.set("size ${f.width}x${f.height}")
                val bytes = f.copyI420()
                val key = bytes.contentHashCode()
                if (f.source == FrameSource.LOCAL) {
                    seen[key] = true
                    local.set(bytes)
                } else {
                    remote.incrementAndGet()
                    if (seen.containsKey(key)) matched.incrementAndGet()
                }
            }
            engine.startEchoTest()
            assertTrue("fewer than 20 remote frames in 10 s", eventually(10_000) { remote.get() >= 20 })
            engine.setVideoBitrate(300_000)
            assertTrue("the bitrate reached the encoder", eventually(5_000) { codec.lastBitrate.get() == 300_000 })
            val stats = engine.stats()
            assertEquals(0L, stats.videoDecodeErrors)
            engine.stopEchoTest()
        }
        assertEquals(null, codec.problem.get())
        assertEquals(null, frameProblem.get())
        assertTrue("remote frames equal local ones: ${matched.get()} of ${remote.get()}", matched.get() * 2 >= remote.get())
        assertTrue("the first frame is asked to be an IDR", codec.keyframesAsked.get() >= 1)
        assertTrue(codec.encoded.get() >= 20 && codec.decoded.get() >= 20)
        assertEquals("every encoder and decoder closed", codec.encoders.get() + codec.decoders.get(), codec.closed.get())
        // Made wherever video starts (here inside startEchoTest), used on the engine's video threads.
        assertTrue("used on engine threads: ${codec.threads}", codec.threads.all { it.startsWith("media-video") })
        val after = ProcessSnapshot.take()
        assertEquals("global references", before.shim.globalRefs, after.shim.globalRefs)
        assertEquals("attached threads", before.shim.attachedThreads, after.shim.attachedThreads)
    }

    @Test(timeout = 60_000)
    fun without_a_decoder_local_video_goes_on_and_an_error_says_why() {
        val codec = RawCodec(failDecoders = true)
        val errors = AtomicInteger()
        val remote = AtomicInteger()
        MediaEngine(smallFakeConfig().copy(statsIntervalMs = 0, videoCodec = codec)).use { engine ->
            engine.setEventListener { e -> if (e.type == EventType.ERROR && e.error == MediaResult.CODEC) errors.incrementAndGet() }
            engine.setFrameListener { f -> if (f.source == FrameSource.REMOTE) remote.incrementAndGet() }
            engine.startEchoTest()
            assertTrue("frames encoded", eventually(10_000) { codec.encoded.get() >= 20 && errors.get() >= 1 })
            engine.stopEchoTest()
        }
        assertEquals(1, errors.get())
        assertEquals(0, remote.get())
        assertEquals(codec.encoders.get(), codec.closed.get())
    }
}
