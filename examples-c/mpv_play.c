/*
 * mpv-play: a headless libmpv player reporting to kino through the
 * adapter (adapters/mpv/kino_mpv.h). Copy it: the kino part is the
 * emitter, kino_mpv_attach and kino_mpv_detach; the rest is an ordinary
 * libmpv application with its own event loop.
 *
 *   mpv-play URL [--pause-at S --pause-for S] [--seek-at S --seek-to S] [--buffer S]
 *
 * Plays URL to its end with --vo=null --ao=null (in real time), with an
 * optional scripted user pause and seek (at media positions, in seconds).
 * --buffer is mpv's read-ahead goal in seconds (cache-secs and
 * demuxer-readahead-secs). kino reports to $KINO_BEACON_URL. At the end
 * it prints kino's delivery counters and QoE figures. Exit status 0 at the
 * end of the stream, 1 after a fatal error, 2 for bad arguments.
 *
 * libmpv plays one HLS variant at a time and never switches by itself
 * (libavformat's HLS demuxer has no ABR), so this player does what an
 * mpv-based HLS player must: it starts on the lowest variant and switches
 * tracks itself (adapt(), a minimal ABR). The adapter reports those
 * switches as ABR (option track_switches_are_abr).
 *
 * It also prints, as "engine" lines, what mpv told the application itself
 * on its own handle, with milliseconds since start: what the adapter
 * turned into kino events, seen independently of it (tests/mpv_adapter.rs
 * checks one against the other).
 */
#include <mpv/client.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kino.h"
#include "kino_mpv.h"
#include "script.h"

#define MAX_TRACKS 16
#define SWITCH_EVERY_S 4.0

enum { P_TIME_POS = 1, P_PAUSED_FOR_CACHE, P_VIDEO_PARAMS, P_CACHE };

typedef struct {
    mpv_handle *mpv;
    Script script;
    double t0, resume_at, last_switch;
    double sampled_at, sampled_end; /* the buffered end a second ago */
    bool arriving;
    double peak_speed; /* bit/s the link read at lately */
    bool paused_done, seek_done, user_paused, started, at_eof;
    bool seeking, cache_paused, frozen; /* what explains a position standing still */
    double moved_at;                    /* when time-pos last moved */
    double position, cache;
    /* HLS variants: video and audio track ids by ascending height */
    int64_t video[MAX_TRACKS], audio[MAX_TRACKS];
    int variants, current;
} Player;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void engine(Player *p, const char *format, ...) {
    char text[256];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    printf("mpv-play: engine %.1f %s\n", (now_s() - p->t0) * 1000.0, text);
}

/* The HLS variants: libavformat lists one video and one audio track per
 * variant, in variant order; sorted here by height. */
static void read_variants(Player *p) {
    int64_t count = 0, heights[MAX_TRACKS], current = 0;
    int n_video = 0, n_audio = 0;
    mpv_get_property(p->mpv, "track-list/count", MPV_FORMAT_INT64, &count);
    for (int i = 0; i < count && i < 64; i++) {
        char name[64];
        int64_t id = 0, h = 0;
        snprintf(name, sizeof name, "track-list/%d/type", i);
        char *type = mpv_get_property_string(p->mpv, name);
        snprintf(name, sizeof name, "track-list/%d/id", i);
        mpv_get_property(p->mpv, name, MPV_FORMAT_INT64, &id);
        snprintf(name, sizeof name, "track-list/%d/demux-h", i);
        mpv_get_property(p->mpv, name, MPV_FORMAT_INT64, &h);
        if (type != NULL && strcmp(type, "video") == 0 && n_video < MAX_TRACKS) {
            heights[n_video] = h;
            p->video[n_video++] = id;
        } else if (type != NULL && strcmp(type, "audio") == 0 && n_audio < MAX_TRACKS) {
            p->audio[n_audio++] = id;
        }
        mpv_free(type);
    }
    p->variants = n_video == n_audio ? n_video : 0; /* else: leave the tracks alone */
    for (int i = 1; i < p->variants; i++) { /* insertion sort by height */
        for (int k = i; k > 0 && heights[k - 1] > heights[k]; k--) {
            int64_t h = heights[k], v = p->video[k], au = p->audio[k];
            heights[k] = heights[k - 1], p->video[k] = p->video[k - 1], p->audio[k] = p->audio[k - 1];
            heights[k - 1] = h, p->video[k - 1] = v, p->audio[k - 1] = au;
        }
    }
    mpv_get_property(p->mpv, "current-tracks/video/id", MPV_FORMAT_INT64, &current);
    for (int i = 0; i < p->variants; i++) {
        if (p->video[i] == current) {
            p->current = i;
        }
    }
}

