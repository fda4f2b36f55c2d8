//! Every body is read back with the official OpenTelemetry types
//! (`opentelemetry-proto`, serde JSON). That crate ignores keys it does not
//! know — a snake_case `time_unix_nano` would parse as 0 without an error —
//! so the raw JSON's keys are checked as well.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue as ProtoAnyValue, KeyValue as ProtoKv};
use opentelemetry_proto::tonic::logs::v1::LogRecord as ProtoLogRecord;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::batch::pack;
use crate::event::{
    AnalyticsEvent, AnalyticsEventRecord, PlayerState, QualityChangeReason, Resolution, SessionId,
    StampedEvent,
};

const OBSERVED_NANOS: u64 = 1_795_000_000_123_456_789;

fn observed() -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(OBSERVED_NANOS)
}

fn ts(n: u64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T14:16:43.123456Z")
        .unwrap()
        .with_timezone(&Utc)
        + chrono::Duration::milliseconds(n as i64 * 250)
}

/// A qoe record's event, as the worker makes it (every figure, two nulls).
fn qoe_event() -> AnalyticsEvent {
    serde_json::from_value(json!({
        "event": "qoe", "score": 81.5, "initial_buffer_time": 0.75, "rebuffer_count": 2,
        "rebuffer_duration": 1.5, "quality_switches": 1, "average_bitrate": 2_500_000,
        "started": true, "playback_failed": false, "exit_before_video_start": false,
        "seek_count": 1, "average_seek_latency": null, "playing_time": 30.0,
        "watch_time": 31.5, "view_time": 33.0, "rebuffer_ratio": 0.047_619,
        "rebuffer_frequency": 3.8, "upshifts": 1, "downshifts": 0, "error_count": 2,
        "startup_score": 91.4, "smoothness_score": null, "playback_success_score": 100.0
    }))
    .unwrap()
}

/// One of each event variant, in one view, then a record outside it.
fn every_variant() -> Vec<AnalyticsEvent> {
    let r480 = Resolution {
        width: 854,
        height: 480,
    };
    vec![
        AnalyticsEvent::Load {
            url: "https://cdn.example/movie/master.m3u8".into(),
            is_live: false,
        },
        AnalyticsEvent::QualityChange {
            from_bitrate: 0,
            to_bitrate: 800_000,
            from_resolution: None,
            to_resolution: Some(r480),
            reason: QualityChangeReason::Initial,
        },
        AnalyticsEvent::Play { position: 0.0 },
        AnalyticsEvent::Heartbeat {
            position: 10.0,
            buffer_level: 12.5,
            bitrate: 800_000,
            dropped_frames: 3,
            decoded_frames: 250,
        },
        AnalyticsEvent::Rebuffer {
            position: 11.0,
            buffer_level: 0.0,
        },
        AnalyticsEvent::RebufferEnd {
            position: 11.0,
            duration: 0.75,
        },
        AnalyticsEvent::Seek {
            from: 11.0,
            to: 60.5,
        },
        AnalyticsEvent::StateChange {
            from: PlayerState::Seeking,
            to: PlayerState::Playing,
            position: 60.5,
        },
        AnalyticsEvent::Pause { position: 61.0 },
        AnalyticsEvent::Error {
            code: "SEG_404".into(),
            message: "segment 7 retried".into(),
            fatal: false,
            position: 61.0,
        },
        AnalyticsEvent::Custom {
            name: "ad_start".into(),
            data: json!({"slot": "pre", "n": 2, "ratio": 0.5, "tags": ["a", null, true],
                         "nested": {"deep": {"x": -3}}, "none": null}),
        },
        AnalyticsEvent::Error {
            code: "DECODE".into(),
            message: "decoder died".into(),
            fatal: true,
            position: 62.0,
        },
        qoe_event(),
        AnalyticsEvent::End {
            position: 62.0,
            watch_time: 31.5,
        },
    ]
}

fn records(session: SessionId, events: Vec<AnalyticsEvent>) -> Vec<AnalyticsEventRecord> {
    let view = Uuid::new_v4();
    let n = events.len();
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let seq = i as u64 + 1;
            AnalyticsEventRecord::new(
                session,
                StampedEvent {
                    sequence: seq,
                    timestamp: ts(seq),
                    event,
                    mono: crate::clock::Mono::default(),
                },
                // The last record is outside any view.
                (i + 1 < n).then_some(view),
            )
        })
        .collect()
}

