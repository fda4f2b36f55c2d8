/*
 * gst-play: a headless GStreamer player reporting to kino through the
 * adapter (adapters/gstreamer/kino_gst.h). Copy it: the kino part is the
 * emitter, kino_gst_attach and kino_gst_detach; the rest is an ordinary
 * playbin application.
 *
 *   gst-play URL [--pause-at S --pause-for S] [--seek-at S --seek-to S] [--buffer S]
 *
 * Plays URL to its end on fake sinks that render in real time, with an
 * optional scripted user pause and seek (at media positions, in seconds).
 * --buffer is playbin's buffering goal in seconds (buffer-duration). kino
 * reports to $KINO_BEACON_URL. At the end it prints kino's delivery
 * counters and QoE figures. Exit status 0 at the end of the stream, 1
 * after a fatal error, 2 for bad arguments.
 *
 * It also prints, as "engine" lines, what GStreamer told the application
 * itself (its own bus watch, and the video sink pad's caps), with
 * milliseconds since start: what the adapter turned into kino events,
 * seen independently of it (tests/gst_adapter.rs checks one against the
 * other).
 */
#include <glib-unix.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kino.h"
#include "kino_gst.h"
#include "script.h"

typedef struct {
    GMainLoop *loop;
    GstElement *playbin;
    Script script;
    gint64 t0;
    gboolean buffering, user_paused, paused_done, seek_done, at_eos;
} Player;

static void engine(Player *p, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void engine(Player *p, const char *format, ...) {
    char text[256];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    printf("gst-play: engine %.1f %s\n", (double)(g_get_monotonic_time() - p->t0) / 1000.0, text);
}

static double position(Player *p) {
    gint64 pos = -1;
    return gst_element_query_position(p->playbin, GST_FORMAT_TIME, &pos) && pos >= 0
               ? (double)pos / GST_SECOND
               : -1.0;
}

/* GStreamer's buffering rule: hold the pipeline while its queues refill. */
static void on_buffering(Player *p, int percent) {
    if (percent < 100 && !p->buffering) {
        p->buffering = TRUE;
        gst_element_set_state(p->playbin, GST_STATE_PAUSED);
    } else if (percent == 100 && p->buffering) {
        p->buffering = FALSE;
        if (!p->user_paused) {
            gst_element_set_state(p->playbin, GST_STATE_PLAYING);
        }
    }
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data) {
    (void)bus;
    Player *p = data;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_STATE_CHANGED:
        if (GST_MESSAGE_SRC(msg) == GST_OBJECT(p->playbin)) {
            GstState old_state, new_state, pending;
            gst_message_parse_state_changed(msg, &old_state, &new_state, &pending);
            engine(p, "state %s %s %s", gst_element_state_get_name(old_state),
                   gst_element_state_get_name(new_state), gst_element_state_get_name(pending));
        }
        break;
    case GST_MESSAGE_BUFFERING: {
        int percent = 0;
        gst_message_parse_buffering(msg, &percent);
        if ((percent < 100) != p->buffering) {
            engine(p, "buffering %d", percent);
        }
        on_buffering(p, percent);
        break;
    }
    case GST_MESSAGE_ERROR: {
        GError *err = NULL;
        gst_message_parse_error(msg, &err, NULL);
        engine(p, "error %s:%d %s", g_quark_to_string(err->domain), err->code, err->message);
        g_error_free(err);
        g_main_loop_quit(p->loop);
        break;
    }
    case GST_MESSAGE_EOS:
        engine(p, "eos");
        p->at_eos = TRUE;
        g_main_loop_quit(p->loop);
        break;
    default:
        break;
    }
    return G_SOURCE_CONTINUE;
}

/* The rendition on screen, as the video sink's pad says (streaming thread). */
static void on_caps(GObject *pad, GParamSpec *pspec, gpointer data) {
    (void)pspec;
    GstCaps *caps = gst_pad_get_current_caps(GST_PAD(pad));
    int width = 0, height = 0;
    if (caps != NULL && gst_structure_get_int(gst_caps_get_structure(caps, 0), "width", &width) &&
        gst_structure_get_int(gst_caps_get_structure(caps, 0), "height", &height)) {
        engine(data, "caps %dx%d", width, height);
    }
    if (caps != NULL) {
        gst_caps_unref(caps);
    }
}

static gboolean on_resume(gpointer data) {
    Player *p = data;
    p->user_paused = FALSE;
    engine(p, "resume");
    if (!p->buffering) {
        gst_element_set_state(p->playbin, GST_STATE_PLAYING);
    }
    return G_SOURCE_REMOVE;
}

