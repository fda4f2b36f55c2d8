//! kino-inspect, the real binary, receiving real beacons over HTTP in all
//! three formats (a JSON array with gzip and NDJSON from kino's emitters;
//! OTLP/JSON with gzip from kino's own encoder, posted to /v1/logs, since
//! delivery does not send that format yet), printing each broken rule with
//! its record, and writing a report that a real headless Chromium loads
//! without a console message, one lane per view with the expected markers,
//! and screenshots (kept under target/tmp/kino-inspect/).
//!
//! Needs Debian's `chromium` (scripts/test-deps.sh installs it).
#![cfg(feature = "http")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use kino::config::BeaconFormat;
use kino::event::AnalyticsEvent;
use kino::otlp::{encode_logs, parse_partial_success, OtlpResource};
use kino::{Config, Emitter};
use serde_json::json;
use support::collector::Collector;
use support::emitting::initial_480p;

const WAIT: Duration = Duration::from_secs(20);

fn load(url: &str) -> AnalyticsEvent {
    AnalyticsEvent::Load {
        url: url.into(),
        is_live: false,
    }
}

/// A view that keeps every rule, emitted as fast as it goes (positions
/// move no faster than the slack allows).
fn clean_view(url: &str) -> Vec<AnalyticsEvent> {
    use AnalyticsEvent::*;
    vec![
        load(url),
        initial_480p(),
        Play { position: 0.0 },
        Heartbeat {
            position: 1.0,
            buffer_level: 8.0,
            bitrate: 800_000,
            dropped_frames: 0,
            decoded_frames: 25,
        },
        Rebuffer {
            position: 1.5,
            buffer_level: 0.0,
        },
        RebufferEnd {
            position: 1.5,
            duration: 0.25,
        },
        Seek {
            from: 1.5,
            to: 100.0,
        },
        Play { position: 100.0 },
        Pause { position: 100.5 },
        Play { position: 100.5 },
        Error {
            code: "SEG_404".into(),
            message: "retried".into(),
            fatal: false,
            position: 101.0,
        },
        Custom {
            name: "ad".into(),
            data: json!({"slot": "pre"}),
        },
        End {
            position: 101.5,
            watch_time: 2.0,
        },
    ]
}

/// Breaks six rules; the sequence number of the record showing each.
fn broken_session(url: &str) -> (Vec<AnalyticsEvent>, Vec<(&'static str, u64)>) {
    use AnalyticsEvent::*;
    let events = vec![
        Play { position: 0.0 }, // 1: before any load
        load(url),              // 2: its view starts without an initial rendition
        Play { position: 0.0 }, // 3
        RebufferEnd {
            position: 0.5,
            duration: 0.0,
        }, // 4: no rebuffer before it
        Heartbeat {
            position: 50.0,
            buffer_level: 1.0,
            bitrate: 800_000,
            dropped_frames: 0,
            decoded_frames: 1,
        }, // 5: 49.5 s of media at once, no seek
        Seek {
            from: 50.0,
            to: 80.0,
        }, // 6: never completes
        End {
            position: 80.0,
            watch_time: 1.0,
        }, // 7 (and the qoe record, 8)
        Heartbeat {
            position: 80.0,
            buffer_level: 0.0,
            bitrate: 0,
            dropped_frames: 0,
            decoded_frames: 1,
        }, // 9: the view has closed
    ];
    let expected = vec![
        ("play-before-load", 1),
        ("rebuffer-end-without-rebuffer", 4),
        ("position-jump", 5),
        ("seek-never-completes", 6),
        ("no-initial-quality", 2),
        ("outside-view", 9),
    ];
    (events, expected)
}

fn emitter(url: &str, format: BeaconFormat, gzip: bool) -> Emitter {
    let mut config = Config::default();
    config.set_beacon_url(Some(url)).unwrap();
    config.set_format(format);
    config.set_gzip(gzip);
    config.set_shutdown_timeout_ms(200).unwrap();
    Emitter::new(&config).unwrap()
}

fn emit_all(e: &Emitter, events: Vec<AnalyticsEvent>) -> usize {
    let n = events.len();
    for ev in events {
        e.emit(ev).unwrap();
    }
    e.flush(WAIT).unwrap();
    n
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A run of kino-inspect over four sessions: A clean (JSON array, gzip),
/// B breaking six rules (NDJSON), C clean (OTLP/JSON, gzip, with session
/// metadata), D a view still open when kino-inspect exits.
struct Run {
    status: ExitStatus,
    stdout: String,
    report: PathBuf,
    expected: Vec<(&'static str, u64)>,
}

fn run_inspector(name: &str) -> Run {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kino-inspect");
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join(format!("{name}.html"));
    let _ = std::fs::remove_file(&report);
    // 14 + 9 + 14 + 3 records, then it stops by itself.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kino-inspect"))
        .args([
            "--exit-after-records",
            "40",
            "--timeout-s",
            "60",
            "--strict",
        ])
        .arg("--report")
        .arg(&report)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kino-inspect");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("kino-inspect: listening on ")
        .unwrap_or_else(|| panic!("first line: {first}"))
        .to_owned();
    let base = url.trim_end_matches("/beacon").to_owned();
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        first + &rest
    });

    let a = emitter(&url, BeaconFormat::JsonArray, true);
    let mut records = emit_all(&a, clean_view("https://a.example/a.m3u8")) + 1;

    let b = emitter(&url, BeaconFormat::Ndjson, false);
    let (mut events, expected) = broken_session("https://b.example/b.m3u8");
    // The call after the end goes once the view's qoe record is out: the
    // worker numbers a qoe record when it sees the closing call, so a call
    // racing it would take the number before it and arrive after it.
    let after_end = events.split_off(events.len() - 1);
    records += emit_all(&b, events) + 1;
    records += emit_all(&b, after_end);

    // C: kino's own records, OTLP-encoded the way delivery will send them.
    let collector = Collector::start();
    let c = emitter(&collector.url(), BeaconFormat::JsonArray, false);
    records += emit_all(&c, clean_view("https://c.example/c.m3u8")) + 1;
    let resource = OtlpResource::with_metadata(
        c.session_id(),
        [("app_name", "tv-app"), ("video_cdn", "cdn-c")].map(|(k, v)| (k.into(), v.into())),
    );
    drop(c);
    for beacon in collector.beacons() {
        let otlp = encode_logs(&beacon.body, &resource, SystemTime::now()).unwrap();
        let mut resp = ureq::post(&format!("{base}/v1/logs"))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .send(&gzip(&otlp)[..])
            .expect("kino-inspect takes OTLP");
        assert_eq!(resp.status().as_u16(), 200);
        let body = resp.body_mut().read_to_vec().unwrap();
        assert_eq!(body, b"{}", "an ExportLogsServiceResponse");
        assert_eq!(parse_partial_success(&body), None);
    }

    // D stays open until kino-inspect has gone.
    let d = emitter(&url, BeaconFormat::Ndjson, false);
    records += emit_all(
        &d,
        vec![
            load("https://d.example/d.m3u8"),
            initial_480p(),
            AnalyticsEvent::Play { position: 0.0 },
        ],
    );
    assert_eq!(records, 40);
    let status = child.wait().unwrap();
    let stdout = reader.join().unwrap();
    drop((a, b, d));
    let mut expected = expected;
    expected.push(("view-never-closed", 1));
    Run {
        status,
        stdout,
        report,
        expected,
    }
}

#[test]
fn every_format_arrives_and_each_broken_rule_is_printed_with_its_record() {
    let run = run_inspector("rules");
    let out = &run.stdout;
    for format in ["JSON array (gzip)", "NDJSON", "OTLP/JSON (gzip)"] {
        assert!(
            out.contains(&format!("records, {format}\n")),
            "{format}:\n{out}"
        );
    }
    let lines: Vec<&str> = out.lines().collect();
    let mut found = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix("!! ") else {
            continue;
        };
        found += 1;
        let code = rest.split(':').next().unwrap();
        let record = lines[i + 1]
            .trim()
            .strip_prefix("record: ")
            .expect("the record follows the finding");
        let record: serde_json::Value = serde_json::from_str(record).unwrap();
        let seq = record["sequence"].as_u64().unwrap();
        assert!(
            run.expected.contains(&(code, seq)),
            "unexpected finding {code} on #{seq}:\n{out}"
        );
    }
    assert_eq!(found, run.expected.len(), "{out}");
    assert!(out.contains("40 records, 4 sessions, 0 problems"), "{out}");
    assert!(out.contains(&format!("kino-inspect: {} findings", run.expected.len())));
    assert_eq!(run.status.code(), Some(1), "--strict fails on findings");
    assert!(out.contains("report written to"), "{out}");
}

