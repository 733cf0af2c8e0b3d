package org.libmedia.android

import android.media.AudioAttributes
import android.media.AudioFormat
import android.media.AudioRecord
import android.media.AudioTrack
import android.media.MediaRecorder
import android.media.audiofx.AcousticEchoCanceler
import android.media.audiofx.NoiseSuppressor
import android.os.Process
import org.libmedia.platform.AudioDevice

/**
 * The phone's microphone and speaker through the platform's voice
 * processing: `AudioRecord` on `VOICE_COMMUNICATION` (the source that gets
 * the hardware echo canceller and the call's gain), with
 * `AcousticEchoCanceler` and `NoiseSuppressor` on its session where the
 * device offers them, and an `AudioTrack` with voice-communication
 * attributes. Mono 16-bit at [sampleRateHz] (48 kHz avoids resampling).
 * Hand it to `HostMedia.startAudio` with an engine configured for
 * `AudioInput.EXTERNAL` / `AudioOutput.EXTERNAL` at the same rate, mono.
 *
 * Needs `RECORD_AUDIO` (see [MediaPermissions]); start it once audio focus
 * is granted ([CallAudioFocus]). Written against the Android API; not
 * compiled where it was written (no Android SDK there).
 */
class VoiceCallAudio(override val sampleRateHz: Int = 48_000) : AudioDevice {
    private var record: AudioRecord? = null
    private var track: AudioTrack? = null
    private var effects: List<AutoCloseable> = emptyList()
    private var threads: List<Thread> = emptyList()
    @Volatile private var running = false

    /** Whether the device applied the platform echo canceller. */
    var echoCancellerEnabled = false
        private set

    override fun start(capture: AudioDevice.PcmSink, playout: AudioDevice.PcmSource) {
        stop()
        val block = sampleRateHz / 100 // 10 ms
        val inMin = AudioRecord.getMinBufferSize(sampleRateHz, AudioFormat.CHANNEL_IN_MONO, AudioFormat.ENCODING_PCM_16BIT)
        val rec = AudioRecord(
            MediaRecorder.AudioSource.VOICE_COMMUNICATION, sampleRateHz,
            AudioFormat.CHANNEL_IN_MONO, AudioFormat.ENCODING_PCM_16BIT, maxOf(inMin, 4 * block * 2),
        )
        check(rec.state == AudioRecord.STATE_INITIALIZED) { "AudioRecord at $sampleRateHz Hz did not initialise" }
        val fx = ArrayList<AutoCloseable>()
        if (AcousticEchoCanceler.isAvailable()) {
            AcousticEchoCanceler.create(rec.audioSessionId)?.let {
                it.enabled = true
                echoCancellerEnabled = it.enabled
                fx += AutoCloseable { it.release() }
            }
        }
        if (NoiseSuppressor.isAvailable()) {
            NoiseSuppressor.create(rec.audioSessionId)?.let {
                it.enabled = true
                fx += AutoCloseable { it.release() }
            }
        }
        val outMin = AudioTrack.getMinBufferSize(sampleRateHz, AudioFormat.CHANNEL_OUT_MONO, AudioFormat.ENCODING_PCM_16BIT)
        val out = AudioTrack.Builder()
            .setAudioAttributes(
                AudioAttributes.Builder()
                    .setUsage(AudioAttributes.USAGE_VOICE_COMMUNICATION)
                    .setContentType(AudioAttributes.CONTENT_TYPE_SPEECH)
                    .build(),
            )
            .setAudioFormat(
                AudioFormat.Builder()
                    .setSampleRate(sampleRateHz)
                    .setChannelMask(AudioFormat.CHANNEL_OUT_MONO)
                    .setEncoding(AudioFormat.ENCODING_PCM_16BIT)
                    .build(),
            )
            .setBufferSizeInBytes(maxOf(outMin, 4 * block * 2))
            .setTransferMode(AudioTrack.MODE_STREAM)
            .setPerformanceMode(AudioTrack.PERFORMANCE_MODE_LOW_LATENCY)
            .build()
        record = rec
        track = out
        effects = fx
        running = true
        rec.startRecording()
        out.play()
        // Blocking reads and writes pace each thread on the device's clock.
        val recorder = Thread({
            Process.setThreadPriority(Process.THREAD_PRIORITY_URGENT_AUDIO)
            val buf = ShortArray(block)
            while (running) {
                val n = rec.read(buf, 0, block, AudioRecord.READ_BLOCKING)
                if (n > 0) capture.onCaptured(buf, n, System.nanoTime())
                else if (n < 0) break // ERROR_DEAD_OBJECT etc.: the device went away
            }
        }, "libmedia-mic")
        val player = Thread({
            Process.setThreadPriority(Process.THREAD_PRIORITY_URGENT_AUDIO)
            val buf = ShortArray(block)
            while (running) {
                val n = playout.fillPlayout(buf, block)
                if (n < block) buf.fill(0, n, block)
                if (out.write(buf, 0, block, AudioTrack.WRITE_BLOCKING) < 0) break
            }
        }, "libmedia-speaker")
        threads = listOf(recorder, player)
        threads.forEach { it.start() }
    }

    override fun stop() {
        running = false
        record?.stop()
        track?.pause()
        track?.flush()
        threads.forEach { it.join(1_000) }
        threads = emptyList()
        effects.forEach { it.close() }
        effects = emptyList()
        record?.release()
        track?.release()
        record = null
        track = null
    }
}
