//! Where notifications go (layer 2, I/O only): an SMTP server ([`email`], lettre) and a
//! Slack incoming webhook ([`slack`], reqwest).
//!
//! A channel sends one already-written [`Message`] and says how it went: delivered, or a
//! [`SendError`] that is either worth retrying later ([`SendError::Transient`]) or not
//! ([`SendError::Permanent`]). What to send, when, and what to do about a failure (the
//! outbox, retries, the alert policy) is the caller's; a channel keeps no state between
//! sends and opens a new connection for each.
//!
//! Reasons are written for an operator: the server's own reply code and text, or the
//! cause of a failed connection in a few words. They never contain a secret: not the
//! SMTP password, not the webhook URL (which is a credential in itself).

use std::fmt;
use std::time::Duration;

use crate::config::{EmailConfig, SlackConfig};

pub mod email;
pub mod slack;

/// One notification, written for every channel; each takes the parts it uses.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub subject: &'a str,
    /// The plain-text body (the email's text part).
    pub text: &'a str,
    /// The email's HTML part (the email is multipart/alternative when present).
    pub html: Option<&'a str>,
    /// The Slack incoming-webhook JSON payload, already rendered. `None`: Slack gets
    /// `{"text": subject + "\n" + text}`.
    pub slack: Option<&'a str>,
}

/// Why a send failed, and whether trying again later can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying later: connection refused/reset, timeout, DNS, TLS handshake failure,
    /// SMTP 4xx, Slack 5xx, Slack 429 (with `retry_after` from the Retry-After header).
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Will not succeed by retrying: SMTP 5xx (e.g. 550 recipient refused, 535 bad
    /// credentials), Slack 4xx other than 429, a webhook that answers 2xx with an HTML
    /// page (wrong URL).
    Permanent { reason: String },
}

impl SendError {
    pub(crate) fn transient(reason: impl Into<String>) -> SendError {
        SendError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub(crate) fn permanent(reason: impl Into<String>) -> SendError {
        SendError::Permanent { reason: reason.into() }
    }

    pub fn reason(&self) -> &str {
        match self {
            SendError::Transient { reason, .. } | SendError::Permanent { reason } => reason,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent { .. })
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for SendError {}

/// A configured channel, ready to send.
#[derive(Debug)]
pub enum Channel {
    Email(email::Email),
    Slack(slack::Slack),
}

impl Channel {
    /// `[alerts.email]`: builds the SMTP transport (reads `ca_file`). An unreadable
    /// `ca_file` or an invalid mailbox is an error naming the key, e.g.
    /// `alerts.email.ca_file /x.pem: No such file or directory (os error 2)`.
    pub fn email(config: &EmailConfig) -> Result<Channel, String> {
        email::Email::new(config).map(Channel::Email)
    }

    /// `[alerts.slack]`: an HTTP client for the webhook.
    pub fn slack(config: &SlackConfig) -> Result<Channel, String> {
        slack::Slack::new(config).map(Channel::Slack)
    }

    /// `"email"` or `"slack"`.
    pub fn name(&self) -> &'static str {
        match self {
            Channel::Email(_) => "email",
            Channel::Slack(_) => "slack",
        }
    }

    /// Sends `message` once, bounded by the channel's `timeout`.
    pub async fn send(&self, message: &Message<'_>) -> Result<(), SendError> {
        match self {
            Channel::Email(email) => email.send(message).await,
            Channel::Slack(slack) => slack.send(message).await,
        }
    }
}

/// The I/O error at the bottom of `e`'s chain, if any.
pub(crate) fn find_io<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests;
