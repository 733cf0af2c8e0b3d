/*
 * media_jni.c: the JNI shim between the Kotlin wrapper (package org.libmedia)
 * and libmedia's C ABI (include/media.h). It owns nothing but JNI plumbing:
 * every decision stays in libmedia, every API shape in Kotlin.
 *
 * Threads. The engine calls back on its own threads ("media-events" for
 * events, "media-render" for frames), never on the thread that called in.
 * The first callback on such a thread attaches it to the JVM as a daemon,
 * under the thread's own name, and stores its JNIEnv under a pthread key;
 * later callbacks reuse it, and the key's destructor detaches the thread
 * when it exits (media_engine_free joins those threads, so after a close
 * every thread this shim attached is detached again).
 *
 * References. Each engine handle seen by Kotlin is a `jni_engine *` that
 * holds the media_engine and at most one global reference per sink (the
 * Kotlin dispatchers that wrap the app's listeners). Replacing a sink
 * deletes the old global reference at once: a callback that is running
 * holds its own local reference, taken under the engine's mutex, so the
 * object stays alive until that callback returns. Closing frees the engine
 * first (which joins its threads: no callback runs after that) and then
 * deletes the sinks' global references. Every callback runs inside
 * PushLocalFrame / PopLocalFrame, so the local references it creates (event
 * arrays, strings, frame buffers) are released when it returns, however
 * long the thread lives. A Java exception thrown by a listener is logged
 * and cleared here; it never reaches the engine.
 *
 * Frames. The I420 planes are handed over as direct ByteBuffers over the
 * engine's memory, with no copy: they are valid ONLY during the callback.
 *
 * Strings from the engine are handed over as UTF-8 byte[] (decoded in
 * Kotlin), not as NewStringUTF, which expects modified UTF-8 and would
 * reject characters outside the BMP (emoji in a nickname).
 */
#include <jni.h>

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "media.h"

#ifdef __ANDROID__
#include <android/log.h>
#endif

#define SHIM_JNI_VERSION JNI_VERSION_1_6

/* Field counts shared with Kotlin (NativeLib.kt): keep them in step. */
#define CONFIG_FIELDS 19
#define EVENT_INT_FIELDS 17
#define STATS_FIELDS 44
#define COUNTER_FIELDS 6

static JavaVM *g_vm;
static pthread_key_t g_env_key;

/* Debug counters, read by Kotlin through debugCounters(). */
static atomic_long g_global_refs;      /* global references this shim holds now */
static atomic_long g_attached_threads; /* engine threads attached by this shim, not yet detached */
static atomic_long g_exceptions;       /* Java exceptions caught in callbacks */
static atomic_long g_live_engines;     /* handles created and not yet freed */
static atomic_long g_events;           /* events handed to Kotlin */
static atomic_long g_frames;           /* frames handed to Kotlin */

static jclass g_event_sink_class;
static jmethodID g_on_event;
static jclass g_frame_sink_class;
static jmethodID g_on_frame;
static jclass g_log_sink_class;
static jmethodID g_on_log;
static jclass g_codec_class;
static jmethodID g_codec_new_encoder, g_codec_encode, g_codec_set_bitrate, g_codec_new_decoder,
    g_codec_decode, g_codec_close;
/* The process-wide log listener: a global reference to an
 * org.libmedia.LogDispatcher, or NULL. */
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static jobject g_log_sink;

typedef struct jni_engine {
    media_engine *engine;
    pthread_mutex_t lock; /* guards the two sinks */
    jobject event_sink;   /* global reference to an org.libmedia.EventDispatcher, or NULL */
    jobject frame_sink;   /* global reference to an org.libmedia.FrameDispatcher, or NULL */
    jobject codec;        /* global reference to the app's org.libmedia.CodecBridge, or NULL */
} jni_engine;

/* ---- logging ---------------------------------------------------------- */

static void shim_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
#ifdef __ANDROID__
    __android_log_vprint(ANDROID_LOG_WARN, "media_jni", fmt, ap);
#else
    fputs("media_jni: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
#endif
    va_end(ap);
}

/* Logs (with the Java stack trace) and clears a pending exception. True if
 * there was one. Used wherever a callback returns into the engine. */
static int clear_exception(JNIEnv *env, const char *where) {
    if (!(*env)->ExceptionCheck(env)) {
        return 0;
    }
    atomic_fetch_add(&g_exceptions, 1);
    shim_log("exception in %s (caught, not passed to the engine):", where);
    (*env)->ExceptionDescribe(env); /* prints the trace and clears it */
    (*env)->ExceptionClear(env);
    return 1;
}

/* ---- global references (counted) -------------------------------------- */

static jobject global_new(JNIEnv *env, jobject obj) {
    jobject g = (*env)->NewGlobalRef(env, obj);
    if (g != NULL) {
        atomic_fetch_add(&g_global_refs, 1);
    }
    return g;
}

static void global_delete(JNIEnv *env, jobject g) {
    if (g != NULL) {
        (*env)->DeleteGlobalRef(env, g);
        atomic_fetch_sub(&g_global_refs, 1);
    }
}

/* ---- engine threads ---------------------------------------------------- */

/* Key destructor: runs when an attached engine thread exits. */
static void detach_thread(void *env) {
    (void)env;
    if (g_vm != NULL) {
        (*g_vm)->DetachCurrentThread(g_vm);
        atomic_fetch_sub(&g_attached_threads, 1);
    }
}

/* The JNIEnv of the calling engine thread, attaching it on first use.
 * NULL (logged) if the VM refuses. */
static JNIEnv *callback_env(int *detach_now) {
    *detach_now = 0;
    JNIEnv *env = pthread_getspecific(g_env_key);
    if (env != NULL) {
        return env;
    }
    jint r = (*g_vm)->GetEnv(g_vm, (void **)&env, SHIM_JNI_VERSION);
    if (r == JNI_OK) {
        return env; /* a thread someone else attached (or a Java thread) */
    }
    if (r != JNI_EDETACHED) {
        shim_log("GetEnv failed (%d)", (int)r);
        return NULL;
    }
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0 || name[0] == '\0') {
        strcpy(name, "media-engine");
    }
    JavaVMAttachArgs args = {SHIM_JNI_VERSION, name, NULL};
#ifdef __ANDROID__
    r = (*g_vm)->AttachCurrentThreadAsDaemon(g_vm, &env, &args);
#else
    r = (*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, &args);
