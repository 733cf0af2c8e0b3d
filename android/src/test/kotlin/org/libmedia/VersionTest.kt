package org.libmedia

import org.junit.Assert.assertTrue
import org.junit.Test

class VersionTest {
    @Test
    fun version_is_not_empty_and_looks_like_semver() {
        val v = MediaEngine.version
        assertTrue("version '$v'", v.isNotBlank())
        assertTrue("version '$v' is not x.y.z", Regex("""\d+\.\d+\.\d+.*""").matches(v))
    }
}
