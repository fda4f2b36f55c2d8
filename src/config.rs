//! Validated configuration: the safe twin of the C `KinoConfig` builder.
//! Every setter checks its value, so an `Emitter` built from a `Config`
//! never sees a bad one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{system_wall_clock, WallClock};
use crate::error::{Error, Result};
use crate::metadata::{self, Level, Map};
use crate::retry::Backoff;
use crate::transport::callback::CallbackSpec;
use crate::transport::BatchSink;

/// Largest queue capacity accepted (events).
pub const MAX_QUEUE_CAPACITY: u32 = 1_048_576;
/// Smallest body limit accepted (bytes).
pub const MIN_BODY_BYTES: u32 = 1024;
/// Smallest spool size accepted (bytes).
pub const MIN_SPOOL_BYTES: u64 = 64 * 1024;
const _: () = assert!(MIN_SPOOL_BYTES == crate::spool::MIN_MAX_BYTES);
/// Smallest spool age bound accepted (seconds): a batch is never evicted
/// for age before its first send.
pub const MIN_SPOOL_AGE_S: u32 = 60;
const _: () = assert!(MIN_SPOOL_AGE_S as u64 == crate::spool::MIN_MAX_AGE.as_secs());
/// Environment variable read by [`Config::from_env`].
pub const BEACON_URL_ENV: &str = "KINO_BEACON_URL";

/// How an emitter batches and delivers its events.
#[derive(Clone)]
pub struct Config {
    pub(crate) beacon_url: Option<String>,
    pub(crate) batch_size: u32,
    pub(crate) flush_interval: Duration,
    pub(crate) queue_capacity: u32,
    pub(crate) request_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) keep_url_query: bool,
    pub(crate) sink: Option<Arc<dyn BatchSink>>,
    pub(crate) callback: Option<CallbackSpec>,
    pub(crate) backoff: Backoff,
    pub(crate) max_body_bytes: usize,
    pub(crate) gzip: bool,
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) spool_max_bytes: u64,
    pub(crate) spool_max_age: Duration,
    pub(crate) format: BeaconFormat,
    pub(crate) server_error_limit: ServerErrorLimit,
    /// CA certificates (DER) trusted beside Mozilla's roots for https.
    pub(crate) ca_certs: Vec<Vec<u8>>,
    pub(crate) wall_clock: WallClock,
    pub(crate) context: ContextConfig,
}

/// When a batch that keeps getting a server error is given up: after
/// `attempts` such answers in a row, or once `max_age` has passed since
/// the first of them, whichever comes first. Answers that say "try again
/// later" (408, 429, 502, 503, 504) and network errors never count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerErrorLimit {
    /// Server errors in a row that give a batch up (default 8).
    pub attempts: u32,
    /// Longest a batch is retried after its first server error (default
    /// 10 minutes).
    pub max_age: Duration,
}

impl Default for ServerErrorLimit {
    fn default() -> Self {
        ServerErrorLimit {
            attempts: 8,
            max_age: Duration::from_secs(600),
        }
    }
}

/// How a batch is laid out in a beacon body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BeaconFormat {
    /// A JSON array of records (CONTRACT.md §3), `application/json`.
    #[default]
    JsonArray,
    /// One record per line, `application/x-ndjson` (ClickHouse
    /// `JSONEachRow`, Vector, Fluent Bit).
    Ndjson,
    /// An OTLP/HTTP logs export in the OTLP/JSON encoding (docs/OTLP.md),
    /// for an OpenTelemetry Collector's `/v1/logs`.
    OtlpJson,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            beacon_url: None,
            batch_size: 50,
            flush_interval: Duration::from_millis(10_000),
            queue_capacity: 1000,
            request_timeout: Duration::from_millis(10_000),
            shutdown_timeout: Duration::from_millis(2000),
            headers: Vec::new(),
            keep_url_query: false,
            sink: None,
            callback: None,
            backoff: Backoff::default(),
            max_body_bytes: 512 * 1024,
            gzip: false,
            spool_dir: None,
            spool_max_bytes: 10 * 1024 * 1024,
            spool_max_age: Duration::from_secs(7 * 24 * 3600),
            format: BeaconFormat::JsonArray,
            server_error_limit: ServerErrorLimit::default(),
            ca_certs: Vec::new(),
            wall_clock: system_wall_clock,
            context: ContextConfig::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("beacon_url", &self.beacon_url)
            .field("batch_size", &self.batch_size)
            .field("flush_interval", &self.flush_interval)
            .field("queue_capacity", &self.queue_capacity)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("headers", &self.headers)
            .field("keep_url_query", &self.keep_url_query)
            .field("sink", &self.sink.is_some())
            .field("callback", &self.callback)
            .field("backoff", &self.backoff)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("gzip", &self.gzip)
            .field("spool_dir", &self.spool_dir)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("spool_max_age", &self.spool_max_age)
            .field("format", &self.format)
            .field("server_error_limit", &self.server_error_limit)
            .field("ca_certs", &self.ca_certs.len())
            .field("context", &self.context)
            .finish()
    }
}

