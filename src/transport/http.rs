//! HTTP delivery with ureq: one `POST` per batch (CONTRACT.md §3).

use std::time::{Duration, Instant};

use ureq::Agent;

use super::{BatchSink, Body, Failure, Outcome};

/// `User-Agent` kino sends unless a header overrides it.
pub const USER_AGENT: &str = concat!("kino/", env!("CARGO_PKG_VERSION"));

/// POSTs batches as JSON to a collector URL.
pub struct HttpSink {
    agent: Agent,
    url: String,
    headers: Vec<(String, String)>,
    request_timeout: Duration,
}

impl HttpSink {
    /// A sink for `url` with extra `headers`; each request is bounded by
    /// `request_timeout` as a whole (connect, send and answer together).
    pub fn new(url: String, headers: Vec<(String, String)>, request_timeout: Duration) -> Self {
        let agent: Agent = Agent::config_builder()
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
        }
    }
}

/// Parses a `Retry-After` value given in seconds (HTTP dates are left to the
/// retry policy, which does not exist yet).
fn retry_after_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl BatchSink for HttpSink {
    fn deliver(&self, body: &Body, deadline: Instant) -> Outcome {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Outcome::Failed(Failure {
                retryable: true,
                status: None,
                retry_after: None,
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
            .header("Content-Type", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send(body.json()) {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after_seconds);
                // Read (and discard) a little of the body so the connection
                // can be reused; the answer's content is not used.
                let mut response = response;
                let _ = response
                    .body_mut()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_vec();
                if (200..300).contains(&status) {
                    Outcome::Delivered
                } else {
                    Outcome::Failed(Failure {
                        retryable: status == 408 || status == 429 || status >= 500,
                        status: Some(status),
                        retry_after,
                        reason: format!("collector answered HTTP {status}"),
                    })
                }
            }
            Err(e) => Outcome::Failed(Failure {
                retryable: true,
                status: None,
                retry_after: None,
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
    fn retry_after_in_seconds() {
        assert_eq!(retry_after_seconds(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(retry_after_seconds("soon"), None);
    }
}
