package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit.SECONDS

/** Local preview and local audio on their own, with fake and with system devices. */
class LocalStreamsTest {
    @Test(timeout = 60_000)
    fun local_preview_delivers_local_frames_and_audio_starts_and_stops() {
        val started = ConcurrentHashMap.newKeySet<Stream>()
        val stopped = ConcurrentHashMap.newKeySet<Stream>()
        val firstLocal = CountDownLatch(1)
        val localFrames = CountDownLatch(5)
        val sources = ConcurrentHashMap.newKeySet<FrameSource?>()
        MediaEngine(smallFakeConfig()).use { engine ->
            engine.setEventListener { e ->
                if (e.type == EventType.FIRST_LOCAL_VIDEO_FRAME) firstLocal.countDown()
                if (e.type == EventType.STATE_CHANGED && e.stream != null) {
                    if (e.state == StreamState.STARTED) started += e.stream
                    if (e.state == StreamState.STOPPED) stopped += e.stream
                }
            }
            engine.setFrameListener { f ->
                sources += f.source
                if (f.source == FrameSource.LOCAL && f.width == 320 && f.height == 180) localFrames.countDown()
            }
            engine.startLocalPreview()
            engine.startLocalPreview() // idempotent
            engine.startLocalAudio()
            assertTrue("no FIRST_LOCAL_VIDEO_FRAME within 10 s", firstLocal.await(10, SECONDS))
            assertTrue("fewer than 5 local 320x180 frames within 10 s", localFrames.await(10, SECONDS))
            assertTrue(
                "no captured audio",
                eventually(10_000) { engine.stats().audioFramesCaptured > 0 },
            )
            engine.stopLocalAudio()
            engine.stopLocalPreview()
            engine.stopLocalPreview() // idempotent
            assertTrue(
                "streams started $started, stopped $stopped",
                eventually(10_000) {
                    started.containsAll(listOf(Stream.LOCAL_AUDIO, Stream.LOCAL_VIDEO)) &&
                        stopped.containsAll(listOf(Stream.LOCAL_AUDIO, Stream.LOCAL_VIDEO))
                },
            )
        }
        assertEquals(setOf(FrameSource.LOCAL), sources.toSet())
    }

    @Test(timeout = 60_000)
    fun system_camera_either_starts_or_fails_with_a_device_code() {
        // The default config opens the system's camera 0: on a machine without
        // one (CI) that is a MediaException with a device code, not a crash.
        MediaEngine(EngineConfig(videoWidth = 320, videoHeight = 180)).use { engine ->
            try {
                engine.startLocalPreview()
                engine.stopLocalPreview()
            } catch (e: MediaException) {
                assertTrue(
                    "unexpected ${e.result}: ${e.detail}",
                    e.result in setOf(
                        MediaResult.NO_DEVICE,
                        MediaResult.NOT_FOUND,
                        MediaResult.DEVICE_UNAVAILABLE,
                        MediaResult.PERMISSION_DENIED,
                    ),
                )
                println("LocalStreamsTest: system camera: ${e.message}")
            }
        }
    }
}
