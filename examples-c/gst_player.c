/*
 * A real player engine reporting through kino: GStreamer's playbin plays a
 * URI (a multi-rendition HLS stream in the demo) without a screen or a
 * sound card, and its bus messages become kino_emit_* calls as
 * docs/EVENTS.md says. scripts/gst-demo.sh builds and runs it.
 *
 *   gst_player [--heartbeat-ms N] [--timeout-s N] URI [BEACON_URL]
 *
 * BEACON_URL defaults to $KINO_BEACON_URL. Heartbeats every N ms (default
 * 1000, for the demo; a product would use ~10 s). Gives up after
 * --timeout-s seconds (default 120). Exit status 0 when playback reached
 * the end and kino delivered every event.
 *
 * How GStreamer maps to kino (see docs/INTEGRATION.md):
 *
 *   kino_emit_load          just before the pipeline starts (-> PAUSED)
 *   quality_change INITIAL  the first video caps reach the video sink (the
 *                           starting rendition; during preroll)
 *   play                    playbin reaches PLAYING for the first time: with
 *                           sync=true the first frame is rendered then
 *   state_change            LOADING->PLAYING at start, PLAYING->BUFFERING
 *                           and back around a stall, ->ENDED / ->ERROR
 *   rebuffer                GST_MESSAGE_BUFFERING below 100 % after the start:
 *                           the app pauses the pipeline, as GStreamer asks,
 *                           but that is a stall, never kino_emit_pause
 *   rebuffer_end            buffering back at 100 % and the pipeline PLAYING
 *   quality_change ABR      the rendered resolution changes (new caps at the
 *                           video sink: the viewer sees the new rendition)
 *   heartbeat               a timer: position, buffered time, bitrate, the
 *                           frames that reached the video sink, and the
 *                           late ones it dropped (its QoS messages)
 *
 * Bitrates are the HLS variants' BANDWIDTH: hlsdemux does not expose its
 * variant list, so the player reads the master playlist as it flows into
 * hlsdemux (a probe on its sink pad) and looks each rendered resolution up
 * in it; hlsdemux's "adaptive-streaming-statistics" message (posted at
 * each variant switch, with the new "bitrate") breaks ties between variants
 * of one resolution. Failing both, the video stream's bitrate tag, else 0
 * (unknown). playbin has no buffered-time query for HLS either, so the
 * buffer level is the stream time the demuxer (tsdemux) has handed on for
 * video minus the position: what is queued after the demuxer.
 *   error (not fatal)       GST_MESSAGE_WARNING
 *   error (fatal)           GST_MESSAGE_ERROR; playback stops
 *   end                     GST_MESSAGE_EOS, or Ctrl-C (the viewer stopped)
 *
 * Threads: bus messages are handled on the GLib main loop (this thread).
 * The pad probes run on GStreamer streaming threads: the caps and manifest
 * probes only post application messages to the bus, and the demuxer probe
 * only updates `buffered_until` under a mutex, so all other player state
 * stays on the main loop. (kino_emit_* itself may be called from any
 * thread.)
 */
#include <glib-unix.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kino.h"

/* One variant of the master playlist. */
typedef struct {
    guint64 bandwidth;
    guint width, height;
} Variant;

#define MAX_VARIANTS 32
#define MAX_MANIFEST_BYTES (1024 * 1024)

