/*
 * kino_gst.c: the GStreamer adapter (see kino_gst.h for the contract and
 * docs/INTEGRATION.md for the mapping rules).
 *
 * Two halves:
 *   - the watchers (bus sync-message handler, pad probes, notify signals)
 *     run on GStreamer's threads and the application's; they copy what
 *     they saw into an Item and push it onto the Shared queue;
 *   - the adapter thread pops Items in order, keeps the view's state
 *     (struct View, touched by that thread only) and makes every kino
 *     call, plus the heartbeat and stall-debounce timers.
 * Shared is reference-counted: each probe and signal handler holds a
 * reference, released by GLib/GStreamer when the hook is gone, so a
 * callback that is still running while the adapter is detached finds
 * live memory and a closed queue.
 */
#include "kino_gst.h"

#include <stdio.h>
#include <string.h>

#define MAX_VARIANTS 32
#define MAX_MANIFEST_BYTES (1024 * 1024)

/* ---- what the watchers send to the adapter thread --------------------- */

typedef enum {
    ITEM_MESSAGE,  /* a bus message (ref held) */
    ITEM_URI,      /* playbin's "uri" was set: text */
    ITEM_CAPS,     /* new video caps at the video sink: width, height */
    ITEM_SEEK,     /* a seek event left a sink: from/to in ns (-1 unknown) */
    ITEM_MANIFEST, /* the master playlist as it flowed into the HLS demuxer */
    ITEM_STOP      /* detach: the last item */
} ItemKind;

typedef struct {
    ItemKind kind;
    gint64 at_us; /* g_get_monotonic_time() when the watcher saw it */
    GstMessage *message;
    gchar *text;
    guint width, height;
    gint64 from_ns, to_ns;
} Item;

static void item_free(Item *item) {
    if (item->message != NULL) {
        gst_message_unref(item->message);
    }
    g_free(item->text);
    g_free(item);
}

static Item *item_new(ItemKind kind) {
    Item *item = g_new0(Item, 1);
    item->kind = kind;
    item->at_us = g_get_monotonic_time();
    item->from_ns = item->to_ns = -1;
    return item;
}

/* ---- state shared between the watchers and the adapter thread --------- */

/* A probe or signal handler to remove at detach. */
typedef struct {
    GWeakRef object; /* the pad (probe) or the instance (signal) */
    gulong id;
    gboolean is_probe;
} Hook;

typedef struct {
    gint refs;
    GMutex lock;
    GCond cond;
    GQueue queue;     /* of Item*, under lock */
    gboolean no_hooks; /* detaching: no new probes or handlers */
    gboolean closed;   /* detached: watchers push nothing more */
    GstElement *playbin; /* borrowed: the adapter holds the reference */
    GSList *hooks;    /* of Hook*, under lock */
    /* Identities only, never dereferenced here (under lock): */
    gpointer video_sink_wanted, audio_sink_wanted; /* playbin's properties */
    gpointer video_sink, audio_sink;                /* found and probed */
    gint64 buffered_until; /* video stream time out of the demuxer, ns; -1 none (under lock) */
    guint32 last_seek_seqnum;
    gint frames; /* buffers that reached the video sink (atomic) */
} Shared;

static Shared *shared_ref(Shared *s) {
    g_atomic_int_inc(&s->refs);
    return s;
}

static void shared_unref(gpointer data) {
    Shared *s = data;
    if (!g_atomic_int_dec_and_test(&s->refs)) {
        return;
    }
    Item *item;
    while ((item = g_queue_pop_head(&s->queue)) != NULL) {
        item_free(item);
    }
    /* s->hooks was emptied by kino_gst_detach (or never filled). */
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_free(s);
}

static void shared_unref_closure(gpointer data, GClosure *closure) {
    (void)closure;
    shared_unref(data);
}

/* Queues an item for the adapter thread; dropped once detached. */
static void push(Shared *s, Item *item) {
    g_mutex_lock(&s->lock);
    if (s->closed) {
        g_mutex_unlock(&s->lock);
        item_free(item);
        return;
    }
    g_queue_push_tail(&s->queue, item);
    g_cond_signal(&s->cond);
    g_mutex_unlock(&s->lock);
}

static void remember_hook(Shared *s, gpointer object, gulong id, gboolean is_probe) {
    Hook *hook = g_new0(Hook, 1);
    g_weak_ref_init(&hook->object, object);
    hook->id = id;
    hook->is_probe = is_probe;
    s->hooks = g_slist_prepend(s->hooks, hook); /* caller holds lock */
}

/* ---- the view, as the adapter thread sees it -------------------------- */

typedef struct {
    guint64 bandwidth;
    guint width, height;
} Variant;

