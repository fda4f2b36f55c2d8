/*
 * context.c - issue 9's calls from C, through the real header: metadata,
 * sampling, consent, pending events, clear and CMCD, each with good and
 * bad input (NULLs, bad keys, invalid UTF-8, over-long values, a 65th
 * key, bad typed values, short buffers). Built with
 * -fsanitize=address,undefined and run by tests/context_c.rs, which
 * checks what reached its collector.
 *
 * Usage: context <collector-url> <spool-dir-that-must-stay-absent>
 * Prints, for the Rust side:
 *   pending <json>          what kino_emitter_pending_events gave in "main"
 *   session <uuid> <label>  each emitter that reports (main, consent, cleared)
 *   silent <uuid>           the sampled-out emitter (nothing may arrive)
 * and a last line "context: N passed, M failed".
 */

#include "kino.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *collector_url;
static const char *absent_spool;

static KinoConfig *config_to(const char *url)
{
    KinoConfig *cfg = kino_config_new();
    CHECK(cfg != NULL);
    OK(kino_config_set_beacon_url(cfg, url));
    OK(kino_config_set_flush_interval_ms(cfg, 600000));
    OK(kino_config_set_batch_size(cfg, 500));
    return cfg;
}

static void print_session(const KinoEmitter *e, const char *what, const char *label)
{
    char id[37];
    OK(kino_emitter_session_id(e, id, sizeof id));
    printf("%s %s%s%s\n", what, id, label ? " " : "", label ? label : "");
}

/* The pending records, malloc'd (the caller frees), sized the documented
 * way: ask, allocate, ask again until it fits. */
static char *pending_of(const KinoEmitter *e)
{
    size_t needed = 0;
    char *buf = NULL;
    KinoStatus s = kino_emitter_pending_events(e, NULL, 0, &needed);
    CHECK(s == KINO_STATUS_BUFFER_TOO_SMALL && needed >= 3);
    for (int tries = 0; tries < 5; tries++) {
        char *grown = realloc(buf, needed);
        CHECK(grown != NULL);
        buf = grown;
        s = kino_emitter_pending_events(e, buf, needed, &needed);
        if (s == KINO_STATUS_OK) {
            CHECK(strlen(buf) + 1 == needed);
            return buf;
        }
        CHECK(s == KINO_STATUS_BUFFER_TOO_SMALL);
    }
    CHECK(0);
    return buf;
}

static int pending_is_empty(const KinoEmitter *e)
{
    char *p = pending_of(e);
    int empty = p != NULL && strcmp(p, "[]") == 0;
    free(p);
    return empty;
}

/* A 65-byte key, a 2000-byte value, keys numbered for the bound. */
static char long_key[66];
static char long_value[2001];
static char accents[1401]; /* 700 x "é": 1400 bytes */

static void fill_texts(void)
{
    memset(long_key, 'k', 65);
    long_key[65] = '\0';
    memset(long_value, 'v', 2000);
    long_value[2000] = '\0';
    for (int i = 0; i < 700; i++) {
        accents[2 * i] = (char)0xc3;
        accents[2 * i + 1] = (char)0xa9;
    }
    accents[1400] = '\0';
}

/* ------------------------------------------------------------------ */
/* Checks on keys and values, at both places they are set              */

typedef KinoStatus (*SetFn)(void *target, const char *key, const char *value);

static KinoStatus set_config(void *t, const char *k, const char *v)
{
    return kino_config_set_metadata((KinoConfig *)t, k, v);
}
static KinoStatus set_session(void *t, const char *k, const char *v)
{
    return kino_emitter_set_metadata((KinoEmitter *)t, k, v);
}
static KinoStatus set_view(void *t, const char *k, const char *v)
{
    return kino_emitter_set_view_metadata((KinoEmitter *)t, k, v);
}

