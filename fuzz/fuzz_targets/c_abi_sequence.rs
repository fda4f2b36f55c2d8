//! A stateful target: random sequences of C ABI calls (the `kino_*`
//! exports, called from Rust as C would, from one thread) with random
//! arguments — NULL pointers, invalid UTF-8, NaN, infinities, negative
//! numbers, out-of-range enum values, tiny buffers — against one emitter
//! whose batch callback records what it receives (and answers 0,
//! `KINO_BATCH_RETRY_LATER` or a refusal as the input says).
//!
//! Oracle, after every call:
//! - the status is the one the contract gives for the arguments (a call
//!   with several faults may report any of them); a failure has a
//!   non-empty `kino_last_error_message()`; nothing returns NULL that the
//!   header says never does;
//! - `KinoStats`: `emitted == delivered + failed + queued`; no counter
//!   goes down; an accepted call adds to `emitted` (1, or 2 with the `qoe`
//!   record of a view it closes), a `QUEUE_FULL` adds 1 to `dropped` and
//!   nothing else changes `dropped`;
//! - buffers: `BUFFER_TOO_SMALL` writes nothing, success writes a
//!   NUL-terminated text within `len`.
//!
//! After every flush that returns OK, against what the callback saw:
//! - `queued == 0`; `delivered` and `batches` are the records and calls
//!   the callback took; `failed` is what it refused plus oversized
//!   records; `retries` the calls repeating a batch it asked to retry;
//! - every accepted record reached the callback (or was oversized), and
//!   nothing else was counted in `emitted`; the
//!   sequence numbers missing below the highest one seen are no more than
//!   `dropped` (plus oversized); each batch is in sequence order, later
//!   batches after earlier ones; every record carries the session id;
//! - the records, in sequence order and without `qoe`, are the accepted
//!   calls in order, with the arguments as sanitized (URL redacted, text
//!   cut at a character boundary, -0.0 as 0.0, custom JSON as parsed).
//!
//! And `kino_emitter_flush` from inside the callback is INVALID_ARGUMENT.

#![no_main]

use std::collections::{HashSet, VecDeque};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::{Condvar, Mutex};

use arbitrary::Arbitrary;
use kino::ffi::config::*;
use kino::ffi::emit::*;
use kino::ffi::emitter::*;
use kino::ffi::error::{kino_last_error_message, kino_status_str};
use kino::ffi::qoe::*;
use kino::ffi::KinoStatus;
use kino::sanitize::{
    redact_url, truncate_utf8, MAX_CUSTOM_JSON_BYTES, MAX_CUSTOM_NAME_BYTES, MAX_ERROR_CODE_BYTES,
    MAX_ERROR_MESSAGE_BYTES, MAX_URL_BYTES,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use KinoStatus as S;

// ------------------------------------------------------------ arguments --

/// A number argument, weighted toward the interesting ones.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Num {
    Small(u8),
    Zero,
    NegZero,
    Negative(u8),
    NaN,
    Inf,
    NegInf,
    Raw(f64),
}

impl Num {
    fn value(self) -> f64 {
        match self {
            Num::Small(n) => f64::from(n) / 4.0,
            Num::Zero => 0.0,
            Num::NegZero => -0.0,
            Num::Negative(n) => -1.0 - f64::from(n),
            Num::NaN => f64::NAN,
            Num::Inf => f64::INFINITY,
            Num::NegInf => f64::NEG_INFINITY,
            Num::Raw(x) => x,
        }
    }

    fn fault(self) -> Option<KinoStatus> {
        let x = self.value();
        (!x.is_finite() || x < 0.0).then_some(S::InvalidArgument)
    }

    /// As the record carries it.
    fn sent(self) -> f64 {
        self.value() + 0.0
    }
}

/// A string argument: NULL, text, or raw bytes (maybe invalid UTF-8).
#[derive(Debug, Clone, Arbitrary)]
enum Text {
    Null,
    Str(String),
    Long(u8, u16),
    Bytes(Vec<u8>),
}

impl Text {
    fn c(&self) -> Option<CString> {
        let bytes = match self {
            Text::Null => return None,
            Text::Str(s) => s.as_bytes().to_vec(),
            Text::Long(c, n) => {
                // Multi-byte characters across the limits.
                let c = ['a', 'é', '€', '😀'][usize::from(*c % 4)];
                std::iter::repeat_n(c, usize::from(*n) % 9000)
                    .collect::<String>()
                    .into_bytes()
            }
            Text::Bytes(b) => b.clone(),
        };
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Some(CString::new(&bytes[..end]).unwrap())
    }
}