fn nonzero(value: u32, what: &str) -> Result<u32> {
    if value == 0 {
        Err(Error::invalid(format!("{what} must be greater than zero")))
    } else {
        Ok(value)
    }
}

fn millis(ms: u32, what: &str) -> Result<Duration> {
    nonzero(ms, what).map(|ms| Duration::from_millis(u64::from(ms)))
}

/// Checks that `url` is an absolute http(s) URL with a host (an RFC 3986
/// name, IPv4 address or bracketed IPv6 address) and, if it has one, a port
/// from 1 to 65535, made of printable ASCII (as a request line needs).
pub fn validate_beacon_url(url: &str) -> Result<()> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &url[7..]
    } else if lower.starts_with("https://") {
        &url[8..]
    } else {
        return Err(Error::invalid(format!(
            "beacon URL must start with http:// or https://: {url:?}"
        )));
    };
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(format!(
            "beacon URL holds spaces, control or non-ASCII characters: {url:?}"
        )));
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = match host_port.rfind(':') {
        Some(i) if !host_port.ends_with(']') => {
            let port = &host_port[i + 1..];
            // A TCP port: 1 to 65535.
            let valid = port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p != 0);
            if !valid {
                return Err(Error::invalid(format!(
                    "beacon URL has a bad port: {url:?}"
                )));
            }
            &host_port[..i]
        }
        _ => host_port,
    };
    if host.is_empty() {
        return Err(Error::invalid(format!("beacon URL has no host: {url:?}")));
    }
    // RFC 3986: an IP literal in brackets, or a name (or IPv4 address) of
    // unreserved and sub-delim characters; percent-encoded hosts are not
    // taken (no collector has one, and parsers disagree on them).
    let host_ok = match host.strip_prefix('[') {
        Some(literal) => literal
            .strip_suffix(']')
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        None => host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)),
    };
    if !host_ok {
        return Err(Error::invalid(format!(
            "beacon URL has a bad host: {url:?}"
        )));
    }
    #[cfg(feature = "http")]
    {
        let _: ureq::http::Uri = url
            .parse()
            .map_err(|e| Error::invalid(format!("beacon URL does not parse ({e}): {url:?}")))?;
    }
    Ok(())
}

/// True when `name` is an HTTP token (RFC 9110 §5.6.2).
fn is_http_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

impl Config {
    /// The defaults, with the beacon URL taken from `KINO_BEACON_URL` when
    /// that holds a valid URL (an invalid value is ignored).
    pub fn from_env() -> Self {
        let mut config = Config::default();
        if let Ok(url) = std::env::var(BEACON_URL_ENV) {
            let _ignored_if_invalid = config.set_beacon_url(Some(&url));
        }
        config
    }

    /// Sets (or with `None` clears) the collector URL. A build without the
    /// `http` feature refuses any URL.
    pub fn set_beacon_url(&mut self, url: Option<&str>) -> Result<()> {
        match url {
            None => self.beacon_url = None,
            Some(url) => {
                validate_beacon_url(url)?;
                if !cfg!(feature = "http") {
                    return Err(Error::invalid(
                        "this kino was built without its HTTP transport: deliver through the batch callback",
                    ));
                }
                self.beacon_url = Some(url.to_owned());
            }
        }
        Ok(())
    }

    /// The collector URL, if any.
    pub fn beacon_url(&self) -> Option<&str> {
        self.beacon_url.as_deref()
    }

    /// Events per beacon at most (default 50).
    pub fn set_batch_size(&mut self, events: u32) -> Result<()> {
        self.batch_size = nonzero(events, "batch size")?;
        Ok(())
    }

    /// Longest time an event waits before its batch is sent (default 10 s).
    pub fn set_flush_interval_ms(&mut self, ms: u32) -> Result<()> {
        self.flush_interval = millis(ms, "flush interval")?;
        Ok(())
    }

