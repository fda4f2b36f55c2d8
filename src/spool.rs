//! The offline spool: undelivered batches kept on disk until a collector
//! takes them, across crashes and app launches.
//!
//! # Life of a batch
//!
//! 1. [`Spool::write`] makes the batch durable *before* its first send:
//!    a temporary file `.tmp-<stem>` in the spool directory gets the header
//!    and body, is fsynced, renamed to `<stem>.kino`, and the directory is
//!    fsynced. A process killed at any point leaves either no file or a
//!    complete one (plus, at worst, a stray temporary file, never sent and
//!    removed by a later scan once it is a minute old).
//! 2. [`Spool::claim_oldest`] returns the oldest batch file nobody else is
//!    sending, as a [`Claimed`] that holds an exclusive `flock(2)` on it.
//! 3. After a 2xx, [`Spool::ack`] unlinks the file *while still holding the
//!    lock*, then drops the lock; after a failure [`Spool::release`] drops
//!    the lock and keeps the file for a later attempt. Dropping a
//!    [`Claimed`] without either is the same as releasing it.
//!
//! Several [`Spool`] instances — other emitters in this process, other
//! processes, the next launch of the app — may share one directory. A file
//! is only sent, evicted or deleted by whoever holds its lock; after
//! locking, the holder checks the file is still linked at its path (another
//! holder may have just unlinked it), so no batch is sent twice at the same
//! time. Delivery is at-least-once: a crash between a 2xx and the unlink
//! (or an unlink that fails) sends that batch again later.
//!
//! # Directory contents
//!
//! * `<stem>.kino` — a batch, `stem` = `{unix_nanos:020}-{pid}-{counter}`:
//!   the wall-clock write time in nanoseconds (zero-padded to 20 digits),
//!   the writer's process id and a per-process counter, all decimal without
//!   leading zeros (except the padded time). Within one process the time
//!   part is strictly increasing even if the clock steps back. Files are
//!   ordered by (time, pid, counter): that is "oldest first".
//! * `.tmp-<stem>` (and `.tmp-probe-…`) — files being written; never
//!   claimed; removed by a scan once their mtime is over a minute old.
//! * anything else is *foreign*: counted once in [`Spool::corrupt_files`],
//!   never read, never deleted (it might be the user's). That includes
//!   names ending in `.kino` that do not follow the pattern exactly,
//!   directories, symlinks and non-UTF-8 names.
//!
//! A batch file is a one-line ASCII header followed by the body:
//!
//! ```text
//! KINO-SPOOL 1 events=<n> len=<body bytes> fnv64=<16 lowercase hex>\n<body>
//! ```
//!
//! `fnv64` is the 64-bit FNV-1a hash of the body. The header must be in
//! exactly this canonical form (at most 128 bytes), with `1 <= events <=
//! len` (a record takes at least a byte: spool files are untrusted input,
//! and their counts feed `evicted` and `resent`); the file length must be
//! header + `len` exactly; the hash must match. A `.kino` file failing any
//! of these is *corrupt*: counted once in [`Spool::corrupt_files`], never
//! returned, and **deleted** (it cannot be delivered, and keeping it would
//! eat the byte budget for nothing). One exception: a well-formed magic
//! with another version number (`KINO-SPOOL 2 …`, e.g. after an app
//! downgrade) is counted the same way but left in place, ignored, and kept
//! out of the byte accounting.
//!
//! # Bounds
//!
//! * Bytes: the sizes of the `.kino` files in the directory (rescanned by
//!   [`Spool::open`] and [`Spool::claim_oldest`], kept up to date by this
//!   instance's own writes and acks) are kept at or under `max_bytes`
//!   (default [`DEFAULT_MAX_BYTES`], raised to at least [`MIN_MAX_BYTES`]):
//!   past it, the oldest files not claimed by anyone are evicted. The file
//!   [`Spool::write`] just wrote is never evicted by that same call; a batch
//!   that alone is bigger than `max_bytes` is not written at all (an
//!   `InvalidArgument` error: the caller sends it from memory). Files
//!   claimed by others are counted but cannot be evicted, so the total may
//!   stay over the bound until they are acked or released.
//! * Age: a file whose name time is more than `max_age` (default
//!   [`DEFAULT_MAX_AGE`], raised to at least [`MIN_MAX_AGE`]) before now is
//!   evicted by the next scan. A file time in the future counts as age 0.
//!
//! Evictions are reported by [`Spool::take_evicted`], split into events
//! this instance wrote and the others.
//!
//! # Accounting for the worker
//!
//! * [`Claimed::is_own`]: the file was written by this instance — its
//!   events are in this emitter's `emitted`; otherwise it comes from an
//!   earlier run or another emitter and belongs in `resent`.
//! * [`Evicted::own_events`]: this instance's events evicted (age, bytes,
//!   or found corrupt), i.e. given up on.
//! * [`Spool::take_own_removed_elsewhere`]: this instance's files that
//!   disappeared without this instance acking or evicting them — another
//!   instance sharing the directory sent (its `resent`) or evicted them.
//! * [`Spool::own_pending_events`] and [`Spool::spooled_events`]: see there.
//!
//! # Platform
//!
//! Locks are `std::fs::File::try_lock` (`flock(2)` on Linux, per open file
//! description, so two instances in one process exclude each other too).
//! [`Spool::open`] fails on a file system where locking is unsupported.
//! The still-linked check uses inode numbers on Unix and the path's
//! existence elsewhere; the directory fsync is Unix-only.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};

/// Default bound on the bytes of batch files in the directory (10 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Smallest byte bound [`Spool::open`] accepts; smaller values are raised.
pub const MIN_MAX_BYTES: u64 = 64 * 1024;
/// Default age past which a batch file is evicted (7 days).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Smallest age bound [`Spool::open`] accepts; smaller values are raised
/// (so a batch is never evicted for age between its write and first send).
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);

const SUFFIX: &str = ".kino";
const TMP_PREFIX: &str = ".tmp-";
const MAGIC: &str = "KINO-SPOOL";
const VERSION: u32 = 1;
/// Longest header line accepted, newline included.
const MAX_HEADER: usize = 128;
/// Age past which a temporary file is considered left by a dead writer.
const STALE_TMP: Duration = Duration::from_secs(60);

