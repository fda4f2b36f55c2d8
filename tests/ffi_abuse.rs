//! Abuse of the C ABI from Rust: every export is called the way a careless
//! or hostile C host would call it — NULL pointers, invalid UTF-8, NaN and
//! infinities, negative times, enum values out of range, oversized text and
//! JSON, bad configuration — and must answer with its documented status and
//! a non-empty `kino_last_error_message()` naming the culprit, refuse the
//! event without using up a sequence number, and never crash.
//!
//! `KINO_BEACON_URL` is not touched here: the environment is process-wide
//! and these tests run on parallel threads, so its behaviour is tested by
//! the C program (`tests/c/abuse.c`, a separate process) instead.

mod support;

use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::mem::{size_of, MaybeUninit};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering::SeqCst};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use kino::ffi::config::*;
use kino::ffi::emit::*;
use kino::ffi::emitter::*;
use kino::ffi::error::*;
use kino::ffi::qoe::*;
use kino::ffi::KinoStatus;
use serde_json::Value;
use support::collector::Collector;

const WAIT: Duration = Duration::from_secs(10);
const FLUSH_MS: u32 = 10_000;

/// Every kind of non-real or negative number a host could pass.
const BAD_F64: [f64; 6] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -1.0,
    -f64::MIN_POSITIVE,
    f64::MIN,
];

/// Byte strings that are not UTF-8 (each NUL-terminated): a stray byte, an
/// overlong encoding, a UTF-16 surrogate, a truncated sequence at the end.
const BAD_UTF8: [&[u8]; 4] = [
    b"http://a.example/\xff\0",
    b"\xc0\xaf\0",
    b"x\xed\xa0\x80y\0",
    b"abc\xe2\x82\0",
];

fn bad_utf8(bytes: &[u8]) -> *const c_char {
    assert_eq!(bytes.last(), Some(&0));
    bytes.as_ptr().cast()
}

// ---------------------------------------------------------------------------
// Owned handles, so a failing assertion does not leak them.

struct Cfg(*mut KinoConfig);
impl Drop for Cfg {
    fn drop(&mut self) {
        kino_config_free(self.0);
    }
}

struct Em(*mut KinoEmitter);
impl Drop for Em {
    fn drop(&mut self) {
        kino_emitter_free(self.0);
    }
}

struct Qoe(*mut KinoQoe);
impl Drop for Qoe {
    fn drop(&mut self) {
        kino_qoe_free(self.0);
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in test text")
}

/// A config sending to `url` (or nowhere), flushing only when asked.
fn config(url: Option<&str>) -> Cfg {
    let c = Cfg(kino_config_new());
    assert!(!c.0.is_null());
    let url = url.map(cstr);
    assert_eq!(
        kino_config_set_beacon_url(c.0, url.as_ref().map_or(null(), |u| u.as_ptr())),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_config_set_flush_interval_ms(c.0, 600_000),
        KinoStatus::Ok
    );
    c
}

fn emitter(cfg: &Cfg) -> Em {
    let mut out = null_mut();
    assert_eq!(kino_emitter_new(cfg.0, &mut out), KinoStatus::Ok);
    assert!(!out.is_null());
    Em(out)
}

fn emitter_to(collector: &Collector) -> Em {
    emitter(&config(Some(&collector.url())))
}

fn stats(e: &Em) -> KinoStats {
    let mut s = KinoStats::default();
    assert_eq!(kino_emitter_stats(e.0, &mut s), KinoStatus::Ok);
    assert_eq!(
        s.emitted,
        s.delivered + s.failed + s.queued,
        "stats invariant: {s:?}"
    );
    s
}

fn flush(e: &Em) {
    assert_eq!(
        kino_emitter_flush(e.0, FLUSH_MS),
        KinoStatus::Ok,
        "{}",
        last_error()
    );
}

fn session_id(e: &Em) -> String {
    let mut buf = [0 as c_char; 37];
    assert_eq!(
        kino_emitter_session_id(e.0, buf.as_mut_ptr(), buf.len()),
        KinoStatus::Ok
    );
    // SAFETY: the call wrote a NUL-terminated id.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .expect("ASCII id")
        .to_owned()
}

/// The accepted records of one emitter, by sequence number.
fn records_of(collector: &Collector, e: &Em) -> Vec<Value> {
    let sid = session_id(e);
    let mut records: Vec<Value> = collector
        .accepted_records()
        .into_iter()
        .filter(|r| r["session_id"] == sid.as_str())
        .collect();
    records.sort_by_key(|r| r["sequence"].as_u64().expect("sequence"));
    records
}

/// The records a host emitted (kino's own `qoe` records left out).
fn host_records(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["event"] != "qoe").collect()
}

#[track_caller]
fn assert_contiguous(records: &[Value]) {
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().expect("sequence"))
        .collect();
    let expected: Vec<u64> = (1..=records.len() as u64).collect();
    assert_eq!(seqs, expected, "sequences must be 1..=n without gaps");
}

fn last_error() -> String {
    let p = kino_last_error_message();
    assert!(!p.is_null(), "kino_last_error_message returned NULL");
    // SAFETY: kino returns a NUL-terminated string, valid until the next
    // failing call on this thread; it is copied at once.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("last error message is UTF-8")
        .to_owned()
}

/// Marker left in the last error by [`poison`].
const POISON: &str = "(got -7.25)";

/// Makes this thread's last error a known, unrelated message, so a check
/// after the next call sees whether that call really replaced it.
fn poison() {
    let q = Qoe(kino_qoe_new());
    assert_eq!(
        kino_qoe_record_quality_switch(q.0, -7.25, 1),
        KinoStatus::InvalidArgument
    );
    assert!(last_error().contains(POISON), "{}", last_error());
}

/// Runs `call`, which must fail with `want` and leave a fresh, non-empty
/// last error mentioning every word of `mentions`. Returns the message.
#[track_caller]
fn refused(want: KinoStatus, mentions: &[&str], call: impl FnOnce() -> KinoStatus) -> String {
    poison();
    let got = call();
    let msg = last_error();
    assert_eq!(got, want, "status (message: {msg:?})");
    assert!(!msg.is_empty(), "empty last error after {want:?}");
    assert!(
        !msg.contains(POISON),
        "last error not updated by the failing call: {msg:?}"
    );
    for m in mentions {
        assert!(msg.contains(m), "last error {msg:?} does not mention {m:?}");
    }
    msg
}

/// Fills `T` with a byte pattern, runs `f` on it, and returns its bytes.
fn with_sentinel<T>(f: impl FnOnce(*mut T) -> KinoStatus) -> (KinoStatus, Vec<u8>) {
    let mut slot = MaybeUninit::<T>::uninit();
    // SAFETY: writing bytes into our own uninitialised storage.
    unsafe {
        slot.as_mut_ptr()
            .cast::<u8>()
            .write_bytes(0xA5, size_of::<T>())
    };
    let status = f(slot.as_mut_ptr());
    // SAFETY: every byte was initialised above (and maybe rewritten by f);
    // we only read raw bytes, never a T with invalid contents.
    let bytes =
        unsafe { std::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), size_of::<T>()) }.to_vec();
    (status, bytes)
}

// ---------------------------------------------------------------------------
// NULL

#[test]
fn null_config_handle_is_refused_by_every_setter() {
    let name = cstr("X-A");
    let url = cstr("http://127.0.0.1:9/b");
    type Setter = fn(*mut KinoConfig, *const c_char) -> KinoStatus;
    let setters: [(&str, Setter); 9] = [
        ("set_beacon_url", |c, u| kino_config_set_beacon_url(c, u)),
        ("set_batch_size", |c, _| kino_config_set_batch_size(c, 10)),
        ("set_flush_interval_ms", |c, _| {
            kino_config_set_flush_interval_ms(c, 10)
        }),
        ("set_queue_capacity", |c, _| {
            kino_config_set_queue_capacity(c, 10)
        }),
        ("set_request_timeout_ms", |c, _| {
            kino_config_set_request_timeout_ms(c, 10)
        }),
        ("set_shutdown_timeout_ms", |c, _| {
            kino_config_set_shutdown_timeout_ms(c, 10)
        }),
        ("add_header", |c, n| kino_config_add_header(c, n, n)),
        ("set_batch_callback", |c, _| {
            kino_config_set_batch_callback(c, Some(counting_callback), null_mut())
        }),
        ("set_keep_url_query", |c, _| {
            kino_config_set_keep_url_query(c, true)
        }),
    ];
    for (what, setter) in setters {
        let arg = if what == "add_header" {
            name.as_ptr()
        } else {
            url.as_ptr()
        };
        let msg = refused(KinoStatus::NullArgument, &["config"], || {
            setter(null_mut(), arg)
        });
        assert!(msg.contains("NULL"), "{what}: {msg}");
    }
    // Both pointers NULL: still the handle that is reported first.
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_add_header(null_mut(), null(), null())
    });
    kino_config_free(null_mut());
}

