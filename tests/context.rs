//! Issue 9 against a real HTTP collector: metadata ordered with the
//! events and carried on `load`/`qoe` (and `metadata` records for
//! mid-view changes), view metadata cleared at the close, the metadata
//! bounds, `pending_events` equal to what the collector then receives,
//! `clear` and consent sending nothing afterwards, and the counters
//! holding through all of it.
#![cfg(feature = "http")]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use kino::event::AnalyticsEvent;
use kino::metadata::Level;
use kino::stats::StatsSnapshot;
use kino::transport::{BatchSink, Body, Outcome};
use kino::{Config, Emitter, ErrorKind};
use serde_json::{json, Value};
use support::collector::Collector;
use support::emitting::temp_dir;

const WAIT: Duration = Duration::from_secs(20);

fn load(url: &str) -> AnalyticsEvent {
    AnalyticsEvent::Load {
        url: url.into(),
        is_live: false,
    }
}

fn play(position: f64) -> AnalyticsEvent {
    AnalyticsEvent::Play { position }
}

fn end() -> AnalyticsEvent {
    AnalyticsEvent::End {
        position: 10.0,
        watch_time: 10.0,
    }
}

/// A config posting to `url`, cutting batches only when asked.
fn config(url: &str) -> Config {
    let mut config = Config::default();
    config.set_beacon_url(Some(url)).unwrap();
    config.set_batch_size(500).unwrap();
    config.set_flush_interval_ms(600_000).unwrap();
    config.set_retry_backoff_ms(10, 20).unwrap();
    config
}

fn holds(s: &StatsSnapshot) {
    assert_eq!(s.emitted, s.delivered + s.failed + s.queued, "{s:?}");
}

/// The accepted records, by sequence, each id once.
fn received(collector: &Collector) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    let mut records: Vec<Value> = collector
        .accepted_records()
        .into_iter()
        .filter(|r| seen.insert(r["id"].as_str().unwrap().to_owned()))
        .collect();
    records.sort_by_key(|r| r["sequence"].as_u64().unwrap());
    records
}

fn set(e: &Emitter, level: Level, key: &str, value: Option<&str>) {
    e.set_metadata(level, key, value)
        .unwrap_or_else(|err| panic!("set {key}: {err}"));
}

