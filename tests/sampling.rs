//! Session sampling at rate 0.1 over 10 000 emitters: the share sampled in
//! is within 5 binomial standard deviations of 1 000, the rule written in
//! docs/EVENTS.md (recomputed here from each session id's text, in exact
//! integer arithmetic) reproduces every decision, sampled-out sessions
//! send nothing and spool nothing (their spool directory is never even
//! made), sampled-in ones carry `sample_rate`, and no worker thread is
//! left behind. The only test in this binary, so its thread count is its
//! own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kino::event::AnalyticsEvent;
use kino::transport::{BatchSink, Body, Outcome};
use kino::{Config, Emitter};
use serde_json::Value;

const EMITTERS: usize = 10_000;
const RATE: f64 = 0.1;
/// Emitters (of the first ones) given a spool directory of their own.
const SPOOLED: usize = 300;

/// One sink shared by every emitter: the records it got, by session.
#[derive(Default)]
struct Shared {
    by_session: Mutex<BTreeMap<String, Vec<Value>>>,
}

impl BatchSink for Shared {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        let records: Vec<Value> = serde_json::from_slice(body.json()).unwrap();
        let mut map = self.by_session.lock().unwrap();
        for r in records {
            let id = r["session_id"].as_str().unwrap().to_owned();
            map.entry(id).or_default().push(r);
        }
        Outcome::Delivered
    }
}

/// docs/EVENTS.md's rule, exactly: the first 16 hex digits of the id as
/// `u`, sampled in when `u < rate * 2^64`. The product is worked out from
/// the double's bits (rate = m * 2^e), so no floating point is involved.
fn docs_rule(session_id: &str, rate: f64) -> bool {
    let hex: String = session_id.chars().filter(|c| *c != '-').take(16).collect();
    let u = u128::from(u64::from_str_radix(&hex, 16).unwrap());
    let bits = rate.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let (m, e) = if exp == 0 {
        (u128::from(bits & ((1 << 52) - 1)), -1074)
    } else {
        (u128::from((bits & ((1 << 52) - 1)) | (1 << 52)), exp - 1075)
    };
    // u < m * 2^(e + 64), both sides exact integers.
    let up = e + 64;
    if up >= 0 {
        assert!(up < 64);
        u < (m << up)
    } else {
        // u < m / 2^-up  <=>  u * 2^-up < m (m < 2^53: only u = 0 when
        // the shift passes 64)
        let down = -up;
        if down > 64 {
            u == 0
        } else {
            (u << down) < m
        }
    }
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn ten_thousand_sessions_sample_at_the_rate_by_the_documented_rule() {
    // The documented boundary at rate 0.5 is u = 2^63.
    assert!(docs_rule("7fffffff-ffff-4fff-bfff-ffffffffffff", 0.5));
    assert!(!docs_rule("80000000-0000-4000-8000-000000000000", 0.5));
    assert!(!docs_rule(
        "00000000-0000-4000-8000-000000000000",
        f64::MIN_POSITIVE
    ));
    assert!(docs_rule("00000000-0000-0000-8000-000000000000", 1e-300));
    let sink = Arc::new(Shared::default());
    let root = std::env::temp_dir().join(format!("kino-sampling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let threads_before = thread_count();
    let start = Instant::now();
    let mut decisions: Vec<(String, bool)> = Vec::with_capacity(EMITTERS);
    let mut spool_dirs = Vec::new();
    for i in 0..EMITTERS {
        let mut config = Config::default();
        config.set_sample_rate(RATE).unwrap();
        config.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
        if i < SPOOLED {
            let dir = root.join(i.to_string());
            config.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
            spool_dirs.push(dir);
        }
        let e = Emitter::new(&config).unwrap();
        e.emit(AnalyticsEvent::Load {
            url: "https://cdn/s.m3u8".into(),
            is_live: false,
        })
        .unwrap();
        e.emit(AnalyticsEvent::Play { position: 0.0 }).unwrap();
        e.emit(AnalyticsEvent::End {
            position: 1.0,
            watch_time: 1.0,
        })
        .unwrap();
        let s = e.stats();
        if e.sampled() {
            assert_eq!((s.emitted, s.suppressed), (4, 0), "{s:?}");
        } else {
            assert_eq!((s.emitted, s.suppressed, s.queued), (0, 3, 0), "{s:?}");
        }
        decisions.push((e.session_id().to_string(), e.sampled()));
        drop(e);
    }
    let elapsed = start.elapsed();

    let sampled = decisions.iter().filter(|(_, s)| *s).count();
    // Binomial(10 000, 0.1): mean 1000, sd 30; 5 sd either side.
    let sd = (EMITTERS as f64 * RATE * (1.0 - RATE)).sqrt();
    let expected = EMITTERS as f64 * RATE;
    assert!(
        (sampled as f64 - expected).abs() <= 5.0 * sd,
        "{sampled} of {EMITTERS} sampled in at rate {RATE} (expected {expected} ± {})",
        5.0 * sd
    );
    for (id, decided) in &decisions {
        assert_eq!(*decided, docs_rule(id, RATE), "session {id}");
    }

    let by_session = sink.by_session.lock().unwrap();
    for (id, decided) in &decisions {
        match by_session.get(id) {
            Some(records) => {
                assert!(decided, "sampled-out session {id} sent {records:?}");
                assert_eq!(records.len(), 4);
                for r in records {
                    let carries = r.get("sample_rate").is_some();
                    let should = r["event"] == "load" || r["event"] == "qoe";
                    assert_eq!(carries, should, "{r}");
                    if carries {
                        assert_eq!(r["sample_rate"], RATE);
                    }
                }
            }
            None => assert!(!decided, "sampled-in session {id} sent nothing"),
        }
    }
    for (dir, (id, decided)) in spool_dirs.iter().zip(&decisions) {
        assert_eq!(dir.exists(), *decided, "spool of session {id}");
    }
    assert_eq!(thread_count(), threads_before, "worker threads left behind");
    eprintln!(
        "sampling: {EMITTERS} emitters in {:.2} s, {sampled} sampled in",
        elapsed.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&root);
}