fn body_of(records: &[AnalyticsEventRecord]) -> Vec<u8> {
    let (parts, oversized) = pack(records, 1 << 20);
    assert_eq!((parts.len(), oversized), (1, 0));
    parts[0].json.clone()
}

fn parse(otlp: &[u8]) -> ExportLogsServiceRequest {
    serde_json::from_slice(otlp).expect("opentelemetry-proto parses the body")
}

fn only_records(req: &ExportLogsServiceRequest) -> &[ProtoLogRecord] {
    assert_eq!(req.resource_logs.len(), 1, "one resourceLogs per beacon");
    let scopes = &req.resource_logs[0].scope_logs;
    assert_eq!(scopes.len(), 1, "one scopeLogs per beacon");
    &scopes[0].log_records
}

fn attr<'a>(kvs: &'a [ProtoKv], key: &str) -> Option<&'a ProtoKv> {
    kvs.iter().find(|kv| kv.key == key)
}

fn text_attr(kvs: &[ProtoKv], key: &str) -> String {
    match attr(kvs, key).and_then(|kv| kv.value.as_ref()?.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        other => panic!("{key} is not a stringValue: {other:?}"),
    }
}

/// An OTLP value back as the JSON it came from (an empty AnyValue is null).
fn to_json(v: Option<&ProtoAnyValue>) -> Value {
    match v.and_then(|v| v.value.as_ref()) {
        None => Value::Null,
        Some(Any::StringValue(s)) => json!(s),
        Some(Any::BoolValue(b)) => json!(b),
        Some(Any::IntValue(i)) => json!(i),
        Some(Any::DoubleValue(f)) => json!(f),
        Some(Any::ArrayValue(a)) => a.values.iter().map(|v| to_json(Some(v))).collect(),
        Some(Any::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), to_json(kv.value.as_ref())))
                .collect(),
        ),
        Some(other) => panic!("kino never writes {other:?}"),
    }
}

/// Every object key anywhere in the document, paired with its JSON path.
fn keys(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                out.push((k.clone(), path.to_owned()));
                keys(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, path, out)),
        _ => {}
    }
}

#[test]
fn every_variant_reads_back_with_the_official_types() {
    let session = SessionId::new();
    let recs = records(session, every_variant());
    let body = body_of(&recs);
    let otlp = encode_logs(&body, &OtlpResource::new(session), observed()).unwrap();
    let req = parse(&otlp);
    let logs = only_records(&req);
    assert_eq!(logs.len(), recs.len(), "one logRecord per record");

    let scope = req.resource_logs[0].scope_logs[0].scope.as_ref().unwrap();
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("kino", env!("CARGO_PKG_VERSION"))
    );

    let originals: Vec<Value> = serde_json::from_slice(&body).unwrap();
    for (log, original) in logs.iter().zip(&originals) {
        let event = original["event"].as_str().unwrap();
        assert_eq!(log.event_name, format!("kino.{event}"));
        let when = DateTime::parse_from_rfc3339(original["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(
            log.time_unix_nano,
            when.timestamp_nanos_opt().unwrap() as u64
        );
        assert_eq!(log.observed_time_unix_nano, OBSERVED_NANOS);
        let expected_severity = match (event, original["fatal"].as_bool()) {
            ("error", Some(true)) => (17, "ERROR"),
            ("error", _) => (13, "WARN"),
            _ => (9, "INFO"),
        };
        assert_eq!(
            (log.severity_number, log.severity_text.as_str()),
            expected_severity,
            "{event}"
        );
        // Every field but the two carried elsewhere comes back, typed as it
        // was sent, under kino.<field>.
        let mut expected = original.as_object().unwrap().clone();
        expected.remove("timestamp");
        expected.remove("session_id");
        let back: serde_json::Map<String, Value> = log
            .attributes
            .iter()
            .map(|kv| {
                let field = kv.key.strip_prefix("kino.").expect("kino.* attribute");
                (field.to_owned(), to_json(kv.value.as_ref()))
            })
            .collect();
        assert_eq!(back, expected, "{event}");
        assert_eq!(back.len(), log.attributes.len(), "no attribute twice");
    }

    // The attributes the issue names, by type.
    let first = &logs[0].attributes;
    assert_eq!(text_attr(first, "kino.id"), originals[0]["id"]);
    assert_eq!(text_attr(first, "kino.view_id"), originals[0]["view_id"]);
    let seq = attr(first, "kino.sequence")
        .unwrap()
        .value
        .as_ref()
        .unwrap();
    assert_eq!(seq.value, Some(Any::IntValue(1)));
    let last = logs.last().unwrap();
    assert!(
        attr(&last.attributes, "kino.view_id").is_none(),
        "no view_id outside a view"
    );
    let quality = &logs[1].attributes;
    let to_res = attr(quality, "kino.to_resolution").unwrap();
    match to_res.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::KvlistValue(kv)) => {
            assert_eq!(kv.values.len(), 2);
            assert_eq!(kv.values[0].key, "height");
            assert_eq!(
                kv.values[0].value.as_ref().unwrap().value,
                Some(Any::IntValue(480))
            );
        }
        other => panic!("to_resolution is a kvlistValue: {other:?}"),
    }
    let from_res = attr(quality, "kino.from_resolution").unwrap();
    assert!(
        from_res.value.as_ref().unwrap().value.is_none(),
        "null is an empty AnyValue"
    );
    let play = attr(&logs[2].attributes, "kino.position").unwrap();
    assert_eq!(
        play.value.as_ref().unwrap().value,
        Some(Any::DoubleValue(0.0)),
        "a float stays a double even when it is integral"
    );
}

