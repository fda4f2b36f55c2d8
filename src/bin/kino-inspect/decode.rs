//! A beacon body back to kino records, whichever format kino sent it in:
//! a JSON array (CONTRACT.md §3), NDJSON, or OTLP/JSON logs (docs/OTLP.md),
//! gzip-compressed or not.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// The layout a body came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonArray,
    Ndjson,
    OtlpJson,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::JsonArray => "JSON array",
            Format::Ndjson => "NDJSON",
            Format::OtlpJson => "OTLP/JSON",
        }
    }
}

/// What one body held.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub format: Format,
    pub gzip: bool,
    pub records: Vec<Value>,
    /// Session metadata an OTLP resource carried (`kino.metadata.<key>`,
    /// and `service.name`), by session id.
    pub session_metadata: BTreeMap<String, BTreeMap<String, String>>,
}

/// Largest body accepted after decompression.
const MAX_BODY: u64 = 64 << 20;

/// Decodes a body; `content_encoding` is the request's header, if any.
pub fn decode(body: &[u8], content_encoding: Option<&str>) -> Result<Decoded, String> {
    let gzip = content_encoding.is_some_and(|e| e.eq_ignore_ascii_case("gzip"))
        || body.starts_with(&[0x1f, 0x8b]);
    let plain = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .take(MAX_BODY)
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip body does not decompress: {e}"))?;
        out
    } else {
        body.to_vec()
    };
    let text = std::str::from_utf8(&plain).map_err(|e| format!("body is not UTF-8: {e}"))?;
    let trimmed = text.trim_start();
    let mut decoded = Decoded {
        format: Format::Ndjson,
        gzip,
        records: Vec::new(),
        session_metadata: BTreeMap::new(),
    };
    if trimmed.starts_with('[') {
        decoded.format = Format::JsonArray;
        decoded.records = match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(_) => unreachable!("starts with ["),
            Err(e) => return Err(format!("body is not a JSON array: {e}")),
        };
    } else if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) {
        if obj.contains_key("resourceLogs") {
            decoded.format = Format::OtlpJson;
            otlp_records(&obj, &mut decoded)?;
        } else {
            decoded.records.push(Value::Object(obj));
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line)
                .map_err(|e| format!("line {} is not JSON: {e}", i + 1))?;
            decoded.records.push(v);
        }
        if decoded.records.is_empty() {
            return Err("body holds no record".into());
        }
    }
    if let Some(i) = decoded.records.iter().position(|r| !r.is_object()) {
        return Err(format!("record {} is not a JSON object", i + 1));
    }
    Ok(decoded)
}