    /// Events the queue holds before new ones are dropped (default 1000,
    /// at most [`MAX_QUEUE_CAPACITY`]).
    pub fn set_queue_capacity(&mut self, events: u32) -> Result<()> {
        let events = nonzero(events, "queue capacity")?;
        if events > MAX_QUEUE_CAPACITY {
            return Err(Error::invalid(format!(
                "queue capacity {events} exceeds the maximum of {MAX_QUEUE_CAPACITY}"
            )));
        }
        self.queue_capacity = events;
        Ok(())
    }

    /// Bound on one whole HTTP request (default 10 s).
    pub fn set_request_timeout_ms(&mut self, ms: u32) -> Result<()> {
        self.request_timeout = millis(ms, "request timeout")?;
        Ok(())
    }

    /// How long dropping an emitter may spend delivering (default 2 s).
    pub fn set_shutdown_timeout_ms(&mut self, ms: u32) -> Result<()> {
        self.shutdown_timeout = millis(ms, "shutdown timeout")?;
        Ok(())
    }

    /// Adds a header to every beacon. `Content-Type` and `Content-Encoding`
    /// are kino's and refused; `User-Agent` replaces kino's.
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<()> {
        if !is_http_token(name) {
            return Err(Error::invalid(format!(
                "header name is not an HTTP token: {name:?}"
            )));
        }
        // RFC 9110 field values: visible characters, spaces and tabs.
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(Error::invalid(format!(
                "header value for {name} contains CR, LF or another control character"
            )));
        }
        if name.eq_ignore_ascii_case("content-type")
            || name.eq_ignore_ascii_case("content-encoding")
        {
            return Err(Error::invalid(format!(
                "header {name} is set by kino and cannot be configured"
            )));
        }
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Delivers batches to `sink` instead of the beacon URL (`None` clears).
    /// Takes precedence over a C callback.
    pub fn set_batch_sink(&mut self, sink: Option<Arc<dyn BatchSink>>) {
        self.sink = sink;
    }

    /// Delivers batches to a C callback instead of the beacon URL (`None`
    /// clears). Each emitter gets its own gate on it.
    pub fn set_batch_callback(&mut self, callback: Option<CallbackSpec>) {
        self.callback = callback;
    }

    /// Retry waits: the n-th retry waits a random time in
    /// `[min, min(max, min·2ⁿ)]` (defaults 1 000 / 60 000 ms).
    pub fn set_retry_backoff_ms(&mut self, min_ms: u32, max_ms: u32) -> Result<()> {
        let min = millis(min_ms, "minimum retry back-off")?;
        let max = millis(max_ms, "maximum retry back-off")?;
        if max < min {
            return Err(Error::invalid(format!(
                "maximum retry back-off ({max_ms} ms) is below the minimum ({min_ms} ms)"
            )));
        }
        self.backoff = Backoff { min, max };
        Ok(())
    }

    /// Largest beacon body before compression (default 512 KiB, at least
    /// [`MIN_BODY_BYTES`]); batches are split to fit.
    pub fn set_max_body_bytes(&mut self, bytes: u32) -> Result<()> {
        if bytes < MIN_BODY_BYTES {
            return Err(Error::invalid(format!(
                "maximum body size must be at least {MIN_BODY_BYTES} bytes (got {bytes})"
            )));
        }
        self.max_body_bytes = bytes as usize;
        Ok(())
    }

    /// Beacon body layout (default: a JSON array).
    pub fn set_format(&mut self, format: BeaconFormat) {
        self.format = format;
    }

    /// When a batch that keeps getting server errors (a 500 for a body the
    /// server cannot take, say) is given up and counted as failed: after
    /// `attempts` in a row, or `max_age_s` seconds after the first
    /// (defaults 8 and 600). Zero is refused.
    pub fn set_server_error_limit(&mut self, attempts: u32, max_age_s: u32) -> Result<()> {
        let attempts = nonzero(attempts, "server error attempts")?;
        let seconds = nonzero(max_age_s, "server error age")?;
        self.server_error_limit = ServerErrorLimit {
            attempts,
            max_age: Duration::from_secs(u64::from(seconds)),
        };
        Ok(())
    }

