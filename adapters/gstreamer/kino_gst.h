/*
 * kino_gst.h: kino for GStreamer's playbin, in two calls.
 *
 *   KinoGstAdapter *a = kino_gst_attach(playbin, emitter, NULL);
 *   ... the application plays as it always did ...
 *   kino_gst_detach(a);            then free the pipeline and the emitter
 *
 * The adapter watches playbin itself (its bus, through sync-message
 * emission, and pad probes on the sinks and demuxers it finds), so the
 * application's own bus handler stays as it is and calls nothing. What
 * becomes which kino event, and why, is in docs/INTEGRATION.md
 * ("GStreamer"); in short: load when a URI is set, play when the pipeline
 * first reaches PLAYING, pause/play around a user pause, seek when a seek
 * event leaves the sinks and its completion when PLAYING returns,
 * rebuffer/rebuffer_end around BUFFERING below 100 % (debounced, see
 * stall_debounce_ms), quality_change when new video caps reach the video
 * sink (the first one INITIAL, with the variant's BANDWIDTH), error for
 * WARNING (not fatal) and ERROR (fatal), end at EOS or when the
 * application stops the pipeline, and a heartbeat every
 * heartbeat_interval_ms.
 *
 * The application keeps GStreamer's buffering rule: on BUFFERING below
 * 100 % it sets the pipeline to PAUSED, at 100 % back to PLAYING (unless
 * the user paused). The adapter knows those pauses are the engine's, never
 * the user's.
 *
 * Threads. Every kino_emit_* call is made on one thread of the adapter's
 * own. GStreamer's callbacks (bus sync-message, pad probes, notify
 * signals) run on whatever thread GStreamer uses; they only copy what
 * they saw into the adapter's queue, and never block. kino_gst_attach and
 * kino_gst_detach may be called from any application thread, but not
 * from inside a GStreamer callback (a pad probe, a bus sync handler).
 *
 * Lifetimes. The adapter holds a reference on the playbin until it is
 * detached. The emitter is the application's: it must outlive the
 * adapter, so call kino_gst_detach before kino_emitter_free. When
 * kino_gst_detach returns, the adapter has removed its probes and signal
 * handlers, its thread has finished, and kino is never called by it
 * again; a GStreamer callback of the adapter's that was already running
 * on a streaming thread may still return afterwards, touching only the
 * adapter's own reference-counted state. Detaching emits nothing: the
 * open view closes at the next kino_emit_load or at kino_emitter_free.
 *
 * Every function is safe with NULL arguments. The header compiles as C99
 * and as C++.
 */
#ifndef KINO_GST_H
#define KINO_GST_H

#include <stdbool.h>
#include <stdint.h>

#include <gst/gst.h>

#include "kino.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One attached playbin. Opaque; made by kino_gst_attach, freed by
 * kino_gst_detach. */
typedef struct KinoGstAdapter KinoGstAdapter;

/* What the adapter does; kino_gst_options_init fills in the defaults
 * (passing NULL to kino_gst_attach means the same). Fields may be added at
 * the end in later versions: always start from kino_gst_options_init. */
typedef struct KinoGstOptions {
    /* Milliseconds between heartbeats while a view plays or is paused
     * (position, buffer level, bitrate, dropped and decoded frames).
     * Default 10000; 0 sends none. */
    uint32_t heartbeat_interval_ms;
    /* A BUFFERING dip shorter than this (milliseconds, from the first
     * message below 100 % to playback flowing again) is not reported as a
     * stall. playbin posts such dips of a few milliseconds at HLS variant
     * switches while the new variant's queue fills; counted as stalls,
     * each would cost the kino score 10 points. Default 200; 0 reports
     * every dip. A longer stall is reported with its full measured
     * duration, from its first message. The playing clock stops at the
     * first message either way (a PLAYING->BUFFERING state_change). */
    uint32_t stall_debounce_ms;
    /* Passed to kino_emit_load: playbin cannot tell a live stream before
     * it has loaded it, the application knows. Default false. */
    bool is_live;
} KinoGstOptions;

/* Fills *options with the defaults. NULL is a no-op. */
void kino_gst_options_init(KinoGstOptions *options);

/* Starts reporting `playbin` (a playbin element, or any pipeline with a
 * "uri" property) to `emitter`, with `options` (NULL: the defaults; the
 * struct is copied). If a URI is already set, its load is emitted now;
 * later URIs are emitted when set. Attach before the pipeline leaves
 * NULL for the full picture (the starting rendition, the master
 * playlist's bitrates).
 *
 * Returns NULL, and emits nothing, if `playbin` or `emitter` is NULL, if
 * `playbin` is not a GstPipeline, or if the adapter's thread cannot be
 * started. One adapter per pipeline. */
KinoGstAdapter *kino_gst_attach(GstElement *playbin, KinoEmitter *emitter,
                                const KinoGstOptions *options);

/* Stops reporting and frees the adapter: removes its probes and signal
 * handlers, finishes its thread (events already seen are emitted first),
 * and drops its reference on the pipeline. Call it before the emitter is
 * freed. NULL is a no-op. */
void kino_gst_detach(KinoGstAdapter *adapter);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KINO_GST_H */
