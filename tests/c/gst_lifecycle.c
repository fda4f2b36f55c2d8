/*
 * Lifetimes of the GStreamer adapter, run by tests/gst_adapter.rs under
 * AddressSanitizer (use after free, leaks at exit):
 *
 *   gst_lifecycle URL
 *
 *   1. every public function with NULL;
 *   2. attach, play past 2 s, detach while playing; then seek, pause and
 *      play on: kino's `emitted` must not move (no callback after detach);
 *   3. attach again to the same pipeline (its load comes at once), detach,
 *      free the emitter, and go on playing the pipeline (nothing may touch
 *      the freed emitter);
 *   4. a pipeline whose last application reference is dropped before
 *      detach (the adapter's own reference keeps it alive until then);
 *   5. the stall debounce both ways, with BUFFERING messages posted on the
 *      bus of a playing pipeline: a 20 ms dip is no stall, a 600 ms one is
 *      a stall of about 600 ms (records read through a batch callback).
 *
 * Prints "gst_lifecycle: ok" and exits 0 when every check holds.
 */
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kino.h"
#include "kino_gst.h"

static int failures = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "gst_lifecycle: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                               \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

static uint64_t emitted(KinoEmitter *kino) {
    KinoStats st;
    memset(&st, 0, sizeof st);
    CHECK(kino_emitter_flush(kino, 5000) == KINO_STATUS_OK);
    CHECK(kino_emitter_stats(kino, &st) == KINO_STATUS_OK);
    return st.emitted;
}

static KinoEmitter *new_emitter(void) {
    KinoEmitter *kino = NULL;
    CHECK(kino_emitter_new(NULL, &kino) == KINO_STATUS_OK); /* $KINO_BEACON_URL */
    return kino;
}

static GstElement *new_playbin(const char *url) {
    GstElement *playbin = gst_element_factory_make("playbin", NULL);
    GstElement *video = gst_element_factory_make("fakesink", NULL);
    GstElement *audio = gst_element_factory_make("fakesink", NULL);
    g_object_set(video, "sync", TRUE, NULL);
    g_object_set(audio, "sync", TRUE, NULL);
    g_object_set(playbin, "video-sink", video, "audio-sink", audio, NULL);
    if (url != NULL) {
        g_object_set(playbin, "uri", url, NULL);
    }
    return playbin;
}

/* Runs the pipeline until its position reaches `seconds` (or an error or
 * the end): the bus is read with a short timeout because GStreamer posts
 * nothing when a position is reached. */
