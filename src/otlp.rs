//! OTLP/HTTP logs in the OTLP/JSON encoding (`KINO_FORMAT_OTLP_JSON`): one
//! beacon body (a JSON array of records, CONTRACT.md §3) becomes one
//! `ExportLogsServiceRequest`, and a collector's answer is read back for
//! its partial success. Pure functions over bytes: nothing here sends,
//! retries or counts. The mapping is documented in `docs/OTLP.md`.
//!
//! Shape of one request (keys are lowerCamelCase, as OTLP/JSON requires;
//! 64-bit integers are decimal strings):
//!
//! ```text
//! {"resourceLogs":[{"resource":{"attributes":[service.name, telemetry.sdk.*,
//!    session.id, kino.metadata.<key>…]},
//!   "scopeLogs":[{"scope":{"name":"kino","version":"<kino version>"},
//!    "logRecords":[{"timeUnixNano":"…","observedTimeUnixNano":"…",
//!      "severityNumber":9,"severityText":"INFO","eventName":"kino.play",
//!      "attributes":[{"key":"kino.id","value":{"stringValue":"…"}},
//!                    {"key":"kino.sequence","value":{"intValue":"7"}}, …]}]}]}]}
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::event::SessionId;

/// The `Content-Type` of an OTLP/JSON request.
pub const CONTENT_TYPE: &str = "application/json";
/// The instrumentation scope name (`scopeLogs[0].scope.name`) and the
/// `telemetry.sdk.name` resource attribute.
pub const SCOPE_NAME: &str = "kino";
/// Prefix of every log record attribute kino writes, and of `eventName`.
pub const ATTRIBUTE_PREFIX: &str = "kino.";
/// Prefix of the resource attributes that carry session metadata.
pub const METADATA_PREFIX: &str = "kino.metadata.";
/// `service.name` when the session has no `app_name` metadata (the
/// OpenTelemetry SDK rule for an unknown service).
pub const UNKNOWN_SERVICE: &str = "unknown_service";
/// Containers nested deeper than this inside a record (a custom event's
/// `data`) are sent as their JSON text in a `stringValue`, so no receiver
/// meets a request deeper than its parser allows.
pub(crate) const MAX_NESTING: usize = 16;

/// OpenTelemetry `SeverityNumber` INFO: every record but errors.
pub(crate) const SEVERITY_INFO: u8 = 9;
/// `SeverityNumber` WARN: a non-fatal `error` (the player recovered).
pub(crate) const SEVERITY_WARN: u8 = 13;
/// `SeverityNumber` ERROR: a fatal `error` (playback stopped).
pub(crate) const SEVERITY_ERROR: u8 = 17;

/// What the resource of every request from one emitter says: filled by
/// the emitter for each beacon (metadata may change during a session).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OtlpResource {
    /// `session.id`: the emitter's session id. When empty, the first
    /// record's `session_id` is used.
    pub session_id: String,
    /// `service.name`; [`UNKNOWN_SERVICE`] when `None`.
    pub service_name: Option<String>,
    /// Session metadata, sent as `kino.metadata.<key>` string attributes.
    pub metadata: BTreeMap<String, String>,
}

impl OtlpResource {
    /// A resource for `session` without metadata.
    pub fn new(session: SessionId) -> Self {
        OtlpResource {
            session_id: session.to_string(),
            ..OtlpResource::default()
        }
    }

    /// A resource for `session` with its session metadata; `service.name`
    /// is the `app_name` key when present.
    pub fn with_metadata(
        session: SessionId,
        metadata: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let metadata: BTreeMap<String, String> = metadata.into_iter().collect();
        OtlpResource {
            session_id: session.to_string(),
            service_name: metadata.get("app_name").cloned(),
            metadata,
        }
    }
}

