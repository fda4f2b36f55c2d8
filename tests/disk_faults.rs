//! Disk faults with a spool (issue 8 §3), on real file systems: the disk
//! fills up, the spool directory is deleted mid-run, the file system turns
//! read-only. In every case nothing crashes, every accepted event is
//! either delivered (once) or counted as failed, and the stats say why.
//!
//! The full-disk and read-only cases mount a 256 KiB tmpfs, which needs
//! root (CI runs as root); elsewhere they say so and skip.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use kino::stats::{DeliveryError, StatsSnapshot};
use kino::{Config, Emitter};
use support::collector::Collector;
use support::emitting::{emit_heartbeats, temp_dir, wait_for_stats};

const WAIT: Duration = Duration::from_secs(20);

fn config(url: &str, dir: &Path) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    c.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    c.set_spool_max_bytes(64 * 1024).unwrap();
    c.set_retry_backoff_ms(20, 100).unwrap();
    c.set_batch_size(10).unwrap();
    c
}

/// Waits (bounded) until nothing of the emitter's own is queued: flush
/// cannot, since an event written to the spool already counts as dealt.
fn settled(emitter: &Emitter) -> StatsSnapshot {
    wait_for_stats(emitter, WAIT, |s| s.queued == 0)
}

/// Every accepted event was delivered once or counted as failed, and the
/// collector holds exactly the delivered ones.
fn assert_accounted(emitter: &Emitter, collector: &Collector, s: &StatsSnapshot) {
    assert_eq!(s.queued, 0, "{s:?}");
    assert_eq!(s.emitted, s.delivered + s.failed, "{s:?}");
    let mut copies: HashMap<u64, usize> = HashMap::new();
    let session = emitter.session_id().to_string();
    for r in collector.accepted_records() {
        if r["session_id"] == session.as_str() {
            *copies.entry(r["sequence"].as_u64().unwrap()).or_default() += 1;
        }
    }
    assert_eq!(copies.len() as u64, s.delivered, "delivered = what arrived");
    assert!(copies.values().all(|&n| n == 1), "each exactly once");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn sh(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?} failed: {status}");
}

/// A 256 KiB tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(name: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("{name}: skipped: mounting a tmpfs needs root (CI runs as root)");
            return None;
        }
        let dir = temp_dir(name);
        sh(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=256k",
            "tmpfs",
            dir.to_str().unwrap(),
        ]);
        Some(Tmpfs(dir))
    }

    /// Fills the file system to the last byte.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let mut byte = [0u8; 1];
        while f.write_all(&byte).is_ok() {
            byte[0] = 1;
        }
        let _ = f.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_disk_sends_from_memory_and_says_so() {
    let Some(fs) = Tmpfs::mount("full") else {
        return;
    };
    let collector = Collector::start();
    let dir = fs.0.join("spool");
    let emitter = Emitter::new(&config(&collector.url(), &dir)).unwrap();
    emit_heartbeats(&emitter, 20);
    emitter.flush(WAIT).unwrap();
    assert_eq!(
        settled(&emitter).spool_errors,
        0,
        "the spool worked at first"
    );
    fs.fill();
    emit_heartbeats(&emitter, 50);
    emitter.flush(WAIT).unwrap();
    let s = settled(&emitter);
    assert_accounted(&emitter, &collector, &s);
    assert_eq!(
        (s.delivered, s.failed),
        (70, 0),
        "nothing lost to the full disk"
    );
    assert!(s.spool_errors >= 1, "{s:?}");
    assert_eq!(s.last_error, DeliveryError::Spool as u64);
    assert!(
        emitter.last_error_message().contains("No space left"),
        "{}",
        emitter.last_error_message()
    );
}

#[test]
fn a_spool_directory_deleted_mid_run_is_not_recreated_and_its_events_count_as_failed() {
    let root = temp_dir("deleted");
    let dir = root.join("spool");
    let (collector, open) = Collector::gated();
    let emitter = Emitter::new(&config(&collector.url(), &dir)).unwrap();
    emit_heartbeats(&emitter, 30);
    emitter.flush(WAIT).unwrap(); // on disk: three batch files
    assert_eq!(emitter.stats().spooled, 30);
    std::fs::remove_dir_all(&dir).unwrap(); // the app wiped it at logout
    emit_heartbeats(&emitter, 20);
    open.store(true, SeqCst);
    let s = settled(&emitter);
    assert_accounted(&emitter, &collector, &s);
    assert!(
        !dir.exists(),
        "kino does not recreate a directory the app removed"
    );
    // The batch in the worker's hands when the directory went is still
    // delivered; the files it had not read are lost and counted.
    assert!(s.failed >= 20 && s.failed <= 30, "{s:?}");
    assert!(s.delivered >= 20, "the new events went from memory: {s:?}");
    assert!(s.spool_errors >= 1, "{s:?}");
    assert_eq!(s.last_error, DeliveryError::Spool as u64, "{s:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_file_system_turning_read_only_sends_from_memory() {
    let Some(fs) = Tmpfs::mount("readonly") else {
        return;
    };
    let dir = fs.0.join("spool");
    let (collector, open) = Collector::gated();
    let emitter = Emitter::new(&config(&collector.url(), &dir)).unwrap();
    emit_heartbeats(&emitter, 20);
    emitter.flush(WAIT).unwrap(); // on disk
    sh(&["mount", "-o", "remount,ro", fs.0.to_str().unwrap()]);
    emit_heartbeats(&emitter, 20);
    open.store(true, SeqCst);
    let s = settled(&emitter);
    sh(&["mount", "-o", "remount,rw", fs.0.to_str().unwrap()]);
    assert_accounted(&emitter, &collector, &s);
    assert_eq!((s.delivered, s.failed), (40, 0), "{s:?}");
    assert!(s.spool_errors >= 1, "{s:?}");
}
