/*
 * kino_mpv.h: kino for libmpv, in two calls.
 *
 *   mpv_initialize(mpv);
 *   KinoMpvAdapter *a = kino_mpv_attach(mpv, emitter, NULL);
 *   ... loadfile, the application's own event loop, as always ...
 *   mpv_terminate_destroy(mpv);    the adapter sees every event, lets go
 *   kino_mpv_detach(a);            then kino_emitter_free
 *
 * The adapter does not take the application's event loop: it makes its
 * own client handle on the same core (mpv_create_weak_client), observes
 * properties there and reads its events on a thread of its own. What
 * becomes which kino event, and why, is in docs/INTEGRATION.md ("libmpv");
 * in short: load at MPV_EVENT_START_FILE, play at the first
 * MPV_EVENT_PLAYBACK_RESTART, pause/play when "pause" changes, seek at
 * MPV_EVENT_SEEK and its completion at the next PLAYBACK_RESTART,
 * rebuffer/rebuffer_end around "paused-for-cache" (debounced, see
 * stall_debounce_ms) and around "time-pos" standing still for a second
 * with nothing to explain it (mpv freezes that way, unreported, after a
 * track switch whose new track has no data yet), quality_change when
 * "video-params" changes size (the first one INITIAL; its bitrate is
 * "video-bitrate" measured on that track, since mpv 0.35 tells no
 * track's declared one), end or a fatal error at MPV_EVENT_END_FILE by
 * its reason (an EOF more than 2 s short of a VOD's duration is the
 * fatal error "mpv:early-eof": libavformat ends a stream that way when
 * its segments stop coming), and a heartbeat every heartbeat_interval_ms
 * from
 * "time-pos", "demuxer-cache-duration", "video-bitrate",
 * "frame-drop-count" + "decoder-frame-drop-count" and
 * "estimated-frame-number".
 *
 * Threads. Every kino_emit_* call is made on the adapter's own thread.
 * kino_mpv_attach and kino_mpv_detach may be called from any application
 * thread (not from an mpv wakeup callback).
 *
 * Lifetimes. Attach after mpv_initialize (libmpv makes no client handle
 * before it). The emitter must outlive the adapter: call kino_mpv_detach
 * before kino_emitter_free. When kino_mpv_detach returns, the adapter's
 * thread has finished, its client handle is destroyed, and kino is never
 * called by it again. The adapter's handle is weak: it never keeps the
 * core alive. Destroying the core first (mpv_terminate_destroy, or
 * "quit") is the better order: the adapter handles every event up to
 * MPV_EVENT_SHUTDOWN (the last END_FILE included), closes the view with
 * `end` if one is still open, and lets go of the core at once, so
 * mpv_terminate_destroy does not wait for it; kino_mpv_detach then frees
 * the adapter. Detaching while the core runs is fine too and emits
 * nothing more (an event mpv has not yet queued for the adapter is not
 * seen): the open view closes at the next kino_emit_load or at
 * kino_emitter_free.
 *
 * Every function is safe with NULL arguments. The header compiles as C99
 * and as C++.
 */
#ifndef KINO_MPV_H
#define KINO_MPV_H

#include <stdbool.h>
#include <stdint.h>

#include <mpv/client.h>

#include "kino.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One attached mpv core. Opaque; made by kino_mpv_attach, freed by
 * kino_mpv_detach. */
typedef struct KinoMpvAdapter KinoMpvAdapter;

/* What the adapter does; kino_mpv_options_init fills in the defaults
 * (passing NULL to kino_mpv_attach means the same). Fields may be added at
 * the end in later versions: always start from kino_mpv_options_init. */
typedef struct KinoMpvOptions {
    /* Milliseconds between heartbeats while a view plays or is paused.
     * Default 10000; 0 sends none. */
    uint32_t heartbeat_interval_ms;
    /* A "paused-for-cache" episode shorter than this (milliseconds) is not
     * reported as a stall; a longer one is reported with its full measured
     * duration. Default 200 (as for GStreamer); 0 reports every one. The
     * playing clock stops at its start either way (a PLAYING->BUFFERING
     * state_change). A freeze (time-pos standing still) is noticed after
     * a second, and reported with its duration from when it stopped. */
    uint32_t stall_debounce_ms;
    /* Passed to kino_emit_load: mpv cannot tell before it has opened the
     * stream. Default false. */
    bool is_live;
    /* libmpv has no ABR of its own: a rendition changes when the video
     * track does, and by default that is reported with reason MANUAL.
     * An application that switches tracks by itself on bandwidth or buffer
     * (its own ABR, as examples-c/mpv_play.c does) sets this to report
     * ABR. Default false. */
    bool track_switches_are_abr;
} KinoMpvOptions;

/* Fills *options with the defaults. NULL is a no-op. */
void kino_mpv_options_init(KinoMpvOptions *options);

/* Starts reporting the core behind `mpv` to `emitter`, with `options`
 * (NULL: the defaults; the struct is copied). The application keeps `mpv`
 * and its event loop. Attach before the first loadfile: a file already
 * playing is reported from its next event on, without its load.
 *
 * Returns NULL, and emits nothing, if `mpv` or `emitter` is NULL, if the
 * core is not initialized or is shutting down, or if the adapter's thread
 * cannot be started. One adapter per core. */
KinoMpvAdapter *kino_mpv_attach(mpv_handle *mpv, KinoEmitter *emitter,
                                const KinoMpvOptions *options);

/* Stops reporting and frees the adapter: finishes its thread (events
 * already queued for it are handled first) and destroys its client
 * handle. Call it before the emitter is freed; before or after the core
 * is destroyed. NULL is a no-op. */
void kino_mpv_detach(KinoMpvAdapter *adapter);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KINO_MPV_H */
