//! The GStreamer adapter (adapters/gstreamer) on the real engine: gst-play
//! (examples-c/gst_play.c, playbin on fake sinks that render in real
//! time), compiled strictly with the adapter against the freshly built
//! libkino, plays the shared 30 s HLS ladder from a real server on
//! 127.0.0.1 and reports to a real collector.
//!
//! - A throttled run: unlimited for 10 s (startup and the switch up, a
//!   user pause at 3 s for 2 s, a seek from 5 s back to 2 s), 1.5 Mbit/s
//!   until 18 s (below the top variant: a switch down), nothing until
//!   24 s (the 3 s buffer runs dry: a stall of several seconds), then
//!   unlimited again (a switch up). kino's QoE must agree with what
//!   GStreamer told the program itself (its "engine" lines), within the
//!   tolerances of support::players::assert_agree.
//! - A control run without throttling (under AddressSanitizer, which also
//!   checks for leaks at exit): no stall, no switch down.
//! - Engine errors: a 404 manifest, and a server that stops mid-stream,
//!   each a fatal error record; no crash, no leak.
//! - Lifetimes (tests/c/gst_lifecycle.c): NULLs, detach then free in both
//!   orders, no kino call after detach.
//!
//! About 35 s of wall time, the runs in parallel (they play in real time).

mod support;

use serde_json::Value;
use support::hls::{self, HlsServer};
use support::players::{
    self, check_control_run, check_scripted_view, check_throttled_run, names, note_rendition,
    throttle, Figures, Run, GSTREAMER, SCRIPT,
};

/// The figures GStreamer's own signals give, from gst-play's journal:
/// - startup: `load` to the first `state … PLAYING`;
/// - playing: the time between each `state … PLAYING` and the next state
///   change away from PLAYING (or `eos`);
/// - a stall episode: from `buffering` below 100 % (after the start, not
///   during a seek or a user pause) to the first PLAYING after `buffering
///   100` (at once if the pipeline never left PLAYING);
/// - seek latency: `seek` to the next PLAYING;
/// - switches: each change of `caps` size after the first, up or down by
///   height.
fn gst_figures(run: &Run) -> Figures {
    let mut f = Figures::default();
    let (mut load, mut started, mut playing_since) = (None, false, None::<f64>);
    let (mut stall_since, mut refilled) = (None::<f64>, false);
    let (mut seek_since, mut user_paused) = (None::<f64>, false);
    let mut height = None::<u32>;
    for l in &run.journal {
        match l.what.as_str() {
            "load" => load = Some(l.t),
            "state" => {
                let playing = l.args.get(1).map(String::as_str) == Some("PLAYING");
                if playing {
                    if playing_since.is_none() {
                        playing_since = Some(l.t);
                        f.playing_intervals += 1;
                    }
                    if !started {
                        started = true;
                        f.startup = l.t - load.expect("load before PLAYING");
                    }
                    if let Some(s) = seek_since.take() {
                        f.seek_latencies.push(l.t - s);
                    }
                    if let (Some(s), true) = (stall_since, refilled) {
                        f.episodes.push(l.t - s);
                        stall_since = None;
                    }
                    user_paused = false;
                } else if let Some(s) = playing_since.take() {
                    f.playing += l.t - s;
                }
            }
            "eos" | "error" => {
                if let Some(s) = playing_since.take() {
                    f.playing += l.t - s;
                }
            }
            "buffering" => {
                let below = l.args[0].parse::<u32>().unwrap() < 100;
                if below && started && seek_since.is_none() && !user_paused && stall_since.is_none()
                {
                    stall_since = Some(l.t);
                    refilled = false;
                } else if !below && stall_since.is_some() {
                    refilled = true;
                    if playing_since.is_some() {
                        f.episodes.push(l.t - stall_since.take().unwrap());
                    }
                }
            }
            "pause" => user_paused = true,
            "seek" => {
                seek_since = Some(l.t);
                stall_since = None; // a seek ends a stall
            }
            "caps" => {
                note_rendition(&mut f, &mut height, &l.args[0]);
            }
            _ => {}
        }
    }
    f
}

fn play(schedule: Vec<hls::Phase>, asan: bool) -> (Run, Vec<Value>, Figures) {
    players::play(GSTREAMER, SCRIPT, schedule, asan, gst_figures)
}

/// GStreamer's own on top of what every scripted view shows: the initial
/// rendition is reported before the first frame, and each switch goes to
/// a variant's BANDWIDTH.
fn check_bitrates(records: &[Value]) {
    let quality = check_scripted_view(records);
    let names = names(records);
    let initial_at = names.iter().position(|n| *n == "quality_change").unwrap();
    let play_at = names.iter().position(|n| *n == "play").unwrap();
    assert!(initial_at < play_at, "{names:?}");
    assert_eq!(
        quality[0]["to_bitrate"], 400_400,
        "the variant's BANDWIDTH: {}",
        quality[0]
    );
    for q in &quality[1..] {
        assert!(
            [400_400, 950_400, 2_820_400].contains(&q["to_bitrate"].as_u64().unwrap()),
            "{q}"
        );
    }
}

#[test]
fn throttled_run_agrees_with_what_gstreamer_reported() {
    let (run, records, engine) = play(throttle(), false);
    check_bitrates(&records);
    check_throttled_run(&run, &records, &engine);
    let stall = records
        .iter()
        .find(|r| r["event"] == "rebuffer_end")
        .unwrap();
    assert!(
        stall["duration"].as_f64() > Some(2.0),
        "the measured duration, from the first BUFFERING message: {stall}"
    );
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
    let records =
        players::play_to_fatal_error(GSTREAMER, &server.url("missing/master.m3u8"), &server);
    assert_eq!(players::qoe_record(&records)["started"], false);
    // The GError's domain and code: souphttpsrc's resource error, or the
    // source loop's stream error, whichever GStreamer posts first.
    let error = records.iter().find(|r| r["event"] == "error").unwrap();
    assert!(
        error["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("gst-") && c.contains("-error-quark:")),
        "{error}"
    );
}

#[test]
fn a_server_that_stops_mid_stream_is_a_fatal_error() {
    let server = HlsServer::stopping_after(hls::ladder(), 3);
    let records = players::play_to_fatal_error(GSTREAMER, &server.url("master.m3u8"), &server);
    assert_eq!(
        players::qoe_record(&records)["started"],
        true,
        "it played the segments it got"
    );
}

#[test]
fn lifetimes_detach_then_free_and_nothing_after() {
    players::run_lifecycle(GSTREAMER, "tests/c/gst_lifecycle.c");
}

#[test]
fn the_header_compiles_as_c99_and_cpp() {
    players::check_header_c99_cpp(
        GSTREAMER,
        "kino_gst.h",
        "KinoGstOptions o;\n\
         kino_gst_options_init(&o);\n\
         kino_gst_detach(kino_gst_attach(NULL, NULL, &o));\n\
         return o.stall_debounce_ms == 200 && o.heartbeat_interval_ms == 10000 ? 0 : 1;",
    );
}
