/*
 * The echo test through the C API, with synthetic devices: a tone and a
 * moving test pattern go through Opus, H.264, the loopback transport and
 * the decoders, and come back as audio and decoded frames. Prints events
 * and stats; checks that misuse of the API gets the documented errors.
 *
 *   usage: echo [seconds]      (default 3; exits 0 on success)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media.h"
#include "expect.h"

static atomic_int remote_frames;
static atomic_int local_frames;
static atomic_int errors;

static void on_event(void *userdata, const media_event *ev) {
    const char *name = userdata;
    switch (ev->type) {
    case MEDIA_EVENT_STATE_CHANGED:
        printf("[%s] stream %d -> state %d\n", name, (int)ev->stream, (int)ev->state);
        break;
    case MEDIA_EVENT_ERROR:
        printf("[%s] error %s: %s\n", name, media_result_str(ev->error), ev->message);
        atomic_fetch_add(&errors, 1);
        break;
    case MEDIA_EVENT_FIRST_LOCAL_VIDEO_FRAME:
        printf("[%s] first local frame %ux%u\n", name, ev->width, ev->height);
        break;
    case MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME:
        printf("[%s] first remote frame %ux%u\n", name, ev->width, ev->height);
        break;
    case MEDIA_EVENT_FIRST_REMOTE_AUDIO_FRAME:
        printf("[%s] first remote audio\n", name);
        break;
    case MEDIA_EVENT_CONNECTION:
        printf("[%s] connection %d\n", name, (int)ev->connection);
        break;
    case MEDIA_EVENT_SERVER:
    case MEDIA_EVENT_CALL:
    case MEDIA_EVENT_CHANNEL:
    case MEDIA_EVENT_TOKEN_WILL_EXPIRE:
    case MEDIA_EVENT_SERVER_ERROR:
    case MEDIA_EVENT_NETWORK_QUALITY:
        printf("[%s] signaling event %d\n", name, (int)ev->type);
        break;
    case MEDIA_EVENT_STATS:
        printf("[%s] stats: video %llu captured, %llu rendered, latency p50 %.1f ms; audio %llu decoded\n", name,
               (unsigned long long)ev->stats->video_frames_captured,
               (unsigned long long)ev->stats->video_frames_rendered, ev->stats->video_latency_p50_us / 1000.0,
               (unsigned long long)ev->stats->audio_frames_decoded);
        break;
    }
}

static void on_frame(void *userdata, const media_video_frame *f) {
    (void)userdata;
    /* Touch the planes: they must be readable for the whole call. */
    volatile unsigned sum = f->y[0] + f->u[0] + f->v[0] + f->y[(size_t)(f->height - 1) * f->y_stride + f->width - 1];
    (void)sum;
    atomic_fetch_add(f->source == MEDIA_FRAME_REMOTE ? &remote_frames : &local_frames, 1);
}

