//! Where batches go: one small trait, [`BatchSink`], implemented by the HTTP
//! transport ([`http::HttpSink`], ureq) and by the C batch callback
//! ([`callback::CallbackSink`]). The worker calls it; nothing else does.

pub mod callback;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub mod tls;

use std::time::{Duration, Instant};

use crate::stats::DeliveryError;

/// The protocol a body follows, which decides how an answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// kino's own beacons (a JSON array or NDJSON): 2xx is delivered;
    /// 408, 429 and 5xx are retried.
    Kino,
    /// An OTLP/HTTP logs export: only 429, 502, 503 and 504 are retried,
    /// and a 2xx may report records it rejected (`partialSuccess`).
    Otlp,
}

/// One beacon body: JSON text followed by a NUL, so a C callback can take
/// it as a string without another copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    bytes_with_nul: Vec<u8>,
    content_type: &'static str,
    protocol: Protocol,
}

impl Body {
    /// Wraps a serialized JSON array (which contains no NUL byte).
    pub fn new(json: Vec<u8>) -> Self {
        Self::with_type(json, "application/json", Protocol::Kino)
    }

    /// Wraps newline-delimited JSON records.
    pub fn ndjson(text: Vec<u8>) -> Self {
        Self::with_type(text, "application/x-ndjson", Protocol::Kino)
    }

    /// Wraps an OTLP/JSON `ExportLogsServiceRequest`.
    pub fn otlp(json: Vec<u8>) -> Self {
        Self::with_type(json, "application/json", Protocol::Otlp)
    }

    fn with_type(mut text: Vec<u8>, content_type: &'static str, protocol: Protocol) -> Self {
        text.push(0);
        Body {
            bytes_with_nul: text,
            content_type,
            protocol,
        }
    }

    /// The protocol the body follows.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The `Content-Type` of this body.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The JSON text, without the NUL.
    pub fn json(&self) -> &[u8] {
        &self.bytes_with_nul[..self.bytes_with_nul.len() - 1]
    }

    /// The JSON text followed by its NUL terminator.
    pub fn with_nul(&self) -> &[u8] {
        &self.bytes_with_nul
    }
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The collector (2xx) or callback (0) took the batch.
    Delivered,
    /// The collector took the batch but rejected `rejected` of its records
    /// for good (an OTLP `partialSuccess`), saying why in `message`.
    Partial {
        /// Records rejected.
        rejected: u64,
        /// The collector's explanation.
        message: String,
    },
    /// Not delivered.
    Failed(Failure),
    /// Not attempted: the emitter was freed (the callback's gate is shut).
    Closed,
}

/// Why a delivery attempt failed, and whether trying again could help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// A transient fault (network, timeout, 408, 429, 5xx, callback refusal).
    pub retryable: bool,
    /// The HTTP status, when there was an HTTP answer.
    pub status: Option<u16>,
    /// What the server asked for in `Retry-After`, if anything.
    pub retry_after: Option<Duration>,
    /// What kind of failure, as `KinoStats.last_error` reports it.
    pub kind: DeliveryError,
    /// A short description for diagnostics.
    pub reason: String,
}

/// A destination for batches. Called only from the emitter's worker thread.
pub trait BatchSink: Send + Sync {
    /// Delivers one body, giving up by `deadline`.
    fn deliver(&self, body: &Body, deadline: Instant) -> Outcome;

    /// The HTTP status of the last answer, for sinks that speak HTTP.
    fn last_http_status(&self) -> Option<u16> {
        None
    }

    /// Called once when the emitter is freed, after the worker has stopped
    /// or been given up on. After it returns the sink must not reach the
    /// host again (the callback sink closes its gate here).
    fn close(&self) {}
}
