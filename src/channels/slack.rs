//! The Slack channel: one POST of the message's JSON payload to an incoming webhook.
//!
//! Slack answers `200 ok` (text/plain) when it took the message, 4xx with a word
//! (`invalid_payload`, `no_service`, `invalid_token`, ...) when it never will, 429
//! with `Retry-After` when it is rate limiting, and 5xx when it is unwell. A 2xx with
//! an HTML page is a web site, not a webhook: the URL is wrong.
//!
//! The webhook URL is a credential (whoever has it can post): it is read only to send,
//! reasons say "the Slack webhook" instead, and reqwest's errors, which name the URL,
//! are stripped of it.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::{find_io, Message, SendError};
use crate::config::{format_duration, SlackConfig};
use crate::text::{io_cause, one_line};

/// How much of an answer's body is read (Slack's are a word; a wrong URL's may be a page).
const MAX_BODY: usize = 64 * 1024;
/// How much of it a reason quotes.
const MAX_QUOTE: usize = 200;

/// `[alerts.slack]`, ready to send.
pub struct Slack {
    http: reqwest::Client,
    url: Url,
    timeout: Duration,
}

impl fmt::Debug for Slack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slack")
            .field("webhook_url", &"***")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Slack {
    pub fn new(config: &SlackConfig) -> Result<Slack, String> {
        // The parser's message never repeats the URL.
        let url = Url::parse(config.webhook_url.expose().trim())
            .map_err(|e| format!("alerts.slack.webhook_url: not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("alerts.slack.webhook_url: not an http(s) URL".into());
        }
        crate::tls::install_crypto();
        let http = reqwest::Client::builder()
            // Slack's webhooks answer directly; a redirect means the URL is wrong, and
            // following it would turn the POST into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("alerts.slack: cannot set up the HTTP client: {}", e.without_url()))?;
        Ok(Slack {
            http,
            url,
            timeout: config.timeout,
        })
    }

    /// One POST, bounded by `timeout`.
    pub async fn send(&self, message: &Message<'_>) -> Result<(), SendError> {
        let body = match message.slack {
            Some(payload) => payload.to_string(),
            None => serde_json::json!({ "text": format!("{}\n{}", message.subject, message.text) }).to_string(),
        };
        let sent = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let result = match sent {
            Ok(mut response) => {
                // The status decides; a body that breaks off (a reset after the
                // answer began) is judged without it rather than sent twice.
                let mut body = Vec::new();
                while body.len() < MAX_BODY {
                    match response.chunk().await {
                        Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                        Ok(None) | Err(_) => break,
                    }
                }
                judge(response.status(), response.headers(), &String::from_utf8_lossy(&body))
            }
            Err(e) => Err(failure(e, self.timeout)),
        };
        result.map_err(|e| self.scrubbed(e))
    }

    /// `e` without the webhook URL or its secret path, should anything have quoted them.
    fn scrubbed(&self, e: SendError) -> SendError {
        let scrub = |reason: String| {
            let mut reason = reason.replace(self.url.as_str(), "the Slack webhook");
            for secret in [Some(self.url.path()), self.url.query()].into_iter().flatten() {
                if secret.len() > 1 {
                    reason = reason.replace(secret, "***");
                }
            }
            reason
        };
        match e {
            SendError::Transient { reason, retry_after } => SendError::Transient {
                reason: scrub(reason),
                retry_after,
            },
            SendError::Permanent { reason } => SendError::Permanent { reason: scrub(reason) },
        }
    }
}

/// What an answer means.
fn judge(status: StatusCode, headers: &HeaderMap, body: &str) -> Result<(), SendError> {
    let code = status.as_u16();
    let said = || {
        let text = one_line(body, MAX_QUOTE);
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    };
    if status.is_success() {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/html") {
            return Err(SendError::permanent(
                "the webhook answered an HTML page, not Slack's \"ok\": check alerts.slack.webhook_url",
            ));
        }
        return Ok(());
    }
    if code == 429 {
        let retry_after = retry_after(headers);
        let reason = match retry_after {
            Some(d) => format!(
                "the Slack webhook is rate limiting (HTTP 429); it asks to retry after {}",
                format_duration(d)
            ),
            None => "the Slack webhook is rate limiting (HTTP 429)".to_string(),
        };
        return Err(SendError::Transient { reason, retry_after });
    }
    if status.is_server_error() || code == 408 {
        return Err(SendError::transient(format!(
            "the Slack webhook answered HTTP {code}{}",
            said()
        )));
    }
    if status.is_redirection() {
        return Err(SendError::permanent(format!(
            "the Slack webhook answered a redirect (HTTP {code}), not Slack's \"ok\": check alerts.slack.webhook_url"
        )));
    }
    Err(SendError::permanent(format!(
        "the Slack webhook refused the message: HTTP {code}{}",
        said()
    )))
}

/// `Retry-After` in seconds (Slack's form); an HTTP date is not worth a parser here.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// A request that got no answer.
fn failure(e: reqwest::Error, timeout: Duration) -> SendError {
    let e = e.without_url();
    if e.is_timeout() {
        return SendError::transient(format!(
            "no answer from the Slack webhook within {} (alerts.slack.timeout)",
            format_duration(timeout)
        ));
    }
    if let Some(tls) = rustls_error(&e) {
        return SendError::transient(format!("TLS handshake with the Slack webhook failed: {tls}"));
    }
    let cause = match find_io(&e) {
        Some(io) => io_cause(io),
        None => {
            let mut innermost: &(dyn std::error::Error + 'static) = &e;
            while let Some(source) = innermost.source() {
                innermost = source;
            }
            one_line(&innermost.to_string(), MAX_QUOTE)
        }
    };
    if e.is_connect() {
        SendError::transient(format!("cannot connect to the Slack webhook: {cause}"))
    } else {
        SendError::transient(format!("the request to the Slack webhook failed: {cause}"))
    }
}

fn rustls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(rustls) = err.downcast_ref::<rustls::Error>() {
            return Some(rustls.to_string());
        }
        if let Some(rustls) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(rustls.to_string());
        }
        current = err.source();
    }
    None
}