#[test]
fn metadata_is_ordered_with_the_events_and_a_view_keeps_its_own() {
    let collector = Collector::start();
    let mut cfg = config(&collector.url());
    cfg.set_metadata("app_name", Some("tv-app")).unwrap();
    cfg.set_metadata("player_name", Some("kino-test")).unwrap();
    cfg.set_metadata("os_name", Some("tizen")).unwrap(); // overrides kino's
    let e = Emitter::new(&cfg).unwrap();
    use Level::{Session, View};

    set(&e, Session, "viewer_id", Some("u1"));
    set(&e, View, "video_id", Some("v1"));
    set(&e, View, "video_title", Some("First"));
    set(&e, View, "experiment_variant", Some("a"));
    set(&e, View, "video_duration", Some("5400"));
    e.emit(load("https://cdn/1.m3u8")).unwrap();
    e.emit(play(0.0)).unwrap();
    set(&e, View, "video_title", Some("First, part 2")); // a record
    set(&e, View, "experiment_variant", None); // a record: removed
    set(&e, Session, "viewer_id", Some("u2")); // a record: merged changed
    set(&e, Session, "video_id", Some("session-wide")); // no record: the view's wins
    set(&e, View, "video_title", Some("First, part 2")); // no record: same value
    e.emit(end()).unwrap();
    // The next view has nothing of the last one's view keys.
    e.emit(load("https://cdn/2.m3u8")).unwrap();
    e.emit(AnalyticsEvent::Error {
        code: "X".into(),
        message: "fatal".into(),
        fatal: true,
        position: 1.0,
    })
    .unwrap();
    set(&e, View, "video_id", Some("v3")); // no view open: the next view's
    e.emit(load("https://cdn/3.m3u8")).unwrap();
    e.flush(WAIT).unwrap();
    let s = e.stats();
    holds(&s);
    assert_eq!((s.dropped, s.failed, s.queued), (0, 0, 0));
    let session = e.session_id().to_string();
    assert_eq!(e.session_metadata()["viewer_id"], "u2");
    drop(e);

    assert!(collector.wait_for_records(s.emitted as usize + 1, WAIT));
    let records = received(&collector);
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "load", "play", "metadata", "metadata", "metadata", "end", "qoe", "load", "error",
            "qoe", "load", "qoe"
        ]
    );
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=12).collect::<Vec<_>>(),
        "no gaps: kino's records numbered too"
    );
    assert!(records.iter().all(|r| r["session_id"] == session.as_str()));

    let first = &records[0];
    let view1 = first["view_id"].clone();
    let meta = &first["metadata"];
    assert_eq!(meta["video_id"], "v1");
    assert_eq!(meta["video_title"], "First");
    assert_eq!(meta["experiment_variant"], "a");
    assert_eq!(meta["video_duration"], "5400");
    assert_eq!(meta["viewer_id"], "u1");
    assert_eq!(meta["app_name"], "tv-app");
    assert_eq!(
        meta["os_name"], "tizen",
        "the host's value overrides kino's"
    );
    assert_eq!(meta["kino_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["arch"], std::env::consts::ARCH);
    assert!(meta["os_version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(first["sample_rate"], 1.0);
    assert!(
        records[1].get("metadata").is_none(),
        "play: no metadata by default"
    );
    assert!(records[1].get("sample_rate").is_none());

    let changes: Vec<(&Value, &Value)> = records[2..5]
        .iter()
        .map(|r| (&r["view_id"], &r["changed"]))
        .collect();
    assert_eq!(
        changes,
        [
            (&view1, &json!({"video_title": "First, part 2"})),
            (&view1, &json!({"experiment_variant": null})),
            (&view1, &json!({"viewer_id": "u2"})),
        ]
    );
    let qoe1 = &records[6];
    assert_eq!(qoe1["view_id"], view1);
    assert_eq!(qoe1["sample_rate"], 1.0);
    let meta = &qoe1["metadata"];
    assert_eq!(meta["video_title"], "First, part 2");
    assert_eq!(
        meta["video_id"], "v1",
        "the view's value wins over the session's"
    );
    assert_eq!(meta["viewer_id"], "u2");
    assert!(meta.get("experiment_variant").is_none());

    let meta2 = &records[7]["metadata"];
    assert_eq!(
        meta2["video_id"], "session-wide",
        "view keys cleared at the close"
    );
    assert!(meta2.get("video_title").is_none());
    assert!(meta2.get("video_duration").is_none());
    assert_eq!(
        records[9]["metadata"], *meta2,
        "fatal error's view: same metadata"
    );
    assert_eq!(
        records[10]["metadata"]["video_id"], "v3",
        "set between views: the next one's"
    );
    assert_eq!(records[11]["metadata"]["video_id"], "v3");
}

#[test]
fn metadata_on_every_record_puts_the_view_metadata_everywhere_in_a_view() {
    let collector = Collector::start();
    let mut cfg = config(&collector.url());
    cfg.set_metadata_on_every_record(true);
    let e = Emitter::new(&cfg).unwrap();
    e.emit(play(0.0)).unwrap(); // outside a view: none
    e.set_metadata(Level::View, "video_id", Some("v1")).unwrap();
    e.emit(load("https://cdn/1.m3u8")).unwrap();
    e.emit(play(0.0)).unwrap();
    e.set_metadata(Level::View, "video_cdn", Some("b")).unwrap();
    e.emit(end()).unwrap();
    e.flush(WAIT).unwrap();
    drop(e);
    assert!(collector.wait_for_records(6, WAIT));
    let records = received(&collector);
    assert!(records[0].get("metadata").is_none());
    for r in &records[1..] {
        assert_eq!(r["metadata"]["video_id"], "v1", "{r}");
    }
    assert!(records[2]["metadata"].get("video_cdn").is_none());
    assert_eq!(records[3]["event"], "metadata");
    assert_eq!(records[3]["changed"], json!({"video_cdn": "b"}));
    for r in &records[3..] {
        assert_eq!(r["metadata"]["video_cdn"], "b", "{r}");
    }
}

#[test]
fn metadata_keys_and_values_are_checked() {
    let e = Emitter::new(&Config::default()).unwrap();
    let kind = |r: kino::error::Result<()>| r.unwrap_err().kind;
    for bad in ["", "Video", "9a", "a-b", &"k".repeat(65)] {
        assert_eq!(
            kind(e.set_metadata(Level::Session, bad, Some("x"))),
            ErrorKind::InvalidArgument,
            "{bad:?}"
        );
    }
    for (key, value) in [
        ("video_duration", "-5"),
        ("video_duration", "long"),
        ("video_stream_type", "vod"),
    ] {
        let err = e.set_metadata(Level::View, key, Some(value)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(err.message.contains(key), "{}", err.message);
    }
    for i in 0..64 {
        e.set_metadata(Level::View, &format!("custom_{i}"), Some("x"))
            .unwrap();
    }
    let err = e
        .set_metadata(Level::View, "custom_64", Some("x"))
        .unwrap_err();
    assert!(err.message.contains("64 keys"), "{}", err.message);
    e.set_metadata(Level::Session, "custom_64", Some("x"))
        .expect("the session level has its own 64");
    e.set_metadata(Level::View, "custom_0", None).unwrap();
    e.set_metadata(Level::View, "custom_64", Some("x"))
        .expect("room again");
    let mut cfg = Config::default();
    assert!(cfg.set_sample_rate(0.0).is_err());
    assert!(cfg.set_sample_rate(1.5).is_err());
    assert!(cfg.set_sample_rate(f64::NAN).is_err());
    assert!(cfg.set_sample_rate(1.0).is_ok());
    assert_eq!(
        e.stats().emitted,
        0,
        "no view was open: no metadata records"
    );
}

fn batch_files(dir: &PathBuf) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter(|f| {
            f.as_ref()
                .is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".kino"))
        })
        .count()
    })
}