/// Identifies a batch file: its write time, writer process and counter.
/// Orders oldest first; [`fmt::Display`] gives the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpoolId {
    nanos: u64,
    pid: u32,
    counter: u64,
}

impl SpoolId {
    /// A fresh id: strictly later than any other made in this process.
    fn next() -> SpoolId {
        static LAST_NANOS: AtomicU64 = AtomicU64::new(0);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = now_nanos();
        let bump = |last: u64| now.max(last.saturating_add(1));
        let prev = match LAST_NANOS
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(bump(last)))
        {
            Ok(prev) | Err(prev) => prev,
        };
        SpoolId {
            nanos: bump(prev),
            pid: std::process::id(),
            counter: COUNTER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Parses a batch file name; `None` unless it is exactly in the
    /// canonical `{nanos:020}-{pid}-{counter}.kino` form.
    fn parse(name: &str) -> Option<SpoolId> {
        let stem = name.strip_suffix(SUFFIX)?;
        let mut parts = stem.split('-');
        let (nanos, pid, counter) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || nanos.len() != 20 {
            return None;
        }
        let id = SpoolId {
            nanos: parse_digits(nanos)?,
            pid: u32::try_from(parse_digits(pid)?).ok()?,
            counter: parse_digits(counter)?,
        };
        (id.file_name() == name).then_some(id)
    }

    fn stem(&self) -> String {
        format!("{:020}-{}-{}", self.nanos, self.pid, self.counter)
    }

    /// The batch file's name, `{nanos:020}-{pid}-{counter}.kino`.
    pub fn file_name(&self) -> String {
        format!("{}{SUFFIX}", self.stem())
    }

    /// When the batch was written (the time encoded in its name).
    pub fn written_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos)
    }
}

impl fmt::Display for SpoolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// A batch file claimed exclusively by this instance (it holds an
/// exclusive lock on the file). Give it back with [`Spool::ack`] or
/// [`Spool::release`]; dropping it releases it.
pub struct Claimed {
    id: SpoolId,
    path: PathBuf,
    /// Open and locked; the lock goes with the descriptor.
    file: File,
    body: Vec<u8>,
    events: u64,
    size: u64,
    own: bool,
}

impl Claimed {
    /// The body exactly as given to [`Spool::write`] (the beacon JSON).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The number of records in the body, as given to [`Spool::write`].
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Whether the claiming instance wrote this file itself (rather than
    /// finding it from an earlier run or another emitter).
    pub fn is_own(&self) -> bool {
        self.own
    }

    /// The file's id (its name, write time and writer) for logs.
    pub fn id(&self) -> SpoolId {
        self.id
    }
}

impl fmt::Debug for Claimed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claimed")
            .field("id", &self.id)
            .field("events", &self.events)
            .field("body_len", &self.body.len())
            .field("own", &self.own)
            .finish()
    }
}

/// Batch files evicted (for age or the byte bound, or found corrupt while
/// being this instance's own) since the last [`Spool::take_evicted`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Files removed.
    pub files: u64,
    /// Events in them (as their headers declared).
    pub events: u64,
    /// Of `events`, those in files this instance wrote: the worker counts
    /// them in `failed`. The rest came from earlier runs or other emitters.
    pub own_events: u64,
}

impl Evicted {
    /// Counts one evicted file of `events` events, saturating.
    fn add(&mut self, events: u64, own: bool) {
        self.files = self.files.saturating_add(1);
        self.events = self.events.saturating_add(events);
        if own {
            self.own_events = self.own_events.saturating_add(events);
        }
    }
}

/// A spool directory as seen by one emitter. Not thread-safe by itself
/// (`&mut self` everywhere); several instances may share a directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
    /// This instance's files still on disk, with their event counts.
    own: HashMap<SpoolId, u64>,
    /// Event counts read from headers of files seen by the last scan
    /// (files never change once named, so this is a cache).
    header_events: HashMap<SpoolId, u64>,
    /// Other-version files: left alone, not accounted.
    ignored: HashSet<SpoolId>,
    /// Names of corrupt and foreign entries already counted.
    corrupt_seen: HashSet<OsString>,
    disk_bytes: u64,
    disk_events: u64,
    evicted: Evicted,
    own_removed_elsewhere: u64,
}

/// One batch file found by a scan.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: SpoolId,
    size: u64,
    events: u64,
}

/// Why a batch file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    /// Unparseable, truncated, or wrong checksum.
    Corrupt,
    /// A spool file of another format version.
    OtherVersion,
    /// An I/O error: try again later.
    Io,
}

/// The result of trying to lock a batch file.
enum Lock {
    /// Locked, and still linked at its path.
    Held(File),
    /// Locked by someone else, or could not be opened or locked.
    Busy,
    /// No longer in the directory.
    Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    events: u64,
    len: u64,
    sum: u64,
}

impl Header {
    /// Whether a batch of `events` records can have a body of `len`
    /// bytes: at least one record, and at least a byte per record.
    fn plausible(events: u64, len: u64) -> bool {
        (1..=len).contains(&events)
    }

    fn encode(&self) -> String {
        format!(
            "{MAGIC} {VERSION} events={} len={} fnv64={:016x}\n",
            self.events, self.len, self.sum
        )
    }

    /// Parses the header at the start of `buf`; returns it and its length.
    fn parse(buf: &[u8]) -> std::result::Result<(Header, usize), Bad> {
        let end = buf
            .iter()
            .take(MAX_HEADER)
            .position(|&b| b == b'\n')
            .ok_or(Bad::Corrupt)?;
        let line = std::str::from_utf8(&buf[..end]).map_err(|_| Bad::Corrupt)?;
        let mut tokens = line.split(' ');
        if tokens.next() != Some(MAGIC) {
            return Err(Bad::Corrupt);
        }
        let version = tokens.next().and_then(parse_digits).ok_or(Bad::Corrupt)?;
        if version != u64::from(VERSION) {
            return Err(Bad::OtherVersion);
        }
        let mut field = |key: &str| {
            tokens
                .next()
                .and_then(|t| t.strip_prefix(key))
                .ok_or(Bad::Corrupt)
        };
        let events = parse_digits(field("events=")?).ok_or(Bad::Corrupt)?;
        let len = parse_digits(field("len=")?).ok_or(Bad::Corrupt)?;
        let sum = u64::from_str_radix(field("fnv64=")?, 16).map_err(|_| Bad::Corrupt)?;
        let header = Header { events, len, sum };
        // Canonical form only: rejects extra tokens, `+`, uppercase hex...
        if header.encode().as_bytes() != &buf[..=end] || !Header::plausible(events, len) {
            return Err(Bad::Corrupt);
        }
        Ok((header, end + 1))
    }
}

