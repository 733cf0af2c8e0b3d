package org.libmedia

/**
 * The twin of `media_result` in `include/media.h`: one entry per code, same
 * value, name without the `MEDIA_` / `MEDIA_ERR_` prefix. A test parses the
 * header and fails when a code is missing, extra or different here.
 */
enum class MediaResult(override val code: Int) : CodedEnum {
    OK(0),
    /** A required argument was null. */
    NULL_ARGUMENT(1),
    /** An argument was out of range, not UTF-8, or an unknown enum value. */
    INVALID_ARGUMENT(2),
    /** The call does not fit the engine's current state. */
    INVALID_STATE(3),
    /** The device id, index or file does not exist. */
    NOT_FOUND(4),
    /** No device of that kind exists on this system (e.g. no camera). */
    NO_DEVICE(5),
    /** The device exists but could not be opened, or vanished. Retry later. */
    DEVICE_UNAVAILABLE(6),
    /** The system refused access to the microphone or camera. */
    PERMISSION_DENIED(7),
    /** An encoder or decoder failed. */
    CODEC(8),
    /** Reading or writing a file failed. */
    IO(9),
    /** Valid, but not supported by this build or device. */
    UNSUPPORTED(10),
    /** An output buffer was too small. */
    BUFFER_TOO_SMALL(11),
    /** A bug inside libmedia was caught at the API boundary. */
    PANIC(12),
    /** Any other internal failure. */
    INTERNAL(13),
    /** The callee is in another call. */
    BUSY(14),
    /** The callee is not connected to the server. */
    PEER_OFFLINE(15),
    /** Taken: the channel is full, the uid is in use, the user signed in elsewhere, or the server is full. */
    OCCUPIED(16),
    /** The token is expired, forged, for another scope, or the app is unknown. */
    BAD_TOKEN(17),
    /** The server could not be reached (after the reconnection attempts). */
    SERVER_UNREACHABLE(18),
    /** The media connection to a peer could not be made or was lost for good. */
    NETWORK(19);

    /** The library's static description of this code (`media_result_str`). */
    val description: String get() = NativeLib.resultString(code)

    companion object {
        private val byCode = entries.associateBy { it.code }

        /** The entry for [code], or null for a code this wrapper does not know. */
        fun fromCode(code: Int): MediaResult? = byCode[code]
    }
}

/** An enum that mirrors a C enum of `media.h` value for value. */
interface CodedEnum {
    /** The value of the C enumerator. */
    val code: Int
}

internal inline fun <reified E> codeToEnum(code: Int): E? where E : Enum<E>, E : CodedEnum =
    enumValues<E>().firstOrNull { it.code == code }