#endif
    if (r != JNI_OK || env == NULL) {
        shim_log("cannot attach thread %s to the JVM (%d)", name, (int)r);
        return NULL;
    }
    atomic_fetch_add(&g_attached_threads, 1);
    if (pthread_setspecific(g_env_key, env) != 0) {
        /* Without the key nothing would detach it at exit: detach after this callback. */
        shim_log("pthread_setspecific failed; thread %s is detached after each callback", name);
        *detach_now = 1;
    }
    return env;
}

/* After a callback: a thread whose key could not be set is detached now
 * (attached again on its next callback) rather than left attached for good. */
static void callback_done(int detach_now) {
    if (detach_now) {
        (*g_vm)->DetachCurrentThread(g_vm);
        atomic_fetch_sub(&g_attached_threads, 1);
    }
}

/* A local reference to *slot taken under the engine's lock, or NULL. */
static jobject sink_local(JNIEnv *env, jni_engine *ctx, jobject *slot) {
    jobject local = NULL;
    pthread_mutex_lock(&ctx->lock);
    if (*slot != NULL) {
        local = (*env)->NewLocalRef(env, *slot);
    }
    pthread_mutex_unlock(&ctx->lock);
    return local;
}

/* A UTF-8 byte[] holding `s`, or NULL for NULL (or when allocation failed). */
static jbyteArray utf8_bytes(JNIEnv *env, const char *s) {
    if (s == NULL) {
        return NULL;
    }
    size_t len = strlen(s);
    if (len > INT_MAX) {
        return NULL;
    }
    jbyteArray a = (*env)->NewByteArray(env, (jsize)len);
    if (a == NULL) {
        clear_exception(env, "NewByteArray");
        return NULL;
    }
    (*env)->SetByteArrayRegion(env, a, 0, (jsize)len, (const jbyte *)s);
    return a;
}

static void stats_to_longs(const media_stats *s, jlong out[STATS_FIELDS]) {
    const jlong v[STATS_FIELDS] = {
        (jlong)s->audio_frames_captured,
        (jlong)s->audio_frames_encoded,
        (jlong)s->audio_packets_received,
        (jlong)s->audio_packets_lost,
        (jlong)s->audio_frames_decoded,
        (jlong)s->audio_fec_recovered,
        (jlong)s->audio_concealed,
        (jlong)s->audio_playout_underruns,
        (jlong)s->audio_send_bitrate_bps,
        (jlong)s->audio_recv_bitrate_bps,
        (jlong)s->audio_jitter_us,
        (jlong)s->video_frames_captured,
        (jlong)s->video_frames_encoded,
        (jlong)s->video_frames_decoded,
        (jlong)s->video_frames_rendered,
        (jlong)s->video_frames_dropped,
        (jlong)s->video_frames_lost,
        (jlong)s->video_keyframes_sent,
        (jlong)s->video_keyframe_requests,
        (jlong)s->video_decode_errors,
        (jlong)s->video_send_bitrate_bps,
        (jlong)s->video_recv_bitrate_bps,
        (jlong)s->video_encode_latency_p50_us,
        (jlong)s->video_transport_latency_p50_us,
        (jlong)s->video_decode_latency_p50_us,
        (jlong)s->video_latency_p50_us,
        (jlong)s->video_latency_p95_us,
        (jlong)s->audio_push_dropped_frames,
        (jlong)s->audio_pull_silent_frames,
        (jlong)s->audio_expected_loss_pct,
        (jlong)s->audio_target_bitrate_bps,
        (jlong)s->video_send_width,
        (jlong)s->video_send_height,
        (jlong)s->video_send_fps,
        (jlong)s->video_render_delay_us,
        (jlong)s->video_freezes,
        (jlong)s->video_frozen_ms,
        (jlong)s->audio_frames_removed,
        (jlong)s->audio_samples_inserted,
        (jlong)s->audio_samples_removed,
        (jlong)s->audio_latency_us,
        (jlong)s->av_sync_offset_us,
        (jlong)s->audio_sync_delay_us,
        (jlong)s->video_sync_delay_us,
    };
    memcpy(out, v, sizeof v);
}

/* ---- callbacks (engine threads) ---------------------------------------- */

static void on_event(void *userdata, const media_event *ev) {
    jni_engine *ctx = userdata;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL) {
        return;
    }
    if ((*env)->PushLocalFrame(env, 16) != 0) {
        clear_exception(env, "PushLocalFrame (event)");
        callback_done(detach_now);
        return;
    }
    jobject sink = sink_local(env, ctx, &ctx->event_sink);
    if (sink != NULL) {
        const jint ints[EVENT_INT_FIELDS] = {
            (jint)ev->stream,        (jint)ev->state,       (jint)ev->error,
            (jint)ev->width,         (jint)ev->height,      (jint)ev->connection,
            (jint)ev->server_state,  (jint)ev->call,        (jint)ev->end_reason,
            (jint)ev->channel_event, (jint)ev->uid,         (jint)ev->video,
            (jint)ev->dropped,       (jint)ev->tx_quality,  (jint)ev->rx_quality,
            (jint)ev->audio_muted,   (jint)ev->video_muted,
        };
        jintArray fields = (*env)->NewIntArray(env, EVENT_INT_FIELDS);
        jlongArray stats = NULL;
        if (fields != NULL) {
            (*env)->SetIntArrayRegion(env, fields, 0, EVENT_INT_FIELDS, ints);
        }
        if (ev->stats != NULL) {
            jlong v[STATS_FIELDS];
            stats_to_longs(ev->stats, v);
            stats = (*env)->NewLongArray(env, STATS_FIELDS);
            if (stats != NULL) {
                (*env)->SetLongArrayRegion(env, stats, 0, STATS_FIELDS, v);
            }
        }
        if (clear_exception(env, "building an event") || fields == NULL) {
            shim_log("event %d dropped: out of memory", (int)ev->type);
        } else {
            jbyteArray message = utf8_bytes(env, ev->message);
            jbyteArray call_id = utf8_bytes(env, ev->call_id);
            jbyteArray user_id = utf8_bytes(env, ev->user_id);
            jbyteArray nickname = utf8_bytes(env, ev->nickname);
            jbyteArray channel = utf8_bytes(env, ev->channel);
            jbyteArray code = utf8_bytes(env, ev->code);
            (*env)->CallVoidMethod(env, sink, g_on_event, (jint)ev->type, fields, message,
                                   call_id, user_id, nickname, channel, code, stats,
                                   (jlong)ev->expires_at);
            if (!clear_exception(env, "EngineListener.onEvent")) {
                atomic_fetch_add(&g_events, 1);
            }
        }
    }
    (*env)->PopLocalFrame(env, NULL); /* releases every local reference made above */
    callback_done(detach_now);
}