#[test]
fn null_emitter_handle_is_refused_by_every_call() {
    let r = KinoResolution {
        width: 1,
        height: 1,
    };
    let s = cstr("s");
    type Call = fn(*mut KinoEmitter, *const c_char, &KinoResolution) -> KinoStatus;
    let calls: [(&str, Call); 16] = [
        ("load", |e, s, _| kino_emit_load(e, s, false)),
        ("play", |e, _, _| kino_emit_play(e, 1.0)),
        ("pause", |e, _, _| kino_emit_pause(e, 1.0)),
        ("seek", |e, _, _| kino_emit_seek(e, 1.0, 2.0)),
        ("rebuffer", |e, _, _| kino_emit_rebuffer(e, 1.0, 0.0)),
        ("rebuffer_end", |e, _, _| {
            kino_emit_rebuffer_end(e, 1.0, 0.5)
        }),
        ("quality_change", |e, _, r| {
            kino_emit_quality_change(e, 1, 2, r, r, 0)
        }),
        ("state_change", |e, _, _| {
            kino_emit_state_change(e, 0, 1, 0.0)
        }),
        ("end", |e, _, _| kino_emit_end(e, 1.0, 1.0)),
        ("error", |e, s, _| kino_emit_error(e, s, s, true, 1.0)),
        ("heartbeat", |e, _, _| {
            kino_emit_heartbeat(e, 1.0, 1.0, 1, 0, 1)
        }),
        ("custom", |e, s, _| kino_emit_custom(e, s, null())),
        ("flush", |e, _, _| kino_emitter_flush(e, 10)),
        ("session_id", |e, _, _| {
            let mut buf = [0 as c_char; 64];
            kino_emitter_session_id(e, buf.as_mut_ptr(), buf.len())
        }),
        ("stats", |e, _, _| {
            let mut out = KinoStats::default();
            kino_emitter_stats(e, &mut out)
        }),
        ("qoe", |e, _, _| {
            let (status, _) = with_sentinel::<KinoQoeBreakdown>(|out| kino_emitter_qoe(e, out));
            status
        }),
    ];
    for (what, call) in calls {
        let msg = refused(KinoStatus::NullArgument, &["emitter"], || {
            call(null_mut(), s.as_ptr(), &r)
        });
        assert!(msg.contains("NULL"), "{what}: {msg}");
    }
    // NULL handle together with bad values: the handle is what is reported.
    refused(KinoStatus::NullArgument, &["emitter"], || {
        kino_emit_play(null_mut(), f64::NAN)
    });
    refused(KinoStatus::NullArgument, &["emitter"], || {
        kino_emit_state_change(null_mut(), 99, 99, f64::NAN)
    });
    refused(KinoStatus::NullArgument, &["emitter"], || {
        kino_emit_load(null_mut(), null(), false)
    });
    kino_emitter_free(null_mut());
}

#[test]
fn null_qoe_handle_is_refused_by_every_call() {
    refused(KinoStatus::NullArgument, &["qoe"], || {
        kino_qoe_record_initial_buffer(null_mut(), 1.0)
    });
    refused(KinoStatus::NullArgument, &["qoe"], || {
        kino_qoe_record_rebuffer(null_mut(), 1.0)
    });
    refused(KinoStatus::NullArgument, &["qoe"], || {
        kino_qoe_record_quality_switch(null_mut(), 1.0, 1)
    });
    refused(KinoStatus::NullArgument, &["qoe"], || {
        kino_qoe_record_bitrate(null_mut(), 1.0, 1)
    });
    refused(KinoStatus::NullArgument, &["qoe"], || {
        with_sentinel::<KinoQoeBreakdown>(|out| kino_qoe_breakdown(null(), out)).0
    });
    // The score has no status: NaN, and the reason in the last error.
    poison();
    assert!(kino_qoe_score(null()).is_nan());
    let msg = last_error();
    assert!(msg.contains("qoe") && !msg.contains(POISON), "{msg}");
    kino_qoe_free(null_mut());
}

#[test]
fn null_pointer_arguments_with_live_handles() {
    let cfg = config(None);
    refused(KinoStatus::NullArgument, &["name"], || {
        kino_config_add_header(cfg.0, null(), c"v".as_ptr())
    });
    refused(KinoStatus::NullArgument, &["value"], || {
        kino_config_add_header(cfg.0, c"X-A".as_ptr(), null())
    });
    refused(KinoStatus::NullArgument, &["out"], || {
        kino_emitter_new(cfg.0, null_mut())
    });
    refused(KinoStatus::NullArgument, &["out"], || {
        kino_emitter_new(null(), null_mut())
    });

    let e = emitter(&cfg);
    refused(KinoStatus::NullArgument, &["url"], || {
        kino_emit_load(e.0, null(), true)
    });
    refused(KinoStatus::NullArgument, &["code"], || {
        kino_emit_error(e.0, null(), c"m".as_ptr(), false, 0.0)
    });
    refused(KinoStatus::NullArgument, &["message"], || {
        kino_emit_error(e.0, c"E".as_ptr(), null(), false, 0.0)
    });
    refused(KinoStatus::NullArgument, &["name"], || {
        kino_emit_custom(e.0, null(), c"{}".as_ptr())
    });
    refused(KinoStatus::NullArgument, &["buf"], || {
        kino_emitter_session_id(e.0, null_mut(), 37)
    });
    refused(KinoStatus::NullArgument, &["buf"], || {
        kino_emitter_session_id(e.0, null_mut(), 0)
    });
    refused(KinoStatus::NullArgument, &["out"], || {
        kino_emitter_stats(e.0, null_mut())
    });
    refused(KinoStatus::NullArgument, &["out"], || {
        kino_emitter_qoe(e.0, null_mut())
    });
    let q = Qoe(kino_qoe_new());
    refused(KinoStatus::NullArgument, &["out"], || {
        kino_qoe_breakdown(q.0, null_mut())
    });
    let s = stats(&e);
    assert_eq!((s.emitted, s.dropped), (0, 0), "nothing was queued");
}

#[test]
fn emitter_new_with_null_config_uses_the_defaults() {
    let mut out = null_mut();
    assert_eq!(kino_emitter_new(null(), &mut out), KinoStatus::Ok);
    let e = Em(out);
    assert!(!e.0.is_null());
    assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
    assert_eq!(stats(&e).emitted, 1);
}

#[test]
fn null_resolutions_and_null_custom_json_are_allowed() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    let r = KinoResolution {
        width: 1920,
        height: 1080,
    };
    assert_eq!(
        kino_emit_quality_change(e.0, 1, 2, null(), null(), 3),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_emit_quality_change(e.0, 2, 3, &r, null(), 0),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_emit_quality_change(e.0, 3, 4, null(), &r, 1),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_emit_custom(e.0, c"nothing".as_ptr(), null()),
        KinoStatus::Ok
    );
    flush(&e);
    let records = records_of(&collector, &e);
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["from_resolution"], Value::Null);
    assert_eq!(records[0]["to_resolution"], Value::Null);
    assert_eq!(records[0]["reason"], "initial");
    assert_eq!(
        records[1]["from_resolution"],
        serde_json::json!({"width":1920,"height":1080})
    );
    assert_eq!(records[1]["to_resolution"], Value::Null);
    assert_eq!(records[1]["reason"], "abr");
    assert_eq!(records[2]["from_resolution"], Value::Null);
    assert_eq!(records[2]["reason"], "manual");
    assert_eq!(records[3]["event"], "custom");
    assert_eq!(records[3]["name"], "nothing");
    let data = records[3]
        .as_object()
        .expect("record object")
        .get("data")
        .expect("a custom record carries data, even when null");
    assert_eq!(*data, Value::Null);
}