static void check_setter(SetFn set, void *target)
{
    static const char *const bad_keys[] = {"", "Env", "1abc", "_x", "a-b", "a b", "vid\xc3\xa9o"};
    char key[16];

    EXPECT(set(target, NULL, "x"), KINO_STATUS_NULL_ARGUMENT, "key");
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        EXPECT(set(target, bad_keys[i], "x"), KINO_STATUS_INVALID_ARGUMENT, "metadata key");
    }
    EXPECT(set(target, long_key, "x"), KINO_STATUS_INVALID_ARGUMENT, "65 bytes");
    EXPECT(set(target, "bad\xff", "x"), KINO_STATUS_INVALID_UTF8, "key");
    EXPECT(set(target, "video_title", "bad\xc0\xaf"), KINO_STATUS_INVALID_UTF8, "value");
    EXPECT(set(target, "video_duration", "-1"), KINO_STATUS_INVALID_ARGUMENT, "video_duration");
    EXPECT(set(target, "video_duration", "1h"), KINO_STATUS_INVALID_ARGUMENT, "video_duration");
    EXPECT(set(target, "video_duration", ""), KINO_STATUS_INVALID_ARGUMENT, "video_duration");
    EXPECT(set(target, "video_stream_type", "vod"), KINO_STATUS_INVALID_ARGUMENT,
           "video_stream_type");
    OK(set(target, "video_duration", "5400.5"));
    OK(set(target, "video_stream_type", "live"));
    OK(set(target, "video_stream_type", NULL)); /* removed */
    OK(set(target, "not_set_yet", NULL));       /* removing nothing is fine */
    OK(set(target, "video_title", long_value)); /* cut to 1 KiB */
    /* 64 keys at this level, then a 65th is refused, and room comes back. */
    OK(set(target, "video_duration", NULL));
    OK(set(target, "video_title", NULL));
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "custom_%d", i);
        OK(set(target, key, "x"));
    }
    EXPECT(set(target, "custom_64", "x"), KINO_STATUS_INVALID_ARGUMENT, "64 keys");
    OK(set(target, "custom_63", "replaced")); /* an existing key is fine */
    OK(set(target, "custom_0", NULL));
    OK(set(target, "custom_64", "x"));
    for (int i = 1; i <= 64; i++) {
        snprintf(key, sizeof key, "custom_%d", i);
        OK(set(target, key, NULL));
    }
}

static void test_config_calls(void)
{
    KinoConfig *cfg = config_to(NULL);
    EXPECT(kino_config_set_metadata(NULL, "env", "prod"), KINO_STATUS_NULL_ARGUMENT, "config");
    EXPECT(kino_config_set_metadata_on_every_record(NULL, true), KINO_STATUS_NULL_ARGUMENT,
           "config");
    EXPECT(kino_config_set_sample_rate(NULL, 0.5), KINO_STATUS_NULL_ARGUMENT, "config");
    check_setter(set_config, cfg);
    OK(kino_config_set_metadata_on_every_record(cfg, false));
    {
        const double bad[] = {NAN, 0.0, -0.0, -0.5, 1.0000001, INFINITY, -INFINITY};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            EXPECT(kino_config_set_sample_rate(cfg, bad[i]), KINO_STATUS_INVALID_ARGUMENT,
                   "sample rate");
        }
    }
    OK(kino_config_set_sample_rate(cfg, 1.0));
    OK(kino_config_set_sample_rate(cfg, DBL_MIN));
    kino_config_free(cfg);
}