    /// Trusts the CA certificates in the PEM text `pem` for an `https://`
    /// collector, beside the built-in (Mozilla) roots — a private
    /// collector's CA, or a test CA. Replaces any CA set before; `None`
    /// clears them.
    pub fn set_ca_pem(&mut self, pem: Option<&[u8]>) -> Result<()> {
        let Some(pem) = pem else {
            self.ca_certs.clear();
            return Ok(());
        };
        #[cfg(feature = "http")]
        {
            self.ca_certs = crate::transport::tls::parse_ca_pem(pem)?;
            Ok(())
        }
        #[cfg(not(feature = "http"))]
        {
            let _ = pem;
            Err(Error::invalid(
                "this kino was built without its HTTP transport: no CA to trust",
            ))
        }
    }

    /// Like [`Config::set_ca_pem`] with the PEM file at `path` (read now).
    pub fn set_ca_file(&mut self, path: Option<&str>) -> Result<()> {
        let Some(path) = path else {
            return self.set_ca_pem(None);
        };
        let pem = std::fs::read(path).map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Io,
                format!("cannot read CA file {path:?}: {e}"),
            )
        })?;
        self.set_ca_pem(Some(&pem))
            .map_err(|e| Error::invalid(format!("CA file {path:?}: {}", e.message)))
    }

    /// Compress beacon bodies with gzip (`Content-Encoding: gzip`).
    pub fn set_gzip(&mut self, on: bool) {
        self.gzip = on;
    }

    /// Keeps undelivered batches in `dir` (created if missing) until they
    /// are delivered, across restarts; `None` turns the spool off.
    /// The path must be absolute: a relative one would depend on the
    /// process's working directory, which an app does not control.
    pub fn set_spool_dir(&mut self, dir: Option<&str>) -> Result<()> {
        match dir {
            Some("") => return Err(Error::invalid("spool directory must not be empty")),
            Some(d) if !std::path::Path::new(d).is_absolute() => {
                return Err(Error::invalid(format!(
                    "spool directory must be an absolute path (got {d:?})"
                )))
            }
            Some(d) => self.spool_dir = Some(PathBuf::from(d)),
            None => self.spool_dir = None,
        }
        Ok(())
    }

    /// Test seam: where the worker reads the wall-clock time that records'
    /// timestamps are dated on (default `SystemTime::now`). QoE durations
    /// never use it.
    #[doc(hidden)]
    pub fn set_wall_clock(&mut self, clock: WallClock) {
        self.wall_clock = clock;
    }

    /// Bound on the spool's size on disk (default 10 MiB, at least 64 KiB);
    /// past it the oldest batches are evicted.
    pub fn set_spool_max_bytes(&mut self, bytes: u64) -> Result<()> {
        if bytes < MIN_SPOOL_BYTES {
            return Err(Error::invalid(format!(
                "spool size must be at least {MIN_SPOOL_BYTES} bytes (got {bytes})"
            )));
        }
        self.spool_max_bytes = bytes;
        Ok(())
    }

    /// Batches older than this on disk are evicted (default 7 days, at
    /// least [`MIN_SPOOL_AGE_S`]).
    pub fn set_spool_max_age_s(&mut self, seconds: u32) -> Result<()> {
        if seconds < MIN_SPOOL_AGE_S {
            return Err(Error::invalid(format!(
                "spool maximum age must be at least {MIN_SPOOL_AGE_S} seconds (got {seconds})"
            )));
        }
        self.spool_max_age = Duration::from_secs(u64::from(seconds));
        Ok(())
    }

    /// Keep the query string and fragment of `load` URLs (default false:
    /// they are removed, as signed media URLs carry access tokens).
    pub fn set_keep_url_query(&mut self, keep: bool) {
        self.keep_url_query = keep;
    }
}

/// The context settings of issue 9: session metadata, where it goes, and
/// sampling.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContextConfig {
    /// Session-level metadata the host set (kino's own keys come on top).
    pub metadata: Map,
    /// Merged metadata on every record of a view, not only `load`/`qoe`.
    pub metadata_on_every_record: bool,
    /// Share of sessions collected, in (0, 1].
    pub sample_rate: f64,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            metadata: Map::new(),
            metadata_on_every_record: false,
            sample_rate: 1.0,
        }
    }
}

impl Config {
    /// Sets (`Some`) or removes (`None`) a session-level metadata key for
    /// every emitter made from this config (rules in [`crate::metadata`]).
    pub fn set_metadata(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        metadata::check_key(key)?;
        let value = value.map(|v| metadata::check_value(key, v)).transpose()?;
        metadata::put(&mut self.context.metadata, key, value, Level::Session)?;
        Ok(())
    }