#[test]
fn the_official_types_drop_snake_case_keys_silently() {
    // Why the raw keys are checked too: this parses, and says nothing.
    let snake = r#"{"resource_logs":[{"scope_logs":[{"log_records":[{"time_unix_nano":"5"}]}]}]}"#;
    let req: ExportLogsServiceRequest = serde_json::from_str(snake).unwrap();
    assert!(req.resource_logs.is_empty());
}

#[test]
fn resource_names_the_sdk_the_session_and_its_metadata() {
    let session = SessionId::new();
    let body = body_of(&records(
        session,
        vec![AnalyticsEvent::Play { position: 1.0 }],
    ));

    let plain = parse(&encode_logs(&body, &OtlpResource::new(session), observed()).unwrap());
    let attrs = &plain.resource_logs[0].resource.as_ref().unwrap().attributes;
    assert_eq!(text_attr(attrs, "service.name"), "unknown_service");
    assert_eq!(text_attr(attrs, "telemetry.sdk.name"), "kino");
    assert_eq!(text_attr(attrs, "telemetry.sdk.language"), "rust");
    assert_eq!(
        text_attr(attrs, "telemetry.sdk.version"),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(text_attr(attrs, "session.id"), session.to_string());
    assert_eq!(attrs.len(), 5);

    let metadata = [
        ("app_name", "tv-app"),
        ("experiment_variant", "b"),
        ("video_cdn", "cdn-2"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let resource = OtlpResource::with_metadata(session, metadata);
    let with = parse(&encode_logs(&body, &resource, observed()).unwrap());
    let attrs = &with.resource_logs[0].resource.as_ref().unwrap().attributes;
    assert_eq!(text_attr(attrs, "service.name"), "tv-app");
    assert_eq!(text_attr(attrs, "kino.metadata.app_name"), "tv-app");
    assert_eq!(text_attr(attrs, "kino.metadata.experiment_variant"), "b");
    assert_eq!(text_attr(attrs, "kino.metadata.video_cdn"), "cdn-2");
    assert_eq!(attrs.len(), 8);

    // An explicit service name wins; an empty session id falls back to the
    // records' own.
    let resource = OtlpResource {
        session_id: String::new(),
        service_name: Some("svc".into()),
        metadata: BTreeMap::new(),
    };
    let req = parse(&encode_logs(&body, &resource, observed()).unwrap());
    let attrs = &req.resource_logs[0].resource.as_ref().unwrap().attributes;
    assert_eq!(text_attr(attrs, "service.name"), "svc");
    assert_eq!(text_attr(attrs, "session.id"), session.to_string());
}

#[test]
fn a_spool_file_of_an_earlier_session_keeps_its_own_session_on_the_resource() {
    // An emitter sends the spool files earlier sessions left behind; their
    // records are not this session's, so the resource must not say they
    // are, nor attach this session's metadata (another viewer, another app
    // version) to them.
    let now = SessionId::new();
    let earlier = SessionId::new();
    let body = body_of(&records(
        earlier,
        vec![AnalyticsEvent::Play { position: 1.0 }],
    ));
    let metadata = [("app_name", "tv-app"), ("viewer_id", "viewer-now")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let resource = OtlpResource::with_metadata(now, metadata);
    let req = parse(&encode_logs(&body, &resource, observed()).unwrap());
    let attrs = &req.resource_logs[0].resource.as_ref().unwrap().attributes;
    assert_eq!(text_attr(attrs, "session.id"), earlier.to_string());
    assert!(
        attr(attrs, "kino.metadata.viewer_id").is_none(),
        "this session's viewer is not the earlier session's"
    );
    assert_eq!(text_attr(attrs, "service.name"), "tv-app");
    let logs = only_records(&req);
    assert!(attr(&logs[0].attributes, "session.id").is_none());
}

#[test]
fn raw_json_keys_are_camel_case_and_int64s_are_strings() {
    let session = SessionId::new();
    let body = body_of(&records(session, every_variant()));
    let otlp = encode_logs(&body, &OtlpResource::new(session), observed()).unwrap();
    let raw: Value = serde_json::from_slice(&otlp).unwrap();

    let mut found = Vec::new();
    keys(&raw, "$", &mut found);
    let allowed = [
        "resourceLogs",
        "resource",
        "attributes",
        "key",
        "value",
        "scopeLogs",
        "scope",
        "name",
        "version",
        "logRecords",
        "timeUnixNano",
        "observedTimeUnixNano",
        "severityNumber",
        "severityText",
        "eventName",
        "stringValue",
        "boolValue",
        "intValue",
        "doubleValue",
        "arrayValue",
        "kvlistValue",
        "values",
    ];
    for (key, path) in &found {
        assert!(allowed.contains(&key.as_str()), "key {key:?} at {path}");
    }
    for must in ["resourceLogs", "scopeLogs", "logRecords", "timeUnixNano"] {
        assert!(found.iter().any(|(k, _)| k == must), "{must} present");
    }

    let logs = raw["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        .as_array()
        .unwrap();
    for log in logs {
        assert!(log["timeUnixNano"].is_string());
        assert_eq!(log["observedTimeUnixNano"], OBSERVED_NANOS.to_string());
        assert!(log["severityNumber"].is_u64(), "enums are numbers");
    }
    let seq = logs[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "kino.sequence")
        .unwrap();
    assert_eq!(seq["value"], json!({"intValue": "1"}));
    let from = logs[1]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "kino.from_resolution")
        .unwrap();
    assert_eq!(from["value"], json!({}), "null is the empty AnyValue");
}

#[test]
fn issue_9_metadata_on_a_record_is_a_kvlist() {
    // Hand-written in the shape issue 9 gives load and qoe records; switch
    // to a real emitter's record once metadata is implemented.
    let session = SessionId::new();
    let body = format!(
        r#"[{{"id":"{}","session_id":"{session}","timestamp":"2026-11-25T14:16:43Z","sequence":1,
             "view_id":"{}","event":"load","url":"https://cdn/a.m3u8","is_live":true,
             "metadata":{{"video_id":"v1","experiment_variant":"a","video_duration":"42"}}}}]"#,
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    let req =
        parse(&encode_logs(body.as_bytes(), &OtlpResource::new(session), observed()).unwrap());
    let log = &only_records(&req)[0];
    let meta = attr(&log.attributes, "kino.metadata").unwrap();
    assert_eq!(
        to_json(meta.value.as_ref()),
        json!({"video_id": "v1", "experiment_variant": "a", "video_duration": "42"})
    );
    assert_eq!(log.time_unix_nano, 1_795_616_203_000_000_000);
}

#[test]
fn edge_values_keep_their_meaning() {
    let session = SessionId::new();
    let other = SessionId::new();
    let big = u64::MAX;
    let body = format!(
        r#"[{{"session_id":"{session}","timestamp":"2026-11-25T14:16:43Z","sequence":1,"event":"custom",
             "name":"x","data":{{"big":{big},"neg":-5,"e":1e300,"s":"ü\"\n"}}}},
            {{"session_id":"{other}","timestamp":"not a time","sequence":2,"event":"play","position":1.5}}]"#
    );
    let otlp = encode_logs(body.as_bytes(), &OtlpResource::new(session), observed()).unwrap();
    let req = parse(&otlp);
    let logs = only_records(&req);
    let data = to_json(
        attr(&logs[0].attributes, "kino.data")
            .unwrap()
            .value
            .as_ref(),
    );
    assert_eq!(
        data,
        json!({"big": big.to_string(), "neg": -5, "e": 1e300, "s": "ü\"\n"}),
        "an integer above int64 is kept exact as text"
    );
    // A record of another session says so; one without a readable time has
    // no timeUnixNano (0: unknown, the collector uses the observed time).
    assert_eq!(
        text_attr(&logs[1].attributes, "session.id"),
        other.to_string()
    );
    assert_eq!(logs[1].time_unix_nano, 0);
    let raw: Value = serde_json::from_slice(&otlp).unwrap();
    assert!(raw["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1]
        .get("timeUnixNano")
        .is_none());
}