typedef struct {
    GMainLoop *loop;
    GstElement *playbin;
    GstElement *video_sink;
    KinoEmitter *kino;
    int kino_failures;

    gboolean prerolled;   /* first ASYNC_DONE seen */
    gboolean buffering;   /* the app holds the pipeline PAUSED for buffering */
    gboolean started;     /* first frame rendered (play emitted) */
    gboolean stalled;     /* rebuffer emitted, rebuffer_end not yet */
    gboolean finished;    /* end or fatal error emitted */
    gboolean reached_eos;
    KinoPlayerState state; /* the last state reported to kino */

    /* the rendition on screen, and what the demuxer announced */
    guint width, height;
    guint64 bitrate;          /* bit/s of the rendition on screen, 0 unknown */
    guint64 variant_bitrate;  /* last HLS variant BANDWIDTH hlsdemux switched to */
    gboolean variant_pending; /* announced, not yet on screen */
    guint64 tag_bitrate;      /* the video stream's bitrate tag, if any */

    /* frames for the heartbeat, over the whole view (the sink's own "stats"
     * restart at every new segment, such as a variant switch) */
    gint frames_at_sink; /* buffers that reached the video sink (atomic) */
    guint64 frames_dropped; /* QoS messages of the video sink: one per late frame dropped */

    Variant variants[MAX_VARIANTS]; /* from the master playlist */
    int n_variants;

    gint64 playing_since_us; /* monotonic time PLAYING began, 0 if not playing */
    double watched_s;        /* seconds spent PLAYING */

    GMutex lock;             /* guards buffered_until (streaming threads) */
    gint64 buffered_until;   /* video stream time out of the demuxer, ns; -1 none */
    GString *manifest;       /* the master playlist as it arrives (streaming thread) */

    /* main-loop sources that remove themselves when they fire (0: gone) */
    guint timeout_source, sigint_source, sigterm_source;
} Player;

/* Reports a failed kino call; playback carries on regardless. */
static void check(Player *p, KinoStatus status, const char *what) {
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "gst_player: kino %s failed: %s: %s\n", what, kino_status_str(status),
                kino_last_error_message());
        p->kino_failures++;
    }
}

/* Media position in seconds (0 while the engine cannot tell). */
static double position_s(Player *p) {
    gint64 pos = 0;
    if (!gst_element_query_position(p->playbin, GST_FORMAT_TIME, &pos) || pos < 0) {
        return 0.0;
    }
    return (double)pos / GST_SECOND;
}

/* Seconds buffered ahead of the position (0 if unknown). */
static double buffer_level_s(Player *p, double position) {
    g_mutex_lock(&p->lock);
    gint64 until = p->buffered_until;
    g_mutex_unlock(&p->lock);
    double level = until < 0 ? 0.0 : (double)until / GST_SECOND - position;
    return level > 0.0 ? level : 0.0;
}

static void set_kino_state(Player *p, KinoPlayerState to, double position) {
    if (p->state != to) {
        check(p, kino_emit_state_change(p->kino, p->state, to, position), "state_change");
        p->state = to;
    }
}

static void playing_clock(Player *p, gboolean playing) {
    gint64 now = g_get_monotonic_time();
    if (p->playing_since_us != 0) {
        p->watched_s += (double)(now - p->playing_since_us) / G_USEC_PER_SEC;
        p->playing_since_us = 0;
    }
    if (playing) {
        p->playing_since_us = now;
    }
}

static void finish(Player *p, gboolean reached_end) {
    double pos = position_s(p);
    playing_clock(p, FALSE);
    if (!p->finished) {
        p->finished = TRUE;
        if (p->stalled) {
            check(p, kino_emit_rebuffer_end(p->kino, pos, 0.0), "rebuffer_end");
            p->stalled = FALSE;
        }
        if (reached_end) {
            set_kino_state(p, KINO_PLAYER_STATE_ENDED, pos);
        }
        check(p, kino_emit_end(p->kino, pos, p->watched_s), "end");
        printf("gst_player: end at %.3f s (%.3f s watched)\n", pos, p->watched_s);
    }
    g_main_loop_quit(p->loop);
}

static void fatal_error(Player *p, const char *code, const char *message) {
    double pos = position_s(p);
    playing_clock(p, FALSE);
    if (!p->finished) {
        p->finished = TRUE;
        set_kino_state(p, KINO_PLAYER_STATE_ERROR, pos);
        check(p, kino_emit_error(p->kino, code, message, true, pos), "error");
    }
    fprintf(stderr, "gst_player: fatal error %s: %s\n", code, message);
    g_main_loop_quit(p->loop);
}

