/*
 * kino_mpv.c: the libmpv adapter (see kino_mpv.h for the contract and
 * docs/INTEGRATION.md for the mapping rules).
 *
 * One thread of the adapter's own waits on its own client handle
 * (mpv_wait_event, with a timeout for the heartbeat and the stall
 * debounce), keeps the view's state (struct View, touched by that thread
 * only) and makes every kino call. kino_mpv_detach sets `stop` and wakes
 * the handle; `lock` guards `client` and `stop`, because the thread lets
 * go of the handle by itself when the core shuts down.
 */
#include "kino_mpv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* reply_userdata of each observed property */
enum {
    P_PAUSE = 1,
    P_PAUSED_FOR_CACHE,
    P_TIME_POS,
    P_CACHE_DURATION,
    P_VIDEO_BITRATE,
    P_VIDEO_PARAMS,
    P_VIDEO_TRACK,
    P_DURATION
};

/* An end of file this far short of the duration is a failure (see
 * on_end_file). */
#define EARLY_EOF_S 2.0

/* Playback that stands still this long, while nothing explains it (no
 * pause, seek or paused-for-cache), is a stall, counted from when it
 * stopped: mpv freezes without paused-for-cache after a track switch
 * whose new track has no data yet. A second is far above any frame
 * interval, and above the short waits of a switch over a good link. */
#define FREEZE_US 1000000

/* How long after a rendition change "video-bitrate" is that rendition's. */
#define MEASURE_AFTER_US 2000000

/* Video track ids whose bitrate is remembered (libavformat's HLS: one per
 * variant, numbered from 1). */
#define MAX_TRACKS 32

typedef struct {
    bool loaded, started, ended; /* a view is open / reached its first frame / closed */
    bool restarted;              /* the first frame is on screen, but paused */
    bool redirected;             /* END_FILE REDIRECT: a playlist's entry loads next */
    bool paused;                 /* "pause" (the user's flag) */
    bool user_paused;            /* pause emitted, play not yet */
    bool seeking;                /* seek emitted, not completed */
    bool cache_paused;           /* "paused-for-cache" */
    bool stall_pending, stalled; /* debouncing / rebuffer emitted */
    bool frozen;                 /* the stall is a freeze (time-pos stood still) */
    int64_t progress_us;         /* when time-pos last moved, or playback (re)started */
    int64_t stall_begin_us;
    double stall_position, stall_level;
    KinoPlayerState state;       /* the last state reported to kino */
    double position, cache_s;    /* "time-pos", "demuxer-cache-duration" */
    double duration;             /* "duration", 0 unknown */
    double video_bitrate;        /* "video-bitrate" of the track on screen */
    int64_t width, height;       /* the rendition on screen */
    uint64_t bitrate;            /* its bitrate as reported to kino */
    int64_t track, switched_from_track; /* the video track; the one before a switch */
    bool quality_pending;        /* new size seen, its bitrate not measured yet */
    int64_t pending_width, pending_height;
    int64_t rendition_since_us;  /* when the size on screen last changed */
    double track_bitrate[MAX_TRACKS]; /* measured per video track id, 0 unknown */
    int64_t playing_since_us;
    double watched_s;
} View;

struct KinoMpvAdapter {
    pthread_mutex_t lock;
    mpv_handle *client; /* under lock; NULL once let go */
    bool stop;          /* under lock */
    pthread_t thread;
    KinoEmitter *kino;
    KinoMpvOptions options;
    View view;
    int64_t next_heartbeat_us;
};


void kino_mpv_options_init(KinoMpvOptions *options) {
    if (options == NULL) {
        return;
    }
    memset(options, 0, sizeof *options);
    options->heartbeat_interval_ms = 10000;
    options->stall_debounce_ms = 200;
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A failed kino call is logged, never fatal: playback does not depend on it. */
static void check(KinoStatus status, const char *what) {
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "kino-mpv: kino_emit_%s: %s: %s\n", what, kino_status_str(status),
                kino_last_error_message());
    }
}

static void playing_clock(View *v, bool playing, int64_t at_us) {
    if (v->playing_since_us != 0) {
        v->watched_s += (double)(at_us - v->playing_since_us) / 1e6;
        v->playing_since_us = 0;
    }
    if (playing) {
        v->playing_since_us = at_us;
    }
}

