package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** Every enum twin matches include/media.h, and the check itself catches drift. */
class HeaderDriftTest {
    private val header by lazy { HeaderEnums.parse(HeaderEnums.headerFile().readText()) }

    private fun assertNoDrift(problems: List<String>) =
        assertTrue(problems.joinToString("\n", prefix = "drift from media.h:\n"), problems.isEmpty())

    @Test
    fun media_result_matches_media_h_one_to_one() {
        val c = HeaderEnums.kotlinNames(header, "media_result", "MEDIA_", alsoStrip = "ERR_")
        assertNoDrift(HeaderEnums.drift("media_result", c, HeaderEnums.kotlinValues(MediaResult.entries)))
        // Same count both ways, and the values are 0..N-1 in order as in the header.
        assertEquals(c.size, MediaResult.entries.size)
        assertEquals(c.keys.toList(), MediaResult.entries.map { it.name })
    }

    @Test
    fun event_enums_match_media_h_one_to_one() {
        assertNoDrift(
            HeaderEnums.drift("media_event_type", HeaderEnums.kotlinNames(header, "media_event_type", "MEDIA_EVENT_"), HeaderEnums.kotlinValues(EventType.entries)) +
                HeaderEnums.drift("media_stream", HeaderEnums.kotlinNames(header, "media_stream", "MEDIA_STREAM_"), HeaderEnums.kotlinValues(Stream.entries)) +
                HeaderEnums.drift("media_stream_state", HeaderEnums.kotlinNames(header, "media_stream_state", "MEDIA_STREAM_"), HeaderEnums.kotlinValues(StreamState.entries)) +
                HeaderEnums.drift("media_frame_source", HeaderEnums.kotlinNames(header, "media_frame_source", "MEDIA_FRAME_"), HeaderEnums.kotlinValues(FrameSource.entries)),
        )
    }

    @Test
    fun config_enums_are_values_of_media_h() {
        assertNoDrift(
            HeaderEnums.drift("media_audio_input", HeaderEnums.kotlinNames(header, "media_audio_input", "MEDIA_AUDIO_INPUT_"), HeaderEnums.kotlinValues(AudioInput.entries), subset = true) +
                HeaderEnums.drift("media_audio_output", HeaderEnums.kotlinNames(header, "media_audio_output", "MEDIA_AUDIO_OUTPUT_"), HeaderEnums.kotlinValues(AudioOutput.entries), subset = true) +
                HeaderEnums.drift("media_video_input", HeaderEnums.kotlinNames(header, "media_video_input", "MEDIA_VIDEO_INPUT_"), HeaderEnums.kotlinValues(VideoInput.entries), subset = true),
        )
    }

    @Test
    fun every_result_has_a_library_description() {
        for (r in MediaResult.entries) {
            assertTrue("$r has no description", r.description.isNotBlank())
        }
        assertTrue(MediaResult.INVALID_ARGUMENT.description != MediaResult.NOT_FOUND.description)
    }

    // The parser and the comparison on made-up headers: proof that drift is caught.

    private val sample = """
        // Result of every call.
        typedef enum media_result {
          MEDIA_OK = 0,
          // A comment, with = and , inside.
          MEDIA_ERR_NULL_ARGUMENT = 1,
          /* block comment MEDIA_ERR_FAKE = 7, */
          MEDIA_ERR_INVALID_ARGUMENT = 2,
        } media_result;
        typedef enum media_other { MEDIA_OTHER_A, MEDIA_OTHER_B = 0x10, MEDIA_OTHER_C } media_other;
    """.trimIndent()

    @Test
    fun parser_reads_values_comments_and_implicit_values() {
        val parsed = HeaderEnums.parse(sample)
        assertEquals(mapOf("MEDIA_OK" to 0, "MEDIA_ERR_NULL_ARGUMENT" to 1, "MEDIA_ERR_INVALID_ARGUMENT" to 2), parsed["media_result"])
        assertEquals(mapOf("MEDIA_OTHER_A" to 0, "MEDIA_OTHER_B" to 16, "MEDIA_OTHER_C" to 17), parsed["media_other"])
    }

    @Test
    fun drift_check_catches_a_code_added_to_the_header() {
        val real = HeaderEnums.headerFile().readText()
        // One more code at the end of the real enum, as a library change would add it.
        val withExtra = real.replaceFirst(
            Regex("""\}\s*media_result\s*;"""),
            "  // New.\n  MEDIA_ERR_TEST_ONLY_EXTRA = 999,\n} media_result;",
        )
        assertTrue("the real header changed shape: update this test", withExtra != real)
        fun problems(text: String) = HeaderEnums.drift(
            "media_result",
            HeaderEnums.kotlinNames(HeaderEnums.parse(text), "media_result", "MEDIA_", "ERR_"),
            HeaderEnums.kotlinValues(MediaResult.entries),
        )
        // Whatever the real header's state, the added code is what the check adds.
        assertEquals(
            listOf("media_result: TEST_ONLY_EXTRA = 999 is in media.h but not in Kotlin"),
            problems(withExtra) - problems(real).toSet(),
        )
    }

    @Test
    fun drift_check_catches_a_removed_and_a_renumbered_code() {
        val c = HeaderEnums.kotlinNames(HeaderEnums.parse(sample), "media_result", "MEDIA_", "ERR_")
        val kotlin = mapOf("OK" to 0, "NULL_ARGUMENT" to 1, "INVALID_ARGUMENT" to 3, "GONE" to 4)
        assertEquals(
            listOf(
                "media_result: INVALID_ARGUMENT is 2 in media.h but 3 in Kotlin",
                "media_result: GONE = 4 is in Kotlin but not in media.h",
            ),
            HeaderEnums.drift("media_result", c, kotlin),
        )
        // A subset (config enums) may leave codes out but not change or invent them.
        assertEquals(emptyList<String>(), HeaderEnums.drift("x", c, mapOf("OK" to 0), subset = true))
    }
}
