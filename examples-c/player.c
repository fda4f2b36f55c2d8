/*
 * A scripted playback session reported through kino: metadata (who, what,
 * which experiment), load, startup, play, quality changes, a rebuffer, a
 * seek, a pause, a non-fatal error, heartbeats and end. It prints the CMCD
 * data a segment request would carry, the emitter's delivery counters and
 * QoE.
 *
 *   KINO_BEACON_URL=http://127.0.0.1:8080/beacon ./player
 *   ./player http://127.0.0.1:8080/beacon
 *
 * Copy from here: every kino call's status is checked, and a failure is
 * reported with kino_last_error_message().
 */
/* nanosleep() is POSIX: ask for it, so a plain `cc -std=c99` builds this. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kino.h"

static int failures = 0;

/* Reports a failed kino call; playback would carry on regardless. */
static void check(KinoStatus status, const char *what) {
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "player: %s failed: %s: %s\n", what, kino_status_str(status),
                kino_last_error_message());
        failures++;
    }
}

/* Wall-clock pause, so the QoE figures (timed at each call) mean something. */
static void wait_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* The CMCD data the next segment request would carry (append the query
 * form to its URL, or send the header lines with it). */
static void print_cmcd(KinoEmitter *emitter, const char *when, KinoCmcdForm form) {
    char text[512];
    check(kino_emitter_cmcd(emitter, form, text, sizeof text, NULL), "cmcd");
    printf("cmcd %s:\n", when);
    for (char *line = strtok(text, "\r\n"); line != NULL; line = strtok(NULL, "\r\n")) {
        printf("  %s\n", line);
    }
}

static void print_figure(const char *name, double value, const char *unit) {
    if (isnan(value)) {
        printf("  %-24s n/a\n", name);
    } else {
        printf("  %-24s %.3f%s\n", name, value, unit);
    }
}

