//! Emitters sharing one spool directory (issue 8 §3): several players in
//! one app, or another process. The rule — a batch is sent by the emitter
//! that wrote it while that emitter lives, and taken over (as `resent`)
//! only once it is gone — means no emitter ever reports delivered data as
//! failed, and `emitted == delivered + failed + queued` holds for each.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use kino::{Config, Emitter};
use support::cbuild;
use support::collector::Collector;
use support::emitting::{emit_heartbeats, temp_dir, wait_for_stats};

const WAIT: Duration = Duration::from_secs(20);

fn config(url: &str, dir: &Path) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    c.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    c.set_retry_backoff_ms(20, 100).unwrap();
    c.set_batch_size(10).unwrap();
    c
}

/// A child process killed when dropped, so a failing test never leaves it
/// blocking forever.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Records per session id at `collector`, each sequence counted.
fn by_session(collector: &Collector) -> HashMap<String, HashMap<u64, usize>> {
    let mut out: HashMap<String, HashMap<u64, usize>> = HashMap::new();
    for r in collector.accepted_records() {
        let session = r["session_id"].as_str().unwrap().to_owned();
        let seq = r["sequence"].as_u64().unwrap();
        *out.entry(session).or_default().entry(seq).or_default() += 1;
    }
    out
}

#[test]
fn two_emitters_on_one_spool_each_send_their_own_and_never_call_them_failed() {
    let dir = temp_dir("emitters");
    let (slow, open) = Collector::gated();
    let fast = Collector::start();
    let a = Emitter::new(&config(&slow.url(), &dir)).unwrap();
    let b = Emitter::new(&config(&fast.url(), &dir)).unwrap();
    emit_heartbeats(&a, 30);
    a.flush(WAIT).unwrap(); // A's batches are on disk, its collector refusing
    emit_heartbeats(&b, 10);
    let sb = wait_for_stats(&b, WAIT, |s| s.queued == 0);
    assert_eq!(
        (sb.emitted, sb.delivered, sb.failed, sb.resent),
        (10, 10, 0, 0)
    );
    let seen = by_session(&fast);
    assert!(
        !seen.contains_key(&a.session_id().to_string()),
        "B sent A's batches while A was alive"
    );
    open.store(true, SeqCst);
    let sa = wait_for_stats(&a, WAIT, |s| s.queued == 0);
    assert_eq!(
        (sa.emitted, sa.delivered, sa.failed, sa.queued),
        (30, 30, 0, 0)
    );
    let got = by_session(&slow);
    let mine = &got[&a.session_id().to_string()];
    assert_eq!(mine.len(), 30);
    assert!(mine.values().all(|&n| n == 1));
    assert_eq!(b.stats().resent, 0);

    // A freed emitter's batches become anyone's: B takes them over.
    open.store(false, SeqCst);
    let c = Emitter::new(&config(&slow.url(), &dir)).unwrap();
    let c_session = c.session_id().to_string();
    emit_heartbeats(&c, 20);
    c.flush(WAIT).unwrap();
    drop(c); // with its collector refusing: 20 events stay on disk
    let d = Emitter::new(&config(&fast.url(), &dir)).unwrap();
    let sd = wait_for_stats(&d, WAIT, |s| s.resent >= 20);
    assert_eq!((sd.resent, sd.emitted, sd.failed), (20, 0, 0));
    let seen = by_session(&fast);
    assert_eq!(
        seen[&c_session].len(),
        20,
        "taken over once its writer was gone"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn another_process_keeps_its_batches_until_it_dies() {
    let child = cbuild::compile("spool_child", &["tests/c/spool_child.c"], &[]);
    let dir = temp_dir("processes");
    let (refusing, _closed) = Collector::gated();
    let mut proc = Child(
        Command::new(&child)
            .args(["emit", &refusing.url(), dir.to_str().unwrap(), "40", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(proc.0.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "flushed"); // 40 on disk
    assert_eq!(lines.next().unwrap().unwrap(), "waiting");

    let collector = Collector::start();
    let here = Emitter::new(&config(&collector.url(), &dir)).unwrap();
    emit_heartbeats(&here, 10);
    let s = wait_for_stats(&here, WAIT, |s| s.queued == 0);
    assert_eq!((s.emitted, s.delivered, s.failed, s.resent), (10, 10, 0, 0));
    assert_eq!(
        by_session(&collector).len(),
        1,
        "only this process's own session"
    );

    drop(proc); // SIGKILL: its lock goes with the process
    let next = Emitter::new(&config(&collector.url(), &dir)).unwrap();
    let s = wait_for_stats(&next, WAIT, |s| s.resent >= 40);
    assert_eq!(s.resent, 40, "the dead process's batches, taken over");
    let sessions = by_session(&collector);
    assert_eq!(sessions.len(), 2);
    let theirs = sessions
        .iter()
        .find(|(id, _)| **id != here.session_id().to_string())
        .unwrap()
        .1;
    assert_eq!(theirs.len(), 40);
    assert!(theirs.values().all(|&n| n == 1), "each once");
    drop(next);
    drop(here);
    let _ = std::fs::remove_dir_all(&dir);
}
