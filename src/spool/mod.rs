//! The offline spool: undelivered batches kept on disk until a collector
//! takes them, across crashes and app launches.
//!
//! # Life of a batch
//!
//! 1. [`Spool::write`] makes the batch durable *before* its first send
//!    (temporary file, fsync, rename, directory fsync: a process killed at
//!    any point leaves either no file or a complete one).
//! 2. [`Spool::claim_oldest`] returns the oldest batch this instance may
//!    send, as a [`Claimed`] holding an exclusive `flock(2)` on the file.
//! 3. After a 2xx, [`Spool::ack`] unlinks the file *while still holding the
//!    lock*; after a failure [`Spool::release`] keeps it for later.
//!
//! # Who sends what
//!
//! Several instances — other emitters in this process, other processes,
//! the next launch — may share one directory. The rule that keeps their
//! counters honest: **a batch is sent by the instance that wrote it while
//! that instance lives**; another instance takes it over only once its
//! writer is gone (freed, or its process dead: see [`dir`] for how that is
//! told), and counts it in its `resent`. So no instance ever sees its own
//! batch delivered by someone else and calls it failed. An instance's own
//! files disappear only through its own acks and evictions, or through
//! something outside kino (the app wiping the directory): those events are
//! reported by [`Spool::take_own_lost`] and count as failed.
//!
//! # The directory is not re-read on every turn
//!
//! An instance knows its own files from its own writes. It lists the
//! directory when it opens, when it has nothing of its own left to send
//! and the last listing is over [`RESCAN_INTERVAL`] old, when the byte
//! bound is crossed, and when [`Spool::rescan`] is called. It never
//! recreates a directory that disappeared (an app may have wiped it at
//! logout): writes then fail and the worker keeps batches in memory.
//!
//! # Directory contents
//!
//! * `<nanos:020>-<owner:016x>-<counter>.kino`: a batch (format in
//!   [`file`]), named by its wall-clock write time, its writer and a
//!   per-writer counter; ordered by name, that is "oldest first".
//! * `.owner-<owner:016x>.lock`: a writer's lock file, locked while it
//!   lives; a listing removes one found unlocked (its writer is gone).
//! * `.tmp-…`: files being written; never claimed; removed by a listing
//!   once over a minute old.
//! * anything else is *foreign*: counted once in [`Spool::corrupt_files`],
//!   never read, never deleted.
//!
//! A `.kino` file whose header, length or checksum is wrong (or whose
//! header claims more records than its body could hold) is *corrupt*:
//! counted once, never sent, and deleted. A well-formed header of another
//! format version is counted the same way but left in place. A file
//! bigger than this instance's byte bound is never read past its header:
//! it is evicted (as the bound says it must go anyway).
//!
//! # Bounds
//!
//! * Bytes: the `.kino` files in the directory are kept at or under
//!   `max_bytes` (raised to at least [`MIN_MAX_BYTES`]): past it, the
//!   oldest unclaimed files this instance may evict — its own and orphans —
//!   go. Live writers' files count but are theirs to evict. The file just
//!   written is never evicted by that same write; a batch bigger than the
//!   bound alone is not written (the caller sends it from memory).
//! * Age: own and orphan files older than `max_age` (raised to at least
//!   [`MIN_MAX_AGE`]) are evicted when met. A file's age is what its
//!   name's wall-clock time says, but an own file is never older than the
//!   time since this instance wrote it: a clock set forward (a device that
//!   boots in 1970, then syncs) does not age what it just wrote. Own files
//!   are sent in the order written, whatever the clock did meanwhile.

mod dir;
mod file;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::clock::Mono;
use crate::error::{Error, ErrorKind, Result};
use dir::{Lock, OwnerLock};
use file::{now_nanos, Bad};
pub use file::{OwnerId, SpoolId};