static void set_state(KinoMpvAdapter *a, KinoPlayerState to) {
    if (a->view.state != to) {
        check(kino_emit_state_change(a->kino, a->view.state, to, a->view.position), "state_change");
        a->view.state = to;
    }
}

static bool view_open(const View *v) {
    return v->loaded && !v->ended;
}

static double get_double(KinoMpvAdapter *a, const char *name) {
    double value = 0.0;
    if (mpv_get_property(a->client, name, MPV_FORMAT_DOUBLE, &value) < 0 || !(value >= 0.0)) {
        return 0.0;
    }
    return value;
}

static uint64_t get_count(KinoMpvAdapter *a, const char *name) {
    int64_t value = 0;
    if (mpv_get_property(a->client, name, MPV_FORMAT_INT64, &value) < 0 || value < 0) {
        return 0;
    }
    return (uint64_t)value;
}

/* ---- the mapping ------------------------------------------------------- */

static void on_start_file(KinoMpvAdapter *a) {
    View *v = &a->view;
    if (v->redirected && view_open(v)) {
        v->redirected = false; /* the playlist's entry: the same view goes on */
        return;
    }
    KinoPlayerState previous = v->state;
    bool paused = v->paused;
    int64_t track = v->track;
    memset(v, 0, sizeof *v);
    v->state = previous;
    v->paused = paused;
    v->track = track;
    v->switched_from_track = track;
    char *path = mpv_get_property_string(a->client, "path");
    check(kino_emit_load(a->kino, path != NULL ? path : "", a->options.is_live), "load");
    mpv_free(path);
    v->loaded = true;
    set_state(a, KINO_PLAYER_STATE_LOADING);
}

static void start_playing(KinoMpvAdapter *a, int64_t at_us) {
    a->view.progress_us = at_us;
    check(kino_emit_play(a->kino, a->view.position), "play");
    set_state(a, KINO_PLAYER_STATE_PLAYING);
    playing_clock(&a->view, true, at_us);
}

static void on_playback_restart(KinoMpvAdapter *a, int64_t at_us) {
    View *v = &a->view;
    if (!view_open(v)) {
        return;
    }
    if (!v->started) {
        if (v->paused) {
            v->restarted = true; /* loaded paused: the view starts when the user plays */
            return;
        }
        v->started = true;
        start_playing(a, at_us);
    } else if (v->seeking) {
        v->seeking = false;
        if (!v->paused) {
            start_playing(a, at_us); /* the first frame after the seek */
        }
        /* paused: the seek completes when the user plays */
    }
}

static void on_seek(KinoMpvAdapter *a, int64_t at_us) {
    View *v = &a->view;
    if (!view_open(v) || !v->started) {
        return;
    }
    double from = v->position;
    /* While a seek runs, "time-pos" answers its target. */
    double to = get_double(a, "time-pos");
    playing_clock(v, false, at_us);
    v->stall_pending = v->stalled = v->frozen = false; /* a seek ends a stall */
    v->seeking = true;
    check(kino_emit_seek(a->kino, from, to), "seek");
    set_state(a, KINO_PLAYER_STATE_SEEKING);
}

static void on_pause(KinoMpvAdapter *a, bool paused, int64_t at_us) {
    View *v = &a->view;
    v->paused = paused;
    if (!view_open(v)) {
        return;
    }
    if (!v->started) {
        if (!paused && v->restarted) {
            v->started = true; /* loaded paused, on screen, now played */
            start_playing(a, at_us);
        }
        return;
    }
    if (paused && !v->user_paused) {
        v->user_paused = true;
        v->stall_pending = v->stalled = v->frozen = false; /* a user pause ends a stall */
        playing_clock(v, false, at_us);
        check(kino_emit_pause(a->kino, v->position), "pause");
        set_state(a, KINO_PLAYER_STATE_PAUSED);
    } else if (!paused && v->user_paused) {
        v->user_paused = false;
        if (!v->seeking) {
            start_playing(a, at_us); /* frames flow again at once */
        }
    }
}

static void report_stall(KinoMpvAdapter *a) {
    View *v = &a->view;
    v->stall_pending = false;
    v->stalled = true;
    check(kino_emit_rebuffer(a->kino, v->stall_position, v->stall_level), "rebuffer");
}