/// Emits a view's worth of calls (with a mid-view metadata change) on
/// `e`, cut into batches of 3; returns the number of records.
fn some_records(e: &Emitter, n: usize) -> usize {
    e.emit(load("https://cdn/p.m3u8")).unwrap();
    e.set_metadata(Level::View, "video_id", Some("pending"))
        .unwrap();
    for i in 0..n {
        e.emit(AnalyticsEvent::Heartbeat {
            position: i as f64,
            buffer_level: 1.0,
            bitrate: 1,
            dropped_frames: 0,
            decoded_frames: i as u64,
        })
        .unwrap();
    }
    n + 2
}

fn pending_equals_what_arrives(spool: Option<PathBuf>) {
    let (collector, open) = Collector::gated();
    let mut cfg = config(&collector.url());
    cfg.set_batch_size(3).unwrap();
    if let Some(dir) = &spool {
        cfg.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    }
    let e = Emitter::new(&cfg).unwrap();
    let n = some_records(&e, 9);
    // A batch in hand, retried: the worker has tried to send it.
    assert!(collector.wait_until(WAIT, |b| !b.is_empty()));
    if let Some(dir) = &spool {
        assert!(batch_files(dir) >= 2, "full batches went to disk");
    }
    let pending: Vec<Value> = serde_json::from_str(&e.pending_events().unwrap()).unwrap();
    assert_eq!(pending.len(), n, "{pending:#?}");
    let seqs: Vec<u64> = pending
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>());
    assert_eq!(pending[1]["event"], "metadata");
    open.store(true, Ordering::SeqCst);
    e.flush(WAIT).unwrap();
    assert!(collector.wait_for_records(n, WAIT));
    let got = received(&collector);
    assert_eq!(got, pending, "record for record, id for id");
    assert_eq!(e.pending_events().unwrap(), "[]");
    drop(e);
    if let Some(dir) = spool {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn pending_events_are_what_the_collector_then_receives() {
    pending_equals_what_arrives(None);
}

#[test]
fn pending_events_include_this_emitters_spool_files() {
    pending_equals_what_arrives(Some(temp_dir("pending")));
}

#[test]
fn clear_discards_everything_pending_and_none_of_it_is_ever_sent() {
    let (collector, open) = Collector::gated();
    let dir = temp_dir("clear");
    let mut cfg = config(&collector.url());
    cfg.set_batch_size(3).unwrap();
    cfg.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    let e = Emitter::new(&cfg).unwrap();
    let n = some_records(&e, 9) as u64;
    assert!(collector.wait_until(WAIT, |b| !b.is_empty()));
    let pending: Vec<Value> = serde_json::from_str(&e.pending_events().unwrap()).unwrap();
    let view = pending[0]["view_id"].clone();
    e.clear().unwrap();
    let s = e.stats();
    holds(&s);
    assert_eq!((s.emitted, s.discarded, s.failed, s.queued), (n, n, n, 0));
    assert_eq!(e.pending_events().unwrap(), "[]");
    assert_eq!(batch_files(&dir), 0, "this emitter's spool files are gone");
    // The view stays open and numbers go on.
    open.store(true, Ordering::SeqCst);
    e.emit(play(1.0)).unwrap();
    e.emit(end()).unwrap();
    e.flush(WAIT).unwrap();
    assert!(collector.wait_for_records(3, WAIT));
    drop(e);
    let got = received(&collector);
    let seqs: Vec<u64> = got
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        [n + 1, n + 2, n + 3],
        "only what came after the clear"
    );
    assert!(
        got.iter().all(|r| r["view_id"] == view),
        "the view stayed open"
    );
    assert_eq!(got[2]["event"], "qoe");
    assert_eq!(
        got[2]["metadata"]["video_id"], "pending",
        "view metadata kept too"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_consent_calls_are_suppressed_nothing_is_sent_and_consent_resumes() {
    let collector = Collector::start();
    let e = Emitter::new(&config(&collector.url())).unwrap();
    e.emit(load("https://cdn/c.m3u8")).unwrap();
    e.emit(play(0.0)).unwrap();
    e.set_consent(false).unwrap();
    let s = e.stats();
    holds(&s);
    assert_eq!((s.emitted, s.discarded, s.queued), (2, 2, 0));
    // Every call validated as usual; valid ones suppressed.
    let bad = e.emit(AnalyticsEvent::Play { position: f64::NAN });
    assert_eq!(bad.unwrap_err().kind, ErrorKind::InvalidArgument);
    for i in 0..5 {
        assert_eq!(
            e.emit(AnalyticsEvent::Heartbeat {
                position: i as f64,
                buffer_level: 2.0,
                bitrate: 800_000,
                dropped_frames: 0,
                decoded_frames: 0,
            })
            .unwrap(),
            0
        );
    }
    e.set_metadata(Level::View, "video_id", Some("no-consent"))
        .unwrap(); // applied, no record
    e.emit(AnalyticsEvent::Rebuffer {
        position: 5.0,
        buffer_level: 0.0,
    })
    .unwrap();
    e.emit(end()).unwrap(); // closes the view: no qoe record
    let s = e.stats();
    assert_eq!((s.emitted, s.suppressed), (2, 7));
    let qoe = e.qoe().expect("QoE still works locally");
    assert_eq!(qoe.rebuffer_count, 1);
    assert_eq!(e.flush(WAIT), Ok(()));
    assert_eq!(e.pending_events().unwrap(), "[]");

    e.set_consent(true).unwrap();
    e.emit(load("https://cdn/d.m3u8")).unwrap();
    e.emit(end()).unwrap();
    e.flush(WAIT).unwrap();
    let s = e.stats();
    holds(&s);
    assert_eq!((s.emitted, s.delivered, s.discarded), (5, 3, 2));
    drop(e);
    assert!(collector.wait_for_records(3, WAIT));
    let got = received(&collector);
    let names: Vec<(&str, u64)> = got
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap(),
                r["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("load", 3), ("end", 4), ("qoe", 5)]);
    assert!(
        got[0]["metadata"].get("video_id").is_none(),
        "the suppressed view's metadata was cleared with it"
    );
}

/// A sink that blocks in its first delivery until released.
struct HoldingSink {
    entered: crossbeam_channel::Sender<()>,
    released: Mutex<bool>,
    cv: Condvar,
    got: Mutex<Vec<Value>>,
}

impl HoldingSink {
    /// The sink, and the receiver told when the worker enters it.
    fn new() -> (Arc<HoldingSink>, crossbeam_channel::Receiver<()>) {
        let (entered, entered_rx) = crossbeam_channel::unbounded();
        let sink = Arc::new(HoldingSink {
            entered,
            released: Mutex::new(false),
            cv: Condvar::new(),
            got: Mutex::new(Vec::new()),
        });
        (sink, entered_rx)
    }

    /// Lets the held delivery (and every later one) through.
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl BatchSink for HoldingSink {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        let _ = self.entered.try_send(());
        let mut released = self.released.lock().unwrap();
        while !*released {
            released = self.cv.wait(released).unwrap();
        }
        let v: Vec<Value> = serde_json::from_slice(body.json()).unwrap();
        self.got.lock().unwrap().extend(v);
        Outcome::Delivered
    }
}

#[test]
fn metadata_changes_never_lack_room_and_a_refused_metadata_record_is_a_counted_drop() {
    let (sink, entered_rx) = HoldingSink::new();
    let mut cfg = Config::default();
    cfg.set_queue_capacity(4).unwrap();
    cfg.set_flush_interval_ms(600_000).unwrap();
    cfg.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
    let e = Emitter::new(&cfg).unwrap();
    e.emit(load("https://cdn/m.m3u8")).unwrap();
    e.emit(end()).unwrap(); // urgent: the worker parks in the sink with 3 records
    entered_rx.recv_timeout(WAIT).expect("worker in the sink");
    // No view open: a change makes no record and has its own slots. With
    // the worker held, the 65th change finds its 64 slots taken and the
    // caller applies the waiting ones itself: none is refused.
    for i in 0..200 {
        e.set_metadata(Level::Session, "counter", Some(&i.to_string()))
            .unwrap();
    }
    assert_eq!(e.session_metadata()["counter"], "199");
    assert_eq!(e.stats().dropped, 0);
    // Events fill the queue; metadata changes still find room.
    e.emit(load("https://cdn/n.m3u8")).unwrap(); // memory full: 4 of 4
                                                 // A change of the open view needs room for its metadata record.
    let full = e
        .set_metadata(Level::View, "video_id", Some("a"))
        .unwrap_err();
    assert_eq!(full.kind, ErrorKind::QueueFull);
    assert!(full.message.contains("queue is full"), "{}", full.message);
    assert_eq!(e.stats().dropped, 1);
    e.set_metadata(Level::View, "video_id", None)
        .expect("no such key: no change, no record, room enough");
    assert!(e.emit(play(0.0)).is_err(), "events: the queue is full");
    sink.release();
    e.flush(WAIT).unwrap();
    let s = e.stats();
    holds(&s);
    assert_eq!(s.dropped, 2);
    assert_eq!(e.session_metadata()["counter"], "199");
    drop(e);
    let mut got = sink.got.lock().unwrap().clone();
    got.sort_by_key(|r| r["sequence"].as_u64().unwrap());
    let seqs: Vec<u64> = got
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    let max = *seqs.last().unwrap();
    assert_eq!(
        max - seqs.len() as u64,
        s.dropped,
        "sequence gaps are exactly the drops: {seqs:?}"
    );
}

#[test]
fn consent_withdrawn_during_a_long_delivery_times_out_then_discards_when_it_ends() {
    let (sink, entered_rx) = HoldingSink::new();
    let mut cfg = Config::default();
    cfg.set_request_timeout_ms(200).unwrap();
    cfg.set_batch_size(2).unwrap();
    cfg.set_flush_interval_ms(600_000).unwrap();
    cfg.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
    let e = Emitter::new(&cfg).unwrap();
    e.emit(load("https://cdn/h.m3u8")).unwrap();
    e.emit(play(0.0)).unwrap(); // a batch of 2: the worker parks in the sink
    entered_rx.recv_timeout(WAIT).expect("worker in the sink");
    for i in 0..3 {
        e.emit(play(f64::from(i))).unwrap();
    }
    let started = Instant::now();
    let err = e.set_consent(false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(err.message.contains("consent withdrawn"), "{}", err.message);
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "waited the bound"
    );
    assert_eq!(
        e.emit(play(9.0)).unwrap(),
        0,
        "later calls are suppressed at once"
    );
    sink.release();
    e.flush(WAIT).unwrap();
    let s = e.stats();
    holds(&s);
    assert_eq!(
        (s.emitted, s.delivered, s.discarded, s.suppressed),
        (5, 2, 3, 1),
        "the batch on the wire went; what waited was discarded"
    );
    drop(e);
    assert_eq!(sink.got.lock().unwrap().len(), 2);
}