typedef struct {
    gboolean loaded;       /* a load was emitted and its view is open */
    gboolean started;      /* first PLAYING reached: play emitted */
    gboolean ended;        /* end or fatal error emitted */
    gboolean user_paused;  /* pause emitted, play not yet */
    gboolean seeking;      /* seek emitted, not completed */
    gboolean buffering;    /* the last BUFFERING was below 100 % */
    gboolean stall_pending; /* a dip began; not reported yet (debounce) */
    gboolean stalled;      /* rebuffer emitted, rebuffer_end not yet */
    gint64 stall_begin_us;
    double stall_position, stall_level;
    GstState gst_state;    /* playbin's current state */
    KinoPlayerState state; /* the last state reported to kino */
    double last_position;  /* the last position the engine knew */
    guint width, height;   /* the rendition on screen */
    guint64 bitrate;
    guint64 variant_bitrate; /* the BANDWIDTH hlsdemux last switched to */
    gboolean variant_pending;
    guint64 tag_bitrate;
    guint64 dropped;       /* QoS messages from the video sink */
    Variant variants[MAX_VARIANTS];
    int n_variants;
    gint64 playing_since_us;
    double watched_s;
} View;

struct KinoGstAdapter {
    GstElement *playbin; /* ref */
    GstBus *bus;         /* ref */
    KinoEmitter *kino;
    KinoGstOptions options;
    Shared *shared;
    GThread *thread;
    View view; /* adapter thread only */
    gint64 next_heartbeat_us;
};

void kino_gst_options_init(KinoGstOptions *options) {
    if (options == NULL) {
        return;
    }
    memset(options, 0, sizeof *options);
    options->heartbeat_interval_ms = 10000;
    options->stall_debounce_ms = 200;
    options->is_live = false;
}

/* A failed kino call is logged, never fatal: playback does not depend on it. */
static void check(KinoStatus status, const char *what) {
    if (status != KINO_STATUS_OK) {
        GST_WARNING("kino-gst: kino_emit_%s: %s: %s", what, kino_status_str(status),
                    kino_last_error_message());
    }
}

/* The media position in seconds; the last known one while the engine
 * answers -1 or nothing (before preroll, during a flush). */
static double position_s(KinoGstAdapter *a) {
    gint64 pos = -1;
    if (gst_element_query_position(a->playbin, GST_FORMAT_TIME, &pos) && pos >= 0) {
        a->view.last_position = (double)pos / GST_SECOND;
    }
    return a->view.last_position;
}

static double buffer_level_s(KinoGstAdapter *a, double position) {
    g_mutex_lock(&a->shared->lock);
    gint64 until = a->shared->buffered_until;
    g_mutex_unlock(&a->shared->lock);
    double level = until < 0 ? 0.0 : (double)until / GST_SECOND - position;
    return level > 0.0 ? level : 0.0;
}

static void playing_clock(View *v, gboolean playing, gint64 now_us) {
    if (v->playing_since_us != 0) {
        v->watched_s += (double)(now_us - v->playing_since_us) / G_USEC_PER_SEC;
        v->playing_since_us = 0;
    }
    if (playing) {
        v->playing_since_us = now_us;
    }
}

static void set_state(KinoGstAdapter *a, KinoPlayerState to, double position) {
    if (a->view.state != to) {
        check(kino_emit_state_change(a->kino, a->view.state, to, position), "state_change");
        a->view.state = to;
    }
}

static gboolean view_open(const View *v) {
    return v->loaded && !v->ended;
}

/* ---- the mapping ------------------------------------------------------- */

static void emit_load(KinoGstAdapter *a, const char *uri) {
    View *v = &a->view;
    KinoPlayerState previous = v->state;
    memset(v, 0, sizeof *v);
    v->state = previous;
    v->gst_state = GST_STATE_NULL;
    GstState current = GST_STATE_NULL;
    gst_element_get_state(a->playbin, &current, NULL, 0);
    v->gst_state = current;
    g_mutex_lock(&a->shared->lock);
    a->shared->buffered_until = -1;
    g_mutex_unlock(&a->shared->lock);
    check(kino_emit_load(a->kino, uri, a->options.is_live), "load");
    v->loaded = TRUE;
    set_state(a, KINO_PLAYER_STATE_LOADING, 0.0);
    if (current == GST_STATE_PLAYING) {
        /* attached to a pipeline that already plays: it is on screen now */
        double pos = position_s(a);
        v->started = TRUE;
        check(kino_emit_play(a->kino, pos), "play");
        set_state(a, KINO_PLAYER_STATE_PLAYING, pos);
        playing_clock(v, TRUE, g_get_monotonic_time());
    }
}

/* The stall (reported or still pending) is over: frames flow again. */
static void end_stall(KinoGstAdapter *a, gint64 now_us) {
    View *v = &a->view;
    double pos = position_s(a);
    if (v->stalled) {
        double measured = (double)(now_us - v->stall_begin_us) / G_USEC_PER_SEC;
        check(kino_emit_rebuffer_end(a->kino, pos, measured > 0.0 ? measured : 0.0),
              "rebuffer_end");
    }
    v->stalled = FALSE;
    v->stall_pending = FALSE;
    set_state(a, KINO_PLAYER_STATE_PLAYING, pos);
    playing_clock(v, TRUE, now_us);
}

