//! CTA-5004 (Common Media Client Data, version 1) for the keys kino knows,
//! so a CDN's logs carry kino's view and session ids. Pure encoding: the
//! state comes from the view tracker ([`crate::view::ViewTracker::cmcd`]).
//!
//! Keys (alphabetical, as the standard recommends): `bl` buffer length in
//! ms rounded to 100, `br` the current rendition's bitrate in kbps, `bs`
//! buffer starvation since the last call, `cid` content id, `sid` session
//! id, `st` stream type (`v`/`l`), `su` startup. Strings are quoted with
//! `"` and `\` escaped; a true boolean is its bare key, a false one is
//! left out; `v` is left out (version 1). Outside a view only `sid` is
//! written.

/// Longest `cid`, characters (CTA-5004).
pub const MAX_CID_CHARS: usize = 64;

/// How [`encode`] lays the keys out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One query argument: `CMCD=<url-encoded payload>`.
    Query,
    /// Header lines (`Name: value\r\n`), each key in its CTA-5004 header.
    Headers,
}

/// What kino knows for the next request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CmcdState {
    /// `sid`: the open view's id, else the session id.
    pub sid: String,
    /// `cid`: the view metadata `video_id`, when set.
    pub cid: Option<String>,
    /// `br`: the current rendition's bitrate, bit/s.
    pub bitrate: Option<u64>,
    /// `bl`: the last reported buffer level, seconds.
    pub buffer_level: Option<f64>,
    /// `st`: whether the open view's load said live. `None` outside a
    /// view: then only `sid` is written.
    pub live: Option<bool>,
    /// `su`: before the first frame, or while stalled.
    pub startup: bool,
    /// `bs`: a stall began since the previous CMCD call.
    pub starved: bool,
}

/// The header each key belongs in (CTA-5004 §3.2), in the order kino
/// writes the headers.
const HEADERS: [(&str, &[&str]); 4] = [
    ("CMCD-Object", &["br"]),
    ("CMCD-Request", &["bl", "su"]),
    ("CMCD-Session", &["cid", "sid", "st"]),
    ("CMCD-Status", &["bs"]),
];

/// The state's keys as `(key, encoded value)`, alphabetical; a bare key
/// (true boolean) has an empty value.
fn pairs(s: &CmcdState) -> Vec<(&'static str, String)> {
    if s.live.is_none() {
        // Outside a view: the view metadata is the next view's (no `cid`
        // until it opens), and a stall of a closed view is no news (`bs`).
        return vec![("sid", quote(&s.sid))];
    }
    let mut out = Vec::with_capacity(7);
    if let Some(level) = s.buffer_level.filter(|l| l.is_finite() && *l >= 0.0) {
        let ms = ((level * 10.0).round() as u64).saturating_mul(100);
        out.push(("bl", ms.to_string()));
    }
    if let Some(bps) = s.bitrate.filter(|&b| b > 0) {
        out.push(("br", bps.saturating_add(500).div_euclid(1000).to_string()));
    }
    if s.starved {
        out.push(("bs", String::new()));
    }
    if let Some(cid) = &s.cid {
        out.push(("cid", quote(&cid_text(cid))));
    }
    out.push(("sid", quote(&s.sid)));
    if let Some(live) = s.live {
        out.push(("st", if live { "l" } else { "v" }.to_owned()));
    }
    if s.startup {
        out.push(("su", String::new()));
    }
    out
}

fn join<'a>(pairs: impl Iterator<Item = &'a (&'static str, String)>) -> String {
    let mut text = String::new();
    for (key, value) in pairs {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(key);
        if !value.is_empty() {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

/// The CMCD text for `state` in `form`.
pub fn encode(state: &CmcdState, form: Form) -> String {
    let pairs = pairs(state);
    match form {
        Form::Query => format!("CMCD={}", url_encode(&join(pairs.iter()))),
        Form::Headers => {
            let mut out = String::new();
            for (name, keys) in HEADERS {
                let value = join(pairs.iter().filter(|(k, _)| keys.contains(k)));
                if !value.is_empty() {
                    out.push_str(name);
                    out.push_str(": ");
                    out.push_str(&value);
                    out.push_str("\r\n");
                }
            }
            out
        }
    }
}

/// A content id as CMCD carries it: printable ASCII as is, and `%`,
/// control and non-ASCII characters as `%XX` of their UTF-8 bytes (a
/// header value holds ASCII only), cut to [`MAX_CID_CHARS`] without
/// splitting an escape.
fn cid_text(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        let mut piece = String::new();
        if (c.is_ascii_graphic() && c != '%') || c == ' ' {
            piece.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                piece.push_str(&format!("%{b:02X}"));
            }
        }
        if out.len() + piece.len() > MAX_CID_CHARS {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// A CMCD string value: quoted, with `"` and `\` escaped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters (what
/// JavaScript's `encodeURIComponent` leaves alone, less `!'()*`).
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> CmcdState {
        CmcdState {
            sid: "6e2fb550-c457-11e9-bb97-0800200c9a66".into(),
            cid: Some("movie-\"42\"".into()),
            bitrate: Some(3_200_400),
            buffer_level: Some(21.349),
            live: Some(false),
            startup: true,
            starved: true,
        }
    }

    #[test]
    fn query_form_is_one_url_encoded_argument_in_key_order() {
        let q = encode(&state(), Form::Query);
        assert_eq!(
            q,
            "CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22movie-%5C%2242%5C%22%22%2C\
             sid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Cst%3Dv%2Csu"
        );
    }

    #[test]
    fn header_form_puts_each_key_in_its_header() {
        let h = encode(&state(), Form::Headers);
        assert_eq!(
            h,
            "CMCD-Object: br=3200\r\n\
             CMCD-Request: bl=21300,su\r\n\
             CMCD-Session: cid=\"movie-\\\"42\\\"\",sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",st=v\r\n\
             CMCD-Status: bs\r\n"
        );
        let bare = CmcdState {
            sid: "s".into(),
            ..CmcdState::default()
        };
        assert_eq!(encode(&bare, Form::Headers), "CMCD-Session: sid=\"s\"\r\n");
        assert_eq!(encode(&bare, Form::Query), "CMCD=sid%3D%22s%22");
    }

    #[test]
    fn content_ids_stay_ascii_and_short() {
        assert_eq!(cid_text("vidéo 100%"), "vid%C3%A9o 100%25");
        assert_eq!(cid_text(&"x".repeat(80)).len(), 64);
        let cut = cid_text(&format!("{}é", "x".repeat(62)));
        assert_eq!(cut, "x".repeat(62), "an escape is never split");
    }

    #[test]
    fn numbers_round_as_the_standard_says() {
        let s = |bitrate, level| CmcdState {
            sid: "s".into(),
            bitrate,
            buffer_level: level,
            live: Some(false),
            ..CmcdState::default()
        };
        assert_eq!(
            encode(&s(Some(499), Some(0.049)), Form::Headers),
            "CMCD-Object: br=0\r\nCMCD-Request: bl=0\r\nCMCD-Session: sid=\"s\",st=v\r\n"
        );
        assert!(encode(&s(Some(0), None), Form::Headers).starts_with("CMCD-Session"));
        assert!(encode(&s(None, Some(0.05)), Form::Headers).contains("bl=100"));
    }
}
