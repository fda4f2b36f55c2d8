/*
 * A batch callback that frees its own emitter (the contract forbids it):
 * kino must refuse the call with a clear message instead of deadlocking,
 * and the emitter must keep working and be freed normally afterwards.
 * An alarm turns a hang into a failure. Run by tests/c_abuse.rs under
 * ASan/UBSan/LSan.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kino.h"

struct ctx {
    KinoEmitter *emitter;
    int calls;
    int refused;
    char message[512];
};

static int callback(void *user_data, const char *json, size_t len) {
    struct ctx *c = user_data;
    (void)json;
    (void)len;
    c->calls++;
    if (c->calls == 1) {
        kino_emitter_free(c->emitter); /* forbidden: must be refused */
        const char *why = kino_last_error_message();
        snprintf(c->message, sizeof c->message, "%s", why);
        c->refused = strstr(why, "refused") != NULL && strstr(why, "callback") != NULL;
        /* The emitter is still alive: a call on it still works. */
        KinoStats s;
        if (kino_emitter_stats(c->emitter, &s) != KINO_STATUS_OK) c->refused = 0;
    }
    return 0;
}

int main(void) {
    alarm(20); /* a deadlock fails the test instead of hanging it */
    struct ctx c = {0};
    KinoConfig *cfg = kino_config_new();
    kino_config_set_batch_callback(cfg, callback, &c);
    if (kino_emitter_new(cfg, &c.emitter) != KINO_STATUS_OK) {
        fprintf(stderr, "emitter_new: %s\n", kino_last_error_message());
        return 1;
    }
    kino_config_free(cfg);
    kino_emit_end(c.emitter, 1.0, 1.0); /* urgent: the callback runs now */
    if (kino_emitter_flush(c.emitter, 10000) != KINO_STATUS_OK) {
        fprintf(stderr, "flush: %s\n", kino_last_error_message());
        return 1;
    }
    kino_emit_play(c.emitter, 2.0);
    if (kino_emitter_flush(c.emitter, 10000) != KINO_STATUS_OK) {
        fprintf(stderr, "second flush: %s\n", kino_last_error_message());
        return 1;
    }
    KinoStats s;
    kino_emitter_stats(c.emitter, &s);
    kino_emitter_free(c.emitter); /* the real free, from the host's thread */
    printf("calls %d refused %d delivered %llu message: %s\n", c.calls, c.refused,
           (unsigned long long)s.delivered, c.message);
    return (c.refused && c.calls == 2 && s.delivered == 2) ? 0 : 1;
}