/* The debounce is over and the dip is still on: it is a stall. */
static void report_stall(KinoGstAdapter *a) {
    View *v = &a->view;
    v->stall_pending = FALSE;
    v->stalled = TRUE;
    check(kino_emit_rebuffer(a->kino, v->stall_position, v->stall_level), "rebuffer");
}

static void close_view(KinoGstAdapter *a, gint64 now_us) {
    View *v = &a->view;
    playing_clock(v, FALSE, now_us);
    v->ended = TRUE;
    v->stall_pending = v->stalled = FALSE;
}

static void on_state_changed(KinoGstAdapter *a, GstState old_state, GstState new_state,
                             GstState pending, gint64 at_us) {
    View *v = &a->view;
    v->gst_state = new_state;
    if (!v->loaded) {
        return;
    }
    if (v->ended) {
        /* The application plays the same URI again after an end: a new view. */
        if (old_state == GST_STATE_READY && new_state == GST_STATE_PAUSED) {
            gchar *uri = NULL;
            g_object_get(a->playbin, "uri", &uri, NULL);
            if (uri != NULL) {
                emit_load(a, uri);
                v->gst_state = new_state;
            }
            g_free(uri);
        }
        return;
    }
    if (new_state == GST_STATE_PLAYING) {
        double pos = position_s(a);
        if (!v->started) {
            v->started = TRUE;
            check(kino_emit_play(a->kino, pos), "play");
            set_state(a, KINO_PLAYER_STATE_PLAYING, pos);
            playing_clock(v, TRUE, at_us);
        } else if (v->seeking || v->user_paused) {
            /* The first frame after a seek or a user pause. */
            v->seeking = FALSE;
            v->user_paused = FALSE;
            v->stall_pending = v->stalled = FALSE;
            check(kino_emit_play(a->kino, pos), "play");
            set_state(a, KINO_PLAYER_STATE_PLAYING, pos);
            playing_clock(v, TRUE, at_us);
        } else if (v->stall_pending || v->stalled) {
            if (!v->buffering) {
                end_stall(a, at_us);
            }
        } else {
            set_state(a, KINO_PLAYER_STATE_PLAYING, pos);
            playing_clock(v, TRUE, at_us);
        }
    } else if (old_state == GST_STATE_PLAYING && new_state == GST_STATE_PAUSED) {
        if (pending == GST_STATE_PLAYING || pending == GST_STATE_READY ||
            pending == GST_STATE_NULL) {
            /* Lost state (a flushing seek) or on the way down: not a pause. */
            return;
        }
        if (v->buffering || v->seeking || v->stall_pending || v->stalled || !v->started) {
            return; /* the engine's pause, for buffering or a seek */
        }
        double pos = position_s(a);
        v->user_paused = TRUE;
        playing_clock(v, FALSE, at_us);
        check(kino_emit_pause(a->kino, pos), "pause");
        set_state(a, KINO_PLAYER_STATE_PAUSED, pos);
    } else if (new_state <= GST_STATE_READY && old_state >= GST_STATE_PAUSED) {
        /* The application stopped the pipeline: the viewer stopped watching. */
        double pos = v->last_position;
        if (v->stalled) {
            end_stall(a, at_us);
        }
        close_view(a, at_us);
        check(kino_emit_end(a->kino, pos, v->watched_s), "end");
    }
}

static void on_buffering(KinoGstAdapter *a, int percent, gint64 at_us) {
    View *v = &a->view;
    if (percent < 100) {
        if (v->buffering) {
            return;
        }
        v->buffering = TRUE;
        if (!v->started || !view_open(v) || v->seeking || v->user_paused || v->stalled ||
            v->stall_pending) {
            return; /* startup, a seek or a pause: not a stall */
        }
        double pos = position_s(a);
        v->stall_pending = TRUE;
        v->stall_begin_us = at_us;
        v->stall_position = pos;
        v->stall_level = buffer_level_s(a, pos);
        playing_clock(v, FALSE, at_us);
        set_state(a, KINO_PLAYER_STATE_BUFFERING, pos);
        if (a->options.stall_debounce_ms == 0) {
            report_stall(a);
        }
    } else if (v->buffering) {
        v->buffering = FALSE;
        if ((v->stall_pending || v->stalled) && v->gst_state == GST_STATE_PLAYING) {
            end_stall(a, at_us); /* the application did not pause: flowing again now */
        }
        /* Otherwise the stall ends when the application returns to PLAYING. */
    }
}

static void on_seek(KinoGstAdapter *a, gint64 from_ns, gint64 to_ns, gint64 at_us) {
    View *v = &a->view;
    if (!view_open(v)) {
        return;
    }
    double from = from_ns >= 0 ? (double)from_ns / GST_SECOND : v->last_position;
    double to = to_ns >= 0 ? (double)to_ns / GST_SECOND : from;
    playing_clock(v, FALSE, at_us);
    v->stall_pending = v->stalled = FALSE; /* a seek ends a stall */
    v->seeking = TRUE;
    v->last_position = to;
    check(kino_emit_seek(a->kino, from, to), "seek");
    set_state(a, KINO_PLAYER_STATE_SEEKING, from);
}

