/*
 * Smoke test of the CMedia module (ios/Sources/CMedia/module.modulemap),
 * run by ios/scripts/check.sh on Linux, where no Swift compiler exists.
 *
 * It imports the module the way Swift does (`@import CMedia;`, no
 * #include of media.h) and walks the path the Swift wrapper
 * (Sources/LibMedia/Engine.swift) takes: a context object passed as
 * userdata, callbacks that arrive on engine threads (not the caller's),
 * the echo test with synthetic devices counting remote frames, NULL
 * arguments refused with MEDIA_ERR_NULL_ARGUMENT, and media_engine_free
 * joining the engine's threads so that no callback runs after it (Swift's
 * deinit relies on that).
 *
 * Objective-C without Foundation: Debian's clang has no Apple runtime, so
 * the body is plain C in a .m file (check.sh also parses it with
 * -fobjc-arc against the GNUstep 2 runtime's rules). Prints
 * "smoke: OK ..." and exits 0 on success.
 */
@import CMedia;

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* What Swift's importer sees: C enums come through as structs whose
 * rawValue is the enum's integer type; the wrapper converts with
 * UInt32(truncatingIfNeeded:), and media_result_str takes a uint32_t. */
_Static_assert(sizeof(media_result) == sizeof(uint32_t), "media_result is 32 bits");
_Static_assert(_Generic((media_result)0, unsigned int: 1, default: 0), "media_result is unsigned int");
_Static_assert(_Generic((media_event_type)0, unsigned int: 1, default: 0), "media_event_type is unsigned int");

enum { WANTED_REMOTE_FRAMES = 20, DEADLINE_SECONDS = 10 };

/* The userdata: what Swift's CallbackContext is. */
struct context {
    unsigned magic;
    pthread_t caller;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int remote_frames;
    int local_frames;
    int first_remote_frame_events;
    int error_events;
    atomic_int callbacks;
    atomic_int on_caller_thread;
    atomic_int bad_frames;
};

#define CONTEXT_MAGIC 0x5eedc0deu

static void on_event(void *userdata, const media_event *ev) {
    struct context *ctx = userdata;
    if (ctx == NULL || ctx->magic != CONTEXT_MAGIC) {
        /* Cannot count into a context we do not trust. */
        return;
    }
    atomic_fetch_add(&ctx->callbacks, 1);
    if (pthread_equal(pthread_self(), ctx->caller)) atomic_fetch_add(&ctx->on_caller_thread, 1);
    pthread_mutex_lock(&ctx->lock);
    if (ev->type == MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME) ctx->first_remote_frame_events++;
    if (ev->type == MEDIA_EVENT_ERROR) {
        ctx->error_events++;
        fprintf(stderr, "smoke: error event %s: %s\n", media_result_str(ev->error),
                ev->message != NULL ? ev->message : "(no message)");
    }
    pthread_cond_broadcast(&ctx->changed);
    pthread_mutex_unlock(&ctx->lock);
}

static void on_frame(void *userdata, const media_video_frame *f) {
    struct context *ctx = userdata;
    if (ctx == NULL || ctx->magic != CONTEXT_MAGIC) return;
    atomic_fetch_add(&ctx->callbacks, 1);
    if (pthread_equal(pthread_self(), ctx->caller)) atomic_fetch_add(&ctx->on_caller_thread, 1);
    /* What VideoFrameView.copy() reads: every row of the three planes. */
    if (f->width == 0 || f->height == 0 || f->y == NULL || f->u == NULL || f->v == NULL ||
        f->y_stride < f->width || f->u_stride < (f->width + 1) / 2 || f->v_stride < (f->width + 1) / 2) {
        atomic_fetch_add(&ctx->bad_frames, 1);
        return;
    }
    volatile unsigned sum = 0;
    for (uint32_t row = 0; row < f->height; row++) sum += f->y[(size_t)row * f->y_stride + f->width - 1];
    for (uint32_t row = 0; row < (f->height + 1) / 2; row++) {
        sum += f->u[(size_t)row * f->u_stride + (f->width + 1) / 2 - 1];
        sum += f->v[(size_t)row * f->v_stride + (f->width + 1) / 2 - 1];
    }
    (void)sum;
    pthread_mutex_lock(&ctx->lock);
    if (f->source == MEDIA_FRAME_REMOTE) {
        ctx->remote_frames++;
    } else {
        ctx->local_frames++;
    }
    pthread_cond_broadcast(&ctx->changed);
    pthread_mutex_unlock(&ctx->lock);
}