/// Default bound on the bytes of batch files in the directory (10 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Smallest byte bound [`Spool::open`] accepts; smaller values are raised.
pub const MIN_MAX_BYTES: u64 = 64 * 1024;
/// Default age past which a batch file is evicted (7 days).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Smallest age bound [`Spool::open`] accepts; smaller values are raised
/// (so a batch is never evicted for age between its write and first send).
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);
/// How long a listing is trusted before an instance with nothing of its
/// own to send looks for orphans again.
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(60);

/// A batch file claimed exclusively by this instance. Give it back with
/// [`Spool::ack`] or [`Spool::release`]; dropping it releases it.
pub struct Claimed {
    id: SpoolId,
    path: PathBuf,
    /// Open and locked; the lock goes with the descriptor.
    file: File,
    body: Vec<u8>,
    events: u64,
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

    /// Whether this instance wrote the file (its events are in this
    /// emitter's `emitted`); otherwise it is an orphan taken over.
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

/// Batch files evicted (for age or the byte bound, or found corrupt) since
/// the last [`Spool::take_evicted`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Files removed.
    pub files: u64,
    /// Events in them (as their headers declared).
    pub events: u64,
    /// Of `events`, those in files this instance wrote: given up on, so the
    /// worker counts them in `failed`.
    pub own_events: u64,
}

/// What is known of one batch file.
#[derive(Debug, Clone, Copy)]
struct Known {
    /// Records, from its header (0 while unread).
    events: u64,
    size: u64,
    /// When this instance wrote it (its own files only), on the clock that
    /// counts device sleep and never steps.
    written: Option<Mono>,
}

