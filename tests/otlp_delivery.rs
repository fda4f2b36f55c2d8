//! OTLP/HTTP logs delivery end to end (issue 12), and the limit on batches
//! that keep getting server errors: kino posts to a real HTTP server on
//! 127.0.0.1; every body is read back with the official OpenTelemetry
//! types (`opentelemetry-proto`, serde JSON), and the raw keys are checked
//! to be camelCase (the official types silently ignore snake_case ones).

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use kino::config::BeaconFormat;
use kino::event::AnalyticsEvent;
use kino::stats::DeliveryError;
use kino::{Config, Emitter};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use serde_json::Value;
use support::collector::{Collector, Reply};
use support::emitting::initial_480p;

const WAIT: Duration = Duration::from_secs(20);

fn otlp_config(url: &str) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    c.set_format(BeaconFormat::OtlpJson);
    c.set_retry_backoff_ms(10, 50).unwrap();
    c
}

/// A 200 answer with `body` (an OTLP export response).
fn ok_with(body: &str) -> Reply {
    Reply::Raw(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

fn session() -> Vec<AnalyticsEvent> {
    vec![
        AnalyticsEvent::Load {
            url: "https://cdn.example/v.m3u8".into(),
            is_live: false,
        },
        initial_480p(),
        AnalyticsEvent::Play { position: 0.0 },
        AnalyticsEvent::Error {
            code: "E_SEG".into(),
            message: "segment retried".into(),
            fatal: false,
            position: 3.0,
        },
        AnalyticsEvent::Custom {
            name: "ad".into(),
            data: serde_json::json!({"slot": "mid", "n": 2}),
        },
        AnalyticsEvent::Error {
            code: "E_DECODE".into(),
            message: "decoder died".into(),
            fatal: true,
            position: 4.0,
        },
    ]
}

#[test]
fn every_body_is_an_export_logs_request_the_official_types_read() {
    let collector = Collector::start();
    let mut config = otlp_config(&collector.url());
    config.set_metadata("app_name", Some("tv-app")).unwrap();
    config
        .set_metadata("player_version", Some("4.2.0"))
        .unwrap();
    let emitter = Emitter::new(&config).unwrap();
    for e in session() {
        emitter.emit(e).unwrap();
    }
    emitter.flush(WAIT).unwrap();
    let session_id = emitter.session_id().to_string();
    let mut names = Vec::new();
    let mut sequences = BTreeSet::new();
    for beacon in collector.beacons() {
        assert_eq!(beacon.header("content-type"), Some("application/json"));
        let raw: Value = serde_json::from_slice(&beacon.body).unwrap();
        let log = &raw["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        for key in [
            "timeUnixNano",
            "observedTimeUnixNano",
            "eventName",
            "severityNumber",
        ] {
            assert!(log.get(key).is_some(), "camelCase {key} in {log}");
        }
        assert!(
            log["timeUnixNano"].is_string(),
            "nanoseconds as a decimal string"
        );
        let request: ExportLogsServiceRequest = serde_json::from_slice(&beacon.body).unwrap();
        assert_eq!(request.resource_logs.len(), 1);
        let resource = request.resource_logs[0].resource.as_ref().unwrap();
        let attr = |key: &str| {
            resource
                .attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.clone())
                .and_then(|v| v.value)
        };
        assert_eq!(
            attr("session.id"),
            Some(Any::StringValue(session_id.clone()))
        );
        assert_eq!(
            attr("telemetry.sdk.name"),
            Some(Any::StringValue("kino".into()))
        );
        let scope = &request.resource_logs[0].scope_logs[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "kino");
        for record in &scope.log_records {
            assert!(
                record.time_unix_nano > 1_700_000_000_000_000_000,
                "a real time"
            );
            let attr = |key: &str| {
                record
                    .attributes
                    .iter()
                    .find(|kv| kv.key == key)
                    .and_then(|kv| kv.value.clone())
                    .and_then(|v| v.value)
            };
            let Some(Any::IntValue(seq)) = attr("kino.sequence") else {
                panic!("kino.sequence as an int: {record:?}");
            };
            sequences.insert(seq);
            let severity = record.severity_number;
            match record.event_name.as_str() {
                "kino.error" => {
                    let fatal = attr("kino.fatal") == Some(Any::BoolValue(true));
                    assert_eq!(severity, if fatal { 17 } else { 13 });
                }
                _ => assert_eq!(severity, 9, "{}", record.event_name),
            }
            if record.event_name == "kino.quality_change" {
                let Some(Any::KvlistValue(res)) = attr("kino.to_resolution") else {
                    panic!("a resolution is a kvlist: {record:?}");
                };
                assert_eq!(res.values.len(), 2);
            }
            names.push(record.event_name.clone());
        }
    }
    assert_eq!(
        names,
        [
            "kino.load",
            "kino.quality_change",
            "kino.play",
            "kino.error",
            "kino.custom",
            "kino.error",
            "kino.qoe"
        ]
    );
    assert_eq!(sequences, (1..=7).collect(), "every record once");
    let s = emitter.stats();
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (7, 7, 0, 0));
}