static void on_frame(void *userdata, const media_video_frame *f) {
    jni_engine *ctx = userdata;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL) {
        return;
    }
    if ((*env)->PushLocalFrame(env, 8) != 0) {
        clear_exception(env, "PushLocalFrame (frame)");
        callback_done(detach_now);
        return;
    }
    jobject sink = sink_local(env, ctx, &ctx->frame_sink);
    if (sink != NULL) {
        jlong chroma_rows = (jlong)((f->height + 1) / 2);
        /* Read-only in Kotlin; the cast only drops const for the JNI signature. */
        jobject y = (*env)->NewDirectByteBuffer(env, (void *)(uintptr_t)f->y,
                                                (jlong)f->y_stride * (jlong)f->height);
        jobject u = (*env)->NewDirectByteBuffer(env, (void *)(uintptr_t)f->u,
                                                (jlong)f->u_stride * chroma_rows);
        jobject v = (*env)->NewDirectByteBuffer(env, (void *)(uintptr_t)f->v,
                                                (jlong)f->v_stride * chroma_rows);
        if (clear_exception(env, "NewDirectByteBuffer") || y == NULL || u == NULL || v == NULL) {
            shim_log("frame dropped: direct buffers unavailable");
        } else {
            (*env)->CallVoidMethod(env, sink, g_on_frame, (jint)f->source, (jint)f->width,
                                   (jint)f->height, y, u, v, (jint)f->y_stride,
                                   (jint)f->u_stride, (jint)f->v_stride,
                                   (jlong)f->capture_time_us, (jint)f->uid);
            if (!clear_exception(env, "FrameListener.onFrame")) {
                atomic_fetch_add(&g_frames, 1);
            }
        }
    }
    (*env)->PopLocalFrame(env, NULL);
    callback_done(detach_now);
}

/* ---- load / unload ----------------------------------------------------- */

static jclass global_class(JNIEnv *env, const char *name) {
    jclass local = (*env)->FindClass(env, name);
    if (local == NULL) {
        return NULL;
    }
    jclass g = global_new(env, local);
    (*env)->DeleteLocalRef(env, local);
    return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env = NULL;
    if ((*vm)->GetEnv(vm, (void **)&env, SHIM_JNI_VERSION) != JNI_OK) {
        return JNI_ERR;
    }
    g_vm = vm;
    if (pthread_key_create(&g_env_key, detach_thread) != 0) {
        return JNI_ERR;
    }
    g_event_sink_class = global_class(env, "org/libmedia/EventDispatcher");
    g_frame_sink_class = global_class(env, "org/libmedia/FrameDispatcher");
    g_log_sink_class = global_class(env, "org/libmedia/LogDispatcher");
    g_codec_class = global_class(env, "org/libmedia/CodecBridge");
    if (g_event_sink_class == NULL || g_frame_sink_class == NULL || g_log_sink_class == NULL ||
        g_codec_class == NULL) {
        return JNI_ERR; /* NoClassDefFoundError is pending */
    }
    g_on_event = (*env)->GetMethodID(env, g_event_sink_class, "onNativeEvent",
                                     "(I[I[B[B[B[B[B[B[JJ)V");
    g_on_frame = (*env)->GetMethodID(
        env, g_frame_sink_class, "onNativeFrame",
        "(IIILjava/nio/ByteBuffer;Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;IIIJI)V");
    g_on_log = (*env)->GetMethodID(env, g_log_sink_class, "onNativeLog", "(I[B[B)V");
    if (g_on_event == NULL || g_on_frame == NULL || g_on_log == NULL) {
        return JNI_ERR; /* NoSuchMethodError is pending */
    }
#define BUF "Ljava/nio/ByteBuffer;"
    g_codec_new_encoder = (*env)->GetMethodID(env, g_codec_class, "newEncoder", "(IIII)Ljava/lang/Object;");
    g_codec_encode = (*env)->GetMethodID(env, g_codec_class, "encode",
                                         "(Ljava/lang/Object;" BUF BUF BUF "IIIJZ" BUF ")I");
    g_codec_set_bitrate = (*env)->GetMethodID(env, g_codec_class, "setBitrate", "(Ljava/lang/Object;I)I");
    g_codec_new_decoder = (*env)->GetMethodID(env, g_codec_class, "newDecoder", "()Ljava/lang/Object;");
    g_codec_decode = (*env)->GetMethodID(env, g_codec_class, "decode",
                                         "(Ljava/lang/Object;" BUF "[I[" BUF ")I");
    g_codec_close = (*env)->GetMethodID(env, g_codec_class, "close", "(Ljava/lang/Object;)V");
#undef BUF
    if (g_codec_new_encoder == NULL || g_codec_encode == NULL || g_codec_set_bitrate == NULL ||
        g_codec_new_decoder == NULL || g_codec_decode == NULL || g_codec_close == NULL) {
        return JNI_ERR;
    }
    return SHIM_JNI_VERSION;
}

JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env = NULL;
    if ((*vm)->GetEnv(vm, (void **)&env, SHIM_JNI_VERSION) == JNI_OK) {
        global_delete(env, g_event_sink_class);
        global_delete(env, g_frame_sink_class);
        global_delete(env, g_log_sink_class);
        global_delete(env, g_codec_class);
    }
    g_event_sink_class = NULL;
    g_frame_sink_class = NULL;
    g_log_sink_class = NULL;
    g_codec_class = NULL;
}

/* ---- the app's video codec (media_video_codec over org.libmedia.CodecBridge) ----
 *
 * Encoders and decoders are the Kotlin objects the bridge returns, held here
 * by a global reference each until the engine frees them (encoder_free /
 * decoder_free call the bridge's close). The callbacks run on engine
 * threads, attached as for events; the bridge catches every throwable, and
 * a pending exception is cleared and counted as a failure all the same. */

typedef struct jni_coder {
    jobject bridge; /* the engine's CodecBridge (global; the engine's own reference outlives the coder) */
    jobject obj;    /* the Kotlin encoder or decoder (global) */
    jintArray ints; /* decoders: format, width, height, strides (global) */
    jobjectArray planes; /* decoders: the picture's planes (global) */
} jni_coder;

