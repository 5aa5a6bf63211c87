//! The email channel: one SMTP delivery per send with lettre's async transport (tokio,
//! rustls with `ring`).
//!
//! `security` picks how the connection is secured: `starttls` (STARTTLS is required;
//! lettre refuses to go on without it), `tls` (TLS from the first byte) or `none`.
//! Certificates are checked against the system's roots (rustls-platform-verifier) plus
//! those of `ca_file`. A message has a text/plain body, or text/plain and text/html as
//! multipart/alternative.
//!
//! lettre tells an SMTP reply apart from everything else (`status()`, 4xx transient and
//! 5xx permanent), but reports a refused connection and a failed TLS handshake alike
//! (both "Connection error"): a failed handshake is recognised by the rustls error, or
//! by the second "connection" layer lettre's TLS upgrade wraps around it.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::{find_io, Message, SendError};
use crate::config::{format_duration, EmailConfig, Secret, SmtpSecurity};
use crate::text::{io_cause, one_line};

/// The longest piece of a server's reply quoted in a reason.
const MAX_QUOTE: usize = 300;

/// `[alerts.email]`, ready to send.
pub struct Email {
    /// Boxed: the transport is large, and `Channel` holds an `Email` or a `Slack`.
    transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// `host:port`, for reasons.
    server: String,
    security: SmtpSecurity,
    timeout: Duration,
    /// Kept only to make sure a reason never repeats it.
    password: Option<Secret>,
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("server", &self.server)
            .field("security", &self.security)
            .field("from", &self.from.to_string())
            .field("to", &self.to.iter().map(ToString::to_string).collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Email {
    pub fn new(config: &EmailConfig) -> Result<Email, String> {
        crate::tls::install_crypto();
        let from = mailbox("alerts.email.from", &config.from)?;
        if config.to.is_empty() {
            return Err("alerts.email.to: no recipient".into());
        }
        let to = config
            .to
            .iter()
            .map(|to| mailbox("alerts.email.to", to))
            .collect::<Result<Vec<_>, _>>()?;

        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(config)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(config)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            .port(config.port)
            .tls(tls)
            // lettre bounds only the TCP connect with it; `send` bounds the whole dialogue.
            .timeout(Some(config.timeout));
        match (&config.username, &config.password) {
            (Some(username), Some(password)) => {
                builder = builder.credentials(Credentials::new(username.clone(), password.expose().to_string()));
            }
            (None, None) => {}
            _ => return Err("alerts.email.username and alerts.email.password: set both or neither".into()),
        }
        Ok(Email {
            transport: Box::new(builder.build()),
            from,
            to,
            server: server(&config.host, config.port),
            security: config.security,
            timeout: config.timeout,
            password: config.password.clone(),
        })
    }

    /// One delivery to every recipient, bounded by `timeout`.
    pub async fn send(&self, message: &Message<'_>) -> Result<(), SendError> {
        let email = self.build(message)?;
        match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.scrubbed(classify(&e, &self.server, self.security))),
            Err(_) => Err(SendError::transient(format!(
                "the SMTP dialogue with {} did not finish within {} (alerts.email.timeout)",
                self.server,
                format_duration(self.timeout)
            ))),
        }
    }

    fn build(&self, message: &Message<'_>) -> Result<lettre::Message, SendError> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            // A header is one line: a line break in a subject would end it.
            .subject(one_line(message.subject, 998))
            .message_id(None)
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")).to_string());
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let text = message.text.to_string();
        let built = match message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html.to_string())),
            None => builder.singlepart(SinglePart::plain(text)),
        };
        built.map_err(|e| SendError::permanent(format!("cannot write the email: {e}")))
    }

    /// `e` with the password blanked out, should a server ever quote it.
    fn scrubbed(&self, e: SendError) -> SendError {
        let Some(password) = self.password.as_ref().map(Secret::expose).filter(|p| !p.is_empty()) else {
            return e;
        };
        if !e.reason().contains(password) {
            return e;
        }
        match e {
            SendError::Transient { reason, retry_after } => SendError::Transient {
                reason: reason.replace(password, "***"),
                retry_after,
            },
            SendError::Permanent { reason } => SendError::Permanent {
                reason: reason.replace(password, "***"),
            },
        }
    }
}

fn mailbox(key: &str, text: &str) -> Result<Mailbox, String> {
    text.trim().parse::<Mailbox>().map_err(|e| {
        format!("{key} `{text}`: not a valid mailbox ({e}); write warden@example.com or Warden <warden@example.com>")
    })
}

