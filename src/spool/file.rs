//! The spool's on-disk format: batch file names, the header line, and
//! writing and reading one batch file. Nothing here knows about other
//! files or other instances (see [`super::dir`]).
//!
//! A batch file `<nanos:020>-<owner:016x>-<counter>.kino` is a one-line
//! ASCII header followed by the body:
//!
//! ```text
//! KINO-SPOOL 1 events=<n> len=<body bytes> fnv64=<16 lowercase hex>\n<body>
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(super) const SUFFIX: &str = ".kino";
pub(super) const TMP_PREFIX: &str = ".tmp-";
pub(super) const OWNER_PREFIX: &str = ".owner-";
pub(super) const OWNER_SUFFIX: &str = ".lock";
const MAGIC: &str = "KINO-SPOOL";
const VERSION: u32 = 1;
/// Longest header line accepted, newline included.
pub(super) const MAX_HEADER: usize = 128;
/// The shortest a record's JSON text can be (`{}`): a body of `len` bytes
/// holds at most `len / 2` records, so a header claiming more lies.
const MIN_RECORD_BYTES: u64 = 2;

/// The spool instance (one per emitter) that wrote a batch file: a random
/// 64-bit id, so a reused process id never makes a dead writer look alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerId(pub(super) u64);

impl OwnerId {
    /// The name of this owner's lock file (held while the owner lives).
    pub(super) fn lock_file_name(self) -> String {
        format!("{OWNER_PREFIX}{:016x}{OWNER_SUFFIX}", self.0)
    }

    /// Parses the canonical 16 lowercase hex digits of an owner id.
    pub(super) fn parse_hex(hex: &str) -> Option<OwnerId> {
        let canonical =
            hex.len() == 16 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        canonical
            .then(|| u64::from_str_radix(hex, 16).ok())
            .flatten()
            .map(OwnerId)
    }
}

/// Identifies a batch file: its write time, writer and counter. Orders
/// oldest first; [`fmt::Display`] gives the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpoolId {
    pub(super) nanos: u64,
    pub(super) owner: OwnerId,
    pub(super) counter: u64,
}

impl SpoolId {
    /// Parses a batch file name; `None` unless it is exactly in the
    /// canonical `{nanos:020}-{owner:016x}-{counter}.kino` form.
    pub(super) fn parse(name: &str) -> Option<SpoolId> {
        let stem = name.strip_suffix(SUFFIX)?;
        let mut parts = stem.split('-');
        let (nanos, owner, counter) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || nanos.len() != 20 {
            return None;
        }
        let id = SpoolId {
            nanos: parse_digits(nanos)?,
            owner: OwnerId::parse_hex(owner)?,
            counter: parse_digits(counter)?,
        };
        (id.file_name() == name).then_some(id)
    }

    pub(super) fn stem(&self) -> String {
        format!("{:020}-{:016x}-{}", self.nanos, self.owner.0, self.counter)
    }

    /// The batch file's name.
    pub fn file_name(&self) -> String {
        format!("{}{SUFFIX}", self.stem())
    }

    /// When the batch was written (the time encoded in its name).
    pub fn written_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos)
    }

    /// The instance that wrote it.
    pub fn owner(&self) -> OwnerId {
        self.owner
    }
}

impl fmt::Display for SpoolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// Why a batch file could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bad {
    /// Unparseable, truncated, implausible, or wrong checksum.
    Corrupt,
    /// A spool file of another format version.
    OtherVersion,
    /// An I/O error: try again later.
    Io,
    /// Well-formed, with this many records, but bigger than the reader's
    /// byte bound: evicted on its header's word, never read whole.
    TooBig(u64),
}

/// The header line of a batch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub events: u64,
    pub len: u64,
    pub sum: u64,
}

impl Header {
    /// The header of `body` holding `events` records.
    pub fn of(body: &[u8], events: u64) -> Header {
        Header {
            events,
            len: body.len() as u64,
            sum: fnv1a64(body),
        }
    }

    pub fn encode(&self) -> String {
        format!(
            "{MAGIC} {VERSION} events={} len={} fnv64={:016x}\n",
            self.events, self.len, self.sum
        )
    }

    /// Parses the header at the start of `buf`; returns it and its length.
    /// Only the canonical form is accepted, with at least one event and no
    /// more events than the body could hold: the counts are read from an
    /// untrusted file and summed into the emitter's statistics.
    pub fn parse(buf: &[u8]) -> Result<(Header, usize), Bad> {
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
        if header.encode().as_bytes() != &buf[..=end] {
            return Err(Bad::Corrupt);
        }
        if !plausible(events, len) {
            return Err(Bad::Corrupt);
        }
        Ok((header, end + 1))
    }
}

/// Whether a body of `len` bytes can hold `events` records (at least one).
pub(super) fn plausible(events: u64, len: u64) -> bool {
    events != 0 && events <= len / MIN_RECORD_BYTES
}