static void switch_variant(Player *p, int to) {
    char vid[32], aid[32];
    snprintf(vid, sizeof vid, "%lld", (long long)p->video[to]);
    snprintf(aid, sizeof aid, "%lld", (long long)p->audio[to]);
    engine(p, "switch %d %s", to, to > p->current ? "up" : "down");
    p->current = to;
    p->last_switch = now_s();
    mpv_set_property_string(p->mpv, "vid", vid);
    mpv_set_property_string(p->mpv, "aid", aid);
}

/* A minimal ABR over the variants, on the buffer and the link's speed:
 * down when less than half the buffering goal is buffered while data
 * still arrives (the buffered end moved in the last second: a switch
 * throws away what is buffered, and waiting for a new variant over a dead
 * link only freezes), up when the goal is buffered and the link has
 * lately read at three times the current variant's bitrate; at most one
 * switch every 4 s, and none near the end. */
static void adapt(Player *p) {
    double goal = p->script.buffer > 0 ? p->script.buffer : 10.0;
    double end = p->position + p->cache, now = now_s();
    int64_t speed = 0; /* bytes/s read from the network over the last second */
    mpv_get_property(p->mpv, "cache-speed", MPV_FORMAT_INT64, &speed);
    if (now - p->sampled_at >= 1.0) {
        p->arriving = end > p->sampled_end + 0.05;
        p->sampled_at = now;
        p->sampled_end = end;
        p->peak_speed *= 0.7; /* forget old peaks within a few seconds */
    }
    if ((double)speed * 8.0 > p->peak_speed) {
        p->peak_speed = (double)speed * 8.0;
    }
    if (p->variants < 2 || !p->started || p->user_paused ||
        now - p->last_switch < SWITCH_EVERY_S) {
        return;
    }
    int idle = 0;
    double duration = 0.0, bitrate = 0.0;
    mpv_get_property(p->mpv, "demuxer-cache-idle", MPV_FORMAT_FLAG, &idle);
    mpv_get_property(p->mpv, "duration", MPV_FORMAT_DOUBLE, &duration);
    mpv_get_property(p->mpv, "video-bitrate", MPV_FORMAT_DOUBLE, &bitrate);
    bool more_to_come = end < duration - 1.0;
    if (p->cache < goal / 2.0 && p->current > 0 && p->arriving && !idle && more_to_come) {
        switch_variant(p, p->current - 1);
    } else if (p->cache >= goal * 0.95 && p->current + 1 < p->variants && more_to_come &&
               bitrate > 0.0 && p->peak_speed > 3.0 * bitrate) {
        switch_variant(p, p->current + 1);
    }
}

/* mpv may stand still without saying so (after a track switch whose new
 * track has no data yet): note when time-pos stops for 1 s while no
 * pause, seek or paused-for-cache explains it. */
static void watch_position(Player *p) {
    if (p->started && !p->user_paused && !p->seeking && !p->cache_paused && !p->frozen &&
        now_s() - p->moved_at >= 1.0) {
        p->frozen = true;
        engine(p, "frozen %.1f", (p->moved_at - p->t0) * 1000.0);
    }
}

