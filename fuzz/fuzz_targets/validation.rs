//! Input validation that decides accept or refuse, each against a
//! reference written from the rules, never from kino's code:
//!
//! - custom JSON, through `kino_emit_custom` (C strings: UTF-8 first) and
//!   `sanitize::parse_custom_json`: accepted exactly when the text is
//!   RFC 8259 JSON of at most 65 536 bytes, within serde_json's documented
//!   limits (nesting depth 127, numbers finite as f64, no unpaired UTF-16
//!   surrogate escapes); refused as `INVALID_UTF8` or `INVALID_ARGUMENT`
//!   otherwise.
//! - beacon URLs, `config::validate_beacon_url`: anything accepted is
//!   printable ASCII and parses (WHATWG, the `url` crate) as an http(s)
//!   URL with a host (or has a host WHATWG reads as an out-of-range IPv4
//!   number, a valid RFC 3986 name); every URL built from RFC 3986 parts (http(s),
//!   registered name / IPv4 / IPv6 host, port 1–65535, path and query of
//!   unreserved, percent-encoded and sub-delim characters) is accepted;
//!   the same URL with one breaker (a space, a control or non-ASCII
//!   character, another scheme, no host, a bad port) is refused.
//! - headers, `kino_config_add_header`: accepted exactly when the name is
//!   an RFC 9110 token other than Content-Type / Content-Encoding and the
//!   value holds no control character but HTAB; an accepted header is one
//!   the `http` crate (what ureq sends with) takes.

#![no_main]

use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use kino::config::validate_beacon_url;
use kino::ffi::config::{kino_config_add_header, kino_config_free, kino_config_new};
use kino::ffi::emit::kino_emit_custom;
use kino::ffi::emitter::{kino_emitter_new, KinoEmitter};
use kino::ffi::error::kino_last_error_message;
use kino::ffi::KinoStatus;
use kino::sanitize::{parse_custom_json, MAX_CUSTOM_JSON_BYTES};
use kino_fuzz::from_alphabet;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Input {
    Json(Vec<u8>),
    JsonText(String),
    Url(String),
    BuiltUrl(BuiltUrl),
    Header(Vec<u8>, Vec<u8>),
}

// ---------------------------------------------------------------- JSON --

/// An RFC 8259 validator with serde_json's limits (the reference).
struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

const MAX_DEPTH: usize = 127;

impl Json<'_> {
    fn valid(text: &str) -> bool {
        let mut p = Json {
            s: text.as_bytes(),
            i: 0,
        };
        p.ws();
        p.value(0) && {
            p.ws();
            p.i == p.s.len()
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => {
                if depth + 1 > MAX_DEPTH {
                    return false;
                }
                self.i += 1;
                self.ws();
                if self.eat(b'}') {
                    return true;
                }
                loop {
                    self.ws();
                    if !self.string() {
                        return false;
                    }
                    self.ws();
                    if !self.eat(b':') {
                        return false;
                    }
                    self.ws();
                    if !self.value(depth + 1) {
                        return false;
                    }
                    self.ws();
                    if self.eat(b'}') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'[') => {
                if depth + 1 > MAX_DEPTH {
                    return false;
                }
                self.i += 1;
                self.ws();
                if self.eat(b']') {
                    return true;
                }
                loop {
                    self.ws();
                    if !self.value(depth + 1) {
                        return false;
                    }
                    self.ws();
                    if self.eat(b']') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> bool {
        let start = self.i;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return false,
        }
        if self.eat(b'.') && self.digits() == 0 {
            return false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return false;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
        // serde_json keeps every number as an u64, i64 or finite f64.
        text.parse::<f64>().is_ok_and(f64::is_finite)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.i += 4;
        u32::from_str_radix(text, 16).ok()
    }

    fn string(&mut self) -> bool {
        if !self.eat(b'"') {
            return false;
        }
        loop {
            match self.peek() {
                None => return false,
                Some(b'"') => {
                    self.i += 1;
                    return true;
                }
                Some(0..=0x1f) => return false,
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            let Some(unit) = self.hex4() else {
                                return false;
                            };
                            match unit {
                                0xd800..=0xdbff => {
                                    // A high surrogate needs a low one.
                                    if !self.literal(b"\\u") {
                                        return false;
                                    }
                                    if !matches!(self.hex4(), Some(0xdc00..=0xdfff)) {
                                        return false;
                                    }
                                }
                                0xdc00..=0xdfff => return false,
                                _ => {}
                            }
                        }
                        _ => return false,
                    }
                }
                Some(_) => self.i += 1,
            }
        }
    }
}

/// One emitter for the whole run: no destination, so what is accepted is
/// counted as failed once the worker takes it.
fn emitter() -> *mut KinoEmitter {
    struct Handle(*mut KinoEmitter);
    // SAFETY: a KinoEmitter is thread-safe (kino.h); the pointer is only
    // used through the C API.
    unsafe impl Send for Handle {}
    unsafe impl Sync for Handle {}
    static EMITTER: OnceLock<Handle> = OnceLock::new();
    EMITTER
        .get_or_init(|| {
            std::env::remove_var("KINO_BEACON_URL");
            let mut out = std::ptr::null_mut();
            assert_eq!(kino_emitter_new(std::ptr::null(), &mut out), KinoStatus::Ok);
            Handle(out)
        })
        .0
}

/// The bytes a C caller passes: up to the first NUL.
fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap()
}

