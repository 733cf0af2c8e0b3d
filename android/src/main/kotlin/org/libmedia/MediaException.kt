package org.libmedia

/**
 * A libmedia call failed with [result] (never [MediaResult.OK]). [detail] is
 * the library's own explanation (`media_last_error_message`) when it gave
 * one, e.g. "video size 0x360 must be even and non-zero".
 */
class MediaException(
    val result: MediaResult,
    val detail: String = "",
) : RuntimeException(
    if (detail.isEmpty()) "${result.name}: ${describe(result)}" else "${result.name}: $detail",
) {
    private companion object {
        fun describe(result: MediaResult): String =
            try {
                result.description
            } catch (e: UnsatisfiedLinkError) {
                "code ${result.code}"
            }
    }
}
