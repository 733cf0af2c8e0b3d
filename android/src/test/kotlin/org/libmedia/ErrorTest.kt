package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** Failures come back as MediaException with the library's code and detail. */
class ErrorTest {
    private fun expectResult(expected: MediaResult, block: () -> Unit): MediaException {
        try {
            block()
        } catch (e: MediaException) {
            assertEquals(e.message, expected, e.result)
            return e
        }
        fail("expected MediaException($expected)")
        throw AssertionError()
    }

    @Test
    fun invalid_video_size_is_invalid_argument() {
        val e = expectResult(MediaResult.INVALID_ARGUMENT) { MediaEngine(EngineConfig.fake().copy(videoWidth = 0)) }
        assertTrue("detail from media_last_error_message: '${e.detail}'", e.detail.isNotBlank())
        expectResult(MediaResult.INVALID_ARGUMENT) { MediaEngine(EngineConfig.fake().copy(videoWidth = 641, videoHeight = 361)) }
    }

    @Test
    fun other_bad_settings_are_invalid_argument() {
        expectResult(MediaResult.INVALID_ARGUMENT) { MediaEngine(EngineConfig.fake().copy(videoFps = 0)) }
        expectResult(MediaResult.INVALID_ARGUMENT) { MediaEngine(EngineConfig.fake().copy(statsIntervalMs = 5)) }
        expectResult(MediaResult.INVALID_ARGUMENT) { MediaEngine(EngineConfig.fake().copy(videoHeight = -2)) }
        // Voice processing: stages, OFF and AUTO are accepted by the library.
        for (v in listOf(VoiceProcessing.ALL, VoiceProcessing.OFF, VoiceProcessing.AUTO,
                VoiceProcessing.stages(echoCancellation = true, highPass = true))) {
            MediaEngine(smallFakeConfig().copy(voiceProcessing = v)).close()
        }
        MediaEngine(smallFakeConfig()).use { engine ->
            expectResult(MediaResult.INVALID_ARGUMENT) { engine.setVideoBitrate(10) } // below the minimum
            expectResult(MediaResult.INVALID_ARGUMENT) { engine.setVideoBitrate(-1) }
        }
    }

    @Test
    fun failed_creates_leak_nothing() {
        val before = MediaEngine.shimCounters()
        repeat(100) {
            expectResult(MediaResult.INVALID_ARGUMENT) { MediaEngine(EngineConfig.fake().copy(videoWidth = 3)) }
        }
        val after = MediaEngine.shimCounters()
        assertEquals(before.liveEngines, after.liveEngines)
        assertEquals(before.globalRefs, after.globalRefs)
    }

    @Test
    fun use_after_close_throws_and_close_is_idempotent() {
        val engine = MediaEngine(smallFakeConfig())
        val live = MediaEngine.shimCounters().liveEngines
        engine.close()
        assertTrue(engine.isClosed)
        assertEquals(live - 1, MediaEngine.shimCounters().liveEngines)
        for (use in listOf<(MediaEngine) -> Unit>(
            { it.startEchoTest() },
            { it.stats() },
            { it.setEventListener { } },
            { it.muteLocalAudio(true) },
        )) {
            try {
                use(engine)
                fail("a call after close() did not throw")
            } catch (e: IllegalStateException) {
                assertEquals("MediaEngine is closed", e.message)
            }
        }
        engine.close() // again: a no-op
        assertEquals(live - 1, MediaEngine.shimCounters().liveEngines)
    }

    @Test
    fun unknown_codes_do_not_map() {
        assertEquals(null, MediaResult.fromCode(-1))
        assertEquals(null, MediaResult.fromCode(10_000))
        assertEquals(MediaResult.INVALID_ARGUMENT, MediaResult.fromCode(2))
    }
}