/* A stall began at `begin_us` (now, or when a freeze began). */
static void begin_stall(KinoMpvAdapter *a, int64_t begin_us, int64_t at_us) {
    View *v = &a->view;
    v->stall_pending = true;
    v->stall_begin_us = begin_us;
    v->stall_position = v->position;
    v->stall_level = v->cache_s;
    playing_clock(v, false, begin_us);
    set_state(a, KINO_PLAYER_STATE_BUFFERING);
    if (a->options.stall_debounce_ms == 0 ||
        at_us >= begin_us + (int64_t)a->options.stall_debounce_ms * 1000) {
        report_stall(a);
    }
}

static void end_stall(KinoMpvAdapter *a, int64_t at_us) {
    View *v = &a->view;
    if (v->stalled) {
        double measured = (double)(at_us - v->stall_begin_us) / 1e6;
        check(kino_emit_rebuffer_end(a->kino, v->position, measured), "rebuffer_end");
    }
    v->stall_pending = v->stalled = v->frozen = false;
    v->progress_us = at_us;
    set_state(a, KINO_PLAYER_STATE_PLAYING);
    playing_clock(v, true, at_us);
}

static bool stall_possible(const View *v) {
    return view_open(v) && v->started && !v->seeking && !v->user_paused;
}

static void on_cache_pause(KinoMpvAdapter *a, bool cache_paused, int64_t at_us) {
    View *v = &a->view;
    v->cache_paused = cache_paused;
    if (!stall_possible(v)) {
        return; /* startup, a seek or a pause: not a stall */
    }
    if (cache_paused && !v->stall_pending && !v->stalled) {
        begin_stall(a, at_us, at_us);
    } else if (!cache_paused && (v->stall_pending || v->stalled)) {
        end_stall(a, at_us);
    }
}

/* time-pos moved (or not) at `at_us`. */
static void on_progress(KinoMpvAdapter *a, double position, int64_t at_us) {
    View *v = &a->view;
    bool moved = position != v->position;
    v->position = position;
    if (!moved) {
        return;
    }
    if (v->frozen && (v->stall_pending || v->stalled)) {
        end_stall(a, at_us); /* frames flow again */
    }
    v->progress_us = at_us;
}

/* Has playback stood still for FREEZE_US with nothing to explain it? */
static void check_freeze(KinoMpvAdapter *a, int64_t at_us) {
    View *v = &a->view;
    if (stall_possible(v) && !v->paused && !v->cache_paused && !v->stall_pending &&
        !v->stalled && v->progress_us != 0 && at_us >= v->progress_us + FREEZE_US) {
        v->frozen = true;
        begin_stall(a, v->progress_us, at_us);
    }
}

static double *track_bitrate(View *v, int64_t track) {
    return track >= 0 && track < MAX_TRACKS ? &v->track_bitrate[track] : NULL;
}

/* Emits the pending rendition change at `bitrate` (bit/s, 0 unknown). */
static void emit_quality(KinoMpvAdapter *a, double bitrate) {
    View *v = &a->view;
    v->quality_pending = false;
    uint64_t to_bitrate = bitrate > 0.0 ? (uint64_t)bitrate : 0;
    bool initial = v->width == 0;
    KinoResolution from = {(uint32_t)v->width, (uint32_t)v->height};
    KinoResolution to = {(uint32_t)v->pending_width, (uint32_t)v->pending_height};
    KinoQualityChangeReason reason = KINO_QUALITY_CHANGE_REASON_INITIAL;
    if (!initial) {
        bool manual = v->track != v->switched_from_track && !a->options.track_switches_are_abr;
        reason = manual ? KINO_QUALITY_CHANGE_REASON_MANUAL : KINO_QUALITY_CHANGE_REASON_ABR;
    }
    check(kino_emit_quality_change(a->kino, initial ? 0 : v->bitrate, to_bitrate,
                                   initial ? NULL : &from, &to, reason),
          "quality_change");
    v->width = v->pending_width;
    v->height = v->pending_height;
    v->bitrate = to_bitrate;
    v->switched_from_track = v->track;
}