#[test]
fn a_partial_success_counts_the_rejected_records_as_failed_and_is_not_retried() {
    let collector = Collector::with_policy(|_| {
        ok_with(
            r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"attribute too long"}}"#,
        )
    });
    let emitter = Emitter::new(&otlp_config(&collector.url())).unwrap();
    for i in 0..5 {
        emitter
            .emit(AnalyticsEvent::Play { position: i as f64 })
            .unwrap();
    }
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (5, 3, 2, 0));
    assert_eq!((s.retries, s.batches), (0, 1));
    assert_eq!(s.last_error, DeliveryError::Rejected as u64);
    let message = emitter.last_error_message();
    assert!(
        message.contains("rejected 2 of 5") && message.contains("attribute too long"),
        "{message}"
    );
}

/// A server that answers `first` to the first `times` requests, then 200.
fn answers(times: usize, first: u16) -> (Collector, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&calls);
    let collector = Collector::with_policy(move |_| {
        if n.fetch_add(1, SeqCst) < times {
            Reply::Status(first, vec![])
        } else {
            Reply::Status(200, vec![])
        }
    });
    (collector, calls)
}

#[test]
fn otlp_retries_only_what_otlp_says_is_transient() {
    // 503 is retried until it is taken.
    let (collector, calls) = answers(3, 503);
    let emitter = Emitter::new(&otlp_config(&collector.url())).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.retries), (1, 0, 3));
    assert_eq!(calls.load(SeqCst), 4);
    // 500 is final in OTLP: failed at once, never retried.
    let (collector, calls) = answers(usize::MAX, 500);
    let emitter = Emitter::new(&otlp_config(&collector.url())).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.retries), (0, 1, 0));
    assert_eq!(calls.load(SeqCst), 1);
}

#[test]
fn a_batch_that_keeps_getting_server_errors_is_given_up_with_the_servers_words() {
    let body = "Code: 27. DB::Exception: Cannot parse input: expected '\"' before: '1.0'";
    let answer = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&calls);
    let collector = Collector::with_policy(move |_| {
        n.fetch_add(1, SeqCst);
        Reply::Raw(answer.clone().into_bytes())
    });
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_format(BeaconFormat::Ndjson);
    config.set_retry_backoff_ms(10, 50).unwrap();
    config.set_server_error_limit(3, 600).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    for i in 0..4 {
        emitter
            .emit(AnalyticsEvent::Play { position: i as f64 })
            .unwrap();
    }
    emitter
        .flush(WAIT)
        .expect("the poison batch no longer stalls the emitter");
    let s = emitter.stats();
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (4, 0, 4, 0));
    assert_eq!(s.retries, 2, "three attempts in all");
    assert_eq!(calls.load(SeqCst), 3);
    assert_eq!(s.last_http_status, 500);
    let message = emitter.last_error_message();
    assert!(
        message.contains("after 3 server errors") && message.contains("Cannot parse input"),
        "{message}"
    );
}

#[test]
fn answers_that_say_later_never_count_against_the_limit() {
    let (collector, calls) = answers(6, 503);
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_retry_backoff_ms(10, 50).unwrap();
    config.set_server_error_limit(2, 600).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.retries), (1, 0, 6));
    assert_eq!(calls.load(SeqCst), 7);
}
