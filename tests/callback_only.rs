//! Delivery through the batch callback, which every build has — including
//! one without the `http` feature (CI runs this file in both builds).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Mutex;

use kino::ffi::config::*;
use kino::ffi::emit::*;
use kino::ffi::emitter::*;
use kino::ffi::KinoStatus;

/// What the callback saw, shared through `user_data`.
#[derive(Default)]
struct Seen {
    bodies: Mutex<Vec<String>>,
}

unsafe extern "C" fn collect(user_data: *mut c_void, json: *const c_char, len: usize) -> c_int {
    // SAFETY: user_data is the &Seen the test passed; json is NUL-terminated.
    let seen = unsafe { &*(user_data as *const Seen) };
    let text = unsafe { CStr::from_ptr(json) }
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(text.len(), len, "len excludes the NUL");
    seen.bodies.lock().unwrap().push(text);
    0
}

fn emitter_with(seen: &Seen, format: u32) -> *mut KinoEmitter {
    let cfg = kino_config_new();
    let user_data = seen as *const Seen as *mut c_void;
    assert_eq!(
        kino_config_set_batch_callback(cfg, Some(collect), user_data),
        KinoStatus::Ok
    );
    assert_eq!(kino_config_set_format(cfg, format), KinoStatus::Ok);
    let mut h = std::ptr::null_mut();
    assert_eq!(kino_emitter_new(cfg, &mut h), KinoStatus::Ok);
    kino_config_free(cfg);
    h
}

#[test]
fn the_callback_gets_json_arrays() {
    let seen = Seen::default();
    let h = emitter_with(&seen, KinoFormat::Json as u32);
    for i in 0..5 {
        assert_eq!(kino_emit_play(h, i as f64), KinoStatus::Ok);
    }
    assert_eq!(kino_emitter_flush(h, 10_000), KinoStatus::Ok);
    kino_emitter_free(h);
    let bodies = seen.bodies.lock().unwrap();
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .flat_map(|b| serde_json::from_str::<Vec<serde_json::Value>>(b).unwrap())
        .collect();
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
}

#[test]
fn ndjson_is_one_record_per_line() {
    let seen = Seen::default();
    let h = emitter_with(&seen, KinoFormat::Ndjson as u32);
    for i in 0..3 {
        assert_eq!(kino_emit_pause(h, i as f64), KinoStatus::Ok);
    }
    assert_eq!(kino_emitter_flush(h, 10_000), KinoStatus::Ok);
    kino_emitter_free(h);
    let bodies = seen.bodies.lock().unwrap();
    let lines: Vec<serde_json::Value> = bodies
        .iter()
        .flat_map(|b| {
            b.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|r| r["event"] == "pause"));
}

#[test]
fn otlp_logs_reach_the_callback_too() {
    let seen = Seen::default();
    let h = emitter_with(&seen, KinoFormat::OtlpJson as u32);
    for i in 0..3 {
        assert_eq!(kino_emit_play(h, i as f64), KinoStatus::Ok);
    }
    assert_eq!(kino_emitter_flush(h, 10_000), KinoStatus::Ok);
    kino_emitter_free(h);
    let bodies = seen.bodies.lock().unwrap();
    let names: Vec<String> = bodies
        .iter()
        .flat_map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            v["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["eventName"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names, ["kino.play", "kino.play", "kino.play"]);
}

#[test]
fn unknown_format_is_refused() {
    let cfg = kino_config_new();
    assert_eq!(kino_config_set_format(cfg, 3), KinoStatus::InvalidArgument);
    kino_config_free(cfg);
}

#[test]
fn beacon_urls_need_the_http_feature() {
    let cfg = kino_config_new();
    let status = kino_config_set_beacon_url(cfg, c"http://127.0.0.1:9/b".as_ptr());
    if cfg!(feature = "http") {
        assert_eq!(status, KinoStatus::Ok);
    } else {
        assert_eq!(status, KinoStatus::InvalidArgument);
        // Nor is there a TLS stack to give a CA to.
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            kino_config_set_ca_pem(cfg, pem.as_ptr().cast(), pem.len()),
            KinoStatus::InvalidArgument
        );
    }
    kino_config_free(cfg);
}