/* Holds the Kotlin encoder or decoder `obj`; NULL when out of memory, and
 * then `obj` is closed rather than leaked. */
static jni_coder *coder_new(JNIEnv *env, jobject bridge, jobject obj) {
    jni_coder *c = calloc(1, sizeof *c);
    if (c != NULL) {
        c->bridge = bridge;
        c->obj = global_new(env, obj);
    }
    if (c == NULL || c->obj == NULL) {
        free(c);
        (*env)->CallVoidMethod(env, bridge, g_codec_close, obj);
        clear_exception(env, "VideoCodec close");
        return NULL;
    }
    return c;
}

/* Gives a decoder's coder the arrays its pictures come back in; 0 when the
 * JVM cannot make them. */
static int decoder_arrays(JNIEnv *env, jni_coder *c) {
    jintArray ints = (*env)->NewIntArray(env, 6);
    if (clear_exception(env, "NewIntArray (decoder)") || ints == NULL) {
        return 0;
    }
    jclass buffer = (*env)->FindClass(env, "java/nio/ByteBuffer");
    if (clear_exception(env, "FindClass ByteBuffer") || buffer == NULL) {
        return 0;
    }
    jobjectArray planes = (*env)->NewObjectArray(env, 3, buffer, NULL);
    if (clear_exception(env, "NewObjectArray (decoder)") || planes == NULL) {
        return 0;
    }
    c->ints = global_new(env, ints);
    c->planes = global_new(env, planes);
    return c->ints != NULL && c->planes != NULL;
}

static void coder_free(void *p) {
    jni_coder *c = p;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env != NULL) {
        (*env)->CallVoidMethod(env, c->bridge, g_codec_close, c->obj);
        clear_exception(env, "VideoCodec close");
        global_delete(env, c->obj);
        global_delete(env, c->ints);
        global_delete(env, c->planes);
        callback_done(detach_now);
    }
    free(c);
}

static void *codec_encoder_new(void *userdata, const media_video_encoder_settings *s) {
    jni_engine *ctx = userdata;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL) {
        return NULL;
    }
    jni_coder *c = NULL;
    if ((*env)->PushLocalFrame(env, 4) == 0) {
        jobject enc = (*env)->CallObjectMethod(env, ctx->codec, g_codec_new_encoder, (jint)s->width,
                                               (jint)s->height, (jint)s->fps, (jint)s->bitrate_bps);
        if (!clear_exception(env, "VideoCodec.newEncoder") && enc != NULL) {
            c = coder_new(env, ctx->codec, enc);
        }
        (*env)->PopLocalFrame(env, NULL);
    } else {
        clear_exception(env, "PushLocalFrame (encoder)");
    }
    callback_done(detach_now);
    return c;
}

static int32_t codec_encode(void *encoder, const media_video_push_frame *f, bool keyframe, uint8_t *out,
                            size_t capacity, size_t *out_len) {
    jni_coder *c = encoder;
    *out_len = 0;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL) {
        return -1;
    }
    if ((*env)->PushLocalFrame(env, 8) != 0) {
        clear_exception(env, "PushLocalFrame (encode)");
        callback_done(detach_now);
        return -1;
    }
    jint n = -1;
    jlong rows[3] = {f->height, (f->height + 1) / 2, (f->height + 1) / 2};
    jobject planes[3] = {NULL, NULL, NULL};
    jobject dst = NULL;
    int ok = 1;
    for (int i = 0; i < 3 && ok; i++) {
        planes[i] = (*env)->NewDirectByteBuffer(env, (void *)(uintptr_t)f->planes[i], (jlong)f->strides[i] * rows[i]);
        ok = !clear_exception(env, "NewDirectByteBuffer (encode)") && planes[i] != NULL;
    }
    if (ok) {
        dst = (*env)->NewDirectByteBuffer(env, out, (jlong)(capacity > INT_MAX ? INT_MAX : capacity));
        ok = !clear_exception(env, "NewDirectByteBuffer (encode)") && dst != NULL;
    }
    if (ok) {
        n = (*env)->CallIntMethod(env, c->bridge, g_codec_encode, c->obj, planes[0], planes[1], planes[2],
                                  (jint)f->strides[0], (jint)f->strides[1], (jint)f->strides[2],
                                  (jlong)f->timestamp_us, (jboolean)keyframe, dst);
        if (clear_exception(env, "VideoEncoder.encode")) {
            n = -1;
        }
    }
    (*env)->PopLocalFrame(env, NULL);
    callback_done(detach_now);
    if (n < 0 || (size_t)n > capacity) {
        return -1;
    }
    *out_len = (size_t)n;
    return 0;
}

static int32_t codec_set_bitrate(void *encoder, uint32_t bps) {
    jni_coder *c = encoder;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL) {
        return -1;
    }
    jint r = (*env)->CallIntMethod(env, c->bridge, g_codec_set_bitrate, c->obj,
                                   (jint)(bps > INT_MAX ? INT_MAX : bps));
    if (clear_exception(env, "VideoEncoder.setBitrate")) {
        r = -1;
    }
    callback_done(detach_now);
    return r;
}

static void *codec_decoder_new(void *userdata) {
    jni_engine *ctx = userdata;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL) {
        return NULL;
    }
    jni_coder *c = NULL;
    if ((*env)->PushLocalFrame(env, 8) == 0) {
        jobject dec = (*env)->CallObjectMethod(env, ctx->codec, g_codec_new_decoder);
        if (!clear_exception(env, "VideoCodec.newDecoder") && dec != NULL) {
            c = coder_new(env, ctx->codec, dec);
            if (c != NULL && !decoder_arrays(env, c)) {
                coder_free(c); /* closes the Kotlin decoder */
                c = NULL;
            }
        }
        (*env)->PopLocalFrame(env, NULL);
    } else {
        clear_exception(env, "PushLocalFrame (decoder)");
    }
    callback_done(detach_now);
    return c;
}

