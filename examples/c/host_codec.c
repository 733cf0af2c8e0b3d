/*
 * A host's own H.264 codec through the C API (media_video_codec), as a
 * phone app hands in Android's MediaCodec or Apple's VideoToolbox. Here
 * FFmpeg's libavcodec stands in: x264 encodes, FFmpeg's decoder decodes.
 * The echo test sends the test pattern through them and the frame callback
 * sees it come back; the engine's keyframe and bitrate requests reach the
 * host's encoder. Then a 1v1 call over WebRTC through the library's own
 * server between an engine with this codec and one with the built-in
 * openh264: x264's stream goes through RTP packetization to openh264, and
 * openh264's to FFmpeg. Also checks that an incomplete codec is refused
 * and that an encoder the host cannot make is a clear error.
 *
 *   build: cc host_codec.c -lmedia $(pkg-config --cflags --libs libavcodec libavutil)
 *   usage: host_codec [seconds]      (default 3; exits 0 on success)
 */
#define _POSIX_C_SOURCE 200809L
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media.h"
#include "expect.h"

static int failures;

/* What the engine asked of the host's codec. */
static atomic_int encoders_made, frames_encoded, keyframes_asked, keyframes_made, frames_skipped;
static atomic_int bitrate_changes, last_bitrate;
static atomic_int decoders_made, units_decoded, pictures_out, decode_errors;
static atomic_int live_encoders, live_decoders;
static atomic_int remote_frames, remote_wrong_size;

/* ---- the host's encoder: x264 through libavcodec ---- */

typedef struct {
    AVCodecContext *ctx;
    AVFrame *frame;
    AVPacket *packet;
} host_encoder;

static void encoder_free(void *p) {
    host_encoder *e = p;
    avcodec_free_context(&e->ctx);
    av_frame_free(&e->frame);
    av_packet_free(&e->packet);
    free(e);
    atomic_fetch_sub(&live_encoders, 1);
}

static void *encoder_new(void *userdata, const media_video_encoder_settings *s) {
    (void)userdata;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (codec == NULL) return NULL;
    host_encoder *e = calloc(1, sizeof *e);
    if (e == NULL) return NULL;
    atomic_fetch_add(&live_encoders, 1);
    e->ctx = avcodec_alloc_context3(codec);
    e->frame = av_frame_alloc();
    e->packet = av_packet_alloc();
    if (e->ctx == NULL || e->frame == NULL || e->packet == NULL) goto fail;
    e->ctx->width = (int)s->width;
    e->ctx->height = (int)s->height;
    e->ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    e->ctx->time_base = (AVRational){1, 1000000};
    e->ctx->framerate = (AVRational){(int)s->fps, 1};
    e->ctx->bit_rate = s->bitrate_bps;
    e->ctx->gop_size = 100000; /* IDRs only when the engine asks */
    e->ctx->max_b_frames = 0;
    e->ctx->thread_count = 1;
    e->ctx->profile = FF_PROFILE_H264_CONSTRAINED_BASELINE;
    av_opt_set(e->ctx->priv_data, "preset", "ultrafast", 0);
    av_opt_set(e->ctx->priv_data, "tune", "zerolatency", 0);
    av_opt_set(e->ctx->priv_data, "forced-idr", "1", 0);
    if (avcodec_open2(e->ctx, codec, NULL) < 0) goto fail;
    atomic_fetch_add(&encoders_made, 1);
    return e;
fail:
    encoder_free(e);
    return NULL;
}

static int32_t encoder_set_bitrate(void *p, uint32_t bps) {
    host_encoder *e = p;
    e->ctx->bit_rate = bps; /* libx264 reconfigures at the next frame */
    atomic_fetch_add(&bitrate_changes, 1);
    atomic_store(&last_bitrate, (int)bps);
    return 0;
}

static int32_t encoder_encode(void *p, const media_video_push_frame *f, bool keyframe, uint8_t *out, size_t capacity,
                              size_t *out_len) {
    host_encoder *e = p;
    *out_len = 0;
    if (f->format != MEDIA_PIXEL_I420 || (int)f->width != e->ctx->width || (int)f->height != e->ctx->height) return -1;
    e->frame->format = AV_PIX_FMT_YUV420P;
    e->frame->width = (int)f->width;
    e->frame->height = (int)f->height;
    for (int i = 0; i < 3; i++) {
        e->frame->data[i] = (uint8_t *)f->planes[i];
        e->frame->linesize[i] = (int)f->strides[i];
    }
    e->frame->pts = (int64_t)f->timestamp_us;
    e->frame->pict_type = keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    if (keyframe) atomic_fetch_add(&keyframes_asked, 1);
    if (avcodec_send_frame(e->ctx, e->frame) < 0) return -2;
    int r = avcodec_receive_packet(e->ctx, e->packet);
    if (r == AVERROR(EAGAIN)) {
        atomic_fetch_add(&frames_skipped, 1);
        return 0;
    }
    if (r < 0) return -3;
    if ((size_t)e->packet->size > capacity) {
        av_packet_unref(e->packet);
        return -4;
    }
    memcpy(out, e->packet->data, (size_t)e->packet->size);
    *out_len = (size_t)e->packet->size;
    if (e->packet->flags & AV_PKT_FLAG_KEY) atomic_fetch_add(&keyframes_made, 1);
    av_packet_unref(e->packet);
    atomic_fetch_add(&frames_encoded, 1);
    return 0;
}