#[test]
fn out_params_are_untouched_on_failure() {
    let sentinel = |len| vec![0xA5_u8; len];

    let (status, bytes) = with_sentinel::<KinoStats>(|out| kino_emitter_stats(null(), out));
    assert_eq!(status, KinoStatus::NullArgument);
    assert_eq!(bytes, sentinel(size_of::<KinoStats>()));

    let (status, bytes) = with_sentinel::<KinoQoeBreakdown>(|out| kino_emitter_qoe(null(), out));
    assert_eq!(status, KinoStatus::NullArgument);
    assert_eq!(bytes, sentinel(size_of::<KinoQoeBreakdown>()));

    let (status, bytes) = with_sentinel::<KinoQoeBreakdown>(|out| kino_qoe_breakdown(null(), out));
    assert_eq!(status, KinoStatus::NullArgument);
    assert_eq!(bytes, sentinel(size_of::<KinoQoeBreakdown>()));

    let (status, bytes) = with_sentinel::<[c_char; 64]>(|buf| {
        kino_emitter_session_id(null(), buf.cast::<c_char>(), 64)
    });
    assert_eq!(status, KinoStatus::NullArgument);
    assert_eq!(bytes, sentinel(64));

    // The positive control: the same calls do write on success.
    let e = emitter(&config(None));
    let (status, bytes) = with_sentinel::<KinoStats>(|out| kino_emitter_stats(e.0, out));
    assert_eq!(status, KinoStatus::Ok);
    assert_eq!(bytes, vec![0; size_of::<KinoStats>()]);
    let q = Qoe(kino_qoe_new());
    let (status, bytes) = with_sentinel::<KinoQoeBreakdown>(|out| kino_qoe_breakdown(q.0, out));
    assert_eq!(status, KinoStatus::Ok);
    assert_ne!(bytes, sentinel(size_of::<KinoQoeBreakdown>()));
}

// ---------------------------------------------------------------------------
// Invalid UTF-8

#[test]
fn invalid_utf8_is_refused_in_every_string_parameter() {
    let cfg = config(None);
    let e = emitter(&cfg);
    for bytes in BAD_UTF8 {
        let bad = bad_utf8(bytes);
        refused(KinoStatus::InvalidUtf8, &["url", "UTF-8"], || {
            kino_config_set_beacon_url(cfg.0, bad)
        });
        refused(KinoStatus::InvalidUtf8, &["name", "UTF-8"], || {
            kino_config_add_header(cfg.0, bad, c"v".as_ptr())
        });
        refused(KinoStatus::InvalidUtf8, &["value", "UTF-8"], || {
            kino_config_add_header(cfg.0, c"X-A".as_ptr(), bad)
        });
        refused(KinoStatus::InvalidUtf8, &["url", "UTF-8"], || {
            kino_emit_load(e.0, bad, false)
        });
        refused(KinoStatus::InvalidUtf8, &["code", "UTF-8"], || {
            kino_emit_error(e.0, bad, c"m".as_ptr(), true, 0.0)
        });
        refused(KinoStatus::InvalidUtf8, &["message", "UTF-8"], || {
            kino_emit_error(e.0, c"E".as_ptr(), bad, true, 0.0)
        });
        refused(KinoStatus::InvalidUtf8, &["name", "UTF-8"], || {
            kino_emit_custom(e.0, bad, c"{}".as_ptr())
        });
        refused(KinoStatus::InvalidUtf8, &["json_data", "UTF-8"], || {
            kino_emit_custom(e.0, c"n".as_ptr(), bad)
        });
    }
    // Invalid UTF-8 inside a JSON string literal is still invalid UTF-8.
    refused(KinoStatus::InvalidUtf8, &["json_data"], || {
        kino_emit_custom(e.0, c"n".as_ptr(), bad_utf8(b"{\"k\":\"\xff\"}\0"))
    });
    let s = stats(&e);
    assert_eq!(
        (s.emitted, s.dropped),
        (0, 0),
        "no refused event was queued"
    );
}

// ---------------------------------------------------------------------------
// Numbers

type FloatCase = (
    &'static str,
    &'static str,
    fn(*mut KinoEmitter, f64) -> KinoStatus,
);

/// Every f64 parameter of every emit call, with the word its error names.
const FLOAT_CASES: [FloatCase; 14] = [
    ("play", "position", |e, v| kino_emit_play(e, v)),
    ("pause", "position", |e, v| kino_emit_pause(e, v)),
    ("seek(from)", "'from'", |e, v| kino_emit_seek(e, v, 1.0)),
    ("seek(to)", "'to'", |e, v| kino_emit_seek(e, 1.0, v)),
    ("rebuffer(position)", "position", |e, v| {
        kino_emit_rebuffer(e, v, 1.0)
    }),
    ("rebuffer(buffer_level)", "buffer_level", |e, v| {
        kino_emit_rebuffer(e, 1.0, v)
    }),
    ("rebuffer_end(position)", "position", |e, v| {
        kino_emit_rebuffer_end(e, v, 1.0)
    }),
    ("rebuffer_end(duration)", "duration", |e, v| {
        kino_emit_rebuffer_end(e, 1.0, v)
    }),
    ("state_change(position)", "position", |e, v| {
        kino_emit_state_change(e, 2, 3, v)
    }),
    ("end(position)", "position", |e, v| kino_emit_end(e, v, 1.0)),
    ("end(watch_time)", "watch_time", |e, v| {
        kino_emit_end(e, 1.0, v)
    }),
    ("error(position)", "position", |e, v| {
        kino_emit_error(e, c"E".as_ptr(), c"m".as_ptr(), true, v)
    }),
    ("heartbeat(position)", "position", |e, v| {
        kino_emit_heartbeat(e, v, 1.0, 1, 0, 1)
    }),
    ("heartbeat(buffer_level)", "buffer_level", |e, v| {
        kino_emit_heartbeat(e, 1.0, v, 1, 0, 1)
    }),
];

#[test]
fn bad_numbers_are_refused_and_take_no_sequence_number() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    let mut good = 0u64;
    for (what, mention, call) in FLOAT_CASES {
        for bad in BAD_F64 {
            let before = stats(&e).emitted;
            let msg = refused(KinoStatus::InvalidArgument, &[mention], || call(e.0, bad));
            assert_eq!(stats(&e).emitted, before, "{what}({bad}) was queued: {msg}");
        }
        // The same call with real numbers is accepted (no view is open, so
        // kino adds no records of its own).
        assert_eq!(call(e.0, 0.0), KinoStatus::Ok, "{what}(0.0)");
        assert_eq!(kino_emit_play(e.0, 2.5), KinoStatus::Ok);
        good += 2;
        assert_eq!(stats(&e).emitted, good);
    }
    flush(&e);
    let s = stats(&e);
    assert_eq!((s.emitted, s.delivered, s.dropped), (good, good, 0));
    let records = records_of(&collector, &e);
    assert_eq!(records.len() as u64, good);
    assert_contiguous(&records);
}