fn check_last_error(status: KinoStatus) {
    if status != KinoStatus::Ok {
        let msg = unsafe { CStr::from_ptr(kino_last_error_message()) };
        assert!(!msg.to_bytes().is_empty(), "{status:?} without a message");
    }
}

fn check_json(bytes: &[u8]) {
    let c = c_string(bytes);
    let want = match std::str::from_utf8(c.as_bytes()) {
        Err(_) => KinoStatus::InvalidUtf8,
        Ok(text) if text.len() <= MAX_CUSTOM_JSON_BYTES && Json::valid(text) => KinoStatus::Ok,
        Ok(_) => KinoStatus::InvalidArgument,
    };
    let name = c"fuzz";
    let got = kino_emit_custom(emitter(), name.as_ptr(), c.as_ptr() as *const c_char);
    let got = if got == KinoStatus::QueueFull {
        KinoStatus::Ok
    } else {
        got
    };
    assert_eq!(
        got,
        want,
        "kino_emit_custom({:?})",
        String::from_utf8_lossy(c.as_bytes())
    );
    check_last_error(got);
}

fn check_json_text(text: &str) {
    let want = text.len() <= MAX_CUSTOM_JSON_BYTES && Json::valid(text);
    let got = parse_custom_json(text);
    assert_eq!(got.is_ok(), want, "parse_custom_json({text:?}): {got:?}");
    if let Ok(value) = got {
        // What is sent is JSON that reads back as the same value.
        let sent = serde_json::to_string(&value).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&sent).unwrap(),
            value
        );
    }
}

// ---------------------------------------------------------- beacon URL --

fn check_url(url: &str) {
    let Ok(()) = validate_beacon_url(url) else {
        return;
    };
    assert!(
        url.bytes().all(|b| b.is_ascii_graphic()),
        "accepted a URL with spaces, controls or non-ASCII: {url:?}"
    );
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        // A host WHATWG reads as an IPv4 number but out of range
        // (`http://44444444444/`) is a valid RFC 3986 reg-name: left to
        // name resolution, like any host that does not resolve.
        Err(url::ParseError::InvalidIpv4Address) => return,
        Err(e) => panic!("accepted a URL that does not parse ({e}): {url:?}"),
    };
    assert!(
        matches!(parsed.scheme(), "http" | "https"),
        "accepted a non-http(s) URL: {url:?}"
    );
    assert!(
        parsed.host_str().is_some_and(|h| !h.is_empty()),
        "accepted a URL without a host: {url:?}"
    );
}

const UNRESERVED: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
const SUB_DELIMS: &str = "!$&'()*+,;=";
const IPV6: &[&str] = &[
    "[::1]",
    "[2001:db8::7]",
    "[::ffff:192.0.2.1]",
    "[fe80::1:2:3:4]",
];

#[derive(Debug, Arbitrary)]
struct BuiltUrl {
    https: bool,
    upper_scheme: bool,
    host_kind: u8,
    labels: Vec<Vec<u8>>,
    ipv4: [u8; 4],
    port: Option<u16>,
    path: Vec<(Vec<u8>, Option<u8>)>,
    query: Option<Vec<u8>>,
    breaker: Option<(u8, u16, u32)>,
}