static int32_t codec_decode(void *decoder, const uint8_t *data, size_t len, media_video_push_frame *out) {
    jni_coder *c = decoder;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL || len > INT_MAX) {
        return -1;
    }
    if ((*env)->PushLocalFrame(env, 8) != 0) {
        clear_exception(env, "PushLocalFrame (decode)");
        callback_done(detach_now);
        return -1;
    }
    int32_t result = -1;
    jobject src = (*env)->NewDirectByteBuffer(env, (void *)(uintptr_t)data, (jlong)len);
    jint got = -1;
    if (!clear_exception(env, "NewDirectByteBuffer (decode)") && src != NULL) {
        got = (*env)->CallIntMethod(env, c->bridge, g_codec_decode, c->obj, src, c->ints, c->planes);
        if (clear_exception(env, "VideoDecoder.decode")) {
            got = -1;
        }
    }
    if (got == 0) {
        result = 0; /* no picture: out->width stays 0 */
    } else if (got == 1) {
        jint v[6];
        (*env)->GetIntArrayRegion(env, c->ints, 0, 6, v);
        result = 0;
        uint32_t height = v[2] > 0 ? (uint32_t)v[2] : 0;
        for (int i = 0; i < 3 && result == 0; i++) {
            jobject plane = (*env)->GetObjectArrayElement(env, c->planes, i);
            if (plane == NULL) {
                out->planes[i] = NULL; /* a two-plane format's third */
                continue;
            }
            void *addr = (*env)->GetDirectBufferAddress(env, plane);
            jlong capacity = (*env)->GetDirectBufferCapacity(env, plane);
            jlong rows = i == 0 ? (jlong)height : (jlong)(height + 1) / 2;
            /* The engine reads `stride` bytes for each row but the last: the
             * buffer must hold that much (a last row at least as long as the
             * stride is asked for, a bound the planes' owner can always meet). */
            if (addr == NULL || v[3 + i] < 0 || capacity < (jlong)v[3 + i] * rows) {
                shim_log("the app's decoder returned plane %d of %lld bytes for stride %d x %lld rows", i,
                         (long long)capacity, (int)v[3 + i], (long long)rows);
                result = -1;
                break;
            }
            out->planes[i] = addr;
            out->strides[i] = (uint32_t)v[3 + i];
        }
        if (result == 0) {
            out->format = (uint32_t)v[0];
            out->width = v[1] > 0 ? (uint32_t)v[1] : 0;
            out->height = height;
        }
    }
    (*env)->PopLocalFrame(env, NULL);
    callback_done(detach_now);
    return result;
}

/* ---- native methods of org.libmedia.NativeLib -------------------------- */

#define NATIVE(ret, name) JNIEXPORT ret JNICALL Java_org_libmedia_NativeLib_##name

static jni_engine *ctx_of(jlong handle) {
    return (jni_engine *)(intptr_t)handle;
}

NATIVE(jstring, version)(JNIEnv *env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, media_version()); /* ASCII */
}

NATIVE(jstring, resultString)(JNIEnv *env, jclass cls, jint code) {
    (void)cls;
    return (*env)->NewStringUTF(env, media_result_str((uint32_t)code)); /* ASCII */
}

NATIVE(jbyteArray, lastErrorMessage)(JNIEnv *env, jclass cls) {
    (void)cls;
    size_t len = media_last_error_message(NULL, 0);
    if (len == 0 || len >= INT_MAX) {
        return (*env)->NewByteArray(env, 0);
    }
    char *buf = malloc(len + 1);
    if (buf == NULL) {
        return (*env)->NewByteArray(env, 0);
    }
    buf[0] = '\0';
    media_last_error_message(buf, len + 1); /* cut at a character boundary if it grew */
    jsize n = (jsize)strlen(buf);
    jbyteArray out = (*env)->NewByteArray(env, n);
    if (out != NULL) {
        (*env)->SetByteArrayRegion(env, out, 0, n, (const jbyte *)buf);
    }
    free(buf);
    return out;
}

/* fields: CONFIG_FIELDS values, each -1 (keep the base config's value) or
 * 0..UINT32_MAX, in NativeLib.kt's order. out[0] receives the handle. */
NATIVE(jint, engineNew)(JNIEnv *env, jclass cls, jboolean fake, jlongArray fields,
                        jobject codec, jlongArray out) {
    (void)cls;
    if (fields == NULL || out == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    if ((*env)->GetArrayLength(env, fields) != CONFIG_FIELDS ||
        (*env)->GetArrayLength(env, out) < 1) {
        return MEDIA_ERR_INVALID_ARGUMENT;
    }
    jlong v[CONFIG_FIELDS];
    (*env)->GetLongArrayRegion(env, fields, 0, CONFIG_FIELDS, v);
    media_engine_config cfg;
    if (fake) {
        media_engine_config_fake(&cfg);
    } else {
        media_engine_config_default(&cfg);
    }
    uint32_t *slots[CONFIG_FIELDS] = {
        &cfg.audio_input,           &cfg.audio_output,          &cfg.video_input,
        &cfg.camera_index,          &cfg.video_width,           &cfg.video_height,
        &cfg.video_fps,             &cfg.video_bitrate_bps,     &cfg.video_min_bitrate_bps,
        &cfg.video_max_bitrate_bps, &cfg.audio_bitrate_bps,     &cfg.stats_interval_ms,
        &cfg.audio_input_sample_rate, &cfg.audio_input_channels,
        &cfg.audio_output_sample_rate, &cfg.audio_output_channels,
        &cfg.voice_processing,      &cfg.video_delay,           &cfg.lip_sync,
    };
    for (int i = 0; i < CONFIG_FIELDS; i++) {
        if (v[i] == -1) {
            continue;
        }
        if (v[i] < 0 || v[i] > (jlong)UINT32_MAX) {
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        *slots[i] = (uint32_t)v[i];
    }
    jni_engine *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        return MEDIA_ERR_INTERNAL;
    }
    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        free(ctx);
        return MEDIA_ERR_INTERNAL;
    }
    media_video_codec vc;
    if (codec != NULL) {
        ctx->codec = global_new(env, codec);
        if (ctx->codec == NULL) {
            pthread_mutex_destroy(&ctx->lock);
            free(ctx);
            return MEDIA_ERR_INTERNAL;
        }
        memset(&vc, 0, sizeof vc);
        vc.struct_size = sizeof vc;
        vc.userdata = ctx;
        vc.encoder_new = codec_encoder_new;
        vc.encoder_encode = codec_encode;
        vc.encoder_set_bitrate = codec_set_bitrate;
        vc.encoder_free = coder_free;
        vc.decoder_new = codec_decoder_new;
        vc.decoder_decode = codec_decode;
        vc.decoder_free = coder_free;
        cfg.video_codec = &vc; /* copied by media_engine_new */
    }
    media_result r = media_engine_new(&cfg, &ctx->engine);
    if (r != MEDIA_OK) {
        global_delete(env, ctx->codec);
        pthread_mutex_destroy(&ctx->lock);
        free(ctx);
        return (jint)r;
    }
    atomic_fetch_add(&g_live_engines, 1);
    jlong handle = (jlong)(intptr_t)ctx;
    (*env)->SetLongArrayRegion(env, out, 0, 1, &handle);
    return MEDIA_OK;
}

