//! Input checks and clean-up applied to every event before it is queued:
//! numbers must be real and non-negative, text is cut to its limit on a
//! UTF-8 boundary, and `load` URLs lose credentials and (by default) their
//! query string and fragment.

use crate::error::{Error, ErrorKind, Result};
use crate::event::AnalyticsEvent;

/// Longest `load` URL kept, bytes.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// Longest error code kept, bytes.
pub const MAX_ERROR_CODE_BYTES: usize = 256;
/// Longest error message kept, bytes.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 4 * 1024;
/// Longest custom event name kept, bytes.
pub const MAX_CUSTOM_NAME_BYTES: usize = 256;
/// Longest custom JSON text accepted, bytes.
pub const MAX_CUSTOM_JSON_BYTES: usize = 65_536;

/// The longest prefix of `s` that is at most `max` bytes and ends on a
/// character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn cut_owned(mut s: String, max: usize) -> String {
    let keep = truncate_utf8(&s, max).len();
    s.truncate(keep);
    s
}

/// The length of the RFC 3986 scheme at the start of `url` (without its
/// `:`), if there is one.
fn scheme_len(url: &str) -> Option<usize> {
    let colon = url.find(':')?;
    let mut bytes = url[..colon].bytes();
    let valid = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(colon)
}

/// Whether `host_port` (an authority without its user-info) can be one of
/// a URL that parses (WHATWG): a host without forbidden host code points
/// (for a `special` scheme a non-empty domain without them, controls or
/// `%` once percent-decoded) or a bracketed IPv6 address, then optionally
/// `:` and a port of digits up to 65535 (or none).
fn plausible_host_port(host_port: &str, special: bool) -> bool {
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, rest)) => {
                if address.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match rest {
                    "" => return true,
                    rest => match rest.strip_prefix(':') {
                        Some(port) => ("", port),
                        None => return false,
                    },
                }
            }
            None => return false,
        },
        None => match host_port.split_once(':') {
            // A port needs a host, whatever the scheme.
            Some(("", _)) => return false,
            Some((host, port)) => (host, port),
            None => (host_port, ""),
        },
    };
    let forbidden = |b: u8| {
        matches!(
            b,
            0 | b'\t'
                | b'\n'
                | b'\r'
                | b' '
                | b'#'
                | b'/'
                | b'<'
                | b'>'
                | b'?'
                | b'@'
                | b'['
                | b'\\'
                | b']'
                | b'^'
                | b'|'
        )
    };
    // A special scheme's host is a domain: percent-decoded, UTF-8 with no
    // control, `%` or DEL either.
    let domain_ok = || {
        if host.is_empty() {
            return host_port.starts_with('[');
        }
        let mut decoded = Vec::with_capacity(host.len());
        let mut bytes = host.bytes();
        while let Some(b) = bytes.next() {
            decoded.push(match b {
                b'%' => {
                    let hex = |d: Option<u8>| d.and_then(|d| (d as char).to_digit(16));
                    match (hex(bytes.next()), hex(bytes.next())) {
                        (Some(h), Some(l)) => (h * 16 + l) as u8,
                        _ => return false,
                    }
                }
                b => b,
            });
        }
        !decoded
            .iter()
            .any(|&b| forbidden(b) || b < 0x20 || b == b'%' || b == 0x7f)
            && std::str::from_utf8(&decoded).is_ok()
    };
    let host_ok = if special {
        domain_ok()
    } else {
        !host.bytes().any(forbidden)
    };
    let digits = port.trim_start_matches('0');
    host_ok
        && port.bytes().all(|b| b.is_ascii_digit())
        && (digits.is_empty() || digits.parse::<u32>().is_ok_and(|p| p <= 65_535))
}

/// `s` up to its first `?` or `#`, unless `keep_query`.
fn without_query(s: &str, keep_query: bool) -> &str {
    if keep_query {
        s
    } else {
        &s[..s.find(['?', '#']).unwrap_or(s.len())]
    }
}