/* The BANDWIDTH of the variant with this resolution; the one hlsdemux last
 * switched to wins when several share it. 0 if the playlist does not say. */
static guint64 variant_bandwidth(const Player *p, guint width, guint height) {
    guint64 found = 0;
    for (int i = 0; i < p->n_variants; i++) {
        const Variant *v = &p->variants[i];
        if (v->width == width && v->height == height) {
            if (p->variant_pending && v->bandwidth == p->variant_bitrate) {
                return v->bandwidth;
            }
            if (found == 0) {
                found = v->bandwidth;
            }
        }
    }
    return found;
}

/* The rendition on screen changed (new caps at the video sink). */
static void on_video_caps(Player *p, guint width, guint height) {
    if (p->finished || (width == p->width && height == p->height)) {
        return;
    }
    guint64 to_bitrate = variant_bandwidth(p, width, height);
    if (to_bitrate == 0) {
        to_bitrate = p->variant_pending ? p->variant_bitrate : p->tag_bitrate;
    }
    KinoResolution from = {p->width, p->height};
    KinoResolution to = {width, height};
    gboolean initial = p->width == 0;
    check(p,
          kino_emit_quality_change(p->kino, initial ? 0 : p->bitrate, to_bitrate,
                                   initial ? NULL : &from, &to,
                                   initial ? KINO_QUALITY_CHANGE_REASON_INITIAL
                                           : KINO_QUALITY_CHANGE_REASON_ABR),
          "quality_change");
    printf("gst_player: quality_change %s %ux%u -> %ux%u, %llu bit/s\n", initial ? "initial" : "abr",
           p->width, p->height, width, height, (unsigned long long)to_bitrate);
    p->width = width;
    p->height = height;
    p->bitrate = to_bitrate;
    if (to_bitrate == p->variant_bitrate) {
        p->variant_pending = FALSE; /* the announced switch is on screen */
    }
}

/* Reads the variants (BANDWIDTH, RESOLUTION) of an HLS master playlist. */
static void parse_master_playlist(Player *p, const char *text) {
    p->n_variants = 0;
    gchar **lines = g_strsplit(text, "\n", -1);
    for (gchar **line = lines; *line != NULL && p->n_variants < MAX_VARIANTS; line++) {
        if (!g_str_has_prefix(*line, "#EXT-X-STREAM-INF:")) {
            continue;
        }
        Variant v = {0, 0, 0};
        /* attribute list: NAME=value,NAME="quoted, value",... */
        const char *a = *line + strlen("#EXT-X-STREAM-INF:");
        while (*a != '\0') {
            const char *eq = strchr(a, '=');
            if (eq == NULL) {
                break;
            }
            gchar *name = g_strndup(a, (gsize)(eq - a));
            const char *value = eq + 1;
            const char *end = value;
            if (*end == '"') {
                end = strchr(end + 1, '"');
                end = end != NULL ? end + 1 : value + strlen(value);
            }
            while (*end != '\0' && *end != ',') {
                end++;
            }
            if (strcmp(name, "BANDWIDTH") == 0) {
                v.bandwidth = g_ascii_strtoull(value, NULL, 10);
            } else if (strcmp(name, "RESOLUTION") == 0) {
                sscanf(value, "%ux%u", &v.width, &v.height);
            }
            g_free(name);
            a = *end == ',' ? end + 1 : end;
        }
        if (v.bandwidth > 0) {
            p->variants[p->n_variants++] = v;
            printf("gst_player: variant %llu bit/s %ux%u\n", (unsigned long long)v.bandwidth,
                   v.width, v.height);
        }
    }
    g_strfreev(lines);
}