int main(int argc, char **argv) {
    KinoConfig *config = kino_config_new();
    if (config == NULL) {
        fprintf(stderr, "player: out of memory\n");
        return 1;
    }
    if (argc > 1) {
        check(kino_config_set_beacon_url(config, argv[1]), "set_beacon_url");
    }
    check(kino_config_add_header(config, "X-Player", "kino-example/1"), "add_header");
    check(kino_config_set_batch_size(config, 8), "set_batch_size");
    check(kino_config_set_flush_interval_ms(config, 1000), "set_flush_interval_ms");
    /* Who and what: on every view of this session (docs/EVENTS.md lists the keys). */
    check(kino_config_set_metadata(config, "env", "demo"), "set_metadata");
    check(kino_config_set_metadata(config, "app_name", "kino-example"), "set_metadata");
    check(kino_config_set_metadata(config, "player_name", "examples-c/player"), "set_metadata");
    check(kino_config_set_metadata(config, "player_version", "1.0"), "set_metadata");
    check(kino_config_set_metadata(config, "experiment_name", "abr-2026"), "set_metadata");
    check(kino_config_set_metadata(config, "experiment_variant", "b"), "set_metadata");

    KinoEmitter *emitter = NULL;
    KinoStatus status = kino_emitter_new(config, &emitter);
    kino_config_free(config); /* the emitter does not depend on it */
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "player: kino_emitter_new: %s\n", kino_last_error_message());
        return 1;
    }

    char session[37];
    check(kino_emitter_session_id(emitter, session, sizeof session), "session_id");
    printf("kino %s, session %s\n", kino_version(), session);

    KinoResolution sd = {854, 480};
    KinoResolution hd = {1280, 720};
    KinoResolution fhd = {1920, 1080};

    /* Known after login: set at any time. */
    check(kino_emitter_set_metadata(emitter, "viewer_id", "viewer-7"), "set_metadata");
    /* What is played: set before the load, and the view has it. */
    check(kino_emitter_set_view_metadata(emitter, "video_id", "movie-42"), "set_view_metadata");
    check(kino_emitter_set_view_metadata(emitter, "video_title", "The Movie"), "set_view_metadata");
    check(kino_emitter_set_view_metadata(emitter, "video_duration", "5400"), "set_view_metadata");
    check(kino_emitter_set_view_metadata(emitter, "video_stream_type", "on_demand"),
          "set_view_metadata");
    check(kino_emitter_set_view_metadata(emitter, "video_cdn", "cdn-a"), "set_view_metadata");

    /* The access token in the query is removed before the URL leaves. */
    check(kino_emit_load(emitter, "https://cdn.example/movie/master.m3u8?token=secret", false),
          "load");
    check(kino_emit_state_change(emitter, KINO_PLAYER_STATE_IDLE, KINO_PLAYER_STATE_LOADING, 0.0),
          "state_change");
    check(kino_emit_quality_change(emitter, 0, 800000, NULL, &sd, KINO_QUALITY_CHANGE_REASON_INITIAL),
          "quality_change");
    print_cmcd(emitter, "at startup, query form", KINO_CMCD_FORM_QUERY);
    wait_ms(400); /* startup */
    check(kino_emit_play(emitter, 0.0), "play"); /* first frame rendered */
    check(kino_emit_state_change(emitter, KINO_PLAYER_STATE_LOADING, KINO_PLAYER_STATE_PLAYING, 0.0),
          "state_change");
    check(kino_emit_quality_change(emitter, 800000, 2500000, &sd, &hd, KINO_QUALITY_CHANGE_REASON_ABR),
          "quality_change");
    wait_ms(200);
    check(kino_emit_heartbeat(emitter, 0.2, 12.5, 2500000, 0, 5), "heartbeat");
    check(kino_emit_quality_change(emitter, 2500000, 6000000, &hd, &fhd, KINO_QUALITY_CHANGE_REASON_ABR),
          "quality_change");
    wait_ms(200);
    check(kino_emit_heartbeat(emitter, 0.4, 8.0, 6000000, 0, 10), "heartbeat");
    /* The user picked another audio track: a metadata record for this view. */
    check(kino_emitter_set_view_metadata(emitter, "video_language", "fr"), "set_view_metadata");

    /* A stall: the buffer ran dry. */
    check(kino_emit_rebuffer(emitter, 0.4, 0.0), "rebuffer");
    print_cmcd(emitter, "while stalled, header form", KINO_CMCD_FORM_HEADERS);
    wait_ms(300);
    check(kino_emit_rebuffer_end(emitter, 0.4, 0.3), "rebuffer_end");
    check(kino_emit_quality_change(emitter, 6000000, 2500000, &fhd, &hd, KINO_QUALITY_CHANGE_REASON_BUFFER),
          "quality_change");

    /* The user seeks forward, then pauses and resumes. */
    check(kino_emit_seek(emitter, 0.4, 120.0), "seek");
    wait_ms(150);
    check(kino_emit_play(emitter, 120.0), "play");
    check(kino_emit_pause(emitter, 120.0), "pause");
    wait_ms(100);
    check(kino_emit_play(emitter, 120.0), "play");

    /* A recoverable error, and something of the player's own. */
    check(kino_emit_error(emitter, "HLS_SEGMENT_404", "segment 42 not found, retried", false, 120.0),
          "error");
    check(kino_emit_custom(emitter, "ad_break", "{\"slot\":\"mid\",\"duration\":15}"), "custom");
    check(kino_emit_heartbeat(emitter, 120.0, 10.0, 2500000, 2, 20), "heartbeat");

    /* kino refuses bad input with a status and a message; nothing breaks. */
    KinoStatus refused = kino_emit_play(emitter, NAN);
    printf("refused NaN position: %s (%s)\n", kino_status_str(refused), kino_last_error_message());

    check(kino_emit_state_change(emitter, KINO_PLAYER_STATE_PLAYING, KINO_PLAYER_STATE_ENDED, 120.0),
          "state_change");
    check(kino_emit_end(emitter, 120.0, 0.7), "end"); /* sent at once */

    check(kino_emitter_flush(emitter, 5000), "flush");

    KinoStats stats;
    check(kino_emitter_stats(emitter, &stats), "stats");
    printf("stats: emitted=%llu delivered=%llu failed=%llu dropped=%llu queued=%llu batches=%llu\n",
           (unsigned long long)stats.emitted, (unsigned long long)stats.delivered,
           (unsigned long long)stats.failed, (unsigned long long)stats.dropped,
           (unsigned long long)stats.queued, (unsigned long long)stats.batches);

    KinoQoeBreakdown qoe;
    check(kino_emitter_qoe(emitter, &qoe), "qoe");
    printf("qoe:\n");
    print_figure("score", qoe.score, "");
    print_figure("initial_buffer_time", qoe.initial_buffer_time, " s");
    printf("  %-24s %u\n", "rebuffer_count", qoe.rebuffer_count);
    print_figure("rebuffer_duration", qoe.rebuffer_duration, " s");
    printf("  %-24s %u\n", "quality_switches", qoe.quality_switches);
    printf("  %-24s %llu bit/s\n", "average_bitrate", (unsigned long long)qoe.average_bitrate);
    printf("  %-24s %u\n", "seek_count", qoe.seek_count);
    print_figure("average_seek_latency", qoe.average_seek_latency, " s");
    print_figure("playing_time", qoe.playing_time, " s");
    print_figure("watch_time", qoe.watch_time, " s");
    print_figure("view_time", qoe.view_time, " s");
    printf("  %-24s %u up, %u down\n", "shifts", qoe.upshifts, qoe.downshifts);
    printf("  %-24s %u\n", "error_count", qoe.error_count);
    print_figure("rebuffer_ratio", qoe.rebuffer_ratio, "");
    print_figure("startup_score", qoe.startup_score, "");
    print_figure("smoothness_score", qoe.smoothness_score, "");
    print_figure("playback_success_score", qoe.playback_success_score, "");

    kino_emitter_free(emitter);

    /* The stand-alone calculator: the seed's arithmetic. */
    KinoQoe *calc = kino_qoe_new();
    check(kino_qoe_record_initial_buffer(calc, 5.0), "qoe_record_initial_buffer");
    printf("stand-alone calculator, 5 s startup: score %.1f\n", kino_qoe_score(calc));
    kino_qoe_free(calc);

    if (failures > 0 || stats.delivered != stats.emitted) {
        fprintf(stderr, "player: %d call(s) failed, %llu of %llu events delivered\n", failures,
                (unsigned long long)stats.delivered, (unsigned long long)stats.emitted);
        return 1;
    }
    return 0;
}