/// Schemes whose URLs treat `\` as `/` (the WHATWG URL standard's
/// "special" schemes).
fn is_special_scheme(scheme: &str) -> bool {
    ["http", "https", "ws", "wss", "ftp", "file"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
}

/// Removes user-info always, and the query string and fragment unless
/// `keep_query`. Leading spaces and control characters are dropped, and
/// tabs, CR and LF anywhere (URL parsers ignore them).
///
/// User-info is looked for the way lenient URL parsers find it, so none
/// survives: after `scheme:` or at the start (a scheme-relative `//host`),
/// past any run of `/` (and `\`, for a scheme-relative URL and the special
/// schemes `http`, `https`, `ws`, `wss`, `ftp` and `file`, which take it
/// for `/`), the authority runs up to the first `/`, `?` or `#` (or `\`,
/// for those); everything up to its last `@` goes. If what is left of that
/// authority cannot be a URL's (a port that is not all digits or over
/// 65535, as in `https://u:p?x@host/`; a forbidden host character such as
/// a space, `\`, `^` or `|`; an empty host after user-info or in a special
/// scheme's URL), the character that ended it was part of a password,
/// which may hold `@` as well: the user-info then runs to the last `@` in
/// the rest of the URL that is followed by a possible host and port (else
/// to the last `@`).
/// When what follows the removed user-info is an empty host and more
/// slashes, the authority after those is looked at the same way. Only then
/// is the query cut, at the first `?` or `#` of what remains.
///
/// A URL that parses loses exactly its user-info, query and fragment; the
/// result is never longer than `url`, and every character of it comes
/// from `url`, in order.
pub fn redact_url(url: &str, keep_query: bool) -> String {
    // URL parsers drop every tab, CR and LF before parsing: so must we, or
    // `ht\ttps://user:pw@host` would keep its credentials.
    let cleaned: String;
    let url = if url.contains(['\t', '\r', '\n']) {
        cleaned = url
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        &cleaned
    } else {
        url
    };
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let cut_query = |s| without_query(s, keep_query);
    // `?` and `#` cannot occur in a scheme: no need to cut first.
    let scheme = scheme_len(url);
    let after_scheme = scheme.map_or(0, |n| n + 1);
    let special = scheme.is_none_or(|n| is_special_scheme(&url[..n]));
    let slash_run = |s: &str| {
        let rest = if special {
            s.trim_start_matches(['/', '\\'])
        } else {
            s.trim_start_matches('/')
        };
        s.len() - rest.len()
    };
    let slashes = slash_run(&url[after_scheme..]);
    if after_scheme == 0 && slashes < 2 {
        // Neither `scheme:` nor `//`: a path, which has no user-info.
        return cut_query(url).to_owned();
    }
    let delimiters: &[char] = if special {
        &['/', '\\', '?', '#']
    } else {
        &['/', '?', '#']
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..after_scheme + slashes]);
    let mut tail = &url[after_scheme + slashes..];
    loop {
        let delimiter = |from: usize| {
            tail[from..]
                .find(delimiters)
                .map_or(tail.len(), |i| from + i)
        };
        let end = delimiter(0);
        let mut last_at = tail[..end].rfind('@');
        // User-info needs a host after it, whatever the scheme.
        let plausible_after_at =
            |host_port: &str| !host_port.is_empty() && plausible_host_port(host_port, special);
        let plausible = match last_at {
            Some(at) => plausible_after_at(&tail[at + 1..end]),
            None => plausible_host_port(&tail[..end], special),
        };
        if !plausible {
            // Not a URL's authority: the delimiter at `end` was inside a
            // password, which may hold `@` too. The user-info runs to the
            // last `@` that a host could follow (else to the last `@`).
            let (mut plausible, mut any) = (None, None);
            let mut segment = end;
            while segment < tail.len() {
                // `tail[segment]` is a one-byte delimiter.
                let next = delimiter(segment + 1);
                if let Some(i) = tail[segment..next].rfind('@') {
                    let at = segment + i;
                    any = Some(at);
                    if plausible_after_at(&tail[at + 1..next]) {
                        plausible = Some(at);
                    }
                }
                segment = next;
            }
            last_at = plausible.or(any).or(last_at);
        }
        let Some(at) = last_at else { break };
        tail = &tail[at + 1..];
        // `user@` and an empty host: the slashes after it would start
        // the authority for a parser reading the result again.
        let more = slash_run(tail);
        if more == 0 {
            break;
        }
        out.push_str(&tail[..more]);
        tail = &tail[more..];
    }
    out.push_str(cut_query(tail));
    out
}