impl Spool {
    /// Opens (creating it and its parents if missing) the spool directory
    /// `dir`. Probes that it is writable and supports locks (create, fsync,
    /// lock and remove a temporary file), removes stale temporary files,
    /// counts foreign entries, and evicts what is past the bounds.
    /// `max_bytes` is raised to [`MIN_MAX_BYTES`], `max_age` to
    /// [`MIN_MAX_AGE`].
    ///
    /// Fails with [`ErrorKind::Io`] and a message naming `dir` if the
    /// directory cannot be created, written or locked in.
    pub fn open(dir: &Path, max_bytes: u64, max_age: Duration) -> Result<Spool> {
        let not_writable = |e: io::Error| {
            Error::new(
                ErrorKind::Io,
                format!("spool directory {} is not writable: {e}", dir.display()),
            )
        };
        fs::create_dir_all(dir).map_err(not_writable)?;
        probe(dir)?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes: max_bytes.max(MIN_MAX_BYTES),
            max_age: max_age.max(MIN_MAX_AGE),
            own: HashMap::new(),
            header_events: HashMap::new(),
            ignored: HashSet::new(),
            corrupt_seen: HashSet::new(),
            disk_bytes: 0,
            disk_events: 0,
            evicted: Evicted::default(),
            own_removed_elsewhere: 0,
        };
        spool.sweep(None);
        Ok(spool)
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a batch durably: a temporary file in the directory (recreated
    /// if it was removed since [`Spool::open`]) gets the header and `body`,
    /// is fsynced and renamed to its final name, and the directory is
    /// fsynced (best effort: the file is in place either way).
    /// Then, if the directory is over the byte bound, evicts the oldest
    /// unclaimed files — never the one just written.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] if header and body alone are
    /// bigger than the byte bound, or `events` is 0 or more than the
    /// body's bytes (nothing written); [`ErrorKind::Io`] with
    /// the path if writing failed (the temporary file is removed). In both
    /// cases the batch is not spooled and the caller should send it from
    /// memory.
    pub fn write(&mut self, body: &[u8], events: u64) -> Result<SpoolId> {
        if !Header::plausible(events, body.len() as u64) {
            return Err(Error::invalid(format!(
                "a batch of {events} events cannot have a body of {} bytes; not spooled",
                body.len()
            )));
        }
        let header = Header {
            events,
            len: body.len() as u64,
            sum: fnv1a64(body),
        }
        .encode();
        let size = (header.len() + body.len()) as u64;
        if size > self.max_bytes {
            return Err(Error::invalid(format!(
                "batch of {size} bytes exceeds the spool bound of {} bytes; not spooled",
                self.max_bytes
            )));
        }
        let id = SpoolId::next();
        let tmp = self.dir.join(format!("{TMP_PREFIX}{}", id.stem()));
        let path = self.path_of(&id);
        let written = (|| {
            let create = || OpenOptions::new().write(true).create_new(true).open(&tmp);
            let mut file = match create() {
                // The directory was removed since `open` (an OS cache purge?).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir_all(&self.dir)?;
                    create()?
                }
                other => other?,
            };
            file.write_all(header.as_bytes())?;
            file.write_all(body)?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(Error::new(
                ErrorKind::Io,
                format!("cannot write spool file {}: {e}", path.display()),
            ));
        }
        let _ = sync_dir(&self.dir);
        self.own.insert(id, events);
        self.header_events.insert(id, events);
        self.disk_bytes = self.disk_bytes.saturating_add(size);
        self.disk_events = self.disk_events.saturating_add(events);
        if self.disk_bytes > self.max_bytes {
            self.sweep(Some(id));
        }
        Ok(id)
    }

    /// Claims the oldest batch file that is not claimed by anyone, after a
    /// rescan that evicts files past the age or byte bound. Skips files
    /// claimed by others, files removed meanwhile, unreadable ones (I/O
    /// errors: retried next time), and corrupt ones (counted and deleted,
    /// see the module doc). `None` if nothing is claimable now.
    pub fn claim_oldest(&mut self) -> Option<Claimed> {
        for entry in self.sweep(None) {
            let path = self.path_of(&entry.id);
            let file = match lock(&path) {
                Lock::Busy => continue,
                Lock::Gone => {
                    self.forget(&entry);
                    continue;
                }
                Lock::Held(file) => file,
            };
            match load(&file) {
                Ok((header, body, size)) => {
                    return Some(Claimed {
                        id: entry.id,
                        path,
                        file,
                        body,
                        events: header.events,
                        size,
                        own: self.own.contains_key(&entry.id),
                    })
                }
                Err(Bad::Io) => {}
                Err(bad) => {
                    self.discard(entry.id, &path, bad);
                    self.forget(&entry);
                }
            }
        }
        None
    }

    /// Marks a claimed batch delivered: unlinks its file while still
    /// holding the lock, then unlocks. The file is gone from this
    /// instance's accounting even if the unlink fails (an [`ErrorKind::Io`]
    /// error naming the path); a file left behind that way is sent again
    /// later as not own. The directory is not fsynced: after a crash right
    /// here the batch may be sent once more (at-least-once).
    pub fn ack(&mut self, claimed: Claimed) -> Result<()> {
        self.own.remove(&claimed.id);
        self.header_events.remove(&claimed.id);
        self.disk_bytes = self.disk_bytes.saturating_sub(claimed.size);
        self.disk_events = self.disk_events.saturating_sub(claimed.events);
        let result = match fs::remove_file(&claimed.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::new(
                ErrorKind::Io,
                format!(
                    "cannot remove delivered spool file {}: {e}",
                    claimed.path.display()
                ),
            )),
        };
        let _ = claimed.file.unlock();
        result
    }