static void on_state_changed(Player *p, GstState old_state, GstState new_state) {
    double pos = position_s(p);
    if (new_state == GST_STATE_PLAYING) {
        playing_clock(p, TRUE);
        if (!p->started) {
            /* sync=true: the first frame is rendered as the pipeline plays */
            p->started = TRUE;
            check(p, kino_emit_play(p->kino, pos), "play");
            set_kino_state(p, KINO_PLAYER_STATE_PLAYING, pos);
            printf("gst_player: play at %.3f s\n", pos);
        } else if (p->stalled) {
            p->stalled = FALSE;
            check(p, kino_emit_rebuffer_end(p->kino, pos, 0.0), "rebuffer_end");
            set_kino_state(p, KINO_PLAYER_STATE_PLAYING, pos);
            printf("gst_player: rebuffer_end at %.3f s\n", pos);
        } else {
            set_kino_state(p, KINO_PLAYER_STATE_PLAYING, pos);
        }
    } else if (old_state == GST_STATE_PLAYING) {
        playing_clock(p, FALSE);
        /* an engine pause (not the user's): the playing clock stops */
        if (!p->stalled && !p->finished) {
            set_kino_state(p, KINO_PLAYER_STATE_PAUSED, pos);
        }
    }
}

static void on_buffering(Player *p, int percent) {
    if (percent < 100) {
        if (!p->buffering) {
            p->buffering = TRUE;
            if (p->started && !p->finished) {
                double pos = position_s(p);
                p->stalled = TRUE;
                check(p, kino_emit_rebuffer(p->kino, pos, buffer_level_s(p, pos)), "rebuffer");
                set_kino_state(p, KINO_PLAYER_STATE_BUFFERING, pos);
                printf("gst_player: rebuffer at %.3f s (%d %%)\n", pos, percent);
            }
            /* GStreamer's rule: hold the pipeline while its queues refill */
            gst_element_set_state(p->playbin, GST_STATE_PAUSED);
        }
    } else if (p->buffering) {
        p->buffering = FALSE;
        if (p->prerolled && !p->finished) {
            gst_element_set_state(p->playbin, GST_STATE_PLAYING); /* rebuffer_end follows */
        }
    }
}

static void on_element_message(Player *p, const GstStructure *s) {
    /* hlsdemux / hlsdemux2 announce a variant switch with its BANDWIDTH */
    int bitrate = 0;
    if (gst_structure_has_name(s, "adaptive-streaming-statistics") &&
        gst_structure_get_int(s, "bitrate", &bitrate) && bitrate > 0) {
        p->variant_bitrate = (guint64)bitrate;
        p->variant_pending = TRUE;
        printf("gst_player: demuxer switched to the %d bit/s variant (%s)\n", bitrate,
               gst_structure_get_string(s, "uri") ? gst_structure_get_string(s, "uri") : "?");
    }
}

