//! The offline spool through its public API, over a directory of
//! arbitrary entries (a tmpfs when there is one): batch files valid,
//! mutated or made of arbitrary bytes, old, recent and future names,
//! written by dead writers or by a live one (this target holds its lock
//! file), stale lock files, foreign names (non-UTF-8 too), directories and
//! symlinks named like batches, temporary files, files of another format
//! version; then claims, acks, releases and writes by one or two `Spool`s
//! sharing it, and a live writer going away.
//!
//! The reference for a batch file is written from the format in the
//! `spool` module docs (canonical header, 1 <= events <= len / 2, exact
//! length, FNV-1a 64). Oracle:
//! - a claim returns only a valid file, with its body and count exactly:
//!   the oldest valid one of the instance's own that nobody holds, else the
//!   oldest valid orphan; `is_own` is true exactly for files it wrote;
//! - a live writer's files (another instance's, or the live writer's) are
//!   never claimed, evicted or removed; once it is gone, a rescan takes
//!   them over;
//! - `Spool::open` evicts exactly the orphans past the age bound and then
//!   the oldest until the bound holds (a live writer's bytes count), and
//!   its `spooled_events` / `spooled_bytes` are those of what is left;
//! - every file that leaves the directory without an ack is counted by
//!   `take_evicted` (valid ones, by their events, once; own ones also in
//!   `own_events`) or as corrupt, never both, never twice; `take_own_lost`
//!   stays 0 (nothing outside removes files here);
//! - a write is refused exactly when the file would not fit the bound or
//!   its count is implausible, and what is written reads back valid;
//! - after draining and `finish`, only foreign entries, other-version
//!   files and fresh temporary files remain (no lock file: a gone
//!   writer's is removed by a listing), `corrupt_files` counts each bad
//!   entry once, and the counts are back to zero;
//! - no panic, no overflow (overflow checks are on).

#![no_main]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use kino::spool::{Claimed, Spool, MIN_MAX_AGE, MIN_MAX_BYTES};
use kino_fuzz::ScratchDir;
use libfuzzer_sys::fuzz_target;

const MAX_BYTES: u64 = MIN_MAX_BYTES;
/// The writers that planted batch files: `OWNERS[i]`, for `owner % 4`.
const OWNERS: [u64; 4] = [
    0x0000_0000_0000_0001,
    0x00ab_cdef_0000_0002,
    0x7fff_ffff_ffff_fff3,
    0xffff_ffff_ffff_fff4,
];
/// The writer of the directories and symlinks named like batches.
const DECOY_OWNER: u64 = 7;

/// A batch file's sort key: write time, writer, counter.
type Key = (u64, u64, u64);

fn fnv1a64(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn encode(events: u64, body: &[u8]) -> Vec<u8> {
    let mut file = format!(
        "KINO-SPOOL 1 events={events} len={} fnv64={:016x}\n",
        body.len(),
        fnv1a64(body)
    )
    .into_bytes();
    file.extend_from_slice(body);
    file
}

/// What the format says a `.kino` file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Fully valid: events and body.
    Valid(u64, Vec<u8>),
    /// A plausible header, but a wrong length or checksum: its count shows
    /// in `spooled_events` until the file is read in full.
    HeaderOnly(u64),
    Corrupt,
    OtherVersion,
}