/// `host:port`, with brackets around an IPv6 address.
fn server(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The server's name for TLS (checked against its certificate), and the roots to trust:
/// the system's, plus `ca_file`'s.
fn tls_parameters(config: &EmailConfig) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| format!("alerts.email.ca_file {shown}: {e}"))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("alerts.email.ca_file {shown}: not PEM certificates ({e})"))?;
        if certs.is_empty() {
            return Err(format!("alerts.email.ca_file {shown}: no certificate in it"));
        }
        for cert in certs {
            let cert = Certificate::from_der(cert.to_vec())
                .map_err(|e| format!("alerts.email.ca_file {shown}: {}", chain(&e)))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build_rustls()
        .map_err(|e| format!("alerts.email: cannot set up TLS for {}: {}", config.host, chain(&e)))
}

/// What went wrong, for an operator: the server's reply (code and text) when there is
/// one, else the connection or TLS failure in a few words.
fn classify(e: &SmtpError, server: &str, security: SmtpSecurity) -> SendError {
    if let Some(code) = e.status() {
        let said = e
            .source()
            .map(|s| one_line(&s.to_string(), MAX_QUOTE))
            .unwrap_or_default();
        let mut reason = format!("SMTP {code} {said}").trim_end().to_string();
        if code.to_string() == "535" {
            reason.push_str(" (check alerts.email.username and alerts.email.password)");
        }
        return if e.is_permanent() {
            SendError::permanent(reason)
        } else {
            SendError::transient(reason)
        };
    }
    if let Some(tls) = tls_failure(e) {
        let mut reason = format!("TLS handshake with {server} failed: {tls}");
        if security == SmtpSecurity::Tls && tls.contains("InvalidContentType") {
            // What a server that is not speaking TLS yet (port 587, 25) answers with.
            reason.push_str(" (the server does not speak TLS from the first byte: security = \"starttls\"?)");
        }
        return SendError::transient(reason);
    }
    if e.is_timeout() {
        return SendError::transient(format!("cannot connect to {server}: timed out"));
    }
    let cause = e.source().map(cause).unwrap_or_else(|| e.to_string());
    if e.is_client() {
        // lettre's own refusals, all of them about what this server offers.
        let reason = if cause.contains("STARTTLS") {
            format!(
                "{server} does not offer STARTTLS, which alerts.email.security = \"{}\" requires",
                security.as_str()
            )
        } else if cause.contains("authentication mechanism") {
            format!("{server} offers no authentication warden can use (PLAIN or LOGIN); is the connection encrypted as the server expects (alerts.email.security)?")
        } else {
            format!("cannot send through {server}: {cause}")
        };
        return SendError::permanent(reason);
    }
    if e.is_response() {
        return SendError::transient(format!("{server} answered something that is not SMTP: {cause}"));
    }
    if e.is_transport_shutdown() {
        return SendError::transient("the SMTP transport was shut down");
    }
    // Connection (connect, DNS) or network (the dialogue broke off): lettre says which
    // only in its words.
    if e.to_string().starts_with("network error") {
        SendError::transient(format!("the connection to {server} broke off: {cause}"))
    } else {
        SendError::transient(format!("cannot connect to {server}: {cause}"))
    }
}

/// The TLS failure inside `e`, in words, if `e` is one: a rustls error somewhere in the
/// chain, or lettre's TLS upgrade layer (a connection error inside a connection error).
fn tls_failure(e: &SmtpError) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = e.source();
    let mut upgrade = e.is_tls();
    while let Some(err) = current {
        if let Some(rustls) = err.downcast_ref::<rustls::Error>() {
            return Some(rustls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(rustls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                return Some(rustls.to_string());
            }
            if upgrade {
                return Some(io_cause(io));
            }
        }
        if err.is::<SmtpError>() {
            upgrade = true;
        }
        current = err.source();
    }
    upgrade.then(|| e.source().map(cause).unwrap_or_else(|| e.to_string()))
}

/// The innermost cause in words: the I/O error if there is one, else the deepest message.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(io) = find_io(e) {
        return io_cause(io);
    }
    let mut innermost = e;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    one_line(&innermost.to_string(), MAX_QUOTE)
}

/// Every message of an error chain, joined (for setup errors, where lettre's outer
/// layers say little).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut current = e.source();
    while let Some(err) = current {
        parts.push(err.to_string());
        current = err.source();
    }
    one_line(&parts.join(": "), MAX_QUOTE)
}