/* The BANDWIDTH of the variant with this resolution; the one hlsdemux last
 * switched to wins when several share it. 0 if the playlist does not say. */
static guint64 variant_bandwidth(const View *v, guint width, guint height) {
    guint64 found = 0;
    for (int i = 0; i < v->n_variants; i++) {
        const Variant *var = &v->variants[i];
        if (var->width == width && var->height == height) {
            if (v->variant_pending && var->bandwidth == v->variant_bitrate) {
                return var->bandwidth;
            }
            if (found == 0) {
                found = var->bandwidth;
            }
        }
    }
    return found;
}

static void on_video_caps(KinoGstAdapter *a, guint width, guint height) {
    View *v = &a->view;
    if (!view_open(v) || (width == v->width && height == v->height)) {
        return;
    }
    guint64 to_bitrate = variant_bandwidth(v, width, height);
    if (to_bitrate == 0) {
        to_bitrate = v->variant_pending ? v->variant_bitrate : v->tag_bitrate;
    }
    KinoResolution from = {v->width, v->height};
    KinoResolution to = {width, height};
    gboolean initial = v->width == 0;
    check(kino_emit_quality_change(a->kino, initial ? 0 : v->bitrate, to_bitrate,
                                   initial ? NULL : &from, &to,
                                   initial ? KINO_QUALITY_CHANGE_REASON_INITIAL
                                           : KINO_QUALITY_CHANGE_REASON_ABR),
          "quality_change");
    v->width = width;
    v->height = height;
    v->bitrate = to_bitrate;
    if (to_bitrate == v->variant_bitrate) {
        v->variant_pending = FALSE; /* the announced switch is on screen */
    }
}

/* Reads BANDWIDTH and RESOLUTION of each #EXT-X-STREAM-INF. */
static void parse_master_playlist(View *v, const char *text) {
    v->n_variants = 0;
    gchar **lines = g_strsplit(text, "\n", -1);
    for (gchar **line = lines; *line != NULL && v->n_variants < MAX_VARIANTS; line++) {
        if (!g_str_has_prefix(*line, "#EXT-X-STREAM-INF:")) {
            continue;
        }
        Variant var = {0, 0, 0};
        const char *attr = *line + strlen("#EXT-X-STREAM-INF:");
        while (*attr != '\0') {
            const char *eq = strchr(attr, '=');
            if (eq == NULL) {
                break;
            }
            const char *value = eq + 1;
            const char *end = value;
            if (*end == '"') {
                end = strchr(end + 1, '"');
                end = end != NULL ? end + 1 : value + strlen(value);
            }
            while (*end != '\0' && *end != ',') {
                end++;
            }
            gsize name_len = (gsize)(eq - attr);
            if (name_len == 9 && strncmp(attr, "BANDWIDTH", 9) == 0) {
                var.bandwidth = g_ascii_strtoull(value, NULL, 10);
            } else if (name_len == 10 && strncmp(attr, "RESOLUTION", 10) == 0) {
                if (sscanf(value, "%ux%u", &var.width, &var.height) != 2) {
                    var.width = var.height = 0;
                }
            }
            attr = *end == ',' ? end + 1 : end;
        }
        if (var.bandwidth > 0) {
            v->variants[v->n_variants++] = var;
        }
    }
    g_strfreev(lines);
}

static gchar *error_code(const GError *err) {
    return g_strdup_printf("%s:%d", g_quark_to_string(err->domain), err->code);
}

static void on_message(KinoGstAdapter *a, GstMessage *msg, gint64 at_us) {
    View *v = &a->view;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_STATE_CHANGED: {
        GstState old_state, new_state, pending;
        gst_message_parse_state_changed(msg, &old_state, &new_state, &pending);
        on_state_changed(a, old_state, new_state, pending, at_us);
        break;
    }
    case GST_MESSAGE_BUFFERING: {
        int percent = 0;
        gst_message_parse_buffering(msg, &percent);
        on_buffering(a, percent, at_us);
        break;
    }
    case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure(msg);
        int bitrate = 0;
        if (s != NULL && gst_structure_has_name(s, "adaptive-streaming-statistics") &&
            gst_structure_get_int(s, "bitrate", &bitrate) && bitrate > 0) {
            v->variant_bitrate = (guint64)bitrate;
            v->variant_pending = TRUE;
        }
        break;
    }
    case GST_MESSAGE_TAG: {
        GstTagList *tags = NULL;
        guint bitrate = 0;
        gst_message_parse_tag(msg, &tags);
        if ((gst_tag_list_get_uint(tags, GST_TAG_NOMINAL_BITRATE, &bitrate) ||
             gst_tag_list_get_uint(tags, GST_TAG_BITRATE, &bitrate)) &&
            bitrate > 0) {
            v->tag_bitrate = bitrate;
        }
        gst_tag_list_unref(tags);
        break;
    }
    case GST_MESSAGE_QOS:
        v->dropped++; /* the video sink dropped a frame that came too late */
        break;
    case GST_MESSAGE_WARNING:
    case GST_MESSAGE_ERROR: {
        gboolean fatal = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR;
        GError *err = NULL;
        gchar *debug = NULL;
        if (fatal) {
            gst_message_parse_error(msg, &err, &debug);
        } else {
            gst_message_parse_warning(msg, &err, &debug);
        }
        if (fatal && v->ended) {
            /* one fatal error per view: the first one closed it */
        } else {
            gchar *code = error_code(err);
            gchar *text = debug != NULL ? g_strdup_printf("%s (%s)", err->message, debug)
                                        : g_strdup(err->message);
            double pos = position_s(a);
            if (fatal && view_open(v)) {
                set_state(a, KINO_PLAYER_STATE_ERROR, pos);
                close_view(a, at_us);
            }
            check(kino_emit_error(a->kino, code, text, fatal, pos), "error");
            g_free(text);
            g_free(code);
        }
        g_free(debug);
        g_error_free(err);
        break;
    }
    case GST_MESSAGE_EOS:
        if (view_open(v)) {
            double pos = position_s(a);
            if (v->stalled || v->stall_pending) {
                end_stall(a, at_us);
            }
            close_view(a, at_us);
            set_state(a, KINO_PLAYER_STATE_ENDED, pos);
            check(kino_emit_end(a->kino, pos, v->watched_s), "end");
        }
        break;
    default:
        break;
    }
}

