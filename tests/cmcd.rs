//! `kino_emitter_cmcd` decoded by an independent CTA-5004 implementation:
//! npm's `@svta/cml-cmcd` (what hls.js and dash.js build on), installed in
//! tests/js by scripts/test-deps.sh and run with node. A scripted view
//! goes through its states; at each, both forms decode to exactly the
//! keys and values the view's state implies (ids from its records).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kino::cmcd::Form;
use kino::event::{AnalyticsEvent, QualityChangeReason};
use kino::metadata::Level;
use kino::transport::{BatchSink, Body, Outcome};
use kino::{Config, Emitter};
use serde_json::{json, Value};

mod support;

#[derive(Default)]
struct Keep(Mutex<Vec<Value>>);

impl BatchSink for Keep {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        let v: Vec<Value> = serde_json::from_slice(body.json()).unwrap();
        self.0.lock().unwrap().extend(v);
        Outcome::Delivered
    }
}

/// Decodes each `(query, headers)` pair with @svta/cml-cmcd.
fn decode(cases: &[(String, String)]) -> Vec<(Value, Value)> {
    let dir = support::cbuild::root().join("tests/js");
    assert!(
        dir.join("node_modules/@svta/cml-cmcd").exists(),
        "@svta/cml-cmcd is not installed: run scripts/test-deps.sh (npm ci in tests/js)"
    );
    let input: Vec<Value> = cases
        .iter()
        .map(|(q, h)| json!({"query": q, "headers": h}))
        .collect();
    let mut child = Command::new("node")
        .arg("cmcd_decode.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (scripts/test-deps.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    decoded
        .into_iter()
        .map(|d| (d["query"].clone(), d["headers"].clone()))
        .collect()
}

#[test]
fn cmcd_decodes_to_the_views_state_with_an_independent_decoder() {
    let sink = Arc::new(Keep::default());
    let mut config = Config::default();
    config.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
    let e = Emitter::new(&config).unwrap();
    let session = e.session_id().to_string();
    use AnalyticsEvent::*;

    // After each step, both forms and what they must say ("VIEW1" stands
    // for that view's id, read from its records afterwards).
    let mut cases: Vec<(String, String)> = Vec::new();
    let mut want: Vec<Value> = Vec::new();
    let mut cmcd = |expect: Value| {
        // The query form first; the header form then sees no new stall.
        let query = e.cmcd(Form::Query);
        let headers = e.cmcd(Form::Headers);
        cases.push((query, headers));
        let mut second = expect.clone();
        second.as_object_mut().unwrap().remove("bs");
        want.push(json!([expect, second]));
    };

    cmcd(json!({"sid": session}));
    e.set_metadata(Level::View, "video_id", Some("movie \"42\" é"))
        .unwrap();
    e.emit(Load {
        url: "https://cdn/a.m3u8".into(),
        is_live: false,
    })
    .unwrap();
    let cid = "movie \"42\" %C3%A9";
    cmcd(json!({"sid": "VIEW1", "cid": cid, "st": "v", "su": true}));
    e.emit(QualityChange {
        from_bitrate: 0,
        to_bitrate: 2_500_400,
        from_resolution: None,
        to_resolution: None,
        reason: QualityChangeReason::Initial,
    })
    .unwrap();
    e.emit(Play { position: 0.0 }).unwrap();
    cmcd(json!({"sid": "VIEW1", "cid": cid, "st": "v", "br": 2500}));
    e.emit(Heartbeat {
        position: 4.0,
        buffer_level: 12.349,
        bitrate: 0, // unknown: keeps 2500
        dropped_frames: 0,
        decoded_frames: 100,
    })
    .unwrap();
    cmcd(json!({"sid": "VIEW1", "cid": cid, "st": "v", "br": 2500, "bl": 12300}));
    e.emit(Rebuffer {
        position: 5.0,
        buffer_level: 0.06,
    })
    .unwrap();
    cmcd(
        json!({"sid": "VIEW1", "cid": cid, "st": "v", "br": 2500, "bl": 100, "su": true, "bs": true}),
    );
    e.emit(RebufferEnd {
        position: 5.0,
        duration: 0.5,
    })
    .unwrap();
    e.emit(QualityChange {
        from_bitrate: 2_500_400,
        to_bitrate: 800_000,
        from_resolution: None,
        to_resolution: None,
        reason: QualityChangeReason::Buffer,
    })
    .unwrap();
    cmcd(json!({"sid": "VIEW1", "cid": cid, "st": "v", "br": 800, "bl": 100}));
    e.emit(End {
        position: 9.0,
        watch_time: 9.0,
    })
    .unwrap();
    cmcd(json!({"sid": session}));
    e.emit(Load {
        url: "https://cdn/live.m3u8".into(),
        is_live: true,
    })
    .unwrap();
    cmcd(json!({"sid": "VIEW2", "st": "l", "su": true}));
    e.flush(Duration::from_secs(10)).unwrap();
    drop(e);

    let records = sink.0.lock().unwrap().clone();
    let loads: Vec<String> = records
        .iter()
        .filter(|r| r["event"] == "load")
        .map(|r| r["view_id"].as_str().unwrap().to_owned())
        .collect();
    let views: BTreeMap<&str, &str> =
        [("VIEW1", loads[0].as_str()), ("VIEW2", loads[1].as_str())].into();

    let decoded = decode(&cases);
    assert_eq!(decoded.len(), want.len());
    let with_ids = |expect: &Value| {
        let mut expect = expect.clone();
        if let Some(sid) = views.get(expect["sid"].as_str().unwrap()) {
            expect["sid"] = json!(sid);
        }
        expect
    };
    for (i, ((query, headers), expect)) in decoded.iter().zip(&want).enumerate() {
        assert_eq!(
            query,
            &with_ids(&expect[0]),
            "case {i}, query form: {}",
            cases[i].0
        );
        // The header form was asked second: `bs` was reported already.
        assert_eq!(
            headers,
            &with_ids(&expect[1]),
            "case {i}, header form: {:?}",
            cases[i].1
        );
    }
}

/// Outside a view only `sid` is sent (docs/EVENTS.md), even when the next
/// view's `video_id` is already set.
#[test]
fn outside_a_view_only_sid_is_sent() {
    let mut config = Config::default();
    config.set_batch_sink(Some(Arc::new(Keep::default()) as Arc<dyn BatchSink>));
    let e = Emitter::new(&config).unwrap();
    let session = e.session_id().to_string();
    e.set_metadata(Level::View, "video_id", Some("next-movie"))
        .unwrap();
    assert_eq!(
        e.cmcd(Form::Headers),
        format!("CMCD-Session: sid=\"{session}\"\r\n")
    );
    assert_eq!(e.cmcd(Form::Query), format!("CMCD=sid%3D%22{session}%22"));
    e.emit(AnalyticsEvent::Load {
        url: "https://cdn/a.m3u8".into(),
        is_live: false,
    })
    .unwrap();
    assert!(e.cmcd(Form::Headers).contains("cid=\"next-movie\""));
    // A stall not yet reported when its view closes is not reported after.
    e.emit(AnalyticsEvent::Play { position: 0.0 }).unwrap();
    e.emit(AnalyticsEvent::Rebuffer {
        position: 1.0,
        buffer_level: 0.0,
    })
    .unwrap();
    e.emit(AnalyticsEvent::End {
        position: 1.0,
        watch_time: 1.0,
    })
    .unwrap();
    assert_eq!(
        e.cmcd(Form::Headers),
        format!("CMCD-Session: sid=\"{session}\"\r\n")
    );
}

/// `bs` is a stall of the open view since the last request: one begun in
/// an earlier view and never reported is not carried into the next view.
#[test]
fn a_stall_of_an_earlier_view_is_not_the_next_views_bs() {
    let mut config = Config::default();
    config.set_batch_sink(Some(Arc::new(Keep::default()) as Arc<dyn BatchSink>));
    let e = Emitter::new(&config).unwrap();
    let load = || AnalyticsEvent::Load {
        url: "https://cdn/a.m3u8".into(),
        is_live: false,
    };
    let stall = |position: f64| AnalyticsEvent::Rebuffer {
        position,
        buffer_level: 0.0,
    };
    e.emit(load()).unwrap();
    e.emit(AnalyticsEvent::Play { position: 0.0 }).unwrap();
    e.emit(stall(1.0)).unwrap();
    e.emit(AnalyticsEvent::RebufferEnd {
        position: 1.0,
        duration: 0.5,
    })
    .unwrap();
    // The second view opens with view 1's stall never asked about.
    e.emit(load()).unwrap();
    e.emit(AnalyticsEvent::Play { position: 0.0 }).unwrap();
    assert!(!e.cmcd(Form::Headers).contains("bs"), "view 1's stall");
    e.emit(stall(2.0)).unwrap();
    assert!(e.cmcd(Form::Headers).contains("bs"), "view 2's own stall");
    assert!(!e.cmcd(Form::Headers).contains("bs"), "reported once");
}
