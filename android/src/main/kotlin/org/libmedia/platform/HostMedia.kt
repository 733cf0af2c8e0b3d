package org.libmedia.platform

import org.libmedia.MediaEngine
import org.libmedia.PixelFormat as EnginePixelFormat

/**
 * Wires an app-owned [AudioDevice] and [CameraSource] to an engine
 * configured for external media (`AudioInput.EXTERNAL` /
 * `AudioOutput.EXTERNAL` at the device's rate, mono; `VideoInput.EXTERNAL`):
 * recorded blocks go to [MediaEngine.pushAudio], played blocks come from
 * [MediaEngine.pullAudio], camera frames go to [MediaEngine.pushVideoFrame].
 * On Android the implementations are `VoiceCallAudio` (AudioRecord in
 * VOICE_COMMUNICATION with the platform's echo canceller, AudioTrack) and
 * `CameraXSource` in `src/android/`; tests use fakes.
 *
 * Failures inside the device callbacks (the engine closed under them, a
 * misconfigured rate) are counted in [failures] and the block is dropped
 * or played as silence: a device thread never sees an exception.
 */
class HostMedia(private val engine: MediaEngine) : AutoCloseable {
    private var audio: AudioDevice? = null
    private var camera: CameraSource? = null

    /** Callback failures so far (each also leaves the audio or frame out). */
    @Volatile
    var failures: Long = 0
        private set

    /** Starts [device]; its blocks flow to and from the engine until [stopAudio]. */
    @Synchronized
    fun startAudio(device: AudioDevice) {
        stopAudio()
        device.start(
            capture = { samples, count, _ ->
                try {
                    engine.pushAudio(samples, 0, count)
                } catch (e: RuntimeException) {
                    failures++
                }
            },
            playout = { samples, count ->
                try {
                    engine.pullAudio(samples, 0, count)
                    count // the engine fills the whole block, silence included
                } catch (e: RuntimeException) {
                    failures++
                    0
                }
            },
        )
        audio = device
    }

    @Synchronized
    fun stopAudio() {
        audio?.stop()
        audio = null
    }

    /** Starts [source] at about [width] x [height] and [fps]; frames go to the engine. */
    @Synchronized
    fun startCamera(source: CameraSource, width: Int, height: Int, fps: Int) {
        stopCamera()
        source.start(width, height, fps) { f ->
            val format = when (f.format) {
                PixelFormat.I420 -> EnginePixelFormat.I420
                PixelFormat.NV12 -> EnginePixelFormat.NV12
                PixelFormat.NV21 -> EnginePixelFormat.NV21
            }
            try {
                engine.pushVideoFrame(
                    format, f.width, f.height,
                    f.planes[0], f.strides[0],
                    f.planes[1], f.strides[1],
                    f.planes.getOrNull(2), f.strides.getOrElse(2) { 0 },
                    f.rotationDegrees, f.timestampNs / 1000,
                )
            } catch (e: RuntimeException) {
                failures++
            }
        }
        camera = source
    }

    @Synchronized
    fun stopCamera() {
        camera?.stop()
        camera = null
    }

    /** Stops both; the engine stays open. */
    override fun close() {
        stopAudio()
        stopCamera()
    }
}
