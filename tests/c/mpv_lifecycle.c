/*
 * Lifetimes of the libmpv adapter, run by tests/mpv_adapter.rs under
 * AddressSanitizer (use after free, leaks at exit):
 *
 *   mpv_lifecycle URL
 *
 *   1. every public function with NULL;
 *   2. attach, play past 2 s, detach while playing; then seek, pause and
 *      play on: kino's `emitted` must not move (no callback after detach);
 *   3. attach again, free nothing yet, and destroy the core under the
 *      attached adapter (mpv_terminate_destroy must not wait for it; the
 *      adapter closes the view with `end`); then detach and free.
 *
 * Prints "mpv_lifecycle: ok" and exits 0 when every check holds.
 */
#include <mpv/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kino.h"
#include "kino_mpv.h"

static int failures = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "mpv_lifecycle: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                               \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

static KinoStats stats(KinoEmitter *kino) {
    KinoStats st;
    memset(&st, 0, sizeof st);
    CHECK(kino_emitter_flush(kino, 5000) == KINO_STATUS_OK);
    CHECK(kino_emitter_stats(kino, &st) == KINO_STATUS_OK);
    return st;
}

/* Runs the application's own event loop until "time-pos" reaches
 * `seconds` (observed on the application's handle). */
static void play_until(mpv_handle *mpv, double seconds) {
    for (;;) {
        mpv_event *ev = mpv_wait_event(mpv, 30.0);
        if (ev->event_id == MPV_EVENT_END_FILE &&
            ((mpv_event_end_file *)ev->data)->reason == MPV_END_FILE_REASON_STOP) {
            continue; /* the file a new loadfile replaced */
        }
        if (ev->event_id == MPV_EVENT_NONE || ev->event_id == MPV_EVENT_END_FILE ||
            ev->event_id == MPV_EVENT_SHUTDOWN) {
            fprintf(stderr, "mpv_lifecycle: %s before %.1f s\n", mpv_event_name(ev->event_id),
                    seconds);
            failures++;
            return;
        }
        if (ev->event_id == MPV_EVENT_PROPERTY_CHANGE && ev->reply_userdata == 1) {
            mpv_event_property *p = ev->data;
            if (p->format == MPV_FORMAT_DOUBLE && *(double *)p->data >= seconds) {
                return;
            }
        }
    }
}

static void command(mpv_handle *mpv, const char *a, const char *b, const char *c) {
    const char *cmd[] = {a, b, c, NULL};
    CHECK(mpv_command(mpv, cmd) >= 0);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mpv_lifecycle URL\n");
        return 2;
    }
    KinoEmitter *kino = NULL;
    CHECK(kino_emitter_new(NULL, &kino) == KINO_STATUS_OK); /* $KINO_BEACON_URL */
    mpv_handle *mpv = mpv_create();
    mpv_set_option_string(mpv, "vo", "null");
    mpv_set_option_string(mpv, "ao", "null");

    /* 1. NULL everywhere */
    kino_mpv_options_init(NULL);
    kino_mpv_detach(NULL);
    CHECK(kino_mpv_attach(NULL, NULL, NULL) == NULL);
    CHECK(kino_mpv_attach(NULL, kino, NULL) == NULL);
    CHECK(kino_mpv_attach(mpv, NULL, NULL) == NULL);
    CHECK(kino_mpv_attach(mpv, kino, NULL) == NULL); /* before mpv_initialize */
    CHECK(mpv_initialize(mpv) >= 0);
    mpv_observe_property(mpv, 1, "time-pos", MPV_FORMAT_DOUBLE);
    CHECK(stats(kino).emitted == 0);

    /* 2. detach while playing: nothing after it */
    KinoMpvOptions options;
    kino_mpv_options_init(&options);
    options.heartbeat_interval_ms = 100; /* would show up at once after detach */
    KinoMpvAdapter *adapter = kino_mpv_attach(mpv, kino, &options);
    CHECK(adapter != NULL);
    command(mpv, "loadfile", argv[1], NULL);
    play_until(mpv, 2.0);
    kino_mpv_detach(adapter);
    uint64_t at_detach = stats(kino).emitted;
    CHECK(at_detach >= 4); /* load, state, play, quality at least */
    command(mpv, "set", "pause", "yes");
    command(mpv, "set", "pause", "no");
    command(mpv, "seek", "8", "absolute");
    play_until(mpv, 8.5);
    CHECK(stats(kino).emitted == at_detach);
    printf("mpv_lifecycle: %llu events until detach, none after\n", (unsigned long long)at_detach);

    /* 3. the core goes first, under an attached adapter */
    adapter = kino_mpv_attach(mpv, kino, &options);
    CHECK(adapter != NULL);
    command(mpv, "loadfile", argv[1], NULL); /* a new view */
    play_until(mpv, 1.0);
    mpv_terminate_destroy(mpv); /* returns: the adapter's handle is weak and lets go */
    kino_mpv_detach(adapter);
    KinoStats st = stats(kino);
    CHECK(st.emitted > at_detach);
    CHECK(st.emitted == st.delivered + st.failed + st.queued);
    KinoQoeBreakdown q;
    CHECK(kino_emitter_qoe(kino, &q) == KINO_STATUS_OK);
    CHECK(q.started && !q.playback_failed);
    kino_emitter_free(kino);

    if (failures != 0) {
        fprintf(stderr, "mpv_lifecycle: %d check(s) failed\n", failures);
        return 1;
    }
    printf("mpv_lifecycle: ok\n");
    return 0;
}
