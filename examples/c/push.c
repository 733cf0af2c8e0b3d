/*
 * Host-fed video through the C API: the host owns the camera (as a phone
 * app does with CameraX or AVCaptureSession) and pushes NV12 frames with
 * padded rows and a 90-degree sensor rotation; the echo test encodes,
 * sends and decodes them, and the frame callback sees them come back
 * upright (height and width swapped) with the pushed brightness ramp.
 * Also checks the push call's misuse errors.
 *
 *   usage: push [frames]      (default 60; exits 0 on success)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media.h"
#include "expect.h"

/* The sensor stores 320x180 rows; turned 90 degrees the picture is 180x320. */
#define SENSOR_W 320
#define SENSOR_H 180
#define PAD 16

static atomic_int upright_frames;
static atomic_int other_frames;
static atomic_int wrongly_turned;

static int failures;

static void on_frame(void *userdata, const media_video_frame *f) {
    (void)userdata;
    if (f->source != MEDIA_FRAME_REMOTE) return;
    if (f->width == SENSOR_H && f->height == SENSOR_W) {
        atomic_fetch_add(&upright_frames, 1);
        /* The sensor's top rows are dark and its bottom rows bright; turned
         * clockwise, the sensor's bottom becomes the picture's left side. */
        unsigned left = f->y[(size_t)(f->height / 2) * f->y_stride + 4];
        unsigned right = f->y[(size_t)(f->height / 2) * f->y_stride + f->width - 5];
        if (left < right + 100) atomic_fetch_add(&wrongly_turned, 1);
    } else {
        atomic_fetch_add(&other_frames, 1);
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    int frames = argc > 1 ? atoi(argv[1]) : 60;
    static unsigned char y[(SENSOR_W + PAD) * SENSOR_H];
    static unsigned char uv[(SENSOR_W + PAD) * SENSOR_H / 2];
    media_engine_config cfg;
    media_engine *engine = NULL;
    media_video_push_frame f;

    /* A vertical ramp: dark top rows, bright bottom rows; neutral chroma. */
    for (int r = 0; r < SENSOR_H; r++)
        for (int c = 0; c < SENSOR_W + PAD; c++) y[r * (SENSOR_W + PAD) + c] = (unsigned char)(16 + r * 219 / SENSOR_H);
    memset(uv, 128, sizeof uv);

    media_engine_config_fake(&cfg);
    cfg.video_input = MEDIA_VIDEO_INPUT_EXTERNAL;
    cfg.video_width = 320;
    cfg.video_height = 180;
    cfg.video_bitrate_bps = 400000;
    cfg.stats_interval_ms = 0;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    if (!engine) return 1;
    EXPECT(media_engine_set_frame_callback(engine, on_frame, NULL), MEDIA_OK);

    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.format = MEDIA_PIXEL_NV12;
    f.width = SENSOR_W;
    f.height = SENSOR_H;
    f.planes[0] = y;
    f.planes[1] = uv;
    f.strides[0] = SENSOR_W + PAD;
    f.strides[1] = SENSOR_W + PAD;
    f.rotation = 90;

    /* Misuse: NULLs, a struct from nowhere, bad values. */
    EXPECT(media_engine_push_video_frame(NULL, &f), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_push_video_frame(engine, NULL), MEDIA_ERR_NULL_ARGUMENT);
    {
        media_video_push_frame bad = f;
        bad.struct_size = 4;
        EXPECT(media_engine_push_video_frame(engine, &bad), MEDIA_ERR_INVALID_ARGUMENT);
        bad = f;
        bad.format = 42;
        EXPECT(media_engine_push_video_frame(engine, &bad), MEDIA_ERR_INVALID_ARGUMENT);
        bad = f;
        bad.width = 321;
        EXPECT(media_engine_push_video_frame(engine, &bad), MEDIA_ERR_INVALID_ARGUMENT);
        bad = f;
        bad.strides[1] = 100;
        EXPECT(media_engine_push_video_frame(engine, &bad), MEDIA_ERR_INVALID_ARGUMENT);
        bad = f;
        bad.rotation = 45;
        EXPECT(media_engine_push_video_frame(engine, &bad), MEDIA_ERR_INVALID_ARGUMENT);
        bad = f;
        bad.planes[1] = NULL;
        EXPECT(media_engine_push_video_frame(engine, &bad), MEDIA_ERR_NULL_ARGUMENT);
    }
    /* Nothing runs yet: accepted and discarded. */
    EXPECT(media_engine_push_video_frame(engine, &f), MEDIA_OK);

    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK);
    for (int i = 0; i < frames; i++) {
        f.timestamp_us = 1000000000ull + (unsigned long long)i * 33333ull;
        EXPECT(media_engine_push_video_frame(engine, &f), MEDIA_OK);
        sleep_ms(33);
    }
    for (int i = 0; i < 100 && atomic_load(&upright_frames) < frames / 2; i++) sleep_ms(20);
    media_stats stats = {.struct_size = sizeof stats};
    EXPECT(media_engine_get_stats(engine, &stats), MEDIA_OK);
    EXPECT(media_engine_stop_echo_test(engine), MEDIA_OK);
    media_engine_free(engine);

    /* An engine whose video input is not external refuses pushes. */
    media_engine_config_fake(&cfg);
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    EXPECT(media_engine_push_video_frame(engine, &f), MEDIA_ERR_INVALID_STATE);
    media_engine_free(engine);

    int upright = atomic_load(&upright_frames), other = atomic_load(&other_frames), wrong = atomic_load(&wrongly_turned);
    printf("pushed %d frames: %d came back upright %dx%d (%d wrongly turned), %d of another size; %llu captured\n",
           frames, upright, SENSOR_H, SENSOR_W, wrong, other, (unsigned long long)stats.video_frames_captured);
    if (upright < frames / 2 || other != 0 || wrong != 0) failures++;
    printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