static void on_video_params(KinoMpvAdapter *a, const mpv_node *node, int64_t at_us) {
    View *v = &a->view;
    if (node->format != MPV_FORMAT_NODE_MAP || !view_open(v)) {
        return;
    }
    int64_t w = 0, h = 0;
    for (int i = 0; i < node->u.list->num; i++) {
        const char *key = node->u.list->keys[i];
        const mpv_node *value = &node->u.list->values[i];
        if (value->format == MPV_FORMAT_INT64 && strcmp(key, "w") == 0) {
            w = value->u.int64;
        } else if (value->format == MPV_FORMAT_INT64 && strcmp(key, "h") == 0) {
            h = value->u.int64;
        }
    }
    bool same = v->quality_pending ? (w == v->pending_width && h == v->pending_height)
                                   : (w == v->width && h == v->height);
    if (w <= 0 || h <= 0 || same) {
        return;
    }
    if (v->quality_pending) {
        emit_quality(a, 0.0); /* a second change before the first was measured */
    }
    /* The track on screen now: its property change may come after this. */
    int64_t track = 0;
    if (mpv_get_property(a->client, "current-tracks/video/id", MPV_FORMAT_INT64, &track) >= 0) {
        v->track = track;
    }
    v->quality_pending = true;
    v->pending_width = w;
    v->pending_height = h;
    v->rendition_since_us = at_us;
    /* mpv 0.35 tells no track's declared bitrate: a track seen before has
     * its measurement; a new one waits for its first (see on_property). */
    double *known = track_bitrate(v, v->track);
    if (known != NULL && *known > 0.0) {
        emit_quality(a, *known);
    }
}

static void on_end_file(KinoMpvAdapter *a, const mpv_event_end_file *end, int64_t at_us) {
    View *v = &a->view;
    if (!view_open(v)) {
        return;
    }
    if (end->reason == MPV_END_FILE_REASON_REDIRECT) {
        v->redirected = true;
        return;
    }
    if (v->quality_pending) {
        emit_quality(a, 0.0); /* never measured */
    }
    playing_clock(v, false, at_us);
    v->ended = true;
    /* libavformat's HLS demuxer skips segments it cannot fetch; when none
     * come any more it ends the file as if at its end. A VOD "end" well
     * short of the duration is that failure. */
    bool early = end->reason == MPV_END_FILE_REASON_EOF && !a->options.is_live &&
                 v->duration > 0.0 && v->position < v->duration - EARLY_EOF_S;
    if (end->reason == MPV_END_FILE_REASON_ERROR || early) {
        set_state(a, KINO_PLAYER_STATE_ERROR);
        char code[64], message[160];
        if (early) {
            snprintf(code, sizeof code, "mpv:early-eof");
            snprintf(message, sizeof message,
                     "the stream ended at %.1f s of %.1f s: its segments could not be fetched",
                     v->position, v->duration);
        } else {
            snprintf(code, sizeof code, "mpv:%d", end->error);
            snprintf(message, sizeof message, "%s", mpv_error_string(end->error));
        }
        check(kino_emit_error(a->kino, code, message, true, v->position), "error");
    } else {
        if (v->stalled) {
            double measured = (double)(at_us - v->stall_begin_us) / 1e6;
            check(kino_emit_rebuffer_end(a->kino, v->position, measured), "rebuffer_end");
        }
        if (end->reason == MPV_END_FILE_REASON_EOF) {
            set_state(a, KINO_PLAYER_STATE_ENDED);
        }
        check(kino_emit_end(a->kino, v->position, v->watched_s), "end");
    }
}

static void on_property(KinoMpvAdapter *a, const mpv_event *ev, int64_t at_us) {
    const mpv_event_property *p = ev->data;
    View *v = &a->view;
    if (p->format == MPV_FORMAT_NONE) {
        if (ev->reply_userdata == P_TIME_POS || ev->reply_userdata == P_VIDEO_BITRATE) {
            return; /* unknown for now: keep the last value */
        }
        if (ev->reply_userdata == P_CACHE_DURATION) {
            v->cache_s = 0.0;
        }
        return;
    }
    switch (ev->reply_userdata) {
    case P_PAUSE:
        on_pause(a, *(int *)p->data != 0, at_us);
        break;
    case P_PAUSED_FOR_CACHE:
        on_cache_pause(a, *(int *)p->data != 0, at_us);
        break;
    case P_TIME_POS:
        if (*(double *)p->data >= 0.0) {
            on_progress(a, *(double *)p->data, at_us);
        }
        break;
    case P_CACHE_DURATION:
        v->cache_s = *(double *)p->data >= 0.0 ? *(double *)p->data : 0.0;
        break;
    case P_VIDEO_BITRATE: {
        /* mpv measures it over about a second of packets, and right after
         * a switch that window still holds the old track's: only a value
         * from MEASURE_AFTER_US on is the new track's own. */
        v->video_bitrate = *(double *)p->data;
        bool fresh = at_us >= v->rendition_since_us + MEASURE_AFTER_US;
        if (v->quality_pending && v->video_bitrate > 0.0 && fresh) {
            emit_quality(a, v->video_bitrate);
        }
        double *known = track_bitrate(v, v->track);
        if (!v->quality_pending && known != NULL && v->video_bitrate > 0.0 && fresh) {
            *known = v->video_bitrate;
        }
        break;
    }
    case P_VIDEO_PARAMS:
        on_video_params(a, p->data, at_us);
        break;
    case P_VIDEO_TRACK:
        v->track = *(int64_t *)p->data;
        break;
    case P_DURATION:
        v->duration = *(double *)p->data > 0.0 ? *(double *)p->data : 0.0;
        break;
    default:
        break;
    }
}