static void handle(KinoGstAdapter *a, Item *item) {
    switch (item->kind) {
    case ITEM_MESSAGE:
        on_message(a, item->message, item->at_us);
        break;
    case ITEM_URI:
        emit_load(a, item->text);
        break;
    case ITEM_CAPS:
        on_video_caps(a, item->width, item->height);
        break;
    case ITEM_SEEK:
        on_seek(a, item->from_ns, item->to_ns, item->at_us);
        break;
    case ITEM_MANIFEST:
        parse_master_playlist(&a->view, item->text);
        break;
    case ITEM_STOP:
        break;
    }
}

static void on_timers(KinoGstAdapter *a, gint64 now_us) {
    View *v = &a->view;
    if (v->stall_pending &&
        now_us >= v->stall_begin_us + (gint64)a->options.stall_debounce_ms * 1000) {
        report_stall(a);
    }
    if (a->options.heartbeat_interval_ms > 0 && now_us >= a->next_heartbeat_us) {
        a->next_heartbeat_us = now_us + (gint64)a->options.heartbeat_interval_ms * 1000;
        if (v->started && view_open(v)) {
            double pos = position_s(a);
            guint64 decoded = (guint64)g_atomic_int_get(&a->shared->frames);
            guint64 bitrate = v->bitrate != 0 ? v->bitrate : v->tag_bitrate;
            check(kino_emit_heartbeat(a->kino, pos, buffer_level_s(a, pos), bitrate, v->dropped,
                                      decoded),
                  "heartbeat");
        }
    }
}

static gint64 next_deadline(const KinoGstAdapter *a) {
    gint64 deadline = G_MAXINT64;
    if (a->options.heartbeat_interval_ms > 0) {
        deadline = a->next_heartbeat_us;
    }
    if (a->view.stall_pending) {
        gint64 d = a->view.stall_begin_us + (gint64)a->options.stall_debounce_ms * 1000;
        deadline = MIN(deadline, d);
    }
    return deadline;
}

static gpointer adapter_thread(gpointer data) {
    KinoGstAdapter *a = data;
    Shared *s = a->shared;
    a->next_heartbeat_us = g_get_monotonic_time() + (gint64)a->options.heartbeat_interval_ms * 1000;
    for (;;) {
        gint64 deadline = next_deadline(a);
        g_mutex_lock(&s->lock);
        while (g_queue_is_empty(&s->queue)) {
            if (deadline == G_MAXINT64) {
                g_cond_wait(&s->cond, &s->lock);
            } else if (!g_cond_wait_until(&s->cond, &s->lock, deadline)) {
                break;
            }
        }
        Item *item = g_queue_pop_head(&s->queue);
        g_mutex_unlock(&s->lock);
        if (item == NULL) {
            on_timers(a, g_get_monotonic_time());
            continue;
        }
        gboolean stop = item->kind == ITEM_STOP;
        /* A timer due before this item fires first, at its own time. */
        if (a->view.stall_pending &&
            item->at_us >= a->view.stall_begin_us + (gint64)a->options.stall_debounce_ms * 1000) {
            report_stall(a);
        }
        handle(a, item);
        item_free(item);
        if (stop) {
            return NULL;
        }
    }
}

/* ---- the watchers (any thread) ---------------------------------------- */