/// The C pointer and the text kino should read from it.
struct Arg {
    c: Option<CString>,
}

impl Arg {
    fn new(t: &Text) -> Arg {
        Arg { c: t.c() }
    }
    fn ptr(&self) -> *const c_char {
        self.c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
    }
    /// The fault of a required string.
    fn fault(&self) -> Option<KinoStatus> {
        match &self.c {
            None => Some(S::NullArgument),
            Some(c) => c.to_str().is_err().then_some(S::InvalidUtf8),
        }
    }
    fn text(&self) -> &str {
        self.c.as_ref().and_then(|c| c.to_str().ok()).unwrap_or("")
    }
}

#[derive(Debug, Clone, Arbitrary)]
enum Call {
    Load(Text, bool),
    Play(Num),
    Pause(Num),
    Seek(Num, Num),
    Rebuffer(Num, Num),
    RebufferEnd(Num, Num),
    QualityChange(u64, u64, Option<(u32, u32)>, Option<(u32, u32)>, u32),
    StateChange(u32, u32, Num),
    End(Num, Num),
    Error(Text, Text, bool, Num),
    Heartbeat(Num, Num, u64, u64, u64),
    Custom(Text, Text),
    Flush(bool, u8),
    /// Blocks the next batch inside the callback (the worker stalls, the
    /// queue fills) until `Release` or a flush.
    Hold,
    Release,
    Stats(bool),
    Qoe(bool),
    SessionId(u8, bool),
    ExportP1203(Num, u16, bool),
    NullEmitter(u8),
    StatusStr(u32),
    Calculator(u8, Num, u64),
}

#[derive(Debug, Arbitrary)]
enum Setting {
    BatchSize(u32),
    FlushInterval(u32),
    QueueCapacity(u32),
    ShutdownTimeout(u32),
    RequestTimeout(u32),
    Backoff(u32, u32),
    MaxBody(u32),
    KeepQuery(bool),
    Gzip(bool),
    Format(u32),
    Header(Text, Text),
    BeaconUrl(Text),
    Callback(bool),
    NullConfig(u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    settings: Vec<Setting>,
    /// What the callback answers, in turn (then 0).
    answers: Vec<u8>,
    flush_in_callback: bool,
    calls: Vec<Call>,
}

// ------------------------------------------------------------- callback --

#[derive(Default)]
struct Log {
    script: VecDeque<c_int>,
    ndjson: bool,
    emitter: usize,
    flush_in_callback: bool,
    /// Each call: the answer and the records.
    calls: Vec<(c_int, Vec<u8>, Vec<Value>)>,
    problems: Vec<String>,
    /// While true the callback waits on `GATE`.
    held: bool,
}

static GATE: Condvar = Condvar::new();

/// Lets a held callback go on.
fn release(log: &Mutex<Log>) {
    log.lock().unwrap().held = false;
    GATE.notify_all();
}

unsafe extern "C" fn callback(user: *mut c_void, json: *const c_char, len: usize) -> c_int {
    let log = unsafe { &*(user as *const Mutex<Log>) };
    let bytes = unsafe { std::slice::from_raw_parts(json as *const u8, len + 1) };
    let mut log = log.lock().unwrap();
    while log.held {
        log = GATE.wait(log).unwrap();
    }
    if bytes[len] != 0 || bytes[..len].contains(&0) {
        log.problems
            .push("callback text not NUL-terminated at len".into());
    }
    let body = &bytes[..len];
    let records: Result<Vec<Value>, String> = if log.ndjson {
        std::str::from_utf8(body)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                if !t.ends_with('\n') {
                    return Err("NDJSON without a final newline".into());
                }
                t.lines()
                    .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
                    .collect()
            })
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    let records = records.unwrap_or_else(|e| {
        log.problems
            .push(format!("callback body is not records: {e}"));
        Vec::new()
    });
    if records.is_empty() {
        log.problems.push("an empty batch was sent".into());
    }
    if log.flush_in_callback {
        let status = kino_emitter_flush(log.emitter as *mut KinoEmitter, 10);
        if status != S::InvalidArgument {
            log.problems
                .push(format!("flush inside the callback gave {status:?}"));
        }
    }
    let rc = log.script.pop_front().unwrap_or(0);
    log.calls.push((rc, body.to_vec(), records));
    rc
}

// ---------------------------------------------------------------- model --

struct Model {
    emitter: *mut KinoEmitter,
    log: Box<Mutex<Log>>,
    has_callback: bool,
    keep_query: bool,
    small_body: bool,
    stats: KinoStats,
    /// The records the accepted calls should give, in call order.
    expected: Vec<Value>,
    session: String,
}

