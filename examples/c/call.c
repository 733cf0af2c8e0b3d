/*
 * A 1v1 video call through the C API, in one process: the library starts
 * its own rendezvous server, two engines with synthetic devices register,
 * alice calls bob, bob accepts from his event callback, both decode the
 * other's video, alice hangs up. Along the way: calling someone offline and
 * connecting with a forged token give their error codes, and misuse of the
 * server functions gets the documented errors.
 *
 *   usage: call            (exits 0 on success)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media.h"
#include "expect.h"

static int failures;


/* What one engine's callback has seen. */
typedef struct peer {
    const char *name;
    media_engine *engine;
    atomic_int connected;      /* registered with the server */
    atomic_int failed;         /* the server refused us: the result code + 1000 */
    atomic_int remote_video;   /* first remote video frame seen */
    atomic_int ended;          /* a call ended: its end reason + 1 */
    atomic_int ended_error;    /* ... and its error code */
} peer;

static void on_event(void *userdata, const media_event *ev) {
    peer *p = userdata;
    switch (ev->type) {
    case MEDIA_EVENT_SERVER:
        if (ev->server_state == MEDIA_SERVER_CONNECTED) atomic_store(&p->connected, 1);
        if (ev->server_state == MEDIA_SERVER_FAILED) {
            printf("[%s] server refused us: %s (%s)\n", p->name, ev->code, media_result_str(ev->error));
            atomic_store(&p->failed, 1000 + (int)ev->error);
        }
        break;
    case MEDIA_EVENT_CALL:
        if (ev->call == MEDIA_CALL_INCOMING) {
            printf("[%s] incoming %s call %s from %s\n", p->name, ev->video ? "video" : "audio", ev->call_id,
                   ev->user_id);
            /* Calling back into the engine from its callback is allowed. */
            media_result r = media_engine_accept(p->engine, ev->call_id);
            if (r != MEDIA_OK) fprintf(stderr, "[%s] accept: %s\n", p->name, media_result_str(r));
        } else if (ev->call == MEDIA_CALL_ENDED) {
            printf("[%s] call %s ended: reason %d, %s\n", p->name, ev->call_id, (int)ev->end_reason,
                   media_result_str(ev->error));
            atomic_store(&p->ended_error, (int)ev->error);
            atomic_store(&p->ended, (int)ev->end_reason + 1);
        }
        break;
    case MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME:
        printf("[%s] first remote video %ux%u from uid %u\n", p->name, ev->width, ev->height, ev->uid);
        atomic_store(&p->remote_video, 1);
        break;
    case MEDIA_EVENT_ERROR:
        printf("[%s] error %s: %s\n", p->name, media_result_str(ev->error), ev->message);
        break;
    default:
        break;
    }
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (at most 20 s) until *flag is non-zero. */
static int wait_for(atomic_int *flag, const char *what) {
    for (int waited = 0; waited < 20000; waited += 10) {
        if (atomic_load(flag)) return 1;
        sleep_ms(10);
    }
    fprintf(stderr, "FAIL: timed out waiting for %s\n", what);
    failures++;
    return 0;
}

static media_engine *new_engine(peer *p) {
    media_engine_config cfg;
    media_engine_config_fake(&cfg);
    cfg.video_width = 320;
    cfg.video_height = 180;
    cfg.video_fps = 15;
    cfg.video_bitrate_bps = 300000;
    cfg.stats_interval_ms = 0;
    media_engine *e = NULL;
    EXPECT(media_engine_new(&cfg, &e), MEDIA_OK);
    p->engine = e;
    EXPECT(media_engine_set_event_callback(e, on_event, p), MEDIA_OK);
    return e;
}

static void connect_as(peer *p, const char *url, const char *token) {
    media_server_config sc;
    media_server_config_default(&sc);
    sc.url = url;
    sc.app_id = "demo";
    sc.user_id = p->name;
    sc.token = token;
    sc.host_ip = "127.0.0.1";
    EXPECT(media_engine_connect_server(p->engine, &sc), MEDIA_OK);
}

int main(void) {
    media_local_server *server = NULL;
    char url[64], token_a[512], token_b[512], small[8];

    /* Misuse of the server functions. */
    EXPECT(media_local_server_start(NULL, "demo", "s", &server), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_local_server_start("127.0.0.1:0", "demo", "s", NULL), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_local_server_start("not an address", "demo", "s", &server), MEDIA_ERR_INVALID_ARGUMENT);
    EXPECT(media_local_server_start("127.0.0.1:0", "", "s", &server), MEDIA_ERR_INVALID_ARGUMENT);
    if (server != NULL) {
        fprintf(stderr, "FAIL: a failed start left a server behind\n");
        failures++;
    }
    EXPECT(media_local_server_url(NULL, url, sizeof url), MEDIA_ERR_NULL_ARGUMENT);
    media_local_server_free(NULL);

    EXPECT(media_local_server_start("127.0.0.1:0", "demo", "local-secret", &server), MEDIA_OK);
    if (server == NULL) return 1;
    EXPECT(media_local_server_url(server, url, sizeof url), MEDIA_OK);
    EXPECT(media_local_server_url(server, small, sizeof small), MEDIA_ERR_BUFFER_TOO_SMALL);
    EXPECT(media_local_server_token(server, NULL, 60, token_a, sizeof token_a), MEDIA_ERR_NULL_ARGUMENT);
    EXPECT(media_local_server_token(server, "alice", 60, small, sizeof small), MEDIA_ERR_BUFFER_TOO_SMALL);
    EXPECT(media_local_server_token(server, "alice", 3600, token_a, sizeof token_a), MEDIA_OK);
    EXPECT(media_local_server_token(server, "bob", 3600, token_b, sizeof token_b), MEDIA_OK);
    printf("server at %s\n", url);

    static peer alice = {.name = "alice"}, bob = {.name = "bob"}, mallory = {.name = "mallory"};
    new_engine(&alice);
    new_engine(&bob);
    new_engine(&mallory);
    connect_as(&bob, url, token_b);
    connect_as(&alice, url, token_a);
    connect_as(&mallory, url, "v1.forged.token");
    wait_for(&alice.connected, "alice registered");
    wait_for(&bob.connected, "bob registered");
    if (wait_for(&mallory.failed, "mallory refused"))
        EXPECT((media_result)(atomic_load(&mallory.failed) - 1000), MEDIA_ERR_BAD_TOKEN);

    /* Nobody by that name is online. */
    char call_id[128];
    EXPECT(media_engine_call(alice.engine, "nobody", true, call_id, sizeof call_id), MEDIA_OK);
    if (wait_for(&alice.ended, "the call to nobody to end")) {
        EXPECT((media_result)atomic_load(&alice.ended_error), MEDIA_ERR_PEER_OFFLINE);
        if (atomic_load(&alice.ended) != MEDIA_CALL_END_OFFLINE + 1) {
            fprintf(stderr, "FAIL: end reason %d, expected offline\n", atomic_load(&alice.ended) - 1);
            failures++;
        }
    }
    atomic_store(&alice.ended, 0);

    /* The call: bob accepts from his callback; both see the other's video. */
    EXPECT(media_engine_call(alice.engine, "bob", true, call_id, sizeof call_id), MEDIA_OK);
    wait_for(&alice.remote_video, "alice to decode bob's video");
    wait_for(&bob.remote_video, "bob to decode alice's video");
    media_remote_stats remote[2];
    size_t n = 0;
    remote[0].struct_size = sizeof remote[0];
    EXPECT(media_engine_get_remote_stats(alice.engine, remote, 2, &n), MEDIA_OK);
    if (n != 1 || remote[0].uid != 0) {
        fprintf(stderr, "FAIL: alice sees %zu remotes\n", n);
        failures++;
    }
    EXPECT(media_engine_hangup(alice.engine), MEDIA_OK);
    if (wait_for(&bob.ended, "bob to see the hang-up") && atomic_load(&bob.ended) != MEDIA_CALL_END_HANGUP + 1) {
        fprintf(stderr, "FAIL: bob's end reason %d, expected hangup\n", atomic_load(&bob.ended) - 1);
        failures++;
    }

    media_engine_free(alice.engine);
    media_engine_free(bob.engine);
    media_engine_free(mallory.engine);
    media_local_server_free(server);
    printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
