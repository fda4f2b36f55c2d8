//! The libmpv adapter (adapters/mpv) on the real engine: mpv-play
//! (examples-c/mpv_play.c, libmpv with --vo=null --ao=null, in real time),
//! compiled strictly with the adapter against the freshly built libkino,
//! plays the shared 30 s HLS ladder from a real server on 127.0.0.1 and
//! reports to a real collector.
//!
//! libmpv has no ABR: mpv-play's own buffer-based switching (one variant
//! down below a third of its 3 s goal, one up at the goal) is what turns
//! the bandwidth schedule into switches, which the adapter reports.
//!
//! - A throttled run: unlimited for 10 s (startup, the switches up, a user
//!   pause at 3 s for 2 s, a seek from 5 s back to 2 s), 1.5 Mbit/s until
//!   18 s (below the top variant: a switch down), nothing until 24 s (a
//!   stall of several seconds), then unlimited (switches up). kino's QoE
//!   must agree with what mpv told the program itself on its own handle
//!   (its "engine" lines), within support::players::assert_agree's
//!   tolerances.
//! - A control run without throttling (under AddressSanitizer, which also
//!   checks for leaks at exit): no stall, no switch down.
//! - Engine errors: a 404 manifest, a server that stops mid-stream.
//! - Lifetimes (tests/c/mpv_lifecycle.c): NULLs, attach before
//!   mpv_initialize, detach while playing with nothing after, the core
//!   destroyed under an attached adapter.
//!
//! About 40 s of wall time, the runs in parallel (they play in real time).

mod support;

use serde_json::Value;
use support::hls::{self, HlsServer};
use support::players::{
    self, check_control_run, check_scripted_view, check_throttled_run, note_rendition, throttle,
    Figures, Run, MPV, SCRIPT,
};

/// The figures mpv's own signals give, from mpv-play's journal:
/// - startup: `start-file` to the first `playback-restart`;
/// - playing: from the first `playback-restart`, a `resume`, the
///   `playback-restart` after a seek, or `paused-for-cache no` after a
///   stall, to the next `pause`, `seek`, `paused-for-cache yes` or
///   `end-file`;
/// - a stall episode: `paused-for-cache yes`, or a `frozen` position
///   (since the time it gives), after the start and not during a seek or a
///   user pause, to `paused-for-cache no` or `moving`;
/// - seek latency: `seek` to the next `playback-restart`;
/// - switches: each change of `video-params` size after the first, up or
///   down by height.
fn mpv_figures(run: &Run) -> Figures {
    let mut f = Figures::default();
    let (mut start, mut started, mut playing_since) = (None, false, None::<f64>);
    let (mut stall_since, mut seek_since, mut user_paused) = (None::<f64>, None::<f64>, false);
    let mut height = None::<u32>;
    let begin = |since: &mut Option<f64>, f: &mut Figures, t: f64| {
        if since.is_none() {
            *since = Some(t);
            f.playing_intervals += 1;
        }
    };
    let stop = |since: &mut Option<f64>, f: &mut Figures, t: f64| {
        if let Some(s) = since.take() {
            f.playing += t - s;
        }
    };
    for l in &run.journal {
        let t = l.t;
        match l.what.as_str() {
            "start-file" => start = Some(t),
            "playback-restart" => {
                if !started {
                    started = true;
                    f.startup = t - start.expect("start-file before playback-restart");
                    begin(&mut playing_since, &mut f, t);
                } else if let Some(s) = seek_since.take() {
                    f.seek_latencies.push(t - s);
                    if !user_paused {
                        begin(&mut playing_since, &mut f, t);
                    }
                }
            }
            "pause" => {
                user_paused = true;
                stall_since = None; // a user pause ends a stall
                stop(&mut playing_since, &mut f, t);
            }
            "resume" => {
                user_paused = false;
                if seek_since.is_none() {
                    begin(&mut playing_since, &mut f, t);
                }
            }
            "seek" => {
                seek_since = Some(t);
                stall_since = None; // a seek ends a stall
                stop(&mut playing_since, &mut f, t);
            }
            "paused-for-cache" | "moving" => {
                let begins = l.what == "paused-for-cache" && l.args[0] == "yes";
                if !begins {
                    if let Some(s) = stall_since.take() {
                        f.episodes.push(t - s);
                        begin(&mut playing_since, &mut f, t);
                    }
                } else if started && seek_since.is_none() && !user_paused && stall_since.is_none() {
                    stall_since = Some(t);
                    stop(&mut playing_since, &mut f, t);
                }
            }
            "frozen" => {
                let since = l.args[0].parse::<f64>().unwrap() / 1000.0;
                if started && seek_since.is_none() && !user_paused && stall_since.is_none() {
                    stall_since = Some(since);
                    f.freezes += 1;
                    stop(&mut playing_since, &mut f, since);
                }
            }
            "end-file" => stop(&mut playing_since, &mut f, t),
            "video-params" => {
                note_rendition(&mut f, &mut height, &l.args[0]);
            }
            _ => {}
        }
    }
    f
}

fn play(schedule: Vec<hls::Phase>, asan: bool) -> (Run, Vec<Value>, Figures) {
    players::play(MPV, SCRIPT, schedule, asan, mpv_figures)
}

/// mpv's own on top of what every scripted view shows: the bitrates are
/// measured on the track's own packets, near its variant's 0.4, 0.95 or
/// 2.8 Mbit/s (audio included there).
fn check_bitrates(records: &[Value]) {
    for q in check_scripted_view(records) {
        assert!(q["to_bitrate"].as_u64() > Some(100_000), "{q}");
    }
}

#[test]
fn throttled_run_agrees_with_what_mpv_reported() {
    let (run, records, engine) = play(throttle(), false);
    for q in records.iter().filter(|r| r["event"] == "quality_change") {
        eprintln!(
            "quality_change {} -> {} bit/s, to {}",
            q["from_bitrate"], q["to_bitrate"], q["to_resolution"]
        );
    }
    check_bitrates(&records);
    check_throttled_run(&run, &records, &engine);
}

#[test]
fn control_run_has_no_stall_and_no_spurious_switch() {
    let (run, records, engine) = play(Vec::new(), true);
    check_bitrates(&records);
    check_control_run(&run, &records, &engine);
}

#[test]
fn a_missing_manifest_is_a_fatal_error() {
    let server = HlsServer::start(hls::ladder(), Vec::new());
    let records = players::play_to_fatal_error(MPV, &server.url("missing/master.m3u8"), &server);
    assert_eq!(players::qoe_record(&records)["started"], false);
}

#[test]
fn a_server_that_stops_mid_stream_is_a_fatal_error() {
    // libavformat opens the first segment of each of the three variants
    // while it probes, then plays the lowest one: stopping after six
    // segments stops it mid-stream, a few seconds in.
    let server = HlsServer::stopping_after(hls::ladder(), 6);
    let records = players::play_to_fatal_error(MPV, &server.url("master.m3u8"), &server);
    assert_eq!(players::qoe_record(&records)["started"], true);
}

#[test]
fn lifetimes_detach_then_free_and_nothing_after() {
    players::run_lifecycle(MPV, "tests/c/mpv_lifecycle.c");
}

#[test]
fn the_header_compiles_as_c99_and_cpp() {
    players::check_header_c99_cpp(
        MPV,
        "kino_mpv.h",
        "KinoMpvOptions o;\n\
         kino_mpv_options_init(&o);\n\
         kino_mpv_detach(kino_mpv_attach(NULL, NULL, &o));\n\
         return o.stall_debounce_ms == 200 && !o.track_switches_are_abr ? 0 : 1;",
    );
}
