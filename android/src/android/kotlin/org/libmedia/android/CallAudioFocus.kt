package org.libmedia.android

import android.content.Context
import android.media.AudioAttributes
import android.media.AudioFocusRequest
import android.media.AudioManager
import org.libmedia.MediaEngine

/**
 * Audio focus for a call: requests `AUDIOFOCUS_GAIN_TRANSIENT` with
 * voice-communication attributes and puts the phone in
 * `MODE_IN_COMMUNICATION`; when another app or a phone call takes focus the
 * engine's audio is interrupted ([MediaEngine.interruptAudio]: the call
 * goes on, microphone and speaker are released) and it resumes when focus
 * comes back. With a `ConnectionService` (self-managed), call [acquire]
 * from `onAnswer` / when the connection becomes active. Not compiled where
 * it was written (no Android SDK there).
 */
class CallAudioFocus(context: Context, private val engine: MediaEngine) {
    private val audio = context.getSystemService(AudioManager::class.java)
    private val request = AudioFocusRequest.Builder(AudioManager.AUDIOFOCUS_GAIN_TRANSIENT)
        .setAudioAttributes(
            AudioAttributes.Builder()
                .setUsage(AudioAttributes.USAGE_VOICE_COMMUNICATION)
                .setContentType(AudioAttributes.CONTENT_TYPE_SPEECH)
                .build(),
        )
        .setOnAudioFocusChangeListener { change ->
            when (change) {
                AudioManager.AUDIOFOCUS_LOSS, AudioManager.AUDIOFOCUS_LOSS_TRANSIENT -> engine.interruptAudio()
                AudioManager.AUDIOFOCUS_GAIN -> engine.resumeAudio()
            }
        }
        .build()

    /** True when focus was granted (audio may start now). */
    fun acquire(): Boolean {
        audio.mode = AudioManager.MODE_IN_COMMUNICATION
        return audio.requestAudioFocus(request) == AudioManager.AUDIOFOCUS_REQUEST_GRANTED
    }

    fun release() {
        audio.abandonAudioFocusRequest(request)
        audio.mode = AudioManager.MODE_NORMAL
    }
}
