package org.libmedia

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit.SECONDS

/** Creating and closing engines many times leaves nothing behind. */
class LifecycleTest {
    private companion object {
        /** Every 20th cycle runs the echo test, so engine threads attach to and detach from the JVM. */
        const val ECHO_EVERY = 20
    }

    /**
     * One engine whose event listener is set twice (the first one replaced)
     * and a frame listener; every [echoEvery]-th also runs the echo test
     * until a remote frame arrives.
     */
    private fun cycle(i: Int, echoEvery: Int) {
        MediaEngine(smallFakeConfig()).use { engine ->
            val frame = CountDownLatch(1)
            engine.setEventListener { }
            engine.setEventListener { }
            engine.setFrameListener { if (it.source == FrameSource.REMOTE) frame.countDown() }
            if (i % echoEvery == 0) {
                engine.startEchoTest()
                assertTrue("cycle $i: no remote frame in 10 s", frame.await(10, SECONDS))
            }
        }
    }

    @Test(timeout = 150_000)
    fun thousand_create_close_cycles_grow_no_threads_fds_or_global_refs() {
        repeat(20) { cycle(it, echoEvery = 10) } // warm-up: JIT, lazily started JVM threads
        System.gc()
        val before = ProcessSnapshot.take()
        val t0 = System.nanoTime()
        val cycles = 1000
        repeat(cycles) { cycle(it, echoEvery = ECHO_EVERY) }
        val ms = (System.nanoTime() - t0) / 1_000_000
        System.gc()
        // Engine threads are joined by close(); JVM-internal threads may take a moment to settle.
        eventually(3_000) { ProcessSnapshot.take().threads <= before.threads }
        val after = ProcessSnapshot.take()
        println(
            "LifecycleTest: $cycles create/close cycles (${cycles / ECHO_EVERY} with the echo test) in $ms ms: " +
                "threads ${before.threads} -> ${after.threads} (JVM ${before.jvmThreads} -> ${after.jvmThreads}), fds ${before.fds} -> ${after.fds}, " +
                "global refs ${before.shim.globalRefs} -> ${after.shim.globalRefs}, " +
                "attached engine threads ${before.shim.attachedThreads} -> ${after.shim.attachedThreads}, " +
                "live engines ${before.shim.liveEngines} -> ${after.shim.liveEngines}, " +
                "media threads ${before.mediaThreads} -> ${after.mediaThreads}",
        )
        assertEquals("threads (/proc/self/task)", before.threads, after.threads)
        assertEquals("threads the JVM knows", before.jvmThreads, after.jvmThreads)
        assertEquals("file descriptors (/proc/self/fd)", before.fds, after.fds)
        assertEquals("JNI global references held by the shim", before.shim.globalRefs, after.shim.globalRefs)
        assertEquals("engine threads still attached to the JVM", 0L, after.shim.attachedThreads)
        assertEquals("engines not freed", before.shim.liveEngines, after.shim.liveEngines)
        assertEquals("media-* threads", before.mediaThreads, after.mediaThreads)
    }
}