/* Frees the engine (joining its threads), then the sinks. Not from a callback. */
NATIVE(void, engineFree)(JNIEnv *env, jclass cls, jlong handle) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL) {
        return;
    }
    media_engine_free(ctx->engine); /* after this no callback runs */
    pthread_mutex_lock(&ctx->lock);
    jobject ev = ctx->event_sink, fr = ctx->frame_sink;
    ctx->event_sink = NULL;
    ctx->frame_sink = NULL;
    pthread_mutex_unlock(&ctx->lock);
    global_delete(env, ev);
    global_delete(env, fr);
    global_delete(env, ctx->codec); /* every encoder and decoder was freed with the engine */
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
    atomic_fetch_sub(&g_live_engines, 1);
}

/* Replaces the sink in *slot with `sink` (NULL clears it); the old global
 * reference is deleted now (a running callback keeps its local one). */
static void swap_sink(JNIEnv *env, jni_engine *ctx, jobject *slot, jobject sink, int *ok) {
    jobject g = NULL;
    *ok = 1;
    if (sink != NULL) {
        g = global_new(env, sink);
        if (g == NULL) {
            *ok = 0; /* OutOfMemoryError is pending */
            return;
        }
    }
    pthread_mutex_lock(&ctx->lock);
    jobject old = *slot;
    *slot = g;
    pthread_mutex_unlock(&ctx->lock);
    global_delete(env, old);
}

NATIVE(jint, setEventSink)(JNIEnv *env, jclass cls, jlong handle, jobject sink) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    int ok;
    swap_sink(env, ctx, &ctx->event_sink, sink, &ok);
    if (!ok) {
        return MEDIA_ERR_INTERNAL;
    }
    /* With no sink the engine skips the callback (and its thread stays detached). */
    return (jint)media_engine_set_event_callback(ctx->engine, sink ? on_event : NULL,
                                                 sink ? ctx : NULL);
}

NATIVE(jint, setFrameSink)(JNIEnv *env, jclass cls, jlong handle, jobject sink) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    int ok;
    swap_sink(env, ctx, &ctx->frame_sink, sink, &ok);
    if (!ok) {
        return MEDIA_ERR_INTERNAL;
    }
    return (jint)media_engine_set_frame_callback(ctx->engine, sink ? on_frame : NULL,
                                                 sink ? ctx : NULL);
}

#define ENGINE_CALL(name, call)                                            \
    NATIVE(jint, name)(JNIEnv * env, jclass cls, jlong handle) {           \
        (void)env;                                                         \
        (void)cls;                                                         \
        jni_engine *ctx = ctx_of(handle);                                  \
        return ctx ? (jint)call(ctx->engine) : (jint)MEDIA_ERR_NULL_ARGUMENT; \
    }

ENGINE_CALL(startEchoTest, media_engine_start_echo_test)
ENGINE_CALL(stopEchoTest, media_engine_stop_echo_test)
ENGINE_CALL(startLocalPreview, media_engine_start_local_preview)
ENGINE_CALL(stopLocalPreview, media_engine_stop_local_preview)
ENGINE_CALL(startLocalAudio, media_engine_start_local_audio)
ENGINE_CALL(stopLocalAudio, media_engine_stop_local_audio)

NATIVE(jint, muteLocalAudio)(JNIEnv *env, jclass cls, jlong handle, jboolean muted) {
    (void)env;
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    return ctx ? (jint)media_engine_mute_local_audio(ctx->engine, muted != JNI_FALSE)
               : (jint)MEDIA_ERR_NULL_ARGUMENT;
}

NATIVE(jint, muteLocalVideo)(JNIEnv *env, jclass cls, jlong handle, jboolean muted) {
    (void)env;
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    return ctx ? (jint)media_engine_mute_local_video(ctx->engine, muted != JNI_FALSE)
               : (jint)MEDIA_ERR_NULL_ARGUMENT;
}

NATIVE(jint, setVideoBitrate)(JNIEnv *env, jclass cls, jlong handle, jlong bps) {
    (void)env;
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    if (bps < 0 || bps > (jlong)UINT32_MAX) {
        return MEDIA_ERR_INVALID_ARGUMENT;
    }
    return (jint)media_engine_set_video_bitrate(ctx->engine, (uint32_t)bps);
}

NATIVE(jint, getStats)(JNIEnv *env, jclass cls, jlong handle, jlongArray out) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || out == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    if ((*env)->GetArrayLength(env, out) < STATS_FIELDS) {
        return MEDIA_ERR_BUFFER_TOO_SMALL;
    }
    media_stats s = {.struct_size = sizeof s};
    media_result r = media_engine_get_stats(ctx->engine, &s);
    if (r == MEDIA_OK) {
        jlong v[STATS_FIELDS];
        stats_to_longs(&s, v);
        (*env)->SetLongArrayRegion(env, out, 0, STATS_FIELDS, v);
    }
    return (jint)r;
}

/* Host-fed video: planes are direct ByteBuffers (CameraX's ImageProxy
 * planes, or any allocateDirect buffer), read only during the call. */
NATIVE(jint, pushVideoFrame)(JNIEnv *env, jclass cls, jlong handle, jint format, jint width,
                             jint height, jobject p0, jint s0, jobject p1, jint s1, jobject p2,
                             jint s2, jint rotation, jlong timestamp_us) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || p0 == NULL || p1 == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    if (format < 0 || width < 0 || height < 0 || s0 < 0 || s1 < 0 || s2 < 0 || rotation < 0 ||
        timestamp_us < 0) {
        return MEDIA_ERR_INVALID_ARGUMENT;
    }
    jobject planes[3] = {p0, p1, p2};
    jint strides[3] = {s0, s1, s2};
    media_video_push_frame f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.format = (uint32_t)format;
    f.width = (uint32_t)width;
    f.height = (uint32_t)height;
    f.rotation = (uint32_t)rotation;
    f.timestamp_us = (uint64_t)timestamp_us;
    for (int i = 0; i < 3; i++) {
        f.strides[i] = (uint32_t)strides[i];
        if (planes[i] == NULL) {
            continue;
        }
        void *addr = (*env)->GetDirectBufferAddress(env, planes[i]);
        jlong cap = (*env)->GetDirectBufferCapacity(env, planes[i]);
        if (addr == NULL || cap < 0) {
            return MEDIA_ERR_INVALID_ARGUMENT; /* not a direct buffer */
        }
        /* The C API takes bare pointers, so the buffer's capacity is
         * checked here: every row the frame's size and stride promise must
         * lie inside it. */
        jlong rows = i == 0 ? height : (height + 1) / 2;
        jlong row_len = i == 0 ? width : (format == 0 ? (width + 1) / 2 : width);
        if (rows > 0 && (jlong)strides[i] * (rows - 1) + row_len > cap) {
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        f.planes[i] = addr;
    }
    return (jint)media_engine_push_video_frame(ctx->engine, &f);
}

