/*
 * check.h - the checking helpers the C test programs share: CHECK, OK and
 * EXPECT (a call fails with a status and a message that names the
 * culprit), with pass/fail counts, and the emitter calls every test makes
 * checked. Include once, in one translation unit.
 */
#ifndef KINO_TEST_CHECK_H
#define KINO_TEST_CHECK_H

#include "kino.h"

#include <stdio.h>
#include <string.h>

static int passed;
static int failed;

/* ------------------------------------------------------------------ */
/* Checking                                                            */

static void check(int ok, const char *what, const char *file, int line)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "%s:%d: CHECK failed: %s (last error: \"%s\")\n", file, line, what,
                kino_last_error_message());
    }
}

#define CHECK(cond) check((cond) != 0, #cond, __FILE__, __LINE__)

/* A calculator used only to put a known, unrelated message in this
 * thread's last error before each expected failure, so the check after it
 * sees whether the failing call really replaced the message. */
#define POISON_MARK "(got -7.25)"

static void poison(void)
{
    KinoQoe *q = kino_qoe_new();
    kino_qoe_record_quality_switch(q, -7.25, 1);
    kino_qoe_free(q);
}

/* Counters for one thread: main uses the globals, workers their own. */
typedef struct {
    int passed;
    int failed;
} Tally;

static int expect_in(Tally *t, KinoStatus got, KinoStatus want, const char *mention,
                     const char *expr, const char *file, int line)
{
    const char *msg = kino_last_error_message();
    int ok = got == want && msg != NULL && msg[0] != '\0' && strstr(msg, POISON_MARK) == NULL &&
             (mention == NULL || strstr(msg, mention) != NULL);
    if (ok) {
        t->passed++;
    } else {
        t->failed++;
        fprintf(stderr, "%s:%d: %s: got %s, want %s; last error \"%s\" should mention \"%s\"\n",
                file, line, expr, kino_status_str(got), kino_status_str(want), msg ? msg : "(NULL)",
                mention ? mention : "");
    }
    return ok;
}

static Tally main_tally;

/* EXPECT(call, status, word): `call` fails with `status` and its message
 * mentions `word`. */
#define EXPECT(call, want, mention)                                                            \
    do {                                                                                       \
        KinoStatus got_;                                                                       \
        poison();                                                                              \
        got_ = (call);                                                                         \
        expect_in(&main_tally, got_, (want), (mention), #call, __FILE__, __LINE__);                      \
    } while (0)

/* OK(call): `call` succeeds. */
#define OK(call)                                                                               \
    do {                                                                                       \
        KinoStatus got_ = (call);                                                              \
        if (got_ == KINO_STATUS_OK) {                                                          \
            passed++;                                                                          \
        } else {                                                                               \
            failed++;                                                                          \
            fprintf(stderr, "%s:%d: %s: got %s (%s)\n", __FILE__, __LINE__, #call,                  \
                    kino_status_str(got_), kino_last_error_message());                         \
        }                                                                                      \
    } while (0)

/* ------------------------------------------------------------------ */
/* Emitters                                                            */

/* A new emitter from `cfg`, which must succeed. */
static KinoEmitter *emitter_from(const KinoConfig *cfg)
{
    KinoEmitter *e = NULL;
    OK(kino_emitter_new(cfg, &e));
    CHECK(e != NULL);
    return e;
}

/* The emitter's stats, checked against emitted == delivered + failed +
 * queued (kino counts each of them; none is derived). */
static KinoStats stats_of(const KinoEmitter *e)
{
    KinoStats s;
    memset(&s, 0, sizeof s);
    OK(kino_emitter_stats(e, &s));
    CHECK(s.emitted == s.delivered + s.failed + s.queued);
    return s;
}

#endif /* KINO_TEST_CHECK_H */
