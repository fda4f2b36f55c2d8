//! Turning records into beacon bodies within a byte limit, and splitting a
//! body in halves (for a collector that answers 413).

use serde_json::value::RawValue;

use crate::event::AnalyticsEventRecord;

/// One body ready to send: a JSON array of records, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The JSON array text.
    pub json: Vec<u8>,
    /// Records in it.
    pub events: u64,
}

/// Packs records, oldest first, into JSON-array bodies of at most
/// `max_bytes` each. A single record too large for any body on its own is
/// returned in `oversized` (to be counted as failed), never sent.
pub fn pack(records: &[AnalyticsEventRecord], max_bytes: usize) -> (Vec<Part>, u64) {
    let mut parts = Vec::new();
    let mut oversized = 0u64;
    let mut current: Vec<u8> = Vec::new();
    let mut count = 0u64;
    for record in records {
        let Ok(json) = serde_json::to_vec(record) else {
            oversized += 1;
            continue;
        };
        // "[" + record + "]" is the smallest body holding it.
        if json.len() + 2 > max_bytes {
            oversized += 1;
            continue;
        }
        if count > 0 && current.len() + 1 + json.len() + 1 > max_bytes {
            current.push(b']');
            parts.push(Part {
                json: std::mem::take(&mut current),
                events: count,
            });
            count = 0;
        }
        current.push(if count == 0 { b'[' } else { b',' });
        current.extend_from_slice(&json);
        count += 1;
    }
    if count > 0 {
        current.push(b']');
        parts.push(Part {
            json: current,
            events: count,
        });
    }
    (parts, oversized)
}

/// Splits a body of two or more records into two halves, keeping each
/// record's text byte for byte. `None` for a single record or a body that
/// is not a JSON array.
pub fn split_in_halves(json: &[u8]) -> Option<(Part, Part)> {
    let records: Vec<&RawValue> = serde_json::from_slice(json).ok()?;
    if records.len() < 2 {
        return None;
    }
    let (a, b) = records.split_at(records.len() / 2);
    let join = |rs: &[&RawValue]| {
        let mut out = Vec::with_capacity(json.len() / 2 + 2);
        out.push(b'[');
        for (i, r) in rs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(r.get().as_bytes());
        }
        out.push(b']');
        Part {
            json: out,
            events: rs.len() as u64,
        }
    };
    Some((join(a), join(b)))
}

/// Re-lays a JSON-array body as newline-delimited JSON: one record per
/// line, each record's text unchanged but for line breaks between its
/// tokens (a body read back from a spool file may be pretty-printed), which
/// are dropped. `None` if it is not an array.
pub fn to_ndjson(json: &[u8]) -> Option<Vec<u8>> {
    let records: Vec<&RawValue> = serde_json::from_slice(json).ok()?;
    let mut out = Vec::with_capacity(json.len());
    for r in records {
        // Valid JSON holds CR and LF only as whitespace between tokens
        // (inside strings they are escaped), so dropping them is safe.
        out.extend(r.get().bytes().filter(|b| !matches!(b, b'\n' | b'\r')));
        out.push(b'\n');
    }
    Some(out)
}

/// Counts the records in a JSON-array body (0 if it is not one).
pub fn count_records(json: &[u8]) -> u64 {
    serde_json::from_slice::<Vec<&RawValue>>(json).map_or(0, |v| v.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AnalyticsEvent, SessionId, StampedEvent};

    fn records(n: u64) -> Vec<AnalyticsEventRecord> {
        let session = SessionId::new();
        (1..=n)
            .map(|i| {
                AnalyticsEventRecord::new(
                    session,
                    StampedEvent {
                        sequence: i,
                        timestamp: chrono::Utc::now(),
                        event: AnalyticsEvent::Play { position: i as f64 },
                        mono: crate::clock::Mono::default(),
                    },
                    None,
                )
            })
            .collect()
    }

    fn seqs(part: &Part) -> Vec<u64> {
        let v: Vec<serde_json::Value> = serde_json::from_slice(&part.json).unwrap();
        v.iter().map(|r| r["sequence"].as_u64().unwrap()).collect()
    }

    #[test]
    fn one_part_when_it_fits() {
        let (parts, over) = pack(&records(5), 1 << 20);
        assert_eq!((parts.len(), over), (1, 0));
        assert_eq!(seqs(&parts[0]), [1, 2, 3, 4, 5]);
        assert_eq!(parts[0].events, 5);
    }

    #[test]
    fn parts_never_exceed_the_limit_and_keep_order() {
        let rs = records(50);
        let one = serde_json::to_vec(&rs[0]).unwrap().len();
        let limit = one * 3 + 10;
        let (parts, over) = pack(&rs, limit);
        assert_eq!(over, 0);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.json.len() <= limit));
        let all: Vec<u64> = parts.iter().flat_map(seqs).collect();
        assert_eq!(all, (1..=50).collect::<Vec<_>>());
        assert_eq!(parts.iter().map(|p| p.events).sum::<u64>(), 50);
    }

    #[test]
    fn a_record_larger_than_the_limit_is_set_aside() {
        let (parts, over) = pack(&records(3), 20);
        assert!(parts.is_empty());
        assert_eq!(over, 3);
    }

    #[test]
    fn halves_keep_every_record_once() {
        let (parts, _) = pack(&records(5), 1 << 20);
        let (a, b) = split_in_halves(&parts[0].json).unwrap();
        assert_eq!(seqs(&a), [1, 2]);
        assert_eq!(seqs(&b), [3, 4, 5]);
        assert_eq!((a.events, b.events), (2, 3));
        let (single, _) = pack(&records(1), 1 << 20);
        assert!(split_in_halves(&single[0].json).is_none());
        assert!(split_in_halves(b"not json").is_none());
        assert_eq!(count_records(&parts[0].json), 5);
    }

    #[test]
    fn ndjson_is_one_record_per_line() {
        let (parts, _) = pack(&records(3), 1 << 20);
        let text = String::from_utf8(to_ndjson(&parts[0].json).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        for (i, line) in lines.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["sequence"], i as u64 + 1);
        }
        assert!(text.ends_with('\n'));
        assert!(to_ndjson(b"{}").is_none());
    }

    /// Found by fuzz/body_split: a record with line breaks between its
    /// tokens (a pretty-printed body from a spool file) spread over several
    /// NDJSON lines, none of them a record.
    #[test]
    fn ndjson_records_never_span_lines() {
        let body = b"[{\"a\":\n  [1,\r\n 2]},\n {\"s\":\"x\\ny\"}]";
        let text = String::from_utf8(to_ndjson(body).unwrap()).unwrap();
        assert_eq!(text, "{\"a\":  [1, 2]}\n{\"s\":\"x\\ny\"}\n");
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }
}
