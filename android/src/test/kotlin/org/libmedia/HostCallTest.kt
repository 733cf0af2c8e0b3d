package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.nio.ByteBuffer
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit.SECONDS
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.PI
import kotlin.math.abs
import kotlin.math.log10
import kotlin.math.sin
import kotlin.math.sqrt

/**
 * A 1v1 call between two Kotlin engines through the library's in-process
 * server, where each app owns its devices as on a phone: it pushes NV21
 * frames (Android's camera default) from direct ByteBuffers, pushes its
 * microphone's PCM and pulls its speaker's at its own rate. Alice records
 * at 48 kHz mono and plays at 16 kHz mono; bob records at 16 kHz mono and
 * plays at 44.1 kHz stereo. Each hears the other's tone at its frequency
 * and level and sees the other's picture.
 */
class HostCallTest {
    private class Phone(
        val name: String,
        val micRate: Int,
        val speakerRate: Int,
        val speakerChannels: Int,
        val toneHz: Double,
        /** Luma of this phone's (flat) picture. */
        val luma: Int,
    ) {
        lateinit var engine: MediaEngine
        val registered = CountDownLatch(1)
        val accepted = CountDownLatch(1)
        val remoteFrames = AtomicInteger()
        /** Remote frames whose centre luma was not the peer's. */
        val wrongPictures = AtomicInteger()
        var peerLuma = 0
        val heard = ArrayList<Short>() // guarded by itself; first channel only
        val stop = AtomicBoolean(false)
        val problem = java.util.concurrent.atomic.AtomicReference<String>()

        fun config() = EngineConfig(
            devices = Devices.SYSTEM,
            audioInput = AudioInput.EXTERNAL,
            audioInputSampleRate = micRate,
            audioInputChannels = 1,
            audioOutput = AudioOutput.EXTERNAL,
            audioOutputSampleRate = speakerRate,
            audioOutputChannels = speakerChannels,
            videoInput = VideoInput.EXTERNAL,
            videoWidth = 320,
            videoHeight = 180,
            videoFps = 15,
            statsIntervalMs = 0,
        )

        /** The app's audio thread: 10 ms in, 10 ms out, on its own clock. */
        fun soundCard() = Thread({
            val mic = ShortArray(micRate / 100)
            val out = ShortArray(speakerRate / 100 * speakerChannels)
            val amp = 0.1 * sqrt(2.0) * 32767
            var phase = 0.0
            val start = System.nanoTime()
            var ticks = 0L
            try {
                while (!stop.get()) {
                    for (i in mic.indices) {
                        mic[i] = (amp * sin(phase)).toInt().toShort()
                        phase = (phase + 2 * PI * toneHz / micRate) % (2 * PI)
                    }
                    engine.pushAudio(mic)
                    engine.pullAudio(out)
                    synchronized(heard) {
                        for (f in 0 until out.size / speakerChannels) heard += out[f * speakerChannels]
                    }
                    ticks++
                    val due = start + ticks * 10_000_000
                    val wait = (due - System.nanoTime()) / 1_000_000
                    if (wait > 0) Thread.sleep(wait)
                }
            } catch (e: Exception) {
                problem.set("$name sound card: $e")
            }
        }, "$name-sound-card")

        /** The app's camera: NV21 at 15 fps, rows padded to 352 bytes. */
        fun camera() = Thread({
            val stride = 352
            val y = ByteBuffer.allocateDirect(stride * 180)
            val vu = ByteBuffer.allocateDirect(stride * 90)
            for (i in 0 until y.capacity()) y.put(i, luma.toByte())
            for (i in 0 until vu.capacity()) vu.put(i, 128.toByte())
            val start = System.nanoTime()
            var n = 0L
            try {
                while (!stop.get()) {
                    engine.pushVideoFrame(PixelFormat.NV21, 320, 180, y, stride, vu, stride, timestampUs = n * 66_666)
                    n++
                    val wait = (start + n * 66_666_666 - System.nanoTime()) / 1_000_000
                    if (wait > 0) Thread.sleep(wait)
                }
            } catch (e: Exception) {
                problem.set("$name camera: $e")
            }
        }, "$name-camera")
    }