#[test]
fn bad_numbers_are_refused_by_the_qoe_calculator() {
    let q = Qoe(kino_qoe_new());
    assert_eq!(
        kino_qoe_record_bitrate(q.0, 10.0, 1_000_000),
        KinoStatus::Ok
    );
    assert_eq!(kino_qoe_record_rebuffer(q.0, 1.0), KinoStatus::Ok);
    // Debug text compares every field (NaN included), never padding bytes.
    let breakdown = |q: &Qoe| {
        let mut out = MaybeUninit::<KinoQoeBreakdown>::uninit();
        assert_eq!(kino_qoe_breakdown(q.0, out.as_mut_ptr()), KinoStatus::Ok);
        // SAFETY: written in full on success.
        format!("{:?}", unsafe { out.assume_init() })
    };
    let before = breakdown(&q);
    let score = kino_qoe_score(q.0);
    assert!((score - 85.0).abs() < 0.1, "{score}");
    type QoeCase = (&'static str, fn(*mut KinoQoe, f64) -> KinoStatus);
    let cases: [QoeCase; 4] = [
        ("seconds", |q, v| kino_qoe_record_initial_buffer(q, v)),
        ("seconds", |q, v| kino_qoe_record_rebuffer(q, v)),
        ("timestamp", |q, v| kino_qoe_record_quality_switch(q, v, 5)),
        ("duration", |q, v| kino_qoe_record_bitrate(q, v, 5)),
    ];
    for (mention, call) in cases {
        for bad in BAD_F64 {
            refused(KinoStatus::InvalidArgument, &[mention], || call(q.0, bad));
        }
    }
    assert_eq!(breakdown(&q), before, "refused values changed the figures");
    assert_eq!(kino_qoe_score(q.0).to_bits(), score.to_bits());
}

#[test]
fn seed_qoe_tests_through_the_abi() {
    let perfect = Qoe(kino_qoe_new());
    assert_eq!(kino_qoe_score(perfect.0), 100.0);

    let rebuffers = Qoe(kino_qoe_new());
    assert_eq!(kino_qoe_record_rebuffer(rebuffers.0, 1.0), KinoStatus::Ok);
    assert_eq!(kino_qoe_record_rebuffer(rebuffers.0, 2.0), KinoStatus::Ok);
    assert!((kino_qoe_score(rebuffers.0) - 65.0).abs() < 0.1);

    let startup = Qoe(kino_qoe_new());
    assert_eq!(
        kino_qoe_record_initial_buffer(startup.0, 5.0),
        KinoStatus::Ok
    );
    assert!((kino_qoe_score(startup.0) - 85.0).abs() < 0.1);
}

#[test]
fn enum_values_out_of_range_are_refused() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    for bad in [8, 9, 999, 0x8000_0000, u32::MAX] {
        refused(
            KinoStatus::InvalidArgument,
            &["from", "KinoPlayerState"],
            || kino_emit_state_change(e.0, bad, 0, 0.0),
        );
        refused(
            KinoStatus::InvalidArgument,
            &["to", "KinoPlayerState"],
            || kino_emit_state_change(e.0, 0, bad, 0.0),
        );
    }
    for bad in [4, 5, 999, u32::MAX] {
        refused(
            KinoStatus::InvalidArgument,
            &["reason", "KinoQualityChangeReason"],
            || kino_emit_quality_change(e.0, 1, 2, null(), null(), bad),
        );
    }
    assert_eq!(stats(&e).emitted, 0);
    // Every value in range is accepted and named on the wire.
    let states = [
        "idle",
        "loading",
        "playing",
        "paused",
        "buffering",
        "seeking",
        "ended",
        "error",
    ];
    for v in 0..8u32 {
        assert_eq!(kino_emit_state_change(e.0, v, 7 - v, 0.0), KinoStatus::Ok);
    }
    let reasons = ["abr", "manual", "buffer", "initial"];
    for v in 0..4u32 {
        assert_eq!(
            kino_emit_quality_change(e.0, 1, 2, null(), null(), v),
            KinoStatus::Ok
        );
    }
    flush(&e);
    let records = records_of(&collector, &e);
    assert_eq!(records.len(), 12);
    assert_contiguous(&records);
    for (i, state) in states.iter().enumerate() {
        assert_eq!(records[i]["from"], *state);
        assert_eq!(records[i]["to"], states[7 - i]);
    }
    for (i, reason) in reasons.iter().enumerate() {
        assert_eq!(records[8 + i]["reason"], *reason);
    }
}

// ---------------------------------------------------------------------------
// Text and JSON limits

#[test]
fn custom_event_json_and_name_limits() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    let name = c"n".as_ptr();
    for bad in [
        "",
        " ",
        "{",
        "}",
        "{\"a\":}",
        "[1,]",
        "{} x",
        "nul",
        "'single'",
        "{\"a\" 1}",
        "NaN",
    ] {
        let json = cstr(bad);
        refused(KinoStatus::InvalidArgument, &["JSON"], || {
            kino_emit_custom(e.0, name, json.as_ptr())
        });
    }
    // Nested deeper than any parser should recurse: refused, no overflow.
    let deep = cstr(&format!("{}{}", "[".repeat(32_768), "]".repeat(32_768)));
    refused(KinoStatus::InvalidArgument, &["JSON"], || {
        kino_emit_custom(e.0, name, deep.as_ptr())
    });
    // One byte over the limit, even if it is valid JSON.
    let over = cstr(&format!("\"{}\"", "x".repeat(65_537 - 2)));
    assert_eq!(over.as_bytes().len(), 65_537);
    refused(KinoStatus::InvalidArgument, &["JSON", "65536"], || {
        kino_emit_custom(e.0, name, over.as_ptr())
    });
    refused(KinoStatus::InvalidArgument, &["name"], || {
        kino_emit_custom(e.0, c"".as_ptr(), c"{}".as_ptr())
    });
    assert_eq!(stats(&e).emitted, 0);

    // Exactly at the limit: accepted and delivered whole.
    let at = format!("\"{}\"", "y".repeat(65_536 - 2));
    assert_eq!(at.len(), 65_536);
    let at_c = cstr(&at);
    assert_eq!(
        kino_emit_custom(e.0, c"at_limit".as_ptr(), at_c.as_ptr()),
        KinoStatus::Ok
    );
    // Whitespace counts too: 65 536 bytes of padded JSON is fine.
    let padded = format!("{}{{\"k\":[1,2]}}", " ".repeat(65_536 - 11));
    assert_eq!(padded.len(), 65_536);
    let padded_c = cstr(&padded);
    assert_eq!(
        kino_emit_custom(e.0, c"padded".as_ptr(), padded_c.as_ptr()),
        KinoStatus::Ok
    );
    // An over-long name is cut to 256 bytes on a character boundary.
    // 255 ASCII bytes, then 2-byte characters: the cut at 256 falls inside one.
    let long_name = format!("{}{}", "n".repeat(255), "é".repeat(20));
    let long_name_c = cstr(&long_name);
    assert_eq!(
        kino_emit_custom(e.0, long_name_c.as_ptr(), c"[true]".as_ptr()),
        KinoStatus::Ok
    );
    flush(&e);
    let records = records_of(&collector, &e);
    assert_eq!(records.len(), 3);
    assert_contiguous(&records);
    assert_eq!(records[0]["data"], Value::String("y".repeat(65_534)));
    assert_eq!(records[1]["data"], serde_json::json!({"k":[1,2]}));
    let got = records[2]["name"].as_str().expect("name");
    assert_eq!(got, &long_name[..255], "longest whole-character prefix");
}

#[test]
fn error_code_and_message_are_cut_on_character_boundaries() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    // 255 ASCII bytes, then 2-byte characters: the cut at 256 falls inside one.
    let code = format!("{}{}", "c".repeat(255), "ß".repeat(10));
    // 4095 ASCII bytes, then 3-byte characters.
    let message = format!("{}{}", "m".repeat(4095), "€".repeat(1000));
    let (code_c, message_c) = (cstr(&code), cstr(&message));
    assert_eq!(
        kino_emit_error(e.0, code_c.as_ptr(), message_c.as_ptr(), false, 0.0),
        KinoStatus::Ok
    );
    flush(&e);
    let records = records_of(&collector, &e);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["code"].as_str(), Some(&code[..255]));
    assert_eq!(records[0]["message"].as_str(), Some(&message[..4095]));
}

#[test]
fn a_100_kb_load_url_is_cut_to_8_kib_on_a_character_boundary() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    // "€" is 3 bytes: placed at bytes 8190..8193 it straddles the 8192 limit.
    let mut url = String::from("https://cdn.example/");
    url.push_str(&"a".repeat(8190 - url.len()));
    url.push('€');
    while url.len() < 100 * 1024 {
        url.push_str("€b");
    }
    let url_c = cstr(&url);
    assert_eq!(kino_emit_load(e.0, url_c.as_ptr(), false), KinoStatus::Ok);
    // A URL made only of 4-byte characters after 21 ASCII bytes: the last
    // whole one ends at byte 21 + 4 * 2042 = 8189.
    let mut wide = String::from("https://cdn.example/x");
    while wide.len() < 100 * 1024 {
        wide.push('😀');
    }
    let wide_c = cstr(&wide);
    assert_eq!(kino_emit_load(e.0, wide_c.as_ptr(), true), KinoStatus::Ok);
    flush(&e);
    let records = records_of(&collector, &e);
    let loads: Vec<&Value> = records.iter().filter(|r| r["event"] == "load").collect();
    assert_eq!(loads.len(), 2);
    let got = loads[0]["url"].as_str().expect("url");
    assert!(got.len() <= 8192, "{} bytes", got.len());
    assert_eq!(got, &url[..8190], "longest whole-UTF-8 prefix within 8 KiB");
    let got = loads[1]["url"].as_str().expect("url");
    assert_eq!(got, &wide[..8189]);
    assert_eq!(loads[1]["is_live"], true);
}

