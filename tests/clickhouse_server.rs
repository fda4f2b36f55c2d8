//! kino posts straight to a real ClickHouse server (Debian's
//! clickhouse-server 18.16, started by the test on 127.0.0.1) through its
//! HTTP interface, as docs/CLICKHOUSE.md says: NDJSON, gzip, the
//! X-ClickHouse-User / X-ClickHouse-Key headers, sql/clickhouse/schema-18.16.sql.
//! Rows arrive, the example queries (sql/clickhouse/queries.sql) return what
//! the scripted sessions imply, a wrong key is refused with 401 and counted,
//! and a batch the server cannot parse gets the 500 that the worker's
//! give-up limit is for.
#![cfg(feature = "http")]

#[path = "support/clickhouse.rs"]
mod clickhouse;
#[path = "support/playback.rs"]
mod playback;
mod support;

use std::time::Duration;

use clickhouse::{Server, BEACONS_18_16, KEY, USER};
use kino::config::BeaconFormat;
use kino::event::{AnalyticsEvent, PlayerState};
use kino::{Config, Emitter};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn schema() -> std::path::PathBuf {
    support::cbuild::root().join("sql/clickhouse/schema-18.16.sql")
}

fn queries() -> std::path::PathBuf {
    support::cbuild::root().join("sql/clickhouse/queries.sql")
}

/// An NDJSON emitter posting to `url` with `key`, gzip on.
fn emitter(url: &str, key: &str) -> Emitter {
    Emitter::new(&emitter_config(url, key)).unwrap()
}