/// Encodes one beacon body — a JSON array of records as `batch::pack`
/// makes it — as one OTLP/JSON `ExportLogsServiceRequest`: one resource,
/// one scope, one log record per record in the same order. `observed` is
/// the `observedTimeUnixNano` of every record (the worker passes the time
/// of each delivery attempt).
/// A body whose first record is of another session than `resource`'s (a
/// spool file an earlier session left) gets a resource naming that
/// session, without `resource.metadata` (kept: `service.name`).
/// `None` if the body is not a JSON array of objects.
pub fn encode_logs(
    json_array_body: &[u8],
    resource: &OtlpResource,
    observed: SystemTime,
) -> Option<Vec<u8>> {
    let records = parse_records(json_array_body)?;
    let body_session = records
        .first()
        .and_then(|r| r.get("session_id"))
        .and_then(Value::as_str);
    // A body of another session (a spool file an earlier session left
    // behind, which this emitter sends): the resource names that session,
    // and carries none of this session's metadata (it could name another
    // viewer, another app version).
    let foreign =
        body_session.is_some_and(|s| !resource.session_id.is_empty() && s != resource.session_id);
    let session_id = if resource.session_id.is_empty() || foreign {
        body_session.unwrap_or_default().to_owned()
    } else {
        resource.session_id.clone()
    };
    let none = BTreeMap::new();
    let metadata = if foreign { &none } else { &resource.metadata };
    let observed = unix_nanos(observed);
    let log_records = records
        .iter()
        .map(|r| log_record(r, &session_id, &observed))
        .collect();
    let request = ExportLogsServiceRequest {
        resource_logs: [ResourceLogs {
            resource: Resource {
                attributes: resource_attributes(resource, metadata, &session_id),
            },
            scope_logs: [ScopeLogs {
                scope: Scope {
                    name: SCOPE_NAME,
                    version: env!("CARGO_PKG_VERSION"),
                },
                log_records,
            }],
        }],
    };
    serde_json::to_vec(&request).ok()
}

/// A collector's partial success: it took the request but rejected some
/// records (`rejected` may be 0 when it only sends a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialSuccess {
    /// `partialSuccess.rejectedLogRecords`.
    pub rejected: u64,
    /// `partialSuccess.errorMessage` ("" when absent).
    pub message: String,
}

/// Reads `partialSuccess` from the body of a 2xx answer to an OTLP/JSON
/// logs export. `None` when the request was fully accepted: an empty or
/// non-JSON body, no `partialSuccess`, or one with no rejected records and
/// no message. `rejectedLogRecords` is read as proto3 JSON allows (a
/// number or a decimal string; the snake_case names are accepted too); an
/// unreadable count is 0.
pub fn parse_partial_success(response_body: &[u8]) -> Option<PartialSuccess> {
    let body: Value = serde_json::from_slice(response_body).ok()?;
    let field = |v: &'_ Value, camel: &str, snake: &str| -> Option<Value> {
        v.get(camel).or_else(|| v.get(snake)).cloned()
    };
    let partial = field(&body, "partialSuccess", "partial_success")?;
    if !partial.is_object() {
        return None;
    }
    let rejected = field(&partial, "rejectedLogRecords", "rejected_log_records")
        .map_or(0, |v| proto_json_u64(&v));
    let message = field(&partial, "errorMessage", "error_message")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    if rejected == 0 && message.is_empty() {
        return None;
    }
    Some(PartialSuccess { rejected, message })
}

/// OTLP/HTTP's retry rule: only 429, 502, 503 and 504 are retried (with
/// the answer's `Retry-After` when it has one); every other non-2xx status
/// is final for the batch. Network errors (no status) are retried too.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// A non-negative integer as proto3 JSON writes an int64: a number or a
/// decimal string. Anything else is 0.
fn proto_json_u64(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap_or_else(|| match n.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => f as u64,
            _ => 0,
        }),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn unix_nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

fn resource_attributes(
    resource: &OtlpResource,
    metadata: &BTreeMap<String, String>,
    session_id: &str,
) -> Vec<KeyValue> {
    let text = |key: &str, value: &str| KeyValue {
        key: key.to_owned(),
        value: AnyValue::String(value.to_owned()),
    };
    let mut attributes = vec![
        text(
            "service.name",
            resource.service_name.as_deref().unwrap_or(UNKNOWN_SERVICE),
        ),
        text("telemetry.sdk.name", SCOPE_NAME),
        text("telemetry.sdk.language", "rust"),
        text("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        text("session.id", session_id),
    ];
    attributes.extend(
        metadata
            .iter()
            .map(|(k, v)| text(&format!("{METADATA_PREFIX}{k}"), v)),
    );
    attributes
}

fn log_record(record: &Record, session_id: &str, observed: &str) -> LogRecord {
    let event = record.get("event").and_then(Value::as_str).unwrap_or("");
    let severity = match (event, record.get("fatal")) {
        ("error", Some(Value::Bool(true))) => (SEVERITY_ERROR, "ERROR"),
        ("error", _) => (SEVERITY_WARN, "WARN"),
        _ => (SEVERITY_INFO, "INFO"),
    };
    let time_unix_nano = record
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| t.timestamp_nanos_opt())
        .filter(|n| *n > 0)
        .map(|n| n.to_string());
    let mut attributes = Vec::with_capacity(record.0.len());
    for (key, value) in &record.0 {
        match key.as_str() {
            // Carried by timeUnixNano and by the resource's session.id.
            "timestamp" => continue,
            "session_id" if value.as_str() == Some(session_id) => continue,
            "session_id" => attributes.push(KeyValue {
                key: "session.id".to_owned(),
                value: any_value(value, 0),
            }),
            _ => attributes.push(KeyValue {
                key: format!("{ATTRIBUTE_PREFIX}{key}"),
                value: any_value(value, 0),
            }),
        }
    }
    LogRecord {
        time_unix_nano,
        observed_time_unix_nano: observed.to_owned(),
        severity_number: severity.0,
        severity_text: severity.1,
        event_name: format!("{ATTRIBUTE_PREFIX}{event}"),
        attributes,
    }
}

