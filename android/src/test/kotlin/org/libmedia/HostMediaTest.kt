package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.libmedia.platform.AudioDevice
import org.libmedia.platform.CameraSource
import org.libmedia.platform.CapturedFrame
import org.libmedia.platform.HostMedia
import java.nio.ByteBuffer
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.PI
import kotlin.math.sin

/**
 * [HostMedia] with a fake sound card and camera (what VoiceCallAudio and
 * CameraXSource do on a phone) through the echo test: the recorded tone
 * comes back in the played blocks, the camera's frames come back decoded.
 */
class HostMediaTest {
    /** A mono "sound card" at [rate] on its own thread: records a tone, plays what it is given. */
    private class FakeSoundCard(override val sampleRateHz: Int, private val toneHz: Double) : AudioDevice {
        private val running = AtomicBoolean(false)
        private var thread: Thread? = null
        val playedNonSilent = AtomicInteger()

        override fun start(capture: AudioDevice.PcmSink, playout: AudioDevice.PcmSource) {
            running.set(true)
            thread = Thread({
                val block = sampleRateHz / 100
                val rec = ShortArray(block)
                val play = ShortArray(block)
                var phase = 0.0
                val start = System.nanoTime()
                var n = 0L
                while (running.get()) {
                    for (i in 0 until block) {
                        rec[i] = (3000 * sin(phase)).toInt().toShort()
                        phase += 2 * PI * toneHz / sampleRateHz
                    }
                    capture.onCaptured(rec, block, System.nanoTime())
                    val filled = playout.fillPlayout(play, block)
                    if (filled == block && play.any { it > 1000 || it < -1000 }) playedNonSilent.incrementAndGet()
                    n++
                    val wait = (start + n * 10_000_000 - System.nanoTime()) / 1_000_000
                    if (wait > 0) Thread.sleep(wait)
                }
            }, "fake-sound-card").also { it.start() }
        }

        override fun stop() {
            running.set(false)
            thread?.join()
            thread = null
        }
    }

    /** A camera delivering flat NV21 frames at [fps] on its own thread. */
    private class FakeCamera : CameraSource {
        private val running = AtomicBoolean(false)
        private var thread: Thread? = null

        override fun start(width: Int, height: Int, fps: Int, sink: CameraSource.FrameSink) {
            running.set(true)
            thread = Thread({
                val y = ByteBuffer.allocateDirect(width * height)
                val vu = ByteBuffer.allocateDirect(width * height / 2)
                for (i in 0 until vu.capacity()) vu.put(i, 128.toByte())
                while (running.get()) {
                    val frame = CapturedFrame(
                        org.libmedia.platform.PixelFormat.NV21, width, height, listOf(y, vu),
                        intArrayOf(width, width), 0, System.nanoTime(),
                    )
                    sink.onFrame(frame)
                    Thread.sleep(1000L / fps)
                }
            }, "fake-camera").also { it.start() }
        }

        override fun stop() {
            running.set(false)
            thread?.join()
            thread = null
        }
    }

    @Test(timeout = 60_000)
    fun a_fake_sound_card_and_camera_go_through_the_echo_test() {
        val config = smallFakeConfig().copy(
            audioInput = AudioInput.EXTERNAL, audioInputSampleRate = 16_000, audioInputChannels = 1,
            audioOutput = AudioOutput.EXTERNAL, audioOutputSampleRate = 16_000, audioOutputChannels = 1,
            videoInput = VideoInput.EXTERNAL, videoFps = 15,
        )
        MediaEngine(config).use { engine ->
            val remote = AtomicInteger()
            engine.setFrameListener { if (it.source == FrameSource.REMOTE) remote.incrementAndGet() }
            val card = FakeSoundCard(16_000, 500.0)
            HostMedia(engine).use { host ->
                host.startAudio(card)
                host.startCamera(FakeCamera(), 320, 180, 15)
                engine.startEchoTest()
                assertTrue("the tone comes back", eventually(15_000) { card.playedNonSilent.get() >= 50 })
                assertTrue("frames come back", eventually(15_000) { remote.get() >= 10 })
                engine.stopEchoTest()
                assertEquals("callback failures", 0L, host.failures)
            }
        }
    }
}