static int failures;

#define EXPECT(call, want)                                                                           \
    do {                                                                                             \
        media_result got_ = (call);                                                                  \
        if (got_ != (want)) {                                                                        \
            fprintf(stderr, "smoke: FAIL line %d: %s returned %s, expected %s\n", __LINE__, #call,   \
                    media_result_str(got_), media_result_str(want));                                 \
            failures++;                                                                              \
        }                                                                                            \
    } while (0)

#define CHECK(cond, ...)                                                                             \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "smoke: FAIL line %d: %s: ", __LINE__, #cond);                           \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fputc('\n', stderr);                                                                     \
            failures++;                                                                              \
        }                                                                                            \
    } while (0)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Waits on the condition until `wanted` remote frames arrived or the
 * deadline passed; returns the count. */
static int wait_for_remote_frames(struct context *ctx, int wanted, int seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline); /* pthread_cond_timedwait's clock */
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&ctx->lock);
    while (ctx->remote_frames < wanted) {
        if (pthread_cond_timedwait(&ctx->changed, &ctx->lock, &deadline) != 0) break; /* ETIMEDOUT */
    }
    int got = ctx->remote_frames;
    pthread_mutex_unlock(&ctx->lock);
    return got;
}

static void check_results_and_version(void) {
    const char *version = media_version();
    CHECK(version != NULL && version[0] != '\0', "media_version is empty");
    printf("smoke: media_version %s\n", version != NULL ? version : "(null)");

    /* Every code of the enum has a description; so has an unknown one. */
    const media_result codes[] = {
        MEDIA_OK, MEDIA_ERR_NULL_ARGUMENT, MEDIA_ERR_INVALID_ARGUMENT, MEDIA_ERR_INVALID_STATE,
        MEDIA_ERR_NOT_FOUND, MEDIA_ERR_NO_DEVICE, MEDIA_ERR_DEVICE_UNAVAILABLE,
        MEDIA_ERR_PERMISSION_DENIED, MEDIA_ERR_CODEC, MEDIA_ERR_IO, MEDIA_ERR_UNSUPPORTED,
        MEDIA_ERR_BUFFER_TOO_SMALL, MEDIA_ERR_PANIC, MEDIA_ERR_INTERNAL, MEDIA_ERR_BUSY,
        MEDIA_ERR_PEER_OFFLINE, MEDIA_ERR_OCCUPIED, MEDIA_ERR_BAD_TOKEN,
        MEDIA_ERR_SERVER_UNREACHABLE, MEDIA_ERR_NETWORK,
    };
    const char *unknown = media_result_str(0xfffffu);
    CHECK(unknown != NULL && unknown[0] != '\0', "no description for an unknown code");
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = media_result_str(codes[i]);
        CHECK(s != NULL && s[0] != '\0', "code %u has no description", (unsigned)codes[i]);
        CHECK(s == NULL || unknown == NULL || strcmp(s, unknown) != 0,
              "code %u is described as unknown (%s)", (unsigned)codes[i], s);
    }
    printf("smoke: media_result_str describes %zu codes; OK is \"%s\", NETWORK is \"%s\"\n",
           sizeof codes / sizeof codes[0], media_result_str(MEDIA_OK), media_result_str(MEDIA_ERR_NETWORK));
}

