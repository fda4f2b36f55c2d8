//! The spool against a real directory: claims, the ownership rule,
//! bounds, corruption, and two processes.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::file::{now_nanos, Header, OwnerId, SpoolId, TMP_PREFIX};
use super::*;

const CHILD_DIR: &str = "KINO_SPOOL_TEST_CHILD_DIR";
const CHILD_OUT: &str = "KINO_SPOOL_TEST_CHILD_OUT";

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "kino-spool-{tag}-{}-{}-{}",
            std::process::id(),
            now_nanos(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Path) -> Spool {
    Spool::open(dir, DEFAULT_MAX_BYTES, DEFAULT_MAX_AGE).unwrap()
}

/// A body of `events` tiny records, tagged so tests can tell bodies apart.
fn body(tag: &str, events: u64) -> Vec<u8> {
    let records: Vec<String> = (0..events).map(|i| format!(r#"{{"{tag}":{i}}}"#)).collect();
    format!("[{}]", records.join(",")).into_bytes()
}

/// A valid batch file's bytes.
fn encode(body: &[u8], events: u64) -> Vec<u8> {
    let mut bytes = Header::of(body, events).encode().into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The id of a file written a second ago by a writer that is not alive.
fn dead_writer_id(counter: u64) -> SpoolId {
    SpoolId {
        nanos: now_nanos() - 1_000_000_000,
        owner: OwnerId(0xdead),
        counter,
    }
}

/// Names of the directory's batch and foreign entries (lock files aside),
/// sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with(".owner-"))
        .collect();
    names.sort();
    names
}

/// Claims and acks until nothing is claimable; returns the bodies.
fn drain(spool: &mut Spool) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    while let Some(claimed) = spool.claim_oldest() {
        bodies.push(claimed.body().to_vec());
        spool.ack(claimed).unwrap();
    }
    bodies
}

#[test]
fn write_claim_ack_release() {
    let tmp = TempDir::new("basic");
    let mut spool = open(&tmp.0);
    let b = body("a", 3);
    let id = spool.write(&b, 3).unwrap();
    assert_eq!(listing(&tmp.0), vec![id.file_name()]);
    assert_eq!(spool.spooled_events(), 3);
    assert_eq!(spool.own_pending_events(), 3);
    assert_eq!(id.owner(), spool.owner());

    let claimed = spool.claim_oldest().unwrap();
    assert_eq!(claimed.body(), &b[..]);
    assert_eq!(claimed.events(), 3);
    assert!(claimed.is_own());
    assert_eq!(claimed.id(), id);
    assert!(
        spool.claim_oldest().is_none(),
        "already claimed, by ourselves"
    );
    spool.release(claimed);
    let again = spool.claim_oldest().unwrap();
    spool.ack(again).unwrap();
    assert!(listing(&tmp.0).is_empty());
    assert!(spool.claim_oldest().is_none());
    assert_eq!(spool.own_pending_events(), 0);
    assert_eq!(spool.take_evicted(), Evicted::default());
    assert_eq!(spool.take_own_lost(), 0);
    assert_eq!(spool.corrupt_files(), 0);
}

#[test]
fn a_live_writers_batches_are_its_own_until_it_is_gone() {
    let tmp = TempDir::new("owner");
    let mut first = open(&tmp.0);
    for i in 0..3u64 {
        first.write(&body(&format!("b{i}"), i + 1), i + 1).unwrap();
    }
    let mut second = open(&tmp.0);
    assert!(
        second.claim_oldest().is_none(),
        "a live writer's batches are not taken over"
    );
    assert_eq!(second.spooled_events(), 0);
    // The first sends its oldest itself; nothing of its own is lost.
    let claimed = first.claim_oldest().unwrap();
    assert_eq!(claimed.body(), &body("b0", 1)[..]);
    first.ack(claimed).unwrap();
    first.rescan();
    assert_eq!(first.take_own_lost(), 0);
    assert_eq!(first.own_pending_events(), 2 + 3);
    // Gone (freed, or its process died): its files are orphans.
    let _no_spawn = no_spawn();
    drop(first);
    second.rescan();
    assert_eq!(second.spooled_events(), 5);
    let taken = second.claim_oldest().unwrap();
    assert!(!taken.is_own());
    assert_eq!(taken.body(), &body("b1", 2)[..]);
    second.ack(taken).unwrap();
    assert_eq!(drain(&mut second), vec![body("b2", 3)]);
    assert!(listing(&tmp.0).is_empty());
}

#[test]
fn a_finished_writer_leaves_no_lock_file_behind() {
    let tmp = TempDir::new("finish");
    let spool = open(&tmp.0);
    let lock = tmp.0.join(spool.owner().lock_file_name());
    assert!(lock.exists());
    spool.finish();
    assert!(!lock.exists());
    // With files left, the lock file stays (unlocked) for whoever takes
    // them over, who removes it when it finds the writer gone.
    let mut spool = open(&tmp.0);
    spool.write(&body("x", 1), 1).unwrap();
    let lock = tmp.0.join(spool.owner().lock_file_name());
    spool.finish();
    assert!(lock.exists());
    let mut next = open(&tmp.0);
    assert_eq!(drain(&mut next), vec![body("x", 1)]);
    assert!(!lock.exists());
}

#[test]
fn an_orphan_claimed_by_one_instance_is_not_claimable_by_another() {
    let tmp = TempDir::new("exclusive");
    fs::write(
        tmp.0.join(dead_writer_id(0).file_name()),
        encode(&body("o", 1), 1),
    )
    .unwrap();
    let mut a = open(&tmp.0);
    let mut b = open(&tmp.0);
    let held = a.claim_oldest().unwrap();
    assert!(b.claim_oldest().is_none());
    a.release(held);
    let taken = b.claim_oldest().unwrap();
    assert!(!taken.is_own());
    assert!(a.claim_oldest().is_none());
    b.ack(taken).unwrap();
    assert!(a.claim_oldest().is_none());
}

#[test]
fn two_threads_take_over_every_orphan_exactly_once() {
    let tmp = TempDir::new("threads");
    let n = 200;
    for i in 0..n {
        let b = format!("[{i}]");
        fs::write(
            tmp.0.join(dead_writer_id(i).file_name()),
            encode(b.as_bytes(), 1),
        )
        .unwrap();
    }
    let dir = Arc::new(tmp.0.clone());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let dir = Arc::clone(&dir);
            std::thread::spawn(move || {
                let mut spool = open(&dir);
                drain(&mut spool)
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(|b| {
            let text = String::from_utf8(b).unwrap();
            text.trim_matches(['[', ']']).parse().unwrap()
        })
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<u64>>());
}

#[test]
fn byte_bound_evicts_the_oldest_own_files_never_the_new_one() {
    let tmp = TempDir::new("bytes");
    let mut spool = Spool::open(&tmp.0, MIN_MAX_BYTES, DEFAULT_MAX_AGE).unwrap();
    let big = body(&"x".repeat(1000), 10); // ~10 KiB
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(spool.write(&big, 10).unwrap());
    }
    let evicted = spool.take_evicted();
    assert!(evicted.files >= 1, "{evicted:?}");
    assert_eq!(evicted.events, evicted.files * 10);
    assert_eq!(evicted.own_events, evicted.events);
    assert!(spool.spooled_bytes() <= MIN_MAX_BYTES);
    let left = listing(&tmp.0);
    assert!(left.contains(&ids[11].file_name()), "the newest stays");
    assert!(!left.contains(&ids[0].file_name()), "the oldest went first");
    assert_eq!(spool.own_pending_events(), left.len() as u64 * 10);
    let too_big = body(&"y".repeat(70_000), 1);
    let err = spool.write(&too_big, 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
}

#[test]
fn counts_a_body_cannot_hold_are_not_written() {
    let tmp = TempDir::new("implausible");
    let mut spool = open(&tmp.0);
    for (body, events) in [(&b"[{}]"[..], 0), (b"[]", 2), (b"", 1)] {
        let err = spool.write(body, events).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{events} in {body:?}");
    }
    assert!(listing(&tmp.0).iter().all(|name| !name.ends_with(".kino")));
    spool.write(b"[{}]", 2).unwrap();
}

#[test]
fn a_file_unlinked_before_the_lock_is_not_claimed_and_counts_as_lost() {
    let tmp = TempDir::new("unlinked");
    let mut spool = open(&tmp.0);
    let id = spool.write(&body("a", 2), 2).unwrap();
    fs::remove_file(tmp.0.join(id.file_name())).unwrap();
    assert!(spool.claim_oldest().is_none());
    assert_eq!(spool.take_own_lost(), 2);
    assert_eq!(spool.own_pending_events(), 0);
}

#[test]
fn age_bound_evicts_on_claim() {
    let tmp = TempDir::new("age");
    let old = SpoolId {
        nanos: now_nanos() - 3_600_000_000_000,
        ..dead_writer_id(0)
    };
    fs::write(tmp.0.join(old.file_name()), encode(&body("old", 2), 2)).unwrap();
    fs::write(
        tmp.0.join(dead_writer_id(1).file_name()),
        encode(&body("new", 1), 1),
    )
    .unwrap();
    let mut spool = Spool::open(&tmp.0, DEFAULT_MAX_BYTES, MIN_MAX_AGE).unwrap();
    assert_eq!(
        spool.take_evicted(),
        Evicted {
            files: 1,
            events: 2,
            own_events: 0
        }
    );
    assert_eq!(drain(&mut spool), vec![body("new", 1)]);
}

#[test]
fn corrupt_and_foreign_files_are_skipped_and_counted_once() {
    let tmp = TempDir::new("corrupt");
    let valid = encode(br#"[{"ok":true}]"#, 1);
    let put =
        |n: u64, bytes: &[u8]| fs::write(tmp.0.join(dead_writer_id(n).file_name()), bytes).unwrap();
    put(0, &valid[..valid.len() - 3]); // truncated
    let mut flipped = valid.clone();
    *flipped.last_mut().unwrap() ^= 1;
    put(1, &flipped); // bad checksum
    put(2, b"\x00\xffgarbage");
    put(3, b"");
    let mut trailing = valid.clone();
    trailing.push(b'\n');
    put(4, &trailing);
    put(
        5,
        b"KINO-SPOOL 1 events=+1 len=2 fnv64=0000000000000000\n{}",
    );
    // A header that claims more records than its body can hold.
    let mut liar = Header::of(b"[{}]", 1);
    liar.events = u64::MAX;
    put(7, &[liar.encode().as_bytes(), b"[{}]"].concat());
    put(9, &valid); // the valid one, newest
    fs::write(tmp.0.join("notes.txt"), b"mine").unwrap();
    fs::write(tmp.0.join("01-2-3.kino"), encode(b"[{}]", 1)).unwrap();
    fs::create_dir(tmp.0.join("00000000000000000001-0000000000000001-1.kino")).unwrap();
    let future = dead_writer_id(6).file_name();
    fs::write(tmp.0.join(&future), b"KINO-SPOOL 2 whatever\n{}").unwrap();

    let mut spool = open(&tmp.0);
    assert_eq!(
        spool.corrupt_files(),
        4,
        "foreign entries and the other version"
    );
    let claimed = spool.claim_oldest().unwrap();
    assert_eq!(claimed.body(), br#"[{"ok":true}]"#);
    spool.ack(claimed).unwrap();
    assert!(spool.claim_oldest().is_none());
    assert_eq!(spool.corrupt_files(), 4 + 7);
    assert_eq!(spool.take_evicted(), Evicted::default(), "nothing of ours");
    assert_eq!(
        listing(&tmp.0),
        vec![
            "00000000000000000001-0000000000000001-1.kino".to_string(),
            "01-2-3.kino".to_string(),
            future,
            "notes.txt".to_string()
        ]
    );
    assert_eq!(fs::read(tmp.0.join("notes.txt")).unwrap(), b"mine");
    assert_eq!(spool.spooled_events(), 0);
}

#[test]
fn own_corrupt_file_counts_as_evicted() {
    let tmp = TempDir::new("own-corrupt");
    let mut spool = open(&tmp.0);
    let id = spool.write(&body("p", 6), 6).unwrap();
    fs::write(tmp.0.join(id.file_name()), b"KINO-SPOOL 1 broken\n").unwrap();
    assert!(spool.claim_oldest().is_none());
    assert_eq!(spool.corrupt_files(), 1);
    assert_eq!(
        spool.take_evicted(),
        Evicted {
            files: 1,
            events: 6,
            own_events: 6
        }
    );
    assert_eq!(spool.own_pending_events(), 0);
    assert!(listing(&tmp.0).is_empty());
}

#[test]
fn unusable_directory_fails_naming_the_path() {
    let tmp = TempDir::new("unwritable");
    let file = tmp.0.join("a-file");
    fs::write(&file, b"not a directory").unwrap();
    let dir = file.join("spool");
    let err = Spool::open(&dir, DEFAULT_MAX_BYTES, DEFAULT_MAX_AGE).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(
        err.message.contains(&*dir.to_string_lossy()),
        "{}",
        err.message
    );
}

#[test]
fn a_removed_directory_is_not_recreated_and_its_files_count_as_lost() {
    let tmp = TempDir::new("purged");
    let dir = tmp.0.join("spool");
    let mut spool = open(&dir);
    spool.write(&body("before", 4), 4).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    let err = spool.write(&body("after", 1), 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains("spool"), "{}", err.message);
    assert!(!dir.exists(), "not recreated");
    assert!(spool.claim_oldest().is_none());
    assert_eq!(spool.take_own_lost(), 4);
    assert_eq!(spool.own_pending_events(), 0);
}

#[test]
fn open_creates_missing_directories() {
    let tmp = TempDir::new("create");
    let dir = tmp.0.join("a").join("b");
    let mut spool = open(&dir);
    spool.write(&body("x", 1), 1).unwrap();
    assert_eq!(spool.dir(), dir);
    assert_eq!(listing(&dir).len(), 1);
}

#[test]
fn temp_files_are_never_claimed_and_stale_ones_removed() {
    let tmp = TempDir::new("temp");
    let id = dead_writer_id(0);
    let fresh = tmp.0.join(format!("{TMP_PREFIX}{}", id.stem()));
    fs::write(&fresh, encode(b"[{}]", 1)).unwrap();
    let stale = tmp.0.join(format!("{TMP_PREFIX}{}.kino", id.stem()));
    fs::write(&stale, encode(b"[{}]", 1)).unwrap();
    File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let mut spool = open(&tmp.0);
    assert!(spool.claim_oldest().is_none());
    assert!(fresh.exists());
    assert!(!stale.exists());
    assert_eq!(spool.corrupt_files(), 0);
}

/// The child side of `a_live_process_keeps_its_batches`: a no-op unless
/// run by it with the environment set. Drains what it may send.
#[test]
fn multi_process_child() {
    let (Some(dir), Some(out)) = (std::env::var_os(CHILD_DIR), std::env::var_os(CHILD_OUT)) else {
        return;
    };
    let mut spool = open(Path::new(&dir));
    let mut lines = String::new();
    for b in drain(&mut spool) {
        lines.push_str(std::str::from_utf8(&b).unwrap());
        lines.push('\n');
    }
    fs::write(out, lines).unwrap();
}

/// Held while a test spawns a process, and while a test drops an instance
/// and then checks that its lock is gone: a child forked meanwhile holds a
/// copy of every descriptor (the lock's too) until it execs, so the lock
/// would outlive the drop for that moment.
static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn no_spawn() -> std::sync::MutexGuard<'static, ()> {
    SPAWNING.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_child(dir: &Path, out: &Path) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let spawning = no_spawn();
    let child = Command::new(exe)
        .args(["spool::tests::multi_process_child", "--exact", "--quiet"])
        .args(["--test-threads=1", "--nocapture"])
        .env(CHILD_DIR, dir)
        .env(CHILD_OUT, out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // spawn returns once the child has exec'd: its copies are closed.
    drop(spawning);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = fs::read_to_string(out).unwrap();
    fs::remove_file(out).unwrap();
    text.lines().map(str::to_owned).collect()
}

#[test]
fn a_live_process_keeps_its_batches_and_another_takes_them_once_it_is_gone() {
    let tmp = TempDir::new("procs");
    let data = TempDir::new("procs-out");
    let mut parent = open(&tmp.0);
    let n = 40;
    for i in 0..n {
        parent.write(format!("[{i}]").as_bytes(), 1).unwrap();
    }
    let out = data.0.join("child.out");
    assert!(
        run_child(&tmp.0, &out).is_empty(),
        "a live writer's batches are not sent by another process"
    );
    let mine: Vec<Vec<u8>> = (0..10)
        .map(|_| {
            let c = parent.claim_oldest().unwrap();
            let b = c.body().to_vec();
            parent.ack(c).unwrap();
            b
        })
        .collect();
    assert_eq!(mine[0], b"[0]");
    drop(parent); // as at kino_emitter_free, or a crash: the lock goes
    let taken = run_child(&tmp.0, &out);
    let expected: Vec<String> = (10..n).map(|i| format!("[{i}]")).collect();
    assert_eq!(taken, expected, "the rest, oldest first, exactly once");
    assert!(listing(&tmp.0).is_empty());
}

/// Runs `f` on its own thread; `None` if it has not returned within 20 s
/// (the thread is then left blocked: the test fails).
fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20)).ok()
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[cfg(unix)]
#[test]
fn a_fifo_in_the_directory_never_blocks_the_spool() {
    let tmp = TempDir::new("fifo");
    let orphan = dead_writer_id(0);
    fs::write(tmp.0.join(orphan.file_name()), encode(&body("o", 1), 1)).unwrap();
    // A FIFO where the orphan's writer's lock file would be: opening it
    // for reading blocks until some writer opens it, that is forever.
    mkfifo(&tmp.0.join(orphan.owner().lock_file_name()));
    // And one named like a batch file of another dead writer.
    let named = SpoolId {
        owner: OwnerId(0xbeef),
        ..dead_writer_id(1)
    };
    mkfifo(&tmp.0.join(named.file_name()));
    let dir = tmp.0.clone();
    let claimed = within_20s(move || {
        let mut spool = open(&dir);
        let claimed = spool.claim_oldest().map(|c| c.body().to_vec());
        spool.rescan();
        (claimed, spool.corrupt_files())
    });
    let (claimed, corrupt) = claimed.expect("the spool blocked on a FIFO");
    // A lock file that cannot be checked keeps its owner "alive".
    assert_eq!(claimed, None);
    assert_eq!(corrupt, 1, "the FIFO named like a batch is foreign");
}

#[test]
fn a_dead_writers_lock_file_is_removed_even_with_no_batch_left() {
    let tmp = TempDir::new("stale-lock");
    // A writer that dies (its process killed) with nothing spooled leaves
    // its lock file, unlocked, and no batch file that would lead to it.
    let mut dead = open(&tmp.0);
    let lock = tmp.0.join(dead.owner().lock_file_name());
    dead.disown();
    let _no_spawn = no_spawn();
    drop(dead);
    assert!(lock.exists());
    let live = open(&tmp.0);
    assert!(
        !lock.exists(),
        "the dead writer's lock file is left forever"
    );
    assert!(tmp.0.join(live.owner().lock_file_name()).exists());
}

#[test]
fn a_wiped_and_recreated_directory_does_not_make_a_live_writer_look_gone() {
    let tmp = TempDir::new("wiped");
    let mut writer = open(&tmp.0);
    let mut other = open(&tmp.0);
    // The app empties its cache directory (lock files included) and makes
    // it again; the writer lives on and spools its next batch there.
    fs::remove_dir_all(&tmp.0).unwrap();
    fs::create_dir(&tmp.0).unwrap();
    writer.write(&body("w", 1), 1).unwrap();
    other.rescan();
    assert!(
        other.claim_oldest().is_none(),
        "a live writer's batch was taken over"
    );
    let own = writer.claim_oldest().unwrap();
    writer.ack(own).unwrap();
    writer.rescan();
    assert_eq!(writer.take_own_lost(), 0);
}

/// A file named like a dead writer's batch, with a well-formed header
/// claiming `len` body bytes, and `len` bytes of (sparse) zeros after it:
/// its checksum is wrong, which only a full read would find.
fn sparse_batch(dir: &Path, counter: u64, len: u64) -> SpoolId {
    let id = dead_writer_id(counter);
    let header = Header {
        events: 1,
        len,
        sum: 0,
    }
    .encode();
    let path = dir.join(id.file_name());
    fs::write(&path, header.as_bytes()).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(header.len() as u64 + len)
        .unwrap();
    id
}

#[test]
fn a_file_over_the_byte_bound_is_evicted_by_its_header_never_read_whole() {
    // Read whole, a file of any size (a sparse one costs nothing on disk)
    // went into memory: a large enough one aborted the host.
    let tmp = TempDir::new("huge");
    let len = 256 << 20;
    sparse_batch(&tmp.0, 0, len);
    let mut spool = Spool::open(&tmp.0, MIN_MAX_BYTES, DEFAULT_MAX_AGE).unwrap();
    let evicted = spool.take_evicted();
    assert_eq!((evicted.files, evicted.events), (1, 1), "{evicted:?}");
    assert_eq!(spool.corrupt_files(), 0);
    // One that appears later is met by a claim, not by the bound.
    sparse_batch(&tmp.0, 1, len);
    spool.rescan();
    assert!(spool.claim_oldest().is_none());
    let evicted = spool.take_evicted();
    assert_eq!((evicted.files, evicted.events), (1, 1), "{evicted:?}");
    assert!(listing(&tmp.0).is_empty());
}

#[test]
fn an_own_file_is_never_older_than_the_time_since_it_was_written() {
    let id = SpoolId {
        nanos: 1_000_000_000,
        owner: OwnerId(1),
        counter: 0,
    };
    // The wall clock now says 8 days after the name's time.
    let now = id.nanos + 8 * 24 * 3600 * 1_000_000_000;
    let orphan = Known {
        events: 1,
        size: 100,
        written: None,
    };
    assert_eq!(orphan.age(&id, now), Duration::from_secs(8 * 24 * 3600));
    let own = Known {
        written: Some(Mono::now()),
        ..orphan
    };
    assert!(
        own.age(&id, now) < Duration::from_secs(60),
        "written just now"
    );
    // A name from the future (the clock stepped back) is age 0.
    assert_eq!(orphan.age(&id, id.nanos - 1), Duration::ZERO);
}

#[test]
fn own_files_are_claimed_in_the_order_written_whatever_their_names_say() {
    let tmp = TempDir::new("order");
    let mut spool = open(&tmp.0);
    let first = spool.write(&body("first", 1), 1).unwrap();
    let second = spool.write(&body("second", 1), 1).unwrap();
    // As if the clock had stepped back between the two writes: the second
    // file's name sorts first.
    let earlier = SpoolId {
        nanos: first.nanos - 1_000_000_000,
        ..second
    };
    fs::rename(
        tmp.0.join(second.file_name()),
        tmp.0.join(earlier.file_name()),
    )
    .unwrap();
    let known = spool.own.remove(&second).unwrap();
    spool.own.insert(earlier, known);
    let claimed = spool.claim_oldest().unwrap();
    assert_eq!(claimed.id(), first, "the first written goes first");
}
