/*
 * A 1v1 call between two hosts that own their devices, as phone apps do,
 * through the C API in one process: each engine is configured for external
 * audio and video; each host runs a "sound card" thread that every 10 ms
 * pushes a chunk of its microphone's tone and pulls a chunk for its
 * speaker, and a "camera" thread that pushes NV12 frames at 15 fps. Alice
 * records at 44.1 kHz stereo and plays at 16 kHz mono; bob records at
 * 16 kHz mono and plays at 48 kHz stereo. At the end each side checks the
 * frequency and level of the tone it heard and the PSNR of the picture it
 * saw against the one the other side pushed.
 *
 *   usage: host_call [seconds]     (default 4; exits 0 on success)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media.h"
#include "expect.h"

static atomic_int failures;

#define W 320
#define H 180
#define PI 3.14159265358979323846

typedef struct host {
    const char *name;
    media_engine *engine;
    uint32_t mic_rate, mic_channels, speaker_rate, speaker_channels;
    double tone_hz;
    /* The picture this host's camera shows: a gradient with its own slope. */
    int slope;
    atomic_int connected, in_call, stop;
    /* The last two seconds the speaker played, mono (first channel). */
    int16_t *heard;
    size_t heard_len, heard_cap;
    atomic_int channels_differ;
    /* Remote frames and their worst / best luma PSNR against the peer's picture. */
    atomic_int frames_seen;
    double worst_psnr;
    int peer_slope;
    pthread_mutex_t lock;
} host;

static unsigned char luma(int slope, int x, int y) { return (unsigned char)(16 + ((x * slope + y * 3) % 220)); }

static void on_event(void *userdata, const media_event *ev) {
    host *h = userdata;
    if (ev->type == MEDIA_EVENT_SERVER && ev->server_state == MEDIA_SERVER_CONNECTED) atomic_store(&h->connected, 1);
    if (ev->type == MEDIA_EVENT_CALL && ev->call == MEDIA_CALL_INCOMING)
        if (media_engine_accept(h->engine, ev->call_id) != MEDIA_OK) fprintf(stderr, "[%s] accept failed\n", h->name);
    if (ev->type == MEDIA_EVENT_CALL && ev->call == MEDIA_CALL_ACCEPTED) atomic_store(&h->in_call, 1);
    if (ev->type == MEDIA_EVENT_ERROR) printf("[%s] error %s: %s\n", h->name, media_result_str(ev->error), ev->message);
}

static void on_frame(void *userdata, const media_video_frame *f) {
    host *h = userdata;
    if (f->source != MEDIA_FRAME_REMOTE || f->width != W || f->height != H) return;
    double se = 0;
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            double d = (double)f->y[(size_t)y * f->y_stride + x] - luma(h->peer_slope, (int)x, (int)y);
            se += d * d;
        }
    double mse = se / (W * H);
    double psnr = mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99;
    pthread_mutex_lock(&h->lock);
    /* The first frames may come before the encoder's rate settles. */
    if (atomic_fetch_add(&h->frames_seen, 1) >= 5 && psnr < h->worst_psnr) h->worst_psnr = psnr;
    pthread_mutex_unlock(&h->lock);
}

static void sleep_until(struct timespec *t, long add_ns) {
    t->tv_nsec += add_ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL);
}