fn last_error() -> String {
    let p = kino_last_error_message();
    assert!(!p.is_null(), "kino_last_error_message() returned NULL");
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn check_status(what: &str, got: KinoStatus, faults: &[Option<KinoStatus>]) {
    let faults: Vec<KinoStatus> = faults.iter().flatten().copied().collect();
    if faults.is_empty() {
        assert!(
            matches!(got, S::Ok | S::QueueFull),
            "{what}: {got:?} ({}) for valid arguments",
            last_error()
        );
    } else {
        assert!(
            faults.contains(&got),
            "{what}: {got:?}, expected one of {faults:?}"
        );
    }
    if got != S::Ok {
        assert!(
            !last_error().is_empty(),
            "{what}: {got:?} without a message"
        );
    }
}

fn stats(e: *mut KinoEmitter) -> KinoStats {
    let mut s = KinoStats::default();
    assert_eq!(kino_emitter_stats(e, &mut s), S::Ok);
    s
}

impl Model {
    fn check_stats(&mut self) -> KinoStats {
        let s = stats(self.emitter);
        assert_eq!(
            s.emitted,
            s.delivered + s.failed + s.queued,
            "emitted != d+f+q: {s:?}"
        );
        let p = self.stats;
        for (name, now, before) in [
            ("emitted", s.emitted, p.emitted),
            ("dropped", s.dropped, p.dropped),
            ("delivered", s.delivered, p.delivered),
            ("failed", s.failed, p.failed),
            ("batches", s.batches, p.batches),
            ("retries", s.retries, p.retries),
        ] {
            assert!(now >= before, "{name} went down: {before} -> {now}");
        }
        self.stats = s;
        s
    }

    /// An emit call: checks its status and counters; records what the
    /// collector should get. `emitted` may also grow by records the worker
    /// makes meanwhile (a `qoe` whose number no call reserved), so per
    /// call it is bounded below; the exact count is checked at each flush.
    fn emit(
        &mut self,
        what: &str,
        status: KinoStatus,
        faults: &[Option<KinoStatus>],
        record: Value,
    ) {
        let before = self.stats;
        check_status(what, status, faults);
        let s = self.check_stats();
        match status {
            S::Ok => {
                assert!(s.emitted > before.emitted, "{what}: accepted, not counted");
                assert_eq!(s.dropped, before.dropped, "{what}: dropped changed");
                self.expected.push(record);
            }
            S::QueueFull => assert_eq!(s.dropped, before.dropped + 1, "{what}: dropped"),
            _ => assert_eq!(s.dropped, before.dropped, "{what}: a refused call dropped"),
        }
    }

    /// After a flush that returned OK: the counters against the log.
    fn check_flushed(&mut self) {
        let s = self.check_stats();
        assert_eq!(s.queued, 0, "flush OK with events queued: {s:?}");
        let log = self.log.lock().unwrap();
        assert!(log.problems.is_empty(), "callback saw: {:?}", log.problems);
        let mut delivered = 0;
        let mut refused = 0;
        let mut batches = 0;
        let mut retries = 0;
        let mut seen = HashSet::new();
        let mut max_seen = 0;
        for (i, (rc, body, records)) in log.calls.iter().enumerate() {
            let n = records.len() as u64;
            let retry = i > 0 && log.calls[i - 1].0 == 75 && &log.calls[i - 1].1 == body;
            if retry {
                retries += 1;
            } else {
                let seqs: Vec<u64> = records
                    .iter()
                    .map(|r| r["sequence"].as_u64().unwrap())
                    .collect();
                assert!(
                    seqs.windows(2).all(|w| w[0] < w[1]),
                    "batch out of order: {seqs:?}"
                );
                assert!(
                    seqs.first().is_none_or(|&f| f > max_seen),
                    "a batch went back in sequence"
                );
                max_seen = max_seen.max(seqs.last().copied().unwrap_or(0));
            }
            for r in records {
                assert_eq!(
                    r["session_id"],
                    Value::from(self.session.clone()),
                    "session id"
                );
                seen.insert(r["sequence"].as_u64().unwrap());
            }
            match rc {
                0 => {
                    delivered += n;
                    batches += 1;
                }
                75 => {}
                _ => refused += n,
            }
        }
        if !self.has_callback {
            assert_eq!(
                (s.delivered, s.failed),
                (0, s.emitted),
                "no destination: all failed"
            );
            return;
        }
        assert_eq!(
            s.delivered, delivered,
            "delivered vs what the callback took"
        );
        assert_eq!(s.batches, batches, "batches");
        assert_eq!(s.retries, retries, "retries");
        assert!(
            s.failed >= refused,
            "failed {} < refused {refused}",
            s.failed
        );
        let oversized = s.failed - refused;
        if !self.small_body {
            assert_eq!(oversized, 0, "records failed without reaching the callback");
        }
        assert_eq!(
            seen.len() as u64 + oversized,
            s.emitted,
            "accepted records missing"
        );
        // Every call, accepted or dropped, and every qoe record takes the
        // next number, so the numbers issued are 1..=emitted + dropped; a
        // collector computes drops from the gaps, so each missing number
        // must be a dropped call or a record that could not be sent.
        let issued = s.emitted + s.dropped;
        assert!(max_seen <= issued, "sequence {max_seen} of {issued} issued");
        let gaps = (1..=issued).filter(|q| !seen.contains(q)).count() as u64;
        assert_eq!(
            gaps,
            s.dropped + oversized,
            "sequence gaps vs {} dropped and {oversized} oversized",
            s.dropped
        );
        if oversized == 0 {
            // The records, by sequence, without the qoe ones: the calls.
            let mut all: Vec<&Value> = Vec::new();
            let mut ids = HashSet::new();
            for (_, _, records) in &log.calls {
                for r in records {
                    if ids.insert(r["id"].as_str().unwrap().to_owned()) {
                        all.push(r);
                    }
                }
            }
            all.sort_by_key(|r| r["sequence"].as_u64());
            let calls: Vec<&Value> = all.into_iter().filter(|r| r["event"] != "qoe").collect();
            assert_eq!(
                calls.len(),
                self.expected.len(),
                "records vs accepted calls"
            );
            for (got, want) in calls.iter().zip(&self.expected) {
                for (key, value) in want.as_object().unwrap() {
                    assert_eq!(&got[key], value, "field {key} of {got}");
                }
            }
        }
    }
}

fn cut(s: &str, max: usize) -> String {
    truncate_utf8(s, max).to_owned()
}

fn null_emitter_calls(which: u8) -> KinoStatus {
    let e = std::ptr::null_mut();
    let c = c"x".as_ptr();
    match which % 16 {
        0 => kino_emit_load(e, c, false),
        1 => kino_emit_play(e, 0.0),
        2 => kino_emit_pause(e, 0.0),
        3 => kino_emit_seek(e, 0.0, 1.0),
        4 => kino_emit_rebuffer(e, 0.0, 0.0),
        5 => kino_emit_rebuffer_end(e, 0.0, 0.0),
        6 => kino_emit_quality_change(e, 1, 2, std::ptr::null(), std::ptr::null(), 0),
        7 => kino_emit_state_change(e, 0, 1, 0.0),
        8 => kino_emit_end(e, 0.0, 0.0),
        9 => kino_emit_error(e, c, c, true, 0.0),
        10 => kino_emit_heartbeat(e, 0.0, 0.0, 0, 0, 0),
        11 => kino_emit_custom(e, c, std::ptr::null()),
        12 => kino_emitter_flush(e, 0),
        13 => kino_emitter_stats(e, &mut KinoStats::default()),
        14 => kino_emitter_session_id(e, [0 as c_char; 64].as_mut_ptr(), 64),
        _ => {
            let mut out = std::mem::MaybeUninit::<KinoQoeBreakdown>::uninit();
            kino_emitter_qoe(e, out.as_mut_ptr())
        }
    }
}

fn setting(config: *mut KinoConfig, s: &Setting, model: &mut Model) {
    let (status, want): (KinoStatus, KinoStatus) = match s {
        Setting::BatchSize(n) => {
            let n = n % 70;
            (
                kino_config_set_batch_size(config, n),
                if n == 0 { S::InvalidArgument } else { S::Ok },
            )
        }
        Setting::FlushInterval(n) => {
            let n = n % 30_000;
            (
                kino_config_set_flush_interval_ms(config, n),
                if n == 0 { S::InvalidArgument } else { S::Ok },
            )
        }
        Setting::QueueCapacity(n) => {
            let n = if n % 8 == 7 {
                1_048_576 + n % 3
            } else {
                n % 70
            };
            let ok = (1..=1_048_576).contains(&n);
            (
                kino_config_set_queue_capacity(config, n),
                if ok { S::Ok } else { S::InvalidArgument },
            )
        }
        Setting::ShutdownTimeout(n) => {
            let n = n % 200;
            (
                kino_config_set_shutdown_timeout_ms(config, n),
                if n == 0 { S::InvalidArgument } else { S::Ok },
            )
        }
        Setting::RequestTimeout(n) => (
            kino_config_set_request_timeout_ms(config, *n),
            if *n == 0 { S::InvalidArgument } else { S::Ok },
        ),
        Setting::Backoff(a, b) => {
            let (a, b) = (a % 20, b % 20);
            let ok = a > 0 && b > 0 && b >= a;
            (
                kino_config_set_retry_backoff_ms(config, a, b),
                if ok { S::Ok } else { S::InvalidArgument },
            )
        }
        Setting::MaxBody(n) => {
            let n = n % 4096;
            let status = kino_config_set_max_body_bytes(config, n);
            if status == S::Ok {
                model.small_body = true;
            }
            (status, if n < 1024 { S::InvalidArgument } else { S::Ok })
        }
        Setting::KeepQuery(keep) => {
            model.keep_query = *keep;
            (kino_config_set_keep_url_query(config, *keep), S::Ok)
        }
        Setting::Gzip(on) => (kino_config_set_gzip(config, *on), S::Ok),
        Setting::Format(f) => {
            let f = f % 4;
            let status = kino_config_set_format(config, f);
            if f == KinoFormat::OtlpJson as u32 {
                // Accepted; but the bodies this target reads back are
                // kino's records (OTLP bodies: tests/otlp_delivery.rs), so
                // the layout goes back to the last one set.
                assert_eq!(status, S::Ok, "OTLP: {}", last_error());
                let ndjson = model.log.lock().unwrap().ndjson;
                let back = if ndjson {
                    KinoFormat::Ndjson as u32
                } else {
                    KinoFormat::Json as u32
                };
                assert_eq!(kino_config_set_format(config, back), S::Ok);
            } else if status == S::Ok {
                model.log.lock().unwrap().ndjson = f == KinoFormat::Ndjson as u32;
            }
            (status, if f < 3 { S::Ok } else { S::InvalidArgument })
        }
        Setting::Header(n, v) => {
            let (n, v) = (Arg::new(n), Arg::new(v));
            let status = kino_config_add_header(config, n.ptr(), v.ptr());
            let fault = n.fault().or(v.fault());
            if let Some(f) = fault {
                assert_eq!(status, f, "add_header");
            }
            (status, status)
        }
        Setting::BeaconUrl(u) => {
            let u = Arg::new(u);
            let status = kino_config_set_beacon_url(config, u.ptr());
            if u.c.is_none() {
                assert_eq!(status, S::Ok, "NULL clears the URL");
            }
            (status, status)
        }
        Setting::Callback(on) => {
            model.has_callback = *on;
            let cb: KinoBatchCallback = if *on { Some(callback) } else { None };
            let user = &*model.log as *const Mutex<Log> as *mut c_void;
            (kino_config_set_batch_callback(config, cb, user), S::Ok)
        }
        Setting::NullConfig(which) => {
            let c = std::ptr::null_mut();
            let status = match which % 8 {
                0 => kino_config_set_batch_size(c, 1),
                1 => kino_config_set_beacon_url(c, std::ptr::null()),
                2 => kino_config_add_header(c, c"a".as_ptr(), c"b".as_ptr()),
                3 => kino_config_set_batch_callback(c, None, std::ptr::null_mut()),
                4 => kino_config_set_keep_url_query(c, true),
                5 => kino_config_set_format(c, 0),
                6 => kino_config_set_queue_capacity(c, 1),
                _ => {
                    kino_config_free(c);
                    S::NullArgument
                }
            };
            (status, S::NullArgument)
        }
    };
    assert_eq!(status, want, "{s:?}: {}", last_error());
    if status != S::Ok {
        assert!(!last_error().is_empty(), "{s:?} without a message");
    }
}

fn run(input: &Input) {
    let log = Box::new(Mutex::new(Log {
        script: input
            .answers
            .iter()
            .take(8)
            .map(|a| match a % 8 {
                0 => 75,
                1 => 1,
                2 => -1,
                _ => 0,
            })
            .collect(),
        flush_in_callback: input.flush_in_callback,
        ..Log::default()
    }));
    let mut model = Model {
        emitter: std::ptr::null_mut(),
        log,
        has_callback: true,
        keep_query: false,
        small_body: false,
        stats: KinoStats::default(),
        expected: Vec::new(),
        session: String::new(),
    };
    let config = kino_config_new();
    assert!(!config.is_null());
    // Quick retries and a short free, then whatever the input sets.
    assert_eq!(kino_config_set_retry_backoff_ms(config, 1, 5), S::Ok);
    assert_eq!(kino_config_set_shutdown_timeout_ms(config, 100), S::Ok);
    let user = &*model.log as *const Mutex<Log> as *mut c_void;
    assert_eq!(
        kino_config_set_batch_callback(config, Some(callback), user),
        S::Ok
    );
    for s in input.settings.iter().take(16) {
        setting(config, s, &mut model);
    }
    // Never the network: a callback, or no destination at all.
    assert_eq!(kino_config_set_beacon_url(config, std::ptr::null()), S::Ok);
    assert_eq!(
        kino_emitter_new(config, std::ptr::null_mut()),
        S::NullArgument
    );
    assert_eq!(
        kino_emitter_new(config, &mut model.emitter),
        S::Ok,
        "{}",
        last_error()
    );
    kino_config_free(config);
    let e = model.emitter;
    model.log.lock().unwrap().emitter = e as usize;
    let mut id = [0u8; 37];
    assert_eq!(
        kino_emitter_session_id(e, id.as_mut_ptr().cast(), 37),
        S::Ok
    );
    model.session = CStr::from_bytes_with_nul(&id)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(model.session.len(), 36);
    let calculator = kino_qoe_new();
    assert!(!calculator.is_null());

    for call in input.calls.iter().take(64) {
        match call {
            Call::Load(url, live) => {
                let a = Arg::new(url);
                let status = kino_emit_load(e, a.ptr(), *live);
                let sent = cut(&redact_url(a.text(), model.keep_query), MAX_URL_BYTES);
                let record = serde_json::json!({"event": "load", "url": sent, "is_live": live});
                model.emit("load", status, &[a.fault()], record);
            }
            Call::Play(p) | Call::Pause(p) => {
                let (name, status) = match call {
                    Call::Play(_) => ("play", kino_emit_play(e, p.value())),
                    _ => ("pause", kino_emit_pause(e, p.value())),
                };
                let record = serde_json::json!({"event": name, "position": p.sent()});
                model.emit(name, status, &[p.fault()], record);
            }
            Call::Seek(a, b) => {
                let status = kino_emit_seek(e, a.value(), b.value());
                let record = serde_json::json!({"event": "seek", "from": a.sent(), "to": b.sent()});
                model.emit("seek", status, &[a.fault(), b.fault()], record);
            }
            Call::Rebuffer(a, b) => {
                let status = kino_emit_rebuffer(e, a.value(), b.value());
                let record = serde_json::json!({"event": "rebuffer", "position": a.sent(), "buffer_level": b.sent()});
                model.emit("rebuffer", status, &[a.fault(), b.fault()], record);
            }
            Call::RebufferEnd(a, b) => {
                let status = kino_emit_rebuffer_end(e, a.value(), b.value());
                let record = serde_json::json!({"event": "rebuffer_end", "position": a.sent(), "duration": b.sent()});
                model.emit("rebuffer_end", status, &[a.fault(), b.fault()], record);
            }
            Call::QualityChange(from, to, rf, rt, reason) => {
                let rf = rf.map(|(width, height)| KinoResolution { width, height });
                let rt = rt.map(|(width, height)| KinoResolution { width, height });
                let ptr = |r: &Option<KinoResolution>| {
                    r.as_ref().map_or(std::ptr::null(), |r| r as *const _)
                };
                let reason = reason % 6;
                let status = kino_emit_quality_change(e, *from, *to, ptr(&rf), ptr(&rt), reason);
                let res = |r: &Option<KinoResolution>| {
                    r.map_or(
                        Value::Null,
                        |r| serde_json::json!({"width": r.width, "height": r.height}),
                    )
                };
                let names = ["abr", "manual", "buffer", "initial"];
                let record = serde_json::json!({
                    "event": "quality_change", "from_bitrate": from, "to_bitrate": to,
                    "from_resolution": res(&rf), "to_resolution": res(&rt),
                    "reason": names.get(reason as usize).copied().unwrap_or(""),
                });
                let fault = (reason > 3).then_some(S::InvalidArgument);
                model.emit("quality_change", status, &[fault], record);
            }
            Call::StateChange(from, to, p) => {
                let (from, to) = (from % 10, to % 10);
                let status = kino_emit_state_change(e, from, to, p.value());
                let names = [
                    "idle",
                    "loading",
                    "playing",
                    "paused",
                    "buffering",
                    "seeking",
                    "ended",
                    "error",
                ];
                let name = |s: u32| names.get(s as usize).copied().unwrap_or("");
                let record = serde_json::json!({
                    "event": "state_change", "from": name(from), "to": name(to), "position": p.sent()
                });
                let bad = |s: u32| (s > 7).then_some(S::InvalidArgument);
                model.emit(
                    "state_change",
                    status,
                    &[bad(from), bad(to), p.fault()],
                    record,
                );
            }
            Call::End(p, w) => {
                let status = kino_emit_end(e, p.value(), w.value());
                let record = serde_json::json!({"event": "end", "position": p.sent(), "watch_time": w.sent()});
                model.emit("end", status, &[p.fault(), w.fault()], record);
            }
            Call::Error(code, message, fatal, p) => {
                let (c, m) = (Arg::new(code), Arg::new(message));
                let status = kino_emit_error(e, c.ptr(), m.ptr(), *fatal, p.value());
                let record = serde_json::json!({
                    "event": "error", "code": cut(c.text(), MAX_ERROR_CODE_BYTES),
                    "message": cut(m.text(), MAX_ERROR_MESSAGE_BYTES), "fatal": fatal,
                    "position": p.sent(),
                });
                model.emit("error", status, &[c.fault(), m.fault(), p.fault()], record);
            }
            Call::Heartbeat(p, b, bitrate, dropped, decoded) => {
                let status =
                    kino_emit_heartbeat(e, p.value(), b.value(), *bitrate, *dropped, *decoded);
                let record = serde_json::json!({
                    "event": "heartbeat", "position": p.sent(), "buffer_level": b.sent(),
                    "bitrate": bitrate, "dropped_frames": dropped, "decoded_frames": decoded,
                });
                model.emit("heartbeat", status, &[p.fault(), b.fault()], record);
            }
            Call::Custom(name, json) => {
                let (n, j) = (Arg::new(name), Arg::new(json));
                let status = kino_emit_custom(e, n.ptr(), j.ptr());
                let data = match &j.c {
                    None => Ok(Value::Null),
                    Some(_) if j.fault().is_some() => Ok(Value::Null),
                    Some(_) if j.text().len() > MAX_CUSTOM_JSON_BYTES => Err(()),
                    Some(_) => serde_json::from_str::<Value>(j.text()).map_err(|_| ()),
                };
                let json_fault = match &j.c {
                    None => None,
                    Some(_) => j.fault().or(data.is_err().then_some(S::InvalidArgument)),
                };
                let empty =
                    (n.fault().is_none() && n.text().is_empty()).then_some(S::InvalidArgument);
                let record = serde_json::json!({
                    "event": "custom", "name": cut(n.text(), MAX_CUSTOM_NAME_BYTES),
                    "data": data.unwrap_or(Value::Null),
                });
                model.emit("custom", status, &[n.fault(), json_fault, empty], record);
            }
            Call::Hold => model.log.lock().unwrap().held = true,
            Call::Release => release(&model.log),
            Call::Flush(long, ms) => {
                release(&model.log);
                let timeout = if *long { 10_000 } else { u32::from(*ms % 50) };
                let status = kino_emitter_flush(e, timeout);
                if *long {
                    assert_eq!(status, S::Ok, "flush within 10 s: {}", last_error());
                }
                match status {
                    S::Ok => model.check_flushed(),
                    S::Timeout => {
                        model.check_stats();
                    }
                    other => panic!("flush: {other:?}"),
                }
            }
            Call::Stats(null_out) => {
                if *null_out {
                    check_status(
                        "stats(NULL)",
                        kino_emitter_stats(e, std::ptr::null_mut()),
                        &[Some(S::NullArgument)],
                    );
                }
                model.check_stats();
            }
            Call::Qoe(null_out) => {
                if *null_out {
                    check_status(
                        "qoe(NULL)",
                        kino_emitter_qoe(e, std::ptr::null_mut()),
                        &[Some(S::NullArgument)],
                    );
                } else {
                    let mut out = std::mem::MaybeUninit::<KinoQoeBreakdown>::uninit();
                    assert_eq!(kino_emitter_qoe(e, out.as_mut_ptr()), S::Ok);
                    let q = unsafe { out.assume_init() };
                    assert!(
                        q.score.is_nan() || (0.0..=100.0).contains(&q.score),
                        "score {}",
                        q.score
                    );
                }
            }
            Call::SessionId(len, null_buf) => {
                let len = usize::from(*len % 64);
                let mut buf = vec![0xAAu8; len];
                let ptr = if *null_buf {
                    std::ptr::null_mut()
                } else {
                    buf.as_mut_ptr().cast()
                };
                let status = kino_emitter_session_id(e, ptr, len);
                let want = if *null_buf {
                    S::NullArgument
                } else if len < 37 {
                    S::BufferTooSmall
                } else {
                    S::Ok
                };
                check_status("session_id", status, &[Some(want)]);
                if status == S::Ok {
                    assert_eq!(&buf[..37], format!("{}\0", model.session).as_bytes());
                    assert!(buf[37..].iter().all(|&b| b == 0xAA), "wrote past the id");
                } else {
                    assert!(buf.iter().all(|&b| b == 0xAA), "wrote on failure");
                }
            }
            Call::ExportP1203(fps, len, null_needed) => {
                let len = usize::from(*len % 4096);
                let mut buf = vec![0xAAu8; len];
                let mut needed = usize::MAX;
                let needed_ptr = if *null_needed {
                    std::ptr::null_mut()
                } else {
                    &mut needed as *mut usize
                };
                let status = kino_emitter_export_p1203(
                    e,
                    fps.value(),
                    buf.as_mut_ptr().cast(),
                    len,
                    needed_ptr,
                );
                let bad_fps = !(fps.value().is_finite() && fps.value() > 0.0);
                match status {
                    S::Ok => {
                        assert!(!bad_fps);
                        let nul = buf.iter().position(|&b| b == 0).expect("NUL-terminated");
                        serde_json::from_slice::<Value>(&buf[..nul]).expect("P.1203 JSON");
                        if !*null_needed {
                            assert_eq!(needed, nul + 1);
                        }
                    }
                    S::BufferTooSmall => {
                        assert!(buf.iter().all(|&b| b == 0xAA), "wrote on failure");
                        if !*null_needed {
                            assert!(needed > len && needed != usize::MAX);
                        }
                    }
                    S::InvalidArgument => assert!(!last_error().is_empty()),
                    S::NullArgument => assert_eq!(len, 0),
                    other => panic!("export_p1203: {other:?}"),
                }
                if bad_fps {
                    assert_eq!(status, S::InvalidArgument, "fps {}", fps.value());
                }
            }
            Call::NullEmitter(which) => {
                check_status(
                    "NULL emitter",
                    null_emitter_calls(*which),
                    &[Some(S::NullArgument)],
                );
                kino_emitter_free(std::ptr::null_mut());
            }
            Call::StatusStr(v) => {
                let p = kino_status_str(*v);
                assert!(!p.is_null());
                let text = unsafe { CStr::from_ptr(p) }.to_str().unwrap();
                assert_eq!(text == "KINO_STATUS_UNKNOWN", *v > 9, "{v}: {text}");
            }
            Call::Calculator(which, x, bitrate) => {
                let q = if which & 0x80 != 0 {
                    std::ptr::null_mut()
                } else {
                    calculator
                };
                let status = match which % 4 {
                    0 => kino_qoe_record_initial_buffer(q, x.value()),
                    1 => kino_qoe_record_rebuffer(q, x.value()),
                    2 => kino_qoe_record_quality_switch(q, x.value(), *bitrate),
                    _ => kino_qoe_record_bitrate(q, x.value(), *bitrate),
                };
                let fault = if q.is_null() {
                    Some(S::NullArgument)
                } else {
                    x.fault()
                };
                match fault {
                    Some(f) => assert_eq!(status, f, "calculator"),
                    None => assert_eq!(status, S::Ok, "calculator: {}", last_error()),
                }
                let score = kino_qoe_score(calculator);
                assert!((0.0..=100.0).contains(&score), "calculator score {score}");
                assert!(kino_qoe_score(std::ptr::null()).is_nan());
                let mut out = std::mem::MaybeUninit::<KinoQoeBreakdown>::uninit();
                assert_eq!(kino_qoe_breakdown(calculator, out.as_mut_ptr()), S::Ok);
                assert_eq!(
                    kino_qoe_breakdown(calculator, std::ptr::null_mut()),
                    S::NullArgument
                );
            }
        }
    }
    // Everything out, checked once more, then free: after it returns the
    // callback's log is freed at once (a late callback is a use after free).
    release(&model.log);
    let status = kino_emitter_flush(e, 10_000);
    assert_eq!(status, S::Ok, "final flush: {}", last_error());
    model.check_flushed();
    kino_qoe_free(calculator);
    kino_emitter_free(e);
    drop(model);
}

fuzz_target!(|input: Input| {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::remove_var("KINO_BEACON_URL"));
    run(&input);
});