static int failures;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Fails unless the last call's detail (media_last_error_message) contains `want`. */
#define EXPECT_DETAIL(want)                                                                          \
    do {                                                                                             \
        char detail_[256];                                                                           \
        size_t full_ = media_last_error_message(detail_, sizeof detail_);                           \
        if (full_ == 0 || strstr(detail_, (want)) == NULL) {                                         \
            fprintf(stderr, "FAIL %s:%d: last error \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,     \
                    detail_, (want));                                                                \
            failures++;                                                                              \
        }                                                                                            \
    } while (0)

static atomic_int server_log_records;

static void on_log(void *userdata, uint32_t level, const char *target, const char *message) {
    (void)userdata;
    if (level >= MEDIA_LOG_ERROR && level <= MEDIA_LOG_INFO && strncmp(target, "media", 5) == 0 && message[0] != '\0')
        atomic_fetch_add(&server_log_records, 1);
}

/* Values the engine and the in-process server would only fail on later
 * (or the server would refuse) are refused up front, each with a detail. */
static void check_validation(void) {
    media_engine *engine = NULL;
    media_engine_config cfg;
    char small[8];

    media_engine_config_fake(&cfg);
    cfg.stats_interval_ms = 1; /* a thousand events a second */
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT_DETAIL("stats_interval_ms");
    media_engine_config_fake(&cfg);
    cfg.loopback_delay_ms = UINT32_MAX;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT_DETAIL("loopback delay");
    media_engine_config_fake(&cfg);
    cfg.record_remote_video_file = "/nonexistent-folder/remote.y4m";
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_NOT_FOUND);
    EXPECT_DETAIL("does not exist");
    if (engine != NULL) {
        fprintf(stderr, "FAIL: engine written on failure\n");
        failures++;
    }
    /* The message's full length comes back even when it does not fit. */
    media_engine_config_fake(&cfg);
    cfg.stats_interval_ms = 5;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    if (media_last_error_message(NULL, 0) <= sizeof small ||
        media_last_error_message(small, sizeof small) != media_last_error_message(NULL, 0) ||
        strlen(small) != sizeof small - 1) {
        fprintf(stderr, "FAIL: media_last_error_message lengths\n");
        failures++;
    }
    /* 0 (off) and the bounds are fine; a success clears the detail. */
    media_engine_config_fake(&cfg);
    cfg.stats_interval_ms = 0;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    if (media_last_error_message(NULL, 0) != 0) {
        fprintf(stderr, "FAIL: a success leaves no error detail\n");
        failures++;
    }
    media_engine_free(engine);
    engine = NULL;

    /* The ABI version this program was built against is served. */
    EXPECT(media_check_abi(MEDIA_ABI_VERSION), MEDIA_OK);
    EXPECT(media_check_abi(MEDIA_ABI_VERSION + 1), MEDIA_ERR_UNSUPPORTED);
    EXPECT(media_check_abi(0), MEDIA_ERR_INVALID_ARGUMENT);
    if (media_abi_version() != MEDIA_ABI_VERSION) {
        fprintf(stderr, "FAIL: media_abi_version\n");
        failures++;
    }

    /* The library's log records reach the host (the server logs when it starts). */
    EXPECT(media_set_log_callback(9, on_log, NULL), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT(media_set_log_callback(MEDIA_LOG_INFO, on_log, NULL), MEDIA_OK);

    /* The in-process server: an address that is not this machine's. */
    media_local_server *server = NULL;
    media_result r = media_local_server_start("192.0.2.1:8080", "demo", "secret", &server);
    if (r == MEDIA_ERR_UNSUPPORTED) return; /* built without the server */
    EXPECT(r, MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT_DETAIL("not an address of this machine");
    EXPECT(media_local_server_start("no-port", "demo", "secret", &server), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT(media_local_server_start("127.0.0.1:0", "demo", "secret", &server), MEDIA_OK);
    {
        char token[512];
        /* Tokens the server would refuse are not minted. */
        EXPECT(media_local_server_token(server, "bob smith", 60, token, sizeof token), MEDIA_ERR_INVALID_ARGUMENT);
        EXPECT_DETAIL("user id");
        EXPECT(media_local_server_token(server, "o'brien", 60, token, sizeof token), MEDIA_ERR_INVALID_ARGUMENT);
        EXPECT(media_local_server_token(server, "<b>x</b>", 60, token, sizeof token), MEDIA_ERR_INVALID_ARGUMENT);
        EXPECT(media_local_server_token(server, "", 60, token, sizeof token), MEDIA_ERR_INVALID_ARGUMENT);
        EXPECT(media_local_server_token(server, "bob", 0, token, sizeof token), MEDIA_ERR_INVALID_ARGUMENT);
        EXPECT_DETAIL("lifetime");
        EXPECT(media_local_server_token(server, "bob.smith@example.com", 60, token, sizeof token), MEDIA_OK);
        EXPECT(media_local_server_token(server, "bob", 60, token, 4), MEDIA_ERR_BUFFER_TOO_SMALL);
    }
    media_local_server_free(server);
    EXPECT(media_set_log_callback(MEDIA_LOG_INFO, NULL, NULL), MEDIA_OK);
    if (atomic_load(&server_log_records) == 0) {
        fprintf(stderr, "FAIL: no log record reached the log callback\n");
        failures++;
    }
}

static void check_misuse(void) {
    media_engine *engine = NULL;
    media_engine_config cfg;
    media_stats stats;
    media_device_info info;
    size_t count = 0;

    /* NULL handles and outputs. */
    EXPECT(media_engine_new(NULL, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_start_echo_test(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_stop_echo_test(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_start_local_audio(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_stop_local_audio(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_start_local_preview(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_stop_local_preview(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_mute_local_audio(NULL, true), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_mute_local_video(NULL, true), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_set_video_bitrate(NULL, 500000), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_get_stats(NULL, &stats), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_set_event_callback(NULL, on_event, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_set_frame_callback(NULL, on_frame, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_select_audio_input(NULL, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_select_audio_output(NULL, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_select_camera(NULL, 0), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_device_count(MEDIA_DEVICE_CAMERA, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_device_get_info(MEDIA_DEVICE_CAMERA, 0, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_connect_server(NULL, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_disconnect_server(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_call(NULL, "bob", true, NULL, 0), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_accept(NULL, "c1"), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_reject(NULL, "c1"), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_hangup(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_renew_token(NULL, "t"), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_join_channel(NULL, "room", 0, false), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_leave_channel(NULL, "room"), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_interrupt_audio(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_resume_audio(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_set_background(NULL, true), MEDIA_ERR_NULL_ARGUMENT);
    media_engine_free(NULL);
    EXPECT(media_engine_config_default(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_server_config_default(NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_config_fake(NULL), MEDIA_ERR_NULL_ARGUMENT);

    /* Bad values. */
    media_engine_config_fake(&cfg);
    cfg.video_width = 0;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    media_engine_config_fake(&cfg);
    cfg.audio_input = 77;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    media_engine_config_fake(&cfg);
    cfg.audio_input = MEDIA_AUDIO_INPUT_WAV_FILE; /* file left NULL */
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_NULL_ARGUMENT);
    media_engine_config_fake(&cfg);
    cfg.loopback_audio_loss = 2.0f;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    /* Voice processing: stage flags, or AUTO alone (the default). */
    media_engine_config_fake(&cfg);
    if (cfg.voice_processing != MEDIA_VOICE_PROCESSING_AUTO || cfg.video_delay != MEDIA_VIDEO_DELAY_BALANCED ||
        cfg.record_remote_audio_file != NULL) {
        fprintf(stderr, "FAIL: voice_processing default %#x\n", cfg.voice_processing);
        failures++;
    }
    cfg.voice_processing = MEDIA_VOICE_PROCESSING_AUTO | MEDIA_VOICE_ECHO_CANCELLATION;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT_DETAIL("voice_processing");
    cfg.voice_processing = 1u << 4;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    media_engine_config_fake(&cfg);
    cfg.video_delay = 4;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT_DETAIL("video_delay");
    /* Lip sync: off by default, 0 or 1, next to a reserved 0. */
    media_engine_config_fake(&cfg);
    if (cfg.lip_sync != 0 || cfg.reserved != 0) {
        fprintf(stderr, "FAIL: lip_sync default %u\n", cfg.lip_sync);
        failures++;
    }
    cfg.lip_sync = 2;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT_DETAIL("lip_sync");
    cfg.lip_sync = 1;
    cfg.reserved = 7;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT_DETAIL("reserved");
    if (engine != NULL) {
        fprintf(stderr, "FAIL: engine written on failure\n");
        failures++;
    }
    /* Every stage: accepted, or refused with a reason by a library built
     * without its voice-processing feature (the mobile and ARM64 builds). */
    media_engine_config_fake(&cfg);
    cfg.voice_processing = MEDIA_VOICE_ALL;
    {
        media_result r = media_engine_new(&cfg, &engine);
        if (r == MEDIA_ERR_UNSUPPORTED) {
            EXPECT_DETAIL("voice-processing");
        } else {
            EXPECT(r, MEDIA_OK);
        }
    }
    media_engine_free(engine);
    engine = NULL;
    if (engine != NULL) {
        fprintf(stderr, "FAIL: engine written on failure\n");
        failures++;
    }
    EXPECT(media_device_count(99, &count), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT(media_device_count(MEDIA_DEVICE_CAMERA, &count), MEDIA_OK);
    EXPECT(media_device_get_info(MEDIA_DEVICE_CAMERA, count + 5, &info), MEDIA_ERR_NOT_FOUND);

    /* A missing input file surfaces when the stream starts. */
    media_engine_config_fake(&cfg);
    cfg.video_input = MEDIA_VIDEO_INPUT_Y4M_FILE;
    cfg.video_input_file = "/nonexistent/clip.y4m";
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    EXPECT(media_engine_start_local_preview(engine), MEDIA_ERR_NOT_FOUND);
    EXPECT(media_engine_select_audio_input(engine, "no-such-microphone"), MEDIA_ERR_NOT_FOUND);
    EXPECT(media_engine_set_video_bitrate(engine, 1), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT(media_engine_get_stats(engine, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_select_camera(engine, 1000), count == 0 ? MEDIA_ERR_NO_DEVICE : MEDIA_ERR_NOT_FOUND);
    /* Calls need a server connection first; bad server configs are refused. */
    EXPECT(media_engine_call(engine, "bob", true, NULL, 0), MEDIA_ERR_INVALID_STATE);
    EXPECT(media_engine_hangup(engine), MEDIA_ERR_INVALID_STATE);
    EXPECT(media_engine_accept(engine, NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_engine_join_channel(engine, "room", 0, false), MEDIA_ERR_INVALID_STATE);
    {
        media_server_config sc;
        media_server_config_default(&sc);
        EXPECT(media_engine_connect_server(engine, &sc), MEDIA_ERR_NULL_ARGUMENT);
        sc.url = "https://example.invalid/ws";
        sc.app_id = "demo";
        sc.user_id = "alice";
        sc.token = "t";
        EXPECT(media_engine_connect_server(engine, &sc), MEDIA_ERR_UNSUPPORTED);
        sc.url = "ws://127.0.0.1:9/ws";
        sc.host_ip = "not-an-ip";
        EXPECT(media_engine_connect_server(engine, &sc), MEDIA_ERR_INVALID_ARGUMENT);
    }
    EXPECT(media_engine_disconnect_server(engine), MEDIA_OK);
    media_engine_free(engine);
    engine = NULL;

    /* Start twice, stop twice, free while running. */
    media_engine_config_fake(&cfg);
    cfg.video_width = 256;
    cfg.video_height = 144;
    cfg.video_fps = 10;
    cfg.video_bitrate_bps = 200000;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    EXPECT(media_engine_start_local_preview(engine), MEDIA_OK);
    EXPECT(media_engine_start_local_preview(engine), MEDIA_OK);
    EXPECT(media_engine_stop_local_preview(engine), MEDIA_OK);
    EXPECT(media_engine_stop_local_preview(engine), MEDIA_OK);
    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK);
    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK);
    /* A phone call interrupts audio, the app goes to the background and back. */
    EXPECT(media_engine_interrupt_audio(engine), MEDIA_OK);
    EXPECT(media_engine_interrupt_audio(engine), MEDIA_OK);
    EXPECT(media_engine_set_background(engine, true), MEDIA_OK);
    EXPECT(media_engine_resume_audio(engine), MEDIA_OK);
    EXPECT(media_engine_resume_audio(engine), MEDIA_OK);
    EXPECT(media_engine_set_background(engine, false), MEDIA_OK);
    EXPECT(media_engine_set_event_callback(engine, NULL, NULL), MEDIA_OK);
    EXPECT(media_engine_interrupt_audio(engine), MEDIA_OK);
    media_engine_free(engine); /* with everything running, audio interrupted */

    if (strlen(media_result_str((media_result)999)) == 0) failures++;
    check_validation();
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    media_engine_config cfg;
    media_engine *engine = NULL;
    media_stats stats;
    media_result r;

    printf("libmedia %s\n", media_version());
    media_engine_config_fake(&cfg);
    cfg.video_width = 320;
    cfg.video_height = 180;
    cfg.video_fps = 15;
    cfg.video_bitrate_bps = 300000;
    cfg.stats_interval_ms = 1000;

    r = media_engine_new(&cfg, &engine);
    if (r != MEDIA_OK) {
        fprintf(stderr, "media_engine_new: %s\n", media_result_str(r));
        return 1;
    }
    media_engine_set_event_callback(engine, on_event, "echo");
    media_engine_set_frame_callback(engine, on_frame, NULL);
    r = media_engine_start_echo_test(engine);
    if (r != MEDIA_OK) {
        fprintf(stderr, "start_echo_test: %s\n", media_result_str(r));
        media_engine_free(engine);
        return 1;
    }
    /* Run for the requested time, and at least until frames came back (bounded). */
    for (int waited = 0; waited < 60000; waited += 50) {
        if (waited >= seconds * 1000 && atomic_load(&remote_frames) >= 10) break;
        sleep_ms(50);
    }
    {
        /* The echo test has one remote: the loopback, uid 0. */
        media_remote_stats remote[4];
        size_t n = 99;
        remote[0].struct_size = sizeof remote[0];
        EXPECT(media_engine_get_remote_stats(engine, NULL, 0, &n), MEDIA_OK);
        if (n != 1) {
            fprintf(stderr, "FAIL: %zu remotes during the echo test\n", n);
            failures++;
        }
        EXPECT(media_engine_get_remote_stats(engine, remote, 4, &n), MEDIA_OK);
        if (n != 1 || remote[0].uid != 0 || remote[0].video_frames_decoded == 0) {
            fprintf(stderr, "FAIL: remote stats (n %zu, decoded %llu)\n", n,
                    n ? (unsigned long long)remote[0].video_frames_decoded : 0ULL);
            failures++;
        }
        EXPECT(media_engine_get_remote_stats(engine, NULL, 4, &n), MEDIA_ERR_NULL_ARGUMENT);
        EXPECT(media_engine_get_remote_stats(engine, remote, 4, NULL), MEDIA_ERR_NULL_ARGUMENT);
    }
    media_engine_stop_echo_test(engine);
    stats.struct_size = sizeof stats;
    /* A struct_size left unset is refused, not written past. */
    {
        media_stats unset = {0};
        EXPECT(media_engine_get_stats(engine, &unset), MEDIA_ERR_INVALID_ARGUMENT);
    }
    EXPECT(media_engine_get_stats(engine, &stats), MEDIA_OK);
    printf("video: captured %llu encoded %llu decoded %llu rendered %llu dropped %llu, latency p50 %.2f ms p95 %.2f ms\n",
           (unsigned long long)stats.video_frames_captured, (unsigned long long)stats.video_frames_encoded,
           (unsigned long long)stats.video_frames_decoded, (unsigned long long)stats.video_frames_rendered,
           (unsigned long long)stats.video_frames_dropped, stats.video_latency_p50_us / 1000.0,
           stats.video_latency_p95_us / 1000.0);
    printf("audio: encoded %llu decoded %llu concealed %llu fec %llu\n", (unsigned long long)stats.audio_frames_encoded,
           (unsigned long long)stats.audio_frames_decoded, (unsigned long long)stats.audio_concealed,
           (unsigned long long)stats.audio_fec_recovered);
    /* No peer reports loss on the echo test's path: Opus keeps the
     * configured FEC budget and bitrate. */
    if (stats.audio_expected_loss_pct != cfg.audio_expected_loss_pct ||
        stats.audio_target_bitrate_bps != cfg.audio_bitrate_bps) {
        fprintf(stderr, "FAIL: opus runs with %u %% at %u bit/s\n", stats.audio_expected_loss_pct,
                stats.audio_target_bitrate_bps);
        failures++;
    }
    /* The configured bitrate carries the configured size: the encoder
     * runs at it. */
    printf("video sent at %ux%u %u fps; render delay %u us; %llu freezes (%llu ms)\n", stats.video_send_width,
           stats.video_send_height, stats.video_send_fps, stats.video_render_delay_us,
           (unsigned long long)stats.video_freezes, (unsigned long long)stats.video_frozen_ms);
    if (stats.video_send_width != cfg.video_width || stats.video_send_height != cfg.video_height ||
        stats.video_send_fps != cfg.video_fps) {
        fprintf(stderr, "FAIL: video sent at %ux%u %u fps\n", stats.video_send_width, stats.video_send_height,
                stats.video_send_fps);
        failures++;
    }
    media_engine_free(engine);

    check_misuse();

    if (atomic_load(&remote_frames) < 10 || atomic_load(&local_frames) < 10 || stats.audio_frames_decoded == 0) {
        fprintf(stderr, "FAIL: too little came back (remote %d, local %d frames)\n", atomic_load(&remote_frames),
                atomic_load(&local_frames));
        failures++;
    }
    if (atomic_load(&errors) != 0) {
        fprintf(stderr, "FAIL: %d error events\n", atomic_load(&errors));
        failures++;
    }
    printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