    /// Gives a claimed batch back undelivered: the file stays, the lock is
    /// dropped, and it can be claimed again (by anyone).
    pub fn release(&mut self, claimed: Claimed) {
        let _ = claimed.file.unlock();
    }

    /// Evictions since the last call (and resets them).
    pub fn take_evicted(&mut self) -> Evicted {
        std::mem::take(&mut self.evicted)
    }

    /// Events in this instance's own files that left the directory without
    /// this instance acking or evicting them — another instance sharing
    /// the directory sent them (counting them as its `resent`) or evicted
    /// them — since the last call (and resets the count). Noticed by scans.
    pub fn take_own_removed_elsewhere(&mut self) -> u64 {
        std::mem::take(&mut self.own_removed_elsewhere)
    }

    /// Distinct corrupt `.kino` files and foreign entries this instance has
    /// seen (each counted once, by name).
    pub fn corrupt_files(&self) -> u64 {
        self.corrupt_seen.len() as u64
    }

    /// Events on disk now, as far as this instance knows: the events
    /// declared by the headers of all valid-looking batch files in the
    /// directory at this instance's last scan (by `open`, `claim_oldest`,
    /// or a `write` over the bound) — own and others', claimed or not —
    /// plus its own writes since, minus its own acks and evictions since.
    /// Files with an unreadable header count 0 until claimed.
    pub fn spooled_events(&self) -> u64 {
        self.disk_events
    }

    /// Events in files this instance wrote that it has not acked, evicted,
    /// or seen disappear (see [`Spool::take_own_removed_elsewhere`]) —
    /// including one it currently holds claimed.
    pub fn own_pending_events(&self) -> u64 {
        saturating_sum(self.own.values().copied())
    }

    /// Bytes of batch files in the directory as of the last scan, adjusted
    /// like [`Spool::spooled_events`].
    pub fn spooled_bytes(&self) -> u64 {
        self.disk_bytes
    }

    fn path_of(&self, id: &SpoolId) -> PathBuf {
        self.dir.join(id.file_name())
    }

    /// Counts a corrupt or foreign entry once.
    fn note_corrupt(&mut self, name: OsString) {
        self.corrupt_seen.insert(name);
    }

    /// Drops a scanned entry from the totals (it left the directory or was
    /// found unusable).
    fn forget(&mut self, entry: &Entry) {
        self.disk_bytes = self.disk_bytes.saturating_sub(entry.size);
        self.disk_events = self.disk_events.saturating_sub(entry.events);
        self.header_events.remove(&entry.id);
    }

    /// Handles a batch file found corrupt or of another version, with its
    /// lock held: counts it; deletes it if corrupt (ignoring it from now on
    /// if that fails, or if it is another version). An own file's events
    /// count as evicted.
    fn discard(&mut self, id: SpoolId, path: &Path, bad: Bad) {
        self.note_corrupt(id.file_name().into());
        let removed = bad == Bad::Corrupt
            && match fs::remove_file(path) {
                Ok(()) => true,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            };
        if !removed {
            self.ignored.insert(id);
        }
        if let Some(events) = self.own.remove(&id) {
            self.evicted.add(events, true);
        }
    }

    /// Evicts one file if nobody holds it. Returns whether it is off the
    /// books (evicted, discarded, or already gone).
    fn evict(&mut self, entry: &Entry) -> bool {
        let path = self.path_of(&entry.id);
        let file = match lock(&path) {
            Lock::Busy => return false,
            Lock::Gone => return true,
            Lock::Held(file) => file,
        };
        // Verified in full, like a claim: a corrupt file's header does
        // not get to say how many events `evicted` counts.
        let header = match load(&file) {
            Ok((header, _, _)) => header,
            Err(Bad::Io) => return false,
            Err(bad) => {
                self.discard(entry.id, &path, bad);
                return true;
            }
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            Err(_) => return false,
        }
        drop(file);
        let own = self.own.remove(&entry.id).is_some();
        self.evicted.add(header.events, own);
        true
    }

    /// Rescans the directory, evicts files past the age bound and then the
    /// oldest past the byte bound (never `keep`), recomputes the totals,
    /// and returns the remaining batch files, oldest first.
    fn sweep(&mut self, keep: Option<SpoolId>) -> Vec<Entry> {
        let Some(entries) = self.scan() else {
            return Vec::new();
        };
        let now = now_nanos();
        let max_age = self.max_age.as_nanos();
        let mut survivors = Vec::with_capacity(entries.len());
        for entry in entries {
            let age = u128::from(now.saturating_sub(entry.id.nanos));
            if Some(entry.id) != keep && age > max_age && self.evict(&entry) {
                continue;
            }
            survivors.push(entry);
        }
        let mut total = saturating_sum(survivors.iter().map(|e| e.size));
        if total > self.max_bytes {
            let mut kept = Vec::with_capacity(survivors.len());
            for entry in survivors {
                if total > self.max_bytes && Some(entry.id) != keep && self.evict(&entry) {
                    total = total.saturating_sub(entry.size);
                } else {
                    kept.push(entry);
                }
            }
            survivors = kept;
        }
        let present: HashSet<SpoolId> = survivors.iter().map(|e| e.id).collect();
        self.header_events.retain(|id, _| present.contains(id));
        self.disk_bytes = saturating_sum(survivors.iter().map(|e| e.size));
        self.disk_events = saturating_sum(survivors.iter().map(|e| e.events));
        survivors
    }

