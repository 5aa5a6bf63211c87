//! `[store]`: where events and the alert outbox are kept, and for how long.
//!
//! The url may carry a password: no message here quotes it, only names the key.

use std::time::Duration;

use toml::Spanned;

use super::super::raw::{RawConfig, Scalar};
use super::super::{Secret, StoreConfig};
use super::Validator;

const DEFAULT_RETENTION_DAYS: u64 = 30;
const MIN_RETENTION_DAYS: u64 = 1;
const DEFAULT_RETENTION_EVENTS: u64 = 100_000;
const MIN_RETENTION_EVENTS: u64 = 100;
/// The schemes `store.url` may use, lowercase.
const SCHEMES: &[&str] = &["sqlite://", "postgres://", "postgresql://"];

impl Validator<'_> {
    pub(super) fn store(&mut self, raw: &RawConfig) -> StoreConfig {
        let s = raw.store.as_ref();
        let url = s.and_then(|s| s.url.as_ref()).and_then(|value| {
            let text = self.non_empty_text(value, "store.url")?;
            let text = text.trim();
            let lower = text.to_ascii_lowercase();
            match SCHEMES.iter().find(|scheme| lower.starts_with(*scheme)) {
                Some(scheme) if text.len() == scheme.len() => {
                    self.error(
                        &value.span(),
                        format!("store.url has nothing after {scheme}: write sqlite://PATH or postgres://USER@HOST/DB"),
                    );
                    None
                }
                Some(_) => Some(Secret::new(text)),
                None => {
                    self.error(
                        &value.span(),
                        "invalid store.url: use sqlite://PATH, postgres://... or postgresql://... (leave it out for the SQLite file supervisor.data_dir/warden.db)",
                    );
                    None
                }
            }
        });
        let days = self.at_least(
            s.and_then(|s| s.retention_days.as_ref()),
            "store.retention_days",
            DEFAULT_RETENTION_DAYS,
            MIN_RETENTION_DAYS,
        );
        let retention_events = self.at_least(
            s.and_then(|s| s.retention_events.as_ref()),
            "store.retention_events",
            DEFAULT_RETENTION_EVENTS,
            MIN_RETENTION_EVENTS,
        );
        StoreConfig {
            url,
            retention: Duration::from_secs(days * 24 * 60 * 60),
            retention_events,
        }
    }

    /// A whole number from `min` up (to a bound that keeps day arithmetic exact).
    fn at_least(&mut self, value: Option<&Spanned<Scalar>>, key: &str, default: u64, min: u64) -> u64 {
        const MAX: u64 = 1 << 40;
        let Some(value) = value else { return default };
        match value.get_ref() {
            Scalar::Int(i) if (min as i64..=MAX as i64).contains(i) => *i as u64,
            other => {
                self.error(
                    &value.span(),
                    format!("{key} must be a whole number from {min} to {MAX}, not {other}"),
                );
                default
            }
        }
    }
}
