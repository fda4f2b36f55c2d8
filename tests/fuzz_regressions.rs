//! Regressions found by the fuzz targets (fuzz/, docs/FUZZING.md) that
//! need a whole emitter, driven through the C ABI as a host would.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};

use kino::ffi::config::*;
use kino::ffi::emit::*;
use kino::ffi::emitter::*;
use kino::ffi::KinoStatus;

unsafe extern "C" fn count_batches(user: *mut c_void, _json: *const c_char, _len: usize) -> c_int {
    let calls = unsafe { &*(user as *const AtomicU64) };
    calls.fetch_add(1, Ordering::SeqCst);
    0
}

/// Found by fuzz/c_abi_sequence: when every record the worker took was too
/// large for a body (counted as failed, never sent), the flush waiting for
/// them was never told, and timed out however long it was given.
#[test]
fn flush_returns_after_a_batch_of_only_oversized_records() {
    let calls = AtomicU64::new(0);
    let cfg = kino_config_new();
    let user = &calls as *const AtomicU64 as *mut c_void;
    assert_eq!(
        kino_config_set_batch_callback(cfg, Some(count_batches), user),
        KinoStatus::Ok
    );
    assert_eq!(kino_config_set_max_body_bytes(cfg, 1024), KinoStatus::Ok);
    // The worker only moves at the interval or a flush: the flush finds
    // the record still queued.
    assert_eq!(
        kino_config_set_flush_interval_ms(cfg, 600_000),
        KinoStatus::Ok
    );
    let mut e = std::ptr::null_mut();
    assert_eq!(kino_emitter_new(cfg, &mut e), KinoStatus::Ok);
    kino_config_free(cfg);

    let url = format!("https://cdn.example/{}\0", "a".repeat(4000));
    assert_eq!(
        kino_emit_load(e, url.as_ptr().cast(), false),
        KinoStatus::Ok
    );
    assert_eq!(kino_emitter_flush(e, 5000), KinoStatus::Ok);
    let mut s = KinoStats::default();
    assert_eq!(kino_emitter_stats(e, &mut s), KinoStatus::Ok);
    assert_eq!(
        (s.emitted, s.failed, s.queued, s.delivered),
        (1, 1, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "an oversized record was sent"
    );

    // And the emitter goes on: the next small record is delivered.
    assert_eq!(kino_emit_play(e, 1.0), KinoStatus::Ok);
    assert_eq!(kino_emitter_flush(e, 5000), KinoStatus::Ok);
    assert_eq!(kino_emitter_stats(e, &mut s), KinoStatus::Ok);
    assert_eq!((s.delivered, s.queued), (1, 0), "{s:?}");
    kino_emitter_free(e);
}