static void on_tags(Player *p, GstMessage *msg) {
    if (GST_MESSAGE_SRC(msg) != GST_OBJECT(p->video_sink)) {
        return; /* only the video stream's bitrate */
    }
    GstTagList *tags = NULL;
    guint bitrate = 0;
    gst_message_parse_tag(msg, &tags);
    if (gst_tag_list_get_uint(tags, GST_TAG_NOMINAL_BITRATE, &bitrate) ||
        gst_tag_list_get_uint(tags, GST_TAG_BITRATE, &bitrate)) {
        if (bitrate > 0) {
            p->tag_bitrate = bitrate;
        }
    }
    gst_tag_list_unref(tags);
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data) {
    (void)bus;
    Player *p = data;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_STATE_CHANGED:
        if (GST_MESSAGE_SRC(msg) == GST_OBJECT(p->playbin)) {
            GstState old_state, new_state;
            gst_message_parse_state_changed(msg, &old_state, &new_state, NULL);
            on_state_changed(p, old_state, new_state);
        }
        break;
    case GST_MESSAGE_ASYNC_DONE:
        p->prerolled = TRUE;
        if (!p->buffering && !p->finished) {
            gst_element_set_state(p->playbin, GST_STATE_PLAYING);
        }
        break;
    case GST_MESSAGE_BUFFERING: {
        int percent = 0;
        gst_message_parse_buffering(msg, &percent);
        on_buffering(p, percent);
        break;
    }
    case GST_MESSAGE_APPLICATION: {
        const GstStructure *s = gst_message_get_structure(msg);
        guint width = 0, height = 0;
        if (s != NULL && gst_structure_has_name(s, "kino-video-caps") &&
            gst_structure_get_uint(s, "width", &width) &&
            gst_structure_get_uint(s, "height", &height)) {
            on_video_caps(p, width, height);
        } else if (s != NULL && gst_structure_has_name(s, "kino-manifest") &&
                   gst_structure_get_string(s, "text") != NULL) {
            parse_master_playlist(p, gst_structure_get_string(s, "text"));
        }
        break;
    }
    case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure(msg);
        if (s != NULL) {
            on_element_message(p, s);
        }
        break;
    }
    case GST_MESSAGE_TAG:
        on_tags(p, msg);
        break;
    case GST_MESSAGE_QOS:
        if (GST_MESSAGE_SRC(msg) == GST_OBJECT(p->video_sink)) {
            p->frames_dropped++; /* the sink dropped a frame that came too late */
        }
        break;
    case GST_MESSAGE_WARNING: {
        GError *err = NULL;
        gchar *debug = NULL;
        gst_message_parse_warning(msg, &err, &debug);
        gchar *code = g_strdup_printf("%s:%d", g_quark_to_string(err->domain), err->code);
        check(p, kino_emit_error(p->kino, code, err->message, false, position_s(p)), "error");
        printf("gst_player: warning %s: %s\n", code, err->message);
        g_free(code);
        g_free(debug);
        g_error_free(err);
        break;
    }
    case GST_MESSAGE_ERROR: {
        GError *err = NULL;
        gchar *debug = NULL;
        gst_message_parse_error(msg, &err, &debug);
        gchar *code = g_strdup_printf("%s:%d", g_quark_to_string(err->domain), err->code);
        gchar *text = g_strdup_printf("%s (%s)", err->message, debug ? debug : "no details");
        fatal_error(p, code, text);
        g_free(text);
        g_free(code);
        g_free(debug);
        g_error_free(err);
        break;
    }
    case GST_MESSAGE_EOS:
        p->reached_eos = TRUE;
        finish(p, TRUE);
        break;
    default:
        break;
    }
    return G_SOURCE_CONTINUE;
}

/* Streaming thread: count frames reaching the video sink; note new video
 * caps and hand them to the main loop. */
static GstPadProbeReturn on_sink_data(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    (void)pad;
    Player *p = data;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        g_atomic_int_inc(&p->frames_at_sink);
        return GST_PAD_PROBE_OK;
    }
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
        GstCaps *caps = NULL;
        gint width = 0, height = 0;
        gst_event_parse_caps(event, &caps);
        const GstStructure *s = gst_caps_get_structure(caps, 0);
        if (s != NULL && gst_structure_get_int(s, "width", &width) &&
            gst_structure_get_int(s, "height", &height) && width > 0 && height > 0) {
            GstStructure *note = gst_structure_new("kino-video-caps", "width", G_TYPE_UINT,
                                                   (guint)width, "height", G_TYPE_UINT,
                                                   (guint)height, NULL);
            gst_element_post_message(p->video_sink,
                                     gst_message_new_application(GST_OBJECT(p->video_sink), note));
        }
    }
    return GST_PAD_PROBE_OK;
}

/* Streaming thread: collect the playlist flowing into hlsdemux; at its end,
 * hand it to the main loop. Only the first document (the master playlist)
 * passes here: hlsdemux fetches the media playlists itself. */