/* The scripted viewer: a pause and a seek at media positions. */
static void script(Player *p) {
    if (p->user_paused && now_s() >= p->resume_at) {
        p->user_paused = false;
        p->moved_at = now_s();
        engine(p, "resume");
        mpv_set_property_string(p->mpv, "pause", "no");
    }
    if (p->script.pause_at >= 0 && !p->paused_done && p->position >= p->script.pause_at) {
        p->paused_done = p->user_paused = true;
        p->resume_at = now_s() + p->script.pause_for;
        engine(p, "pause %.3f", p->position);
        mpv_set_property_string(p->mpv, "pause", "yes");
    } else if (p->script.seek_at >= 0 && !p->seek_done && !p->user_paused &&
               p->position >= p->script.seek_at) {
        char to[32];
        snprintf(to, sizeof to, "%.3f", p->script.seek_to);
        const char *cmd[] = {"seek", to, "absolute+keyframes", NULL};
        p->seek_done = p->seeking = true;
        engine(p, "seek %.3f %.3f", p->position, p->script.seek_to);
        mpv_command(p->mpv, cmd);
    }
}

static void on_event(Player *p, mpv_event *ev) {
    switch (ev->event_id) {
    case MPV_EVENT_START_FILE:
        engine(p, "start-file");
        break;
    case MPV_EVENT_FILE_LOADED:
        read_variants(p);
        break;
    case MPV_EVENT_PLAYBACK_RESTART:
        engine(p, "playback-restart");
        if (!p->started) {
            p->last_switch = now_s(); /* a first sample before the first switch */
        }
        p->started = true;
        p->seeking = false;
        p->moved_at = now_s();
        break;
    case MPV_EVENT_END_FILE: {
        mpv_event_end_file *end = ev->data;
        engine(p, "end-file %d %s", (int)end->reason, mpv_error_string(end->error));
        p->at_eof = end->reason == MPV_END_FILE_REASON_EOF;
        break;
    }
    case MPV_EVENT_PROPERTY_CHANGE: {
        mpv_event_property *prop = ev->data;
        if (prop->format == MPV_FORMAT_DOUBLE && ev->reply_userdata == P_TIME_POS) {
            if (*(double *)prop->data != p->position) {
                p->moved_at = now_s();
                if (p->frozen) {
                    p->frozen = false;
                    engine(p, "moving");
                }
            }
            p->position = *(double *)prop->data;
        } else if (prop->format == MPV_FORMAT_DOUBLE && ev->reply_userdata == P_CACHE) {
            p->cache = *(double *)prop->data;
        } else if (prop->format == MPV_FORMAT_FLAG && ev->reply_userdata == P_PAUSED_FOR_CACHE) {
            p->cache_paused = *(int *)prop->data;
            p->moved_at = now_s();
            engine(p, "paused-for-cache %s", p->cache_paused ? "yes" : "no");
        } else if (prop->format == MPV_FORMAT_NODE && ev->reply_userdata == P_VIDEO_PARAMS) {
            int64_t w = 0, h = 0;
            mpv_get_property(p->mpv, "video-params/w", MPV_FORMAT_INT64, &w);
            mpv_get_property(p->mpv, "video-params/h", MPV_FORMAT_INT64, &h);
            engine(p, "video-params %lldx%lld", (long long)w, (long long)h);
        }
        break;
    }
    default:
        break;
    }
}

