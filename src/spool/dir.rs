//! The spool directory shared by several instances: listing it, locking
//! batch files, and telling whether a file's writer is still alive.
//!
//! Liveness: every [`super::Spool`] holds an exclusive `flock(2)` on its
//! own lock file `.owner-<owner:016x>.lock` for as long as it lives. The
//! lock file is made under a temporary name, locked, and only then renamed
//! into place, so nobody ever sees it unlocked while its owner lives. A
//! writer whose lock file is missing or can be locked is gone (its process
//! died, or its emitter was freed): its files are *orphans*, free for any
//! instance to send.
//!
//! A lock belongs to the open file, so a child the host forks holds it too
//! until it execs (kino's descriptors are close-on-exec) or exits: a
//! writer gone while such a child lives still counts as alive, and its
//! files wait (they are never sent twice).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::file::{OwnerId, SpoolId, OWNER_PREFIX, OWNER_SUFFIX, TMP_PREFIX};

/// Age past which a temporary file is considered left by a dead writer.
const STALE_TMP: Duration = Duration::from_secs(60);

/// One batch file found in a listing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listed {
    pub id: SpoolId,
    pub size: u64,
}

/// What a listing of the directory found.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Batch files, oldest first.
    pub batches: Vec<Listed>,
    /// Names that are neither batch, temporary nor lock files.
    pub foreign: Vec<OsString>,
    /// Owners whose lock file is in the directory.
    pub owners: Vec<OwnerId>,
    /// False if some entries could not be read (the listing may miss some).
    pub complete: bool,
}

/// Lists `dir`: batch files and foreign entries; removes temporary files
/// older than a minute (left by a writer that died mid-write).
pub(super) fn list(dir: &Path) -> io::Result<Listing> {
    let now = SystemTime::now();
    let mut listing = Listing {
        complete: true,
        ..Listing::default()
    };
    for item in fs::read_dir(dir)? {
        let Ok(item) = item else {
            listing.complete = false;
            continue;
        };
        let name = item.file_name();
        let Some(text) = name.to_str() else {
            listing.foreign.push(name);
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
        if let Some(hex) = text
            .strip_prefix(OWNER_PREFIX)
            .and_then(|t| t.strip_suffix(OWNER_SUFFIX))
        {
            if let Some(owner) = OwnerId::parse_hex(hex) {
                listing.owners.push(owner);
            }
            continue;
        }
        let Some(id) = SpoolId::parse(text) else {
            listing.foreign.push(name);
            continue;
        };
        match item.metadata() {
            Ok(meta) if meta.is_file() => listing.batches.push(Listed {
                id,
                size: meta.len(),
            }),
            Ok(_) => listing.foreign.push(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => listing.complete = false,
        }
    }
    listing.batches.sort_by_key(|b| b.id);
    Ok(listing)
}

/// Opens `path` for reading if it is a regular file, without blocking and
/// without following a symbolic link: the directory may hold anything
/// (opening a FIFO for reading would block until a writer came, that is
/// forever). Anything but a regular file is an `InvalidInput` error.
pub(super) fn open_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// The result of trying to lock a batch file.
pub(super) enum Lock {
    /// Locked, and still linked at its path.
    Held(File),
    /// Locked by someone else, or could not be opened or locked.
    Busy,
    /// No longer in the directory.
    Gone,
}

/// Opens and try-locks a batch file, and checks it is still at its path
/// (another holder may have unlinked it between our open and our lock).
pub(super) fn lock(path: &Path) -> Lock {
    let file = match open_file(path) {
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

/// An instance's lock file, held (exclusively locked) while it is open.
#[derive(Debug)]
pub(super) struct OwnerLock {
    path: PathBuf,
    file: File,
}

impl OwnerLock {
    /// Creates and locks `owner`'s lock file in `dir`: under a temporary
    /// name first, renamed into place once locked.
    pub fn take(dir: &Path, owner: OwnerId) -> io::Result<OwnerLock> {
        let path = dir.join(owner.lock_file_name());
        let tmp = dir.join(format!("{TMP_PREFIX}{}", owner.lock_file_name()));
        // Created, then held open read-only: an open writable file would
        // keep the file system from being remounted read-only.
        drop(OpenOptions::new().write(true).create_new(true).open(&tmp)?);
        let file = match File::open(&tmp) {
            Ok(file) => file,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let locked = match file.try_lock() {
            Ok(()) => Ok(()),
            Err(TryLockError::WouldBlock) => Err(io::Error::other("lock file is busy")),
            Err(TryLockError::Error(e)) => Err(e),
        };
        let placed = locked.and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = placed {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(OwnerLock { path, file })
    }

    /// Whether the lock file held is still the one at its path (not
    /// removed from outside, say with the whole directory): if not, others
    /// would take this live owner for gone.
    pub fn in_place(&self) -> bool {
        still_linked(&self.file, &self.path)
    }

    /// Removes the lock file (while still holding the lock): the owner is
    /// going away and has no files left.
    pub fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether `owner` still holds its lock in `dir`. A lock file that can be
/// locked belongs to a dead owner and is removed on the way. When in
/// doubt (an I/O error), the owner counts as alive: its files are left
/// alone rather than sent twice.
pub(super) fn owner_alive(dir: &Path, owner: OwnerId) -> bool {
    let path = dir.join(owner.lock_file_name());
    let file = match open_file(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = fs::remove_file(&path);
            false
        }
        Err(_) => true,
    }
}

/// Creates, writes, fsyncs, locks and removes a temporary file in `dir`:
/// is it writable, and does it support locks?
pub(super) fn probe(dir: &Path, stem: &str) -> Result<(), (&'static str, io::Error)> {
    use std::io::Write;
    let path = dir.join(format!("{TMP_PREFIX}probe-{stem}"));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| ("is not writable", e))?;
    let written = (&file).write_all(b"probe").and_then(|()| file.sync_all());
    let locked = file.try_lock();
    drop(file);
    let removed = fs::remove_file(&path);
    written.and(removed).map_err(|e| ("is not writable", e))?;
    match locked {
        Ok(()) | Err(TryLockError::WouldBlock) => Ok(()),
        Err(TryLockError::Error(e)) => Err(("does not support file locks", e)),
    }
}
