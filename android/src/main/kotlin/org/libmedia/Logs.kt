package org.libmedia

/** `media_log_level` values, most severe first. */
enum class LogLevel(override val code: Int) : CodedEnum {
    ERROR(1),
    WARN(2),
    INFO(3),
    DEBUG(4),
    TRACE(5),
}

/**
 * Receives the library's log records on whichever library thread logged,
 * possibly several at once: forward them to logcat
 * (`Log.println(priority, "libmedia", "$target: $message")`) and return.
 */
fun interface LogListener {
    fun onLog(level: LogLevel, target: String, message: String)
}

/** The library's logs, process-wide (`media_set_log_callback`). */
object MediaLog {
    /**
     * Sends records up to [maxLevel] to [listener]; null stops them.
     * [MediaResult.INVALID_STATE] when the process has a Rust `tracing`
     * subscriber of its own.
     */
    @JvmStatic
    fun setListener(maxLevel: LogLevel, listener: LogListener?) =
        MediaEngine.throwOnError(NativeLib.setLogSink(maxLevel.code, listener?.let(::LogDispatcher)))
}

/** Held by the shim as a global reference. */
internal class LogDispatcher(private val listener: LogListener) {
    /** Called from native code (media_jni.c, on_log). */
    fun onNativeLog(level: Int, target: ByteArray?, message: ByteArray?) {
        val l = LogLevel.entries.firstOrNull { it.code == level } ?: LogLevel.TRACE
        CallbackScope.run {
            listener.onLog(l, target?.toString(Charsets.UTF_8).orEmpty(), message?.toString(Charsets.UTF_8).orEmpty())
        }
    }
}