fn emitter_config(url: &str, key: &str) -> Config {
    let mut config = Config::default();
    config.set_beacon_url(Some(url)).unwrap();
    config.set_format(BeaconFormat::Ndjson);
    config.set_gzip(true);
    config.set_batch_size(7).unwrap();
    config.add_header("X-ClickHouse-User", USER).unwrap();
    config.add_header("X-ClickHouse-Key", key).unwrap();
    config.set_retry_backoff_ms(10, 50).unwrap();
    config.set_shutdown_timeout_ms(500).unwrap();
    config
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

#[test]
fn kino_ndjson_lands_in_clickhouse_18_16_and_the_queries_add_up() {
    let server = Server::start();
    server.script("apply", &schema());
    let url = server.url(BEACONS_18_16);
    let views = playback::views();

    let emitter = emitter(&url, KEY);
    let mut figures = Vec::new();
    let mut records = 0;
    for view in &views {
        records += playback::play(&emitter, std::slice::from_ref(view));
        figures.push(emitter.qoe().expect("the view just closed"));
    }
    let flushed = emitter.flush(WAIT);
    let stats = emitter.stats();
    assert!(flushed.is_ok(), "{flushed:?} {stats:?}");
    assert_eq!(
        (stats.emitted, stats.delivered, stats.failed, stats.retries),
        (records as u64, records as u64, 0, 0)
    );
    assert_eq!(stats.last_http_status, 200);
    let session = emitter.session_id().to_string();
    drop(emitter);

    // Every record arrived once, whole: the raw line is kino's record.
    let rows = server.rows(
        "SELECT sequence, event, toString(session_id) AS session_id, `from`, `to`, \
         to_resolution, message, data, raw FROM kino.records FINAL ORDER BY sequence",
    );
    assert_eq!(rows.len(), records);
    let raw: Vec<String> = rows
        .iter()
        .map(|r| r["raw"].as_str().unwrap().to_owned())
        .collect();
    for (i, (row, line)) in rows.iter().zip(&raw).enumerate() {
        let record = parse(line);
        assert_eq!(row["sequence"], i as u64 + 1, "no gaps, no duplicates");
        assert_eq!(record["sequence"], row["sequence"]);
        assert_eq!(row["session_id"], session.as_str());
        assert_eq!(row["event"], record["event"]);
    }
    let first = |event: &str| rows.iter().find(|r| r["event"] == event).unwrap();
    // `from`/`to`: numbers in seek, states in state_change, one column.
    assert_eq!(
        (&first("seek")["from"], &first("seek")["to"]),
        (&"5.0".into(), &"60.5".into())
    );
    let state = first("state_change");
    assert_eq!(
        (&state["from"], &state["to"]),
        (&"seeking".into(), &"playing".into())
    );
    let abr = rows
        .iter()
        .find(|r| r["event"] == "quality_change" && r["to_resolution"] != "")
        .unwrap();
    assert_eq!(abr["to_resolution"], r#"{"width":854,"height":480}"#);
    let error = first("error");
    assert_eq!(error["message"], r#"segment "7" retried"#);
    assert_eq!(
        first("custom")["data"],
        r#"{"ads":[1,2],"skippable":null,"slot":"mid"}"#
    );

    // One kino.qoe row per view, with the figures kino computed.
    let qoe_lines: Vec<String> = raw
        .iter()
        .filter(|l| parse(l)["event"] == "qoe")
        .cloned()
        .collect();
    assert_eq!(qoe_lines.len(), views.len());
    for (line, fig) in qoe_lines.iter().zip(&figures) {
        let view_id = parse(line)["view_id"].as_str().unwrap().to_owned();
        let row = &server.rows(&format!(
            "SELECT rebuffer_count, rebuffer_duration, watch_time, score, initial_buffer_time, \
             started, playback_failed, exit_before_video_start, seek_count, error_count \
             FROM kino.qoe FINAL WHERE view_id = toUUID('{view_id}')"
        ))[0];
        let n = |k: &str| playback::number(&row[k]).unwrap();
        // 18.16 parses a float to within a few ulps, not always exactly.
        let close = |k: &str, want: f64| {
            let got = n(k);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-300),
                "{k}: {got} != {want}"
            );
        };
        assert_eq!(n("rebuffer_count"), f64::from(fig.rebuffer_count));
        close("rebuffer_duration", fig.rebuffer_duration);
        close("watch_time", fig.watch_time);
        close("score", fig.score);
        assert_eq!(n("seek_count"), f64::from(fig.seek_count));
        assert_eq!(n("error_count"), f64::from(fig.error_count));
        match fig.initial_buffer_time {
            Some(t) => close("initial_buffer_time", t),
            None => assert!(row["initial_buffer_time"].is_null()),
        }
        assert_eq!(n("started"), f64::from(u8::from(fig.started)));
        assert_eq!(
            n("playback_failed"),
            f64::from(u8::from(fig.playback_failed))
        );
        assert_eq!(
            n("exit_before_video_start"),
            f64::from(u8::from(fig.exit_before_video_start))
        );
    }

    // The example queries over kino's own output, its metadata included.
    let got = server.script("queries", &queries());
    let qoe = playback::qoe_records(&raw);
    let rows_of = |name: &str| got[name].as_array().unwrap().clone();
    for (name, dims) in [
        (
            "qoe_by_experiment_variant",
            &["experiment_name", "experiment_variant"][..],
        ),
        ("qoe_by_video_cdn", &["video_cdn"][..]),
        ("qoe_by_player_version", &["player_version"][..]),
    ] {
        let rows = rows_of(name);
        assert!(rows.len() >= 2, "{name}: {rows:?}");
        playback::check_rows(name, &rows, dims, &playback::expected_by(&qoe, dims));
    }
    assert!(rows_of("sequence_gaps").is_empty(), "kino leaves no gaps");
    let events: std::collections::BTreeMap<String, u64> = rows_of("events_per_type")
        .iter()
        .map(|r| {
            let n = playback::number(&r["records"]).unwrap() as u64;
            (r["event"].as_str().unwrap().to_owned(), n)
        })
        .collect();
    assert_eq!(events, playback::events_per_type(&views));
    let hours = rows_of("rebuffer_ratio_by_hour");
    let stalls: f64 = hours
        .iter()
        .map(|h| playback::number(&h["stalls"]).unwrap())
        .sum();
    let scripted: usize = views.iter().map(|v| v.stalls.len()).sum();
    assert_eq!(stalls, scripted as f64);
}

#[test]
fn a_wrong_key_is_refused_with_401_and_counted_failed_not_retried() {
    let server = Server::start();
    server.script("apply", &schema());
    let emitter = emitter(&server.url(BEACONS_18_16), "not-the-key");
    emitter
        .emit(AnalyticsEvent::Load {
            url: "https://cdn/a.m3u8".into(),
            is_live: false,
        })
        .unwrap();
    emitter
        .emit(AnalyticsEvent::End {
            position: 0.0,
            watch_time: 0.0,
        })
        .unwrap();
    emitter
        .flush(WAIT)
        .expect("a refusal is dealt with at once");
    let s = emitter.stats();
    assert_eq!(s.last_http_status, 401);
    assert_eq!(
        (s.emitted, s.delivered, s.failed, s.queued, s.retries),
        (3, 0, 3, 0, 0),
        "load, end and the view's qoe: failed once, never retried"
    );
    drop(emitter);
    assert_eq!(server.query("SELECT count() FROM kino.records").trim(), "0");
}

#[test]
fn a_batch_the_server_cannot_parse_gets_500() {
    let server = Server::start();
    // A typed JSONEachRow table of the kind issue 12 warns about: `from`
    // and `to` as numbers, so a state_change line cannot be read.
    let url = server.poison_table_url();
    let seek = r#"{"event":"seek","from":1.0,"to":30.0}"#;
    let state = r#"{"event":"state_change","from":"buffering","to":"playing"}"#;
    let (status, text) = server.post_as(&url, KEY, format!("{seek}\n{state}\n").as_bytes(), false);
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("Cannot parse input"), "{text}");
    assert_eq!(
        server
            .query("SELECT count() FROM kino_strict.records")
            .trim(),
        "0"
    );

    // kino's own batch: the server keeps answering 500. Past the
    // server-error limit it is given up and counted, with the server's
    // words, instead of holding back everything after it forever.
    let mut config = emitter_config(&url, KEY);
    config.set_retry_backoff_ms(10, 50).unwrap();
    config.set_server_error_limit(3, 600).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    let events = [
        AnalyticsEvent::Seek {
            from: 1.0,
            to: 30.0,
        },
        AnalyticsEvent::StateChange {
            from: PlayerState::Buffering,
            to: PlayerState::Playing,
            position: 30.0,
        },
        AnalyticsEvent::End {
            position: 31.0,
            watch_time: 0.0,
        },
    ];
    for e in events {
        emitter.emit(e).unwrap();
    }
    emitter
        .flush(Duration::from_secs(20))
        .expect("the poison batch is given up, not retried forever");
    let s = emitter.stats();
    assert_eq!(s.last_http_status, 500);
    assert_eq!((s.delivered, s.failed, s.queued), (0, 3, 0));
    assert_eq!(s.retries, 2, "three attempts, then given up: {s:?}");
    let message = emitter.last_error_message();
    assert!(
        message.contains("Cannot parse input"),
        "the server's words: {message}"
    );
    drop(emitter);
    assert_eq!(
        server
            .query("SELECT count() FROM kino_strict.records")
            .trim(),
        "0"
    );
}