#[test]
fn load_urls_lose_credentials_and_by_default_query_and_fragment() {
    let collector = Collector::start();
    let secret = "https://user:pw@cdn.example/a.m3u8?token=x#t";
    let secret_c = cstr(secret);

    let plain = emitter_to(&collector);
    assert_eq!(
        kino_emit_load(plain.0, secret_c.as_ptr(), false),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_emit_load(plain.0, c"not a url?token=1#x".as_ptr(), false),
        KinoStatus::Ok
    );
    flush(&plain);

    let cfg = config(Some(&collector.url()));
    assert_eq!(kino_config_set_keep_url_query(cfg.0, true), KinoStatus::Ok);
    let keep = emitter(&cfg);
    assert_eq!(
        kino_emit_load(keep.0, secret_c.as_ptr(), false),
        KinoStatus::Ok
    );
    flush(&keep);

    // Redaction before truncation: a long token does not push the path out.
    let cfg_long = config(Some(&collector.url()));
    let long = format!(
        "https://u:p@cdn.example/{}?token={}",
        "p".repeat(100),
        "t".repeat(20_000)
    );
    let long_c = cstr(&long);
    let long_e = emitter(&cfg_long);
    assert_eq!(
        kino_emit_load(long_e.0, long_c.as_ptr(), false),
        KinoStatus::Ok
    );
    flush(&long_e);

    let urls = |e: &Em| -> Vec<String> {
        records_of(&collector, e)
            .iter()
            .filter(|r| r["event"] == "load")
            .map(|r| r["url"].as_str().expect("url").to_owned())
            .collect()
    };
    assert_eq!(
        urls(&plain),
        ["https://cdn.example/a.m3u8", "not a url"],
        "credentials, query and fragment removed"
    );
    assert_eq!(
        urls(&keep),
        ["https://cdn.example/a.m3u8?token=x#t"],
        "query kept, user-info removed"
    );
    assert_eq!(
        urls(&long_e),
        [format!("https://cdn.example/{}", "p".repeat(100))]
    );
    // Nothing anywhere in the beacons carries the secrets.
    for beacon in collector.beacons() {
        let body = String::from_utf8_lossy(&beacon.body);
        assert!(
            !body.contains("user:pw") && !body.contains("u:p@"),
            "{body}"
        );
    }
}

// ---------------------------------------------------------------------------
// Configuration

#[test]
fn zero_and_oversized_config_values_are_refused() {
    let cfg = config(None);
    type Setter = fn(*mut KinoConfig, u32) -> KinoStatus;
    let setters: [(&str, Setter); 5] = [
        ("batch size", |c, v| kino_config_set_batch_size(c, v)),
        ("flush interval", |c, v| {
            kino_config_set_flush_interval_ms(c, v)
        }),
        ("queue capacity", |c, v| {
            kino_config_set_queue_capacity(c, v)
        }),
        ("request timeout", |c, v| {
            kino_config_set_request_timeout_ms(c, v)
        }),
        ("shutdown timeout", |c, v| {
            kino_config_set_shutdown_timeout_ms(c, v)
        }),
    ];
    for (what, setter) in setters {
        refused(KinoStatus::InvalidArgument, &[what], || setter(cfg.0, 0));
        assert_eq!(setter(cfg.0, 1), KinoStatus::Ok, "{what} 1");
    }
    for too_many in [1_048_577, 2_000_000, u32::MAX] {
        refused(
            KinoStatus::InvalidArgument,
            &["queue capacity", "1048576"],
            || kino_config_set_queue_capacity(cfg.0, too_many),
        );
    }
    assert_eq!(
        kino_config_set_queue_capacity(cfg.0, 1_048_576),
        KinoStatus::Ok
    );
    // Large timeouts and batch sizes are fine.
    assert_eq!(kino_config_set_batch_size(cfg.0, u32::MAX), KinoStatus::Ok);
    assert_eq!(
        kino_config_set_request_timeout_ms(cfg.0, u32::MAX),
        KinoStatus::Ok
    );
}

#[test]
fn bad_beacon_urls_are_refused() {
    let cfg = config(None);
    for bad in [
        "",
        "ftp://collector.example/b",
        "file:///etc/passwd",
        "mailto:a@b.example",
        "http://",
        "https://",
        "http:///path",
        "collector.example/b",
        "//collector.example/b",
        "garbage",
        "http:// bad host/",
        "javascript:alert(1)",
    ] {
        let url = cstr(bad);
        refused(KinoStatus::InvalidArgument, &["URL"], || {
            kino_config_set_beacon_url(cfg.0, url.as_ptr())
        });
    }
    for good in [
        "http://127.0.0.1:9/b",
        "HTTPS://collector.example:8443/v1?k=1",
        "http://[::1]:9/b",
    ] {
        let url = cstr(good);
        assert_eq!(
            kino_config_set_beacon_url(cfg.0, url.as_ptr()),
            KinoStatus::Ok,
            "{good}: {}",
            last_error()
        );
    }
}

#[test]
fn bad_headers_are_refused_and_never_sent() {
    let collector = Collector::start();
    let cfg = config(Some(&collector.url()));
    for (name, value, mention) in [
        ("Bad Name", "x", "name"),
        ("X:Y", "x", "name"),
        ("", "x", "name"),
        ("X-Tab\t", "x", "name"),
        ("X-Ä", "x", "name"),
        ("X-(paren)", "x", "name"),
        ("X-Injected", "a\r\nInjected: 1", "X-Injected"),
        ("X-Lf", "a\nInjected: 1", "X-Lf"),
        ("X-Cr", "a\rb", "X-Cr"),
        ("Content-Type", "text/plain", "Content-Type"),
        ("content-type", "text/plain", "content-type"),
        ("CONTENT-ENCODING", "gzip", "CONTENT-ENCODING"),
        ("Content-Encoding", "br", "Content-Encoding"),
    ] {
        let (n, v) = (cstr(name), cstr(value));
        refused(KinoStatus::InvalidArgument, &[mention], || {
            kino_config_add_header(cfg.0, n.as_ptr(), v.as_ptr())
        });
    }
    assert_eq!(
        kino_config_add_header(cfg.0, c"X-Api-Key".as_ptr(), c"k 1".as_ptr()),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_config_add_header(cfg.0, c"User-Agent".as_ptr(), c"player/9".as_ptr()),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_config_add_header(cfg.0, c"X-Empty".as_ptr(), c"".as_ptr()),
        KinoStatus::Ok
    );
    let e = emitter(&cfg);
    assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
    flush(&e);
    let beacons = collector.beacons();
    assert_eq!(beacons.len(), 1);
    let b = &beacons[0];
    assert_eq!(b.header("X-Api-Key"), Some("k 1"));
    assert_eq!(b.header("User-Agent"), Some("player/9"));
    assert_eq!(b.header("Content-Type"), Some("application/json"));
    assert_eq!(b.header("Injected"), None);
    assert_eq!(b.header("Content-Encoding"), None);
    for name in ["x-injected", "x-lf", "x-cr", "x-tab", "bad name"] {
        assert!(!b.headers.contains_key(name), "{name} was sent");
    }
}

#[test]
fn null_url_clears_the_beacon_url() {
    let collector = Collector::start();
    let cfg = config(Some(&collector.url()));
    assert_eq!(kino_config_set_beacon_url(cfg.0, null()), KinoStatus::Ok);
    let e = emitter(&cfg);
    assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
    flush(&e);
    let s = stats(&e);
    assert_eq!((s.emitted, s.delivered, s.failed), (1, 0, 1));
    assert!(collector.beacons().is_empty());
}

// ---------------------------------------------------------------------------
// Session id, status strings, version

#[test]
fn session_id_needs_37_bytes_and_writes_nothing_otherwise() {
    let e = emitter(&config(None));
    for len in [0, 1, 36] {
        let mut buf = [0x5A as c_char; 64];
        refused(KinoStatus::BufferTooSmall, &["37"], || {
            kino_emitter_session_id(e.0, buf.as_mut_ptr(), len)
        });
        assert!(
            buf.iter().all(|&b| b == 0x5A),
            "buffer written at len {len}"
        );
    }
    let mut buf = [0x5A as c_char; 64];
    assert_eq!(
        kino_emitter_session_id(e.0, buf.as_mut_ptr(), 37),
        KinoStatus::Ok
    );
    assert_eq!(buf[36], 0, "NUL-terminated at byte 36");
    assert!(buf[37..].iter().all(|&b| b == 0x5A), "wrote past the id");
    // SAFETY: NUL-terminated just above.
    let id = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
    assert_eq!(id.len(), 36);
    let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(uuid.hyphenated().to_string(), id, "lower-case hyphenated");
    // A larger buffer gets the same id; another emitter gets another.
    assert_eq!(session_id(&e), id);
    assert_ne!(session_id(&emitter(&config(None))), id);
}