    /// Put the merged metadata on every record of a view (default false:
    /// on `load` and `qoe` records only).
    pub fn set_metadata_on_every_record(&mut self, on: bool) {
        self.context.metadata_on_every_record = on;
    }

    /// The share of sessions collected, in (0, 1] (default 1); decided per
    /// emitter by [`crate::sampling`].
    pub fn set_sample_rate(&mut self, rate: f64) -> Result<()> {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(Error::invalid(format!(
                "sample rate must be above 0 and at most 1 (got {rate})"
            )));
        }
        self.context.sample_rate = rate;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn zero_values_are_refused() {
        let mut c = Config::default();
        assert_eq!(
            c.set_batch_size(0).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert!(c.set_flush_interval_ms(0).is_err());
        assert!(c.set_queue_capacity(0).is_err());
        assert!(c.set_request_timeout_ms(0).is_err());
        assert!(c.set_shutdown_timeout_ms(0).is_err());
        assert!(c.set_queue_capacity(MAX_QUEUE_CAPACITY + 1).is_err());
        assert!(c.set_queue_capacity(MAX_QUEUE_CAPACITY).is_ok());
        assert_eq!(c.batch_size, 50);
        assert!(c.set_retry_backoff_ms(0, 10).is_err());
        assert!(c.set_retry_backoff_ms(10, 5).is_err());
        assert!(c.set_retry_backoff_ms(10, 10).is_ok());
        assert!(c.set_max_body_bytes(MIN_BODY_BYTES - 1).is_err());
        assert!(c.set_spool_max_bytes(MIN_SPOOL_BYTES - 1).is_err());
        assert!(c.set_spool_max_bytes(MIN_SPOOL_BYTES).is_ok());
        assert!(c.set_spool_max_age_s(0).is_err());
        // The spool raised 1..59 to 60 without a word.
        assert!(c.set_spool_max_age_s(MIN_SPOOL_AGE_S - 1).is_err());
        assert!(c.set_spool_max_age_s(MIN_SPOOL_AGE_S).is_ok());
        assert_eq!(c.spool_max_age, crate::spool::MIN_MAX_AGE);
        assert!(c.set_spool_dir(Some("")).is_err());
        assert!(c.set_spool_dir(Some("relative/spool")).is_err());
        assert!(c.set_spool_dir(Some("/abs/spool")).is_ok());
    }

    #[test]
    fn beacon_urls_are_checked() {
        for ok in [
            "http://127.0.0.1:9/b",
            "http://h:65535/",
            "http://h:00080/",
            "http://[::1]:8080/",
            "http://[2001:db8::7]/",
            "https://collector.example/v1",
            "HTTP://x",
        ] {
            assert!(validate_beacon_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://x/",
            "http://",
            "collector.example",
            "http:// bad host/",
            "http://h:port/",
            // Found by fuzz/validation: five digits passed, any value.
            "http://h:65536/",
            "http://h:99999/",
            "http://h:0/",
            "https://6[]yA/",
            "http://[:]/",
            "http://[::1/",
            "http://h%41/",
            "http://a<b/",
            "http://:80/",
            "https://h\n/",
        ] {
            assert!(validate_beacon_url(bad).is_err(), "{bad}");
        }
        let mut c = Config::default();
        if cfg!(feature = "http") {
            c.set_beacon_url(Some("http://a/")).unwrap();
            assert_eq!(c.beacon_url(), Some("http://a/"));
        } else {
            let e = c.set_beacon_url(Some("http://a/")).unwrap_err();
            assert!(e.message.contains("without its HTTP transport"));
        }
        c.set_beacon_url(None).unwrap();
        assert_eq!(c.beacon_url(), None);
    }

    #[test]
    fn headers_are_checked() {
        let mut c = Config::default();
        assert!(c.add_header("X-Api-Key", "abc").is_ok());
        assert!(c.add_header("User-Agent", "player/1").is_ok());
        assert!(c.add_header("Bad Name", "x").is_err());
        assert!(c.add_header("", "x").is_err());
        assert!(c.add_header("X-A", "a\r\nInjected: 1").is_err());
        assert!(c.add_header("X-A", "a\x01b").is_err());
        assert!(c.add_header("X-A", "a\x7fb").is_err());
        assert!(c.add_header("X-A", "tab\tand space ok").is_ok());
        assert!(c.add_header("content-type", "text/plain").is_err());
        assert!(c.add_header("Content-Encoding", "br").is_err());
        assert_eq!(c.headers.len(), 3);
    }
}
