//! `[server]`: where warden listens and who may use its API (tokens, public probes,
//! TLS, rate limit), and the production guard.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;

use super::super::raw::{RawConfig, RawServer, Scalar};
use super::super::{PublicEndpoint, RateLimit, Secret, ServerConfig, TlsFiles};
use super::Validator;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The variable that holds the token when the file names none (the CLI reads it too).
pub const TOKEN_ENV: &str = "WARDEN_API_TOKEN";
/// Shorter tokens are refused: they can be guessed.
pub const MIN_TOKEN_LEN: usize = 16;
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    per_second: 20,
    burst: 100,
};

impl Validator<'_> {
    pub(super) fn server(&mut self, raw: &RawConfig) -> ServerConfig {
        let s = raw.server.as_ref();
        let default = SocketAddr::from_str(DEFAULT_LISTEN).expect("valid default");
        let listen = match s.and_then(|s| s.listen.as_ref()) {
            None => default,
            Some(value) => match self.text(value, "server.listen") {
                None => default,
                Some(text) => SocketAddr::from_str(text.trim()).unwrap_or_else(|_| {
                    self.error(
                        &value.span(),
                        format!(
                            "invalid server.listen address {text:?}: write IP:PORT, like \"127.0.0.1:8080\" or \"0.0.0.0:8080\""
                        ),
                    );
                    default
                }),
            },
        };
        let token_file = s
            .and_then(|s| s.token_file.as_ref())
            .map(|v| self.path(Some(v), "server.token_file", ""));
        let mut tokens = self.tokens(s.and_then(|s| s.tokens.as_deref()), "server.tokens");
        if s.is_none_or(|s| s.tokens.is_none()) && token_file.is_none() {
            if let Some(token) = (self.env)(TOKEN_ENV).filter(|t| !t.trim().is_empty()) {
                if token.trim().len() < MIN_TOKEN_LEN {
                    self.error(
                        &(0..0),
                        format!("${TOKEN_ENV} is shorter than {MIN_TOKEN_LEN} characters: use a long random value, e.g. `openssl rand -hex 32`"),
                    );
                } else {
                    tokens.push(Secret::new(token.trim()));
                }
            }
        }
        let read_only_tokens = self.tokens(s.and_then(|s| s.read_only_tokens.as_deref()), "server.read_only_tokens");
        let read_only_token_file = s
            .and_then(|s| s.read_only_token_file.as_ref())
            .map(|v| self.path(Some(v), "server.read_only_token_file", ""));
        let public = self.public(s);
        let behind_tls_proxy = self.boolean(
            s.and_then(|s| s.behind_tls_proxy.as_ref()),
            "server.behind_tls_proxy",
            false,
        );
        let tls = s.and_then(|s| s.tls.as_ref()).and_then(|t| {
            let span = s.and_then(|s| s.listen.as_ref()).map(|v| v.span()).unwrap_or(0..0);
            match (&t.cert, &t.key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: self.path(Some(cert), "server.tls.cert", ""),
                    key: self.path(Some(key), "server.tls.key", ""),
                }),
                (Some(v), None) | (None, Some(v)) => {
                    self.error(&v.span(), "[server.tls] needs both `cert` and `key` (PEM files)");
                    None
                }
                (None, None) => {
                    self.error(&span, "[server.tls] needs `cert` and `key` (PEM files)");
                    None
                }
            }
        });
        let rate_limit = match s.and_then(|s| s.rate_limit.as_ref()) {
            None => Some(DEFAULT_RATE_LIMIT),
            Some(r) => {
                let per_second = self.integer(
                    r.per_second.as_ref(),
                    "server.rate_limit.per_second",
                    DEFAULT_RATE_LIMIT.per_second,
                );
                let burst = self.integer(r.burst.as_ref(), "server.rate_limit.burst", per_second.max(1));
                if per_second == 0 {
                    None // documented: per_second = 0 turns the limit off
                } else {
                    if burst == 0 {
                        if let Some(v) = &r.burst {
                            self.error(&v.span(), "server.rate_limit.burst must be at least 1");
                        }
                    }
                    Some(RateLimit {
                        per_second,
                        burst: burst.max(1),
                    })
                }
            }
        };
        let request_timeout = self.duration(
            s.and_then(|s| s.request_timeout.as_ref()),
            "server.request_timeout",
            DEFAULT_REQUEST_TIMEOUT,
        );
        if let (Some(v), true) = (s.and_then(|s| s.request_timeout.as_ref()), request_timeout.is_zero()) {
            self.error(&v.span(), "server.request_timeout must be longer than 0s");
        }
        let mut secret_env = Vec::new();
        for value in s.and_then(|s| s.secret_env.as_deref()).unwrap_or_default() {
            if let Some(name) = self.string(value, "server.secret_env entry") {
                if super::is_env_name(name) {
                    secret_env.push(name.to_owned());
                } else {
                    self.error(
                        &value.span(),
                        format!("{name:?} is not an environment variable name (letters, digits and _)"),
                    );
                }
            }
        }
        let server = ServerConfig {
            listen,
            tokens,
            token_file,
            read_only_tokens,
            read_only_token_file,
            public,
            behind_tls_proxy,
            tls,
            rate_limit,
            request_timeout,
            secret_env,
        };
        self.production_guard(raw, &server);
        server
    }

    fn tokens(&mut self, values: Option<&[Spanned<Scalar>]>, key: &str) -> Vec<Secret> {
        let mut tokens = Vec::new();
        for (i, value) in values.unwrap_or_default().iter().enumerate() {
            // `text` substitutes `${VAR}`; its errors name the variable, never a value.
            let Some(token) = self.text(value, key) else { continue };
            let token = token.trim();
            if token.len() < MIN_TOKEN_LEN {
                self.error(
                    &value.span(),
                    format!(
                        "{key} entry #{} is shorter than {MIN_TOKEN_LEN} characters: use a long random value, e.g. `openssl rand -hex 32`",
                        i + 1
                    ),
                );
            } else {
                tokens.push(Secret::new(token));
            }
        }
        tokens
    }

    fn public(&mut self, s: Option<&RawServer>) -> Vec<PublicEndpoint> {
        let Some(values) = s.and_then(|s| s.public.as_ref()) else {
            return PublicEndpoint::DEFAULT.to_vec();
        };
        let mut public = Vec::new();
        for value in values {
            let Some(word) = self.string(value, "server.public entry") else {
                continue;
            };
            match PublicEndpoint::ALL.iter().find(|e| e.as_str() == word) {
                Some(e) if !public.contains(e) => public.push(*e),
                Some(_) => self.error(&value.span(), format!("{word:?} is listed twice in server.public")),
                None => self.error(
                    &value.span(),
                    format!("invalid value {word:?} in server.public: use live, ready, health, metrics or dashboard"),
                ),
            }
        }
        public
    }

    /// `ENVIRONMENT=production` refuses an API without a token, and one without TLS
    /// unless a proxy in front terminates it.
    fn production_guard(&mut self, raw: &RawConfig, server: &ServerConfig) {
        if (self.env)("ENVIRONMENT").as_deref().map(str::trim) != Some("production") {
            return;
        }
        let span = raw
            .server
            .as_ref()
            .and_then(|s| s.listen.as_ref())
            .map(|v| v.span())
            .unwrap_or(0..0);
        if server.tokens.is_empty() && server.token_file.is_none() {
            self.error(
                &span,
                format!("ENVIRONMENT=production: warden refuses to start without an API token; set [server] tokens or token_file, or ${TOKEN_ENV}"),
            );
        }
        if server.tls.is_none() && !server.behind_tls_proxy {
            self.error(
                &span,
                "ENVIRONMENT=production: warden refuses to serve its API without TLS; set [server.tls] cert and key, or behind_tls_proxy = true when a proxy in front terminates TLS",
            );
        }
    }
}
