//! Keeping secrets out of answers: the API's view of a program's configuration, and a
//! [`Redactor`] that blanks known secret values out of text a program wrote (log lines
//! served by the API).
//!
//! Secrets are the values of `env` names that say so (`*_KEY`, `*_TOKEN`,
//! `*_PASSWORD`, `*_SECRET`, `[server] secret_env`), the API tokens, the checks' URLs
//! and probe header values; a URL's password is blanked wherever a URL is shown.

use crate::api::ProgramConfig;
use crate::config::{is_secret_name, Config, PortSpec, ProbeKind, ProgramSpec};

pub const MASK: &str = "***";
/// Shorter values are not searched for in text: "1" or "true" would blank half a log.
const MIN_SECRET_LEN: usize = 6;

/// The configuration of `spec` as the API shows it; secret values that made their way
/// into the command line (`--api-key=${KEY}`) are blanked too.
pub fn program_config(spec: &ProgramSpec, secret_env: &[String], redactor: &Redactor) -> ProgramConfig {
    ProgramConfig {
        command: redactor.redact(&spec.command).into_owned(),
        args: spec.args.iter().map(|a| redactor.redact(a).into_owned()).collect(),
        cwd: spec.cwd.as_ref().map(|p| p.display().to_string()),
        env: spec
            .env
            .iter()
            .map(|(name, value)| {
                let shown = if is_secret_name(name, secret_env) {
                    MASK.to_string()
                } else {
                    url_password_masked(value.expose())
                };
                (name.clone(), shown)
            })
            .collect(),
        restart: spec.restart.as_str().to_string(),
        autostart: spec.autostart,
        depends_on: spec.depends_on.iter().map(|d| d.name.clone()).collect(),
        stop_signal: spec.stop_signal.as_str().to_string(),
        stop_timeout: crate::config::format_duration(spec.stop_timeout),
        port: spec.port.as_ref().map(|p| match p {
            PortSpec::Fixed(n) => n.to_string(),
            PortSpec::Auto => "auto".to_string(),
        }),
    }
}

/// `scheme://user:PASSWORD@host` → `scheme://user:***@host`; anything else unchanged.
pub fn url_password_masked(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else {
        return value.to_string();
    };
    let rest = &value[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return value.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:{MASK}{}", &value[..scheme_end + 3], &rest[..colon], &rest[at..]),
        None => value.to_string(),
    }
}

/// Blanks every known secret value out of a text.
#[derive(Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is blanked whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(config: &Config) -> Redactor {
        let mut secrets: Vec<String> = Vec::new();
        let server = &config.server;
        secrets.extend(server.tokens.iter().map(|t| t.expose().to_string()));
        secrets.extend(server.read_only_tokens.iter().map(|t| t.expose().to_string()));
        if let Some(email) = &config.alerts.email {
            secrets.extend(email.password.iter().map(|p| p.expose().to_string()));
        }
        if let Some(slack) = &config.alerts.slack {
            secrets.push(slack.webhook_url.expose().to_string());
        }
        if let Some(url) = &config.store.url {
            if let Some(password) = url_password(url.expose()) {
                secrets.push(password.to_string());
            }
        }
        for check in &config.checks {
            secrets.push(check.url.expose().to_string());
            if let Some(password) = url_password(check.url.expose()) {
                secrets.push(password.to_string());
            }
        }
        for program in &config.programs {
            for (name, value) in &program.env {
                if is_secret_name(name, &server.secret_env) {
                    secrets.push(value.expose().to_string());
                }
                if let Some(password) = url_password(value.expose()) {
                    secrets.push(password.to_string());
                }
            }
            if let Some(ProbeKind::Http { headers, .. }) = program.probe.as_ref().map(|p| &p.kind) {
                secrets.extend(headers.iter().map(|(_, v)| v.expose().to_string()));
            }
        }
        secrets.retain(|s| s.len() >= MIN_SECRET_LEN);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret replaced by `***` (borrowed when there is none).
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        out
    }
}

fn url_password(value: &str) -> Option<&str> {
    let rest = &value[value.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let password = &userinfo[userinfo.find(':')? + 1..];
    (!password.is_empty()).then_some(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            url_password_masked("postgres://app:s3cr3t-pw@db:5432/app?x=1"),
            "postgres://app:***@db:5432/app?x=1"
        );
        assert_eq!(url_password_masked("redis://db:6379/0"), "redis://db:6379/0");
        assert_eq!(url_password_masked("plain value"), "plain value");
        assert_eq!(url_password("redis://:pw-123456@h/0"), Some("pw-123456"));
    }

    #[test]
    fn secrets_of_the_config_are_blanked_in_text() {
        let text = "[server]\ntokens = [\"api-token-0123456789\"]\n\
            [[check]]\nname = \"db\"\ntype = \"postgres\"\nurl = \"postgres://u:db-password-1@h/test\"\n\
            [[program]]\nname = \"a\"\ncommand = \"true\"\n\
            env = { OPENAI_API_KEY = \"sk-live-abcdef\", MODE = \"verbose\", SHORT_TOKEN = \"abc\" }\n";
        let config = crate::config::parse(text, std::path::Path::new("w.toml"), &|_| None).unwrap();
        let r = Redactor::new(&config);
        assert_eq!(
            r.redact("key sk-live-abcdef token api-token-0123456789 db db-password-1 mode verbose abc"),
            "key *** token *** db *** mode verbose abc"
        );
        let shown = program_config(&config.programs[0], &[], &r);
        assert_eq!(shown.env["OPENAI_API_KEY"], MASK);
        assert_eq!(shown.env["SHORT_TOKEN"], MASK);
        assert_eq!(shown.env["MODE"], "verbose");
    }
}