/* The scripted viewer: a pause and a seek at media positions. */
static gboolean on_tick(gpointer data) {
    Player *p = data;
    double pos = position(p);
    if (p->script.pause_at >= 0 && !p->paused_done && pos >= p->script.pause_at) {
        p->paused_done = TRUE;
        p->user_paused = TRUE;
        engine(p, "pause %.3f", pos);
        gst_element_set_state(p->playbin, GST_STATE_PAUSED);
        g_timeout_add((guint)(p->script.pause_for * 1000), on_resume, p);
    } else if (p->script.seek_at >= 0 && !p->seek_done && !p->user_paused &&
               pos >= p->script.seek_at) {
        p->seek_done = TRUE;
        engine(p, "seek %.3f %.3f", pos, p->script.seek_to);
        gst_element_seek_simple(p->playbin, GST_FORMAT_TIME,
                                GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT,
                                (gint64)(p->script.seek_to * GST_SECOND));
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer data) {
    g_main_loop_quit(((Player *)data)->loop); /* the viewer stopped watching */
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv) {
    Player p;
    memset(&p, 0, sizeof p);
    const char *url = NULL;
    if (!parse_args(argc, argv, &url, &p.script)) {
        fprintf(stderr, "usage: gst-play URL [--pause-at S --pause-for S] [--seek-at S --seek-to S]"
                        " [--buffer S]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    gst_init(NULL, NULL);
    p.t0 = g_get_monotonic_time();

    /* kino: one emitter per player, reporting to $KINO_BEACON_URL */
    KinoEmitter *kino = NULL;
    if (kino_emitter_new(NULL, &kino) != KINO_STATUS_OK) {
        fprintf(stderr, "gst-play: kino: %s\n", kino_last_error_message());
        return 1;
    }

    p.playbin = gst_element_factory_make("playbin", NULL);
    GstElement *video_sink = gst_element_factory_make("fakesink", NULL);
    GstElement *audio_sink = gst_element_factory_make("fakesink", NULL);
    if (p.playbin == NULL || video_sink == NULL || audio_sink == NULL) {
        fprintf(stderr, "gst-play: playbin or fakesink missing (gstreamer1.0-plugins-base)\n");
        return 1;
    }
    g_object_set(video_sink, "sync", TRUE, "qos", TRUE, NULL); /* render in real time */
    g_object_set(audio_sink, "sync", TRUE, NULL);
    g_object_set(p.playbin, "video-sink", video_sink, "audio-sink", audio_sink, NULL);
    if (p.script.buffer >= 0) {
        g_object_set(p.playbin, "buffer-duration", (gint64)(p.script.buffer * GST_SECOND), NULL);
    }
    GstPad *sink_pad = gst_element_get_static_pad(video_sink, "sink");
    g_signal_connect(sink_pad, "notify::caps", G_CALLBACK(on_caps), &p);

    /* kino: attach before the URI is set, so its load is the first event */
    KinoGstAdapter *adapter = kino_gst_attach(p.playbin, kino, NULL);
    engine(&p, "load %s", url);
    g_object_set(p.playbin, "uri", url, NULL);

    p.loop = g_main_loop_new(NULL, FALSE);
    GstBus *bus = gst_element_get_bus(p.playbin);
    guint bus_watch = gst_bus_add_watch(bus, on_bus, &p);
    gst_object_unref(bus);
    guint tick = g_timeout_add(20, on_tick, &p);
    guint sigint = g_unix_signal_add(SIGINT, on_signal, &p);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, &p);
    if (gst_element_set_state(p.playbin, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE) {
        g_main_loop_run(p.loop);
    }
    g_source_remove(tick);
    g_source_remove(sigint);
    g_source_remove(sigterm);
    g_source_remove(bus_watch);
    gst_element_set_state(p.playbin, GST_STATE_NULL);

    /* kino: detach before freeing the emitter; then everything is sent */
    kino_gst_detach(adapter);
    gst_object_unref(sink_pad);
    gst_object_unref(p.playbin);
    g_main_loop_unref(p.loop);
    kino_emitter_flush(kino, 5000);
    KinoStats st;
    KinoQoeBreakdown q;
    memset(&st, 0, sizeof st);
    memset(&q, 0, sizeof q);
    kino_emitter_stats(kino, &st);
    kino_emitter_qoe(kino, &q);
    printf("gst-play: stats emitted=%llu delivered=%llu failed=%llu queued=%llu dropped=%llu\n",
           (unsigned long long)st.emitted, (unsigned long long)st.delivered,
           (unsigned long long)st.failed, (unsigned long long)st.queued,
           (unsigned long long)st.dropped);
    printf("gst-play: qoe started=%d failed=%d score=%.1f startup=%.3f stalls=%u stall_time=%.3f "
           "switches=%u up=%u down=%u seeks=%u seek_latency=%.3f playing=%.3f avg_bitrate=%llu\n",
           q.started, q.playback_failed, q.score, q.initial_buffer_time, q.rebuffer_count,
           q.rebuffer_duration, q.quality_switches, q.upshifts, q.downshifts, q.seek_count,
           q.average_seek_latency, q.playing_time, (unsigned long long)q.average_bitrate);
    kino_emitter_free(kino);
    gst_deinit();
    return p.at_eos && !q.playback_failed ? 0 : 1;
}
