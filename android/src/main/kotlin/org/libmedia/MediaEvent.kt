package org.libmedia

/** `media_event_type`: what a [MediaEvent] reports. Mirrors `media.h` one to one. */
enum class EventType(override val code: Int) : CodedEnum {
    /** [MediaEvent.stream] changed to [MediaEvent.state]. */
    STATE_CHANGED(0),

    /** A failure while running: [MediaEvent.error] and [MediaEvent.message]. */
    ERROR(1),
    FIRST_LOCAL_VIDEO_FRAME(2),
    FIRST_REMOTE_VIDEO_FRAME(3),
    FIRST_REMOTE_AUDIO_FRAME(4),

    /** [MediaEvent.stats] holds a snapshot. */
    STATS(5),
    CONNECTION(6),
    SERVER(7),
    CALL(8),
    CHANNEL(9),
    TOKEN_WILL_EXPIRE(10),
    SERVER_ERROR(11),
    NETWORK_QUALITY(12),
}

/** `media_stream`: which stream a [EventType.STATE_CHANGED] concerns. */
enum class Stream(override val code: Int) : CodedEnum {
    NONE(0),
    LOCAL_AUDIO(1),
    LOCAL_VIDEO(2),
    ECHO_TEST(3),
    CALL(4),
    CHANNEL(5),
}

/** `media_stream_state`. */
enum class StreamState(override val code: Int) : CodedEnum {
    STOPPED(0),
    STARTED(1),

    /** Stopped by a failure; an [EventType.ERROR] came first. */
    FAILED(2),
}

/**
 * One engine event (`media_event`), already copied out of native memory:
 * it may be kept after the listener returns. Enum fields are null for codes
 * newer than this wrapper (the raw value is in the matching `*Code`
 * field); the remaining enums of `media.h` (connection, server, call,
 * channel states, end reasons) are given as their raw values.
 */
data class MediaEvent(
    val typeCode: Int,
    val type: EventType?,
    val stream: Stream?,
    val state: StreamState?,
    /** [MediaResult.OK] unless the event reports a failure. */
    val error: MediaResult?,
    val message: String?,
    val width: Int,
    val height: Int,
    /** `media_connection_state`. */
    val connection: Int,
    val stats: MediaStats?,
    /** `media_server_state`. */
    val serverState: Int,
    /** `media_call_event`. */
    val call: Int,
    /** `media_call_end_reason`. */
    val endReason: Int,
    /** `media_channel_event`. */
    val channelEvent: Int,
    val callId: String?,
    val userId: String?,
    val nickname: String?,
    val channel: String?,
    /** A server error code ("busy", "token_expired", ...). */
    val code: String?,
    /** The channel member the event is about (unsigned 32-bit). */
    val uid: Long,
    val video: Boolean,
    val dropped: Boolean,
    /** Unix seconds, for [EventType.TOKEN_WILL_EXPIRE]. */
    val expiresAt: Long,
    val txQuality: Int,
    val rxQuality: Int,
    val audioMuted: Boolean,
    val videoMuted: Boolean,
)

/** `media_frame_source`: whose picture a [VideoFrame] is. */
enum class FrameSource(override val code: Int) : CodedEnum {
    /** The local camera preview. */
    LOCAL(0),

    /** Decoded video from the peer (or the echo test). */
    REMOTE(1),
}
