package org.libmedia.android

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import androidx.core.content.ContextCompat
import org.libmedia.MediaException
import org.libmedia.MediaResult

/**
 * The run-time permissions a call needs, checked before devices open so a
 * refusal surfaces as the engine's own code
 * ([MediaResult.PERMISSION_DENIED]) instead of a silent microphone. Ask the
 * user (`ActivityResultContracts.RequestMultiplePermissions`) for what
 * [missing] returns, then call [require]. Not compiled where it was
 * written (no Android SDK there).
 */
object MediaPermissions {
    /** The permissions an audio (or video) call still lacks. */
    fun missing(context: Context, video: Boolean): List<String> =
        listOfNotNull(
            Manifest.permission.RECORD_AUDIO,
            if (video) Manifest.permission.CAMERA else null,
        ).filter { ContextCompat.checkSelfPermission(context, it) != PackageManager.PERMISSION_GRANTED }

    /** Throws [MediaException] with [MediaResult.PERMISSION_DENIED] naming what is missing. */
    fun require(context: Context, video: Boolean) {
        val lacking = missing(context, video)
        if (lacking.isNotEmpty()) {
            throw MediaException(MediaResult.PERMISSION_DENIED, "not granted: ${lacking.joinToString()}")
        }
    }
}
