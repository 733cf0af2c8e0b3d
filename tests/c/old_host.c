/*
 * A host built against an older media.h: the first layout of the config
 * and stats structs with a struct_size, before the host-audio fields were
 * added at their ends. Declared here as that header had them, then used
 * with today's library: the initialiser and get_stats write nothing past
 * the old structs (guard bytes stay intact), the engine runs with defaults
 * for the fields the old host lacks, and the old stats read correctly.
 */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "media.h"

static int failures;
#include "expect.h"

/* media_engine_config as the older header declared it. */
typedef struct old_engine_config {
    uint32_t struct_size;
    uint32_t audio_input;
    const char *audio_input_device;
    const char *audio_input_file;
    float tone_hz;
    float tone_level_dbfs;
    uint32_t audio_output;
    const char *audio_output_device;
    const char *audio_output_file;
    uint32_t video_input;
    uint32_t camera_index;
    const char *video_input_file;
    uint32_t video_width;
    uint32_t video_height;
    uint32_t video_fps;
    uint32_t video_bitrate_bps;
    uint32_t video_min_bitrate_bps;
    uint32_t video_max_bitrate_bps;
    uint32_t audio_bitrate_bps;
    bool audio_fec;
    uint32_t audio_expected_loss_pct;
    bool audio_dtx;
    float loopback_audio_loss;
    float loopback_video_loss;
    uint32_t loopback_delay_ms;
    uint32_t loopback_jitter_ms;
    uint64_t loopback_seed;
    uint32_t stats_interval_ms;
    const char *record_remote_video_file;
} old_engine_config;

/* media_stats as the older header declared it. */
typedef struct old_stats {
    uint32_t struct_size;
    uint64_t audio_frames_captured, audio_frames_encoded, audio_packets_received, audio_packets_lost,
        audio_frames_decoded, audio_fec_recovered, audio_concealed, audio_playout_underruns;
    uint32_t audio_send_bitrate_bps, audio_recv_bitrate_bps;
    uint64_t audio_jitter_us, video_frames_captured, video_frames_encoded, video_frames_decoded,
        video_frames_rendered, video_frames_dropped, video_frames_lost, video_keyframes_sent,
        video_keyframe_requests, video_decode_errors;
    uint32_t video_send_bitrate_bps, video_recv_bitrate_bps;
    uint64_t video_encode_latency_p50_us, video_transport_latency_p50_us, video_decode_latency_p50_us,
        video_latency_p50_us, video_latency_p95_us;
} old_stats;

/* The old structs are today's, cut where the new fields begin. */
_Static_assert(sizeof(old_engine_config) == offsetof(media_engine_config, audio_input_sample_rate),
               "old config layout");
_Static_assert(offsetof(old_engine_config, record_remote_video_file) ==
                   offsetof(media_engine_config, record_remote_video_file),
               "old config fields");
_Static_assert(sizeof(old_stats) == offsetof(media_stats, audio_push_dropped_frames), "old stats layout");
_Static_assert(sizeof(old_engine_config) < sizeof(media_engine_config), "the config grew");

#define GUARD 0xA5
#define GUARD_LEN 64

static int guard_intact(const unsigned char *g) {
    for (int i = 0; i < GUARD_LEN; i++)
        if (g[i] != GUARD) return 0;
    return 1;
}

int main(void) {
    /* Each old struct with guard bytes right behind it. */
    struct {
        old_engine_config c;
        unsigned char guard[GUARD_LEN];
    } cfg;
    struct {
        old_stats s;
        unsigned char guard[GUARD_LEN];
    } stats;
    memset(&cfg, GUARD, sizeof cfg);
    memset(&stats, GUARD, sizeof stats);

    /* The old header's media_engine_config_fake passed its own sizeof. */
    EXPECT(media_engine_config_init_fake((media_engine_config *)&cfg.c, sizeof cfg.c), MEDIA_OK);
    if (!guard_intact(cfg.guard)) {
        fprintf(stderr, "FAIL: the initialiser wrote past the old config\n");
        failures++;
    }
    if (cfg.c.struct_size != sizeof cfg.c || cfg.c.video_width != 640 || cfg.c.audio_input != MEDIA_AUDIO_INPUT_TONE ||
        cfg.c.record_remote_video_file != NULL) {
        fprintf(stderr, "FAIL: old config not filled: size %u width %u input %u\n", cfg.c.struct_size,
                cfg.c.video_width, cfg.c.audio_input);
        failures++;
    }
    /* Smaller than any version: refused, nothing written. */
    EXPECT(media_engine_config_init((media_engine_config *)&cfg.c, 8), MEDIA_ERR_INVALID_ARGUMENT);

    cfg.c.video_width = 320;
    cfg.c.video_height = 180;
    cfg.c.stats_interval_ms = 0;
    media_engine *engine = NULL;
    EXPECT(media_engine_new((const media_engine_config *)&cfg.c, &engine), MEDIA_OK);
    if (!engine) return 1;
    /* A struct_size never set (here the guard pattern) is refused. */
    EXPECT(media_engine_get_stats(engine, (media_stats *)&stats.s), MEDIA_ERR_INVALID_ARGUMENT);
    stats.s.struct_size = sizeof stats.s;
    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK);
    for (int i = 0; i < 300; i++) {
        EXPECT(media_engine_get_stats(engine, (media_stats *)&stats.s), MEDIA_OK);
        if (stats.s.video_frames_decoded >= 10 && stats.s.audio_frames_decoded >= 10) break;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    EXPECT(media_engine_stop_echo_test(engine), MEDIA_OK);
    if (!guard_intact(stats.guard)) {
        fprintf(stderr, "FAIL: get_stats wrote past the old stats\n");
        failures++;
    }
    if (stats.s.struct_size != sizeof stats.s || stats.s.video_frames_decoded < 10 ||
        stats.s.audio_frames_decoded < 10 || stats.s.video_frames_encoded < stats.s.video_frames_decoded) {
        fprintf(stderr, "FAIL: old stats: size %u, %llu video and %llu audio frames decoded\n", stats.s.struct_size,
                (unsigned long long)stats.s.video_frames_decoded, (unsigned long long)stats.s.audio_frames_decoded);
        failures++;
    }
    printf("old host: config %zu of %zu bytes, stats %zu of %zu bytes; %llu video and %llu audio frames decoded\n",
           sizeof cfg.c, sizeof(media_engine_config), sizeof stats.s, sizeof(media_stats),
           (unsigned long long)stats.s.video_frames_decoded, (unsigned long long)stats.s.audio_frames_decoded);
    media_engine_free(engine);

    /* Headers from before struct_size existed are refused at start-up. */
    EXPECT(media_check_abi(1), MEDIA_ERR_UNSUPPORTED);
    EXPECT(media_check_abi(MEDIA_ABI_VERSION), MEDIA_OK);
    printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
