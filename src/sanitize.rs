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

/// Removes user-info always, and the query string and fragment unless
/// `keep_query`. Leading spaces and control characters are dropped (URL
/// parsers ignore them). User-info is looked for the way lenient URL
/// parsers find it, so none survives: after `scheme:` or at the start
/// (a scheme-relative `//host`), past any run of `/` or `\`, up to the
/// first `/`, `\`, `?` or `#`; everything up to its last `@` goes.
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
    let cut = if keep_query {
        url
    } else {
        &url[..url.find(['?', '#']).unwrap_or(url.len())]
    };
    let after_scheme = scheme_len(cut).map_or(0, |n| n + 1);
    let rest = &cut[after_scheme..];
    let slashes = rest.len() - rest.trim_start_matches(['/', '\\']).len();
    if after_scheme == 0 && slashes < 2 {
        // Neither `scheme:` nor `//`: a path, which has no user-info.
        return cut.to_owned();
    }
    let authority_start = after_scheme + slashes;
    let tail = &cut[authority_start..];
    let authority_len = tail.find(['/', '\\', '?', '#']).unwrap_or(tail.len());
    match tail[..authority_len].rfind('@') {
        Some(at) => format!("{}{}", &cut[..authority_start], &tail[at + 1..]),
        None => cut.to_owned(),
    }
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