/// Writes a batch durably as `dir/<id>.kino`: a temporary file gets the
/// header and body, is fsynced and renamed into place, and the directory
/// is fsynced (best effort: the file is in place either way). The
/// directory is never created here: if it is gone (an app that wiped it),
/// this fails with `NotFound`. Returns the file's size.
pub(super) fn write_batch(dir: &Path, id: &SpoolId, body: &[u8], events: u64) -> io::Result<u64> {
    let header = Header::of(body, events).encode();
    let tmp = dir.join(format!("{TMP_PREFIX}{}", id.stem()));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(header.as_bytes())?;
        file.write_all(body)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, dir.join(id.file_name()))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let _ = sync_dir(dir);
    Ok((header.len() + body.len()) as u64)
}

/// Reads only the header of the batch file at `path` (no lock needed:
/// batch files never change once named).
pub(super) fn read_header(path: &Path) -> Result<Header, Bad> {
    let file = super::dir::open_file(path).map_err(|_| Bad::Io)?;
    let mut buf = Vec::with_capacity(MAX_HEADER);
    (&file)
        .take(MAX_HEADER as u64)
        .read_to_end(&mut buf)
        .map_err(|_| Bad::Io)?;
    Header::parse(&buf).map(|(header, _)| header)
}

/// Reads only the header of an open batch file (at its start) and checks
/// the file's size is the header's plus the body length it declares.
/// Returns the header, the bytes read (header and the body's start) and
/// the file size.
fn load_header(file: &File) -> Result<(Header, Vec<u8>, u64), Bad> {
    let mut buf = Vec::with_capacity(MAX_HEADER);
    file.take(MAX_HEADER as u64)
        .read_to_end(&mut buf)
        .map_err(|_| Bad::Io)?;
    let (header, header_len) = Header::parse(&buf)?;
    let size = file.metadata().map_err(|_| Bad::Io)?.len();
    if Some(size) != (header_len as u64).checked_add(header.len) {
        return Err(Bad::Corrupt);
    }
    buf.drain(..header_len);
    Ok((header, buf, size))
}

/// Reads and verifies a whole batch file: header, exact length, checksum.
/// A file over `max_size` bytes is [`Bad::TooBig`] and not read past its
/// header (the directory may hold a file of any size). Returns the
/// header, the body and the file size.
pub(super) fn load(file: &File, max_size: u64) -> Result<(Header, Vec<u8>, u64), Bad> {
    let (header, mut body, size) = load_header(file)?;
    if size > max_size {
        return Err(Bad::TooBig(header.events));
    }
    let rest = header.len.saturating_sub(body.len() as u64);
    file.take(rest)
        .read_to_end(&mut body)
        .map_err(|_| Bad::Io)?;
    if body.len() as u64 != header.len || fnv1a64(&body) != header.sum {
        return Err(Bad::Corrupt);
    }
    Ok((header, body, size))
}

#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// 64-bit FNV-1a.
pub(super) fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A non-empty run of ASCII digits as a `u64` (no sign, no overflow).
pub(super) fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Nanoseconds since the Unix epoch on the wall clock (file names).
pub(super) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_the_canonical_form_parses() {
        let id = SpoolId {
            nanos: 1_700_000_000_123_456_789,
            owner: OwnerId(0x00ab_cdef_0123_4567),
            counter: 42,
        };
        let name = id.file_name();
        assert_eq!(name, "01700000000123456789-00abcdef01234567-42.kino");
        assert_eq!(SpoolId::parse(&name), Some(id));
        for bad in [
            "01700000000123456789-00ABCDEF01234567-42.kino",
            "1700000000123456789-00abcdef01234567-42.kino",
            "01700000000123456789-abcdef01234567-42.kino",
            "01700000000123456789-00abcdef01234567-042.kino",
            "01700000000123456789-00abcdef01234567-42-1.kino",
            "01700000000123456789-00abcdef01234567-42.kin",
            "01700000000123456789-1234-42.kino",
            "",
        ] {
            assert_eq!(SpoolId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn headers_round_trip_and_lies_are_corrupt() {
        let body = br#"[{"a":1},{"b":2}]"#;
        let h = Header::of(body, 2);
        let text = h.encode();
        assert_eq!(Header::parse(text.as_bytes()), Ok((h, text.len())));
        let lie = |events: u64| Header { events, ..h }.encode();
        assert_eq!(Header::parse(lie(0).as_bytes()), Err(Bad::Corrupt));
        assert_eq!(Header::parse(lie(u64::MAX).as_bytes()), Err(Bad::Corrupt));
        let eight = lie(8);
        assert_eq!(
            Header::parse(eight.as_bytes()),
            Ok((Header { events: 8, ..h }, eight.len()))
        );
        assert_eq!(
            Header::parse(lie(9).as_bytes()),
            Err(Bad::Corrupt),
            "17 bytes hold 8 records at most"
        );
        let other = text.replacen("KINO-SPOOL 1", "KINO-SPOOL 2", 1);
        assert_eq!(Header::parse(other.as_bytes()), Err(Bad::OtherVersion));
        let upper = text.to_uppercase();
        assert_eq!(Header::parse(upper.as_bytes()), Err(Bad::Corrupt));
        assert_eq!(
            Header::parse(b"KINO-SPOOL 1 events=+1 len=2 fnv64=0000000000000000\n"),
            Err(Bad::Corrupt)
        );
    }
}
