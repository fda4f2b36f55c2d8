/*
 * A program from outside the kino tree, built against an installed kino
 * (tests/install.rs builds it with pkg-config, with CMake, and statically).
 *
 *   ./outside [BEACON_URL]
 *
 * With a URL the batches go to that collector; without one, to a batch
 * callback here. Either way: one short view, a flush, and a check that
 * every event was delivered. Prints "outside: ok ..." and exits 0 on
 * success.
 */
#include <stdio.h>
#include <string.h>

#include <kino.h>

static unsigned long batches_seen = 0;

static int on_batch(void *user_data, const char *json, size_t len) {
    (void)user_data;
    if (len == 0 || json[0] != '[' || json[len - 1] != ']' || strlen(json) != len) {
        return 1; /* not a JSON array: refuse it */
    }
    batches_seen++;
    return 0;
}

static int failed = 0;

static void check(KinoStatus status, const char *what) {
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "outside: %s: %s: %s\n", what, kino_status_str(status),
                kino_last_error_message());
        failed = 1;
    }
}

int main(int argc, char **argv) {
    if (strcmp(kino_version(), KINO_VERSION_STRING) != 0) {
        fprintf(stderr, "outside: header %s but library %s\n", KINO_VERSION_STRING, kino_version());
        return 1;
    }
    KinoConfig *config = kino_config_new();
    if (config == NULL) {
        return 1;
    }
    if (argc > 1) {
        check(kino_config_set_beacon_url(config, argv[1]), "set_beacon_url");
    } else {
        check(kino_config_set_beacon_url(config, NULL), "clear beacon url");
        check(kino_config_set_batch_callback(config, on_batch, NULL), "set_batch_callback");
    }
    check(kino_config_set_batch_size(config, 4), "set_batch_size");
    KinoEmitter *kino = NULL;
    KinoStatus status = kino_emitter_new(config, &kino);
    kino_config_free(config);
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "outside: emitter_new: %s\n", kino_last_error_message());
        return 1;
    }

    KinoResolution hd = {1280, 720};
    check(kino_emit_load(kino, "https://cdn.example/outside/master.m3u8", false), "load");
    check(kino_emit_quality_change(kino, 0, 2500000, NULL, &hd, KINO_QUALITY_CHANGE_REASON_INITIAL),
          "quality_change");
    check(kino_emit_play(kino, 0.0), "play");
    check(kino_emit_heartbeat(kino, 1.0, 4.0, 2500000, 0, 25), "heartbeat");
    check(kino_emit_end(kino, 2.0, 2.0), "end");
    check(kino_emitter_flush(kino, 10000), "flush");

    KinoStats stats;
    memset(&stats, 0, sizeof stats);
    check(kino_emitter_stats(kino, &stats), "stats");
    char session[37];
    check(kino_emitter_session_id(kino, session, sizeof session), "session_id");
    kino_emitter_free(kino);

    /* five events, plus the qoe record kino adds when `end` closes the view */
    if (failed || stats.emitted < 5 || stats.delivered != stats.emitted || stats.failed != 0 ||
        stats.queued != 0 || stats.dropped != 0 || (argc <= 1 && batches_seen == 0)) {
        fprintf(stderr,
                "outside: FAILED: emitted=%llu delivered=%llu failed=%llu queued=%llu "
                "dropped=%llu batches=%lu\n",
                (unsigned long long)stats.emitted, (unsigned long long)stats.delivered,
                (unsigned long long)stats.failed, (unsigned long long)stats.queued,
                (unsigned long long)stats.dropped, batches_seen);
        return 1;
    }
    printf("outside: ok (kino %s, session %s, %llu events delivered to %s)\n", kino_version(),
           session, (unsigned long long)stats.delivered, argc > 1 ? "the collector" : "the callback");
    return 0;
}
