package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Test
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit.SECONDS
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference

/** The echo test with synthetic devices, end to end through JNI. */
class EchoTestTest {
    @Test(timeout = 60_000)
    fun echo_test_delivers_events_and_remote_frames_on_engine_threads() {
        val testThread = Thread.currentThread().name
        val eventThreads = ConcurrentHashMap.newKeySet<String>()
        val frameThreads = ConcurrentHashMap.newKeySet<String>()
        val started = CountDownLatch(1)
        val stopped = CountDownLatch(1)
        val firstRemote = CountDownLatch(1)
        val statsEvent = CountDownLatch(1)
        val remoteFrames = CountDownLatch(10)
        val firstRemoteSize = AtomicReference<Pair<Int, Int>>()
        val frameProblem = AtomicReference<String>()
        val packed = AtomicReference<ByteArray>()

        MediaEngine(smallFakeConfig().copy(statsIntervalMs = 200, videoDelay = VideoDelay.LOW_LATENCY)).use { engine ->
            engine.setEventListener { e ->
                eventThreads += Thread.currentThread().name
                when {
                    e.type == EventType.STATE_CHANGED && e.stream == Stream.ECHO_TEST && e.state == StreamState.STARTED -> started.countDown()
                    e.type == EventType.STATE_CHANGED && e.stream == Stream.ECHO_TEST && e.state == StreamState.STOPPED -> stopped.countDown()
                    e.type == EventType.FIRST_REMOTE_VIDEO_FRAME -> {
                        firstRemoteSize.set(e.width to e.height)
                        firstRemote.countDown()
                    }
                    e.type == EventType.STATS && e.stats != null -> statsEvent.countDown()
                }
            }
            engine.setFrameListener { f ->
                frameThreads += Thread.currentThread().name
                if (f.source != FrameSource.REMOTE) return@setFrameListener
                val expectY = f.yStride.toLong() * f.height
                when {
                    f.width != 320 || f.height != 180 -> frameProblem.set("size ${f.width}x${f.height}")
                    !f.y.isReadOnly || !f.u.isReadOnly || !f.v.isReadOnly -> frameProblem.set("planes are writable")
                    f.y.capacity() < expectY || f.yStride < f.width -> frameProblem.set("y plane ${f.y.capacity()} < $expectY")
                    else -> if (packed.get() == null) packed.set(f.copyI420())
                }
                remoteFrames.countDown()
            }
            engine.startEchoTest()
            assertTrue("no ECHO_TEST STARTED event within 10 s", started.await(10, SECONDS))
            assertTrue("no FIRST_REMOTE_VIDEO_FRAME event within 10 s", firstRemote.await(10, SECONDS))
            assertTrue("fewer than 10 remote frames within 10 s", remoteFrames.await(10, SECONDS))
            assertTrue("no STATS event with a snapshot within 10 s", statsEvent.await(10, SECONDS))
            assertEquals(320 to 180, firstRemoteSize.get())
            assertEquals(null, frameProblem.get())

            val stats = engine.stats()
            assertTrue("decoded ${stats.videoFramesDecoded}", stats.videoFramesDecoded >= 10)
            assertTrue("audio encoded ${stats.audioFramesEncoded}", stats.audioFramesEncoded > 0)
            // No peer reports loss on the echo path: the configured Opus FEC budget.
            assertEquals(10L, stats.audioExpectedLossPct)
            assertEquals(48_000L, stats.audioTargetBitrateBps)
            // The configured bitrate carries the configured size: the encoder runs at it.
            assertEquals(Triple(320L, 180L, 30L), Triple(stats.videoSendWidth, stats.videoSendHeight, stats.videoSendFps))

            engine.muteLocalAudio(true)
            engine.muteLocalVideo(true)
            engine.muteLocalVideo(false)
            engine.stopEchoTest()
            engine.stopEchoTest() // idempotent
            assertTrue("no ECHO_TEST STOPPED event within 10 s", stopped.await(10, SECONDS))
        }

        val copy = packed.get()
        assertNotNull("no remote frame was copied", copy)
        copy!!
        assertEquals(320 * 180 * 3 / 2, copy.size)
        assertTrue("the test pattern's Y plane is flat", copy.take(320 * 180).toSet().size > 1)
        assertEquals(setOf("media-events"), eventThreads.toSet())
        assertEquals(setOf("media-render"), frameThreads.toSet())
        assertFalse(testThread in eventThreads + frameThreads)
    }

    @Test(timeout = 60_000)
    fun listener_exceptions_are_caught_and_logged_and_the_engine_goes_on() {
        val before = MediaEngine.shimCounters().callbackExceptions
        System.err.println("EchoTestTest: the next stack traces ('test: ...') are thrown on purpose")
        MediaEngine(smallFakeConfig()).use { engine ->
            val frameThrows = AtomicInteger(3)
            engine.setEventListener { throw IllegalStateException("test: event listener failure") }
            engine.setFrameListener {
                if (frameThrows.getAndDecrement() > 0) throw RuntimeException("test: frame listener failure")
            }
            engine.startEchoTest()
            assertTrue(
                "the shim counted no caught exceptions",
                eventually(10_000) { MediaEngine.shimCounters().callbackExceptions >= before + 4 },
            )

            // A good listener set afterwards still gets frames: the render thread survived.
            val good = CountDownLatch(5)
            engine.setFrameListener { if (it.source == FrameSource.REMOTE) good.countDown() }
            assertTrue("no frames after the listener threw", good.await(10, SECONDS))

            // close() inside a listener is refused instead of deadlocking.
            val refused = AtomicReference<Throwable>()
            val tried = CountDownLatch(1)
            engine.setFrameListener {
                if (tried.count > 0L) {
                    try {
                        engine.close()
                    } catch (e: IllegalStateException) {
                        refused.set(e)
                    }
                    tried.countDown()
                }
            }
            assertTrue(tried.await(10, SECONDS))
            assertTrue("close() inside a listener: ${refused.get()}", refused.get() is IllegalStateException)
            assertFalse(engine.isClosed)
            engine.stats() // still usable
        }
    }

    @Test
    fun replacing_listeners_releases_their_global_references() {
        val base = MediaEngine.shimCounters().globalRefs
        MediaEngine(smallFakeConfig()).use { engine ->
            repeat(200) {
                engine.setEventListener { }
                engine.setFrameListener { }
            }
            assertEquals(base + 2, MediaEngine.shimCounters().globalRefs)
            engine.setEventListener(null)
            engine.setFrameListener(null)
            assertEquals(base, MediaEngine.shimCounters().globalRefs)
            engine.setEventListener { }
            engine.setFrameListener { }
        }
        assertEquals("close() released the listeners", base, MediaEngine.shimCounters().globalRefs)
    }
}