/* ---- the host's decoder: FFmpeg's H.264 decoder ---- */

typedef struct {
    AVCodecContext *ctx;
    AVFrame *frame;
    AVPacket *packet;
    uint8_t *input; /* the access unit with the padding FFmpeg reads past its end */
    size_t input_capacity;
} host_decoder;

static void decoder_free(void *p) {
    host_decoder *d = p;
    avcodec_free_context(&d->ctx);
    av_frame_free(&d->frame);
    av_packet_free(&d->packet);
    free(d->input);
    free(d);
    atomic_fetch_sub(&live_decoders, 1);
}

static void *decoder_new(void *userdata) {
    (void)userdata;
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    if (codec == NULL) return NULL;
    host_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    atomic_fetch_add(&live_decoders, 1);
    d->ctx = avcodec_alloc_context3(codec);
    d->frame = av_frame_alloc();
    d->packet = av_packet_alloc();
    if (d->ctx == NULL || d->frame == NULL || d->packet == NULL) goto fail;
    d->ctx->thread_count = 1;
    d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    if (avcodec_open2(d->ctx, codec, NULL) < 0) goto fail;
    atomic_fetch_add(&decoders_made, 1);
    return d;
fail:
    decoder_free(d);
    return NULL;
}

static int32_t decoder_decode(void *p, const uint8_t *data, size_t len, media_video_push_frame *out) {
    host_decoder *d = p;
    atomic_fetch_add(&units_decoded, 1);
    av_frame_unref(d->frame); /* the previous picture's planes are no longer needed */
    if (len + AV_INPUT_BUFFER_PADDING_SIZE > d->input_capacity) {
        uint8_t *bigger = realloc(d->input, len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (bigger == NULL) return -1;
        d->input = bigger;
        d->input_capacity = len + AV_INPUT_BUFFER_PADDING_SIZE;
    }
    memcpy(d->input, data, len);
    memset(d->input + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    d->packet->data = d->input;
    d->packet->size = (int)len;
    if (avcodec_send_packet(d->ctx, d->packet) < 0) {
        atomic_fetch_add(&decode_errors, 1);
        return -2;
    }
    int r = avcodec_receive_frame(d->ctx, d->frame);
    if (r == AVERROR(EAGAIN)) return 0; /* no picture yet: out->width stays 0 */
    if (r < 0 || (d->frame->format != AV_PIX_FMT_YUV420P && d->frame->format != AV_PIX_FMT_YUVJ420P)) {
        atomic_fetch_add(&decode_errors, 1);
        return -3;
    }
    out->format = MEDIA_PIXEL_I420;
    out->width = (uint32_t)d->frame->width;
    out->height = (uint32_t)d->frame->height;
    for (int i = 0; i < 3; i++) {
        out->planes[i] = d->frame->data[i];
        out->strides[i] = (uint32_t)d->frame->linesize[i];
    }
    atomic_fetch_add(&pictures_out, 1);
    return 0;
}

static void *no_encoder(void *userdata, const media_video_encoder_settings *s) {
    (void)userdata;
    (void)s;
    return NULL;
}

static media_video_codec host_codec(void) {
    media_video_codec c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.encoder_new = encoder_new;
    c.encoder_encode = encoder_encode;
    c.encoder_set_bitrate = encoder_set_bitrate;
    c.encoder_free = encoder_free;
    c.decoder_new = decoder_new;
    c.decoder_decode = decoder_decode;
    c.decoder_free = decoder_free;
    return c;
}

/* ---- the engine ---- */

static void on_frame(void *userdata, const media_video_frame *f) {
    (void)userdata;
    if (f->source != MEDIA_FRAME_REMOTE) return;
    atomic_fetch_add(f->width == 320 && f->height == 180 ? &remote_frames : &remote_wrong_size, 1);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- a call: this codec on one side, the library's own on the other ---- */

typedef struct peer {
    const char *name;
    media_engine *engine;
    atomic_int connected;
    atomic_int remote_frames;
} peer;

static void on_call_event(void *userdata, const media_event *ev) {
    peer *p = userdata;
    if (ev->type == MEDIA_EVENT_SERVER && ev->server_state == MEDIA_SERVER_CONNECTED) atomic_store(&p->connected, 1);
    if (ev->type == MEDIA_EVENT_CALL && ev->call == MEDIA_CALL_INCOMING) media_engine_accept(p->engine, ev->call_id);
    if (ev->type == MEDIA_EVENT_ERROR) printf("[%s] error %s: %s\n", p->name, media_result_str(ev->error), ev->message);
}

static void on_call_frame(void *userdata, const media_video_frame *f) {
    peer *p = userdata;
    if (f->source == MEDIA_FRAME_REMOTE && f->width == 320 && f->height == 180) atomic_fetch_add(&p->remote_frames, 1);
}

/* Waits (at most 20 s) until *value reaches `want`. */
static int wait_at_least(atomic_int *value, int want) {
    for (int waited = 0; waited < 20000 && atomic_load(value) < want; waited += 10) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return atomic_load(value) >= want;
}

static void call_between_codecs(media_video_codec *codec) {
    media_local_server *server = NULL;
    media_result r = media_local_server_start("127.0.0.1:0", "demo", "local-secret", &server);
    if (r == MEDIA_ERR_UNSUPPORTED) {
        printf("call: skipped (a library without the in-process server)\n");
        return;
    }
    EXPECT(r, MEDIA_OK);
    if (server == NULL) return;
    char url[128], token[2][512];
    EXPECT(media_local_server_url(server, url, sizeof url), MEDIA_OK);
    peer peers[2] = {{.name = "alice"}, {.name = "bob"}};
    for (int i = 0; i < 2; i++) {
        media_engine_config cfg;
        media_engine_config_fake(&cfg);
        cfg.video_width = 320;
        cfg.video_height = 180;
        cfg.video_bitrate_bps = 400000;
        cfg.stats_interval_ms = 0;
        cfg.video_codec = i == 0 ? codec : NULL; /* alice: the host's; bob: the library's */
        EXPECT(media_engine_new(&cfg, &peers[i].engine), MEDIA_OK);
        if (peers[i].engine == NULL) return;
        EXPECT(media_engine_set_event_callback(peers[i].engine, on_call_event, &peers[i]), MEDIA_OK);
        EXPECT(media_engine_set_frame_callback(peers[i].engine, on_call_frame, &peers[i]), MEDIA_OK);
        EXPECT(media_local_server_token(server, peers[i].name, 3600, token[i], sizeof token[i]), MEDIA_OK);
        media_server_config sc;
        media_server_config_default(&sc);
        sc.url = url;
        sc.app_id = "demo";
        sc.user_id = peers[i].name;
        sc.token = token[i];
        sc.host_ip = "127.0.0.1";
        EXPECT(media_engine_connect_server(peers[i].engine, &sc), MEDIA_OK);
    }
    int frames_before = atomic_load(&frames_encoded), pictures_before = atomic_load(&pictures_out);
    char call_id[64];
    if (!wait_at_least(&peers[0].connected, 1) || !wait_at_least(&peers[1].connected, 1)) {
        fprintf(stderr, "FAIL: both register with the server\n");
        failures++;
    } else {
        EXPECT(media_engine_call(peers[0].engine, "bob", true, call_id, sizeof call_id), MEDIA_OK);
        if (!wait_at_least(&peers[0].remote_frames, 30) || !wait_at_least(&peers[1].remote_frames, 30)) {
            fprintf(stderr, "FAIL: each side decodes 30 frames of the other's\n");
            failures++;
        }
    }
    media_stats stats = {.struct_size = sizeof stats};
    EXPECT(media_engine_get_stats(peers[1].engine, &stats), MEDIA_OK);
    printf("call: alice (x264 / FFmpeg) saw %d frames of bob's, bob (openh264) %d of alice's with %llu decode "
           "errors; alice's codec encoded %d, decoded %d\n",
           atomic_load(&peers[0].remote_frames), atomic_load(&peers[1].remote_frames),
           (unsigned long long)stats.video_decode_errors, atomic_load(&frames_encoded) - frames_before,
           atomic_load(&pictures_out) - pictures_before);
    if (atomic_load(&frames_encoded) - frames_before < 30 || atomic_load(&pictures_out) - pictures_before < 30 ||
        stats.video_decode_errors != 0) {
        fprintf(stderr, "FAIL: the call's video went through alice's codec both ways\n");
        failures++;
    }
    media_engine_hangup(peers[0].engine);
    media_engine_free(peers[0].engine);
    media_engine_free(peers[1].engine);
    media_local_server_free(server);
}

static int has_detail(const char *want) {
    char detail[256];
    return media_last_error_message(detail, sizeof detail) > 0 && strstr(detail, want) != NULL;
}

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 3;
    media_engine_config cfg;
    media_engine *engine = NULL;
    media_video_codec codec = host_codec();
    av_log_set_level(AV_LOG_ERROR);

    /* An incomplete or unsized codec is refused when the engine is made. */
    media_engine_config_fake(&cfg);
    if (cfg.video_codec != NULL) {
        fprintf(stderr, "FAIL: the default codec is the library's own (NULL)\n");
        failures++;
    }
    media_video_codec bad = codec;
    bad.decoder_free = NULL;
    cfg.video_codec = &bad;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);
    if (!has_detail("decoder_free")) {
        fprintf(stderr, "FAIL: the missing callback is named\n");
        failures++;
    }
    bad = codec;
    bad.struct_size = 4;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_ERR_INVALID_ARGUMENT);

    /* An encoder the host cannot make: video does not start, clearly. */
    bad = codec;
    bad.encoder_new = no_encoder;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    EXPECT(media_engine_start_local_preview(engine), MEDIA_ERR_CODEC);
    if (!has_detail("encoder_new")) {
        fprintf(stderr, "FAIL: the failing callback is named\n");
        failures++;
    }
    media_engine_free(engine);
    engine = NULL;

    /* The echo test through the host's encoder and decoder. */
    media_engine_config_fake(&cfg);
    cfg.video_width = 320;
    cfg.video_height = 180;
    cfg.video_bitrate_bps = 500000;
    cfg.stats_interval_ms = 0;
    cfg.video_codec = &codec;
    EXPECT(media_engine_new(&cfg, &engine), MEDIA_OK);
    if (!engine) return 1;
    /* The engine copied the struct: the host's copy may go. */
    memset(&codec, 0, sizeof codec);
    EXPECT(media_engine_set_frame_callback(engine, on_frame, NULL), MEDIA_OK);
    EXPECT(media_engine_start_echo_test(engine), MEDIA_OK);
    for (int i = 0; i < seconds * 10; i++) {
        if (i == seconds * 5) EXPECT(media_engine_set_video_bitrate(engine, 300000), MEDIA_OK);
        sleep_ms(100);
    }
    media_stats stats = {.struct_size = sizeof stats};
    EXPECT(media_engine_get_stats(engine, &stats), MEDIA_OK);
    EXPECT(media_engine_stop_echo_test(engine), MEDIA_OK);
    media_engine_free(engine);
    codec = host_codec();

    printf("host encoder: %d made, %d frames (%d keyframes asked, %d made, %d skipped), %d bitrate changes (last %d)\n",
           atomic_load(&encoders_made), atomic_load(&frames_encoded), atomic_load(&keyframes_asked),
           atomic_load(&keyframes_made), atomic_load(&frames_skipped), atomic_load(&bitrate_changes),
           atomic_load(&last_bitrate));
    printf("host decoder: %d made, %d units, %d pictures, %d errors; engine decoded %llu, %llu decode errors\n",
           atomic_load(&decoders_made), atomic_load(&units_decoded), atomic_load(&pictures_out),
           atomic_load(&decode_errors), (unsigned long long)stats.video_frames_decoded,
           (unsigned long long)stats.video_decode_errors);
    printf("remote frames: %d at 320x180, %d of another size; %d encoders and %d decoders left\n",
           atomic_load(&remote_frames), atomic_load(&remote_wrong_size), atomic_load(&live_encoders),
           atomic_load(&live_decoders));
    int expected = seconds * 30 / 2; /* half the frames, for a busy machine */
    if (atomic_load(&frames_encoded) < expected || atomic_load(&pictures_out) < expected ||
        atomic_load(&remote_frames) < expected || atomic_load(&remote_wrong_size) != 0) {
        fprintf(stderr, "FAIL: too few frames went through the host's codec\n");
        failures++;
    }
    if (atomic_load(&keyframes_asked) < 1 || atomic_load(&keyframes_made) < 1 || atomic_load(&decode_errors) != 0) {
        fprintf(stderr, "FAIL: the first frame is a keyframe and every unit decodes\n");
        failures++;
    }
    if (atomic_load(&last_bitrate) != 300000) {
        fprintf(stderr, "FAIL: the bitrate set mid-call reached the host's encoder\n");
        failures++;
    }
    if (atomic_load(&live_encoders) != 0 || atomic_load(&live_decoders) != 0) {
        fprintf(stderr, "FAIL: every encoder and decoder the engine made was freed\n");
        failures++;
    }

    call_between_codecs(&codec);
    if (atomic_load(&live_encoders) != 0 || atomic_load(&live_decoders) != 0) {
        fprintf(stderr, "FAIL: the call's encoders and decoders were freed\n");
        failures++;
    }
    printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