/// The `<svg class="lane" …>…</svg>` elements of a page, by their data-url.
fn lanes(dom: &str) -> Vec<(String, String)> {
    dom.split("<svg class=\"lane\"")
        .skip(1)
        .map(|part| {
            let svg = &part[..part.find("</svg>").expect("a closed svg")];
            let url = svg
                .split("data-url=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap()
                .to_owned();
            (url, svg.to_owned())
        })
        .collect()
}

fn chromium(args: &[&str], page: &Path) -> (String, String) {
    let profile = tempdir("chromium-profile");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium (scripts/test-deps.sh installs it)");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kino-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_report_loads_in_chromium_with_one_lane_per_view() {
    let run = run_inspector("browser");
    let html = std::fs::read_to_string(&run.report).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("@import"),
        "self-contained"
    );

    let (dom, log) = chromium(&["--dump-dom"], &run.report);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script ran to its end"
    );
    assert!(dom.contains("data-lanes=\"4\""), "one lane per view");

    let lanes = lanes(&dom);
    assert_eq!(lanes.len(), 4);
    let count = |svg: &str, class: &str| svg.matches(&format!("class=\"marker {class}")).count();
    for (url, svg) in &lanes {
        let host = url.split('/').nth(2).unwrap();
        // (stalls, seeks, pauses, errors, heartbeats, findings)
        let want = match host {
            "a.example" | "c.example" => (1, 1, 1, 1, 1, 0),
            "b.example" => (0, 1, 0, 0, 1, 4),
            "d.example" => (0, 0, 0, 0, 0, 1),
            other => panic!("unexpected lane {other}"),
        };
        let got = (
            count(svg, "stall"),
            count(svg, "seek"),
            count(svg, "pause"),
            count(svg, "error"),
            count(svg, "heartbeat"),
            count(svg, "finding"),
        );
        assert_eq!(got, want, "lane {host}");
        assert!(svg.contains("data-state=\"playing\""), "lane {host} played");
    }
    // C's session metadata (from its OTLP resource) is on the page.
    assert!(dom.contains("cdn-c") && dom.contains("tv-app"));

    let png = run.report.with_extension("png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &[
            "--hide-scrollbars",
            "--window-size=1280,2600",
            &format!("--screenshot={}", png.display()),
        ],
        &run.report,
    );
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        bytes.len() > 20_000,
        "a page, not a blank: {} bytes",
        bytes.len()
    );
    println!("screenshot: {}", png.display());
}