int main(int argc, char **argv) {
    Player p;
    memset(&p, 0, sizeof p);
    const char *url = NULL;
    if (!parse_args(argc, argv, &url, &p.script)) {
        fprintf(stderr, "usage: mpv-play URL [--pause-at S --pause-for S] [--seek-at S --seek-to S]"
                        " [--buffer S]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    p.t0 = now_s();

    /* kino: one emitter per player, reporting to $KINO_BEACON_URL */
    KinoEmitter *kino = NULL;
    if (kino_emitter_new(NULL, &kino) != KINO_STATUS_OK) {
        fprintf(stderr, "mpv-play: kino: %s\n", kino_last_error_message());
        return 1;
    }

    p.mpv = mpv_create();
    if (p.mpv == NULL) {
        fprintf(stderr, "mpv-play: mpv_create failed\n");
        return 1;
    }
    mpv_set_option_string(p.mpv, "vo", "null");
    mpv_set_option_string(p.mpv, "ao", "null");
    mpv_set_option_string(p.mpv, "hls-bitrate", "min"); /* start low, as ABR players do */
    if (p.script.buffer >= 0) {
        char secs[32];
        snprintf(secs, sizeof secs, "%.3f", p.script.buffer);
        mpv_set_option_string(p.mpv, "cache", "yes");
        mpv_set_option_string(p.mpv, "cache-secs", secs);
        mpv_set_option_string(p.mpv, "demuxer-readahead-secs", secs);
    }
    if (mpv_initialize(p.mpv) < 0) {
        fprintf(stderr, "mpv-play: mpv_initialize failed\n");
        return 1;
    }
    mpv_observe_property(p.mpv, P_TIME_POS, "time-pos", MPV_FORMAT_DOUBLE);
    mpv_observe_property(p.mpv, P_CACHE, "demuxer-cache-duration", MPV_FORMAT_DOUBLE);
    mpv_observe_property(p.mpv, P_PAUSED_FOR_CACHE, "paused-for-cache", MPV_FORMAT_FLAG);
    mpv_observe_property(p.mpv, P_VIDEO_PARAMS, "video-params", MPV_FORMAT_NODE);

    /* kino: attach after mpv_initialize, before loadfile */
    KinoMpvOptions options;
    kino_mpv_options_init(&options);
    options.track_switches_are_abr = true; /* adapt() is this player's ABR */
    KinoMpvAdapter *adapter = kino_mpv_attach(p.mpv, kino, &options);

    engine(&p, "load %s", url);
    const char *load[] = {"loadfile", url, NULL};
    mpv_command(p.mpv, load);
    bool done = false;
    while (!done) {
        mpv_event *ev = mpv_wait_event(p.mpv, 0.05);
        if ((ev->event_id == MPV_EVENT_END_FILE &&
             ((mpv_event_end_file *)ev->data)->reason != MPV_END_FILE_REASON_REDIRECT) ||
            ev->event_id == MPV_EVENT_SHUTDOWN) {
            done = true; /* (a redirect: the playlist's entry plays next) */
        }
        on_event(&p, ev);
        script(&p);
        adapt(&p);
        watch_position(&p);
    }

    /* kino: destroy the core first (the adapter sees every event up to its
     * shutdown, and lets go of it), detach, then free the emitter */
    mpv_terminate_destroy(p.mpv);
    kino_mpv_detach(adapter);
    kino_emitter_flush(kino, 5000);
    KinoStats st;
    KinoQoeBreakdown q;
    memset(&st, 0, sizeof st);
    memset(&q, 0, sizeof q);
    kino_emitter_stats(kino, &st);
    kino_emitter_qoe(kino, &q);
    printf("mpv-play: stats emitted=%llu delivered=%llu failed=%llu queued=%llu dropped=%llu\n",
           (unsigned long long)st.emitted, (unsigned long long)st.delivered,
           (unsigned long long)st.failed, (unsigned long long)st.queued,
           (unsigned long long)st.dropped);
    printf("mpv-play: qoe started=%d failed=%d score=%.1f startup=%.3f stalls=%u stall_time=%.3f "
           "switches=%u up=%u down=%u seeks=%u seek_latency=%.3f playing=%.3f avg_bitrate=%llu\n",
           q.started, q.playback_failed, q.score, q.initial_buffer_time, q.rebuffer_count,
           q.rebuffer_duration, q.quality_switches, q.upshifts, q.downshifts, q.seek_count,
           q.average_seek_latency, q.playing_time, (unsigned long long)q.average_bitrate);
    kino_emitter_free(kino);
    return p.at_eof && !q.playback_failed ? 0 : 1;
}
