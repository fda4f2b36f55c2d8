/*
 * script.h - the scripted viewer both example players (gst_play.c,
 * mpv_play.c) take on their command line: a user pause, a seek, a buffer
 * goal. Not part of kino: the tests (tests/gst_adapter.rs,
 * tests/mpv_adapter.rs) use it to make the engines do what they check.
 */
#ifndef KINO_EXAMPLE_SCRIPT_H
#define KINO_EXAMPLE_SCRIPT_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    double pause_at, pause_for, seek_at, seek_to, buffer; /* < 0: not given */
} Script;

/* Reads `URL [--pause-at S --pause-for S] [--seek-at S --seek-to S]
 * [--buffer S]` into `url` and `s` (an option not given is < 0). Returns 0
 * on a bad command line: an unknown option, a missing or negative value,
 * a pause or seek given by half, no URL or two. */
static int parse_args(int argc, char **argv, const char **url, Script *s) {
    double *slot[] = {&s->pause_at, &s->pause_for, &s->seek_at, &s->seek_to, &s->buffer};
    const char *names[] = {"--pause-at", "--pause-for", "--seek-at", "--seek-to", "--buffer"};
    for (size_t k = 0; k < 5; k++) {
        *slot[k] = -1.0;
    }
    *url = NULL;
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < 5 && strcmp(argv[i], names[k]) != 0) {
            k++;
        }
        char *end = NULL;
        if (k < 5 && i + 1 < argc && (*slot[k] = strtod(argv[++i], &end)) >= 0 && *end == '\0') {
            continue;
        }
        if (k < 5 || *url != NULL || argv[i][0] == '-') {
            return 0;
        }
        *url = argv[i];
    }
    return *url != NULL && (s->pause_at < 0) == (s->pause_for < 0) &&
           (s->seek_at < 0) == (s->seek_to < 0);
}

#endif /* KINO_EXAMPLE_SCRIPT_H */