    @Test(timeout = 90_000)
    fun a_call_between_two_apps_that_push_and_pull_their_own_media() {
        val alice = Phone("alice", micRate = 48_000, speakerRate = 16_000, speakerChannels = 1, toneHz = 440.0, luma = 60)
        val bob = Phone("bob", micRate = 16_000, speakerRate = 44_100, speakerChannels = 2, toneHz = 660.0, luma = 200)
        alice.peerLuma = bob.luma
        bob.peerLuma = alice.luma
        LocalServer(secret = "kotlin-secret").use { server ->
            for (p in listOf(alice, bob)) {
                p.engine = MediaEngine(p.config())
                p.engine.setEventListener { e ->
                    if (e.type == EventType.SERVER && e.serverState == 1) p.registered.countDown()
                    if (e.type == EventType.CALL && e.call == 0) e.callId?.let { p.engine.accept(it) }
                    if (e.type == EventType.CALL && e.call == 2) p.accepted.countDown()
                }
                p.engine.setFrameListener { f ->
                    if (f.source != FrameSource.REMOTE) return@setFrameListener
                    p.remoteFrames.incrementAndGet()
                    val centre = f.y.get(90 * f.yStride + 160).toInt() and 0xff
                    if (abs(centre - p.peerLuma) > 8 && p.remoteFrames.get() > 3) p.wrongPictures.incrementAndGet()
                }
                p.engine.connectServer(ServerConfig(server.url, "demo", p.name, server.token(p.name), hostIp = "127.0.0.1"))
            }
            try {
                for (p in listOf(alice, bob)) assertTrue("${p.name} registered", p.registered.await(20, SECONDS))
                val threads = listOf(alice, bob).flatMap { listOf(it.soundCard(), it.camera()) }
                threads.forEach { it.start() }
                alice.engine.call("bob", video = true)
                assertTrue("bob accepted", alice.accepted.await(20, SECONDS))
                assertTrue("media both ways", eventually(20_000) {
                    listOf(alice, bob).all { it.remoteFrames.get() >= 10 && it.engine.stats().audioFramesDecoded >= 50 }
                })
                Thread.sleep(3_000) // three more seconds of call
                listOf(alice, bob).forEach { it.stop.set(true) }
                threads.forEach { it.join(5_000) }
                alice.engine.hangup()
                for ((p, want) in listOf(alice to bob.toneHz, bob to alice.toneHz)) {
                    p.problem.get()?.let { fail(it) }
                    val samples = synchronized(p.heard) { p.heard.takeLast(2 * p.speakerRate) }
                    var crossings = 0
                    var sum = 0.0
                    for (i in samples.indices) {
                        val s = samples[i] / 32768.0
                        sum += s * s
                        if (i > 0 && (samples[i - 1] < 0) != (samples[i] < 0)) crossings++
                    }
                    val hz = crossings / 2.0 / (samples.size.toDouble() / p.speakerRate)
                    val dbfs = 10 * log10(sum / samples.size + 1e-12)
                    println("${p.name}: heard %.1f Hz at %.1f dBFS; %d remote frames, %d wrong".format(hz, dbfs, p.remoteFrames.get(), p.wrongPictures.get()))
                    assertEquals("${p.name} hears the peer's tone", want, hz, 3.0)
                    assertEquals("${p.name} hears it at -20 dBFS", -20.0, dbfs, 3.0)
                    assertEquals("${p.name} sees the peer's picture", 0, p.wrongPictures.get())
                }
            } finally {
                listOf(alice, bob).forEach { it.stop.set(true); it.engine.close() }
            }
        }
    }

    @Test
    fun host_audio_misuse_is_refused_with_its_code() {
        MediaEngine(smallFakeConfig()).use { engine ->
            val e = runCatching { engine.pushAudio(ShortArray(160)) }.exceptionOrNull() as MediaException
            assertEquals(MediaResult.INVALID_STATE, e.result)
            val pull = runCatching { engine.pullAudio(ShortArray(160)) }.exceptionOrNull() as MediaException
            assertEquals(MediaResult.INVALID_STATE, pull.result)
        }
        MediaEngine(
            smallFakeConfig().copy(audioInput = AudioInput.EXTERNAL, audioInputSampleRate = 16_000, audioInputChannels = 2),
        ).use { engine ->
            engine.pushAudio(ShortArray(320))
            val partial = runCatching { engine.pushAudio(ShortArray(321)) }.exceptionOrNull() as MediaException
            assertEquals(MediaResult.INVALID_ARGUMENT, partial.result)
            val range = runCatching { engine.pushAudio(ShortArray(10), 8, 4) }.exceptionOrNull() as MediaException
            assertEquals(MediaResult.INVALID_ARGUMENT, range.result)
            // A heap buffer is not a camera plane.
            val heap = runCatching {
                engine.pushVideoFrame(PixelFormat.NV21, 320, 180, ByteBuffer.allocate(320 * 180), 320, ByteBuffer.allocate(320 * 90), 320)
            }.exceptionOrNull() as MediaException
            assertEquals(MediaResult.INVALID_ARGUMENT, heap.result)
        }
        val bad = runCatching {
            MediaEngine(smallFakeConfig().copy(audioInput = AudioInput.EXTERNAL, audioInputSampleRate = 96_000))
        }.exceptionOrNull() as MediaException
        assertEquals(MediaResult.INVALID_ARGUMENT, bad.result)
    }
}