/* Every emitter-side call: NULLs, bad values, short buffers. */
static void test_emitter_calls(void)
{
    KinoConfig *cfg = config_to(NULL);
    KinoEmitter *e = emitter_from(cfg);
    char buf[512];
    size_t needed = 0;
    bool sampled = false;
    char id[37];

    EXPECT(kino_emitter_set_metadata(NULL, "env", "x"), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_set_view_metadata(NULL, "env", "x"), KINO_STATUS_NULL_ARGUMENT,
           "emitter");
    EXPECT(kino_emitter_sampled(NULL, &sampled), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_sampled(e, NULL), KINO_STATUS_NULL_ARGUMENT, "out");
    EXPECT(kino_emitter_pending_events(NULL, buf, sizeof buf, &needed), KINO_STATUS_NULL_ARGUMENT,
           "emitter");
    EXPECT(kino_emitter_clear(NULL), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_set_consent(NULL, false), KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_cmcd(NULL, KINO_CMCD_FORM_QUERY, buf, sizeof buf, &needed),
           KINO_STATUS_NULL_ARGUMENT, "emitter");
    EXPECT(kino_emitter_cmcd(e, 2, buf, sizeof buf, &needed), KINO_STATUS_INVALID_ARGUMENT,
           "KinoCmcdForm");
    EXPECT(kino_emitter_cmcd(e, 0xffffffffu, buf, sizeof buf, NULL), KINO_STATUS_INVALID_ARGUMENT,
           "KinoCmcdForm");

    check_setter(set_session, e);
    check_setter(set_view, e);

    OK(kino_emitter_sampled(e, &sampled));
    CHECK(sampled);

    /* Text out: "[]" and NUL with nothing pending; *needed counts the NUL. */
    needed = 0;
    EXPECT(kino_emitter_pending_events(e, NULL, 0, &needed), KINO_STATUS_BUFFER_TOO_SMALL,
           "3 bytes");
    CHECK(needed == 3);
    EXPECT(kino_emitter_pending_events(e, buf, 2, &needed), KINO_STATUS_BUFFER_TOO_SMALL, "buffer");
    EXPECT(kino_emitter_pending_events(e, NULL, 64, &needed), KINO_STATUS_NULL_ARGUMENT, "buf");
    OK(kino_emitter_pending_events(e, buf, 3, NULL));
    CHECK(strcmp(buf, "[]") == 0);

    /* CMCD outside a view: the session id as sid, nothing else. */
    OK(kino_emitter_session_id(e, id, sizeof id));
    needed = 0;
    EXPECT(kino_emitter_cmcd(e, KINO_CMCD_FORM_QUERY, NULL, 0, &needed),
           KINO_STATUS_BUFFER_TOO_SMALL, "CMCD");
    CHECK(needed == strlen("CMCD=sid%3D%22%22") + 36 + 1);
    EXPECT(kino_emitter_cmcd(e, KINO_CMCD_FORM_QUERY, buf, needed - 1, NULL),
           KINO_STATUS_BUFFER_TOO_SMALL, "CMCD");
    OK(kino_emitter_cmcd(e, KINO_CMCD_FORM_QUERY, buf, needed, NULL));
    CHECK(strncmp(buf, "CMCD=sid%3D%22", 14) == 0 && strncmp(buf + 14, id, 36) == 0);
    OK(kino_emitter_cmcd(e, KINO_CMCD_FORM_HEADERS, buf, sizeof buf, &needed));
    CHECK(strncmp(buf, "CMCD-Session: sid=\"", 19) == 0 && needed == strlen(buf) + 1);
    CHECK(strcmp(buf + strlen(buf) - 2, "\r\n") == 0);

    OK(kino_emitter_clear(e));
    OK(kino_emitter_set_consent(e, true));
    kino_emitter_free(e);
    kino_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Sessions the collector checks                                        */

static void test_main_session(void)
{
    KinoConfig *cfg = config_to(collector_url);
    KinoEmitter *e;
    char buf[1024];
    char *pending;

    OK(kino_config_set_metadata(cfg, "app_name", "c-test"));
    OK(kino_config_set_metadata(cfg, "video_series", accents)); /* 1400 bytes, cut to 1024 */
    OK(kino_config_set_metadata(cfg, "env", "prod"));
    e = emitter_from(cfg);
    kino_config_free(cfg);
    OK(kino_emitter_set_metadata(e, "env", NULL)); /* removed again, before anything */

    /* Ordered from one thread: set, then load, and the view has it. */
    OK(kino_emitter_set_view_metadata(e, "video_id", "c-1"));
    OK(kino_emitter_set_view_metadata(e, "video_title", long_value));
    OK(kino_emit_load(e, "https://cdn.example/c/master.m3u8", false));
    OK(kino_emitter_set_view_metadata(e, "video_title", "Second title")); /* a metadata record */
    OK(kino_emit_quality_change(e, 0, 3000000, NULL, NULL, KINO_QUALITY_CHANGE_REASON_INITIAL));
    OK(kino_emit_play(e, 0.0));
    OK(kino_emit_heartbeat(e, 4.0, 12.34, 3000000, 0, 100));
    OK(kino_emit_rebuffer(e, 5.0, 0.0));
    OK(kino_emitter_cmcd(e, KINO_CMCD_FORM_HEADERS, buf, sizeof buf, NULL));
    CHECK(strstr(buf, "CMCD-Status: bs\r\n") != NULL);
    CHECK(strstr(buf, "CMCD-Request: bl=0,su\r\n") != NULL);
    CHECK(strstr(buf, "CMCD-Object: br=3000\r\n") != NULL);
    CHECK(strstr(buf, "cid=\"c-1\"") != NULL && strstr(buf, "st=v") != NULL);
    OK(kino_emitter_cmcd(e, KINO_CMCD_FORM_HEADERS, buf, sizeof buf, NULL));
    CHECK(strstr(buf, "CMCD-Status") == NULL); /* bs: only once per stall */
    OK(kino_emit_rebuffer_end(e, 5.0, 0.5));
    OK(kino_emitter_cmcd(e, KINO_CMCD_FORM_QUERY, buf, sizeof buf, NULL));
    CHECK(strstr(buf, "%2Csu") == NULL && strstr(buf, "bl%3D0") != NULL);

    pending = pending_of(e);
    if (pending != NULL) {
        printf("pending %s\n", pending);
        free(pending);
    }
    OK(kino_emit_end(e, 10.0, 9.0));
    OK(kino_emitter_flush(e, 10000));
    {
        KinoStats s = stats_of(e);
        CHECK(s.emitted == 9 && s.delivered == 9 && s.failed == 0 && s.suppressed == 0);
    }
    CHECK(pending_is_empty(e));
    print_session(e, "session", "main");
    kino_emitter_free(e);
}

static void test_sampled_out(void)
{
    KinoConfig *cfg = config_to(collector_url);
    KinoEmitter *e;
    bool sampled = true;
    KinoQoeBreakdown q;
    char buf[512];

    /* The smallest rate: a version-4 session id is never below it. */
    OK(kino_config_set_sample_rate(cfg, DBL_MIN));
    OK(kino_config_set_spool_dir(cfg, absent_spool));
    e = emitter_from(cfg);
    kino_config_free(cfg);
    OK(kino_emitter_sampled(e, &sampled));
    CHECK(!sampled);
    OK(kino_emitter_set_view_metadata(e, "video_id", "never-sent"));
    OK(kino_emit_load(e, "https://cdn.example/s.m3u8", true));
    OK(kino_emit_play(e, 0.0));
    EXPECT(kino_emit_play(e, NAN), KINO_STATUS_INVALID_ARGUMENT, "position"); /* still checked */
    OK(kino_emit_heartbeat(e, 1.0, 3.0, 1000000, 0, 25));
    OK(kino_emitter_set_view_metadata(e, "video_title", "mid-view")); /* no record */
    OK(kino_emitter_cmcd(e, KINO_CMCD_FORM_HEADERS, buf, sizeof buf, NULL));
    CHECK(strstr(buf, "cid=\"never-sent\"") != NULL && strstr(buf, "st=l") != NULL);
    OK(kino_emit_end(e, 2.0, 2.0));
    OK(kino_emitter_qoe(e, &q)); /* QoE still works for the host */
    CHECK(q.started && q.playback_success_score == 100.0);
    OK(kino_emitter_flush(e, 5000));
    {
        KinoStats s = stats_of(e);
        CHECK(s.emitted == 0 && s.suppressed == 4 && s.failed == 0 && s.spooled == 0);
    }
    CHECK(pending_is_empty(e));
    print_session(e, "silent", NULL);
    kino_emitter_free(e);
}

static void test_consent(void)
{
    KinoConfig *cfg = config_to(collector_url);
    KinoEmitter *e = emitter_from(cfg);
    kino_config_free(cfg);
    OK(kino_emit_load(e, "https://cdn.example/k.m3u8", false));
    OK(kino_emit_play(e, 0.0));
    OK(kino_emitter_set_consent(e, false)); /* both discarded */
    {
        KinoStats s = stats_of(e);
        CHECK(s.emitted == 2 && s.discarded == 2 && s.failed == 2 && s.queued == 0);
    }
    OK(kino_emit_heartbeat(e, 1.0, 1.0, 1, 0, 1));
    OK(kino_emitter_set_view_metadata(e, "video_id", "withdrawn"));
    EXPECT(kino_emit_seek(e, -1.0, 2.0), KINO_STATUS_INVALID_ARGUMENT, "from");
    OK(kino_emit_end(e, 3.0, 3.0)); /* closes the view: no qoe record */
    CHECK(stats_of(e).suppressed == 2);
    CHECK(pending_is_empty(e));
    OK(kino_emitter_set_consent(e, true));
    OK(kino_emit_load(e, "https://cdn.example/k2.m3u8", false));
    OK(kino_emit_end(e, 1.0, 1.0));
    OK(kino_emitter_flush(e, 10000));
    {
        KinoStats s = stats_of(e);
        CHECK(s.emitted == 5 && s.delivered == 3 && s.discarded == 2);
    }
    print_session(e, "session", "consent");
    kino_emitter_free(e);
}

static void test_clear(void)
{
    KinoConfig *cfg = config_to(collector_url);
    KinoEmitter *e = emitter_from(cfg);
    kino_config_free(cfg);
    OK(kino_emit_load(e, "https://cdn.example/l.m3u8", false));
    for (int i = 0; i < 3; i++) {
        OK(kino_emit_heartbeat(e, (double)i, 1.0, 1, 0, 1));
    }
    CHECK(!pending_is_empty(e));
    OK(kino_emitter_clear(e));
    {
        KinoStats s = stats_of(e);
        CHECK(s.emitted == 4 && s.discarded == 4 && s.failed == 4 && s.queued == 0);
    }
    CHECK(pending_is_empty(e));
    OK(kino_emitter_clear(e)); /* nothing left: fine */
    OK(kino_emit_play(e, 0.0));
    OK(kino_emit_end(e, 4.0, 4.0));
    OK(kino_emitter_flush(e, 10000));
    CHECK(stats_of(e).delivered == 3);
    print_session(e, "session", "cleared");
    kino_emitter_free(e);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: context <collector-url> <absent-spool-dir>\n");
        return 2;
    }
    collector_url = argv[1];
    absent_spool = argv[2];
    fill_texts();
    test_config_calls();
    test_emitter_calls();
    test_main_session();
    test_sampled_out();
    test_consent();
    test_clear();
    passed += main_tally.passed;
    failed += main_tally.failed;
    printf("context: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
