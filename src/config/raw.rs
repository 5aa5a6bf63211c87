//! The serde shape of the configuration file: what TOML can say, before any checking.
//!
//! Almost every leaf is a `Spanned<Scalar>` rather than its final type. That is on
//! purpose: a wrong type (`max_restarts = "ten"`) or a wrong value (`restart = "alway"`)
//! then becomes a *semantic* error in `validate.rs`, reported with its place alongside
//! every other problem, instead of a serde error that stops at the first one. Only a
//! wrong shape (a table where a value belongs, a string where an array belongs) stops
//! deserialization.
//!
//! Unknown keys are not refused here (`deny_unknown_fields` would also stop at the
//! first one): [`deserialize`] collects the path of every ignored key with
//! `serde_ignored`, and `validate.rs` reports them all. The known keys of each table
//! come from serde itself ([`fields_of`]), so they cannot drift from these structs.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::de::DeTable;
use toml::Spanned;

/// The whole file.
#[derive(Deserialize)]
#[serde(expecting = "a TOML document")]
pub struct RawConfig {
    pub server: Option<RawServer>,
    pub supervisor: Option<RawSupervisor>,
    pub logs: Option<RawLogs>,
    pub ports: Option<RawPorts>,
    pub system: Option<RawSystem>,
    /// `[[check]]` entries in file order.
    #[serde(default)]
    pub check: Vec<Spanned<RawCheck>>,
    pub metrics: Option<RawMetrics>,
    pub store: Option<RawStore>,
    pub alerts: Option<RawAlerts>,
    /// `[[program]]` entries in file order; the span is the `[[program]]` header (or
    /// the inline table), where "missing `name`" points.
    #[serde(default)]
    pub program: Vec<Spanned<RawProgram>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [server] table")]
pub struct RawServer {
    pub listen: Option<Spanned<Scalar>>,
    pub tokens: Option<Vec<Spanned<Scalar>>>,
    pub token_file: Option<Spanned<Scalar>>,
    pub read_only_tokens: Option<Vec<Spanned<Scalar>>>,
    pub read_only_token_file: Option<Spanned<Scalar>>,
    pub public: Option<Vec<Spanned<Scalar>>>,
    pub behind_tls_proxy: Option<Spanned<Scalar>>,
    pub tls: Option<RawTls>,
    pub rate_limit: Option<RawRateLimit>,
    pub request_timeout: Option<Spanned<Scalar>>,
    pub secret_env: Option<Vec<Spanned<Scalar>>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [server.tls] table with cert and key")]
pub struct RawTls {
    pub cert: Option<Spanned<Scalar>>,
    pub key: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a table like { per_second = 20, burst = 100 }")]
pub struct RawRateLimit {
    pub per_second: Option<Spanned<Scalar>>,
    pub burst: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [supervisor] table")]
pub struct RawSupervisor {
    pub data_dir: Option<Spanned<Scalar>>,
    pub sample_interval: Option<Spanned<Scalar>>,
    pub shutdown_timeout: Option<Spanned<Scalar>>,
    pub cgroups: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [logs] table")]
pub struct RawLogs {
    pub dir: Option<Spanned<Scalar>>,
    pub max_size: Option<Spanned<Scalar>>,
    pub max_files: Option<Spanned<Scalar>>,
    pub tail_lines: Option<Spanned<Scalar>>,
    pub max_line: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [ports] table")]
pub struct RawPorts {
    pub range: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [system] table")]
pub struct RawSystem {
    pub interval: Option<Spanned<Scalar>>,
    pub cpu: Option<RawThresholds>,
    pub memory: Option<RawThresholds>,
    pub disk: Option<RawThresholds>,
    pub mounts: Option<Vec<Spanned<Scalar>>>,
}

/// Percentages: `{ warning = 85, critical = 95 }`.
#[derive(Deserialize)]
#[serde(expecting = "a table like { warning = 85, critical = 95 } (percent)")]
pub struct RawThresholds {
    pub warning: Option<Spanned<Scalar>>,
    pub critical: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [[check]] table")]
pub struct RawCheck {
    pub name: Option<Spanned<Scalar>>,
    #[serde(rename = "type")]
    pub kind: Option<Spanned<Scalar>>,
    pub url: Option<Spanned<Scalar>>,
    pub required: Option<Spanned<Scalar>>,
    pub interval: Option<Spanned<Scalar>>,
    pub timeout: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [metrics] table")]
pub struct RawMetrics {
    pub event_kinds: Option<Vec<Spanned<Scalar>>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [store] table")]
pub struct RawStore {
    pub url: Option<Spanned<Scalar>>,
    pub retention_days: Option<Spanned<Scalar>>,
    pub retention_events: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an [alerts] table")]
pub struct RawAlerts {
    pub group_wait: Option<Spanned<Scalar>>,
    pub group_interval: Option<Spanned<Scalar>>,
    pub repeat_interval: Option<Spanned<Scalar>>,
    pub retry_initial: Option<Spanned<Scalar>>,
    pub retry_max: Option<Spanned<Scalar>>,
    pub stderr_lines: Option<Spanned<Scalar>>,
    /// The span is the table (where "missing `host`" points).
    pub email: Option<Spanned<RawEmail>>,
    pub slack: Option<Spanned<RawSlack>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an [alerts.email] table")]
pub struct RawEmail {
    pub host: Option<Spanned<Scalar>>,
    pub port: Option<Spanned<Scalar>>,
    pub security: Option<Spanned<Scalar>>,
    pub username: Option<Spanned<Scalar>>,
    pub password: Option<Spanned<Scalar>>,
    pub from: Option<Spanned<Scalar>>,
    pub to: Option<Vec<Spanned<Scalar>>>,
    pub ca_file: Option<Spanned<Scalar>>,
    pub min_severity: Option<Spanned<Scalar>>,
    pub timeout: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an [alerts.slack] table")]
pub struct RawSlack {
    pub webhook_url: Option<Spanned<Scalar>>,
    pub min_severity: Option<Spanned<Scalar>>,
    pub timeout: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [program.probe] table")]
pub struct RawProbe {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<Scalar>>,
    pub host: Option<Spanned<Scalar>>,
    pub port: Option<Spanned<Scalar>>,
    pub path: Option<Spanned<Scalar>>,
    pub status: Option<Spanned<Scalar>>,
    pub headers: Option<RawEnv>,
    pub command: Option<Spanned<Scalar>>,
    pub args: Option<Vec<Spanned<Scalar>>>,
    pub initial_delay: Option<Spanned<Scalar>>,
    pub interval: Option<Spanned<Scalar>>,
    pub timeout: Option<Spanned<Scalar>>,
    pub failure_threshold: Option<Spanned<Scalar>>,
    pub success_threshold: Option<Spanned<Scalar>>,
    pub action: Option<Spanned<Scalar>>,
    pub severity: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [[program]] table")]
pub struct RawProgram {
    pub name: Option<Spanned<Scalar>>,
    pub command: Option<Spanned<Scalar>>,
    pub args: Option<Vec<Spanned<Scalar>>>,
    pub cwd: Option<Spanned<Scalar>>,
    pub env: Option<RawEnv>,
    pub env_passthrough: Option<Vec<Spanned<Scalar>>>,
    pub user: Option<Spanned<Scalar>>,
    pub group: Option<Spanned<Scalar>>,
    pub enabled: Option<Spanned<Scalar>>,
    pub autostart: Option<Spanned<Scalar>>,
    pub restart: Option<Spanned<Scalar>>,
    pub backoff: Option<RawBackoff>,
    pub max_restarts: Option<Spanned<Scalar>>,
    pub restart_window: Option<Spanned<Scalar>>,
    pub start_period: Option<Spanned<Scalar>>,
    pub stop_signal: Option<Spanned<Scalar>>,
    pub stop_timeout: Option<Spanned<Scalar>>,
    pub depends_on: Option<Vec<Spanned<RawDependency>>>,
    pub memory_limit: Option<Spanned<Scalar>>,
    pub memory_limit_grace: Option<Spanned<Scalar>>,
    pub logs: Option<RawRotation>,
    pub port: Option<Spanned<Scalar>>,
    pub probe: Option<Spanned<RawProbe>>,
    pub required: Option<Spanned<Scalar>>,
    pub instances: Option<Spanned<Scalar>>,
    /// A scheduled program (a job): `schedule` and the keys only a job takes.
    pub schedule: Option<Spanned<Scalar>>,
    pub timezone: Option<Spanned<Scalar>>,
    pub overlap: Option<Spanned<Scalar>>,
    pub timeout: Option<Spanned<Scalar>>,
    pub missed: Option<Spanned<Scalar>>,
    pub max_retries: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a table like { initial = \"1s\", max = \"5m\" }")]
pub struct RawBackoff {
    pub initial: Option<Spanned<Scalar>>,
    pub max: Option<Spanned<Scalar>>,
    pub multiplier: Option<Spanned<Scalar>>,
    pub reset_after: Option<Spanned<Scalar>>,
    pub jitter: Option<Spanned<Scalar>>,
}

/// A program's override of the `[logs]` rotation.
#[derive(Deserialize)]
#[serde(expecting = "a table like { max_size = \"50MiB\", max_files = 3 }")]
pub struct RawRotation {
    pub max_size: Option<Spanned<Scalar>>,
    pub max_files: Option<Spanned<Scalar>>,
}

/// One `depends_on` entry: `"db"` or `{ name = "db", condition = "healthy" }`.
pub enum RawDependency {
    Name(String),
    Table(RawDependencyTable),
}

#[derive(Deserialize)]
#[serde(expecting = "a table like { name = \"db\", condition = \"healthy\" }")]
pub struct RawDependencyTable {
    pub name: Option<Spanned<Scalar>>,
    pub condition: Option<Spanned<Scalar>>,
}

/// A program's `env` table. Its values may be secrets: this type has no `Debug`, and
/// its deserializer never quotes a value in an error (serde's default "invalid type:
/// string \"...\"" would, if `env` were written as a string).
pub struct RawEnv(pub BTreeMap<String, Spanned<Scalar>>);

/// Any TOML leaf value. `validate.rs` decides which kinds each key accepts.
#[derive(Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A TOML date-time, as written. No key takes one; keeping it (instead of failing
    /// the whole file) lets validation say "must be a string, not a date-time".
    Datetime(String),
}

impl Scalar {
    /// "a string", "an integer", ... for "must be X, not Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Str(_) => "a string",
            Self::Int(_) => "an integer",
            Self::Float(_) => "a float",
            Self::Bool(_) => "a boolean",
            Self::Datetime(_) => "a date-time",
        }
    }
}

/// Written as TOML would write it. Used only for values that are not secrets.
impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{s:?}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x:?}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Datetime(d) => f.write_str(d),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a single value (a string, number or boolean)")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                // toml hands a date-time to `deserialize_any` as a one-entry map with
                // this private key; any other map is a real table, which is no scalar.
                if map.next_key::<String>()?.as_deref() == Some(TOML_DATETIME_KEY) {
                    return Ok(Scalar::Datetime(map.next_value::<String>()?));
                }
                Err(de::Error::invalid_type(de::Unexpected::Map, &self))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl<'de> Deserialize<'de> for RawDependency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DependencyVisitor;
        impl<'de> Visitor<'de> for DependencyVisitor {
            type Value = RawDependency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a program name, or a table like { name = \"db\", condition = \"healthy\" }")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawDependency, E> {
                Ok(RawDependency::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDependency, A::Error> {
                // Through `MapAccessDeserializer` the table keeps the spans of its values
                // and `serde_ignored` still sees its unknown keys.
                RawDependencyTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawDependency::Table)
            }
        }
        deserializer.deserialize_any(DependencyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawEnv {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvVisitor;
        impl<'de> Visitor<'de> for EnvVisitor {
            type Value = RawEnv;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table like { NAME = \"value\" }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEnv, A::Error> {
                let mut vars = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, Spanned<Scalar>>()? {
                    vars.insert(key, value);
                }
                Ok(RawEnv(vars))
            }
            // The value of a mistyped `env` may be a secret: say what it is, never what it says.
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawEnv, E> {
                Err(E::custom(
                    "invalid type: string, expected a table like { NAME = \"value\" }",
                ))
            }
        }
        deserializer.deserialize_any(EnvVisitor)
    }
}

/// One step of the path to a key, as `serde_ignored` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Deserialize the parsed document, returning the paths of all keys serde ignored
/// (the unknown ones), in the order serde met them.
pub fn deserialize(root: Spanned<DeTable<'_>>) -> Result<(RawConfig, Vec<Vec<Segment>>), toml::de::Error> {
    let mut ignored = Vec::new();
    let raw = serde_ignored::deserialize(toml::Deserializer::from(root), |path| ignored.push(segments(&path)))?;
    Ok((raw, ignored))
}

/// Flatten a `serde_ignored` path, dropping the steps that are not in the file:
/// `Option`'s `Some` and `Spanned`'s private wrapper field.
fn segments(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    use serde_ignored::Path;
    let mut out = Vec::new();
    let mut at = path;
    loop {
        match at {
            Path::Root => break,
            Path::Seq { parent, index } => {
                out.push(Segment::Index(*index));
                at = parent;
            }
            Path::Map { parent, key } => {
                if !key.starts_with("$__serde_spanned_private") {
                    out.push(Segment::Key(key.clone()));
                }
                at = parent;
            }
            Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => at = parent,
        }
    }
    out.reverse();
    out
}

/// The field names serde knows for the struct `T` (its `FIELDS`), obtained by asking
/// `T` to deserialize itself from a probe that only records them.
pub fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_serde() {
        assert_eq!(
            fields_of::<RawServer>(),
            [
                "listen",
                "tokens",
                "token_file",
                "read_only_tokens",
                "read_only_token_file",
                "public",
                "behind_tls_proxy",
                "tls",
                "rate_limit",
                "request_timeout",
                "secret_env"
            ]
        );
        assert_eq!(
            fields_of::<RawConfig>(),
            [
                "server",
                "supervisor",
                "logs",
                "ports",
                "system",
                "check",
                "metrics",
                "store",
                "alerts",
                "program"
            ]
        );
        assert_eq!(fields_of::<RawProgram>().len(), 31);
    }

    #[test]
    fn ignored_paths_skip_wrappers() {
        let text = "[server]\nfoo = 1\n[[program]]\nname = \"a\"\nbackoff = { bar = 1 }\ndepends_on = [{ name = \"b\", baz = 2 }]\n";
        let root = DeTable::parse(text).unwrap();
        let (_, ignored) = deserialize(root).unwrap();
        let k = |s: &str| Segment::Key(s.to_owned());
        assert!(ignored.contains(&vec![k("server"), k("foo")]));
        assert!(ignored.contains(&vec![k("program"), Segment::Index(0), k("backoff"), k("bar")]));
        assert!(ignored.contains(&vec![
            k("program"),
            Segment::Index(0),
            k("depends_on"),
            Segment::Index(0),
            k("baz")
        ]));
    }
}