/// Checks a real, non-negative number in place; `-0.0` becomes `0.0`.
fn real(value: &mut f64, what: &'static str) -> Result<()> {
    if !value.is_finite() {
        return Err(Error::fixed(
            ErrorKind::InvalidArgument,
            match what {
                "position" => "position must be a finite number",
                "from" => "seek 'from' must be a finite number",
                "to" => "seek 'to' must be a finite number",
                "buffer_level" => "buffer_level must be a finite number",
                "duration" => "duration must be a finite number",
                _ => "watch_time must be a finite number",
            },
        ));
    }
    if *value < 0.0 {
        return Err(Error::fixed(
            ErrorKind::InvalidArgument,
            match what {
                "position" => "position must not be negative",
                "from" => "seek 'from' must not be negative",
                "to" => "seek 'to' must not be negative",
                "buffer_level" => "buffer_level must not be negative",
                "duration" => "duration must not be negative",
                _ => "watch_time must not be negative",
            },
        ));
    }
    *value += 0.0; // -0.0 + 0.0 == +0.0: no negative zero on the wire
    Ok(())
}

/// Parses custom-event JSON text (at most [`MAX_CUSTOM_JSON_BYTES`]).
pub fn parse_custom_json(text: &str) -> Result<serde_json::Value> {
    if text.len() > MAX_CUSTOM_JSON_BYTES {
        return Err(Error::invalid(format!(
            "custom JSON is {} bytes, more than the {MAX_CUSTOM_JSON_BYTES} allowed",
            text.len()
        )));
    }
    serde_json::from_str(text).map_err(|e| Error::invalid(format!("custom JSON is invalid: {e}")))
}