impl BuiltUrl {
    fn host(&self) -> String {
        match self.host_kind % 4 {
            0 => IPV6[usize::from(self.host_kind / 4) % IPV6.len()].to_owned(),
            1 => {
                let [a, b, c, d] = self.ipv4;
                format!("{a}.{b}.{c}.{d}")
            }
            _ => {
                // Labels of letters, digits and inner hyphens, not all
                // digits (a last label of digits reads as IPv4).
                let mut labels: Vec<String> = self
                    .labels
                    .iter()
                    .take(6)
                    .map(|l| {
                        from_alphabet(
                            &l[..l.len().min(20)],
                            "abcdefghijklmnopqrstuvwxyz0123456789-",
                        )
                    })
                    .map(|l| l.trim_matches('-').to_owned())
                    .filter(|l| !l.is_empty())
                    .collect();
                labels.push("example".into());
                labels.join(".")
            }
        }
    }

    fn url(&self) -> String {
        let scheme = match (self.https, self.upper_scheme) {
            (true, false) => "https",
            (true, true) => "HTTPS",
            (false, false) => "http",
            (false, true) => "HtTp",
        };
        let mut url = format!("{scheme}://{}", self.host());
        if let Some(port) = self.port.filter(|&p| p > 0) {
            url.push_str(&format!(":{port}"));
        }
        let pchar = format!("{UNRESERVED}{SUB_DELIMS}:@");
        for (segment, escape) in self.path.iter().take(8) {
            url.push('/');
            url.push_str(&from_alphabet(&segment[..segment.len().min(40)], &pchar));
            if let Some(b) = escape {
                url.push_str(&format!("%{b:02X}"));
            }
        }
        if let Some(query) = &self.query {
            url.push('?');
            url.push_str(&from_alphabet(
                &query[..query.len().min(80)],
                &format!("{pchar}/?"),
            ));
        }
        url
    }
}

fn check_built_url(built: &BuiltUrl) {
    let url = built.url();
    let Some((kind, at, extra)) = built.breaker else {
        if let Err(e) = validate_beacon_url(&url) {
            panic!("refused a valid URL {url:?}: {}", e.message);
        }
        return check_url(&url);
    };
    let scheme_end = url.find("://").unwrap() + 3;
    let host_end = scheme_end + built.host().len();
    let broken = match kind % 6 {
        // A space, control or non-ASCII character anywhere past the scheme.
        0..=2 => {
            let c = match kind % 3 {
                0 => ' ',
                1 => char::from((extra % 0x20) as u8),
                _ => char::from_u32(0x80 + extra % 0x2000).unwrap_or('é'),
            };
            let mut at = scheme_end + usize::from(at) % (url.len() - scheme_end + 1);
            while !url.is_char_boundary(at) {
                at += 1;
            }
            format!("{}{c}{}", &url[..at], &url[at..])
        }
        3 => format!("ftp{}", &url[url.find("://").unwrap()..]),
        4 => format!("{}{}", &url[..scheme_end], &url[host_end..]),
        _ => {
            let port = ["x", "65536", "99999", "1x", "-1", "123456"][usize::from(at) % 6];
            let rest = &url[host_end..];
            let rest = rest
                .strip_prefix(':')
                .map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
            format!("{}:{port}{rest}", &url[..host_end])
        }
    };
    if validate_beacon_url(&broken).is_ok() {
        panic!("accepted a broken URL {broken:?} (from {url:?})");
    }
}

// -------------------------------------------------------------- header --

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_header(name: &[u8], value: &[u8]) {
    let (name, value) = (c_string(name), c_string(value));
    let (n, v) = (name.as_bytes(), value.as_bytes());
    let want = if std::str::from_utf8(n).is_err() || std::str::from_utf8(v).is_err() {
        KinoStatus::InvalidUtf8
    } else if n.is_empty()
        || !n.iter().all(|&b| is_tchar(b))
        || v.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        || n.eq_ignore_ascii_case(b"content-type")
        || n.eq_ignore_ascii_case(b"content-encoding")
    {
        KinoStatus::InvalidArgument
    } else {
        KinoStatus::Ok
    };
    let config = kino_config_new();
    let got = kino_config_add_header(config, name.as_ptr(), value.as_ptr());
    kino_config_free(config);
    assert_eq!(got, want, "kino_config_add_header({name:?}, {value:?})");
    check_last_error(got);
    if got == KinoStatus::Ok {
        assert!(
            http::HeaderName::from_bytes(n).is_ok(),
            "unsendable name {name:?}"
        );
        assert!(
            http::HeaderValue::from_bytes(v).is_ok(),
            "unsendable value {value:?}"
        );
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Json(bytes) => check_json(&bytes),
        Input::JsonText(text) => check_json_text(&text),
        Input::Url(url) => check_url(&url),
        Input::BuiltUrl(built) => check_built_url(&built),
        Input::Header(name, value) => check_header(&name, &value),
    }
});