/* Host audio: a ShortArray region, pinned for the copy only. */
NATIVE(jint, pushAudio)(JNIEnv *env, jclass cls, jlong handle, jshortArray pcm, jint offset,
                        jint count) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || pcm == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    jsize len = (*env)->GetArrayLength(env, pcm);
    if (offset < 0 || count < 0 || offset > len - count) {
        return MEDIA_ERR_INVALID_ARGUMENT;
    }
    jshort *samples = (*env)->GetPrimitiveArrayCritical(env, pcm, NULL);
    if (samples == NULL) {
        clear_exception(env, "pushAudio");
        return MEDIA_ERR_INTERNAL;
    }
    media_result r = media_engine_push_audio(ctx->engine, samples + offset, (size_t)count);
    (*env)->ReleasePrimitiveArrayCritical(env, pcm, samples, JNI_ABORT);
    return (jint)r;
}

/* Returns the frames of real audio (>= 0) or minus a media_result. */
NATIVE(jint, pullAudio)(JNIEnv *env, jclass cls, jlong handle, jshortArray pcm, jint offset,
                        jint count) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || pcm == NULL) {
        return -(jint)MEDIA_ERR_NULL_ARGUMENT;
    }
    jsize len = (*env)->GetArrayLength(env, pcm);
    if (offset < 0 || count < 0 || offset > len - count) {
        return -(jint)MEDIA_ERR_INVALID_ARGUMENT;
    }
    jshort *samples = (*env)->GetPrimitiveArrayCritical(env, pcm, NULL);
    if (samples == NULL) {
        clear_exception(env, "pullAudio");
        return -(jint)MEDIA_ERR_INTERNAL;
    }
    size_t frames = 0;
    media_result r = media_engine_pull_audio(ctx->engine, samples + offset, (size_t)count, &frames);
    (*env)->ReleasePrimitiveArrayCritical(env, pcm, samples, 0);
    return r == MEDIA_OK ? (jint)frames : -(jint)r;
}

/* A NUL-terminated copy of UTF-8 bytes (NULL stays NULL); free() it. */
static char *utf8_dup(JNIEnv *env, jbyteArray bytes, int *oom) {
    if (bytes == NULL) {
        return NULL;
    }
    jsize n = (*env)->GetArrayLength(env, bytes);
    char *s = malloc((size_t)n + 1);
    if (s == NULL) {
        *oom = 1;
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, bytes, 0, n, (jbyte *)s);
    s[n] = '\0';
    return s;
}

NATIVE(jint, connectServer)(JNIEnv *env, jclass cls, jlong handle, jbyteArray url,
                            jbyteArray app_id, jbyteArray user_id, jbyteArray nickname,
                            jbyteArray token, jbyteArray host_ip) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    int oom = 0;
    char *s[6] = {utf8_dup(env, url, &oom),      utf8_dup(env, app_id, &oom),
                  utf8_dup(env, user_id, &oom),  utf8_dup(env, nickname, &oom),
                  utf8_dup(env, token, &oom),    utf8_dup(env, host_ip, &oom)};
    media_result r = MEDIA_ERR_INTERNAL;
    if (!oom) {
        media_server_config sc;
        media_server_config_default(&sc);
        sc.url = s[0];
        sc.app_id = s[1];
        sc.user_id = s[2];
        sc.nickname = s[3];
        sc.token = s[4];
        sc.host_ip = s[5];
        r = media_engine_connect_server(ctx->engine, &sc);
    }
    for (int i = 0; i < 6; i++) {
        free(s[i]);
    }
    return (jint)r;
}

/* out[0] receives the call id as UTF-8. */
NATIVE(jint, call)(JNIEnv *env, jclass cls, jlong handle, jbyteArray user_id, jboolean video,
                   jobjectArray out) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || user_id == NULL || out == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    int oom = 0;
    char *user = utf8_dup(env, user_id, &oom);
    if (user == NULL) {
        return MEDIA_ERR_INTERNAL;
    }
    char call_id[128];
    media_result r = media_engine_call(ctx->engine, user, video != JNI_FALSE, call_id, sizeof call_id);
    free(user);
    if (r == MEDIA_OK) {
        jbyteArray id = utf8_bytes(env, call_id);
        (*env)->SetObjectArrayElement(env, out, 0, id);
        (*env)->DeleteLocalRef(env, id);
        if (clear_exception(env, "call")) {
            return MEDIA_ERR_INTERNAL;
        }
    }
    return (jint)r;
}

NATIVE(jint, accept)(JNIEnv *env, jclass cls, jlong handle, jbyteArray call_id) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || call_id == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    int oom = 0;
    char *id = utf8_dup(env, call_id, &oom);
    if (id == NULL) {
        return MEDIA_ERR_INTERNAL;
    }
    media_result r = media_engine_accept(ctx->engine, id);
    free(id);
    return (jint)r;
}

ENGINE_CALL(hangup, media_engine_hangup)
ENGINE_CALL(disconnectServer, media_engine_disconnect_server)

/* The in-process rendezvous server (demos and tests). out[0]: handle. */
NATIVE(jint, localServerStart)(JNIEnv *env, jclass cls, jbyteArray listen, jbyteArray app_id,
                               jbyteArray secret, jlongArray out) {
    (void)cls;
    if (out == NULL || (*env)->GetArrayLength(env, out) < 1) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    int oom = 0;
    char *s[3] = {utf8_dup(env, listen, &oom), utf8_dup(env, app_id, &oom),
                  utf8_dup(env, secret, &oom)};
    media_local_server *server = NULL;
    media_result r = oom ? MEDIA_ERR_INTERNAL : media_local_server_start(s[0], s[1], s[2], &server);
    for (int i = 0; i < 3; i++) {
        free(s[i]);
    }
    if (r == MEDIA_OK) {
        jlong h = (jlong)(intptr_t)server;
        (*env)->SetLongArrayRegion(env, out, 0, 1, &h);
    }
    return (jint)r;
}