/* A bus message as it is posted, on the posting thread. */
static void on_sync_message(GstBus *bus, GstMessage *msg, gpointer data) {
    (void)bus;
    Shared *s = data;
    GstObject *src = GST_MESSAGE_SRC(msg);
    gboolean wanted = FALSE;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_STATE_CHANGED:
        wanted = src == GST_OBJECT(s->playbin);
        break;
    case GST_MESSAGE_BUFFERING:
    case GST_MESSAGE_EOS:
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING:
        wanted = TRUE;
        break;
    case GST_MESSAGE_ELEMENT:
        wanted = gst_message_has_name(msg, "adaptive-streaming-statistics");
        break;
    case GST_MESSAGE_TAG:
    case GST_MESSAGE_QOS:
        g_mutex_lock(&s->lock);
        wanted = s->video_sink != NULL && (gpointer)src == s->video_sink;
        g_mutex_unlock(&s->lock);
        break;
    default:
        break;
    }
    if (wanted) {
        Item *item = item_new(ITEM_MESSAGE);
        item->message = gst_message_ref(msg);
        push(s, item);
    }
}

/* Video sink pad: frames, caps (downstream) and seeks (upstream). */
static GstPadProbeReturn on_sink_pad(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    (void)pad;
    Shared *s = data;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        g_atomic_int_inc(&s->frames);
        return GST_PAD_PROBE_OK;
    }
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
        GstCaps *caps = NULL;
        gint width = 0, height = 0;
        gst_event_parse_caps(event, &caps);
        const GstStructure *st = gst_caps_get_structure(caps, 0);
        if (st != NULL && gst_structure_get_int(st, "width", &width) &&
            gst_structure_get_int(st, "height", &height) && width > 0 && height > 0) {
            Item *item = item_new(ITEM_CAPS);
            item->width = (guint)width;
            item->height = (guint)height;
            push(s, item);
        }
    } else if (GST_EVENT_TYPE(event) == GST_EVENT_SEEK) {
        /* Runs on the thread that asked for the seek, before it is done:
         * the position here is still the one being left. */
        guint32 seqnum = gst_event_get_seqnum(event);
        g_mutex_lock(&s->lock);
        gboolean seen = seqnum == s->last_seek_seqnum; /* one event per sink */
        s->last_seek_seqnum = seqnum;
        g_mutex_unlock(&s->lock);
        GstFormat format;
        GstSeekType start_type, stop_type;
        gint64 start = -1, stop;
        gdouble rate;
        GstSeekFlags flags;
        gst_event_parse_seek(event, &rate, &format, &flags, &start_type, &start, &stop_type,
                             &stop);
        if (!seen) {
            Item *item = item_new(ITEM_SEEK);
            gint64 pos = -1;
            if (gst_element_query_position(s->playbin, GST_FORMAT_TIME, &pos) && pos >= 0) {
                item->from_ns = pos;
            }
            if (format == GST_FORMAT_TIME && start_type == GST_SEEK_TYPE_SET && start >= 0) {
                item->to_ns = start;
            }
            push(s, item);
        }
    }
    return GST_PAD_PROBE_OK;
}

/* The HLS demuxer's input: the master playlist, collected on the pad
 * (its streaming thread only) and handed over at its EOS. */
static GstPadProbeReturn on_manifest_pad(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    Shared *s = data;
    GString *text = g_object_get_data(G_OBJECT(pad), "kino-gst-manifest");
    if (text == NULL) {
        return GST_PAD_PROBE_OK; /* handed over already */
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        GstMapInfo map;
        GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
        if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
            if (text->len + map.size <= MAX_MANIFEST_BYTES) {
                g_string_append_len(text, (const gchar *)map.data, (gssize)map.size);
            }
            gst_buffer_unmap(buffer, &map);
        }
    } else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_EOS) {
        Item *item = item_new(ITEM_MANIFEST);
        item->text = g_strdup(text->str);
        push(s, item);
        g_object_set_data(G_OBJECT(pad), "kino-gst-manifest", NULL); /* frees it */
    }
    return GST_PAD_PROBE_OK;
}

static void free_manifest(gpointer text) {
    g_string_free(text, TRUE);
}

/* What one demuxer output pad has seen. */
typedef struct {
    GstSegment segment;
    gboolean video;
} DemuxPad;

/* A container demuxer's output: how far video has been handed on. */
static GstPadProbeReturn on_demux_pad(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    Shared *s = data;
    DemuxPad *dp = g_object_get_data(G_OBJECT(pad), "kino-gst-demux-pad");
    if (dp == NULL) {
        return GST_PAD_PROBE_OK;
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
        GstClockTime ts =
            GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer) : GST_BUFFER_DTS(buffer);
        if (dp->video && GST_CLOCK_TIME_IS_VALID(ts) && dp->segment.format == GST_FORMAT_TIME) {
            if (GST_BUFFER_DURATION_IS_VALID(buffer)) {
                ts += GST_BUFFER_DURATION(buffer);
            }
            guint64 stream_time = gst_segment_to_stream_time(&dp->segment, GST_FORMAT_TIME, ts);
            if (GST_CLOCK_TIME_IS_VALID(stream_time)) {
                g_mutex_lock(&s->lock);
                s->buffered_until = (gint64)stream_time; /* the latest: seeks go back too */
                g_mutex_unlock(&s->lock);
            }
        }
        return GST_PAD_PROBE_OK;
    }
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
        const GstSegment *segment = NULL;
        gst_event_parse_segment(event, &segment);
        gst_segment_copy_into(segment, &dp->segment);
    } else if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
        GstCaps *caps = NULL;
        gst_event_parse_caps(event, &caps);
        const GstStructure *st = gst_caps_get_structure(caps, 0);
        dp->video = st != NULL && g_str_has_prefix(gst_structure_get_name(st), "video/");
    }
    return GST_PAD_PROBE_OK;
}