fn digits(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn classify(bytes: &[u8]) -> Kind {
    let Some(nl) = bytes.iter().take(128).position(|&b| b == b'\n') else {
        return Kind::Corrupt;
    };
    let Ok(line) = std::str::from_utf8(&bytes[..nl]) else {
        return Kind::Corrupt;
    };
    let mut tokens = line.split(' ');
    if tokens.next() != Some("KINO-SPOOL") {
        return Kind::Corrupt;
    }
    match tokens.next().and_then(digits) {
        Some(1) => {}
        Some(_) => return Kind::OtherVersion,
        None => return Kind::Corrupt,
    }
    let rest: Vec<&str> = tokens.collect();
    let [events, len, sum] = rest[..] else {
        return Kind::Corrupt;
    };
    let (Some(events), Some(len), Some(sum)) = (
        events.strip_prefix("events=").and_then(digits),
        len.strip_prefix("len=").and_then(digits),
        sum.strip_prefix("fnv64="),
    ) else {
        return Kind::Corrupt;
    };
    let canonical = format!("events={events} len={len} fnv64=");
    if !line.ends_with(sum)
        || !line.contains(&canonical)
        || sum.len() != 16
        || !sum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        || !(1..=len / 2).contains(&events)
    {
        return Kind::Corrupt;
    }
    let body = &bytes[nl + 1..];
    if body.len() as u64 == len && format!("{:016x}", fnv1a64(body)) == sum {
        Kind::Valid(events, body.to_vec())
    } else {
        Kind::HeaderOnly(events)
    }
}

/// A batch file name's sort key, if the name is canonical.
fn batch_key(name: &str) -> Option<Key> {
    let stem = name.strip_suffix(".kino")?;
    let mut parts = stem.split('-');
    let (n, o, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || n.len() != 20 || o.len() != 16 {
        return None;
    }
    if !o
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let key = (digits(n)?, u64::from_str_radix(o, 16).ok()?, digits(c)?);
    (name_of(key) == name).then_some(key)
}

fn name_of(key: Key) -> String {
    format!("{:020}-{:016x}-{}.kino", key.0, key.1, key.2)
}

fn lock_name(owner: u64) -> String {
    format!(".owner-{owner:016x}.lock")
}

#[derive(Debug, Arbitrary)]
enum Age {
    Recent(u8),
    Old(u32),
    Future(u32),
}

#[derive(Debug, Arbitrary)]
enum Content {
    Valid {
        events: u8,
        body: Vec<u8>,
        big: u8,
    },
    Mutated {
        events: u16,
        body: Vec<u8>,
        at: u16,
        how: u8,
    },
    Raw(Vec<u8>),
    OtherVersion(Vec<u8>),
}

impl Content {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Content::Valid { events, body, big } => {
                let mut body = body.clone();
                if *big > 200 {
                    // A few of these push the directory past its bound.
                    body.resize(usize::from(*big - 200) * 1024, b'x');
                }
                while body.len() < 2 {
                    body.push(b'[');
                }
                let events = u64::from(*events).clamp(1, body.len() as u64 / 2);
                encode(events, &body)
            }
            Content::Mutated {
                events,
                body,
                at,
                how,
            } => {
                let mut bytes = encode(u64::from(*events), body);
                let at = usize::from(*at) % bytes.len();
                match how % 4 {
                    0 => bytes[at] ^= 1 << (how / 4 % 8),
                    1 => bytes.truncate(at),
                    2 => bytes.insert(at, *how),
                    _ => bytes.push(b'\n'),
                }
                bytes
            }
            Content::Raw(bytes) => bytes.clone(),
            Content::OtherVersion(rest) => {
                let mut bytes = b"KINO-SPOOL 2 ".to_vec();
                bytes.extend_from_slice(rest);
                bytes.push(b'\n');
                bytes
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Entry {
    Batch {
        age: Age,
        owner: u8,
        counter: u8,
        content: Content,
    },
    /// An unlocked lock file: its owner died.
    StaleLock(u8),
    Foreign(Vec<u8>, Vec<u8>),
    Directory(u8),
    Symlink(u8),
    Temp {
        stale: bool,
        stem: u8,
    },
}

#[derive(Debug, Arbitrary)]
enum Op {
    Claim(bool),
    Ack(bool),
    Release(bool),
    Write(bool, Vec<u8>, u8, u8),
    TakeEvicted(bool),
}

#[derive(Debug, Arbitrary)]
struct Input {
    entries: Vec<Entry>,
    /// Bit `i` set: `OWNERS[i]` is alive (its lock file is held here)
    /// until the ops are done.
    live: u8,
    two: bool,
    ops: Vec<Op>,
}

/// One instance and what the model expects of it.
struct Side {
    spool: Spool,
    held: Vec<Claimed>,
    written: HashSet<String>,
    /// Expected since the last take_evicted: files, events, own events.
    evicted: (u64, u64, u64),
}

impl Side {
    fn open(dir: &Path) -> Side {
        Side {
            spool: Spool::open(dir, MAX_BYTES, MIN_MAX_AGE).unwrap(),
            held: Vec::new(),
            written: HashSet::new(),
            evicted: (0, 0, 0),
        }
    }
}

struct Model {
    /// Batch-pattern regular files on disk and their kind.
    files: BTreeMap<Key, Kind>,
    /// Planted writers alive now (their files are nobody else's to touch).
    live: HashSet<u64>,
    /// Bad entries an instance has been able to see.
    bad_names: HashSet<OsString>,
    /// Bad files of live writers: seen only once they are gone.
    live_bad: HashSet<OsString>,
    /// Foreign entries, directories, symlinks and other-version files an
    /// instance sees by listing: counted by the first listing.
    foreign: u64,
}

impl Model {
    fn is_live(&self, key: &Key) -> bool {
        self.live.contains(&key.1)
    }
}

fn listing(dir: &Path) -> HashSet<OsString> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

fn held_names(sides: &[Side]) -> HashSet<String> {
    sides
        .iter()
        .flat_map(|s| s.held.iter().map(|c| c.id().file_name()))
        .collect()
}

/// Accounts for files that left the directory during an operation of
/// `sides[actor]` other than the one it acked (`acked`).
fn settle(dir: &Path, model: &mut Model, sides: &mut [Side], actor: usize, acked: Option<String>) {
    let now = listing(dir);
    let gone: Vec<Key> = model
        .files
        .keys()
        .filter(|k| !now.contains(&OsString::from(name_of(**k))))
        .copied()
        .collect();
    for key in gone {
        let name = name_of(key);
        assert!(
            !model.is_live(&key),
            "a live writer's file was removed: {name}"
        );
        let kind = model.files.remove(&key).unwrap();
        let owner = sides.iter().position(|s| s.written.contains(&name));
        assert!(
            owner.is_none() || owner == Some(actor),
            "another live instance's file was removed: {name}"
        );
        if Some(&name) == acked.as_ref() {
            continue;
        }
        match kind {
            Kind::Valid(events, _) => {
                let e = &mut sides[actor].evicted;
                e.0 += 1;
                e.1 += events;
                if owner == Some(actor) {
                    e.2 += events;
                }
            }
            Kind::HeaderOnly(_) | Kind::Corrupt => {
                assert!(
                    owner.is_none(),
                    "a file kino wrote was found corrupt: {name}"
                );
            }
            Kind::OtherVersion => panic!("a file of another version was removed: {name}"),
        }
    }
    // Everything a claim returned is still on disk (it is held).
    for name in held_names(sides) {
        assert!(
            now.contains(&OsString::from(&name)),
            "held file {name} vanished"
        );
    }
}

fn claim(dir: &Path, model: &mut Model, sides: &mut [Side], i: usize) {
    let held = held_names(sides);
    let claimed = sides[i].spool.claim_oldest();
    settle(dir, model, sides, i, None);
    let others: HashSet<&String> = sides
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .flat_map(|(_, s)| s.written.iter())
        .collect();
    let free_valid = |(k, kind): &(&Key, &Kind)| {
        matches!(kind, Kind::Valid(..)) && !held.contains(&name_of(**k))
    };
    let own = model
        .files
        .iter()
        .filter(|(k, _)| sides[i].written.contains(&name_of(**k)))
        .find(free_valid);
    let orphan = || {
        model
            .files
            .iter()
            .filter(|(k, _)| {
                !model.is_live(k)
                    && !sides[i].written.contains(&name_of(**k))
                    && !others.contains(&name_of(**k))
            })
            .find(free_valid)
    };
    let expected = own.or_else(orphan);
    match (claimed, expected) {
        (None, None) => {}
        (Some(c), Some((key, Kind::Valid(events, body)))) => {
            assert_eq!(
                c.id().file_name(),
                name_of(*key),
                "not the oldest claimable file"
            );
            assert_eq!((c.events(), c.body()), (*events, &body[..]), "{key:?}");
            assert_eq!(c.is_own(), sides[i].written.contains(&name_of(*key)));
            sides[i].held.push(c);
        }
        (Some(c), _) => panic!("claimed {} which is not claimable", c.id()),
        (None, Some((key, _))) => panic!("nothing claimed while {key:?} is claimable"),
    }
}

fn take_evicted(side: &mut Side) {
    let got = side.spool.take_evicted();
    assert_eq!(
        (got.files, got.events, got.own_events),
        side.evicted,
        "take_evicted"
    );
    side.evicted = (0, 0, 0);
    assert_eq!(side.spool.take_own_lost(), 0, "own files lost");
}

fn ack(dir: &Path, model: &mut Model, sides: &mut [Side], i: usize, c: Claimed) {
    let name = c.id().file_name();
    sides[i].spool.ack(c).unwrap();
    settle(dir, model, sides, i, Some(name));
}

/// Acks whatever `sides[i]` holds, then claims and acks until nothing is
/// left for it.
fn drain(dir: &Path, model: &mut Model, sides: &mut [Side], i: usize) {
    while let Some(c) = sides[i].held.pop() {
        ack(dir, model, sides, i, c);
    }
    loop {
        claim(dir, model, sides, i);
        let Some(c) = sides[i].held.pop() else { break };
        ack(dir, model, sides, i, c);
    }
}

/// Holds `owner`'s lock file as a live writer does.
fn hold_lock(dir: &Path, owner: u64) -> fs::File {
    let path = dir.join(lock_name(owner));
    drop(fs::File::create(&path).unwrap());
    let file = fs::File::open(&path).unwrap();
    file.try_lock().unwrap();
    file
}

fn run(input: &Input) {
    let scratch = ScratchDir::new();
    let dir = scratch.path();
    let now_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let live_owners: HashSet<u64> = (0..4)
        .filter(|i| input.live & (1 << i) != 0)
        .map(|i| OWNERS[i])
        .collect();
    let mut model = Model {
        files: BTreeMap::new(),
        live: live_owners.clone(),
        bad_names: HashSet::new(),
        live_bad: HashSet::new(),
        foreign: 0,
    };
    let mut live_locks: Vec<fs::File> = live_owners.iter().map(|&o| hold_lock(dir, o)).collect();
    let mut keep: HashSet<OsString> = HashSet::new();
    let mut aged = HashSet::new();
    let decoy = scratch.path().with_extension("decoy");
    fs::write(&decoy, encode(1, b"[1]")).unwrap();
    for entry in input.entries.iter().take(24) {
        match entry {
            Entry::Batch {
                age,
                owner,
                counter,
                content,
            } => {
                let nanos = match age {
                    Age::Recent(s) => now_nanos - (u64::from(*s % 50) + 1) * 1_000_000_000,
                    Age::Old(s) => now_nanos.saturating_sub((u64::from(*s) + 61) * 1_000_000_000),
                    Age::Future(s) => now_nanos + u64::from(*s) * 1_000_000_000,
                };
                let key = (nanos, OWNERS[usize::from(*owner % 4)], u64::from(*counter));
                if model.files.contains_key(&key) || keep.contains(&OsString::from(name_of(key))) {
                    continue;
                }
                let bytes = content.bytes();
                let kind = classify(&bytes);
                let name = OsString::from(name_of(key));
                fs::write(dir.join(&name), &bytes).unwrap();
                let live = model.is_live(&key);
                let bad = if live {
                    &mut model.live_bad
                } else {
                    &mut model.bad_names
                };
                if kind == Kind::OtherVersion {
                    bad.insert(name.clone());
                    model.foreign += u64::from(!live);
                    keep.insert(name);
                    continue;
                }
                if matches!(kind, Kind::HeaderOnly(_) | Kind::Corrupt) {
                    bad.insert(name);
                }
                if matches!(age, Age::Old(_)) {
                    aged.insert(key);
                }
                model.files.insert(key, kind);
            }
            Entry::StaleLock(n) => {
                let owner = OWNERS[usize::from(*n % 4)];
                if !live_owners.contains(&owner) {
                    fs::write(dir.join(lock_name(owner)), b"").unwrap();
                }
            }
            Entry::Foreign(name, bytes) => {
                let mut name = name.clone();
                name.retain(|&b| b != b'/' && b != 0);
                let os = OsString::from_vec(name);
                let text = os.to_str();
                if os.is_empty()
                    || os == "."
                    || os == ".."
                    || text.is_some_and(|t| {
                        t.starts_with(".tmp-") || t.starts_with(".owner-") || batch_key(t).is_some()
                    })
                    || keep.contains(&os)
                {
                    continue;
                }
                if fs::write(dir.join(&os), bytes).is_ok() {
                    model.foreign += 1;
                    model.bad_names.insert(os.clone());
                    keep.insert(os);
                }
            }
            Entry::Directory(n) | Entry::Symlink(n) => {
                let key = (now_nanos - 1_000_000_000, DECOY_OWNER, u64::from(*n));
                let name = name_of(key);
                if model.files.contains_key(&key) || keep.contains(&OsString::from(&name)) {
                    continue;
                }
                if matches!(entry, Entry::Directory(_)) {
                    fs::create_dir(dir.join(&name)).unwrap();
                } else {
                    std::os::unix::fs::symlink(&decoy, dir.join(&name)).unwrap();
                }
                model.foreign += 1;
                model.bad_names.insert(name.clone().into());
                keep.insert(name.into());
            }
            Entry::Temp { stale, stem } => {
                let name = format!(".tmp-{stem}");
                if keep.contains(&OsString::from(&name)) || (*stale && dir.join(&name).exists()) {
                    continue;
                }
                let path = dir.join(&name);
                fs::write(&path, encode(1, b"[1]")).unwrap();
                if *stale {
                    fs::File::options()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_modified(SystemTime::now() - Duration::from_secs(3600))
                        .unwrap();
                } else {
                    keep.insert(name.into());
                }
            }
        }
    }
    // A gone writer's lock file goes at the first listing, with or
    // without batch files; a live one's once it is gone: none stays.

    // Open: the age bound, then the byte bound, oldest first, over the
    // orphans; a live writer's files stay and count.
    let before: Vec<Key> = model.files.keys().copied().collect();
    let size = |k: &Key| fs::metadata(dir.join(name_of(*k))).unwrap().len();
    let sizes: HashMap<_, _> = before.iter().map(|k| (*k, size(k))).collect();
    let live_bytes: u64 = listing(dir)
        .iter()
        .filter_map(|n| batch_key(n.to_str()?))
        .filter(|k| model.is_live(k))
        .map(|k| size(&k))
        .sum();
    let mut sides = vec![Side::open(dir)];
    settle(dir, &mut model, &mut sides, 0, None);
    let orphans: Vec<Key> = before
        .iter()
        .filter(|k| !model.is_live(k))
        .copied()
        .collect();
    let mut expect_gone: Vec<_> = orphans
        .iter()
        .filter(|k| aged.contains(*k))
        .copied()
        .collect();
    let mut total: u64 = live_bytes
        + orphans
            .iter()
            .filter(|k| !aged.contains(*k))
            .map(|k| sizes[k])
            .sum::<u64>();
    for k in orphans.iter().filter(|k| !aged.contains(*k)) {
        if total <= MAX_BYTES {
            break;
        }
        total -= sizes[k];
        expect_gone.push(*k);
    }
    let left: Vec<_> = model.files.keys().copied().collect();
    let want_left: Vec<_> = before
        .iter()
        .filter(|k| !expect_gone.contains(k))
        .copied()
        .collect();
    assert_eq!(left, want_left, "files left by open");
    let header_events: u64 = model
        .files
        .iter()
        .filter(|(k, _)| !model.is_live(k))
        .map(|(_, kind)| match kind {
            Kind::Valid(e, _) | Kind::HeaderOnly(e) => *e,
            _ => 0,
        })
        .sum();
    assert_eq!(
        sides[0].spool.spooled_events(),
        header_events,
        "spooled_events"
    );
    assert_eq!(sides[0].spool.spooled_bytes(), total, "spooled_bytes");
    let corrupt = sides[0].spool.corrupt_files();
    assert!(
        corrupt >= model.foreign && corrupt <= model.bad_names.len() as u64,
        "open counted {corrupt} bad entries; {} foreign, {} bad in all",
        model.foreign,
        model.bad_names.len()
    );

    if input.two {
        sides.push(Side::open(dir));
        settle(dir, &mut model, &mut sides, 1, None);
    }
    let side = |b: bool| usize::from(b && input.two);

    for op in input.ops.iter().take(48) {
        match op {
            Op::Claim(b) => claim(dir, &mut model, &mut sides, side(*b)),
            Op::Ack(b) => {
                let i = side(*b);
                if let Some(c) = sides[i].held.pop() {
                    ack(dir, &mut model, &mut sides, i, c);
                }
            }
            Op::Release(b) => {
                let i = side(*b);
                if let Some(c) = sides[i].held.pop() {
                    sides[i].spool.release(c);
                }
            }
            Op::Write(b, body, events, big) => {
                let i = side(*b);
                let mut body = body.clone();
                if *big > 220 {
                    body.resize(usize::from(*big - 220) * 1024, b'y');
                }
                let events = u64::from(*events);
                let header = format!(
                    "KINO-SPOOL 1 events={events} len={} fnv64={:016x}\n",
                    body.len(),
                    0
                );
                let fits = (header.len() + body.len()) as u64 <= MAX_BYTES;
                let plausible = (1..=body.len() as u64 / 2).contains(&events);
                match sides[i].spool.write(&body, events) {
                    Ok(id) => {
                        assert!(
                            fits && plausible,
                            "wrote {events} events in {} bytes",
                            body.len()
                        );
                        let name = id.file_name();
                        let key = batch_key(&name).expect("canonical name");
                        let bytes = fs::read(dir.join(&name)).unwrap();
                        assert_eq!(classify(&bytes), Kind::Valid(events, body.clone()));
                        model.files.insert(key, Kind::Valid(events, body));
                        sides[i].written.insert(name);
                    }
                    Err(e) => assert!(!(fits && plausible), "write refused: {}", e.message),
                }
                settle(dir, &mut model, &mut sides, i, None);
            }
            Op::TakeEvicted(b) => take_evicted(&mut sides[side(*b)]),
        }
    }

    // Drain each instance; what is left is the live writers'.
    for i in 0..sides.len() {
        drain(dir, &mut model, &mut sides, i);
    }
    assert!(
        model.files.keys().all(|k| model.is_live(k)),
        "left: {:?}",
        model.files
    );
    // The live writers go away: a rescan takes their files over.
    live_locks.clear();
    model.live.clear();
    model.bad_names.extend(model.live_bad.drain());
    sides[0].spool.rescan();
    settle(dir, &mut model, &mut sides, 0, None);
    drain(dir, &mut model, &mut sides, 0);
    for (i, side) in sides.iter_mut().enumerate() {
        take_evicted(side);
        let s = &side.spool;
        assert_eq!(s.own_pending_events(), 0, "side {i}");
        assert_eq!(s.spooled_events(), 0, "side {i}");
        if i == 0 {
            assert_eq!(s.spooled_bytes(), 0, "side {i}");
        }
    }
    assert!(model.files.is_empty(), "left: {:?}", model.files);
    let bad = model.bad_names.len() as u64;
    if sides.len() == 1 {
        assert_eq!(sides[0].spool.corrupt_files(), bad, "corrupt_files");
    } else {
        let total = sides[0].spool.corrupt_files() + sides[1].spool.corrupt_files();
        assert!(
            total >= bad && total <= 2 * bad,
            "corrupt_files {total} for {bad}"
        );
    }
    // Finished with nothing of its own left, an instance removes its lock.
    for side in sides {
        side.spool.finish();
    }
    assert_eq!(listing(dir), keep, "what is left in the directory");
    assert!(fs::read(&decoy).is_ok(), "a symlink's target was touched");
    let _ = fs::remove_file(&decoy);
}

fuzz_target!(|input: Input| run(&input));
