//! The offline spool through its public API, over a directory of
//! arbitrary entries (a tmpfs when there is one): batch files valid,
//! mutated or made of arbitrary bytes, old, recent and future names,
//! foreign names (non-UTF-8 too), directories and symlinks named like
//! batches, temporary files, files of another format version; then
//! claims, acks, releases and writes by one or two `Spool`s sharing it.
//!
//! The reference for a batch file is written from the format in the
//! `spool` module doc (canonical header, 1 <= events <= len, exact length,
//! FNV-1a 64). Oracle:
//! - a claim returns only a valid file, with its body and count exactly,
//!   and the oldest valid one that nobody holds; `is_own` is true exactly
//!   for files that instance wrote;
//! - `Spool::open` evicts exactly the files past the age bound and then
//!   the oldest until the bound holds, and its `spooled_events` /
//!   `spooled_bytes` are those of what is left;
//! - every file that leaves the directory without an ack is counted by
//!   `take_evicted` (valid ones, by their events, once; own ones also in
//!   `own_events`) or as corrupt, never both, never twice; another
//!   instance's files it removes show in that one's
//!   `take_own_removed_elsewhere`;
//! - after draining, only foreign entries, other-version files and fresh
//!   temporary files remain, `corrupt_files` counts each bad entry once,
//!   and the counts are back to zero;
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
    /// A plausible header matching the file's size, but a bad body: its
    /// count shows in `spooled_events` until the file is read in full.
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
        || !(1..=len).contains(&events)
        || (bytes.len() - nl - 1) as u64 != len
    {
        return Kind::Corrupt;
    }
    let body = &bytes[nl + 1..];
    if format!("{:016x}", fnv1a64(body)) == sum {
        Kind::Valid(events, body.to_vec())
    } else {
        Kind::HeaderOnly(events)
    }
}

/// A batch file name's sort key, if the name is canonical.
fn batch_key(name: &str) -> Option<(u64, u32, u64)> {
    let stem = name.strip_suffix(".kino")?;
    let mut parts = stem.split('-');
    let (n, p, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || n.len() != 20 {
        return None;
    }
    let key = (digits(n)?, u32::try_from(digits(p)?).ok()?, digits(c)?);
    (format!("{:020}-{}-{}.kino", key.0, key.1, key.2) == name).then_some(key)
}

fn name_of(key: (u64, u32, u64)) -> String {
    format!("{:020}-{}-{}.kino", key.0, key.1, key.2)
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
                let events = u64::from(*events).clamp(1, (body.len() as u64).max(1));
                if body.is_empty() {
                    body.push(b'[');
                }
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
        pid: u16,
        counter: u8,
        content: Content,
    },
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
    /// Expected total of take_own_removed_elsewhere, and what it gave.
    removed_elsewhere: (u64, u64),
}