#[test]
fn deep_custom_data_is_cut_to_text_below_the_nesting_limit() {
    // As deep as kino's own check accepts (serde_json's nesting limit).
    let mut deep = json!(1);
    while crate::sanitize::parse_custom_json(&json!([deep]).to_string()).is_ok() {
        deep = json!([deep]);
    }
    assert!(deep.to_string().len() > 2 * 100, "over 100 levels");
    let session = SessionId::new();
    let recs = records(
        session,
        vec![AnalyticsEvent::Custom {
            name: "deep".into(),
            data: deep.clone(),
        }],
    );
    let otlp = encode_logs(&body_of(&recs), &OtlpResource::new(session), observed())
        .expect("a record as deep as kino accepts still encodes");
    let req = parse(&otlp);
    let mut v = attr(&only_records(&req)[0].attributes, "kino.data")
        .unwrap()
        .value
        .clone();
    let mut depth = 0;
    while let Some(Any::ArrayValue(a)) = v.as_ref().and_then(|v| v.value.clone()) {
        depth += 1;
        v = a.values.first().cloned();
    }
    assert_eq!(depth, MAX_NESTING);
    let Some(Any::StringValue(rest)) = v.and_then(|v| v.value) else {
        panic!("the rest is text");
    };
    let rest: Value = serde_json::from_str(&rest).unwrap();
    let mut expected = deep;
    for _ in 0..MAX_NESTING {
        expected = expected[0].clone();
    }
    assert_eq!(rest, expected, "nothing is lost, only flattened");
}

