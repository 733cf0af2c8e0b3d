package org.libmedia

import java.io.File
import java.lang.management.ManagementFactory

/** What the process holds, read from /proc (Linux). */
data class ProcessSnapshot(
    /** Kernel tasks of this process (/proc/self/task). */
    val threads: Int,
    /** Threads the JVM knows (an attached thread that exited without detaching stays here). */
    val jvmThreads: Int,
    val fds: Int,
    val mediaThreads: List<String>,
    val shim: ShimCounters,
) {
    companion object {
        fun take(): ProcessSnapshot {
            val tasks = File("/proc/self/task").listFiles().orEmpty()
            val names = tasks.mapNotNull { t -> runCatching { File(t, "comm").readText().trim() }.getOrNull() }
            return ProcessSnapshot(
                threads = tasks.size,
                jvmThreads = ManagementFactory.getThreadMXBean().threadCount,
                fds = File("/proc/self/fd").list().orEmpty().size,
                mediaThreads = names.filter { it.startsWith("media") }.sorted(),
                shim = MediaEngine.shimCounters(),
            )
        }
    }
}

/** Polls [condition] until it holds or [timeoutMs] pass; returns whether it held. */
fun eventually(timeoutMs: Long, condition: () -> Boolean): Boolean {
    val deadline = System.nanoTime() + timeoutMs * 1_000_000
    while (true) {
        if (condition()) return true
        if (System.nanoTime() > deadline) return false
        Thread.sleep(10)
    }
}

/** A small fake-device engine config, quick to start. */
fun smallFakeConfig(): EngineConfig =
    EngineConfig.fake().copy(videoWidth = 320, videoHeight = 180, videoFps = 30)