/* Adds a probe that holds a reference on Shared, and remembers it. */
static void add_probe(Shared *s, GstPad *pad, GstPadProbeType mask, GstPadProbeCallback cb) {
    g_mutex_lock(&s->lock);
    if (!s->no_hooks) {
        gulong id = gst_pad_add_probe(pad, mask, cb, shared_ref(s), shared_unref);
        if (id != 0) {
            remember_hook(s, pad, id, TRUE);
        }
    }
    g_mutex_unlock(&s->lock);
}

static void on_demux_pad_added(GstElement *demux, GstPad *pad, gpointer data) {
    (void)demux;
    if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
        return;
    }
    DemuxPad *dp = g_new0(DemuxPad, 1);
    gst_segment_init(&dp->segment, GST_FORMAT_UNDEFINED);
    g_object_set_data_full(G_OBJECT(pad), "kino-gst-demux-pad", dp, g_free);
    add_probe(data, pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
              on_demux_pad);
}

static void probe_sink(Shared *s, GstElement *sink, gboolean video) {
    GstPad *pad = gst_element_get_static_pad(sink, "sink");
    if (pad == NULL) {
        return;
    }
    GstPadProbeType mask = GST_PAD_PROBE_TYPE_EVENT_UPSTREAM;
    if (video) {
        mask |= GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM;
    }
    add_probe(s, pad, mask, on_sink_pad);
    gst_object_unref(pad);
}

/* An element appeared anywhere inside playbin (any thread): probe the
 * sinks, the HLS demuxer's input and the container demuxer's output. */
static void watch_element(Shared *s, GstElement *element) {
    GstElementFactory *factory = gst_element_get_factory(element);
    const gchar *klass =
        factory != NULL ? gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS)
                        : NULL;
    if (klass == NULL) {
        klass = "";
    }
    gboolean is_sink = GST_OBJECT_FLAG_IS_SET(element, GST_ELEMENT_FLAG_SINK);
    g_mutex_lock(&s->lock);
    gboolean video = s->video_sink == NULL &&
                     ((gpointer)element == s->video_sink_wanted ||
                      (s->video_sink_wanted == NULL && is_sink && strstr(klass, "Video") != NULL));
    gboolean audio = !video && s->audio_sink == NULL &&
                     ((gpointer)element == s->audio_sink_wanted ||
                      (s->audio_sink_wanted == NULL && is_sink && strstr(klass, "Audio") != NULL));
    if (video) {
        s->video_sink = element;
    }
    if (audio) {
        s->audio_sink = element;
    }
    gboolean adaptive = strstr(klass, "Demuxer") != NULL && strstr(klass, "Adaptive") != NULL;
    gboolean container =
        strstr(klass, "Demuxer") != NULL && strstr(klass, "Adaptive") == NULL && !s->no_hooks;
    if (container) {
        gulong id = g_signal_connect_data(element, "pad-added", G_CALLBACK(on_demux_pad_added),
                                          shared_ref(s), shared_unref_closure, 0);
        remember_hook(s, element, id, FALSE);
    }
    g_mutex_unlock(&s->lock);
    if (video || audio) {
        probe_sink(s, element, video);
    }
    if (adaptive) {
        GstPad *pad = gst_element_get_static_pad(element, "sink");
        if (pad != NULL) {
            g_object_set_data_full(G_OBJECT(pad), "kino-gst-manifest", g_string_new(NULL),
                                   free_manifest);
            add_probe(s, pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                      on_manifest_pad);
            gst_object_unref(pad);
        }
    }
}

static void on_deep_element_added(GstBin *bin, GstBin *sub_bin, GstElement *element,
                                  gpointer data) {
    (void)bin;
    (void)sub_bin;
    watch_element(data, element);
}

/* The sinks the application gave playbin: known by identity. */
static void read_sink_properties(Shared *s) {
    GstElement *video = NULL, *audio = NULL;
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(s->playbin), "video-sink") != NULL) {
        g_object_get(s->playbin, "video-sink", &video, "audio-sink", &audio, NULL);
    }
    g_mutex_lock(&s->lock);
    s->video_sink_wanted = video;
    s->audio_sink_wanted = audio;
    g_mutex_unlock(&s->lock);
    if (video != NULL) {
        gst_object_unref(video);
    }
    if (audio != NULL) {
        gst_object_unref(audio);
    }
}

static void on_sink_property(GObject *playbin, GParamSpec *pspec, gpointer data) {
    (void)playbin;
    (void)pspec;
    read_sink_properties(data);
}