static GstPadProbeReturn on_manifest_data(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    Player *p = data;
    if (p->manifest == NULL) {
        return GST_PAD_PROBE_REMOVE;
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        GstMapInfo map;
        GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
        if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
            if (p->manifest->len + map.size <= MAX_MANIFEST_BYTES) {
                g_string_append_len(p->manifest, (const gchar *)map.data, (gssize)map.size);
            }
            gst_buffer_unmap(buffer, &map);
        }
    } else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_EOS) {
        GstElement *demux = gst_pad_get_parent_element(pad);
        GstStructure *s =
            gst_structure_new("kino-manifest", "text", G_TYPE_STRING, p->manifest->str, NULL);
        g_string_free(p->manifest, TRUE);
        p->manifest = NULL;
        if (demux != NULL) {
            gst_element_post_message(demux, gst_message_new_application(GST_OBJECT(demux), s));
            gst_object_unref(demux);
        } else {
            gst_structure_free(s);
        }
        return GST_PAD_PROBE_REMOVE;
    }
    return GST_PAD_PROBE_OK;
}

/* What a demuxer output pad has seen: its segment, and whether it is video. */
typedef struct {
    GstSegment segment;
    gboolean video;
} DemuxPad;

/* Streaming thread: how far the demuxer has delivered video, in stream time. */
static GstPadProbeReturn on_demux_data(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    (void)pad;
    Player *p = data;
    DemuxPad *dp = g_object_get_data(G_OBJECT(pad), "kino-demux-pad");
    if (dp == NULL) {
        return GST_PAD_PROBE_REMOVE;
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
        GstClockTime ts = GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer)
                                                          : GST_BUFFER_DTS(buffer);
        if (dp->video && GST_CLOCK_TIME_IS_VALID(ts) && dp->segment.format == GST_FORMAT_TIME) {
            if (GST_BUFFER_DURATION_IS_VALID(buffer)) {
                ts += GST_BUFFER_DURATION(buffer);
            }
            guint64 stream_time = gst_segment_to_stream_time(&dp->segment, GST_FORMAT_TIME, ts);
            if (GST_CLOCK_TIME_IS_VALID(stream_time)) {
                g_mutex_lock(&p->lock);
                if ((gint64)stream_time > p->buffered_until) {
                    p->buffered_until = (gint64)stream_time;
                }
                g_mutex_unlock(&p->lock);
            }
        }
    } else {
        GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
        if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
            const GstSegment *segment = NULL;
            gst_event_parse_segment(event, &segment);
            gst_segment_copy_into(segment, &dp->segment);
        } else if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
            GstCaps *caps = NULL;
            gst_event_parse_caps(event, &caps);
            const GstStructure *s = gst_caps_get_structure(caps, 0);
            dp->video = s != NULL && g_str_has_prefix(gst_structure_get_name(s), "video/");
        }
    }
    return GST_PAD_PROBE_OK;
}

static void on_demux_pad_added(GstElement *demux, GstPad *pad, gpointer data) {
    (void)demux;
    if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
        return;
    }
    DemuxPad *dp = g_new0(DemuxPad, 1);
    gst_segment_init(&dp->segment, GST_FORMAT_UNDEFINED);
    g_object_set_data_full(G_OBJECT(pad), "kino-demux-pad", dp, g_free);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                      on_demux_data, data, NULL);
}

/* playbin made an element (any thread): watch the HLS demuxer's input and
 * the container demuxer's output. */
static void on_element_setup(GstElement *playbin, GstElement *element, gpointer data) {
    (void)playbin;
    Player *p = data;
    GstElementFactory *factory = gst_element_get_factory(element);
    if (factory == NULL) {
        return;
    }
    const gchar *name = gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(factory));
    const gchar *klass = gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS);
    if (strcmp(name, "hlsdemux") == 0 || strcmp(name, "hlsdemux2") == 0) {
        GstPad *sink = gst_element_get_static_pad(element, "sink");
        if (sink != NULL) {
            g_mutex_lock(&p->lock);
            if (p->manifest == NULL && p->n_variants == 0) {
                p->manifest = g_string_new(NULL);
            }
            g_mutex_unlock(&p->lock);
            gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                              on_manifest_data, p, NULL);
            gst_object_unref(sink);
        }
    } else if (klass != NULL && strstr(klass, "Demuxer") != NULL &&
               strstr(klass, "Adaptive") == NULL) {
        g_signal_connect(element, "pad-added", G_CALLBACK(on_demux_pad_added), p);
    }
}

