/*
 * abuse.c - the kino C API abused from C, through the real header.
 *
 * Every call below is made the way a careless or hostile host would make
 * it: NULL pointers, invalid UTF-8, NaN / infinities / negative times,
 * enum values out of range, oversized text and JSON, bad configuration.
 * Each one must return its documented status and leave a non-empty
 * kino_last_error_message() that names the culprit. Built with
 * -fsanitize=address,undefined and run with LeakSanitizer by
 * tests/c_abuse.rs, so a crash, an overflow or a leak fails the test too.
 *
 * Usage: abuse <collector-url>, with KINO_BEACON_URL set to the same URL.
 * Prints one "session <uuid> <records> <label>" line per emitter that
 * delivers to the collector (records = events accepted by the host's
 * calls), and a last line "abuse: N passed, M failed". Exits non-zero on
 * any failure.
 */

#include "kino.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *collector_url;

static const double bad_numbers[] = {NAN, INFINITY, -INFINITY, -1.0, -DBL_MIN, -DBL_MAX};
#define N_BAD (sizeof bad_numbers / sizeof bad_numbers[0])

/* Strings that are not UTF-8: a stray byte, an overlong encoding, a
 * UTF-16 surrogate, a sequence cut short at the end. */
static const char *const bad_utf8[] = {
    "http://a.example/\xff",
    "\xc0\xaf",
    "x\xed\xa0\x80"
    "y",
    "abc\xe2\x82",
};
#define N_UTF8 (sizeof bad_utf8 / sizeof bad_utf8[0])

static KinoConfig *config_to(const char *url)
{
    KinoConfig *cfg = kino_config_new();
    CHECK(cfg != NULL);
    OK(kino_config_set_beacon_url(cfg, url)); /* NULL: no URL, whatever the environment says */
    OK(kino_config_set_flush_interval_ms(cfg, 600000));
    return cfg;
}

static void print_session(const KinoEmitter *e, unsigned records, const char *label)
{
    char id[37];
    OK(kino_emitter_session_id(e, id, sizeof id));
    printf("session %s %u %s\n", id, records, label);
}

/* ------------------------------------------------------------------ */
/* NULL                                                                */