static void play_until(GstElement *playbin, double seconds) {
    GstBus *bus = gst_element_get_bus(playbin);
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    for (;;) {
        GstMessage *msg = gst_bus_timed_pop_filtered(bus, 20 * GST_MSECOND,
                                                     GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
        if (msg != NULL) {
            fprintf(stderr, "gst_lifecycle: %s before %.1f s\n", GST_MESSAGE_TYPE_NAME(msg),
                    seconds);
            gst_message_unref(msg);
            failures++;
            break;
        }
        gint64 pos = -1;
        if (gst_element_query_position(playbin, GST_FORMAT_TIME, &pos) &&
            (double)pos / GST_SECOND >= seconds) {
            break;
        }
        if (g_get_monotonic_time() > deadline) {
            fprintf(stderr, "gst_lifecycle: never reached %.1f s\n", seconds);
            failures++;
            break;
        }
    }
    gst_object_unref(bus);
}

/* A pause, a play and a seek: each would be a kino event if attached. */
static void pause_play_seek(GstElement *playbin, double to) {
    gst_element_set_state(playbin, GST_STATE_PAUSED);
    gst_element_get_state(playbin, NULL, NULL, 5 * GST_SECOND);
    gst_element_set_state(playbin, GST_STATE_PLAYING);
    gst_element_get_state(playbin, NULL, NULL, 5 * GST_SECOND);
    gst_element_seek_simple(playbin, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT,
                            (gint64)(to * GST_SECOND));
    gst_element_get_state(playbin, NULL, NULL, 5 * GST_SECOND);
}

/* Batches as they are delivered (kino's thread), concatenated. */
static GString *delivered;
static GMutex delivered_lock;
static int collect(void *user_data, const char *json, size_t len) {
    (void)user_data;
    g_mutex_lock(&delivered_lock);
    g_string_append_len(delivered, json, (gssize)len);
    g_mutex_unlock(&delivered_lock);
    return 0;
}

static void buffering_dip(GstElement *playbin, guint ms) {
    gst_element_post_message(playbin, gst_message_new_buffering(GST_OBJECT(playbin), 40));
    g_usleep(ms * 1000); /* the dip being simulated: the engine's own time */
    gst_element_post_message(playbin, gst_message_new_buffering(GST_OBJECT(playbin), 100));
}

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gst_lifecycle URL\n");
        return 2;
    }
    const char *url = argv[1];
    gst_init(NULL, NULL);

    /* 1. NULL everywhere */
    KinoEmitter *kino = new_emitter();
    GstElement *playbin = new_playbin(url);
    GstElement *not_a_pipeline = gst_element_factory_make("fakesink", NULL);
    kino_gst_options_init(NULL);
    kino_gst_detach(NULL);
    CHECK(kino_gst_attach(NULL, NULL, NULL) == NULL);
    CHECK(kino_gst_attach(NULL, kino, NULL) == NULL);
    CHECK(kino_gst_attach(playbin, NULL, NULL) == NULL);
    CHECK(kino_gst_attach(not_a_pipeline, kino, NULL) == NULL);
    gst_object_unref(not_a_pipeline);
    CHECK(emitted(kino) == 0);

    /* 2. detach while playing: nothing after it */
    KinoGstOptions options;
    kino_gst_options_init(&options);
    options.heartbeat_interval_ms = 100; /* would show up at once after detach */
    KinoGstAdapter *adapter = kino_gst_attach(playbin, kino, &options);
    CHECK(adapter != NULL);
    gst_element_set_state(playbin, GST_STATE_PLAYING);
    play_until(playbin, 2.0);
    kino_gst_detach(adapter);
    uint64_t at_detach = emitted(kino);
    CHECK(at_detach >= 4); /* load, state, quality, play at least */
    pause_play_seek(playbin, 8.0);
    play_until(playbin, 8.5);
    CHECK(emitted(kino) == at_detach);
    printf("gst_lifecycle: %llu events until detach, none after\n", (unsigned long long)at_detach);

    /* 3. attach again; detach; free the emitter while the pipeline plays on */
    adapter = kino_gst_attach(playbin, kino, &options);
    CHECK(adapter != NULL);
    play_until(playbin, 9.5);
    kino_gst_detach(adapter);
    CHECK(emitted(kino) > at_detach); /* the URI already set: a new load, heartbeats */
    kino_emitter_free(kino);
    pause_play_seek(playbin, 14.0);
    play_until(playbin, 14.5);
    gst_element_set_state(playbin, GST_STATE_NULL);
    gst_object_unref(playbin);

    /* 4. the application's last reference goes before detach */
    kino = new_emitter();
    playbin = new_playbin(NULL);
    adapter = kino_gst_attach(playbin, kino, NULL);
    CHECK(adapter != NULL);
    gst_object_unref(playbin);
    kino_gst_detach(adapter); /* drops the last reference: the pipeline goes */
    kino_emitter_free(kino);

    /* 5. the debounce: a blip is no stall, a stall is one */
    delivered = g_string_new(NULL);
    KinoConfig *config = kino_config_new();
    CHECK(kino_config_set_batch_callback(config, collect, NULL) == KINO_STATUS_OK);
    CHECK(kino_emitter_new(config, &kino) == KINO_STATUS_OK);
    kino_config_free(config);
    playbin = new_playbin(url);
    adapter = kino_gst_attach(playbin, kino, NULL); /* default debounce: 200 ms */
    gst_element_set_state(playbin, GST_STATE_PLAYING);
    play_until(playbin, 0.5);
    buffering_dip(playbin, 20);
    play_until(playbin, 0.8);
    buffering_dip(playbin, 600);
    play_until(playbin, 1.6); /* before the switch up at 2 s, which may dip too */
    kino_gst_detach(adapter);
    kino_emitter_flush(kino, 5000);
    g_mutex_lock(&delivered_lock);
    const char *text = delivered->str;
    CHECK(count(text, "\"event\":\"rebuffer\"") == 1);
    CHECK(count(text, "\"event\":\"rebuffer_end\"") == 1);
    CHECK(count(text, "\"to\":\"buffering\"") >= 2); /* the clock stopped for both */
    const char *end = strstr(text, "\"event\":\"rebuffer_end\"");
    const char *duration = end != NULL ? strstr(end, "\"duration\":") : NULL;
    double seconds = duration != NULL ? strtod(duration + strlen("\"duration\":"), NULL) : 0.0;
    CHECK(seconds >= 0.6 && seconds < 0.9); /* measured from the first message */
    printf("gst_lifecycle: a 20 ms dip is no stall, a 600 ms one is %.3f s\n", seconds);
    g_mutex_unlock(&delivered_lock);
    gst_element_set_state(playbin, GST_STATE_NULL);
    gst_object_unref(playbin);
    kino_emitter_free(kino);
    g_string_free(delivered, TRUE);

    gst_deinit();
    if (failures != 0) {
        fprintf(stderr, "gst_lifecycle: %d check(s) failed\n", failures);
        return 1;
    }
    printf("gst_lifecycle: ok\n");
    return 0;
}