static void on_timers(KinoMpvAdapter *a, int64_t at_us) {
    View *v = &a->view;
    check_freeze(a, at_us);
    if (v->stall_pending &&
        at_us >= v->stall_begin_us + (int64_t)a->options.stall_debounce_ms * 1000) {
        report_stall(a);
    }
    if (a->options.heartbeat_interval_ms > 0 && at_us >= a->next_heartbeat_us) {
        a->next_heartbeat_us = at_us + (int64_t)a->options.heartbeat_interval_ms * 1000;
        if (v->started && view_open(v)) {
            uint64_t dropped =
                get_count(a, "frame-drop-count") + get_count(a, "decoder-frame-drop-count");
            uint64_t bitrate = v->video_bitrate > 0.0 ? (uint64_t)v->video_bitrate : v->bitrate;
            check(kino_emit_heartbeat(a->kino, v->position, v->cache_s, bitrate, dropped,
                                      get_count(a, "estimated-frame-number")),
                  "heartbeat");
        }
    }
}

static int64_t next_deadline(const KinoMpvAdapter *a) {
    int64_t deadline = INT64_MAX;
    if (a->options.heartbeat_interval_ms > 0) {
        deadline = a->next_heartbeat_us;
    }
    if (a->view.stall_pending) {
        int64_t d = a->view.stall_begin_us + (int64_t)a->options.stall_debounce_ms * 1000;
        deadline = d < deadline ? d : deadline;
    }
    const View *v = &a->view;
    if (stall_possible(v) && !v->paused && !v->cache_paused && !v->stall_pending && !v->stalled &&
        v->progress_us != 0) {
        int64_t d = a->view.progress_us + FREEZE_US;
        deadline = d < deadline ? d : deadline;
    }
    return deadline;
}

/* Handles one event; false once the core is gone. */
static bool handle(KinoMpvAdapter *a, const mpv_event *ev, int64_t at_us) {
    switch (ev->event_id) {
    case MPV_EVENT_START_FILE:
        on_start_file(a);
        break;
    case MPV_EVENT_PLAYBACK_RESTART:
        on_playback_restart(a, at_us);
        break;
    case MPV_EVENT_SEEK:
        on_seek(a, at_us);
        break;
    case MPV_EVENT_END_FILE:
        on_end_file(a, ev->data, at_us);
        break;
    case MPV_EVENT_PROPERTY_CHANGE:
        on_property(a, ev, at_us);
        break;
    case MPV_EVENT_SHUTDOWN: {
        /* The core quits: the viewer stopped watching. */
        mpv_event_end_file quit;
        memset(&quit, 0, sizeof quit);
        quit.reason = MPV_END_FILE_REASON_QUIT;
        on_end_file(a, &quit, at_us);
        return false;
    }
    default:
        break;
    }
    return true;
}