impl Known {
    /// How old the file `id` is: the age its name's wall-clock time says,
    /// but for a file this instance wrote never more than the time since it
    /// wrote it — a clock set forward after boot (a device that starts in
    /// 1970 and then syncs) must not age what was just written.
    fn age(&self, id: &SpoolId, now_wall_nanos: u64) -> Duration {
        let by_name = Duration::from_nanos(now_wall_nanos.saturating_sub(id.nanos));
        match self.written {
            Some(at) => by_name.min(Mono::now().since(at)),
            None => by_name,
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
    owner: OwnerId,
    lock: Option<OwnerLock>,
    counter: u64,
    /// This instance's files still on disk.
    own: BTreeMap<SpoolId, Known>,
    /// Files of writers found gone, at the last listing.
    orphans: BTreeMap<SpoolId, Known>,
    /// Bytes of live writers' files at the last listing.
    others_bytes: u64,
    /// Other-version files: left alone, not accounted.
    ignored: HashSet<SpoolId>,
    /// Names of corrupt and foreign entries already counted.
    corrupt_seen: HashSet<OsString>,
    evicted: Evicted,
    own_lost: u64,
    last_listing: Option<Instant>,
}

impl Spool {
    /// Opens (creating it and its parents if missing) the spool directory
    /// `dir`: probes that it is writable and supports locks, takes this
    /// instance's lock file, and lists what earlier runs left. `max_bytes`
    /// is raised to [`MIN_MAX_BYTES`], `max_age` to [`MIN_MAX_AGE`].
    ///
    /// Fails with [`ErrorKind::Io`] and a message naming `dir` if the
    /// directory cannot be created, written or locked in.
    pub fn open(dir: &Path, max_bytes: u64, max_age: Duration) -> Result<Spool> {
        let fail = |what: &str, e: io::Error| {
            Error::new(
                ErrorKind::Io,
                format!("spool directory {} {what}: {e}", dir.display()),
            )
        };
        fs::create_dir_all(dir).map_err(|e| fail("cannot be created", e))?;
        let owner = OwnerId(random_u64());
        dir::probe(dir, &format!("{:016x}", owner.0)).map_err(|(what, e)| fail(what, e))?;
        let lock = OwnerLock::take(dir, owner).map_err(|e| fail("refused a lock file", e))?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes: max_bytes.max(MIN_MAX_BYTES),
            max_age: max_age.max(MIN_MAX_AGE),
            owner,
            lock: Some(lock),
            counter: 0,
            own: BTreeMap::new(),
            orphans: BTreeMap::new(),
            others_bytes: 0,
            ignored: HashSet::new(),
            corrupt_seen: HashSet::new(),
            evicted: Evicted::default(),
            own_lost: 0,
            last_listing: None,
        };
        spool.rescan();
        spool.evict_over_bound(None);
        Ok(spool)
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This instance's writer id.
    pub fn owner(&self) -> OwnerId {
        self.owner
    }

    /// Writes a batch durably (see [`file`]). Then, if the directory is over
    /// the byte bound, evicts the oldest files this instance may evict —
    /// never the one just written.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] if header and body alone are
    /// bigger than the byte bound, or if `events` is 0 or more than the
    /// body could hold (a file kino would later call corrupt; nothing is
    /// written); [`ErrorKind::Io`] with
    /// the path if writing failed — the directory full, read-only, or gone
    /// (it is not recreated). Either way the batch is not spooled and the
    /// caller should send it from memory.
    pub fn write(&mut self, body: &[u8], events: u64) -> Result<SpoolId> {
        if !file::plausible(events, body.len() as u64) {
            return Err(Error::invalid(format!(
                "{events} records cannot be in a body of {} bytes; not spooled",
                body.len()
            )));
        }
        let size = (file::Header::of(body, events).encode().len() + body.len()) as u64;
        if size > self.max_bytes {
            return Err(Error::invalid(format!(
                "batch of {size} bytes exceeds the spool bound of {} bytes; not spooled",
                self.max_bytes
            )));
        }
        self.keep_lock_in_place()?;
        let id = self.next_id();
        let size = file::write_batch(&self.dir, &id, body, events).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "cannot write spool file {}: {e}",
                    self.dir.join(id.file_name()).display()
                ),
            )
        })?;
        self.own.insert(
            id,
            Known {
                events,
                size,
                written: Some(Mono::now()),
            },
        );
        if self.total_bytes() > self.max_bytes {
            self.rescan();
            self.evict_over_bound(Some(id));
        }
        Ok(id)
    }

    /// Claims the oldest batch this instance may send: its own files first
    /// (oldest first), then orphans. Evicts files met past the age bound,
    /// deletes corrupt ones, and skips files busy or unreadable now. With
    /// nothing to claim and a listing over [`RESCAN_INTERVAL`] old, lists
    /// the directory once more for orphans. `None` if nothing is claimable.
    pub fn claim_oldest(&mut self) -> Option<Claimed> {
        if let Some(claimed) = self.claim_known() {
            return Some(claimed);
        }
        let stale = self
            .last_listing
            .is_none_or(|at| at.elapsed() >= RESCAN_INTERVAL);
        if stale {
            self.rescan();
            return self.claim_known();
        }
        None
    }

    /// Marks a claimed batch delivered: unlinks its file while still
    /// holding the lock, then unlocks. The file is gone from this
    /// instance's accounting even if the unlink fails (an [`ErrorKind::Io`]
    /// error naming the path; such a file is sent again later by whoever
    /// takes it over: delivery is at-least-once).
    pub fn ack(&mut self, claimed: Claimed) -> Result<()> {
        self.own.remove(&claimed.id);
        self.orphans.remove(&claimed.id);
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
    /// dropped, and it can be claimed again.
    pub fn release(&mut self, claimed: Claimed) {
        let _ = claimed.file.unlock();
    }

    /// Lists the directory now: notices own files that are gone (see
    /// [`Spool::take_own_lost`]), finds orphans, counts foreign entries,
    /// removes stale temporary files, and evicts files past the age bound.
    pub fn rescan(&mut self) {
        self.last_listing = Some(Instant::now());
        let listing = match dir::list(&self.dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The directory was removed: everything in it is gone.
                self.lose_own(|_| true);
                self.orphans.clear();
                self.others_bytes = 0;
                return;
            }
            Err(_) => return,
        };
        for name in listing.foreign {
            self.corrupt_seen.insert(name);
        }
        let present: HashSet<SpoolId> = listing.batches.iter().map(|b| b.id).collect();
        if listing.complete {
            self.lose_own(|id| !present.contains(id));
        }
        let mut alive: HashMap<OwnerId, bool> = HashMap::new();
        let mut orphans = BTreeMap::new();
        self.others_bytes = 0;
        for b in listing.batches {
            if b.id.owner == self.owner || self.ignored.contains(&b.id) {
                continue;
            }
            let owner_alive = *alive
                .entry(b.id.owner)
                .or_insert_with(|| dir::owner_alive(&self.dir, b.id.owner));
            if owner_alive {
                self.others_bytes = self.others_bytes.saturating_add(b.size);
                continue;
            }
            let events = match self.orphans.get(&b.id) {
                Some(known) => known.events,
                None => match file::read_header(&self.dir.join(b.id.file_name())) {
                    Ok(header) => header.events,
                    Err(Bad::OtherVersion) => {
                        self.corrupt_seen.insert(b.id.file_name().into());
                        self.ignored.insert(b.id);
                        continue;
                    }
                    Err(_) => 0,
                },
            };
            orphans.insert(
                b.id,
                Known {
                    events,
                    size: b.size,
                    written: None,
                },
            );
        }
        self.orphans = orphans;
        // A writer that died with no batch file left is met only here:
        // checking it removes its lock file, which nothing else would.
        for owner in listing.owners {
            if owner != self.owner && !alive.contains_key(&owner) {
                dir::owner_alive(&self.dir, owner);
            }
        }
        self.evict_aged();
    }

    /// Evictions since the last call (and resets them).
    pub fn take_evicted(&mut self) -> Evicted {
        std::mem::take(&mut self.evicted)
    }

    /// Events in this instance's own files that left the directory without
    /// this instance acking or evicting them (the directory or the files
    /// were removed from outside), since the last call; resets the count.
    pub fn take_own_lost(&mut self) -> u64 {
        std::mem::take(&mut self.own_lost)
    }

    /// Distinct corrupt `.kino` files and foreign entries this instance has
    /// seen (each counted once, by name).
    pub fn corrupt_files(&self) -> u64 {
        self.corrupt_seen.len() as u64
    }

    /// Events in files this instance wrote and has not acked, evicted or
    /// seen disappear — including one it currently holds claimed.
    pub fn own_pending_events(&self) -> u64 {
        self.own
            .values()
            .fold(0u64, |n, k| n.saturating_add(k.events))
    }

    /// Events this instance could send: its own files plus the orphans of
    /// the last listing (whose headers could be read).
    pub fn spooled_events(&self) -> u64 {
        self.orphans
            .values()
            .fold(self.own_pending_events(), |n, k| n.saturating_add(k.events))
    }

    /// Bytes of batch files in the directory, as far as this instance
    /// knows (its own exactly; others' as of the last listing).
    pub fn spooled_bytes(&self) -> u64 {
        self.total_bytes()
    }

    /// The bodies of this instance's own files, oldest first, leaving out
    /// `except` (a file it holds claimed) and files it cannot read now.
    pub fn own_bodies(&self, except: Option<SpoolId>) -> Vec<Vec<u8>> {
        self.own
            .keys()
            .filter(|id| Some(**id) != except)
            .filter_map(|id| {
                let file = dir::open_file(&self.dir.join(id.file_name())).ok()?;
                file::load(&file, self.max_bytes)
                    .ok()
                    .map(|(_, body, _)| body)
            })
            .collect()
    }

    /// Removes this instance's own files (`kino_emitter_clear`), except
    /// `except` and any held by someone else; returns the events they
    /// held. Not counted as evicted: the caller counts them.
    pub fn discard_own(&mut self, except: Option<SpoolId>) -> u64 {
        let ids: Vec<SpoolId> = self
            .own
            .keys()
            .copied()
            .filter(|id| Some(*id) != except)
            .collect();
        let mut events = 0u64;
        for id in ids {
            let path = self.dir.join(id.file_name());
            let file = match dir::lock(&path) {
                Lock::Busy => continue,
                Lock::Gone => {
                    self.forget(&id);
                    continue;
                }
                Lock::Held(file) => file,
            };
            let removed = match fs::remove_file(&path) {
                Ok(()) => true,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            };
            drop(file);
            if removed {
                if let Some(known) = self.own.remove(&id) {
                    events = events.saturating_add(known.events);
                }
            }
        }
        events
    }

    /// Whether a batch may be claimable without listing the directory.
    pub fn has_claimable(&self) -> bool {
        !self.own.is_empty() || !self.orphans.is_empty()
    }

    /// The emitter is going away normally: with no own files left, remove
    /// the lock file (otherwise it stays, unlocked once closed, and whoever
    /// takes the files over removes it).
    pub fn finish(mut self) {
        if self.own.is_empty() {
            if let Some(lock) = self.lock.take() {
                lock.remove();
            }
        }
    }

    /// Gives up this instance's claim to its files without touching the
    /// directory (its lock file is closed, not removed): from now on they
    /// are orphans, for the next instance to send. For an emitter freed
    /// while its worker was stuck, so its files need not wait for it.
    pub fn disown(&mut self) {
        self.lock = None;
    }

    /// Before a write: if this instance's lock file was removed from
    /// outside (the directory wiped and made again, say), takes a new one,
    /// so that no other instance takes the batch for an orphan and sends
    /// it while this one lives. Fails (nothing written) if it cannot.
    fn keep_lock_in_place(&mut self) -> Result<()> {
        match &self.lock {
            Some(lock) if !lock.in_place() => {}
            _ => return Ok(()),
        }
        match OwnerLock::take(&self.dir, self.owner) {
            Ok(lock) => {
                self.lock = Some(lock);
                Ok(())
            }
            // The directory is gone: the write fails, saying so.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::new(
                ErrorKind::Io,
                format!(
                    "spool directory {} lost this writer's lock file and refused a new one: {e}",
                    self.dir.display()
                ),
            )),
        }
    }

    fn next_id(&mut self) -> SpoolId {
        let id = SpoolId {
            nanos: now_nanos(),
            owner: self.owner,
            counter: self.counter,
        };
        self.counter += 1;
        id
    }

    fn total_bytes(&self) -> u64 {
        let own = self
            .own
            .values()
            .fold(0u64, |n, k| n.saturating_add(k.size));
        let orphans = self
            .orphans
            .values()
            .fold(0u64, |n, k| n.saturating_add(k.size));
        own.saturating_add(orphans)
            .saturating_add(self.others_bytes)
    }

    /// Own files gone from outside (`gone(id)`): their events are lost.
    fn lose_own(&mut self, gone: impl Fn(&SpoolId) -> bool) {
        let mut lost = 0u64;
        self.own.retain(|id, known| {
            let keep = !gone(id);
            if !keep {
                lost = lost.saturating_add(known.events);
            }
            keep
        });
        self.own_lost = self.own_lost.saturating_add(lost);
    }

    /// Tries own files, then orphans, oldest first.
    fn claim_known(&mut self) -> Option<Claimed> {
        self.evict_aged();
        // Own files in the order written (their counter: a clock stepped
        // back makes a later name sort first), then orphans oldest first.
        let mut own: Vec<SpoolId> = self.own.keys().copied().collect();
        own.sort_by_key(|id| id.counter);
        let candidates: Vec<(SpoolId, bool)> = own
            .into_iter()
            .map(|id| (id, true))
            .chain(self.orphans.keys().map(|&id| (id, false)))
            .collect();
        for (id, own) in candidates {
            let path = self.dir.join(id.file_name());
            let file = match dir::lock(&path) {
                Lock::Busy => continue,
                Lock::Gone => {
                    self.forget(&id);
                    continue;
                }
                Lock::Held(file) => file,
            };
            match file::load(&file, self.max_bytes) {
                Ok((header, body, _)) => {
                    return Some(Claimed {
                        id,
                        path,
                        file,
                        body,
                        events: header.events,
                        own,
                    })
                }
                Err(Bad::Io) => {}
                Err(Bad::TooBig(_)) => {
                    drop(file);
                    self.evict(id);
                }
                Err(bad) => self.discard(id, &path, bad),
            }
        }
        None
    }

    /// A file found gone when about to claim it.
    fn forget(&mut self, id: &SpoolId) {
        if let Some(known) = self.own.remove(id) {
            self.own_lost = self.own_lost.saturating_add(known.events);
        }
        self.orphans.remove(id);
    }

    /// Handles a batch file found corrupt or of another version, with its
    /// lock held: counts it; deletes it if corrupt (ignoring it from now on
    /// otherwise). An own file's events count as evicted.
    fn discard(&mut self, id: SpoolId, path: &Path, bad: Bad) {
        self.corrupt_seen.insert(id.file_name().into());
        let removed = bad == Bad::Corrupt
            && match fs::remove_file(path) {
                Ok(()) => true,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            };
        if !removed {
            self.ignored.insert(id);
        }
        self.orphans.remove(&id);
        if let Some(known) = self.own.remove(&id) {
            self.note_evicted(known.events, true);
        }
    }

    fn note_evicted(&mut self, events: u64, own: bool) {
        let e = &mut self.evicted;
        e.files = e.files.saturating_add(1);
        e.events = e.events.saturating_add(events);
        if own {
            e.own_events = e.own_events.saturating_add(events);
        }
    }

    /// Evicts one own or orphan file if nobody holds it. Returns whether it
    /// is off the books (evicted, discarded, or already gone).
    fn evict(&mut self, id: SpoolId) -> bool {
        let path = self.dir.join(id.file_name());
        let file = match dir::lock(&path) {
            Lock::Busy => return false,
            Lock::Gone => {
                self.forget(&id);
                return true;
            }
            Lock::Held(file) => file,
        };
        let events = match file::load(&file, self.max_bytes) {
            Ok((header, _, _)) => header.events,
            // Not read past its header: a file of any size may be here.
            Err(Bad::TooBig(events)) => events,
            Err(Bad::Io) => return false,
            Err(bad) => {
                self.discard(id, &path, bad);
                return true;
            }
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => return false,
        }
        drop(file);
        let own = self.own.remove(&id).is_some();
        self.orphans.remove(&id);
        self.note_evicted(events, own);
        true
    }

    /// Evicts own and orphan files older than the age bound.
    fn evict_aged(&mut self) {
        let now = now_nanos();
        let aged: Vec<SpoolId> = self
            .own
            .iter()
            .chain(self.orphans.iter())
            .filter(|(id, known)| known.age(id, now) > self.max_age)
            .map(|(id, _)| *id)
            .collect();
        for id in aged {
            self.evict(id);
        }
    }

    /// Evicts the oldest own and orphan files (never `keep`) until the
    /// directory is within the byte bound, or nothing more may go.
    fn evict_over_bound(&mut self, keep: Option<SpoolId>) {
        let mut candidates: Vec<SpoolId> = self
            .own
            .keys()
            .chain(self.orphans.keys())
            .copied()
            .filter(|id| Some(*id) != keep)
            .collect();
        candidates.sort();
        for id in candidates {
            if self.total_bytes() <= self.max_bytes {
                break;
            }
            self.evict(id);
        }
    }
}

/// 64 random bits from the OS (a v4 UUID's random part): one per spool
/// instance, so writer ids never repeat across processes or launches.
fn random_u64() -> u64 {
    uuid::Uuid::new_v4().as_u128() as u64
}

#[cfg(test)]
mod tests;
