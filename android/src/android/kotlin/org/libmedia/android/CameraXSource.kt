package org.libmedia.android

import android.content.Context
import android.util.Size
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.core.content.ContextCompat
import androidx.lifecycle.LifecycleOwner
import org.libmedia.platform.CameraSource
import org.libmedia.platform.CapturedFrame
import org.libmedia.platform.PixelFormat
import java.util.concurrent.Executors

/**
 * The phone's camera through CameraX `ImageAnalysis` (YUV_420_888, latest
 * frame only, so a slow engine never builds a queue). Each `ImageProxy`
 * goes out without a copy: its planes as they are, NV12 when the chroma
 * planes are interleaved (pixel stride 2, the common case: the U plane's
 * buffer then holds U, V, U, V …) and I420 otherwise, with the sensor
 * rotation CameraX reports and its capture time. Hand it to
 * `HostMedia.startCamera` with an engine configured for
 * `VideoInput.EXTERNAL`.
 *
 * Needs `CAMERA` (see [MediaPermissions]). Written against the Android and
 * CameraX APIs; not compiled where it was written (no Android SDK there).
 */
class CameraXSource(
    private val context: Context,
    private val owner: LifecycleOwner,
    private val selector: CameraSelector = CameraSelector.DEFAULT_FRONT_CAMERA,
) : CameraSource {
    private val executor = Executors.newSingleThreadExecutor { Thread(it, "libmedia-camera") }
    private var analysis: ImageAnalysis? = null
    private var provider: ProcessCameraProvider? = null

    override fun start(width: Int, height: Int, fps: Int, sink: CameraSource.FrameSink) {
        val future = ProcessCameraProvider.getInstance(context)
        future.addListener({
            val p = future.get()
            val a = ImageAnalysis.Builder()
                .setResolutionSelector(
                    ResolutionSelector.Builder()
                        .setResolutionStrategy(
                            ResolutionStrategy(Size(width, height), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER),
                        )
                        .build(),
                )
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
                .build()
            a.setAnalyzer(executor) { image -> image.use { sink.onFrame(it.toCapturedFrame()) } }
            p.unbindAll()
            p.bindToLifecycle(owner, selector, a)
            analysis = a
            provider = p
        }, ContextCompat.getMainExecutor(context))
    }

    override fun stop() {
        val a = analysis ?: return
        ContextCompat.getMainExecutor(context).execute { provider?.unbind(a) }
        a.clearAnalyzer()
        analysis = null
    }
}

/** The image's planes as the engine takes them (valid until the image is closed). */
internal fun ImageProxy.toCapturedFrame(): CapturedFrame {
    val (y, u, v) = planes
    val interleaved = u.pixelStride == 2 && v.pixelStride == 2
    return if (interleaved) {
        // U's buffer starts at U and runs through the interleaved V bytes.
        CapturedFrame(
            PixelFormat.NV12, width, height, listOf(y.buffer, u.buffer),
            intArrayOf(y.rowStride, u.rowStride), imageInfo.rotationDegrees, imageInfo.timestamp,
        )
    } else {
        CapturedFrame(
            PixelFormat.I420, width, height, listOf(y.buffer, u.buffer, v.buffer),
            intArrayOf(y.rowStride, u.rowStride, v.rowStride), imageInfo.rotationDegrees, imageInfo.timestamp,
        )
    }
}