/* A URI was set (pspec NULL: at attach, when playbin's "uri", the next
 * one, is already cleared once it plays; "current-uri" has it then). */
static void on_uri(GObject *playbin, GParamSpec *pspec, gpointer data) {
    gchar *uri = NULL;
    if (pspec == NULL &&
        g_object_class_find_property(G_OBJECT_GET_CLASS(playbin), "current-uri") != NULL) {
        g_object_get(playbin, "current-uri", &uri, NULL);
    }
    if (uri == NULL) {
        g_object_get(playbin, "uri", &uri, NULL);
    }
    if (uri != NULL) {
        Item *item = item_new(ITEM_URI);
        item->text = uri;
        push(data, item);
    }
}

static void watch_signal(Shared *s, gpointer instance, const char *signal, GCallback cb) {
    gulong id = g_signal_connect_data(instance, signal, cb, shared_ref(s), shared_unref_closure, 0);
    g_mutex_lock(&s->lock);
    remember_hook(s, instance, id, FALSE);
    g_mutex_unlock(&s->lock);
}

/* ---- attach / detach --------------------------------------------------- */

KinoGstAdapter *kino_gst_attach(GstElement *playbin, KinoEmitter *emitter,
                                const KinoGstOptions *options) {
    if (playbin == NULL || emitter == NULL || !GST_IS_PIPELINE(playbin)) {
        return NULL;
    }
    KinoGstAdapter *a = g_new0(KinoGstAdapter, 1);
    if (options != NULL) {
        a->options = *options;
    } else {
        kino_gst_options_init(&a->options);
    }
    a->playbin = gst_object_ref(playbin);
    a->bus = gst_element_get_bus(playbin);
    a->kino = emitter;
    a->view.state = KINO_PLAYER_STATE_IDLE;
    Shared *s = g_new0(Shared, 1);
    s->refs = 1;
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    g_queue_init(&s->queue);
    s->playbin = playbin;
    s->buffered_until = -1;
    a->shared = s;

    a->thread = g_thread_try_new("kino-gst", adapter_thread, a, NULL);
    if (a->thread == NULL) {
        gst_object_unref(a->bus);
        gst_object_unref(a->playbin);
        shared_unref(s);
        g_free(a);
        return NULL;
    }
    read_sink_properties(s);
    gst_bus_enable_sync_message_emission(a->bus);
    watch_signal(s, a->bus, "sync-message", G_CALLBACK(on_sync_message));
    watch_signal(s, playbin, "deep-element-added", G_CALLBACK(on_deep_element_added));
    watch_signal(s, playbin, "notify::video-sink", G_CALLBACK(on_sink_property));
    watch_signal(s, playbin, "notify::audio-sink", G_CALLBACK(on_sink_property));
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(playbin), "uri") != NULL) {
        watch_signal(s, playbin, "notify::uri", G_CALLBACK(on_uri));
        on_uri(G_OBJECT(playbin), NULL, s); /* a URI set before attach */
    }
    /* Elements made before attach. */
    GstIterator *it = gst_bin_iterate_recurse(GST_BIN(playbin));
    GValue value = G_VALUE_INIT;
    while (gst_iterator_next(it, &value) == GST_ITERATOR_OK) {
        watch_element(s, g_value_get_object(&value));
        g_value_reset(&value);
    }
    g_value_unset(&value);
    gst_iterator_free(it);
    return a;
}

void kino_gst_detach(KinoGstAdapter *adapter) {
    if (adapter == NULL) {
        return;
    }
    Shared *s = adapter->shared;
    /* 1. No new hooks. */
    g_mutex_lock(&s->lock);
    s->no_hooks = TRUE;
    GSList *hooks = s->hooks;
    s->hooks = NULL;
    g_mutex_unlock(&s->lock);
    /* 2. Remove every hook whose object is still alive. */
    for (GSList *l = hooks; l != NULL; l = l->next) {
        Hook *hook = l->data;
        GObject *object = g_weak_ref_get(&hook->object);
        if (object != NULL) {
            if (hook->is_probe) {
                gst_pad_remove_probe(GST_PAD(object), hook->id);
            } else if (g_signal_handler_is_connected(object, hook->id)) {
                g_signal_handler_disconnect(object, hook->id);
            }
            g_object_unref(object);
        }
        g_weak_ref_clear(&hook->object);
    }
    g_slist_free_full(hooks, g_free);
    gst_bus_disable_sync_message_emission(adapter->bus);
    /* 3. No new items: the thread handles what was queued, then stops. */
    g_mutex_lock(&s->lock);
    s->closed = TRUE;
    g_queue_push_tail(&s->queue, item_new(ITEM_STOP));
    g_cond_signal(&s->cond);
    g_mutex_unlock(&s->lock);
    g_thread_join(adapter->thread);
    /* 4. kino is not called again. */
    gst_object_unref(adapter->bus);
    gst_object_unref(adapter->playbin);
    shared_unref(s);
    g_free(adapter);
}