    /// Lists the directory: removes stale temporary files, counts foreign
    /// entries, reads the headers of new batch files, and notices own files
    /// that are gone. `None` if the directory cannot be read.
    fn scan(&mut self) -> Option<Vec<Entry>> {
        let listing = fs::read_dir(&self.dir).ok()?;
        let now = SystemTime::now();
        let mut complete = true;
        let mut entries = Vec::new();
        for item in listing {
            let Ok(item) = item else {
                complete = false;
                continue;
            };
            let name = item.file_name();
            let Some(text) = name.to_str() else {
                self.note_corrupt(name);
                continue;
            };
            if text.starts_with(TMP_PREFIX) {
                let stale = item
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > STALE_TMP);
                if stale {
                    let _ = fs::remove_file(item.path());
                }
                continue;
            }
            let Some(id) = SpoolId::parse(text) else {
                self.note_corrupt(name);
                continue;
            };
            if self.ignored.contains(&id) {
                continue;
            }
            let meta = match item.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(_) => {
                    complete = false;
                    continue;
                }
            };
            if !meta.is_file() {
                self.note_corrupt(name);
                continue;
            }
            let events = match self.header_events.get(&id) {
                Some(&events) => events,
                None => match read_header(&item.path(), meta.len()) {
                    Ok(header) => {
                        self.header_events.insert(id, header.events);
                        header.events
                    }
                    Err(Bad::OtherVersion) => {
                        self.note_corrupt(name);
                        self.ignored.insert(id);
                        continue;
                    }
                    Err(_) => 0,
                },
            };
            entries.push(Entry {
                id,
                size: meta.len(),
                events,
            });
        }
        if complete {
            let present: HashSet<SpoolId> = entries.iter().map(|e| e.id).collect();
            let mut gone = 0;
            self.own.retain(|id, events| {
                let keep = present.contains(id);
                if !keep {
                    gone = u64::saturating_add(gone, *events);
                }
                keep
            });
            self.own_removed_elsewhere = self.own_removed_elsewhere.saturating_add(gone);
        }
        entries.sort_by_key(|e| e.id);
        Some(entries)
    }
}

/// Creates, writes, fsyncs, locks and removes a temporary file in `dir`.
fn probe(dir: &Path) -> Result<()> {
    let fail = |what: &str, e: io::Error| {
        Error::new(
            ErrorKind::Io,
            format!("spool directory {} {what}: {e}", dir.display()),
        )
    };
    let path = dir.join(format!("{TMP_PREFIX}probe-{}", SpoolId::next().stem()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| fail("is not writable", e))?;
    let written = (&file).write_all(b"probe").and_then(|()| file.sync_all());
    let locked = file.try_lock();
    drop(file);
    let removed = fs::remove_file(&path);
    written
        .and(removed)
        .map_err(|e| fail("is not writable", e))?;
    match locked {
        Ok(()) | Err(TryLockError::WouldBlock) => Ok(()),
        Err(TryLockError::Error(e)) => Err(fail("does not support file locks", e)),
    }
}

/// Opens and try-locks a batch file, and checks it is still at its path.
fn lock(path: &Path) -> Lock {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Lock::Gone,
        Err(_) => return Lock::Busy,
    };
    if file.try_lock().is_err() {
        return Lock::Busy;
    }
    if still_linked(&file, path) {
        Lock::Held(file)
    } else {
        Lock::Gone
    }
}

