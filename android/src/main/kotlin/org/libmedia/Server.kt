package org.libmedia

internal fun String.utf8(): ByteArray = toByteArray(Charsets.UTF_8)

/** Where and who to register as ([MediaEngine.connectServer]). */
data class ServerConfig(
    /** "ws://host:port/ws". */
    val url: String,
    val appId: String,
    /** The user's id (1..64 of `A-Z a-z 0-9 - _ . @`). */
    val userId: String,
    /** From the app's token service (or [LocalServer.token]). */
    val token: String,
    /** Shown to people this user calls; null: the user id. */
    val nickname: String? = null,
    /** Offer only this IP as ICE host candidate; null: every interface. */
    val hostIp: String? = null,
)

/**
 * The rendezvous server inside the library (`media_local_server`), for
 * demos and tests: calls between engines of one process or one network.
 * [close] stops it. Needs a library built with the `server` feature
 * (desktop builds); mobile builds throw [MediaResult.UNSUPPORTED].
 */
class LocalServer(listen: String = "127.0.0.1:0", val appId: String = "demo", secret: String) : AutoCloseable {
    private var handle: Long

    init {
        val out = LongArray(1)
        MediaEngine.throwOnError(NativeLib.localServerStart(listen.utf8(), appId.utf8(), secret.utf8(), out))
        handle = out[0]
    }

    /** "ws://127.0.0.1:PORT/ws". */
    val url: String
        get() = NativeLib.localServerUrl(live())?.toString(Charsets.UTF_8)
            ?: throw MediaException(MediaResult.INTERNAL, "no server URL")

    /** A token for [userId], valid for [ttlSeconds]. */
    fun token(userId: String, ttlSeconds: Int = 3600): String =
        NativeLib.localServerToken(live(), userId.utf8(), ttlSeconds)?.toString(Charsets.UTF_8)
            ?: throw MediaException(
                MediaResult.INVALID_ARGUMENT,
                NativeLib.lastErrorMessage().toString(Charsets.UTF_8),
            )

    @Synchronized
    private fun live(): Long {
        check(handle != 0L) { "LocalServer is closed" }
        return handle
    }

    @Synchronized
    override fun close() {
        if (handle != 0L) NativeLib.localServerFree(handle)
        handle = 0
    }
}