static gboolean on_heartbeat(gpointer data) {
    Player *p = data;
    if (!p->started || p->finished) {
        return G_SOURCE_CONTINUE;
    }
    double pos = position_s(p);
    double level = buffer_level_s(p, pos);
    guint64 decoded = (guint64)g_atomic_int_get(&p->frames_at_sink);
    guint64 dropped = p->frames_dropped;
    guint64 bitrate = p->bitrate != 0 ? p->bitrate : p->tag_bitrate;
    check(p, kino_emit_heartbeat(p->kino, pos, level, bitrate, dropped, decoded), "heartbeat");
    printf("gst_player: heartbeat at %.3f s: buffered %.2f s, %llu bit/s, %llu frames (%llu dropped)\n",
           pos, level, (unsigned long long)bitrate, (unsigned long long)decoded,
           (unsigned long long)dropped);
    return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer data) {
    Player *p = data;
    p->timeout_source = 0;
    fatal_error(p, "PLAYER_TIMEOUT", "playback did not finish in time");
    return G_SOURCE_REMOVE;
}

static gboolean on_interrupt(gpointer data) {
    finish(data, FALSE); /* the viewer stopped watching */
    return G_SOURCE_CONTINUE; /* removed with the others at the end */
}

static void print_qoe(KinoEmitter *kino) {
    KinoQoeBreakdown q;
    if (kino_emitter_qoe(kino, &q) != KINO_STATUS_OK) {
        return;
    }
    printf("gst_player: qoe: started=%s score=%.1f startup=%.3f s rebuffers=%u (%.3f s) "
           "switches=%u (%u up, %u down) avg_bitrate=%llu playing=%.3f s\n",
           q.started ? "true" : "false", q.score, q.initial_buffer_time, q.rebuffer_count,
           q.rebuffer_duration, q.quality_switches, q.upshifts, q.downshifts,
           (unsigned long long)q.average_bitrate, q.playing_time);
}