/* The host's sound card: 10 ms in, 10 ms out, on its own clock. */
static void *sound_card(void *arg) {
    host *h = arg;
    size_t mic_frames = h->mic_rate / 100, out_frames = h->speaker_rate / 100;
    int16_t *mic = malloc(mic_frames * h->mic_channels * sizeof *mic);
    int16_t *out = malloc(out_frames * h->speaker_channels * sizeof *out);
    double phase = 0, step = 2 * PI * h->tone_hz / h->mic_rate, amp = 0.1 * sqrt(2.0) * 32767;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    while (!atomic_load(&h->stop)) {
        for (size_t i = 0; i < mic_frames; i++) {
            int16_t s = (int16_t)(amp * sin(phase));
            phase = fmod(phase + step, 2 * PI);
            for (uint32_t c = 0; c < h->mic_channels; c++) mic[i * h->mic_channels + c] = s;
        }
        EXPECT(media_engine_push_audio(h->engine, mic, mic_frames * h->mic_channels), MEDIA_OK);
        size_t real = 0;
        EXPECT(media_engine_pull_audio(h->engine, out, out_frames * h->speaker_channels, &real), MEDIA_OK);
        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < out_frames; i++) {
            int16_t first = out[i * h->speaker_channels], last = out[i * h->speaker_channels + h->speaker_channels - 1];
            if (first != last) atomic_store(&h->channels_differ, 1);
            /* Keep the most recent two seconds. */
            if (h->heard_len == h->heard_cap) {
                memmove(h->heard, h->heard + h->speaker_rate / 100, (h->heard_cap - h->speaker_rate / 100) * sizeof *h->heard);
                h->heard_len -= h->speaker_rate / 100;
            }
            h->heard[h->heard_len++] = first;
        }
        pthread_mutex_unlock(&h->lock);
        sleep_until(&t, 10000000L);
    }
    free(mic);
    free(out);
    return NULL;
}

/* The host's camera: NV12 with padded rows, 15 fps. */
static void *camera(void *arg) {
    host *h = arg;
    enum { STRIDE = W + 32 };
    unsigned char *y = malloc(STRIDE * H), *uv = malloc(STRIDE * H / 2);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) y[r * STRIDE + c] = luma(h->slope, c, r);
    memset(uv, 128, STRIDE * H / 2);
    media_video_push_frame f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.format = MEDIA_PIXEL_NV12;
    f.width = W;
    f.height = H;
    f.planes[0] = y;
    f.planes[1] = uv;
    f.strides[0] = f.strides[1] = STRIDE;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    while (!atomic_load(&h->stop)) {
        EXPECT(media_engine_push_video_frame(h->engine, &f), MEDIA_OK);
        sleep_until(&t, 66666666L);
    }
    free(y);
    free(uv);
    return NULL;
}

static void start_host(host *h, const char *url, media_local_server *server) {
    media_engine_config cfg;
    EXPECT(media_engine_config_default(&cfg), MEDIA_OK);
    cfg.audio_input = MEDIA_AUDIO_INPUT_EXTERNAL;
    cfg.audio_input_sample_rate = h->mic_rate;
    cfg.audio_input_channels = h->mic_channels;
    cfg.audio_output = MEDIA_AUDIO_OUTPUT_EXTERNAL;
    cfg.audio_output_sample_rate = h->speaker_rate;
    cfg.audio_output_channels = h->speaker_channels;
    cfg.video_input = MEDIA_VIDEO_INPUT_EXTERNAL;
    cfg.video_width = W;
    cfg.video_height = H;
    cfg.video_fps = 15;
    cfg.video_bitrate_bps = 500000;
    cfg.stats_interval_ms = 0;
    EXPECT(media_engine_new(&cfg, &h->engine), MEDIA_OK);
    EXPECT(media_engine_set_event_callback(h->engine, on_event, h), MEDIA_OK);
    EXPECT(media_engine_set_frame_callback(h->engine, on_frame, h), MEDIA_OK);
    pthread_mutex_init(&h->lock, NULL);
    h->heard_cap = 2 * h->speaker_rate;
    h->heard = calloc(h->heard_cap, sizeof *h->heard);
    h->worst_psnr = 99;
    char token[512];
    EXPECT(media_local_server_token(server, h->name, 3600, token, sizeof token), MEDIA_OK);
    media_server_config sc;
    EXPECT(media_server_config_default(&sc), MEDIA_OK);
    sc.url = url;
    sc.app_id = "demo";
    sc.user_id = h->name;
    sc.token = token;
    sc.host_ip = "127.0.0.1";
    EXPECT(media_engine_connect_server(h->engine, &sc), MEDIA_OK);
}

static int wait_for(atomic_int *flag, const char *what) {
    for (int i = 0; i < 2000; i++) {
        if (atomic_load(flag)) return 1;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "FAIL: timed out waiting for %s\n", what);
    failures++;
    return 0;
}