static void test_nulls(void)
{
    KinoConfig *cfg = config_to(NULL);
    KinoEmitter *e = emitter_from(cfg);
    KinoQoe *q = kino_qoe_new();
    KinoResolution r = {1280, 720};
    KinoStats stats;
    KinoQoeBreakdown breakdown;
    char buf[64];

    /* Every _free(NULL) is a no-op. */
    kino_config_free(NULL);
    kino_emitter_free(NULL);
    kino_qoe_free(NULL);
    passed++;

    /* The config handle. */
    EXPECT(kino_config_set_beacon_url(NULL, "http://127.0.0.1:9/b"), KINO_STATUS_NULL_ARGUMENT,
           "config");
    EXPECT(kino_config_set_beacon_url(NULL, NULL), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_batch_size(NULL, 5), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_flush_interval_ms(NULL, 5), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_queue_capacity(NULL, 5), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_request_timeout_ms(NULL, 5), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_shutdown_timeout_ms(NULL, 5), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_add_header(NULL, "X-A", "b"), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_batch_callback(NULL, NULL, NULL), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_keep_url_query(NULL, true), KINO_STATUS_NULL_ARGUMENT, "config");

    /* Other pointers next to a live config. */
    EXPECT(kino_config_add_header(cfg, NULL, "b"), KINO_STATUS_NULL_ARGUMENT, "name");
    EXPECT(kino_config_add_header(cfg, "X-A", NULL), KINO_STATUS_NULL_ARGUMENT, "value");
    EXPECT(kino_emitter_new(cfg, NULL), KINO_STATUS_NULL_ARGUMENT, "out");
    EXPECT(kino_emitter_new(NULL, NULL), KINO_STATUS_NULL_ARGUMENT, "out");

    /* The emitter handle, in every call that takes one. */
    EXPECT(kino_emitter_flush(NULL, 10), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_session_id(NULL, buf, sizeof buf), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_stats(NULL, &stats), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_qoe(NULL, &breakdown), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_load(NULL, "https://cdn.example/a.m3u8", false), KINO_STATUS_NULL_ARGUMENT,
           "emitter");
    EXPECT(kino_emit_play(NULL, 0.0), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_pause(NULL, 0.0), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_seek(NULL, 0.0, 1.0), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_rebuffer(NULL, 0.0, 1.0), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_rebuffer_end(NULL, 0.0, 1.0), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_quality_change(NULL, 1, 2, &r, &r, KINO_QUALITY_CHANGE_REASON_ABR),
           KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_state_change(NULL, KINO_PLAYER_STATE_IDLE, KINO_PLAYER_STATE_LOADING, 0.0),
           KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_end(NULL, 1.0, 1.0), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_error(NULL, "E", "m", true, 0.0), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_heartbeat(NULL, 1.0, 1.0, 1, 0, 1), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_custom(NULL, "n", "{}"), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emit_play(NULL, NAN), KINO_STATUS_NULL_ARGUMENT, "emitter");

    /* Other pointers next to a live emitter. */
    EXPECT(kino_emit_load(e, NULL, false), KINO_STATUS_NULL_ARGUMENT, "url");
    EXPECT(kino_emit_error(e, NULL, "m", false, 0.0), KINO_STATUS_NULL_ARGUMENT, "code");
    EXPECT(kino_emit_error(e, "E", NULL, false, 0.0), KINO_STATUS_NULL_ARGUMENT, "message");
    EXPECT(kino_emit_custom(e, NULL, "{}"), KINO_STATUS_NULL_ARGUMENT, "name");
    EXPECT(kino_emitter_session_id(e, NULL, 37), KINO_STATUS_NULL_ARGUMENT, "buf");
    EXPECT(kino_emitter_stats(e, NULL), KINO_STATUS_NULL_ARGUMENT, "out");
    EXPECT(kino_emitter_qoe(e, NULL), KINO_STATUS_NULL_ARGUMENT, "out");

    /* The calculator. */
    EXPECT(kino_qoe_record_initial_buffer(NULL, 1.0), KINO_STATUS_NULL_ARGUMENT, "qoe");
    EXPECT(kino_qoe_record_rebuffer(NULL, 1.0), KINO_STATUS_NULL_ARGUMENT, "qoe");
    EXPECT(kino_qoe_record_quality_switch(NULL, 1.0, 1), KINO_STATUS_NULL_ARGUMENT, "qoe");
    EXPECT(kino_qoe_record_bitrate(NULL, 1.0, 1), KINO_STATUS_NULL_ARGUMENT, "qoe");
    EXPECT(kino_qoe_breakdown(NULL, &breakdown), KINO_STATUS_NULL_ARGUMENT, "qoe");
    EXPECT(kino_qoe_breakdown(q, NULL), KINO_STATUS_NULL_ARGUMENT, "out");
    poison();
    CHECK(isnan(kino_qoe_score(NULL)));
    CHECK(strstr(kino_last_error_message(), "qoe") != NULL);
    CHECK(strstr(kino_last_error_message(), POISON_MARK) == NULL);

    /* Out-parameters are written only on success. */
    memset(&stats, 0xA5, sizeof stats);
    memset(&breakdown, 0xA5, sizeof breakdown);
    memset(buf, 0x5A, sizeof buf);
    kino_emitter_stats(NULL, &stats);
    kino_emitter_qoe(NULL, &breakdown);
    kino_qoe_breakdown(NULL, &breakdown);
    kino_emitter_session_id(NULL, buf, sizeof buf);
    {
        const unsigned char *p = (const unsigned char *)&stats;
        const unsigned char *b = (const unsigned char *)&breakdown;
        size_t i;
        int untouched = 1;
        for (i = 0; i < sizeof stats; i++) untouched &= p[i] == 0xA5;
        for (i = 0; i < sizeof breakdown; i++) untouched &= b[i] == 0xA5;
        for (i = 0; i < sizeof buf; i++) untouched &= buf[i] == 0x5A;
        CHECK(untouched);
    }

    stats = stats_of(e);
    CHECK(stats.emitted == 0 && stats.dropped == 0);
    kino_qoe_free(q);
    kino_emitter_free(e);
    kino_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Invalid UTF-8, bad numbers, enums out of range                     */

static void test_utf8(void)
{
    KinoConfig *cfg = config_to(NULL);
    KinoEmitter *e = emitter_from(cfg);
    size_t i;
    for (i = 0; i < N_UTF8; i++) {
        const char *bad = bad_utf8[i];
        EXPECT(kino_config_set_beacon_url(cfg, bad), KINO_STATUS_INVALID_UTF8, "url");
        EXPECT(kino_config_add_header(cfg, bad, "v"), KINO_STATUS_INVALID_UTF8, "name");
        EXPECT(kino_config_add_header(cfg, "X-A", bad), KINO_STATUS_INVALID_UTF8, "value");
        EXPECT(kino_emit_load(e, bad, false), KINO_STATUS_INVALID_UTF8, "url");
        EXPECT(kino_emit_error(e, bad, "m", true, 0.0), KINO_STATUS_INVALID_UTF8, "code");
        EXPECT(kino_emit_error(e, "E", bad, true, 0.0), KINO_STATUS_INVALID_UTF8, "message");
        EXPECT(kino_emit_custom(e, bad, "{}"), KINO_STATUS_INVALID_UTF8, "name");
        EXPECT(kino_emit_custom(e, "n", bad), KINO_STATUS_INVALID_UTF8, "json_data");
    }
    EXPECT(kino_emit_custom(e, "n", "{\"k\":\"\xff\"}"), KINO_STATUS_INVALID_UTF8, "json_data");
    CHECK(stats_of(e).emitted == 0);
    kino_emitter_free(e);
    kino_config_free(cfg);
}

static void test_numbers(void)
{
    KinoConfig *cfg = config_to(NULL);
    KinoEmitter *e = emitter_from(cfg);
    size_t i;
    for (i = 0; i < N_BAD; i++) {
        double v = bad_numbers[i];
        EXPECT(kino_emit_play(e, v), KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_pause(e, v), KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_seek(e, v, 1.0), KINO_STATUS_INVALID_ARGUMENT, "'from'");
        EXPECT(kino_emit_seek(e, 1.0, v), KINO_STATUS_INVALID_ARGUMENT, "'to'");
        EXPECT(kino_emit_rebuffer(e, v, 1.0), KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_rebuffer(e, 1.0, v), KINO_STATUS_INVALID_ARGUMENT, "buffer_level");
        EXPECT(kino_emit_rebuffer_end(e, v, 1.0), KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_rebuffer_end(e, 1.0, v), KINO_STATUS_INVALID_ARGUMENT, "duration");
        EXPECT(kino_emit_state_change(e, KINO_PLAYER_STATE_PLAYING, KINO_PLAYER_STATE_PAUSED, v),
               KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_end(e, v, 1.0), KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_end(e, 1.0, v), KINO_STATUS_INVALID_ARGUMENT, "watch_time");
        EXPECT(kino_emit_error(e, "E", "m", true, v), KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_heartbeat(e, v, 1.0, 1, 0, 1), KINO_STATUS_INVALID_ARGUMENT, "position");
        EXPECT(kino_emit_heartbeat(e, 1.0, v, 1, 0, 1), KINO_STATUS_INVALID_ARGUMENT,
               "buffer_level");
    }
    CHECK(stats_of(e).emitted == 0);
    kino_emitter_free(e);
    kino_config_free(cfg);
}

static void test_enums(void)
{
    KinoConfig *cfg = config_to(NULL);
    KinoEmitter *e = emitter_from(cfg);
    const uint32_t bad_states[] = {8, 99, 999, 0x80000000u, UINT32_MAX};
    const uint32_t bad_reasons[] = {4, 99, UINT32_MAX};
    size_t i;
    for (i = 0; i < sizeof bad_states / sizeof bad_states[0]; i++) {
        EXPECT(kino_emit_state_change(e, (KinoPlayerState)bad_states[i], KINO_PLAYER_STATE_IDLE,
                                      0.0),
               KINO_STATUS_INVALID_ARGUMENT, "from");
        EXPECT(kino_emit_state_change(e, KINO_PLAYER_STATE_IDLE, (KinoPlayerState)bad_states[i],
                                      0.0),
               KINO_STATUS_INVALID_ARGUMENT, "to");
    }
    EXPECT(kino_emit_state_change(e, (KinoPlayerState)99, KINO_PLAYER_STATE_IDLE, 0.0),
           KINO_STATUS_INVALID_ARGUMENT, "KinoPlayerState");
    for (i = 0; i < sizeof bad_reasons / sizeof bad_reasons[0]; i++) {
        EXPECT(kino_emit_quality_change(e, 1, 2, NULL, NULL,
                                        (KinoQualityChangeReason)bad_reasons[i]),
               KINO_STATUS_INVALID_ARGUMENT, "reason");
    }
    CHECK(stats_of(e).emitted == 0);
    /* The last value of each enum is still accepted. */
    OK(kino_emit_state_change(e, KINO_PLAYER_STATE_ERROR, KINO_PLAYER_STATE_ERROR, 0.0));
    OK(kino_emit_quality_change(e, 1, 2, NULL, NULL, KINO_QUALITY_CHANGE_REASON_INITIAL));
    CHECK(stats_of(e).emitted == 2);
    kino_emitter_free(e);
    kino_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static void test_config(void)
{
    KinoConfig *cfg = config_to(NULL);
    static const char *const bad_urls[] = {
        "", "ftp://collector.example/b", "file:///etc/passwd", "http://", "https://",
        "collector.example/b", "garbage", "http:// bad host/",
    };
    static const char *const bad_names[] = {"Bad Name", "X:Y", "", "X(Y)", "X\tY"};
    size_t i;

    EXPECT(kino_config_set_batch_size(cfg, 0), KINO_STATUS_INVALID_ARGUMENT, "batch size");
    EXPECT(kino_config_set_flush_interval_ms(cfg, 0), KINO_STATUS_INVALID_ARGUMENT,
           "flush interval");
    EXPECT(kino_config_set_queue_capacity(cfg, 0), KINO_STATUS_INVALID_ARGUMENT,
           "queue capacity");
    EXPECT(kino_config_set_request_timeout_ms(cfg, 0), KINO_STATUS_INVALID_ARGUMENT,
           "request timeout");
    EXPECT(kino_config_set_shutdown_timeout_ms(cfg, 0), KINO_STATUS_INVALID_ARGUMENT,
           "shutdown timeout");
    EXPECT(kino_config_set_queue_capacity(cfg, KINO_MAX_QUEUE_CAPACITY + 1),
           KINO_STATUS_INVALID_ARGUMENT, "1048576");
    EXPECT(kino_config_set_queue_capacity(cfg, UINT32_MAX), KINO_STATUS_INVALID_ARGUMENT,
           "queue capacity");
    OK(kino_config_set_queue_capacity(cfg, KINO_MAX_QUEUE_CAPACITY));
    OK(kino_config_set_queue_capacity(cfg, 1));

    for (i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        EXPECT(kino_config_set_beacon_url(cfg, bad_urls[i]), KINO_STATUS_INVALID_ARGUMENT, "URL");
    }
    OK(kino_config_set_beacon_url(cfg, "HTTPS://collector.example:8443/v1"));
    OK(kino_config_set_beacon_url(cfg, NULL));

    for (i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        EXPECT(kino_config_add_header(cfg, bad_names[i], "v"), KINO_STATUS_INVALID_ARGUMENT,
               "name");
    }
    EXPECT(kino_config_add_header(cfg, "X-A", "a\r\nInjected: 1"), KINO_STATUS_INVALID_ARGUMENT,
           "X-A");
    EXPECT(kino_config_add_header(cfg, "X-A", "a\n"), KINO_STATUS_INVALID_ARGUMENT, "X-A");
    EXPECT(kino_config_add_header(cfg, "X-A", "\r"), KINO_STATUS_INVALID_ARGUMENT, "X-A");
    EXPECT(kino_config_add_header(cfg, "Content-Type", "text/plain"),
           KINO_STATUS_INVALID_ARGUMENT, "Content-Type");
    EXPECT(kino_config_add_header(cfg, "content-encoding", "gzip"), KINO_STATUS_INVALID_ARGUMENT,
           "content-encoding");
    OK(kino_config_add_header(cfg, "User-Agent", "abuse/1"));
    OK(kino_config_add_header(cfg, "X-Abuse", "1"));
    kino_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Session id, status strings, version                                 */

static void test_diagnostics(void)
{
    KinoConfig *cfg = config_to(NULL);
    KinoEmitter *e = emitter_from(cfg);
    char buf[64];
    size_t i;
    uint32_t s;
    int untouched = 1;
    static const char *const names[] = {
        "KINO_STATUS_OK",           "KINO_STATUS_NULL_ARGUMENT",    "KINO_STATUS_INVALID_UTF8",
        "KINO_STATUS_INVALID_ARGUMENT", "KINO_STATUS_QUEUE_FULL",   "KINO_STATUS_CLOSED",
        "KINO_STATUS_TIMEOUT",      "KINO_STATUS_IO",               "KINO_STATUS_BUFFER_TOO_SMALL",
        "KINO_STATUS_PANIC",
    };

    memset(buf, 0x5A, sizeof buf);
    EXPECT(kino_emitter_session_id(e, buf, 36), KINO_STATUS_BUFFER_TOO_SMALL, "37");
    EXPECT(kino_emitter_session_id(e, buf, 0), KINO_STATUS_BUFFER_TOO_SMALL, "37");
    for (i = 0; i < sizeof buf; i++) untouched &= buf[i] == 0x5A;
    CHECK(untouched);
    OK(kino_emitter_session_id(e, buf, 37));
    CHECK(strlen(buf) == 36);
    CHECK(buf[8] == '-' && buf[13] == '-' && buf[18] == '-' && buf[23] == '-');
    CHECK(buf[37] == 0x5A);

    for (s = 0; s < 10; s++) {
        const char *text = kino_status_str(s);
        CHECK(text != NULL && strcmp(text, names[s]) == 0);
    }
    CHECK(strcmp(kino_status_str(10), "KINO_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(kino_status_str(UINT32_MAX), "KINO_STATUS_UNKNOWN") == 0);
    CHECK(kino_version() != NULL && strcmp(kino_version(), KINO_VERSION_STRING) == 0);

    /* A successful call does not clear the last error. */
    EXPECT(kino_emit_play(e, -1.0), KINO_STATUS_INVALID_ARGUMENT, "position");
    {
        const char *before = kino_last_error_message();
        char copy[256];
        strncpy(copy, before, sizeof copy - 1);
        copy[sizeof copy - 1] = '\0';
        OK(kino_emit_play(e, 1.0));
        OK(kino_emitter_session_id(e, buf, sizeof buf));
        CHECK(strcmp(kino_last_error_message(), copy) == 0);
    }
    kino_emitter_free(e);
    kino_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* QoE calculator                                                      */

static void test_qoe(void)
{
    KinoQoe *perfect = kino_qoe_new();
    KinoQoe *rebuffers = kino_qoe_new();
    KinoQoe *startup = kino_qoe_new();
    KinoQoeBreakdown b;
    size_t i;

    CHECK(perfect != NULL && rebuffers != NULL && startup != NULL);
    CHECK(kino_qoe_score(perfect) == 100.0);

    OK(kino_qoe_record_rebuffer(rebuffers, 1.0));
    OK(kino_qoe_record_rebuffer(rebuffers, 2.0));
    CHECK(fabs(kino_qoe_score(rebuffers) - 65.0) < 0.1);
    OK(kino_qoe_breakdown(rebuffers, &b));
    CHECK(b.rebuffer_count == 2 && fabs(b.rebuffer_duration - 3.0) < 1e-9);
    CHECK(fabs(b.score - 65.0) < 0.1);

    OK(kino_qoe_record_initial_buffer(startup, 5.0));
    CHECK(fabs(kino_qoe_score(startup) - 85.0) < 0.1);

    for (i = 0; i < N_BAD; i++) {
        double v = bad_numbers[i];
        EXPECT(kino_qoe_record_initial_buffer(perfect, v), KINO_STATUS_INVALID_ARGUMENT,
               "seconds");
        EXPECT(kino_qoe_record_rebuffer(perfect, v), KINO_STATUS_INVALID_ARGUMENT, "seconds");
        EXPECT(kino_qoe_record_quality_switch(perfect, v, 1), KINO_STATUS_INVALID_ARGUMENT,
               "timestamp");
        EXPECT(kino_qoe_record_bitrate(perfect, v, 1), KINO_STATUS_INVALID_ARGUMENT, "duration");
    }
    /* Refused values leave the calculator as it was. */
    CHECK(kino_qoe_score(perfect) == 100.0);
    OK(kino_qoe_breakdown(perfect, &b));
    CHECK(b.rebuffer_count == 0 && b.quality_switches == 0);

    kino_qoe_free(perfect);
    kino_qoe_free(rebuffers);
    kino_qoe_free(startup);
}

/* ------------------------------------------------------------------ */
/* KINO_BEACON_URL                                                     */

/* Emits one event through a new emitter made from `cfg`, flushes, and
 * checks whether it reached the collector. Returns the emitter's stats. */
static KinoStats one_event(const KinoConfig *cfg, int expect_delivered, const char *label)
{
    KinoEmitter *e = emitter_from(cfg);
    KinoStats s;
    OK(kino_emit_play(e, 0.0));
    OK(kino_emitter_flush(e, 10000));
    s = stats_of(e);
    if (expect_delivered) {
        CHECK(s.delivered == 1 && s.failed == 0);
        print_session(e, 1, label);
    } else {
        CHECK(s.delivered == 0 && s.failed == 1);
    }
    if ((s.delivered == 1) != (expect_delivered != 0)) {
        fprintf(stderr, "abuse.c: environment case %s: delivered %lu, failed %lu\n", label,
                (unsigned long)s.delivered, (unsigned long)s.failed);
    }
    kino_emitter_free(e);
    return s;
}

static void test_environment(void)
{
    static const char *const invalid[] = {"ftp://collector.example/", "garbage", "", "http://"};
    const char *env = getenv("KINO_BEACON_URL");
    KinoConfig *cfg;
    KinoEmitter *e = NULL;
    size_t i;

    /* The test runner sets it to the collector. */
    CHECK(env != NULL && strcmp(env, collector_url) == 0);

    /* A valid value is used by kino_config_new and kino_emitter_new(NULL). */
    cfg = kino_config_new();
    one_event(cfg, 1, "env-config");
    kino_config_free(cfg);
    OK(kino_emitter_new(NULL, &e));
    CHECK(e != NULL);
    OK(kino_emit_play(e, 0.0));
    OK(kino_emitter_flush(e, 10000));
    CHECK(stats_of(e).delivered == 1);
    print_session(e, 1, "env-default");
    kino_emitter_free(e);

    /* It is read when the config is made, not later. */
    cfg = kino_config_new();
    CHECK(setenv("KINO_BEACON_URL", "http://127.0.0.1:1/dead", 1) == 0);
    one_event(cfg, 1, "env-read-at-new");
    kino_config_free(cfg);

    /* An explicit URL wins over the environment. */
    cfg = kino_config_new();
    OK(kino_config_set_beacon_url(cfg, collector_url));
    one_event(cfg, 1, "env-explicit-wins");
    kino_config_free(cfg);

    /* Setting NULL means no URL, even though the environment has one. */
    CHECK(setenv("KINO_BEACON_URL", collector_url, 1) == 0);
    cfg = kino_config_new();
    OK(kino_config_set_beacon_url(cfg, NULL));
    one_event(cfg, 0, "env-null-clears");
    kino_config_free(cfg);

    /* Invalid values are ignored: no URL at all. */
    for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        CHECK(setenv("KINO_BEACON_URL", invalid[i], 1) == 0);
        cfg = kino_config_new();
        CHECK(cfg != NULL);
        one_event(cfg, 0, "env-invalid");
        /* ...and an explicit URL still works on top of it. */
        OK(kino_config_set_beacon_url(cfg, collector_url));
        one_event(cfg, 1, "env-invalid-then-explicit");
        kino_config_free(cfg);
    }
    CHECK(setenv("KINO_BEACON_URL", "http://\xff\xfe/", 1) == 0);
    cfg = kino_config_new();
    one_event(cfg, 0, "env-invalid-utf8");
    kino_config_free(cfg);
    e = NULL;
    OK(kino_emitter_new(NULL, &e));
    OK(kino_emit_play(e, 0.0));
    OK(kino_emitter_flush(e, 10000));
    CHECK(stats_of(e).failed == 1);
    kino_emitter_free(e);

    /* Unset: no URL. */
    CHECK(unsetenv("KINO_BEACON_URL") == 0);
    cfg = kino_config_new();
    one_event(cfg, 0, "env-unset");
    kino_config_free(cfg);

    CHECK(setenv("KINO_BEACON_URL", collector_url, 1) == 0);
}

/* ------------------------------------------------------------------ */
/* Limits: oversized text and JSON                                     */

static void test_limits(void)
{
    KinoConfig *cfg = config_to(collector_url);
    KinoEmitter *e = emitter_from(cfg);
    const size_t url_len = 100 * 1024;
    const size_t json_max = KINO_MAX_CUSTOM_JSON_BYTES;
    const size_t deep = 32768;
    char *url = malloc(url_len + 1);
    char *json = malloc(json_max + 2);
    char *nested = malloc(2 * deep + 1);
    char code[300];
    unsigned ok_calls = 0;
    size_t n;
    KinoStats s;

    CHECK(url != NULL && json != NULL && nested != NULL);
    if (url == NULL || json == NULL || nested == NULL) {
        free(url);
        free(json);
        free(nested);
        kino_emitter_free(e);
        kino_config_free(cfg);
        return;
    }

    /* A 100 KB URL; a 3-byte character straddles the 8 KiB limit (bytes
     * 8190..8192), so the kept prefix is 8190 bytes. */
    strcpy(url, "https://cdn.example/");
    n = strlen(url);
    memset(url + n, 'a', 8190 - n);
    n = 8190;
    while (n + 4 <= url_len) {
        memcpy(url + n, "\xe2\x82\xac" "b", 4); /* U+20AC EURO SIGN, then 'b' */
        n += 4;
    }
    url[n] = '\0';
    OK(kino_emit_load(e, url, false));
    ok_calls++;

    /* Custom JSON: exactly 65536 bytes is accepted, one more is refused. */
    json[0] = '"';
    memset(json + 1, 'y', json_max - 2);
    json[json_max - 1] = '"';
    json[json_max] = '\0';
    CHECK(strlen(json) == 65536);
    OK(kino_emit_custom(e, "at_limit", json));
    ok_calls++;
    json[json_max - 1] = 'y';
    json[json_max] = '"';
    json[json_max + 1] = '\0';
    CHECK(strlen(json) == 65537);
    EXPECT(kino_emit_custom(e, "over_limit", json), KINO_STATUS_INVALID_ARGUMENT, "65536");

    /* Nesting deeper than any parser should follow: refused, no overflow. */
    memset(nested, '[', deep);
    memset(nested + deep, ']', deep);
    nested[2 * deep] = '\0';
    EXPECT(kino_emit_custom(e, "deep", nested), KINO_STATUS_INVALID_ARGUMENT, "JSON");

    EXPECT(kino_emit_custom(e, "bad", "{"), KINO_STATUS_INVALID_ARGUMENT, "JSON");
    EXPECT(kino_emit_custom(e, "bad", "{} trailing"), KINO_STATUS_INVALID_ARGUMENT, "JSON");
    EXPECT(kino_emit_custom(e, "bad", ""), KINO_STATUS_INVALID_ARGUMENT, "JSON");
    EXPECT(kino_emit_custom(e, "", "{}"), KINO_STATUS_INVALID_ARGUMENT, "name");
    OK(kino_emit_custom(e, "null_data", NULL));
    ok_calls++;

    /* An over-long error code is cut, not refused. */
    memset(code, 'c', sizeof code - 1);
    code[sizeof code - 1] = '\0';
    OK(kino_emit_error(e, code, "message", false, 0.0));
    ok_calls++;

    OK(kino_emitter_flush(e, 10000));
    s = stats_of(e);
    CHECK(s.delivered >= ok_calls && s.failed == 0 && s.queued == 0 && s.dropped == 0);
    print_session(e, ok_calls, "limits");

    free(url);
    free(json);
    free(nested);
    kino_emitter_free(e);
    kino_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* The batch callback                                                  */

typedef struct {
    pthread_mutex_t lock;
    KinoEmitter *emitter;
    int calls;
    int calls_after_free;
    int freed;
    int bad_json;
    int flush_tried;
    KinoStatus flush_status;
    char flush_message[256];
} Probe;

static int probe_callback(void *user_data, const char *json, size_t len)
{
    Probe *p = user_data;
    pthread_mutex_lock(&p->lock);
    p->calls++;
    if (p->freed) p->calls_after_free++;
    if (json == NULL || strlen(json) != len || json[0] != '[' || json[len - 1] != ']') {
        p->bad_json++;
    }
    if (!p->flush_tried && p->emitter != NULL) {
        p->flush_tried = 1;
        p->flush_status = kino_emitter_flush(p->emitter, 1000);
        strncpy(p->flush_message, kino_last_error_message(), sizeof p->flush_message - 1);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void test_callback(void)
{
    Probe probe;
    KinoConfig *cfg = config_to(NULL);
    KinoEmitter *e;
    int i, calls_at_free;

    memset(&probe, 0, sizeof probe);
    pthread_mutex_init(&probe.lock, NULL);
    OK(kino_config_set_batch_size(cfg, 1));
    OK(kino_config_set_batch_callback(cfg, probe_callback, &probe));
    e = emitter_from(cfg);
    pthread_mutex_lock(&probe.lock);
    probe.emitter = e;
    pthread_mutex_unlock(&probe.lock);

    OK(kino_emit_play(e, 0.0));
    OK(kino_emitter_flush(e, 10000));
    pthread_mutex_lock(&probe.lock);
    CHECK(probe.flush_tried);
    CHECK(probe.flush_status == KINO_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(probe.flush_message, "callback") != NULL);
    pthread_mutex_unlock(&probe.lock);

    for (i = 0; i < 20; i++) OK(kino_emit_heartbeat(e, i, 5.0, 1000, 0, 25));
    kino_emitter_free(e); /* delivers what is queued, then never calls back */
    pthread_mutex_lock(&probe.lock);
    probe.freed = 1;
    calls_at_free = probe.calls;
    pthread_mutex_unlock(&probe.lock);
    CHECK(calls_at_free == 21);

    /* Another emitter from the same config, with the callback cleared. */
    OK(kino_config_set_batch_callback(cfg, NULL, &probe));
    e = emitter_from(cfg);
    OK(kino_emit_play(e, 0.0));
    OK(kino_emitter_flush(e, 10000));
    CHECK(stats_of(e).failed == 1);
    kino_emitter_free(e);

    pthread_mutex_lock(&probe.lock);
    CHECK(probe.calls == calls_at_free && probe.calls_after_free == 0 && probe.bad_json == 0);
    pthread_mutex_unlock(&probe.lock);
    pthread_mutex_destroy(&probe.lock);
    kino_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* A normal session, with abuse mixed in, from several threads         */

#define THREADS 4
#define PER_THREAD 25

typedef struct {
    KinoEmitter *emitter;
    int index;
    Tally tally;
} Worker;

static void *worker_main(void *arg)
{
    Worker *w = arg;
    int i;
    /* A fresh thread has no last error, whatever other threads did. */
    const char *first = kino_last_error_message();
    if (first != NULL && first[0] == '\0') {
        w->tally.passed++;
    } else {
        w->tally.failed++;
        fprintf(stderr, "abuse.c: thread %d starts with last error \"%s\"\n", w->index,
                first ? first : "(NULL)");
    }
    for (i = 0; i < PER_THREAD; i++) {
        double position = 100.0 * w->index + i;
        KinoStatus s = kino_emit_heartbeat(w->emitter, position, 4.0, 2500000, 0, 250);
        if (s == KINO_STATUS_OK) {
            w->tally.passed++;
        } else {
            w->tally.failed++;
            fprintf(stderr, "abuse.c: thread %d: heartbeat got %s (%s)\n", w->index,
                    kino_status_str(s), kino_last_error_message());
        }
        s = kino_emit_heartbeat(w->emitter, position, NAN, 2500000, 0, 250);
        expect_in(&w->tally, s, KINO_STATUS_INVALID_ARGUMENT, "buffer_level",
                  "NaN heartbeat from a thread", __FILE__, __LINE__);
        s = kino_emit_state_change(w->emitter, (KinoPlayerState)(100 + w->index),
                                   KINO_PLAYER_STATE_PLAYING, position);
        expect_in(&w->tally, s, KINO_STATUS_INVALID_ARGUMENT, "KinoPlayerState",
                  "bad state from a thread", __FILE__, __LINE__);
    }
    return NULL;
}

static void test_session(void)
{
    KinoConfig *cfg = config_to(collector_url);
    KinoEmitter *e;
    KinoResolution sd = {854, 480}, hd = {1920, 1080};
    KinoStats s;
    KinoQoeBreakdown q;
    Worker workers[THREADS];
    pthread_t threads[THREADS];
    unsigned ok_calls = 0;
    int i;

    OK(kino_config_set_batch_size(cfg, 7));
    OK(kino_config_add_header(cfg, "X-Abuse", "session"));
    EXPECT(kino_config_add_header(cfg, "X-Bad", "1\r\nX-Injected: 1"),
           KINO_STATUS_INVALID_ARGUMENT, "X-Bad");
    e = emitter_from(cfg);

#define GOOD(call)                                                                             \
    do {                                                                                       \
        OK(call);                                                                              \
        ok_calls++;                                                                            \
    } while (0)

    GOOD(kino_emit_load(e, "https://user:pw@cdn.example/movie/master.m3u8?token=s3cr3t#t=1",
                        false));
    EXPECT(kino_emit_load(e, "https://cdn.example/\xff", false), KINO_STATUS_INVALID_UTF8, "url");
    GOOD(kino_emit_state_change(e, KINO_PLAYER_STATE_IDLE, KINO_PLAYER_STATE_LOADING, 0.0));
    EXPECT(kino_emit_state_change(e, KINO_PLAYER_STATE_LOADING, (KinoPlayerState)8, 0.0),
           KINO_STATUS_INVALID_ARGUMENT, "to");
    GOOD(kino_emit_quality_change(e, 0, 800000, NULL, &sd, KINO_QUALITY_CHANGE_REASON_INITIAL));
    GOOD(kino_emit_state_change(e, KINO_PLAYER_STATE_LOADING, KINO_PLAYER_STATE_PLAYING, 0.0));
    GOOD(kino_emit_play(e, 0.0));
    EXPECT(kino_emit_play(e, NAN), KINO_STATUS_INVALID_ARGUMENT, "position");
    GOOD(kino_emit_heartbeat(e, 10.0, 8.0, 800000, 0, 250));
    GOOD(kino_emit_rebuffer(e, 11.0, 0.0));
    EXPECT(kino_emit_rebuffer_end(e, 11.0, -0.5), KINO_STATUS_INVALID_ARGUMENT, "duration");
    GOOD(kino_emit_rebuffer_end(e, 11.0, 0.5));
    GOOD(kino_emit_quality_change(e, 800000, 2500000, &sd, &hd, KINO_QUALITY_CHANGE_REASON_ABR));
    EXPECT(kino_emit_quality_change(e, 800000, 2500000, &sd, &hd, (KinoQualityChangeReason)4),
           KINO_STATUS_INVALID_ARGUMENT, "reason");
    GOOD(kino_emit_seek(e, 12.0, 60.0));
    EXPECT(kino_emit_seek(e, 12.0, INFINITY), KINO_STATUS_INVALID_ARGUMENT, "'to'");
    GOOD(kino_emit_play(e, 60.0));
    GOOD(kino_emit_pause(e, 61.0));
    GOOD(kino_emit_error(e, "E_NET", "segment timeout", false, 61.0));
    EXPECT(kino_emit_error(e, "E_NET", "segment timeout", true, -INFINITY),
           KINO_STATUS_INVALID_ARGUMENT, "position");
    GOOD(kino_emit_custom(e, "ad_break", "{\"slot\":\"mid\",\"ids\":[1,2,3]}"));
    EXPECT(kino_emit_custom(e, "ad_break", "{\"slot\":"), KINO_STATUS_INVALID_ARGUMENT, "JSON");

    for (i = 0; i < THREADS; i++) {
        workers[i].emitter = e;
        workers[i].index = i;
        workers[i].tally.passed = 0;
        workers[i].tally.failed = 0;
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        main_tally.passed += workers[i].tally.passed;
        main_tally.failed += workers[i].tally.failed;
        ok_calls += PER_THREAD;
    }
    /* The threads' failures did not touch this thread's message. */
    CHECK(strstr(kino_last_error_message(), "KinoPlayerState") == NULL);

    OK(kino_emitter_flush(e, 10000));
    s = stats_of(e);
    CHECK(s.emitted == ok_calls);
    CHECK(s.delivered == ok_calls);
    CHECK(s.failed == 0 && s.queued == 0 && s.dropped == 0);
    CHECK(s.batches >= (ok_calls + 6) / 7);
    if (s.delivered != ok_calls) {
        fprintf(stderr, "abuse.c: session: %u OK calls, delivered %lu\n", ok_calls,
                (unsigned long)s.delivered);
    }
    OK(kino_emitter_qoe(e, &q));
    CHECK(q.score >= 0.0 && q.score <= 100.0);

    /* The end closes the view; kino may add records of its own. */
    GOOD(kino_emit_end(e, 90.0, 80.0));
    OK(kino_emitter_flush(e, 10000));
    s = stats_of(e);
    CHECK(s.delivered >= ok_calls && s.failed == 0 && s.queued == 0);
    print_session(e, ok_calls, "main");
    kino_emitter_free(e);
    kino_config_free(cfg);
#undef GOOD
}

int main(int argc, char **argv)
{
    /* Before any kino call fails, the last error is "" (never NULL). */
    CHECK(kino_last_error_message() != NULL && kino_last_error_message()[0] == '\0');
    if (argc < 2) {
        fprintf(stderr, "usage: %s <collector-url>\n", argv[0]);
        return 2;
    }
    collector_url = argv[1];

    test_nulls();
    test_utf8();
    test_numbers();
    test_enums();
    test_config();
    test_diagnostics();
    test_qoe();
    test_environment();
    test_limits();
    test_callback();
    test_session();

    passed += main_tally.passed;
    failed += main_tally.failed;
    printf("abuse: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
