//! `[alerts]`: the policy's intervals, delivery retries, and the email and Slack
//! channels.
//!
//! A channel is on when its table is present. Each of its deployment-specific values
//! may instead come from the environment (`SMTP_HOST`, `SMTP_PORT`, `SMTP_USERNAME`,
//! `SMTP_PASSWORD`, `SMTP_FROM`, `SMTP_TO`, `SLACK_WEBHOOK_URL`), so `[alerts.slack]`
//! alone is a working Slack channel in a container that has `SLACK_WEBHOOK_URL`.
//! Passwords and the webhook URL are credentials: no message quotes them.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::super::raw::{RawAlerts, RawConfig, RawEmail, RawSlack, Scalar};
use super::super::{AlertsConfig, EmailConfig, Secret, Severity, SlackConfig, SmtpSecurity};
use super::Validator;

const GROUP_WAIT: Duration = Duration::from_secs(30);
const GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
const REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 60 * 60);
const RETRY_INITIAL: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(5 * 60);
const STDERR_LINES: usize = 20;
const MAX_STDERR_LINES: usize = 200;
const CHANNEL_TIMEOUT: Duration = Duration::from_secs(15);

pub const SEVERITIES: [(&str, Severity); 4] = [
    ("info", Severity::Info),
    ("warning", Severity::Warning),
    ("error", Severity::Error),
    ("critical", Severity::Critical),
];
const SECURITY: [(&str, SmtpSecurity); 3] = [
    ("starttls", SmtpSecurity::StartTls),
    ("tls", SmtpSecurity::Tls),
    ("none", SmtpSecurity::None),
];