/// A JSON value as an OTLP `AnyValue`, `depth` containers deep.
fn any_value(value: &Value, depth: usize) -> AnyValue {
    let nested_too_deep = depth >= MAX_NESTING && (value.is_array() || value.is_object());
    match value {
        _ if nested_too_deep => AnyValue::String(value.to_string()),
        Value::Null => AnyValue::Empty,
        Value::Bool(b) => AnyValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => AnyValue::Int(i),
            // Above int64: kept exact as text.
            (None, Some(u), _) => AnyValue::String(u.to_string()),
            (None, None, Some(f)) => AnyValue::Double(f),
            (None, None, None) => AnyValue::String(n.to_string()),
        },
        Value::String(s) => AnyValue::String(s.clone()),
        Value::Array(items) => {
            AnyValue::Array(items.iter().map(|v| any_value(v, depth + 1)).collect())
        }
        Value::Object(map) => AnyValue::Kvlist(
            map.iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: any_value(v, depth + 1),
                })
                .collect(),
        ),
    }
}

/// One record's top-level fields in the order the record has them (so the
/// attributes read like the record).
struct Record(Vec<(String, Value)>);

impl Record {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Reads a body as records. The array and each record are split as raw
/// text first (serde_json skips raw values without a depth limit), then
/// each field is parsed on its own: a custom event's `data`, accepted by
/// kino at serde_json's own nesting limit, still parses here.
fn parse_records(body: &[u8]) -> Option<Vec<Record>> {
    let raws: Vec<&RawValue> = serde_json::from_slice(body).ok()?;
    raws.into_iter()
        .map(|raw| {
            let RawFields(fields) = serde_json::from_str(raw.get()).ok()?;
            let fields = fields
                .into_iter()
                .map(|(k, v)| Some((k, serde_json::from_str(v.get()).ok()?)))
                .collect::<Option<Vec<_>>>()?;
            Some(Record(fields))
        })
        .collect()
}

/// A JSON object's fields in order, values as raw text.
struct RawFields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RawFields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a kino record (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push(entry);
                }
                Ok(RawFields(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

// ---- the OTLP/JSON shapes (only what kino writes) ---------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportLogsServiceRequest {
    resource_logs: [ResourceLogs; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceLogs {
    resource: Resource,
    scope_logs: [ScopeLogs; 1],
}

#[derive(Serialize)]
struct Resource {
    attributes: Vec<KeyValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeLogs {
    scope: Scope,
    log_records: Vec<LogRecord>,
}

#[derive(Serialize)]
struct Scope {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    time_unix_nano: Option<String>,
    observed_time_unix_nano: String,
    severity_number: u8,
    severity_text: &'static str,
    event_name: String,
    attributes: Vec<KeyValue>,
}

#[derive(Serialize)]
struct KeyValue {
    key: String,
    value: AnyValue,
}

/// OTLP `AnyValue`: one of its fields, or none (`{}`) for a JSON null.
enum AnyValue {
    Empty,
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Array(Vec<AnyValue>),
    Kvlist(Vec<KeyValue>),
}

impl Serialize for AnyValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Values<'a, T> {
            values: &'a [T],
        }
        let mut map = serializer.serialize_map(None)?;
        match self {
            AnyValue::Empty => {}
            AnyValue::String(s) => map.serialize_entry("stringValue", s)?,
            AnyValue::Bool(b) => map.serialize_entry("boolValue", b)?,
            // int64 is a decimal string in proto3 JSON.
            AnyValue::Int(i) => map.serialize_entry("intValue", &i.to_string())?,
            AnyValue::Double(f) => map.serialize_entry("doubleValue", f)?,
            AnyValue::Array(items) => {
                map.serialize_entry("arrayValue", &Values { values: items })?
            }
            AnyValue::Kvlist(kvs) => map.serialize_entry("kvlistValue", &Values { values: kvs })?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests;