/// OTLP/JSON `ExportLogsServiceRequest` → kino records.
fn otlp_records(request: &Map<String, Value>, out: &mut Decoded) -> Result<(), String> {
    let resource_logs = request["resourceLogs"]
        .as_array()
        .ok_or("resourceLogs is not an array")?;
    for rl in resource_logs {
        let mut session = String::new();
        let mut metadata = BTreeMap::new();
        for kv in list(&rl["resource"]["attributes"]) {
            let key = kv["key"].as_str().unwrap_or_default();
            let value = any_value(&kv["value"]);
            let text = value
                .as_str()
                .map(str::to_owned)
                .unwrap_or(value.to_string());
            if key == "session.id" {
                session = text;
            } else if key == "service.name" {
                metadata.insert("service.name".to_owned(), text);
            } else if let Some(k) = key.strip_prefix("kino.metadata.") {
                metadata.insert(k.to_owned(), text);
            }
        }
        for sl in list(&rl["scopeLogs"]) {
            for log in list(&sl["logRecords"]) {
                out.records.push(otlp_record(log, &session));
            }
        }
        if !session.is_empty() {
            out.session_metadata.insert(session, metadata);
        }
    }
    Ok(())
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn otlp_record(log: &Value, session: &str) -> Value {
    let mut record = Map::new();
    let mut fields = Map::new();
    let nanos = [&log["timeUnixNano"], &log["observedTimeUnixNano"]]
        .into_iter()
        .filter_map(|v| {
            v.as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .or(v.as_i64())
        })
        .find(|n| *n > 0);
    for kv in list(&log["attributes"]) {
        let key = kv["key"].as_str().unwrap_or_default();
        let value = any_value(&kv["value"]);
        match key.strip_prefix("kino.") {
            Some(field) => {
                fields.insert(field.to_owned(), value);
            }
            None if key == "session.id" => {
                record.insert("session_id".into(), value);
            }
            None => {
                fields.insert(key.to_owned(), value);
            }
        }
    }
    // The record's own field order: identity first, then the event's.
    for k in ["id"] {
        if let Some(v) = fields.remove(k) {
            record.insert(k.into(), v);
        }
    }
    record
        .entry("session_id")
        .or_insert_with(|| Value::String(session.to_owned()));
    if let Some(n) = nanos {
        let t = DateTime::<Utc>::from_timestamp_nanos(n);
        record.insert(
            "timestamp".into(),
            t.to_rfc3339_opts(SecondsFormat::AutoSi, true).into(),
        );
    }
    for k in ["sequence", "view_id", "event"] {
        if let Some(v) = fields.remove(k) {
            record.insert(k.into(), v);
        }
    }
    if !record.contains_key("event") {
        let name = log["eventName"].as_str().unwrap_or_default();
        record.insert(
            "event".into(),
            name.strip_prefix("kino.").unwrap_or(name).into(),
        );
    }
    record.extend(fields);
    Value::Object(record)
}

/// An OTLP `AnyValue` as plain JSON (`{}` is null).
fn any_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return Value::Null;
    };
    if let Some(s) = obj.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = obj.get("boolValue") {
        return b.clone();
    }
    if let Some(i) = obj.get("intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map_or(i.clone(), Value::from),
            other => other.clone(),
        };
    }
    if let Some(d) = obj.get("doubleValue") {
        return d
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(d.clone(), Value::Number);
    }
    if let Some(a) = obj.get("arrayValue") {
        return Value::Array(list(&a["values"]).iter().map(any_value).collect());
    }
    if let Some(kv) = obj.get("kvlistValue") {
        return Value::Object(
            list(&kv["values"])
                .iter()
                .map(|kv| {
                    (
                        kv["key"].as_str().unwrap_or_default().to_owned(),
                        any_value(&kv["value"]),
                    )
                })
                .collect(),
        );
    }
    if let Some(b) = obj.get("bytesValue") {
        return b.clone();
    }
    Value::Null
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use kino::event::{AnalyticsEvent, AnalyticsEventRecord, SessionId, StampedEvent};
    use kino::otlp::{encode_logs, OtlpResource};
    use serde_json::json;

    fn body() -> (SessionId, Vec<u8>) {
        let session = SessionId::new();
        let events = vec![
            AnalyticsEvent::Load {
                url: "https://cdn/a.m3u8".into(),
                is_live: false,
            },
            AnalyticsEvent::Play { position: 0.0 },
            AnalyticsEvent::Custom {
                name: "n".into(),
                data: json!({"a": [1, 2.5, null, {"b": true}], "c": null}),
            },
        ];
        let records: Vec<AnalyticsEventRecord> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                AnalyticsEventRecord::new(
                    session,
                    StampedEvent {
                        sequence: i as u64 + 1,
                        timestamp: Utc::now(),
                        event,
                        mono: kino::clock::Mono::default(),
                    },
                    Some(uuid::Uuid::new_v4()),
                )
            })
            .collect();
        (session, serde_json::to_vec(&records).unwrap())
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn all_three_formats_give_the_same_records_gzip_or_not() {
        let (session, array) = body();
        let original: Vec<Value> = serde_json::from_slice(&array).unwrap();
        let ndjson = kino::batch::to_ndjson(&array).unwrap();
        let mut resource = OtlpResource::new(session);
        resource.metadata.insert("video_cdn".into(), "cdn-1".into());
        let otlp = encode_logs(&array, &resource, SystemTime::now()).unwrap();
        for (bytes, format) in [
            (&array, Format::JsonArray),
            (&ndjson, Format::Ndjson),
            (&otlp, Format::OtlpJson),
        ] {
            for zipped in [false, true] {
                let input = if zipped { gzip(bytes) } else { bytes.clone() };
                let encoding = zipped.then_some("gzip");
                let d = decode(&input, encoding).unwrap();
                assert_eq!((d.format, d.gzip), (format, zipped));
                assert_eq!(d.records, original, "{format:?} gzip={zipped}");
            }
        }
        let d = decode(&otlp, None).unwrap();
        assert_eq!(
            d.session_metadata[&session.to_string()]["video_cdn"],
            "cdn-1"
        );
    }

    #[test]
    fn what_is_not_kino_is_an_error() {
        for bad in [
            &b""[..],
            b"[1,2",
            b"{\"a\":1}\nnot json",
            b"[1]",
            b"\x1f\x8bnot gzip",
        ] {
            assert!(
                decode(bad, None).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