/// Checks an event and brings its text within limits. Numeric events are
/// checked in place and never allocate.
pub fn sanitize(mut event: AnalyticsEvent, keep_url_query: bool) -> Result<AnalyticsEvent> {
    use AnalyticsEvent::*;
    match &mut event {
        Load { url, .. } => {
            *url = cut_owned(redact_url(url, keep_url_query), MAX_URL_BYTES);
        }
        Play { position } | Pause { position } => real(position, "position")?,
        Seek { from, to } => {
            real(from, "from")?;
            real(to, "to")?;
        }
        Rebuffer {
            position,
            buffer_level,
        } => {
            real(position, "position")?;
            real(buffer_level, "buffer_level")?;
        }
        RebufferEnd { position, duration } => {
            real(position, "position")?;
            real(duration, "duration")?;
        }
        QualityChange { .. } => {}
        StateChange { position, .. } => real(position, "position")?,
        End {
            position,
            watch_time,
        } => {
            real(position, "position")?;
            real(watch_time, "watch_time")?;
        }
        Error {
            code,
            message,
            position,
            ..
        } => {
            real(position, "position")?;
            *code = cut_owned(std::mem::take(code), MAX_ERROR_CODE_BYTES);
            *message = cut_owned(std::mem::take(message), MAX_ERROR_MESSAGE_BYTES);
        }
        Heartbeat {
            position,
            buffer_level,
            ..
        } => {
            real(position, "position")?;
            real(buffer_level, "buffer_level")?;
        }
        Qoe(_) => {
            return Err(crate::error::Error::fixed(
                ErrorKind::InvalidArgument,
                "qoe records are made by kino itself and cannot be emitted",
            ))
        }
        Metadata { .. } => {
            return Err(crate::error::Error::fixed(
                ErrorKind::InvalidArgument,
                "metadata records are made by kino itself: set metadata with \
                 kino_emitter_set_metadata or kino_emitter_set_view_metadata",
            ))
        }
        Custom { name, .. } => {
            if name.is_empty() {
                return Err(crate::error::Error::fixed(
                    ErrorKind::InvalidArgument,
                    "custom event name must not be empty",
                ));
            }
            *name = cut_owned(std::mem::take(name), MAX_CUSTOM_NAME_BYTES);
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 10), "abc");
        assert_eq!(truncate_utf8("€€", 5), "€");
    }

    #[test]
    fn urls_lose_credentials_and_tokens() {
        assert_eq!(
            redact_url("https://user:pw@cdn.example/a/b.m3u8?token=x#t=3", false),
            "https://cdn.example/a/b.m3u8"
        );
        assert_eq!(
            redact_url("https://user:pw@cdn.example/a?token=x#f", true),
            "https://cdn.example/a?token=x#f"
        );
        assert_eq!(
            redact_url("https://u@h?x=@y", false),
            "https://h",
            "'?' ends the authority"
        );
        assert_eq!(redact_url("not a url?token=1", false), "not a url");
        assert_eq!(redact_url("/media/a.mp4#frag", false), "/media/a.mp4");
        assert_eq!(redact_url("file:///m/a.mp4?x", false), "file:///m/a.mp4");
        assert_eq!(redact_url("https://cdn/a@b/c", false), "https://cdn/a@b/c");
        assert_eq!(
            redact_url("//user:pw@cdn.example/a.m3u8?token=x", false),
            "//cdn.example/a.m3u8"
        );
        assert_eq!(redact_url(" \thttps://u:p@h/a", false), "https://h/a");
        assert_eq!(redact_url("https:/\\u:p@h/a", false), "https:/\\h/a");
        assert_eq!(redact_url("https:u:p@h/a", false), "https:h/a");
        assert_eq!(redact_url("media/a@2x.mp4", false), "media/a@2x.mp4");
        assert_eq!(redact_url("ht\ttps://u:p@h/a", false), "https://h/a");
        assert_eq!(redact_url("https:/\n/u:p@h/a", false), "https://h/a");
    }

    /// Issue 8: a password holding `?`, `#`, `/` or `\\` used to be cut
    /// there, leaving `https://u:p`. No URL that parses has a port that is
    /// not all digits, so those authorities are read on to the next `@`.
    #[test]
    fn passwords_holding_delimiters_lose_all_their_user_info() {
        for (url, keep, want) in [
            ("https://u:p?x@host/a?t=1", false, "https://host/a"),
            ("https://u:p#x@host/a#f", false, "https://host/a"),
            ("https://u:p?x@host/a?t=1", true, "https://host/a?t=1"),
            ("https://u:p/x@host:8080/a", false, "https://host:8080/a"),
            ("https://u:p\\x@host/a", false, "https://host/a"),
            ("https://u:p?x@y#z@host/a", false, "https://host/a"),
            ("https://u:p@q?x@host/a", true, "https://q?x@host/a"),
            ("https://u:p?x@h:port/a", false, "https://h:port/a"),
            ("https://u:p?x", true, "https://u:p?x"),
            ("rtsp://u:p?x@cam/live", false, "rtsp://cam/live"),
            // Not special: `\` is not a delimiter there, so it is user-info.
            ("rtsp://u\\x@cam/live", false, "rtsp://cam/live"),
            // Found by fuzz/url_redaction: authorities no URL has. An
            // empty host in a special scheme's URL...
            ("https://u:p@/h@x/a", false, "https://x/a"),
            ("http:/\\##A@[::1]/", true, "http:/\\[::1]/"),
            // ...a host holding `^`, or a port over 65535...
            ("https://U^?X@host/a", false, "https://host/a"),
            ("https://u:99999?x@host/a", false, "https://host/a"),
            // ...a port without a host, `\` in a host, user-info before
            // an empty host, a percent-encoded host that is not UTF-8, a
            // bracketed host that is not an IPv6 address.
            ("foo://://Q@[::1]/", true, "foo://[::1]/"),
            ("rtsp://\\!A#@[::1]/", false, "rtsp://[::1]/"),
            ("srt://@/Z/A@[::1]/", false, "srt://[::1]/"),
            ("http://J%CE\\F:\\W@[::1]/", true, "http://[::1]/"),
            ("http://[:]/A@[::1]/", true, "http://[::1]/"),
            // `user@` before an empty host: no user-info left for a re-read.
            ("rtsp://u:p@/h@/a", false, "rtsp:///a"),
        ] {
            assert_eq!(redact_url(url, keep), want, "{url} keep={keep}");
        }
    }

    #[test]
    fn urls_that_parse_lose_nothing_else() {
        for url in [
            "https://cdn.example:8080/a/b.m3u8",
            "https://cdn.example/a@b/c:d",
            "https://[::1]:443/a",
            "https://[::1]/a",
            "http://h:/a",
            "https://h/a?x=u:p@y#f@g",
            "https://h?x:y@z",
            "rtsp://cam/live\\x@y",
            "https://h:00080/a",
            "file:///m/a.mp4",
        ] {
            assert_eq!(redact_url(url, true), url);
            assert_eq!(
                redact_url(url, false),
                url[..url.find(['?', '#']).unwrap_or(url.len())]
            );
        }
    }

    #[test]
    fn redaction_happens_before_truncation() {
        let long = format!("https://u:p@h/{}?t=1", "a".repeat(100_000));
        let AnalyticsEvent::Load { url, .. } = sanitize(
            AnalyticsEvent::Load {
                url: long,
                is_live: false,
            },
            false,
        )
        .unwrap() else {
            unreachable!()
        };
        assert_eq!(url.len(), MAX_URL_BYTES);
        assert!(url.starts_with("https://h/aaa"));
    }

    #[test]
    fn bad_numbers_are_refused() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
            let e = sanitize(AnalyticsEvent::Play { position: bad }, false).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
            assert!(e.message.contains("position"));
            assert!(sanitize(AnalyticsEvent::Seek { from: 0.0, to: bad }, false).is_err());
            assert!(sanitize(
                AnalyticsEvent::Heartbeat {
                    position: 0.0,
                    buffer_level: bad,
                    bitrate: 0,
                    dropped_frames: 0,
                    decoded_frames: 0
                },
                false
            )
            .is_err());
        }
        assert!(sanitize(AnalyticsEvent::Play { position: 0.0 }, false).is_ok());
        let AnalyticsEvent::Play { position } =
            sanitize(AnalyticsEvent::Play { position: -0.0 }, false).unwrap()
        else {
            unreachable!()
        };
        assert!(
            position == 0.0 && position.is_sign_positive(),
            "-0.0 is sent as 0.0"
        );
    }

    /// Found by fuzz/validation: serde_json's default float parsing could
    /// land an ULP away from the number the caller wrote, so the data sent
    /// was not the caller's number.
    #[test]
    fn custom_json_numbers_are_the_nearest_double() {
        for text in [
            "444444444444444444444444",
            "4.4444444444444444e23",
            "0.3",
            "2.2250738585072011e-308",
        ] {
            let value = parse_custom_json(text).unwrap();
            assert_eq!(value.as_f64(), Some(text.parse::<f64>().unwrap()), "{text}");
            let sent = serde_json::to_string(&value).unwrap();
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&sent).unwrap(),
                value
            );
        }
    }

    #[test]
    fn custom_json_limits() {
        assert!(parse_custom_json("{\"a\":1}").is_ok());
        assert!(parse_custom_json("{").is_err());
        let big = format!("\"{}\"", "x".repeat(MAX_CUSTOM_JSON_BYTES));
        assert!(parse_custom_json(&big).is_err());
        let empty = sanitize(
            AnalyticsEvent::Custom {
                name: String::new(),
                data: serde_json::Value::Null,
            },
            false,
        );
        assert!(empty.is_err());
    }
}
