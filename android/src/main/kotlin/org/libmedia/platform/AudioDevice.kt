package org.libmedia.platform

/**
 * Audio I/O owned by the host app rather than the engine (see DESIGN.md,
 * "Mobile hosts"). On Android the implementation (added in a later step,
 * with `AudioRecord` in `VOICE_COMMUNICATION` mode, `AcousticEchoCanceler`
 * and `AudioTrack`) lives outside this package's JVM-tested core, so this
 * interface names no Android class.
 *
 * PCM is 16-bit signed, mono, interleaved, at [sampleRateHz].
 */
interface AudioDevice {
    /** The rate the device runs at; 48,000 avoids resampling in the engine. */
    val sampleRateHz: Int

    /**
     * Opens the microphone and speaker. From then on the device calls
     * [capture] with every block it records and [playout] for every block
     * it is about to play, on its own audio threads: both must return fast.
     */
    fun start(capture: PcmSink, playout: PcmSource)

    /** Closes both directions. Idempotent. */
    fun stop()

    /** Receives recorded PCM. [samples] is reused after the call returns. */
    fun interface PcmSink {
        /** [count] samples recorded at [timestampNs] (monotonic clock). */
        fun onCaptured(samples: ShortArray, count: Int, timestampNs: Long)
    }

    /** Supplies PCM to play. */
    fun interface PcmSource {
        /** Fills up to [count] samples; returns how many (the rest is played as silence). */
        fun fillPlayout(samples: ShortArray, count: Int): Int
    }
}