/* Frequency by zero crossings and RMS level of what `h` heard. */
static void check_heard(host *h, double want_hz) {
    pthread_mutex_lock(&h->lock);
    size_t n = h->heard_len, crossings = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double s = h->heard[i] / 32768.0;
        sum += s * s;
        if (i > 0 && (h->heard[i - 1] < 0) != (h->heard[i] < 0)) crossings++;
    }
    pthread_mutex_unlock(&h->lock);
    double hz = n ? crossings / 2.0 / ((double)n / h->speaker_rate) : 0;
    double dbfs = n ? 10 * log10(sum / n + 1e-12) : -120;
    media_stats st = {.struct_size = sizeof st};
    EXPECT(media_engine_get_stats(h->engine, &st), MEDIA_OK);
    printf("[%s] heard %.1f Hz at %.1f dBFS (%u Hz x%u); saw %d frames, worst luma PSNR %.1f dB; %llu silent frames pulled\n",
           h->name, hz, dbfs, h->speaker_rate, h->speaker_channels, atomic_load(&h->frames_seen), h->worst_psnr,
           (unsigned long long)st.audio_pull_silent_frames);
    if (fabs(hz - want_hz) > 3 || fabs(dbfs + 20) > 3 || atomic_load(&h->channels_differ) ||
        atomic_load(&h->frames_seen) < 20 || h->worst_psnr < 30) {
        fprintf(stderr, "FAIL: [%s] wanted %.0f Hz at -20 dBFS in every channel and the peer's picture\n", h->name, want_hz);
        failures++;
    }
}

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 4;
    media_local_server *server = NULL;
    char url[64];
    EXPECT(media_local_server_start("127.0.0.1:0", "demo", "host-secret", &server), MEDIA_OK);
    if (!server) return 1;
    EXPECT(media_local_server_url(server, url, sizeof url), MEDIA_OK);

    static host alice = {.name = "alice", .mic_rate = 44100, .mic_channels = 2, .speaker_rate = 16000,
                         .speaker_channels = 1, .tone_hz = 440, .slope = 1, .peer_slope = 2};
    static host bob = {.name = "bob", .mic_rate = 16000, .mic_channels = 1, .speaker_rate = 48000,
                       .speaker_channels = 2, .tone_hz = 660, .slope = 2, .peer_slope = 1};
    start_host(&alice, url, server);
    start_host(&bob, url, server);
    if (!alice.engine || !bob.engine) return 1;

    /* Misuse: NULLs, a partial stereo frame, pulls that are not whole frames. */
    int16_t pcm[4] = {0};
    EXPECT(media_engine_push_audio(NULL, pcm, 4), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_push_audio(alice.engine, NULL, 4), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_push_audio(alice.engine, pcm, 3), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT(media_engine_push_audio(alice.engine, NULL, 0), MEDIA_OK);
    EXPECT(media_engine_pull_audio(bob.engine, pcm, 3, NULL), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT(media_engine_pull_audio(bob.engine, NULL, 4, NULL), MEDIA_ERR_NULL_ARGUMENT);

    wait_for(&alice.connected, "alice registered");
    wait_for(&bob.connected, "bob registered");
    pthread_t threads[4];
    pthread_create(&threads[0], NULL, sound_card, &alice);
    pthread_create(&threads[1], NULL, camera, &alice);
    pthread_create(&threads[2], NULL, sound_card, &bob);
    pthread_create(&threads[3], NULL, camera, &bob);

    char call_id[128];
    EXPECT(media_engine_call(alice.engine, "bob", true, call_id, sizeof call_id), MEDIA_OK);
    if (wait_for(&alice.in_call, "bob to accept")) {
        wait_for(&alice.frames_seen, "alice to see bob");
        wait_for(&bob.frames_seen, "bob to see alice");
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        sleep_until(&t, (long)seconds * 1000000000L);
    }
    /* The devices stop first, so what each heard ends inside the call. */
    atomic_store(&alice.stop, 1);
    atomic_store(&bob.stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    EXPECT(media_engine_hangup(alice.engine), MEDIA_OK);

    check_heard(&alice, 660);
    check_heard(&bob, 440);
    media_engine_free(alice.engine);
    media_engine_free(bob.engine);
    media_local_server_free(server);
    free(alice.heard);
    free(bob.heard);
    printf("%s (%d failures)\n", failures ? "FAILED" : "OK", atomic_load(&failures));
    return failures ? 1 : 0;
}