static void check_null_arguments(media_engine *engine) {
    media_engine_config cfg;
    media_stats stats;
    size_t count = 0;
    media_engine_config_fake(&cfg);
    media_engine_config_fake(NULL);    /* ignored */
    media_engine_config_default(NULL); /* ignored */
    media_engine_free(NULL);           /* ignored */
    EXPECT(media_engine_new(&cfg, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_set_event_callback(NULL, on_event, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_set_frame_callback(NULL, on_frame, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_start_echo_test(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_stop_echo_test(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_start_local_audio(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_mute_local_audio(NULL, true), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_get_stats(NULL, &stats), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_get_stats(engine, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_get_remote_stats(engine, NULL, 0, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_connect_server(engine, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_call(engine, NULL, false, NULL, 0), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_accept(engine, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_join_channel(engine, NULL, 0, false), MEDIA_ERR_NULL_ARGUMENT);
    /* What Swift's remoteStats() does first: ask for the count. */
    EXPECT(media_engine_get_remote_stats(engine, NULL, 0, &count), MEDIA_OK);
    CHECK(count == 0, "remote stats before any session: %zu", count);
    /* And a state error, as Engine.hangup() would throw it. */
    EXPECT(media_engine_hangup(engine), MEDIA_ERR_INVALID_STATE);
    printf("smoke: NULL arguments refused with %s\n", media_result_str(MEDIA_ERR_NULL_ARGUMENT));
}

/* The path of Engine.pushVideoFrame(_: CVPixelBuffer): an engine with an
 * external video input gets NV12 frames (padded rows, as CoreVideo pads
 * them) from another thread, like AVCaptureVideoDataOutput's queue, and the
 * echo test returns them decoded. */
enum { PUSH_W = 320, PUSH_H = 180, PUSH_STRIDE = 384, PUSH_FRAMES = 30, PUSH_WANTED = 10 };

struct pusher {
    media_engine *engine;
    int failures;
};

static void *push_frames(void *arg) {
    struct pusher *p = arg;
    static uint8_t y[PUSH_STRIDE * PUSH_H], uv[PUSH_STRIDE * PUSH_H / 2];
    for (int r = 0; r < PUSH_H; r++) memset(y + r * PUSH_STRIDE, 16 + r, PUSH_STRIDE);
    memset(uv, 128, sizeof uv);
    media_video_push_frame f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f; /* Swift: MemoryLayout<media_video_push_frame>.stride */
    f.format = MEDIA_PIXEL_NV12;
    f.width = PUSH_W;
    f.height = PUSH_H;
    f.planes[0] = y;
    f.planes[1] = uv;
    f.strides[0] = PUSH_STRIDE;
    f.strides[1] = PUSH_STRIDE;
    for (int i = 0; i < PUSH_FRAMES; i++) {
        f.timestamp_us = (uint64_t)i * 33333u;
        if (media_engine_push_video_frame(p->engine, &f) != MEDIA_OK) p->failures++;
        struct timespec frame_period = {0, 33 * 1000000L}; /* the camera's pace */
        nanosleep(&frame_period, NULL);
    }
    return NULL;
}

static void check_pushed_video(void) {
    static struct context ctx = {.magic = CONTEXT_MAGIC};
    ctx.caller = pthread_self();
    pthread_mutex_init(&ctx.lock, NULL);
    pthread_cond_init(&ctx.changed, NULL);
    media_engine_config cfg;
    media_engine_config_fake(&cfg);
    cfg.video_input = MEDIA_VIDEO_INPUT_EXTERNAL;
    cfg.stats_interval_ms = 0;
    media_engine *engine = NULL;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    if (engine == NULL) return;
    EXPECT(media_engine_push_video_frame(engine, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_set_frame_callback(engine, on_frame, &ctx), MEDIA_OK);
    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK);
    struct pusher p = {engine, 0};
    pthread_t thread;
    if (pthread_create(&thread, NULL, push_frames, &p) != 0) {
        fprintf(stderr, "smoke: FAIL: no pusher thread\n");
        failures++;
        media_engine_free(engine);
        return;
    }
    int remote = wait_for_remote_frames(&ctx, PUSH_WANTED, DEADLINE_SECONDS);
    pthread_join(thread, NULL);
    EXPECT(media_engine_stop_echo_test(engine), MEDIA_OK);
    media_engine_free(engine);
    CHECK(p.failures == 0, "%d pushes failed", p.failures);
    CHECK(remote >= PUSH_WANTED, "only %d of the pushed frames came back", remote);
    CHECK(atomic_load(&ctx.bad_frames) == 0, "%d malformed frames", atomic_load(&ctx.bad_frames));
    CHECK(atomic_load(&ctx.on_caller_thread) == 0, "%d callbacks on the caller's thread",
          atomic_load(&ctx.on_caller_thread));
    printf("smoke: pushed NV12 %dx%d frames from a capture thread: %d came back decoded\n", PUSH_W, PUSH_H,
           remote);
}

int main(void) {
    static struct context ctx = {.magic = CONTEXT_MAGIC};
    ctx.caller = pthread_self();
    pthread_mutex_init(&ctx.lock, NULL);
    pthread_cond_init(&ctx.changed, NULL);

    check_results_and_version();

    media_engine_config cfg;
    media_engine_config_fake(&cfg);
    media_engine *engine = NULL;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    if (engine == NULL) {
        fprintf(stderr, "smoke: FAIL: no engine\n");
        return 1;
    }
    check_null_arguments(engine);

    EXPECT(media_engine_set_event_callback(engine, on_event, &ctx), MEDIA_OK);
    EXPECT(media_engine_set_frame_callback(engine, on_frame, &ctx), MEDIA_OK);

    double start = now_ms();
    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK);
    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK); /* twice is fine */
    int remote = wait_for_remote_frames(&ctx, WANTED_REMOTE_FRAMES, DEADLINE_SECONDS);
    double elapsed = now_ms() - start;
    CHECK(remote >= WANTED_REMOTE_FRAMES, "only %d remote frames in %d s", remote, DEADLINE_SECONDS);

    media_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    EXPECT(media_engine_get_stats(engine, &stats), MEDIA_OK);
    CHECK(stats.video_frames_rendered > 0, "stats count no rendered frame");
    EXPECT(media_engine_stop_echo_test(engine), MEDIA_OK);
    EXPECT(media_engine_stop_echo_test(engine), MEDIA_OK); /* twice is fine */

    media_engine_free(engine);
    /* After free no callback may run: Swift's deinit frees the context next. */
    int after_free = atomic_load(&ctx.callbacks);
    struct timespec pause = {0, 150 * 1000000L};
    nanosleep(&pause, NULL);
    CHECK(atomic_load(&ctx.callbacks) == after_free, "%d callbacks after media_engine_free",
          atomic_load(&ctx.callbacks) - after_free);

    check_pushed_video();

    pthread_mutex_lock(&ctx.lock);
    int first_events = ctx.first_remote_frame_events;
    int error_events = ctx.error_events;
    int local = ctx.local_frames;
    pthread_mutex_unlock(&ctx.lock);
    CHECK(first_events == 1, "%d first-remote-frame events", first_events);
    CHECK(error_events == 0, "%d error events", error_events);
    CHECK(atomic_load(&ctx.on_caller_thread) == 0, "%d callbacks on the caller's thread",
          atomic_load(&ctx.on_caller_thread));
    CHECK(atomic_load(&ctx.bad_frames) == 0, "%d malformed frames", atomic_load(&ctx.bad_frames));

    printf("smoke: echo test: %d remote frames (%d local) in %.0f ms, %llu rendered, latency p50 %.1f ms\n",
           remote, local, elapsed, (unsigned long long)stats.video_frames_rendered,
           stats.video_latency_p50_us / 1000.0);
    printf("smoke: %d callbacks, all on engine threads; none after media_engine_free\n",
           atomic_load(&ctx.callbacks));
    if (failures != 0) {
        printf("smoke: FAILED (%d failures)\n", failures);
        return 1;
    }
    printf("smoke: OK (%d remote frames through CMedia)\n", remote);
    return 0;
}
