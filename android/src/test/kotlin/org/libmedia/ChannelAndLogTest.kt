package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit.SECONDS

/** A channel between two Kotlin engines, the lifecycle hooks in it, and the library's logs in Kotlin. */
class ChannelAndLogTest {
    @Test(timeout = 90_000)
    fun two_engines_in_a_channel_see_each_other_and_survive_an_audio_interruption() {
        val records = ConcurrentLinkedQueue<Triple<LogLevel, String, String>>()
        MediaLog.setListener(LogLevel.INFO) { level, target, message -> records += Triple(level, target, message) }
        try {
            LocalServer(secret = "channel-secret").use { server ->
                // The server logs when it starts: the record reached Kotlin.
                assertTrue("no log record from the library", eventually(5_000) { records.any { it.second.startsWith("media") } })
                val engines = listOf("ann", "ben").map { name ->
                    val engine = MediaEngine(smallFakeConfig().copy(videoFps = 15, statsIntervalMs = 0))
                    val joined = CountDownLatch(1)
                    val registered = CountDownLatch(1)
                    val remoteUids = ConcurrentHashMap.newKeySet<Long>()
                    engine.setEventListener { e ->
                        if (e.type == EventType.SERVER && e.serverState == 1) registered.countDown()
                        if (e.type == EventType.CHANNEL && e.channelEvent == 0) joined.countDown()
                    }
                    engine.setFrameListener { f -> if (f.source == FrameSource.REMOTE) remoteUids += f.uid }
                    engine.connectServer(ServerConfig(server.url, "demo", name, server.token(name), hostIp = "127.0.0.1"))
                    assertTrue("$name registered", registered.await(20, SECONDS))
                    engine.joinChannel("room-7")
                    assertTrue("$name joined", joined.await(20, SECONDS))
                    Triple(engine, remoteUids, name)
                }
                try {
                    for ((_, uids, name) in engines) {
                        assertTrue("$name sees the other member's video", eventually(20_000) { uids.isNotEmpty() })
                        assertTrue("$name: uids $uids", uids.all { it != 0L })
                    }
                    // A phone call takes the audio devices: the channel goes
                    // on, and audio comes back on resume.
                    val (ann, _, _) = engines[0]
                    ann.interruptAudio()
                    ann.setBackground(true)
                    ann.setBackground(false)
                    ann.resumeAudio()
                    val before = ann.stats().audioFramesDecoded
                    assertTrue("audio after resume", eventually(10_000) { ann.stats().audioFramesDecoded > before + 20 })
                    for ((engine, _, _) in engines) engine.leaveChannel("room-7")
                } finally {
                    engines.forEach { it.first.close() }
                }
            }
        } finally {
            MediaLog.setListener(LogLevel.INFO, null)
        }
        val n = records.size
        LocalServer(secret = "quiet").close()
        assertEquals("records after the listener was cleared", n, records.size)
        assertEquals(0, MediaEngine.shimCounters().callbackExceptions)
    }
}
