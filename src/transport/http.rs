//! HTTP delivery with ureq: one `POST` per batch (CONTRACT.md §3).

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use flate2::write::GzEncoder;
use flate2::Compression;
use ureq::Agent;

use super::{BatchSink, Body, Failure, Outcome, Protocol};
use crate::retry::parse_retry_after;
use crate::stats::DeliveryError;

/// Most of an answer's body kino reads (to explain a refusal, or for an
/// OTLP partial success).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Most of an answer's body quoted in a failure's reason.
const MAX_QUOTED_BYTES: usize = 512;

/// What an HTTP answer means for the batch, by the body's protocol.
fn read_answer(
    protocol: Protocol,
    status: u16,
    retry_after: Option<std::time::Duration>,
    answer: &[u8],
) -> Outcome {
    if (200..300).contains(&status) {
        if protocol == Protocol::Otlp {
            if let Some(p) = crate::otlp::parse_partial_success(answer) {
                if p.rejected > 0 {
                    return Outcome::Partial {
                        rejected: p.rejected,
                        message: p.message,
                    };
                }
            }
        }
        return Outcome::Delivered;
    }
    let retryable = match protocol {
        Protocol::Kino => status == 408 || status == 429 || status >= 500,
        Protocol::Otlp => crate::otlp::is_retryable_status(status),
    };
    let quoted = quote(answer);
    Outcome::Failed(Failure {
        retryable,
        status: Some(status),
        retry_after,
        kind: DeliveryError::HttpStatus,
        reason: if quoted.is_empty() {
            format!("collector answered HTTP {status}")
        } else {
            format!("collector answered HTTP {status}: {quoted}")
        },
    })
}

/// The start of an answer's body as one line of text, for a message.
fn quote(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::sanitize::truncate_utf8(&line, MAX_QUOTED_BYTES).to_owned()
}

/// `User-Agent` kino sends unless a header overrides it.
pub const USER_AGENT: &str = concat!("kino/", env!("CARGO_PKG_VERSION"));

/// POSTs batches as JSON to a collector URL.
pub struct HttpSink {
    agent: Agent,
    url: String,
    headers: Vec<(String, String)>,
    request_timeout: Duration,
    gzip: bool,
    /// The last HTTP status received (0: none yet).
    last_status: AtomicU32,
}

impl HttpSink {
    /// A sink for `url` with extra `headers`; each request is bounded by
    /// `request_timeout` as a whole (connect, send and answer together).
    /// With `gzip`, bodies are sent compressed (`Content-Encoding: gzip`).
    /// `extra_cas` (DER) are trusted beside Mozilla's roots ([`super::tls`]).
    pub fn new(
        url: String,
        headers: Vec<(String, String)>,
        request_timeout: Duration,
        gzip: bool,
        extra_cas: &[Vec<u8>],
    ) -> Self {
        let agent: Agent = Agent::config_builder()
            .tls_config(super::tls::tls_config(extra_cas))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(USER_AGENT)
            .timeout_global(Some(request_timeout))
            .build()
            .into();
        HttpSink {
            agent,
            url,
            headers,
            request_timeout,
            gzip,
            last_status: AtomicU32::new(0),
        }
    }
}

/// True for failures of the network or the peer, which another attempt
/// may get past; false for requests kino itself cannot build or send,
/// which would fail the same way forever.
fn is_transient(error: &ureq::Error) -> bool {
    use ureq::Error as E;
    !matches!(
        error,
        E::Http(_)
            | E::BadUri(_)
            | E::InvalidProxyUrl
            | E::RedirectFailed
            | E::TooManyRedirects
            | E::BodyExceedsLimit(_)
            | E::RequireHttpsOnly(_)
    )
}

/// The `KinoStats.last_error` kind of a request that got no answer. A
/// refused certificate reaches ureq as an I/O error wrapping rustls's.
fn error_kind(error: &ureq::Error) -> DeliveryError {
    match error {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => DeliveryError::Tls,
        ureq::Error::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()) =>
        {
            DeliveryError::Tls
        }
        _ => DeliveryError::Network,
    }
}

/// Compresses `data` with gzip.
fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

impl BatchSink for HttpSink {
    fn last_http_status(&self) -> Option<u16> {
        match self.last_status.load(Relaxed) {
            0 => None,
            s => u16::try_from(s).ok(),
        }
    }

    fn deliver(&self, body: &Body, deadline: Instant) -> Outcome {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Outcome::Failed(Failure {
                retryable: true,
                status: None,
                retry_after: None,
                kind: DeliveryError::Network,
                reason: "no time left to send".into(),
            });
        }
        let timeout = remaining.min(self.request_timeout);
        let mut request = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Content-Type", body.content_type());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let sent = if self.gzip {
            match gzip(body.json()) {
                Ok(compressed) => request
                    .header("Content-Encoding", "gzip")
                    .send(&compressed[..]),
                Err(e) => {
                    return Outcome::Failed(Failure {
                        retryable: false,
                        status: None,
                        retry_after: None,
                        kind: DeliveryError::Internal,
                        reason: format!("gzip failed: {e}"),
                    })
                }
            }
        } else {
            request.send(body.json())
        };
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                self.last_status.store(u32::from(status), Relaxed);
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                // Read (a bounded part of) the body: the connection can then
                // be reused, and the server's words explain a refusal.
                let mut response = response;
                let answer = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_ANSWER_BYTES)
                    .read_to_vec()
                    .unwrap_or_default();
                read_answer(body.protocol(), status, retry_after, &answer)
            }
            Err(e) => Outcome::Failed(Failure {
                retryable: is_transient(&e),
                status: None,
                retry_after: None,
                kind: error_kind(&e),
                reason: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_the_crate_version() {
        assert_eq!(USER_AGENT, format!("kino/{}", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn answers_are_read_by_protocol() {
        let retry = |protocol, status| match read_answer(protocol, status, None, b"") {
            Outcome::Failed(f) => f.retryable,
            other => panic!("{status}: {other:?}"),
        };
        for s in [408, 429, 500, 501, 502, 503, 504] {
            assert!(retry(Protocol::Kino, s), "{s}");
        }
        assert!(!retry(Protocol::Kino, 400));
        for s in [429, 502, 503, 504] {
            assert!(retry(Protocol::Otlp, s), "{s}");
        }
        for s in [400, 408, 500, 501] {
            assert!(!retry(Protocol::Otlp, s), "{s}");
        }
        let partial = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad attr"}}"#;
        assert_eq!(
            read_answer(Protocol::Otlp, 200, None, partial),
            Outcome::Partial {
                rejected: 2,
                message: "bad attr".into()
            }
        );
        assert_eq!(
            read_answer(Protocol::Kino, 200, None, partial),
            Outcome::Delivered
        );
        assert_eq!(
            read_answer(Protocol::Otlp, 200, None, b"{}"),
            Outcome::Delivered
        );
        match read_answer(
            Protocol::Kino,
            500,
            None,
            b"Code: 27.\nDB::Exception: Cannot parse input",
        ) {
            Outcome::Failed(f) => assert_eq!(
                f.reason,
                "collector answered HTTP 500: Code: 27. DB::Exception: Cannot parse input"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let data = b"[{\"event\":\"play\"}]".repeat(100);
        let packed = gzip(&data).unwrap();
        assert!(packed.len() < data.len());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