static void *adapter_thread(void *data) {
    KinoMpvAdapter *a = data;
    a->next_heartbeat_us = now_us() + (int64_t)a->options.heartbeat_interval_ms * 1000;
    for (;;) {
        pthread_mutex_lock(&a->lock);
        bool stop = a->stop;
        pthread_mutex_unlock(&a->lock);
        int64_t deadline = next_deadline(a);
        int64_t now = now_us();
        double timeout = -1.0; /* no timer: until an event or detach */
        if (stop) {
            timeout = 0.0; /* drain what is queued, then stop */
        } else if (deadline != INT64_MAX) {
            timeout = deadline > now ? (double)(deadline - now) / 1e6 : 0.0;
        }
        const mpv_event *ev = mpv_wait_event(a->client, timeout);
        now = now_us();
        if (ev->event_id == MPV_EVENT_NONE) {
            if (stop) {
                return NULL; /* everything queued before detach is handled */
            }
            on_timers(a, now);
            continue;
        }
        if (a->view.stall_pending &&
            now >= a->view.stall_begin_us + (int64_t)a->options.stall_debounce_ms * 1000) {
            report_stall(a); /* the debounce ran out before this event */
        }
        if (!handle(a, ev, now)) {
            pthread_mutex_lock(&a->lock);
            mpv_handle *client = a->client;
            a->client = NULL;
            pthread_mutex_unlock(&a->lock);
            mpv_destroy(client); /* let go of the core now: it waits for us */
            return NULL;
        }
    }
}

KinoMpvAdapter *kino_mpv_attach(mpv_handle *mpv, KinoEmitter *emitter,
                                const KinoMpvOptions *options) {
    if (mpv == NULL || emitter == NULL) {
        return NULL;
    }
    int idle = 0; /* libmpv answers no property before mpv_initialize */
    if (mpv_get_property(mpv, "idle-active", MPV_FORMAT_FLAG, &idle) == MPV_ERROR_UNINITIALIZED) {
        return NULL;
    }
    mpv_handle *client = mpv_create_weak_client(mpv, "kino");
    if (client == NULL) {
        return NULL;
    }
    KinoMpvAdapter *a = calloc(1, sizeof *a);
    if (a == NULL) {
        mpv_destroy(client);
        return NULL;
    }
    if (options != NULL) {
        a->options = *options;
    } else {
        kino_mpv_options_init(&a->options);
    }
    a->client = client;
    a->kino = emitter;
    a->view.state = KINO_PLAYER_STATE_IDLE;
    pthread_mutex_init(&a->lock, NULL);
    /* Only the events the mapping uses. */
    for (int id = 1; id <= 25; id++) {
        mpv_request_event(client, id, 0);
    }
    mpv_event_id wanted[] = {MPV_EVENT_START_FILE, MPV_EVENT_END_FILE, MPV_EVENT_SEEK,
                             MPV_EVENT_PLAYBACK_RESTART, MPV_EVENT_PROPERTY_CHANGE,
                             MPV_EVENT_SHUTDOWN};
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        mpv_request_event(client, wanted[i], 1);
    }
    int failed = 0;
    failed |= mpv_observe_property(client, P_PAUSE, "pause", MPV_FORMAT_FLAG);
    failed |= mpv_observe_property(client, P_PAUSED_FOR_CACHE, "paused-for-cache", MPV_FORMAT_FLAG);
    failed |= mpv_observe_property(client, P_TIME_POS, "time-pos", MPV_FORMAT_DOUBLE);
    failed |= mpv_observe_property(client, P_CACHE_DURATION, "demuxer-cache-duration",
                                   MPV_FORMAT_DOUBLE);
    failed |= mpv_observe_property(client, P_VIDEO_BITRATE, "video-bitrate", MPV_FORMAT_DOUBLE);
    failed |= mpv_observe_property(client, P_VIDEO_PARAMS, "video-params", MPV_FORMAT_NODE);
    failed |= mpv_observe_property(client, P_VIDEO_TRACK, "current-tracks/video/id",
                                   MPV_FORMAT_INT64);
    failed |= mpv_observe_property(client, P_DURATION, "duration", MPV_FORMAT_DOUBLE);
    if (failed < 0 || pthread_create(&a->thread, NULL, adapter_thread, a) != 0) {
        mpv_destroy(client);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return NULL;
    }
    return a;
}

void kino_mpv_detach(KinoMpvAdapter *adapter) {
    if (adapter == NULL) {
        return;
    }
    pthread_mutex_lock(&adapter->lock);
    adapter->stop = true;
    if (adapter->client != NULL) {
        mpv_wakeup(adapter->client);
    }
    pthread_mutex_unlock(&adapter->lock);
    pthread_join(adapter->thread, NULL);
    if (adapter->client != NULL) {
        mpv_destroy(adapter->client);
    }
    pthread_mutex_destroy(&adapter->lock);
    free(adapter);
}
