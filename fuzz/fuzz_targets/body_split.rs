//! Beacon bodies: `batch::pack` (records into JSON arrays within a byte
//! limit), `batch::split_in_halves` (a 413 answer) and `batch::to_ndjson`.
//!
//! Oracle, for records of every kind with arbitrary text and JSON data,
//! and any limit:
//! - `pack`: every record that fits a body on its own (its JSON plus 2
//!   bytes) is in exactly one body, in order, byte for byte; the others
//!   are counted in `oversized`; every body is `[r1,r2,…]` within the
//!   limit with `events` right; bodies are full (the next record would not
//!   have fit);
//! - halving a body again and again (what repeated 413s do) ends with every
//!   record exactly once, in order, each half `[…]` no larger than the
//!   body it came from, `events` adding up;
//! - NDJSON: one record per line, each line exactly a record's JSON.
//!
//! Arbitrary bytes given to `split_in_halves` / `to_ndjson` /
//! `count_records` (a body read from a spool file): no panic; a JSON
//! array (by syntax) is counted and split into halves holding its elements
//! in order, byte for byte; every NDJSON line is one element (no element
//! spread over lines).

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use kino::batch::{count_records, pack, split_in_halves, to_ndjson, Part};
use kino::event::{AnalyticsEvent, AnalyticsEventRecord, SessionId, StampedEvent};
use kino::{PlayerState, QualityChangeReason, Resolution};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;

fn finite(u: &mut Unstructured) -> arbitrary::Result<f64> {
    let x = f64::arbitrary(u)?;
    Ok(if x.is_finite() { x.abs() } else { 0.0 })
}

fn json(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=if depth > 3 { 3 } else { 5 })? {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => serde_json::Number::from_f64(f64::arbitrary(u)?)
            .map(Value::Number)
            .unwrap_or(Value::from(i64::arbitrary(u)?)),
        3 => Value::String(String::arbitrary(u)?),
        4 => Value::Array(
            (0..u.int_in_range(0..=4)?)
                .map(|_| json(u, depth + 1))
                .collect::<arbitrary::Result<_>>()?,
        ),
        _ => Value::Object(
            (0..u.int_in_range(0..=4)?)
                .map(|_| Ok((String::arbitrary(u)?, json(u, depth + 1)?)))
                .collect::<arbitrary::Result<_>>()?,
        ),
    })
}

fn event(u: &mut Unstructured) -> arbitrary::Result<AnalyticsEvent> {
    let states = [
        PlayerState::Idle,
        PlayerState::Loading,
        PlayerState::Playing,
        PlayerState::Paused,
        PlayerState::Buffering,
        PlayerState::Seeking,
        PlayerState::Ended,
        PlayerState::Error,
    ];
    let reasons = [
        QualityChangeReason::Abr,
        QualityChangeReason::Manual,
        QualityChangeReason::Buffer,
        QualityChangeReason::Initial,
    ];
    let resolution = |u: &mut Unstructured| -> arbitrary::Result<Option<Resolution>> {
        Ok(if bool::arbitrary(u)? {
            Some(Resolution {
                width: u32::arbitrary(u)?,
                height: u32::arbitrary(u)?,
            })
        } else {
            None
        })
    };
    Ok(match u.int_in_range(0..=11)? {
        0 => AnalyticsEvent::Load {
            url: String::arbitrary(u)?,
            is_live: bool::arbitrary(u)?,
        },
        1 => AnalyticsEvent::Play {
            position: finite(u)?,
        },
        2 => AnalyticsEvent::Pause {
            position: finite(u)?,
        },
        3 => AnalyticsEvent::Seek {
            from: finite(u)?,
            to: finite(u)?,
        },
        4 => AnalyticsEvent::Rebuffer {
            position: finite(u)?,
            buffer_level: finite(u)?,
        },
        5 => AnalyticsEvent::RebufferEnd {
            position: finite(u)?,
            duration: finite(u)?,
        },
        6 => AnalyticsEvent::QualityChange {
            from_bitrate: u64::arbitrary(u)?,
            to_bitrate: u64::arbitrary(u)?,
            from_resolution: resolution(u)?,
            to_resolution: resolution(u)?,
            reason: *u.choose(&reasons)?,
        },
        7 => AnalyticsEvent::StateChange {
            from: *u.choose(&states)?,
            to: *u.choose(&states)?,
            position: finite(u)?,
        },
        8 => AnalyticsEvent::End {
            position: finite(u)?,
            watch_time: finite(u)?,
        },
        9 => AnalyticsEvent::Error {
            code: String::arbitrary(u)?,
            message: String::arbitrary(u)?,
            fatal: bool::arbitrary(u)?,
            position: finite(u)?,
        },
        10 => AnalyticsEvent::Heartbeat {
            position: finite(u)?,
            buffer_level: finite(u)?,
            bitrate: u64::arbitrary(u)?,
            dropped_frames: u64::arbitrary(u)?,
            decoded_frames: u64::arbitrary(u)?,
        },
        _ => AnalyticsEvent::Custom {
            name: String::arbitrary(u)?,
            data: json(u, 0)?,
        },
    })
}