#[test]
fn status_strings_are_never_null() {
    let names = [
        "KINO_STATUS_OK",
        "KINO_STATUS_NULL_ARGUMENT",
        "KINO_STATUS_INVALID_UTF8",
        "KINO_STATUS_INVALID_ARGUMENT",
        "KINO_STATUS_QUEUE_FULL",
        "KINO_STATUS_CLOSED",
        "KINO_STATUS_TIMEOUT",
        "KINO_STATUS_IO",
        "KINO_STATUS_BUFFER_TOO_SMALL",
        "KINO_STATUS_PANIC",
    ];
    let statuses = [
        KinoStatus::Ok,
        KinoStatus::NullArgument,
        KinoStatus::InvalidUtf8,
        KinoStatus::InvalidArgument,
        KinoStatus::QueueFull,
        KinoStatus::Closed,
        KinoStatus::Timeout,
        KinoStatus::Io,
        KinoStatus::BufferTooSmall,
        KinoStatus::Panic,
    ];
    let text = |v: u32| {
        let p = kino_status_str(v);
        assert!(!p.is_null(), "kino_status_str({v}) is NULL");
        // SAFETY: static NUL-terminated string.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
    };
    for (v, (name, status)) in names.iter().zip(statuses).enumerate() {
        assert_eq!(status as u32, v as u32, "{name} keeps its value");
        assert_eq!(text(v as u32), *name);
    }
    for unknown in [10, 11, 255, 0x8000_0000, u32::MAX] {
        assert_eq!(text(unknown), "KINO_STATUS_UNKNOWN");
    }
}

#[test]
fn version_matches_the_crate_and_the_header() {
    // SAFETY: static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(kino_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    assert_eq!(kino_version(), kino_version(), "static, not reallocated");
    let header = std::fs::read_to_string(support::cbuild::root().join("include/kino.h"))
        .expect("read include/kino.h");
    assert!(
        header.contains(&format!("#define KINO_VERSION_STRING \"{v}\"")),
        "header version macro differs from {v}"
    );
}

// ---------------------------------------------------------------------------
// The last error message

#[test]
fn last_error_is_empty_on_a_fresh_thread_and_per_thread() {
    let (to_b, from_a) = mpsc::channel::<()>();
    let (to_a, from_b) = mpsc::channel::<()>();
    let a = std::thread::spawn(move || {
        assert_eq!(last_error(), "", "fresh thread");
        assert_eq!(kino_emit_play(null_mut(), 0.0), KinoStatus::NullArgument);
        let mine = last_error();
        assert!(mine.contains("emitter"), "{mine}");
        to_b.send(()).unwrap();
        // B fails in the meantime; A's message is still A's.
        from_b.recv().unwrap();
        assert_eq!(last_error(), mine);
    });
    let b = std::thread::spawn(move || {
        from_a.recv().unwrap();
        assert_eq!(last_error(), "", "A's failure leaked into thread B");
        assert_eq!(
            kino_config_set_batch_size(null_mut(), 1),
            KinoStatus::NullArgument
        );
        assert!(last_error().contains("config"));
        to_a.send(()).unwrap();
    });
    a.join().expect("thread A");
    b.join().expect("thread B");
}

#[test]
fn last_error_survives_successful_calls() {
    std::thread::spawn(|| {
        let e = emitter(&config(None));
        let q = Qoe(kino_qoe_new());
        refused(KinoStatus::InvalidArgument, &["position"], || {
            kino_emit_play(e.0, f64::NAN)
        });
        let msg = last_error();
        let ptr = kino_last_error_message();
        // Successful calls of every family.
        assert_eq!(kino_emit_play(e.0, 1.0), KinoStatus::Ok);
        assert_eq!(kino_qoe_record_rebuffer(q.0, 1.0), KinoStatus::Ok);
        let mut s = KinoStats::default();
        assert_eq!(kino_emitter_stats(e.0, &mut s), KinoStatus::Ok);
        assert_eq!(kino_emitter_flush(e.0, FLUSH_MS), KinoStatus::Ok);
        let cfg = config(None);
        assert_eq!(kino_config_set_batch_size(cfg.0, 3), KinoStatus::Ok);
        let _ = kino_status_str(3);
        let _ = kino_version();
        assert_eq!(last_error(), msg);
        assert_eq!(kino_last_error_message(), ptr);
        // SAFETY: valid until the next failing call on this thread.
        assert_eq!(unsafe { CStr::from_ptr(ptr) }.to_str().unwrap(), msg);
    })
    .join()
    .expect("thread");
}

// ---------------------------------------------------------------------------
// Queue full, concurrency

#[test]
fn a_full_queue_drops_counts_and_leaves_sequence_gaps() {
    let collector = Collector::start();
    let cfg = config(Some(&collector.url()));
    assert_eq!(kino_config_set_queue_capacity(cfg.0, 1), KinoStatus::Ok);
    let e = emitter(&cfg);
    let calls = 50u64;
    let (mut ok, mut full) = (0u64, 0u64);
    for i in 0..calls {
        poison();
        match kino_emit_play(e.0, i as f64) {
            KinoStatus::Ok => ok += 1,
            KinoStatus::QueueFull => {
                full += 1;
                let msg = last_error();
                assert!(msg.contains("full") && !msg.contains(POISON), "{msg}");
            }
            other => panic!("unexpected {other:?}: {}", last_error()),
        }
    }
    // The queue (1) and the worker's inbox (as large) hold two at most,
    // since nothing is sent before the flush.
    assert!((1..=2).contains(&ok), "{ok} accepted");
    assert_eq!(ok + full, calls);
    let s = stats(&e);
    assert_eq!((s.emitted, s.dropped), (ok, full));
    flush(&e);
    assert_eq!(kino_emit_pause(e.0, 99.0), KinoStatus::Ok);
    flush(&e);
    let s = stats(&e);
    assert_eq!((s.emitted, s.delivered, s.dropped), (ok + 1, ok + 1, full));
    let records = records_of(&collector, &e);
    let seqs: BTreeSet<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len() as u64, ok + 1);
    assert_eq!(
        seqs.last(),
        Some(&(calls + 1)),
        "dropped calls used up numbers"
    );
    assert!(seqs.iter().all(|&s| (1..=calls + 1).contains(&s)));
    assert_eq!(calls + 1 - seqs.len() as u64, full, "one gap per drop");
}

