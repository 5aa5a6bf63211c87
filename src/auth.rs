//! Who may use the HTTP API: bearer tokens (full or read-only), compared in constant
//! time; the public probes; the loopback rule when no token is configured; and the
//! per-client rate limit.
//!
//! Tokens are kept only as SHA-256 digests, and a presented token is compared by its
//! digest with [`subtle`], so neither the time of a comparison nor its length tells an
//! attacker anything about a token. This module and the config model are the only
//! places that see a token's value.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{PublicEndpoint, RateLimit, ServerConfig, MIN_TOKEN_LEN, TOKEN_ENV};

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Served to anyone (`/live` & co. when listed in `[server] public`, the OpenAPI
    /// document).
    Nothing,
    /// Reading: a full or a read-only token.
    Read,
    /// Changing something: a full token (or, with no token configured, a loopback
    /// listener).
    Control,
}

/// Why a request was refused; the HTTP layer turns it into 401 or 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// 401: no token, or not one of ours.
    Unauthenticated(&'static str),
    /// 403: a token (or the lack of one) that may not do this.
    Forbidden(String),
}

type Token = [u8; 32];

pub struct Auth {
    full: Vec<Token>,
    read_only: Vec<Token>,
    public: Vec<PublicEndpoint>,
    listen: SocketAddr,
}

fn digest(token: &str) -> Token {
    Sha256::digest(token.as_bytes()).into()
}

/// The tokens of a token file: one per line, blank lines and `#` comments skipped.
fn read_token_file(path: &Path, key: &str) -> Result<Vec<Token>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("server.{key} {}: cannot read it: {e}", path.display()))?;
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.len() < MIN_TOKEN_LEN {
            // The line number, never the value.
            return Err(format!(
                "server.{key} {} line {}: the token is shorter than {MIN_TOKEN_LEN} characters",
                path.display(),
                i + 1
            ));
        }
        tokens.push(digest(line));
    }
    if tokens.is_empty() {
        return Err(format!("server.{key} {}: the file holds no token", path.display()));
    }
    Ok(tokens)
}

impl Auth {
    /// From the validated config, reading the token files (at start and at each
    /// reload); an unreadable or empty file is an error that names it.
    pub fn load(server: &ServerConfig) -> Result<Auth, String> {
        let mut full: Vec<Token> = server.tokens.iter().map(|t| digest(t.expose())).collect();
        if let Some(path) = &server.token_file {
            full.extend(read_token_file(path, "token_file")?);
        }
        let mut read_only: Vec<Token> = server.read_only_tokens.iter().map(|t| digest(t.expose())).collect();
        if let Some(path) = &server.read_only_token_file {
            read_only.extend(read_token_file(path, "read_only_token_file")?);
        }
        Ok(Auth {
            full,
            read_only,
            public: server.public.clone(),
            listen: server.listen,
        })
    }

    /// Whether `path` (a probe endpoint) is served without a token.
    pub fn is_public(&self, path: &str) -> bool {
        self.public.iter().any(|e| e.path() == path)
    }

    pub fn has_tokens(&self) -> bool {
        !self.full.is_empty() || !self.read_only.is_empty()
    }

    /// Decides a request from what it needs and its `Authorization` header.
    pub fn check(&self, need: Need, authorization: Option<&[u8]>) -> Result<(), Denied> {
        if need == Need::Nothing {
            return Ok(());
        }
        if !self.has_tokens() {
            return match need {
                Need::Control if !self.listen.ip().is_loopback() => Err(Denied::Forbidden(format!(
                    "control endpoints need a token when warden listens beyond loopback ({}): set [server] tokens or token_file, or ${TOKEN_ENV}",
                    self.listen
                ))),
                _ => Ok(()),
            };
        }
        let Some(header) = authorization else {
            return Err(Denied::Unauthenticated(
                "this endpoint needs a token: send Authorization: Bearer <token>",
            ));
        };
        let Some(token) = bearer(header) else {
            return Err(Denied::Unauthenticated(
                "the Authorization header is not `Bearer <token>`",
            ));
        };
        let presented = digest(token);
        // Every configured token is compared, so the time does not tell which matched.
        let is_full = self
            .full
            .iter()
            .fold(subtle::Choice::from(0), |found, t| found | t.ct_eq(&presented));
        let is_read_only = self
            .read_only
            .iter()
            .fold(subtle::Choice::from(0), |found, t| found | t.ct_eq(&presented));
        match (bool::from(is_full), bool::from(is_read_only), need) {
            (true, _, _) => Ok(()),
            (false, true, Need::Read) => Ok(()),
            (false, true, _) => Err(Denied::Forbidden(
                "this token is read-only: control endpoints need a full token".into(),
            )),
            (false, false, _) => Err(Denied::Unauthenticated("the token was refused")),
        }
    }
}

