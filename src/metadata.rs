//! Metadata: the dimensions a record is analysed by (which video, which
//! player build, which CDN, which A/B variant). Pure data and rules, no
//! threads: the key and value checks, and [`MetadataState`], the three
//! layers a view's metadata is merged from.
//!
//! # Layers
//!
//! * **kino**: `kino_version`, `os_name`, `os_version`, `arch`, filled by
//!   kino ([`crate::platform`]); not counted against the key bound.
//! * **session**: set on the config (`kino_config_set_metadata`) or at any
//!   time on the emitter (`kino_emitter_set_metadata`); every view of the
//!   emitter has it. A session key overrides a kino key of the same name;
//!   removing it brings kino's value back.
//! * **view**: `kino_emitter_set_view_metadata`: the open view's, or the
//!   next view's while none is open; cleared when the view closes.
//!
//! The merged metadata of a view is the three layers in that order, the
//! later winning on a clash. Each of the session and view layers holds at
//! most [`MAX_KEYS`] keys.
//!
//! The same state is kept twice: by the emitter under its view gate (to
//! refuse a 65th key at the call, and to know whether a change changes
//! the open view's metadata, which makes a `metadata` record), and by the
//! worker, which applies the changes in queue order, ordered with the
//! events (so a `load` record has what was set before it).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::sanitize::truncate_utf8;

/// Keys and values of one metadata map, in key order.
pub type Map = BTreeMap<String, String>;

/// Longest key, bytes (`[a-z][a-z0-9_]{0,63}`).
pub const MAX_KEY_BYTES: usize = 64;
/// Longest value kept, bytes: longer values are cut to the longest
/// whole-UTF-8 prefix within it.
pub const MAX_METADATA_VALUE_BYTES: usize = 1024;
/// Keys per level (session, view) at most.
pub const MAX_METADATA_KEYS: usize = 64;
use MAX_METADATA_KEYS as MAX_KEYS;

/// Which layer a change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Every view of the emitter.
    Session,
    /// The open view, or the next one while none is open.
    View,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Session => "session",
            Level::View => "view",
        }
    }
}

/// The well-known keys (docs/EVENTS.md says what each means). Any other
/// valid key is a custom dimension.
pub const WELL_KNOWN_KEYS: &[&str] = &[
    "env",
    "viewer_id",
    "app_name",
    "app_version",
    "player_name",
    "player_version",
    "video_id",
    "video_title",
    "video_series",
    "video_duration",
    "video_stream_type",
    "video_cdn",
    "video_language",
    "video_encoding_variant",
    "experiment_name",
    "experiment_variant",
];

/// Checks a key: `[a-z][a-z0-9_]{0,63}`.
pub fn check_key(key: &str) -> Result<()> {
    let mut bytes = key.bytes();
    let first_ok = matches!(bytes.next(), Some(b'a'..=b'z'));
    let rest_ok = bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
    if first_ok && rest_ok && key.len() <= MAX_KEY_BYTES {
        return Ok(());
    }
    let shown = truncate_utf8(key, 80);
    let why = if key.len() > MAX_KEY_BYTES {
        format!("is {} bytes long", key.len())
    } else if key.is_empty() {
        "is empty".to_owned()
    } else if !first_ok {
        "does not start with a lowercase letter a-z".to_owned()
    } else {
        "holds a character other than a-z, 0-9 and _".to_owned()
    };
    Err(Error::invalid(format!(
        "metadata key {shown:?} {why}: a key is [a-z][a-z0-9_]{{0,63}} (1 to {MAX_KEY_BYTES} bytes)"
    )))
}

/// Checks a value for `key` and cuts it to [`MAX_METADATA_VALUE_BYTES`].
/// Typed well-known keys are checked: `video_duration` is a number of
/// seconds (JSON number syntax, finite, not negative), `video_stream_type`
/// is `on_demand` or `live`.
pub fn check_value(key: &str, value: &str) -> Result<String> {
    match key {
        "video_duration" if !is_duration(value) => {
            return Err(Error::invalid(format!(
                "metadata video_duration must be a number of seconds, finite and not negative \
                 (like \"5400\" or \"42.5\"): got {:?}",
                truncate_utf8(value, 80)
            )))
        }
        "video_stream_type" if value != "on_demand" && value != "live" => {
            return Err(Error::invalid(format!(
                "metadata video_stream_type must be \"on_demand\" or \"live\": got {:?}",
                truncate_utf8(value, 80)
            )))
        }
        _ => {}
    }
    Ok(truncate_utf8(value, MAX_METADATA_VALUE_BYTES).to_owned())
}