/// Whether the open `file` is still the one linked at `path` (another
/// claimant may have unlinked it between our open and our lock).
#[cfg(unix)]
fn still_linked(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => {
            open.nlink() > 0 && open.dev() == named.dev() && open.ino() == named.ino()
        }
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_linked(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Reads only the header of the batch file at `path`, of `size` bytes
/// (no lock needed: batch files never change once named). A header whose
/// `len` does not match the size is corrupt: its count is not believed.
fn read_header(path: &Path, size: u64) -> std::result::Result<Header, Bad> {
    let file = File::open(path).map_err(|_| Bad::Io)?;
    let mut buf = Vec::with_capacity(MAX_HEADER);
    (&file)
        .take(MAX_HEADER as u64)
        .read_to_end(&mut buf)
        .map_err(|_| Bad::Io)?;
    let (header, header_len) = Header::parse(&buf)?;
    if Some(size) != (header_len as u64).checked_add(header.len) {
        return Err(Bad::Corrupt);
    }
    Ok(header)
}

/// Reads and verifies a whole batch file: header, exact length, checksum.
/// Returns the header, the body and the file size.
fn load(file: &File) -> std::result::Result<(Header, Vec<u8>, u64), Bad> {
    let mut buf = Vec::with_capacity(MAX_HEADER);
    let mut reader = file;
    (&mut reader)
        .take(MAX_HEADER as u64)
        .read_to_end(&mut buf)
        .map_err(|_| Bad::Io)?;
    let (header, header_len) = Header::parse(&buf)?;
    let size = file.metadata().map_err(|_| Bad::Io)?.len();
    if Some(size) != (header_len as u64).checked_add(header.len) {
        return Err(Bad::Corrupt);
    }
    let mut body = buf.split_off(header_len);
    let rest = header.len.saturating_sub(body.len() as u64);
    reader
        .take(rest)
        .read_to_end(&mut body)
        .map_err(|_| Bad::Io)?;
    if body.len() as u64 != header.len || fnv1a64(&body) != header.sum {
        return Err(Bad::Corrupt);
    }
    Ok((header, body, size))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// The sum of counts read from disk or derived from them, saturating (a
/// foreign file must not make it wrap or panic).
fn saturating_sum(counts: impl Iterator<Item = u64>) -> u64 {
    counts.fold(0, u64::saturating_add)
}

/// 64-bit FNV-1a.
fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A non-empty run of ASCII digits as a `u64` (no sign, no overflow).
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::Arc;

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

    /// A valid batch file's bytes.
    fn encode(body: &[u8], events: u64) -> Vec<u8> {
        let header = Header {
            events,
            len: body.len() as u64,
            sum: fnv1a64(body),
        };
        let mut bytes = header.encode().into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// Names of the directory's entries, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
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
        let body = br#"{"events":[{"sequence":1}]}"#;
        let id = spool.write(body, 3).unwrap();
        assert_eq!(listing(&tmp.0), vec![id.file_name()]);
        assert_eq!(spool.spooled_events(), 3);
        assert_eq!(spool.own_pending_events(), 3);

        let claimed = spool.claim_oldest().unwrap();
        assert_eq!(claimed.body(), body);
        assert_eq!(claimed.events(), 3);
        assert!(claimed.is_own());
        assert_eq!(claimed.id(), id);
        // Already claimed, by ourselves: nothing else to claim.
        assert!(spool.claim_oldest().is_none());
        spool.release(claimed);
        assert_eq!(listing(&tmp.0).len(), 1);

        let again = spool.claim_oldest().unwrap();
        assert_eq!(again.body(), body);
        spool.ack(again).unwrap();
        assert!(listing(&tmp.0).is_empty());
        assert!(spool.claim_oldest().is_none());
        assert_eq!(spool.spooled_events(), 0);
        assert_eq!(spool.own_pending_events(), 0);
        assert_eq!(spool.take_evicted(), Evicted::default());
        assert_eq!(spool.corrupt_files(), 0);
    }

    #[test]
    fn oldest_first_and_foreign_to_another_instance() {
        let tmp = TempDir::new("order");
        let mut first = open(&tmp.0);
        for i in 0..5u64 {
            first.write(format!("batch {i}").as_bytes(), i + 1).unwrap();
        }
        let mut second = open(&tmp.0);
        assert_eq!(second.spooled_events(), 15);
        assert_eq!(second.own_pending_events(), 0);
        let claimed = second.claim_oldest().unwrap();
        assert_eq!(claimed.body(), b"batch 0");
        assert!(!claimed.is_own());
        second.ack(claimed).unwrap();

        let claimed = first.claim_oldest().unwrap();
        assert_eq!(claimed.body(), b"batch 1");
        assert!(claimed.is_own());
        first.ack(claimed).unwrap();
        // `first` noticed its batch 0 was taken by someone else.
        assert_eq!(first.take_own_removed_elsewhere(), 1);
        assert_eq!(first.own_pending_events(), 3 + 4 + 5);

        let rest: Vec<Vec<u8>> = drain(&mut second);
        assert_eq!(
            rest,
            vec![
                b"batch 2".to_vec(),
                b"batch 3".to_vec(),
                b"batch 4".to_vec()
            ]
        );
    }

    #[test]
    fn claimed_file_is_exclusive_across_instances() {
        let tmp = TempDir::new("exclusive");
        let mut a = open(&tmp.0);
        let mut b = open(&tmp.0);
        a.write(b"one", 1).unwrap();
        let held = a.claim_oldest().unwrap();
        assert!(b.claim_oldest().is_none());
        // Nor can it be evicted while held.
        a.release(held);
        let taken = b.claim_oldest().unwrap();
        assert_eq!(taken.body(), b"one");
        assert!(!taken.is_own());
        assert!(a.claim_oldest().is_none());
        b.ack(taken).unwrap();
        assert!(a.claim_oldest().is_none());
        assert_eq!(a.take_own_removed_elsewhere(), 1);
    }

    #[test]
    fn two_threads_ack_every_file_exactly_once() {
        let tmp = TempDir::new("threads");
        let mut writer = open(&tmp.0);
        let n = 200;
        for i in 0..n {
            writer.write(format!("{i}").as_bytes(), 1).unwrap();
        }
        let dir = Arc::new(tmp.0.clone());
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let dir = Arc::clone(&dir);
                std::thread::spawn(move || drain(&mut open(&dir)))
            })
            .collect();
        let mut all: Vec<u64> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .map(|b| String::from_utf8(b).unwrap().parse().unwrap())
            .collect();
        all.extend(
            drain(&mut writer)
                .into_iter()
                .map(|b| String::from_utf8(b).unwrap().parse::<u64>().unwrap()),
        );
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<u64>>());
        assert!(listing(&tmp.0).is_empty());
    }

    #[test]
    fn byte_bound_evicts_oldest() {
        let tmp = TempDir::new("bytes");
        // Raised to the minimum, 64 KiB.
        let mut spool = Spool::open(&tmp.0, 1, DEFAULT_MAX_AGE).unwrap();
        let body = vec![b'x'; 20 * 1024];
        let ids: Vec<SpoolId> = (0..4u64)
            .map(|i| spool.write(&body, 10 + i).unwrap())
            .collect();
        // 4 × 20 KiB > 64 KiB: the oldest went.
        assert_eq!(
            spool.take_evicted(),
            Evicted {
                files: 1,
                events: 10,
                own_events: 10
            }
        );
        assert_eq!(
            listing(&tmp.0),
            ids[1..].iter().map(|i| i.file_name()).collect::<Vec<_>>()
        );
        assert_eq!(spool.own_pending_events(), 11 + 12 + 13);
        assert!(spool.spooled_bytes() <= MIN_MAX_BYTES);

        // A file claimed elsewhere is not evicted; the next oldest goes.
        let mut other = open(&tmp.0);
        let held = other.claim_oldest().unwrap();
        assert_eq!(held.id(), ids[1]);
        spool.write(&body, 14).unwrap();
        assert_eq!(spool.take_evicted().events, 12);
        other.release(held);

        // Alone over the bound: refused, nothing written.
        let huge = vec![b'y'; MIN_MAX_BYTES as usize];
        let before = listing(&tmp.0);
        let err = spool.write(&huge, 1).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_eq!(listing(&tmp.0), before);

        // Another instance evicting these: not its own events.
        let mut third = Spool::open(&tmp.0, 1, DEFAULT_MAX_AGE).unwrap();
        assert_eq!(third.take_evicted(), Evicted::default());
        third.write(&vec![b'z'; 30 * 1024], 7).unwrap();
        let evicted = third.take_evicted();
        assert_eq!(evicted.files, 2);
        assert_eq!(evicted.own_events, 0);
        assert!(third.spooled_bytes() <= MIN_MAX_BYTES);
        // The writer notices at its next scan.
        assert!(spool.claim_oldest().is_some());
        assert_eq!(spool.take_own_removed_elsewhere(), evicted.events);
    }

    #[test]
    fn a_file_unlinked_before_the_lock_is_not_claimed() {
        let tmp = TempDir::new("unlinked");
        let mut a = open(&tmp.0);
        let id = a.write(b"once", 1).unwrap();
        let path = tmp.0.join(id.file_name());
        let held = a.claim_oldest().unwrap();
        // Another claimant opened the file just before `a` acked it...
        let late = File::open(&path).unwrap();
        assert!(late.try_lock().is_err());
        a.ack(held).unwrap();
        // ...and gets the lock only once the file is gone.
        late.try_lock().unwrap();
        assert!(!still_linked(&late, &path));
        assert!(matches!(lock(&path), Lock::Gone));
    }

    #[test]
    fn age_bound_evicts_on_claim() {
        let tmp = TempDir::new("age");
        let old = SpoolId {
            nanos: 1_000_000_000,
            pid: 1,
            counter: 0,
        };
        fs::write(tmp.0.join(old.file_name()), encode(b"ancient", 5)).unwrap();
        let week_ago = now_nanos() - 6 * 24 * 3600 * 1_000_000_000;
        let recent = SpoolId {
            nanos: week_ago,
            pid: 1,
            counter: 1,
        };
        fs::write(tmp.0.join(recent.file_name()), encode(b"six days", 2)).unwrap();
        let mut spool = open(&tmp.0);
        // Evicted by the scan in `open` already.
        assert_eq!(
            spool.take_evicted(),
            Evicted {
                files: 1,
                events: 5,
                own_events: 0
            }
        );
        // And by `claim_oldest` for a file appearing later.
        fs::write(tmp.0.join(old.file_name()), encode(b"ancient", 4)).unwrap();
        let claimed = spool.claim_oldest().unwrap();
        assert_eq!(claimed.body(), b"six days");
        assert_eq!(
            claimed.id().written_at(),
            UNIX_EPOCH + Duration::from_nanos(week_ago)
        );
        assert_eq!(spool.take_evicted().events, 4);
        spool.ack(claimed).unwrap();
        assert!(listing(&tmp.0).is_empty());
    }

    #[test]
    fn corrupt_and_foreign_files_are_skipped_and_counted_once() {
        let tmp = TempDir::new("corrupt");
        let id = |counter| SpoolId {
            nanos: now_nanos() - 1_000_000_000,
            pid: 1,
            counter,
        };
        let valid = encode(b"{\"ok\":true}", 1);
        // Truncated.
        fs::write(tmp.0.join(id(0).file_name()), &valid[..valid.len() - 3]).unwrap();
        // Bad checksum.
        let mut flipped = valid.clone();
        *flipped.last_mut().unwrap() ^= 1;
        fs::write(tmp.0.join(id(1).file_name()), flipped).unwrap();
        // Garbage, empty, trailing bytes, non-canonical header.
        fs::write(tmp.0.join(id(2).file_name()), b"\x00\xffgarbage").unwrap();
        fs::write(tmp.0.join(id(3).file_name()), b"").unwrap();
        let mut trailing = valid.clone();
        trailing.push(b'\n');
        fs::write(tmp.0.join(id(4).file_name()), trailing).unwrap();
        let loose = b"KINO-SPOOL 1 events=+1 len=2 fnv64=0000000000000000\n{}";
        fs::write(tmp.0.join(id(5).file_name()), loose).unwrap();
        // The valid one, newest.
        fs::write(tmp.0.join(id(9).file_name()), &valid).unwrap();
        // Foreign: never touched.
        fs::write(tmp.0.join("notes.txt"), b"mine").unwrap();
        fs::write(tmp.0.join("01-2-3.kino"), encode(b"x", 1)).unwrap();
        fs::create_dir(tmp.0.join("00000000000000000001-1-1.kino")).unwrap();
        // Another format version: counted, left alone.
        let future = id(6).file_name();
        fs::write(tmp.0.join(&future), b"KINO-SPOOL 2 whatever\n{}").unwrap();

        let mut spool = open(&tmp.0);
        // Foreign entries and the other version are counted by the scan.
        assert_eq!(spool.corrupt_files(), 4);
        let claimed = spool.claim_oldest().unwrap();
        assert_eq!(claimed.body(), b"{\"ok\":true}");
        assert!(!claimed.is_own());
        spool.ack(claimed).unwrap();
        assert!(spool.claim_oldest().is_none());
        assert!(spool.claim_oldest().is_none());
        assert_eq!(spool.corrupt_files(), 4 + 6);
        assert_eq!(spool.take_evicted(), Evicted::default());
        assert_eq!(
            listing(&tmp.0),
            vec![
                "00000000000000000001-1-1.kino".to_string(),
                "01-2-3.kino".to_string(),
                future,
                "notes.txt".to_string()
            ]
        );
        assert_eq!(fs::read(tmp.0.join("notes.txt")).unwrap(), b"mine");
        assert_eq!(spool.spooled_events(), 0);
        assert_eq!(spool.spooled_bytes(), 0);
    }

    /// Issue 8: spool files are untrusted input. Their `events=` counts
    /// were summed with `+=` (a panic in debug builds, a wrap in release)
    /// and believed on eviction even when the file was corrupt, so a
    /// foreign file could make `evicted` (and `resent`) say anything.
    #[test]
    fn untrusted_event_counts_are_validated_and_never_overflow() {
        let tmp = TempDir::new("untrusted");
        let id = |nanos, counter| SpoolId {
            nanos,
            pid: 1,
            counter,
        };
        let recent = now_nanos() - 1_000_000_000;
        let forged = |events: u64, body: &[u8]| {
            let header = Header {
                events,
                len: body.len() as u64,
                sum: fnv1a64(body),
            };
            [header.encode().as_bytes(), body].concat()
        };
        // Counts whose sum overflows u64: each one alone is impossible.
        fs::write(
            tmp.0.join(id(recent, 0).file_name()),
            forged(u64::MAX, b"[]"),
        )
        .unwrap();
        fs::write(
            tmp.0.join(id(recent, 1).file_name()),
            forged(u64::MAX, b"[]"),
        )
        .unwrap();
        // No records at all, and more records than bytes.
        fs::write(tmp.0.join(id(recent, 2).file_name()), forged(0, b"[]")).unwrap();
        fs::write(tmp.0.join(id(recent, 3).file_name()), forged(8, b"payload")).unwrap();
        // A plausible header whose length is not the file's.
        let mut short = forged(2, b"[1,2]");
        short.truncate(short.len() - 1);
        fs::write(tmp.0.join(id(recent, 4).file_name()), short).unwrap();
        // Past the age bound: a corrupt body must not count as evicted...
        let mut bad_sum = forged(3, b"[1,2,3]");
        *bad_sum.last_mut().unwrap() = b'}';
        fs::write(tmp.0.join(id(1_000_000_000, 5).file_name()), bad_sum).unwrap();
        // ...while a valid old file does, once.
        fs::write(
            tmp.0.join(id(1_000_000_000, 6).file_name()),
            forged(2, b"[1,2]"),
        )
        .unwrap();
        // The one valid, recent file.
        fs::write(tmp.0.join(id(recent, 9).file_name()), forged(1, b"[1]")).unwrap();

        let mut spool = open(&tmp.0);
        assert_eq!(
            spool.take_evicted(),
            Evicted {
                files: 1,
                events: 2,
                own_events: 0
            }
        );
        assert_eq!(spool.spooled_events(), 1, "only the valid file's count");
        let claimed = spool.claim_oldest().unwrap();
        assert_eq!((claimed.body(), claimed.events()), (&b"[1]"[..], 1));
        spool.ack(claimed).unwrap();
        assert!(spool.claim_oldest().is_none());
        assert_eq!(spool.corrupt_files(), 6);
        assert_eq!(spool.take_evicted(), Evicted::default());
        assert_eq!(spool.spooled_events(), 0);
        assert!(listing(&tmp.0).is_empty());

        // What is written must read back: refused, nothing written.
        for (body, events) in [(&b"[1]"[..], 0), (&b"[1]"[..], 4)] {
            let err = spool.write(body, events).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
        }
        assert!(listing(&tmp.0).is_empty());
    }

    #[test]
    fn own_corrupt_file_counts_as_evicted() {
        let tmp = TempDir::new("own-corrupt");
        let mut spool = open(&tmp.0);
        let id = spool.write(b"payload", 6).unwrap();
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
    fn unwritable_directory_fails_naming_the_path() {
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
    fn write_recreates_a_removed_directory() {
        let tmp = TempDir::new("purged");
        let dir = tmp.0.join("spool");
        let mut spool = open(&dir);
        fs::remove_dir_all(&dir).unwrap();
        spool.write(b"after purge", 1).unwrap();
        assert_eq!(spool.claim_oldest().unwrap().body(), b"after purge");
    }

    #[test]
    fn open_creates_missing_directories() {
        let tmp = TempDir::new("create");
        let dir = tmp.0.join("a").join("b");
        let mut spool = open(&dir);
        spool.write(b"x", 1).unwrap();
        assert_eq!(spool.dir(), dir);
        assert_eq!(listing(&dir).len(), 1);
    }

    #[test]
    fn temp_files_are_never_claimed_and_stale_ones_removed() {
        let tmp = TempDir::new("temp");
        let id = SpoolId {
            nanos: now_nanos() - 1_000_000_000,
            pid: 1,
            counter: 0,
        };
        let fresh = tmp.0.join(format!("{TMP_PREFIX}{}", id.stem()));
        fs::write(&fresh, encode(b"in flight", 1)).unwrap();
        let stale = tmp.0.join(format!("{TMP_PREFIX}{}.kino", id.stem()));
        fs::write(&stale, encode(b"dead writer", 1)).unwrap();
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
        assert_eq!(spool.spooled_events(), 0);
    }

    #[test]
    fn header_round_trip_and_names() {
        let header = Header {
            events: 7,
            len: 7,
            sum: fnv1a64(b"payload"),
        };
        let text = header.encode();
        assert!(text.len() <= MAX_HEADER);
        assert_eq!(Header::parse(text.as_bytes()), Ok((header, text.len())));
        // FNV-1a 64 reference values.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);

        let id = SpoolId::next();
        assert_eq!(SpoolId::parse(&id.file_name()), Some(id));
        assert!(SpoolId::next() > id);
        for bad in [
            "1-2-3.kino",
            "00000000000000000001-01-3.kino",
            "00000000000000000001-1-3.kino.tmp",
            "00000000000000000001-1-3-4.kino",
            "0000000000000000000a-1-3.kino",
            "00000000000000000001-+1-3.kino",
            "00000000000000000001-99999999999-3.kino",
        ] {
            assert_eq!(SpoolId::parse(bad), None, "{bad}");
        }
    }

    /// The child side of `processes_share_a_directory`: a no-op unless run
    /// by it with the environment set.
    #[test]
    fn multi_process_child() {
        let (Some(dir), Some(out)) = (std::env::var_os(CHILD_DIR), std::env::var_os(CHILD_OUT))
        else {
            return;
        };
        let mut spool = open(Path::new(&dir));
        let mut lines = String::new();
        for body in drain(&mut spool) {
            lines.push_str(std::str::from_utf8(&body).unwrap());
            lines.push('\n');
        }
        fs::write(out, lines).unwrap();
    }

    #[test]
    fn processes_share_a_directory() {
        let tmp = TempDir::new("procs");
        let mut parent = open(&tmp.0);
        let n = 120;
        for i in 0..n {
            parent.write(format!("{i}").as_bytes(), 1).unwrap();
        }
        // Held by the parent throughout: no child may take it.
        let held = parent.claim_oldest().unwrap();
        assert_eq!(held.body(), b"0");
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..2)
            .map(|i| {
                let out = tmp.0.join(format!("child-{i}.out"));
                let child = Command::new(&exe)
                    .args(["spool::tests::multi_process_child", "--exact", "--quiet"])
                    .args(["--test-threads=1", "--nocapture"])
                    .env(CHILD_DIR, &tmp.0)
                    .env(CHILD_OUT, &out)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                (child, out)
            })
            .collect();
        let mut all: Vec<u64> = drain(&mut parent)
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap().parse().unwrap())
            .collect();
        for (child, out) in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let text = fs::read_to_string(&out).unwrap();
            fs::remove_file(&out).unwrap();
            all.extend(text.lines().map(|l| l.parse::<u64>().unwrap()));
        }
        assert!(
            !all.contains(&0),
            "the held batch was sent by another process"
        );
        all.extend(
            drain(&mut parent)
                .into_iter()
                .map(|b| String::from_utf8(b).unwrap().parse::<u64>().unwrap()),
        );
        parent.ack(held).unwrap();
        all.push(0);
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<u64>>());
        assert!(listing(&tmp.0).is_empty());
    }
}