int main(int argc, char **argv) {
    guint heartbeat_ms = 1000, timeout_s = 120;
    const char *uri = NULL, *beacon_url = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--heartbeat-ms") == 0 && i + 1 < argc) {
            heartbeat_ms = (guint)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--timeout-s") == 0 && i + 1 < argc) {
            timeout_s = (guint)strtoul(argv[++i], NULL, 10);
        } else if (uri == NULL) {
            uri = argv[i];
        } else {
            beacon_url = argv[i];
        }
    }
    if (uri == NULL || heartbeat_ms == 0 || timeout_s == 0) {
        fprintf(stderr, "usage: gst_player [--heartbeat-ms N] [--timeout-s N] URI [BEACON_URL]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    gst_init(NULL, NULL);

    KinoConfig *config = kino_config_new();
    if (config == NULL) {
        return 1;
    }
    KinoStatus status = KINO_STATUS_OK;
    if (beacon_url != NULL) {
        status = kino_config_set_beacon_url(config, beacon_url);
    }
    if (status == KINO_STATUS_OK) {
        status = kino_config_set_flush_interval_ms(config, 2000);
    }
    Player p;
    memset(&p, 0, sizeof p);
    p.state = KINO_PLAYER_STATE_IDLE;
    p.buffered_until = -1;
    g_mutex_init(&p.lock);
    if (status == KINO_STATUS_OK) {
        status = kino_emitter_new(config, &p.kino);
    }
    kino_config_free(config);
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "gst_player: kino: %s\n", kino_last_error_message());
        return 1;
    }
    char session[37];
    check(&p, kino_emitter_session_id(p.kino, session, sizeof session), "session_id");
    printf("gst_player: GStreamer %s, kino %s, session %s\n", gst_version_string(), kino_version(),
           session);

    /* playbin, headless: fake sinks that still render in real time */
    p.playbin = gst_element_factory_make("playbin", "player");
    p.video_sink = gst_element_factory_make("fakesink", "video-sink");
    GstElement *audio_sink = gst_element_factory_make("fakesink", "audio-sink");
    if (p.playbin == NULL || p.video_sink == NULL || audio_sink == NULL) {
        fprintf(stderr, "gst_player: playbin or fakesink missing (gstreamer1.0-plugins-base)\n");
        return 1;
    }
    g_object_set(p.video_sink, "sync", TRUE, "qos", TRUE, NULL); /* like a real video sink */
    g_object_set(audio_sink, "sync", TRUE, NULL);
    g_object_set(p.playbin, "uri", uri, "video-sink", p.video_sink, "audio-sink", audio_sink, NULL);
    GstPad *sink_pad = gst_element_get_static_pad(p.video_sink, "sink");
    gst_pad_add_probe(sink_pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                      on_sink_data, &p, NULL);
    gst_object_unref(sink_pad);
    g_signal_connect(p.playbin, "element-setup", G_CALLBACK(on_element_setup), &p);

    p.loop = g_main_loop_new(NULL, FALSE);
    GstBus *bus = gst_element_get_bus(p.playbin);
    guint bus_watch = gst_bus_add_watch(bus, on_bus, &p);
    gst_object_unref(bus);
    guint heartbeat = g_timeout_add(heartbeat_ms, on_heartbeat, &p);
    p.timeout_source = g_timeout_add_seconds(timeout_s, on_timeout, &p);
    p.sigint_source = g_unix_signal_add(SIGINT, on_interrupt, &p);
    p.sigterm_source = g_unix_signal_add(SIGTERM, on_interrupt, &p);

    /* is_live: playbin cannot tell an HLS event/live playlist before it has
     * loaded it; an application passes what it knows about its content. */
    check(&p, kino_emit_load(p.kino, uri, false), "load");
    set_kino_state(&p, KINO_PLAYER_STATE_LOADING, 0.0);
    printf("gst_player: load %s\n", uri);
    if (gst_element_set_state(p.playbin, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
        fatal_error(&p, "GST_STATE_CHANGE_FAILURE", "the pipeline refused to start");
    } else {
        g_main_loop_run(p.loop);
    }

    g_source_remove(heartbeat);
    if (p.timeout_source != 0) {
        g_source_remove(p.timeout_source);
    }
    g_source_remove(p.sigint_source);
    g_source_remove(p.sigterm_source);
    g_source_remove(bus_watch);
    gst_element_set_state(p.playbin, GST_STATE_NULL);
    gst_object_unref(p.playbin);
    g_main_loop_unref(p.loop);
    if (p.manifest != NULL) {
        g_string_free(p.manifest, TRUE);
    }
    g_mutex_clear(&p.lock);

    check(&p, kino_emitter_flush(p.kino, 10000), "flush");
    KinoStats stats;
    memset(&stats, 0, sizeof stats);
    check(&p, kino_emitter_stats(p.kino, &stats), "stats");
    print_qoe(p.kino);
    kino_emitter_free(p.kino);
    printf("gst_player: kino delivered %llu of %llu events (%llu failed, %llu dropped)\n",
           (unsigned long long)stats.delivered, (unsigned long long)stats.emitted,
           (unsigned long long)stats.failed, (unsigned long long)stats.dropped);

    gboolean ok = p.reached_eos && p.kino_failures == 0 && stats.delivered == stats.emitted;
    if (!ok) {
        fprintf(stderr, "gst_player: FAILED (%s, %d kino call(s) failed)\n",
                p.reached_eos ? "reached the end" : "stopped before the end", p.kino_failures);
    }
    return ok ? 0 : 1;
}