/* The server's URL as UTF-8, or NULL. */
NATIVE(jbyteArray, localServerUrl)(JNIEnv *env, jclass cls, jlong server) {
    (void)cls;
    char url[256];
    if (media_local_server_url((media_local_server *)(intptr_t)server, url, sizeof url) != MEDIA_OK) {
        return NULL;
    }
    return utf8_bytes(env, url);
}

/* A token for `user_id` as UTF-8, or NULL (media_last_error_message says why). */
NATIVE(jbyteArray, localServerToken)(JNIEnv *env, jclass cls, jlong server, jbyteArray user_id,
                                     jint ttl_seconds) {
    (void)cls;
    int oom = 0;
    char *user = utf8_dup(env, user_id, &oom);
    char token[512];
    media_result r = ttl_seconds < 0 ? MEDIA_ERR_INVALID_ARGUMENT
                     : media_local_server_token((media_local_server *)(intptr_t)server, user,
                                                (uint32_t)ttl_seconds, token, sizeof token);
    free(user);
    return r == MEDIA_OK ? utf8_bytes(env, token) : NULL;
}

NATIVE(void, localServerFree)(JNIEnv *env, jclass cls, jlong server) {
    (void)env;
    (void)cls;
    media_local_server_free((media_local_server *)(intptr_t)server);
}

ENGINE_CALL(interruptAudio, media_engine_interrupt_audio)
ENGINE_CALL(resumeAudio, media_engine_resume_audio)

NATIVE(jint, setBackground)(JNIEnv *env, jclass cls, jlong handle, jboolean background) {
    (void)env;
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    return ctx ? (jint)media_engine_set_background(ctx->engine, background != JNI_FALSE)
               : (jint)MEDIA_ERR_NULL_ARGUMENT;
}

NATIVE(jint, joinChannel)(JNIEnv *env, jclass cls, jlong handle, jbyteArray channel, jlong uid,
                          jboolean audience) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || channel == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    if (uid < 0 || uid > (jlong)UINT32_MAX) {
        return MEDIA_ERR_INVALID_ARGUMENT;
    }
    int oom = 0;
    char *name = utf8_dup(env, channel, &oom);
    if (name == NULL) {
        return MEDIA_ERR_INTERNAL;
    }
    media_result r = media_engine_join_channel(ctx->engine, name, (uint32_t)uid, audience != JNI_FALSE);
    free(name);
    return (jint)r;
}

NATIVE(jint, leaveChannel)(JNIEnv *env, jclass cls, jlong handle, jbyteArray channel) {
    (void)cls;
    jni_engine *ctx = ctx_of(handle);
    if (ctx == NULL || channel == NULL) {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    int oom = 0;
    char *name = utf8_dup(env, channel, &oom);
    if (name == NULL) {
        return MEDIA_ERR_INTERNAL;
    }
    media_result r = media_engine_leave_channel(ctx->engine, name);
    free(name);
    return (jint)r;
}

/* A library log record, on whichever library thread logged: handed to the
 * Kotlin listener (which forwards it to logcat). */
static void on_log(void *userdata, uint32_t level, const char *target, const char *message) {
    (void)userdata;
    int detach_now;
    JNIEnv *env = callback_env(&detach_now);
    if (env == NULL) {
        return;
    }
    if ((*env)->PushLocalFrame(env, 4) != 0) {
        clear_exception(env, "PushLocalFrame (log)");
        callback_done(detach_now);
        return;
    }
    jobject sink = NULL;
    pthread_mutex_lock(&g_log_lock);
    if (g_log_sink != NULL) {
        sink = (*env)->NewLocalRef(env, g_log_sink);
    }
    pthread_mutex_unlock(&g_log_lock);
    if (sink != NULL) {
        jbyteArray t = utf8_bytes(env, target);
        jbyteArray m = utf8_bytes(env, message);
        if (!clear_exception(env, "building a log record")) {
            (*env)->CallVoidMethod(env, sink, g_on_log, (jint)level, t, m);
            clear_exception(env, "LogListener.onLog");
        }
    }
    (*env)->PopLocalFrame(env, NULL);
    callback_done(detach_now);
}

/* Sets (sink NULL: clears) the process-wide log listener. */
NATIVE(jint, setLogSink)(JNIEnv *env, jclass cls, jint max_level, jobject sink) {
    (void)cls;
    jobject fresh = NULL;
    if (sink != NULL) {
        fresh = global_new(env, sink);
        if (fresh == NULL) {
            clear_exception(env, "setLogSink");
            return MEDIA_ERR_INTERNAL;
        }
    }
    /* Publish the listener before records can arrive for it. */
    pthread_mutex_lock(&g_log_lock);
    jobject old = g_log_sink;
    g_log_sink = fresh;
    pthread_mutex_unlock(&g_log_lock);
    media_result r = media_set_log_callback((uint32_t)max_level, fresh ? on_log : NULL, NULL);
    if (r != MEDIA_OK) {
        /* Put the previous listener back. */
        pthread_mutex_lock(&g_log_lock);
        g_log_sink = old;
        pthread_mutex_unlock(&g_log_lock);
        global_delete(env, fresh);
        return (jint)r;
    }
    global_delete(env, old);
    return MEDIA_OK;
}

/* [global refs, attached threads, callback exceptions, live engines,
 *  events delivered, frames delivered] */
NATIVE(jlongArray, debugCounters)(JNIEnv *env, jclass cls) {
    (void)cls;
    const jlong v[COUNTER_FIELDS] = {
        atomic_load(&g_global_refs), atomic_load(&g_attached_threads),
        atomic_load(&g_exceptions),  atomic_load(&g_live_engines),
        atomic_load(&g_events),      atomic_load(&g_frames),
    };
    jlongArray out = (*env)->NewLongArray(env, COUNTER_FIELDS);
    if (out != NULL) {
        (*env)->SetLongArrayRegion(env, out, 0, COUNTER_FIELDS, v);
    }
    return out;
}