#[test]
fn refused_calls_from_many_threads_take_no_sequence_numbers() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    let handle = e.0 as usize;
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            std::thread::spawn(move || {
                let e = handle as *mut KinoEmitter;
                for i in 0..50u32 {
                    let position = f64::from(t * 100 + i);
                    assert_eq!(kino_emit_play(e, position), KinoStatus::Ok);
                    assert_eq!(
                        kino_emit_play(e, -position - 1.0),
                        KinoStatus::InvalidArgument
                    );
                    assert!(last_error().contains("position"));
                    assert_eq!(
                        kino_emit_state_change(e, 0, 100 + t, 0.0),
                        KinoStatus::InvalidArgument
                    );
                    assert!(last_error().contains("KinoPlayerState"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("emitting thread");
    }
    flush(&e);
    let s = stats(&e);
    assert_eq!((s.emitted, s.delivered, s.dropped), (200, 200, 0));
    let records = records_of(&collector, &e);
    assert_eq!(records.len(), 200);
    assert_contiguous(&records);
}

// ---------------------------------------------------------------------------
// The batch callback

/// What the test callbacks see, reached through `user_data`.
#[derive(Default)]
struct Probe {
    emitter: AtomicPtr<KinoEmitter>,
    calls: AtomicU32,
    /// The status of `kino_emitter_flush` called from inside the callback
    /// (`u32::MAX` until it was called).
    flush_status: AtomicU32,
    flush_message: Mutex<String>,
    freed: AtomicBool,
    calls_after_free: AtomicU32,
    bad_json: AtomicU32,
    refuse: AtomicBool,
}

impl Probe {
    fn new() -> Box<Probe> {
        let p = Box::<Probe>::default();
        p.flush_status.store(u32::MAX, SeqCst);
        p
    }
}

unsafe extern "C" fn counting_callback(
    user_data: *mut c_void,
    json: *const c_char,
    len: usize,
) -> c_int {
    // SAFETY: every test passes a live Probe (or NULL) as user_data.
    let Some(probe) = (unsafe { user_data.cast::<Probe>().as_ref() }) else {
        return 0;
    };
    probe.calls.fetch_add(1, SeqCst);
    if probe.freed.load(SeqCst) {
        probe.calls_after_free.fetch_add(1, SeqCst);
    }
    // SAFETY: kino passes a NUL-terminated buffer of len bytes plus NUL.
    let text = unsafe { CStr::from_ptr(json) }.to_bytes();
    let parsed: Result<Value, _> = serde_json::from_slice(text);
    if text.len() != len || !parsed.is_ok_and(|v| v.is_array()) {
        probe.bad_json.fetch_add(1, SeqCst);
    }
    let e = probe.emitter.load(SeqCst);
    if !e.is_null() && probe.flush_status.load(SeqCst) == u32::MAX {
        let status = kino_emitter_flush(e, 1000);
        *probe.flush_message.lock().unwrap() = last_error();
        probe.flush_status.store(status as u32, SeqCst);
    }
    if probe.refuse.load(SeqCst) {
        -1
    } else {
        0
    }
}

#[test]
fn flush_from_inside_the_callback_is_refused_not_deadlocked() {
    let probe = Probe::new();
    let cfg = config(None);
    let user_data = (&*probe as *const Probe).cast_mut().cast::<c_void>();
    assert_eq!(
        kino_config_set_batch_callback(cfg.0, Some(counting_callback), user_data),
        KinoStatus::Ok
    );
    let e = emitter(&cfg);
    probe.emitter.store(e.0, SeqCst);
    assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
    flush(&e);
    assert_eq!(probe.calls.load(SeqCst), 1);
    assert_eq!(
        probe.flush_status.load(SeqCst),
        KinoStatus::InvalidArgument as u32,
        "flush from the callback: {}",
        probe.flush_message.lock().unwrap()
    );
    let msg = probe.flush_message.lock().unwrap().clone();
    assert!(msg.contains("callback"), "{msg}");
    assert_eq!(probe.bad_json.load(SeqCst), 0);
    let s = stats(&e);
    assert_eq!((s.delivered, s.batches), (1, 1));
    // The callback's failure is on kino's thread, not on this one.
    assert!(!last_error().contains("callback"));
}

#[test]
fn a_refusing_callback_counts_events_as_failed() {
    let probe = Probe::new();
    probe.refuse.store(true, SeqCst);
    let cfg = config(None);
    let user_data = (&*probe as *const Probe).cast_mut().cast::<c_void>();
    assert_eq!(
        kino_config_set_batch_callback(cfg.0, Some(counting_callback), user_data),
        KinoStatus::Ok
    );
    let e = emitter(&cfg);
    for i in 0..3 {
        assert_eq!(kino_emit_play(e.0, f64::from(i)), KinoStatus::Ok);
    }
    flush(&e);
    let s = stats(&e);
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (3, 0, 3, 0));
    assert!(probe.calls.load(SeqCst) >= 1);
}

#[test]
fn the_callback_is_never_called_after_free_returns() {
    let probe = Probe::new();
    let cfg = config(None);
    assert_eq!(kino_config_set_batch_size(cfg.0, 1), KinoStatus::Ok);
    let user_data = (&*probe as *const Probe).cast_mut().cast::<c_void>();
    assert_eq!(
        kino_config_set_batch_callback(cfg.0, Some(counting_callback), user_data),
        KinoStatus::Ok
    );
    let e = emitter(&cfg);
    let events = 40u32;
    for i in 0..events {
        assert_eq!(kino_emit_play(e.0, f64::from(i)), KinoStatus::Ok);
    }
    drop(e); // kino_emitter_free: delivers what is queued, then stops.
    probe.freed.store(true, SeqCst);
    let at_free = probe.calls.load(SeqCst);
    assert_eq!(
        at_free, events,
        "one batch per event, all delivered by free"
    );

    // Use the same config (and so callback and user_data) again: only the
    // new emitter's batches reach the callback, none of the freed one's.
    probe.freed.store(false, SeqCst);
    let again = emitter(&cfg);
    assert_eq!(kino_emit_play(again.0, 0.0), KinoStatus::Ok);
    flush(&again);
    drop(again);
    probe.freed.store(true, SeqCst);
    assert_eq!(probe.calls.load(SeqCst), events + 1);

    // A third emitter with the callback cleared must not call it at all.
    assert_eq!(
        kino_config_set_batch_callback(cfg.0, None, user_data),
        KinoStatus::Ok
    );
    let cleared = emitter(&cfg);
    assert_eq!(kino_emit_play(cleared.0, 0.0), KinoStatus::Ok);
    flush(&cleared);
    assert_eq!(stats(&cleared).failed, 1, "no callback and no URL: failed");
    drop(cleared);
    assert_eq!(probe.calls_after_free.load(SeqCst), 0);
    assert_eq!(probe.calls.load(SeqCst), events + 1);
    assert_eq!(probe.bad_json.load(SeqCst), 0);
}

#[test]
fn clearing_the_callback_falls_back_to_the_url() {
    let collector = Collector::start();
    let probe = Probe::new();
    let cfg = config(Some(&collector.url()));
    let user_data = (&*probe as *const Probe).cast_mut().cast::<c_void>();
    assert_eq!(
        kino_config_set_batch_callback(cfg.0, Some(counting_callback), user_data),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_config_set_batch_callback(cfg.0, None, null_mut()),
        KinoStatus::Ok
    );
    let e = emitter(&cfg);
    assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
    flush(&e);
    assert!(collector.wait_for_records(1, WAIT));
    assert_eq!(records_of(&collector, &e).len(), 1);
    assert_eq!(probe.calls.load(SeqCst), 0);
}

#[test]
fn stats_invariant_holds_after_all_kinds_of_abuse() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    let mut ok = 0u64;
    let load = cstr("https://cdn.example/v.m3u8");
    assert_eq!(kino_emit_load(e.0, load.as_ptr(), false), KinoStatus::Ok);
    ok += 1;
    for (_, _, call) in FLOAT_CASES {
        assert_eq!(call(e.0, f64::NAN), KinoStatus::InvalidArgument);
    }
    for bytes in BAD_UTF8 {
        assert_eq!(
            kino_emit_load(e.0, bad_utf8(bytes), false),
            KinoStatus::InvalidUtf8
        );
    }
    assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
    ok += 1;
    assert_eq!(
        kino_emit_custom(e.0, c"c".as_ptr(), c"{".as_ptr()),
        KinoStatus::InvalidArgument
    );
    assert_eq!(kino_emit_end(e.0, 10.0, 10.0), KinoStatus::Ok);
    ok += 1;
    flush(&e);
    let s = stats(&e);
    assert!(s.emitted >= ok, "{s:?}");
    assert_eq!((s.delivered, s.queued, s.failed), (s.emitted, 0, 0));
    let records = records_of(&collector, &e);
    assert_eq!(host_records(&records).len() as u64, ok);
    assert_eq!(records.len() as u64, s.emitted);
    assert_contiguous(&records);
}

// ---------------------------------------------------------------------------
// Exports added after the first C API (retries, body size, gzip, spool,
// format, P.1203 export): the same rules hold for them.

#[test]
fn newer_config_setters_refuse_null_and_bad_values() {
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_retry_backoff_ms(null_mut(), 10, 20)
    });
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_max_body_bytes(null_mut(), 4096)
    });
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_gzip(null_mut(), true)
    });
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_spool_dir(null_mut(), c"/tmp".as_ptr())
    });
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_spool_max_bytes(null_mut(), 1 << 20)
    });
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_spool_max_age_s(null_mut(), 60)
    });
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_format(null_mut(), 0)
    });

    let cfg = config(None);
    refused(KinoStatus::InvalidArgument, &["retry back-off"], || {
        kino_config_set_retry_backoff_ms(cfg.0, 0, 1000)
    });
    refused(KinoStatus::InvalidArgument, &["retry back-off"], || {
        kino_config_set_retry_backoff_ms(cfg.0, 1000, 0)
    });
    refused(KinoStatus::InvalidArgument, &["below the minimum"], || {
        kino_config_set_retry_backoff_ms(cfg.0, 1000, 999)
    });
    assert_eq!(
        kino_config_set_retry_backoff_ms(cfg.0, 1000, 1000),
        KinoStatus::Ok
    );
    refused(KinoStatus::InvalidArgument, &["body size"], || {
        kino_config_set_max_body_bytes(cfg.0, 0)
    });
    refused(KinoStatus::InvalidArgument, &["body size", "1023"], || {
        kino_config_set_max_body_bytes(cfg.0, 1023)
    });
    assert_eq!(kino_config_set_max_body_bytes(cfg.0, 1024), KinoStatus::Ok);
    refused(KinoStatus::InvalidArgument, &["spool directory"], || {
        kino_config_set_spool_dir(cfg.0, c"".as_ptr())
    });
    refused(KinoStatus::InvalidArgument, &["absolute", "spool"], || {
        kino_config_set_spool_dir(cfg.0, c"spool".as_ptr())
    });
    for bytes in BAD_UTF8 {
        refused(KinoStatus::InvalidUtf8, &["path", "UTF-8"], || {
            kino_config_set_spool_dir(cfg.0, bad_utf8(bytes))
        });
    }
    assert_eq!(kino_config_set_spool_dir(cfg.0, null()), KinoStatus::Ok);
    refused(KinoStatus::InvalidArgument, &["spool size"], || {
        kino_config_set_spool_max_bytes(cfg.0, 0)
    });
    refused(KinoStatus::InvalidArgument, &["spool size"], || {
        kino_config_set_spool_max_bytes(cfg.0, 65_535)
    });
    assert_eq!(
        kino_config_set_spool_max_bytes(cfg.0, 65_536),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_config_set_spool_max_bytes(cfg.0, u64::MAX),
        KinoStatus::Ok
    );
    for bad in [0, 59] {
        refused(KinoStatus::InvalidArgument, &["spool maximum age"], || {
            kino_config_set_spool_max_age_s(cfg.0, bad)
        });
    }
    assert_eq!(kino_config_set_spool_max_age_s(cfg.0, 60), KinoStatus::Ok);
    for bad in [3, 999, u32::MAX] {
        refused(
            KinoStatus::InvalidArgument,
            &["format", "KinoFormat"],
            || kino_config_set_format(cfg.0, bad),
        );
    }
    assert_eq!(kino_config_set_format(cfg.0, 2), KinoStatus::Ok);
    assert_eq!(kino_config_set_format(cfg.0, 1), KinoStatus::Ok);
    refused(KinoStatus::NullArgument, &["config"], || {
        kino_config_set_server_error_limit(null_mut(), 1, 1)
    });
    refused(
        KinoStatus::InvalidArgument,
        &["server error attempts"],
        || kino_config_set_server_error_limit(cfg.0, 0, 60),
    );
    refused(KinoStatus::InvalidArgument, &["server error age"], || {
        kino_config_set_server_error_limit(cfg.0, 3, 0)
    });
    assert_eq!(
        kino_config_set_server_error_limit(cfg.0, 3, 60),
        KinoStatus::Ok
    );
    assert_eq!(kino_config_set_format(cfg.0, 0), KinoStatus::Ok);
    assert_eq!(kino_config_set_gzip(cfg.0, false), KinoStatus::Ok);
}