impl Validator<'_> {
    pub(super) fn alerts(&mut self, raw: &RawConfig) -> AlertsConfig {
        let a = raw.alerts.as_ref();
        let d = |f: fn(&RawAlerts) -> Option<&Spanned<Scalar>>| a.and_then(f);
        let group_wait = self.duration(d(|a| a.group_wait.as_ref()), "alerts.group_wait", GROUP_WAIT);
        let group_interval = self.duration(
            d(|a| a.group_interval.as_ref()),
            "alerts.group_interval",
            GROUP_INTERVAL,
        );
        let repeat_interval = self.duration(
            d(|a| a.repeat_interval.as_ref()),
            "alerts.repeat_interval",
            REPEAT_INTERVAL,
        );
        let retry_initial = self.positive(d(|a| a.retry_initial.as_ref()), "alerts.retry_initial", RETRY_INITIAL);
        let retry_max = self.positive(d(|a| a.retry_max.as_ref()), "alerts.retry_max", RETRY_MAX);
        if retry_max < retry_initial {
            if let Some(v) = d(|a| a.retry_max.as_ref()) {
                self.error(
                    &v.span(),
                    "alerts.retry_max must not be shorter than alerts.retry_initial",
                );
            }
        }
        if repeat_interval < group_interval {
            if let Some(v) = d(|a| a.repeat_interval.as_ref()) {
                self.error(
                    &v.span(),
                    "alerts.repeat_interval must not be shorter than alerts.group_interval",
                );
            }
        }
        let stderr_lines = self.integer::<usize>(d(|a| a.stderr_lines.as_ref()), "alerts.stderr_lines", STDERR_LINES);
        let stderr_lines = if stderr_lines > MAX_STDERR_LINES {
            if let Some(v) = d(|a| a.stderr_lines.as_ref()) {
                self.error(
                    &v.span(),
                    format!("alerts.stderr_lines must be at most {MAX_STDERR_LINES}, not {stderr_lines}"),
                );
            }
            STDERR_LINES
        } else {
            stderr_lines
        };
        let email = a.and_then(|a| a.email.as_ref()).and_then(|e| self.email(e));
        let slack = a.and_then(|a| a.slack.as_ref()).and_then(|s| self.slack(s));
        AlertsConfig {
            group_wait,
            group_interval,
            repeat_interval,
            retry_initial,
            retry_max,
            stderr_lines,
            email,
            slack,
        }
    }

    fn positive(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: Duration) -> Duration {
        let d = self.duration(value, key, default);
        match value {
            Some(v) if d.is_zero() => {
                self.error(&v.span(), format!("{key} must be longer than 0s"));
                default
            }
            _ => d,
        }
    }

    /// The key's text (`${VAR}` substituted), else the environment variable's, else
    /// `None`; an empty environment value counts as unset.
    fn text_or_env(&mut self, value: Option<&Spanned<Scalar>>, key: &str, var: &str) -> Option<String> {
        match value {
            Some(v) => self.non_empty_text(v, key),
            None => (self.env)(var).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        }
    }

    fn min_severity(&mut self, value: Option<&Spanned<Scalar>>, key: &str) -> Severity {
        self.choice(value, key, Severity::Info, &SEVERITIES)
    }

    fn email(&mut self, table: &Spanned<RawEmail>) -> Option<EmailConfig> {
        let span = table.span();
        let e = table.get_ref();
        let missing = |this: &mut Self, what: &str, var: &str| {
            this.error(
                &span,
                format!("[alerts.email] needs {what}: set it here or in the environment variable {var}"),
            );
        };
        let host = self.text_or_env(e.host.as_ref(), "alerts.email.host", "SMTP_HOST");
        if host.is_none() && e.host.is_none() {
            missing(self, "host (the SMTP server)", "SMTP_HOST");
        }
        let security = self.choice(
            e.security.as_ref(),
            "alerts.email.security",
            SmtpSecurity::StartTls,
            &SECURITY,
        );
        let default_port = match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        };
        let port = self.smtp_port(e.port.as_ref(), default_port, &span);
        let username = self.text_or_env(e.username.as_ref(), "alerts.email.username", "SMTP_USERNAME");
        let password = self
            .text_or_env(e.password.as_ref(), "alerts.email.password", "SMTP_PASSWORD")
            .map(Secret::new);
        match (&username, &password) {
            (Some(_), None) => self.error(
                &span,
                "[alerts.email] has a username but no password: set password or SMTP_PASSWORD",
            ),
            (None, Some(_)) => self.error(
                &span,
                "[alerts.email] has a password but no username: set username or SMTP_USERNAME",
            ),
            _ => {}
        }
        let from = self.text_or_env(e.from.as_ref(), "alerts.email.from", "SMTP_FROM");
        match &from {
            Some(f) => self.mailbox(
                e.from.as_ref().map(Spanned::span).unwrap_or(span.clone()),
                "alerts.email.from",
                f,
            ),
            None if e.from.is_none() => missing(self, "from (the sender's address)", "SMTP_FROM"),
            None => {}
        }
        let to = self.recipients(e, &span);
        let ca_file = e
            .ca_file
            .as_ref()
            .and_then(|v| self.non_empty_text(v, "alerts.email.ca_file"))
            .map(PathBuf::from);
        let min_severity = self.min_severity(e.min_severity.as_ref(), "alerts.email.min_severity");
        let timeout = self.positive(e.timeout.as_ref(), "alerts.email.timeout", CHANNEL_TIMEOUT);
        Some(EmailConfig {
            host: host?,
            port,
            security,
            username,
            password,
            from: from?,
            to: to?,
            ca_file,
            min_severity,
            timeout,
        })
    }

    fn smtp_port(&mut self, value: Option<&Spanned<Scalar>>, default: u16, table: &Range<usize>) -> u16 {
        let from_env = || {
            (self.env)("SMTP_PORT")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        match value {
            Some(v) => match v.get_ref() {
                Scalar::Int(i) if (1..=65535).contains(i) => *i as u16,
                Scalar::Str(_) => match self.text(v, "alerts.email.port").map(|t| t.trim().parse::<u16>()) {
                    Some(Ok(p)) if p > 0 => p,
                    Some(_) => {
                        self.error(&v.span(), "alerts.email.port must be a port number from 1 to 65535");
                        default
                    }
                    None => default,
                },
                other => {
                    self.error(
                        &v.span(),
                        format!("alerts.email.port must be a port number from 1 to 65535, not {other}"),
                    );
                    default
                }
            },
            None => match from_env() {
                Some(text) => match text.parse::<u16>() {
                    Ok(p) if p > 0 => p,
                    _ => {
                        self.error(
                            table,
                            format!("[alerts.email] takes its port from SMTP_PORT, which must be a port number from 1 to 65535, not {text:?}"),
                        );
                        default
                    }
                },
                None => default,
            },
        }
    }

    /// `to = [...]`, else `SMTP_TO` (comma-separated).
    fn recipients(&mut self, e: &RawEmail, span: &Range<usize>) -> Option<Vec<String>> {
        let mut out = Vec::new();
        match &e.to {
            Some(values) => {
                for v in values {
                    if let Some(t) = self.non_empty_text(v, "alerts.email.to") {
                        for one in t.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                            self.mailbox(v.span(), "alerts.email.to", one);
                            out.push(one.to_owned());
                        }
                    }
                }
                if values.is_empty() {
                    self.error(span, "alerts.email.to is empty: list at least one recipient");
                    return None;
                }
            }
            None => match (self.env)("SMTP_TO") {
                Some(list) if !list.trim().is_empty() => {
                    for one in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        self.mailbox(span.clone(), "SMTP_TO", one);
                        out.push(one.to_owned());
                    }
                }
                _ => {
                    self.error(
                        span,
                        "[alerts.email] needs to (the recipients): set to = [\"you@example.com\"] or the environment variable SMTP_TO",
                    );
                    return None;
                }
            },
        }
        (!out.is_empty()).then_some(out)
    }

    /// A mailbox as lettre reads it: `user@host` or `Name <user@host>`.
    fn mailbox(&mut self, span: Range<usize>, key: &str, text: &str) {
        let address = match (text.rfind('<'), text.strip_suffix('>')) {
            (Some(open), Some(inner)) => &inner[open + 1..],
            _ => text,
        };
        let valid = match address.split_once('@') {
            Some((user, host)) => {
                !user.is_empty() && !host.is_empty() && !address.contains(char::is_whitespace) && !host.contains('@')
            }
            None => false,
        };
        if !valid {
            self.error(
                &span,
                format!("{key}: {text:?} is not an email address (write user@example.com or Name <user@example.com>)"),
            );
        }
    }

    fn slack(&mut self, table: &Spanned<RawSlack>) -> Option<SlackConfig> {
        let span = table.span();
        let s = table.get_ref();
        let url = self.text_or_env(s.webhook_url.as_ref(), "alerts.slack.webhook_url", "SLACK_WEBHOOK_URL");
        let at = s.webhook_url.as_ref().map(Spanned::span).unwrap_or(span.clone());
        match &url {
            None if s.webhook_url.is_none() => self.error(
                &span,
                "[alerts.slack] needs webhook_url: set it here or in the environment variable SLACK_WEBHOOK_URL",
            ),
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => self.error(
                &at,
                "alerts.slack.webhook_url must be an http:// or https:// URL (Slack's look like https://hooks.slack.com/services/...)",
            ),
            _ => {}
        }
        let min_severity = self.min_severity(s.min_severity.as_ref(), "alerts.slack.min_severity");
        let timeout = self.positive(s.timeout.as_ref(), "alerts.slack.timeout", CHANNEL_TIMEOUT);
        Some(SlackConfig {
            webhook_url: Secret::new(url?),
            min_severity,
            timeout,
        })
    }
}