/// A JSON number (`(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, no sign:
/// not negative) below 10³⁰⁸, so finite as a double. Checked on the text
/// alone: no float parser is linked in for it.
fn is_duration(text: &str) -> bool {
    let b = text.as_bytes();
    let run = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = run(0);
    if int == 0 || (b[0] == b'0' && int > 1) {
        return false; // empty, a sign, not a digit, or a leading zero
    }
    let mut i = int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        frac = run(i + 1);
        if frac == 0 {
            return false;
        }
        i += 1 + frac;
    }
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative = b.get(i) == Some(&b'-');
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let digits = run(i);
        if digits == 0 {
            return false;
        }
        for &d in &b[i..i + digits] {
            exp = exp.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        }
        if negative {
            exp = -exp;
        }
        i += digits;
    }
    if i != b.len() {
        return false;
    }
    // The order of magnitude: where the first non-zero digit sits.
    let frac_digits = if frac > 0 {
        &b[int + 1..int + 1 + frac]
    } else {
        &[][..]
    };
    let digits = b[..int].iter().chain(frac_digits);
    match digits.clone().position(|&d| d != b'0') {
        None => true, // zero
        Some(first) => (int as i64 - 1 - first as i64).saturating_add(exp) < 308,
    }
}

/// Sets (`Some`) or removes (`None`) `key` in `map`, holding at most
/// [`MAX_METADATA_KEYS`] keys; returns the value it replaced. `level`
/// names the map in the error.
pub fn put(
    map: &mut Map,
    key: &str,
    value: Option<String>,
    level: Level,
) -> Result<Option<String>> {
    match value {
        None => Ok(map.remove(key)),
        Some(value) => {
            if map.len() >= MAX_KEYS && !map.contains_key(key) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "metadata key {key:?} not set: the {} level already holds {MAX_KEYS} keys, \
                         the most it may (remove one with a NULL value first)",
                        level.name()
                    ),
                ));
            }
            Ok(map.insert(key.to_owned(), value))
        }
    }
}

/// The metadata layers of one emitter (see the module docs), with the
/// merged map cached between changes.
#[derive(Debug, Clone)]
pub struct MetadataState {
    kino: Arc<Map>,
    session: Map,
    view: Map,
    merged: Option<Arc<Map>>,
}

impl MetadataState {
    /// A state with kino's keys `kino` and the configured session keys.
    pub fn new(kino: Arc<Map>, session: Map) -> Self {
        MetadataState {
            kino,
            session,
            view: Map::new(),
            merged: None,
        }
    }