#[test]
fn p1203_export_refuses_null_bad_fps_and_small_buffers() {
    let mut needed = usize::MAX;
    let mut buf = vec![0x5A as c_char; 1 << 16];
    refused(KinoStatus::NullArgument, &["emitter"], || {
        kino_emitter_export_p1203(null(), 25.0, buf.as_mut_ptr(), buf.len(), &mut needed)
    });
    assert_eq!(needed, usize::MAX, "needed written on a NULL handle");

    let e = emitter(&config(None));
    refused(KinoStatus::InvalidArgument, &["kino_emit_load"], || {
        kino_emitter_export_p1203(e.0, 25.0, buf.as_mut_ptr(), buf.len(), &mut needed)
    });
    let url = cstr("https://cdn.example/v.m3u8");
    assert_eq!(kino_emit_load(e.0, url.as_ptr(), false), KinoStatus::Ok);
    assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -25.0] {
        refused(KinoStatus::InvalidArgument, &["fps"], || {
            kino_emitter_export_p1203(e.0, bad, buf.as_mut_ptr(), buf.len(), &mut needed)
        });
    }
    assert_eq!(needed, usize::MAX, "needed written on a refused fps");
    assert!(buf.iter().all(|&b| b == 0x5A), "buffer written on failure");

    // Asking for the size: NULL buffer, zero length.
    refused(KinoStatus::BufferTooSmall, &["bytes"], || {
        kino_emitter_export_p1203(e.0, 25.0, null_mut(), 0, &mut needed)
    });
    let size = needed;
    assert!(size > 1 && size < buf.len(), "{size}");
    // NULL buffer that claims to be large enough.
    refused(KinoStatus::NullArgument, &["buf"], || {
        kino_emitter_export_p1203(e.0, 25.0, null_mut(), size, null_mut())
    });
    // One byte short: nothing written.
    refused(KinoStatus::BufferTooSmall, &["bytes"], || {
        kino_emitter_export_p1203(e.0, 25.0, buf.as_mut_ptr(), size - 1, null_mut())
    });
    assert!(buf.iter().all(|&b| b == 0x5A), "buffer written on failure");
    // Exactly enough: valid JSON, NUL-terminated, nothing past it.
    assert_eq!(
        kino_emitter_export_p1203(e.0, 25.0, buf.as_mut_ptr(), size, null_mut()),
        KinoStatus::Ok
    );
    assert_eq!(buf[size - 1], 0);
    assert!(
        buf[size..].iter().all(|&b| b == 0x5A),
        "wrote past the text"
    );
    // SAFETY: NUL-terminated at size - 1.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
    assert_eq!(text.len(), size - 1);
    serde_json::from_str::<Value>(text).expect("P.1203 input is JSON");
}

// ---------------------------------------------------------------------------
// Regressions: bugs this suite found, now fixed.

/// A header value holding a control character (0x01, ESC, DEL) used to be
/// accepted, and then the HTTP client could not build any beacon: the first
/// batch was retried for ever and everything behind it waited. The config
/// must refuse what the transport cannot send (or the beacon must go).
#[test]
fn header_values_with_control_characters_are_refused_or_sent() {
    let collector = Collector::start();
    for value in ["a\x01b", "a\x7fb", "a\x1bb"] {
        let cfg = config(Some(&collector.url()));
        let v = cstr(value);
        let status = kino_config_add_header(cfg.0, c"X-Ctl".as_ptr(), v.as_ptr());
        if status == KinoStatus::InvalidArgument {
            assert!(!last_error().is_empty());
            continue;
        }
        assert_eq!(status, KinoStatus::Ok);
        let e = emitter(&cfg);
        assert_eq!(kino_emit_play(e.0, 0.0), KinoStatus::Ok);
        let status = kino_emitter_flush(e.0, 3000);
        let s = stats(&e);
        assert_eq!(
            (status, s.delivered, s.failed),
            (KinoStatus::Ok, 1, 0),
            "header value {value:?} was accepted but the beacon was not sent ({s:?})"
        );
    }
}

/// User-info used to survive redaction when the URL did not start with a
/// scheme: a scheme-relative reference (`//user:pw@host/…`, which RFC 3986
/// parses with an authority and user-info) and URLs with leading white
/// space (which URL parsers and players strip). CONTRACT §2: "user-info is
/// always removed from the URL".
#[test]
fn load_url_credentials_never_leak_from_scheme_relative_or_padded_urls() {
    let collector = Collector::start();
    let e = emitter_to(&collector);
    let urls = [
        "//user:pw@cdn.example/a.m3u8?token=x",
        " https://user:pw@cdn.example/a.m3u8",
        "\thttps://user:pw@cdn.example/a.m3u8",
        // Issue 8: a password holding `?` or `#` used to leave `https://user:pw`.
        "https://user:pw?x@cdn.example/a.m3u8?token=x",
        "https://user:pw#x@cdn.example/a.m3u8",
    ];
    for url in urls {
        let c = cstr(url);
        assert_eq!(kino_emit_load(e.0, c.as_ptr(), false), KinoStatus::Ok);
    }
    flush(&e);
    let records = records_of(&collector, &e);
    let loads: Vec<&str> = records
        .iter()
        .filter(|r| r["event"] == "load")
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    assert_eq!(loads.len(), urls.len());
    for url in loads {
        assert!(!url.contains("user:pw"), "credentials sent: {url:?}");
        assert!(!url.contains("token"), "token sent: {url:?}");
    }
}