struct Model {
    /// Batch-pattern regular files on disk and their kind.
    files: BTreeMap<(u64, u32, u64), Kind>,
    bad_names: HashSet<OsString>,
    /// Foreign entries, directories, symlinks and other-version files:
    /// counted by the first scan.
    foreign: u64,
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
/// `sides[actor]` other than the ones it acked (`acked`).
fn settle(dir: &Path, model: &mut Model, sides: &mut [Side], actor: usize, acked: Option<String>) {
    let now = listing(dir);
    let gone: Vec<(u64, u32, u64)> = model
        .files
        .keys()
        .filter(|k| !now.contains(&OsString::from(name_of(**k))))
        .copied()
        .collect();
    for key in gone {
        let name = name_of(key);
        let kind = model.files.remove(&key).unwrap();
        let owner = sides.iter().position(|s| s.written.contains(&name));
        let events = match &kind {
            Kind::Valid(events, _) => *events,
            _ => 0,
        };
        if Some(&name) == acked.as_ref() {
            if let Some(o) = owner.filter(|&o| o != actor) {
                sides[o].removed_elsewhere.0 += events;
            }
            continue;
        }
        match kind {
            Kind::Valid(events, _) => {
                let e = &mut sides[actor].evicted;
                e.0 += 1;
                e.1 += events;
                if owner == Some(actor) {
                    e.2 += events;
                } else if let Some(o) = owner {
                    sides[o].removed_elsewhere.0 += events;
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
    let oldest = model
        .files
        .iter()
        .find(|(k, kind)| matches!(kind, Kind::Valid(..)) && !held.contains(&name_of(**k)));
    match (claimed, oldest) {
        (None, None) => {}
        (Some(c), Some((key, Kind::Valid(events, body)))) => {
            assert_eq!(
                c.id().file_name(),
                name_of(*key),
                "not the oldest valid file"
            );
            assert_eq!((c.events(), c.body()), (*events, &body[..]), "{key:?}");
            assert_eq!(c.is_own(), sides[i].written.contains(&name_of(*key)));
            sides[i].held.push(c);
        }
        (Some(c), _) => panic!("claimed {} which is not valid or is held", c.id()),
        (None, Some((key, _))) => panic!("nothing claimed while {key:?} is valid and free"),
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
    side.removed_elsewhere.1 += side.spool.take_own_removed_elsewhere();
}

fn run(input: &Input) {
    let scratch = ScratchDir::new();
    let dir = scratch.path();
    let now_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut model = Model {
        files: BTreeMap::new(),
        bad_names: HashSet::new(),
        foreign: 0,
    };
    let mut keep: HashSet<OsString> = HashSet::new();
    let mut aged = HashSet::new();
    let decoy = scratch.path().with_extension("decoy");
    fs::write(&decoy, encode(1, b"[1]")).unwrap();
    for entry in input.entries.iter().take(24) {
        match entry {
            Entry::Batch {
                age,
                pid,
                counter,
                content,
            } => {
                let nanos = match age {
                    Age::Recent(s) => now_nanos - (u64::from(*s % 50) + 1) * 1_000_000_000,
                    Age::Old(s) => now_nanos.saturating_sub((u64::from(*s) + 61) * 1_000_000_000),
                    Age::Future(s) => now_nanos + u64::from(*s) * 1_000_000_000,
                };
                let key = (nanos, u32::from(*pid), u64::from(*counter));
                if model.files.contains_key(&key) || keep.contains(&OsString::from(name_of(key))) {
                    continue;
                }
                let bytes = content.bytes();
                let kind = classify(&bytes);
                fs::write(dir.join(name_of(key)), &bytes).unwrap();
                if kind == Kind::OtherVersion {
                    model.foreign += 1;
                    model.bad_names.insert(name_of(key).into());
                    keep.insert(name_of(key).into());
                } else {
                    if matches!(kind, Kind::HeaderOnly(_) | Kind::Corrupt) {
                        model.bad_names.insert(name_of(key).into());
                    }
                    if matches!(age, Age::Old(_)) {
                        aged.insert(key);
                    }
                    model.files.insert(key, kind);
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
                    || text.is_some_and(|t| t.starts_with(".tmp-") || batch_key(t).is_some())
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
                let key = (now_nanos - 1_000_000_000, 7, u64::from(*n));
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

    // Open: the age bound, then the byte bound, oldest first.
    let before: Vec<(u64, u32, u64)> = model.files.keys().copied().collect();
    let size = |k: &(u64, u32, u64)| fs::metadata(dir.join(name_of(*k))).unwrap().len();
    let sizes: HashMap<_, _> = before.iter().map(|k| (*k, size(k))).collect();
    let spool = Spool::open(dir, MAX_BYTES, MIN_MAX_AGE).unwrap();
    let mut sides = vec![Side {
        spool,
        held: Vec::new(),
        written: HashSet::new(),
        evicted: (0, 0, 0),
        removed_elsewhere: (0, 0),
    }];
    settle(dir, &mut model, &mut sides, 0, None);
    let mut expect_gone: Vec<_> = before
        .iter()
        .filter(|k| aged.contains(*k))
        .copied()
        .collect();
    let mut total: u64 = before
        .iter()
        .filter(|k| !aged.contains(*k))
        .map(|k| sizes[k])
        .sum();
    for k in before.iter().filter(|k| !aged.contains(*k)) {
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
        .values()
        .map(|k| match k {
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
        let spool = Spool::open(dir, MAX_BYTES, MIN_MAX_AGE).unwrap();
        sides.push(Side {
            spool,
            held: Vec::new(),
            written: HashSet::new(),
            evicted: (0, 0, 0),
            removed_elsewhere: (0, 0),
        });
        settle(dir, &mut model, &mut sides, 1, None);
    }
    let side = |b: bool| usize::from(b && sides_len(input) == 2);

    for op in input.ops.iter().take(48) {
        match op {
            Op::Claim(b) => claim(dir, &mut model, &mut sides, side(*b)),
            Op::Ack(b) => {
                let i = side(*b);
                if let Some(c) = sides[i].held.pop() {
                    let name = c.id().file_name();
                    sides[i].spool.ack(c).unwrap();
                    settle(dir, &mut model, &mut sides, i, Some(name));
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
                let plausible = (1..=body.len() as u64).contains(&events);
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

    // Drain: ack everything held, then claim and ack until nothing is left.
    for i in 0..sides.len() {
        while let Some(c) = sides[i].held.pop() {
            let name = c.id().file_name();
            sides[i].spool.ack(c).unwrap();
            settle(dir, &mut model, &mut sides, i, Some(name));
        }
    }
    for i in 0..sides.len() {
        loop {
            claim(dir, &mut model, &mut sides, i);
            let Some(c) = sides[i].held.pop() else { break };
            let name = c.id().file_name();
            sides[i].spool.ack(c).unwrap();
            settle(dir, &mut model, &mut sides, i, Some(name));
        }
    }
    // One more scan each, so every instance sees what the other removed.
    for i in 0..sides.len() {
        claim(dir, &mut model, &mut sides, i);
        take_evicted(&mut sides[i]);
        let s = &sides[i];
        assert_eq!(
            s.removed_elsewhere.0, s.removed_elsewhere.1,
            "own_removed_elsewhere"
        );
        assert_eq!(s.spool.spooled_events(), 0);
        assert_eq!(s.spool.spooled_bytes(), 0);
        assert_eq!(s.spool.own_pending_events(), 0);
    }
    assert!(model.files.is_empty(), "left: {:?}", model.files);
    assert_eq!(listing(dir), keep, "what is left in the directory");
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
    assert!(fs::read(&decoy).is_ok(), "a symlink's target was touched");
    let _ = fs::remove_file(&decoy);
}

fn sides_len(input: &Input) -> usize {
    if input.two {
        2
    } else {
        1
    }
}

fuzz_target!(|input: Input| run(&input));