    /// The merged value of `key`: view, else session, else kino.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.view
            .get(key)
            .or_else(|| self.session.get(key))
            .or_else(|| self.kino.get(key))
            .map(String::as_str)
    }

    /// The view layer's value of `key` (the open view's, or the next's).
    pub fn view_value(&self, key: &str) -> Option<&str> {
        self.view.get(key).map(String::as_str)
    }

    /// Applies one change. `Ok(Some(new))` when the merged value of `key`
    /// changed (`new` is its merged value now, `None` if no layer has it
    /// any more); `Ok(None)` when the merged metadata is the same. Fails
    /// only when the level already holds [`MAX_METADATA_KEYS`] other keys.
    pub fn set(
        &mut self,
        level: Level,
        key: &str,
        value: Option<String>,
    ) -> Result<Option<Option<String>>> {
        let before = self.value(key).map(str::to_owned);
        let map = match level {
            Level::Session => &mut self.session,
            Level::View => &mut self.view,
        };
        put(map, key, value, level)?;
        let after = self.value(key).map(str::to_owned);
        if after == before {
            return Ok(None);
        }
        self.merged = None;
        Ok(Some(after))
    }

    /// The merged metadata (kino, session, view; later layers win).
    pub fn merged(&mut self) -> Arc<Map> {
        if let Some(m) = &self.merged {
            return Arc::clone(m);
        }
        let mut m = (*self.kino).clone();
        m.extend(self.session.iter().map(|(k, v)| (k.clone(), v.clone())));
        m.extend(self.view.iter().map(|(k, v)| (k.clone(), v.clone())));
        let m = Arc::new(m);
        self.merged = Some(Arc::clone(&m));
        m
    }

    /// The session's metadata without any view's: kino's keys and the
    /// session layer (what an OTLP resource carries).
    pub fn session(&self) -> Map {
        let mut m = (*self.kino).clone();
        m.extend(self.session.iter().map(|(k, v)| (k.clone(), v.clone())));
        m
    }

    /// A view closed: its metadata goes, so the next view starts with the
    /// session's only.
    pub fn clear_view(&mut self) {
        if !self.view.is_empty() {
            self.view.clear();
            self.merged = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_pattern() {
        for ok in ["a", "video_id", "custom_1", "x9_", &"k".repeat(64)] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("Video", "lowercase"),
            ("1abc", "lowercase"),
            ("_a", "lowercase"),
            ("video-id", "other than"),
            ("video id", "other than"),
            ("vidéo", "other than"),
            (&"k".repeat(65), "65 bytes"),
        ] {
            let e = check_key(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
            assert!(e.message.contains(why), "{bad:?}: {}", e.message);
        }
    }

    #[test]
    fn values_are_cut_on_a_character_boundary() {
        let long = "é".repeat(600); // 1200 bytes
        let cut = check_value("video_title", &long).unwrap();
        assert_eq!(cut.len(), 1024);
        assert!(cut.chars().all(|c| c == 'é'));
        let odd = format!("a{}", "é".repeat(600));
        assert_eq!(check_value("x", &odd).unwrap().len(), 1023);
        assert_eq!(check_value("x", "").unwrap(), "");
    }

    #[test]
    fn typed_keys_are_checked() {
        for ok in [
            "0", "42", "5400.25", "1e3", "0.5E-2", "9.9e307", "0.0e999", "1e-999",
        ] {
            assert!(check_value("video_duration", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-1", "+1", "1.", ".5", "01", "inf", "NaN", "1e", "1e999", "1e308", " 1", "12s",
            "1e+", "1.5e", "0x10",
        ] {
            let e = check_value("video_duration", bad).unwrap_err();
            assert!(e.message.contains("video_duration"), "{bad}: {}", e.message);
        }
        assert!(check_value("video_stream_type", "live").is_ok());
        assert!(check_value("video_stream_type", "on_demand").is_ok());
        assert!(check_value("video_stream_type", "vod").is_err());
        assert!(check_value("video_stream_type", "LIVE").is_err());
    }

    #[test]
    fn a_level_holds_64_keys() {
        let mut m = Map::new();
        for i in 0..64 {
            put(&mut m, &format!("k{i}"), Some("v".into()), Level::View).unwrap();
        }
        let e = put(&mut m, "k64", Some("v".into()), Level::View).unwrap_err();
        assert!(e.message.contains("64 keys"), "{}", e.message);
        put(&mut m, "k3", Some("again".into()), Level::View).expect("replacing is fine");
        put(&mut m, "k3", None, Level::View).unwrap();
        put(&mut m, "k64", Some("v".into()), Level::View).expect("room again");
    }

    fn state() -> MetadataState {
        let kino: Map = [("os_name".to_owned(), "linux".to_owned())].into();
        MetadataState::new(Arc::new(kino), Map::new())
    }

    #[test]
    fn layers_merge_view_over_session_over_kino() {
        let mut s = state();
        assert_eq!(
            s.set(Level::Session, "video_cdn", Some("a".into()))
                .unwrap(),
            Some(Some("a".into()))
        );
        assert_eq!(
            s.set(Level::View, "video_cdn", Some("b".into())).unwrap(),
            Some(Some("b".into()))
        );
        assert_eq!(
            s.set(Level::Session, "video_cdn", Some("c".into()))
                .unwrap(),
            None,
            "the view's value still wins: nothing changed"
        );
        assert_eq!(s.merged()["video_cdn"], "b");
        assert_eq!(
            s.set(Level::View, "video_cdn", None).unwrap(),
            Some(Some("c".into()))
        );
        assert_eq!(
            s.set(Level::Session, "os_name", Some("tizen".into()))
                .unwrap(),
            Some(Some("tizen".into()))
        );
        assert_eq!(
            s.set(Level::Session, "os_name", None).unwrap(),
            Some(Some("linux".into())),
            "kino's value comes back"
        );
        assert_eq!(
            s.set(Level::Session, "gone", None).unwrap(),
            None,
            "removing an absent key changes nothing"
        );
        s.set(Level::View, "video_id", Some("v1".into())).unwrap();
        assert_eq!(s.merged()["video_id"], "v1");
        s.clear_view();
        assert!(!s.merged().contains_key("video_id"));
        assert_eq!(s.session()["video_cdn"], "c");
    }
}
