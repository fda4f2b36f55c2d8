//! `sanitize::redact_url`, the redaction of every `kino_emit_load` URL.
//!
//! Oracle, for any input and either `keep_query`:
//! - the result is never longer than the input and every character of it
//!   comes from the input, in order (nothing invented);
//! - without `keep_query` it holds no `?` and no `#`;
//! - redacting it again changes nothing (no user-info is left for the
//!   documented lenient detection to find);
//! - if the result parses as a WHATWG URL (the `url` crate), it has no
//!   username and no password;
//! - if the input parses as a URL with an authority, the result parses to
//!   the same URL minus its user-info (and minus query and fragment
//!   unless kept): a URL that parses is never mangled.
//!
//! Structured inputs build `scheme://user:password@host:port/path?q#f`
//! with user-info from upper-case letters and URL delimiters (`?#/@:\`)
//! and everything else lower-case. When such a URL does not parse (a
//! password holding a delimiter, say), no upper-case letter may survive:
//! no part of its user-info.

#![no_main]

use arbitrary::Arbitrary;
use kino::sanitize::redact_url;
use kino_fuzz::{from_alphabet, is_subsequence};
use libfuzzer_sys::fuzz_target;
use url::Url;

const SCHEMES: &[&str] = &["https", "http", "ws", "ftp", "rtsp", "srt", "foo+bar.baz"];
const SLASHES: &[&str] = &["//", "//", "//", "", "/", "///", "\\\\", "/\\"];
/// User-info: upper case (checked for in the result) and delimiters.
const SECRET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ?#/@:\\%!$&'()*+,;=~-._[]^| ";
const HOST: &str = "abcdefghijklmnopqrstuvwxyz0123456789-.";
const PATH: &str = "abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%";

#[derive(Debug, Arbitrary)]
struct Built {
    scheme: u8,
    slashes: u8,
    user: Vec<u8>,
    password: Option<Vec<u8>>,
    host: Vec<u8>,
    host_kind: u8,
    port: Option<u16>,
    path: Vec<u8>,
    query: Option<Vec<u8>>,
    fragment: Option<Vec<u8>>,
}

impl Built {
    fn url(&self) -> String {
        let scheme = SCHEMES[usize::from(self.scheme) % SCHEMES.len()];
        let slashes = SLASHES[usize::from(self.slashes) % SLASHES.len()];
        let mut url = format!("{scheme}:{slashes}");
        url.push_str(&from_alphabet(&self.user, SECRET));
        if let Some(password) = &self.password {
            url.push(':');
            url.push_str(&from_alphabet(password, SECRET));
        }
        url.push('@');
        match self.host_kind % 8 {
            0 => url.push_str("[::1]"),
            1 => url.push_str("192.0.2.7"),
            _ => {
                let host = from_alphabet(&self.host, HOST);
                url.push_str(if host.is_empty() {
                    "cdn.example"
                } else {
                    &host
                });
            }
        }
        if let Some(port) = self.port {
            url.push_str(&format!(":{port}"));
        }
        url.push('/');
        url.push_str(&from_alphabet(&self.path, PATH));
        if let Some(query) = &self.query {
            url.push('?');
            url.push_str(&from_alphabet(query, PATH));
        }
        if let Some(fragment) = &self.fragment {
            url.push('#');
            url.push_str(&from_alphabet(fragment, PATH));
        }
        url
    }
}

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(String),
    Built(Built),
}

/// Whether `url` (as a URL parser cleans it) has an authority that the
/// WHATWG parser and kino's documented detection read alike: a special
/// scheme (any slashes), or `scheme://` followed by a non-slash.
fn authority_form(url: &str) -> bool {
    let cleaned: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let cleaned = cleaned.trim_start_matches(|c: char| c <= ' ');
    let Some((scheme, rest)) = cleaned.split_once(':') else {
        return false;
    };
    let special = ["http", "https", "ws", "wss", "ftp"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s));
    special || (rest.starts_with("//") && !rest[2..].starts_with(['/', '\\']))
}

fn check(url: &str, keep: bool, secret_marked: bool) {
    let out = redact_url(url, keep);
    assert!(out.len() <= url.len(), "longer: {url:?} -> {out:?}");
    assert!(is_subsequence(&out, url), "invented: {url:?} -> {out:?}");
    if !keep {
        assert!(!out.contains(['?', '#']), "query kept: {url:?} -> {out:?}");
    }
    assert_eq!(redact_url(&out, keep), out, "not idempotent: {url:?}");
    if let Ok(parsed) = Url::parse(&out) {
        assert!(
            parsed.username().is_empty() && parsed.password().is_none(),
            "user-info survives: {url:?} -> {out:?} ({parsed})"
        );
    }
    match Url::parse(url) {
        // A space or control character left at the end by a removed
        // query is dropped by a parser reading the result, so the result
        // cannot be compared there (it is still checked above).
        Ok(_) if out.ends_with(|c: char| c <= ' ') => {}
        Ok(mut want) if want.host().is_some() && authority_form(url) => {
            // `file:` URLs have no user-info to remove.
            if want.scheme() == "file" {
                return;
            }
            want.set_username("").unwrap();
            want.set_password(None).unwrap();
            if !keep {
                want.set_query(None);
                want.set_fragment(None);
            }
            let got = Url::parse(&out).unwrap_or_else(|e| {
                panic!("a URL that parses was mangled: {url:?} -> {out:?} ({e})")
            });
            assert_eq!(
                got, want,
                "a URL that parses was changed: {url:?} -> {out:?}"
            );
        }
        Ok(_) => {}
        Err(_) if secret_marked => {
            assert!(
                !out.chars().any(|c| c.is_ascii_uppercase()),
                "user-info of a URL that does not parse survives: {url:?} -> {out:?}"
            );
        }
        Err(_) => {}
    }
}

fuzz_target!(|input: Input| {
    let (url, marked) = match &input {
        Input::Raw(url) => (url.clone(), false),
        Input::Built(built) => (built.url(), true),
    };
    check(&url, false, marked);
    check(&url, true, marked);
});