/// The token of `Bearer <token>` (the scheme in any case, as RFC 7235 says).
fn bearer(header: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A token bucket per client address.
pub struct Limiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    pub rate: RateLimit,
}

impl Limiter {
    pub fn new(rate: RateLimit) -> Limiter {
        let per_second = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        Limiter {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            rate,
        }
    }

    /// `Err(wait)` when `client` has used its burst: try again after `wait`.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose bucket is full again (bounded memory under many clients).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    const FULL: &str = "full-token-0123456789";
    const READ: &str = "read-token-0123456789";

    fn server(listen: &str, full: &[&str], read: &[&str]) -> ServerConfig {
        ServerConfig {
            listen: listen.parse().unwrap(),
            tokens: full.iter().map(|t| Secret::new(*t)).collect(),
            token_file: None,
            read_only_tokens: read.iter().map(|t| Secret::new(*t)).collect(),
            read_only_token_file: None,
            public: vec![PublicEndpoint::Live, PublicEndpoint::Ready],
            behind_tls_proxy: false,
            tls: None,
            rate_limit: None,
            request_timeout: Duration::from_secs(30),
            secret_env: vec![],
        }
    }

    fn header(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn full_tokens_do_everything_read_only_tokens_only_read() {
        let auth = Auth::load(&server("0.0.0.0:8080", &[FULL, "second-token-0123456789"], &[READ])).unwrap();
        for need in [Need::Read, Need::Control] {
            assert_eq!(auth.check(need, Some(&header(FULL))), Ok(()));
            assert_eq!(auth.check(need, Some(&header("second-token-0123456789"))), Ok(()));
        }
        assert_eq!(auth.check(Need::Read, Some(&header(READ))), Ok(()));
        assert!(matches!(
            auth.check(Need::Control, Some(&header(READ))),
            Err(Denied::Forbidden(m)) if m.contains("read-only")
        ));
        assert_eq!(
            auth.check(Need::Read, Some(&header("wrong-token-0123456789"))),
            Err(Denied::Unauthenticated("the token was refused"))
        );
        assert!(matches!(auth.check(Need::Read, None), Err(Denied::Unauthenticated(_))));
        assert!(matches!(
            auth.check(Need::Read, Some(b"Basic abc")),
            Err(Denied::Unauthenticated(_))
        ));
        assert_eq!(
            auth.check(Need::Read, Some(format!("bearer  {FULL} ").as_bytes())),
            Ok(())
        );
        assert_eq!(auth.check(Need::Nothing, None), Ok(()));
        assert!(auth.is_public("/live") && !auth.is_public("/metrics"));
    }

    #[test]
    fn without_tokens_control_needs_a_loopback_listener() {
        let open = Auth::load(&server("127.0.0.1:8080", &[], &[])).unwrap();
        assert_eq!(open.check(Need::Control, None), Ok(()));
        let public = Auth::load(&server("0.0.0.0:8080", &[], &[])).unwrap();
        assert_eq!(public.check(Need::Read, None), Ok(()));
        assert!(matches!(
            public.check(Need::Control, None),
            Err(Denied::Forbidden(m)) if m.contains("0.0.0.0:8080") && m.contains("WARDEN_API_TOKEN")
        ));
    }

    #[test]
    fn token_files_are_read_and_their_problems_named_without_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, format!("# rotated 2026-11\n{FULL}\n\n{READ}\n")).unwrap();
        let mut config = server("0.0.0.0:8080", &[], &[]);
        config.token_file = Some(path.clone());
        let auth = Auth::load(&config).unwrap();
        assert_eq!(auth.check(Need::Control, Some(&header(READ))), Ok(()));
        std::fs::write(&path, "short\n").unwrap();
        let e = Auth::load(&config).err().unwrap();
        assert!(
            e.contains("line 1") && !e.contains("short\n") && !e.contains(": short"),
            "{e}"
        );
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(Auth::load(&config).err().unwrap().contains("holds no token"));
        config.token_file = Some(dir.path().join("missing"));
        assert!(Auth::load(&config).err().unwrap().contains("cannot read it"));
    }

    #[test]
    fn the_limit_is_per_client() {
        let limiter = Limiter::new(RateLimit {
            per_second: 1,
            burst: 3,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check(b).is_ok(), "another client is not affected");
    }
}