fn records(u: &mut Unstructured) -> arbitrary::Result<Vec<AnalyticsEventRecord>> {
    let session = SessionId(uuid::Uuid::from_u128(u128::arbitrary(u)?));
    let n = u.int_in_range(0..=40)?;
    (1..=n)
        .map(|sequence| {
            let stamped = StampedEvent {
                sequence,
                mono: kino::clock::Mono::from_nanos(sequence),
                timestamp: chrono::DateTime::from_timestamp(i64::from(u32::arbitrary(u)?), 0)
                    .unwrap_or_default(),
                event: event(u)?,
            };
            let view = if bool::arbitrary(u)? {
                Some(uuid::Uuid::from_u128(u128::arbitrary(u)?))
            } else {
                None
            };
            Ok(AnalyticsEventRecord::with_id(
                uuid::Uuid::from_u128(u128::arbitrary(u)?),
                session,
                stamped,
                view,
            ))
        })
        .collect()
}

/// The elements of a body, as the texts they have in it.
fn elements(json: &[u8]) -> Vec<Vec<u8>> {
    let records: Vec<&RawValue> = serde_json::from_slice(json).expect("a JSON array");
    records
        .iter()
        .map(|r| r.get().as_bytes().to_vec())
        .collect()
}

fn array(texts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"[".to_vec();
    out.extend_from_slice(&texts.join(&b","[..]));
    out.push(b']');
    out
}

/// Halves `part` down to single records, checking each split; returns
/// the record texts in order.
fn halve_down(part: &Part) -> Vec<Vec<u8>> {
    let texts = elements(&part.json);
    assert_eq!(part.events, texts.len() as u64);
    assert_eq!(count_records(&part.json), part.events);
    match split_in_halves(&part.json) {
        None => {
            assert!(texts.len() < 2, "{} records not split", texts.len());
            texts
        }
        Some((a, b)) => {
            assert!(texts.len() >= 2);
            assert_eq!(a.events, part.events / 2);
            assert_eq!(a.events + b.events, part.events);
            assert!(a.json.len() <= part.json.len() && b.json.len() <= part.json.len());
            let mut all = halve_down(&a);
            all.extend(halve_down(&b));
            assert_eq!(all, texts, "halves lost, doubled or reordered records");
            all
        }
    }
}

fn check_records(u: &mut Unstructured) -> arbitrary::Result<()> {
    let records = records(u)?;
    let max = match u.int_in_range(0..=3)? {
        0 => u.int_in_range(0..=64)?,
        1 => u.int_in_range(64..=1024)?,
        2 => u.int_in_range(1024..=16384)?,
        _ => usize::MAX,
    };
    let texts: Vec<Vec<u8>> = records
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap())
        .collect();
    let (parts, oversized) = pack(&records, max);
    let fits: Vec<Vec<u8>> = texts
        .iter()
        .filter(|t| t.len().saturating_add(2) <= max)
        .cloned()
        .collect();
    assert_eq!(oversized, (texts.len() - fits.len()) as u64, "oversized");
    let mut packed = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            part.json.len() <= max,
            "body of {} bytes over {max}",
            part.json.len()
        );
        assert!(part.events > 0, "empty body");
        let inside = elements(&part.json);
        assert_eq!(part.json, array(&inside), "not a compact JSON array");
        if let Some(next) = parts.get(i + 1) {
            let first = elements(&next.json).remove(0);
            assert!(
                part.json.len() + 1 + first.len() > max,
                "the next record would have fit"
            );
        }
        assert_eq!(halve_down(part), inside);
        let ndjson = to_ndjson(&part.json).unwrap();
        let mut want = inside.join(&b"\n"[..]);
        want.push(b'\n');
        assert_eq!(ndjson, want, "NDJSON");
        packed.extend(inside);
    }
    assert_eq!(packed, fits, "every record that fits, once, in order");
    Ok(())
}

/// The element texts of a JSON array (by syntax: serde_json's RawValue,
/// which checks numbers' syntax, not their range), if it is one.
fn raw_elements(bytes: &[u8]) -> Option<Vec<String>> {
    let records: Vec<&RawValue> = serde_json::from_slice(bytes).ok()?;
    Some(records.iter().map(|r| r.get().to_owned()).collect())
}

fn check_bytes(bytes: &[u8]) {
    let parsed = raw_elements(bytes);
    let n = count_records(bytes);
    assert_eq!(n, parsed.as_ref().map_or(0, |v| v.len() as u64));
    match (split_in_halves(bytes), &parsed) {
        (Some((a, b)), Some(elements)) => {
            assert!(elements.len() >= 2);
            let mut halves = raw_elements(&a.json).expect("a half is an array");
            halves.extend(raw_elements(&b.json).expect("a half is an array"));
            assert_eq!(&halves, elements, "halves of an array");
            assert_eq!(a.events + b.events, elements.len() as u64);
        }
        (None, Some(elements)) => assert!(
            elements.len() < 2,
            "an array of {} not split",
            elements.len()
        ),
        (None, None) => {}
        (Some(_), None) => panic!("split something that is not a JSON array"),
    }
    match (to_ndjson(bytes), &parsed) {
        (Some(text), Some(elements)) => {
            let text = String::from_utf8(text).expect("UTF-8");
            let lines: Vec<&str> = text.split_terminator('\n').collect();
            assert_eq!(lines.len(), elements.len(), "one line per record: {text:?}");
            for (line, element) in lines.iter().zip(elements) {
                let got: &RawValue = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("NDJSON line {line:?} is not JSON: {e}"));
                let want: Value = serde_json::from_str(element).unwrap_or(Value::Null);
                let got: Value = serde_json::from_str(got.get()).unwrap_or(Value::Null);
                assert_eq!(got, want, "NDJSON line {line:?} for {element:?}");
            }
        }
        (None, None) => {}
        (got, _) => panic!("to_ndjson: {got:?} for {parsed:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 4 == 0 {
        check_bytes(rest);
    } else {
        let _ = check_records(&mut Unstructured::new(rest));
    }
});
