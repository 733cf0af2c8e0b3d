package org.libmedia

/**
 * Engine statistics (`media_stats`). Counters are totals since the engine
 * was created; bitrates cover the last stats interval; latencies are in
 * microseconds.
 */
data class MediaStats(
    val audioFramesCaptured: Long,
    val audioFramesEncoded: Long,
    val audioPacketsReceived: Long,
    val audioPacketsLost: Long,
    val audioFramesDecoded: Long,
    val audioFecRecovered: Long,
    val audioConcealed: Long,
    val audioPlayoutUnderruns: Long,
    val audioSendBitrateBps: Long,
    val audioRecvBitrateBps: Long,
    val audioJitterUs: Long,
    val videoFramesCaptured: Long,
    val videoFramesEncoded: Long,
    val videoFramesDecoded: Long,
    val videoFramesRendered: Long,
    /** Dropped anywhere between capture and the frame listener. */
    val videoFramesDropped: Long,
    val videoFramesLost: Long,
    val videoKeyframesSent: Long,
    val videoKeyframeRequests: Long,
    val videoDecodeErrors: Long,
    val videoSendBitrateBps: Long,
    val videoRecvBitrateBps: Long,
    val videoEncodeLatencyP50Us: Long,
    val videoTransportLatencyP50Us: Long,
    val videoDecodeLatencyP50Us: Long,
    /** Capture to delivery of the decoded frame to the frame listener. */
    val videoLatencyP50Us: Long,
    val videoLatencyP95Us: Long,
    /** Host audio: pushed frames that found the engine's ring full. */
    val audioPushDroppedFrames: Long,
    /** Host audio: pulled frames that were silence (nothing decoded yet). */
    val audioPullSilentFrames: Long,
    /** The Opus encoder's FEC budget now: the loss it expects (percent), following what the peer reports. */
    val audioExpectedLossPct: Long,
    /** The Opus encoder's bitrate now (raised to pay for FEC under loss). */
    val audioTargetBitrateBps: Long,
    /** The size and frame rate the encoder runs at now (the resolution ladder steps down when the bitrate cannot carry the configured size). */
    val videoSendWidth: Long,
    val videoSendHeight: Long,
    val videoSendFps: Long,
    /** The delay the receiver adds to show remote video smoothly ([EngineConfig.videoDelay]), microseconds. */
    val videoRenderDelayUs: Long,
    /** Freezes in shown remote video (as WebRTC counts them) and their total length. */
    val videoFreezes: Long,
    val videoFrozenMs: Long,
    /** 20 ms audio frames the jitter buffer dropped to cut its delay. */
    val audioFramesRemoved: Long,
    /** Samples (48 kHz) time-stretching added to / took out of played speech to move the jitter buffer's depth. */
    val audioSamplesInserted: Long,
    val audioSamplesRemoved: Long,
    /** Lip sync, for the remote whose audio and video are furthest apart (0 until both were measured): its audio from the sender's capture to the speaker, microseconds. */
    val audioLatencyUs: Long,
    /** How far that remote's audio plays ahead of its video, microseconds (negative: behind). */
    val avSyncOffsetUs: Long,
    /** The delay lip sync adds to that remote's audio and to its video (part of [videoRenderDelayUs]), microseconds. */
    val audioSyncDelayUs: Long,
    val videoSyncDelayUs: Long,
) {
    internal companion object {
        /** In the order of `media_stats` (and of stats_to_longs in media_jni.c). */
        fun fromNative(v: LongArray): MediaStats {
            require(v.size >= NativeLib.STATS_FIELDS) { "stats array of ${v.size}" }
            return MediaStats(
                v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10],
                v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18], v[19], v[20],
                v[21], v[22], v[23], v[24], v[25], v[26], v[27], v[28], v[29], v[30],
                v[31], v[32], v[33], v[34], v[35], v[36], v[37], v[38], v[39], v[40],
                v[41], v[42], v[43],
            )
        }
    }
}