#[test]
fn what_is_not_a_record_array_is_refused() {
    let r = OtlpResource::new(SessionId::new());
    for bad in [
        &b""[..],
        b"{}",
        b"[1]",
        b"[{}, 2]",
        b"not json",
        b"[{\"a\":1}",
    ] {
        assert!(
            encode_logs(bad, &r, observed()).is_none(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let empty = parse(&encode_logs(b"[]", &r, observed()).unwrap());
    assert!(only_records(&empty).is_empty());
}

#[test]
fn partial_success_is_read_as_proto3_json_writes_it() {
    let cases: &[(&str, Option<(u64, &str)>)] = &[
        ("", None),
        ("{}", None),
        ("not json", None),
        (r#"{"partialSuccess":{}}"#, None),
        (r#"{"partialSuccess":null}"#, None),
        (
            r#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"bad attr"}}"#,
            Some((3, "bad attr")),
        ),
        (
            r#"{"partialSuccess":{"rejectedLogRecords":7}}"#,
            Some((7, "")),
        ),
        (
            r#"{"partialSuccess":{"rejectedLogRecords":"0","errorMessage":"slow down"}}"#,
            Some((0, "slow down")),
        ),
        (
            r#"{"partial_success":{"rejected_log_records":"2","error_message":"x"}}"#,
            Some((2, "x")),
        ),
        (
            r#"{"partialSuccess":{"rejectedLogRecords":2.0}}"#,
            Some((2, "")),
        ),
        (r#"{"partialSuccess":{"rejectedLogRecords":"-4"}}"#, None),
        (
            r#"{"partialSuccess":{"rejectedLogRecords":"18446744073709551615"}}"#,
            Some((u64::MAX, "")),
        ),
    ];
    for (body, expected) in cases {
        let got = parse_partial_success(body.as_bytes());
        let expected = expected.map(|(rejected, message)| PartialSuccess {
            rejected,
            message: message.to_owned(),
        });
        assert_eq!(got, expected, "{body}");
    }
}

#[test]
fn only_429_502_503_504_are_retried() {
    let retried: Vec<u16> = (100..600).filter(|&s| is_retryable_status(s)).collect();
    assert_eq!(retried, [429, 502, 503, 504]);
}
