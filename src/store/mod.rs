//! The durable store: the event history and the alert outbox, in SQLite (the default,
//! a file under `data_dir`) or Postgres (`[store] url = "postgres://..."`).
//!
//! One type, [`Store`], an enum of the two sqlx pools. Every query is written once, in
//! SQL both backends accept (`$N` parameters, `RETURNING`, `LIMIT`/`OFFSET`), and run
//! on whichever pool is there (the `on_pool!` macro); only the schema's DDL differs
//! (see `schema.rs`). Times are stored as unix milliseconds (`BIGINT`), JSON as text,
//! so no type is backend-specific.
//!
//! The delivery guarantee of alerts rests on the outbox: a notification is
//! enqueued before any attempt to send it, and [`Store::head`] returns it — after any
//! number of restarts — until it is marked sent or failed.
//! Delivery is first in, first out per channel, so a RESOLVED notice
//! never overtakes its FIRING one, even across retries. The alert policy's state is
//! saved in the same transaction as the notifications it released
//! ([`Store::enqueue_with_state`]): after a crash either both are there or neither.

mod schema;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// The SQLite file used when `store.url` is unset, inside `supervisor.data_dir`.
pub const DEFAULT_FILE: &str = "warden.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 4;
/// An idle SQLite connection is closed after this long.
const SQLITE_IDLE: Duration = Duration::from_secs(60);

/// Runs `$body` with `$pool` bound to whichever pool the store holds. The body is
/// compiled once per backend, so the same SQL text serves both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// An open store. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened, created, migrated or written. `target` names the
    /// file, or the Postgres host and database, never a password.
    #[error("cannot open the store ({target}): {reason}")]
    Open { target: String, reason: String },
    #[error("invalid store url: {0}")]
    Url(String),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A row holds a value warden never writes (edited by hand, or a newer schema).
    #[error("unexpected value in the store: {0}")]
    Corrupt(String),
}

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub at: SystemTime,
    /// `exited`, `restarted`, `reloaded`, `operator`, ...
    pub kind: String,
    /// The program it is about, if any.
    pub program: Option<String>,
    pub severity: String,
    pub message: String,
    pub details: serde_json::Value,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub at: SystemTime,
    pub kind: String,
    pub program: Option<String>,
    pub severity: String,
    pub message: String,
    pub details: serde_json::Value,
}

/// Which events [`Store::events`] returns, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Only this program's events.
    pub program: Option<String>,
    /// Only events at or after this time.
    pub since: Option<SystemTime>,
    /// At most this many.
    pub limit: u32,
}

/// Whether a notification announces an alert or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// Where a notification is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting for its (next) attempt.
    Pending,
    Sent,
    /// Failed permanently: never retried.
    Failed,
}

/// A notification to put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub created_at: SystemTime,
    pub channel: String,
    pub fingerprint: String,
    pub status: AlertStatus,
    pub severity: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// The channel's own rendering (the Slack webhook's JSON).
    pub payload: Option<String>,
    /// The alerts it carries, as JSON (for the API).
    pub alerts: String,
    /// The next attempt (the first: usually `created_at`).
    pub next_attempt_at: SystemTime,
}

/// A notification in the outbox: what was enqueued, and how its delivery goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: i64,
    pub message: NewNotification,
    /// Failed attempts so far.
    pub attempts: u32,
    pub state: OutboxState,
    pub last_error: Option<String>,
    pub sent_at: Option<SystemTime>,
}

impl Notification {
    /// `message` as just enqueued under `id`.
    pub fn pending(id: i64, message: NewNotification) -> Notification {
        Notification {
            id,
            message,
            attempts: 0,
            state: OutboxState::Pending,
            last_error: None,
            sent_at: None,
        }
    }
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

impl FromStr for AlertStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "firing" => Ok(Self::Firing),
            "resolved" => Ok(Self::Resolved),
            other => Err(StoreError::Corrupt(format!("alert status {other:?}"))),
        }
    }
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for OutboxState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(Self::Pending),
            "sent" => Ok(Self::Sent),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("outbox state {other:?}"))),
        }
    }
}

type EventRow = (i64, i64, String, Option<String>, String, String, String);
const EVENT_COLUMNS: &str = "id, at, kind, program, severity, message, details";

type NotificationRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
);
const NOTIFICATION_COLUMNS: &str = "id, created_at, channel, fingerprint, status, severity, subject, body_text, \
     body_html, payload, alerts, attempts, next_attempt_at, state, last_error, sent_at";

impl Store {
    /// Open (creating and migrating as needed) the store at `url`: `sqlite://PATH`,
    /// `postgres://...` or `postgresql://...`; `None` is the SQLite file
    /// `data_dir/warden.db` (`data_dir` is created if missing).
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Store, StoreError> {
        let Some(url) = url.map(str::trim) else {
            std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
                target: format!("SQLite file {}", default_path(data_dir).display()),
                reason: format!("cannot create the directory {}: {e}", data_dir.display()),
            })?;
            return Self::open_sqlite(&default_path(data_dir)).await;
        };
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("sqlite://") {
            let path = &url["sqlite://".len()..];
            if path.is_empty() {
                return Err(StoreError::Url("sqlite:// needs a file path: sqlite://PATH".into()));
            }
            Self::open_sqlite(Path::new(path)).await
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            // sqlx's parse errors describe the problem, never quote the url.
            let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Url(e.to_string()))?;
            Self::open_postgres(options).await
        } else {
            Err(StoreError::Url(
                "use sqlite://PATH, postgres://... or postgresql://... (or no url for data_dir/warden.db)".into(),
            ))
        }
    }

    /// Open the SQLite file `path`: WAL, full sync (an enqueued notification survives
    /// a power loss), a busy timeout for the moments two connections write.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let target = format!("SQLite file {}", path.display());
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            // warden writes a few rows a second at most: a small page cache keeps the
            // store from costing more memory than everything else warden does.
            .pragma("cache_size", "-256");
        // One connection (each SQLite connection is a thread and a cache of its own);
        // WAL lets the API's reads share it with the journal's writes. It closes when
        // idle and reopens on the next write.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(Some(SQLITE_IDLE))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| open_error(&target, e))?;
        let store = Store::Sqlite(pool);
        store.migrate().await.map_err(|e| migrate_error(&target, e))?;
        Ok(store)
    }

    /// Open Postgres with `options` (tests add a `search_path` to them).
    pub async fn open_postgres(options: PgConnectOptions) -> Result<Store, StoreError> {
        let target = format!(
            "Postgres {}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username())
        );
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| open_error(&target, e))?;
        let store = Store::Postgres(pool);
        store.migrate().await.map_err(|e| migrate_error(&target, e))?;
        Ok(store)
    }

    /// Bring the schema up to date, in one transaction. It always writes (the version
    /// row), so a store that cannot be written fails here, at open, not at the first
    /// event.
    async fn migrate(&self) -> Result<(), StoreError> {
        let migrations = schema::MIGRATIONS;
        let postgres = matches!(self, Store::Postgres(_));
        let known = migrations.len() as i64;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                // Two wardens starting on one database must not race their DDL.
                sqlx::query("SELECT pg_advisory_xact_lock(7263541)").execute(&mut *tx).await?;
            }
            sqlx::query(schema::VERSION_TABLE).execute(&mut *tx).await?;
            let current: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_version")
                .fetch_optional(&mut *tx)
                .await?;
            let current = match current {
                Some(v) => v,
                None => {
                    sqlx::query("INSERT INTO schema_version (version) VALUES (0)").execute(&mut *tx).await?;
                    0
                }
            };
            if current > known {
                return Err(StoreError::Corrupt(format!(
                    "schema version {current} is newer than this warden knows ({known}): upgrade warden"
                )));
            }
            // One statement at a time: `raw_sql` would take them all, but its future is
            // not `Send` (a rustc limitation), and `open` must be spawnable.
            for statement in migrations[current as usize..].iter().flat_map(|m| schema::statements(m, postgres)) {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE schema_version SET version = $1").bind(known).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The schema version (the number of migrations applied).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let sql = "SELECT version FROM schema_version";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// Close every connection (waits for queries in flight).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    // --- events ---------------------------------------------------------------------

    /// Record one event; returns its id.
    pub async fn record_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        let sql = "INSERT INTO events (at, kind, program, severity, message, details) \
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        let details = event.details.to_string();
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(unix_ms(event.at))
            .bind(&event.kind)
            .bind(&event.program)
            .bind(&event.severity)
            .bind(&event.message)
            .bind(&details)
            .fetch_one(pool)
            .await?))
    }

    /// The events matching `filter`, newest first.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE ($1 IS NULL OR program = $1) AND at >= $2 \
             ORDER BY at DESC, id DESC LIMIT $3"
        );
        let since = filter.since.map_or(i64::MIN, unix_ms);
        let rows: Vec<EventRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&filter.program)
            .bind(since)
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(id, at, kind, program, severity, message, details)| {
                Ok(StoredEvent {
                    id,
                    at: from_unix_ms(at),
                    kind,
                    program,
                    severity,
                    message,
                    details: serde_json::from_str(&details)
                        .map_err(|e| StoreError::Corrupt(format!("details of event {id}: {e}")))?,
                })
            })
            .collect()
    }

    // --- the outbox -----------------------------------------------------------------

    /// Put a notification in the outbox, `pending`; returns its id.
    #[cfg(test)]
    pub async fn enqueue(&self, n: &NewNotification) -> Result<i64, StoreError> {
        Ok(self.insert(std::slice::from_ref(n), None).await?[0])
    }

    /// Put notifications in the outbox and save the alert policy's state, in one
    /// transaction; returns their ids.
    pub async fn enqueue_with_state(&self, ns: &[NewNotification], state: &str) -> Result<Vec<i64>, StoreError> {
        self.insert(ns, Some(state)).await
    }

    async fn insert(&self, ns: &[NewNotification], state: Option<&str>) -> Result<Vec<i64>, StoreError> {
        let sql = "INSERT INTO outbox (created_at, channel, fingerprint, status, severity, subject, body_text, \
                   body_html, payload, alerts, attempts, next_attempt_at, state) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, 'pending') RETURNING id";
        let now = unix_ms(SystemTime::now());
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut ids = Vec::with_capacity(ns.len());
            for n in ns {
                let id = sqlx::query_scalar(sql)
                    .bind(unix_ms(n.created_at))
                    .bind(&n.channel)
                    .bind(&n.fingerprint)
                    .bind(n.status.as_str())
                    .bind(&n.severity)
                    .bind(&n.subject)
                    .bind(&n.body_text)
                    .bind(&n.body_html)
                    .bind(&n.payload)
                    .bind(&n.alerts)
                    .bind(unix_ms(n.next_attempt_at))
                    .fetch_one(&mut *tx)
                    .await?;
                ids.push(id);
            }
            if let Some(state) = state {
                sqlx::query(SAVE_STATE).bind(state).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            ids
        }))
    }

    /// The alert policy's state as last saved.
    pub async fn load_state(&self) -> Result<Option<String>, StoreError> {
        let sql = "SELECT state FROM alert_state WHERE name = 'policy'";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_optional(pool).await?))
    }

    /// The oldest pending notification of `channel` (due or not): the next to send.
    pub async fn head(&self, channel: &str) -> Result<Option<Notification>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE channel = $1 AND state = 'pending' ORDER BY id LIMIT 1"
        );
        let row: Option<NotificationRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(channel).fetch_optional(pool).await?);
        row.map(notification).transpose()
    }

    /// One notification by id.
    pub async fn notification(&self, id: i64) -> Result<Option<Notification>, StoreError> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE id = $1");
        let row: Option<NotificationRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(notification).transpose()
    }

    /// Puts `channel`'s notifications that failed for good since `since` back in line
    /// (after its settings were fixed); returns how many.
    pub async fn requeue_failed(&self, channel: &str, since: SystemTime, now: SystemTime) -> Result<u64, StoreError> {
        let sql = "UPDATE outbox SET state = 'pending', next_attempt_at = $3 \
                   WHERE channel = $1 AND state = 'failed' AND created_at >= $2";
        Ok(on_pool!(self, pool => sqlx::query(sql)
            .bind(channel)
            .bind(unix_ms(since))
            .bind(unix_ms(now))
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Pending notifications whose next attempt is due at `now`, oldest first: what the
    /// tests check retry scheduling with (delivery asks for each channel's [`Store::head`]).
    #[cfg(test)]
    pub async fn due(&self, now: SystemTime, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
             ORDER BY id LIMIT $2"
        );
        let rows: Vec<NotificationRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(unix_ms(now))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(notification).collect()
    }

    /// The outbox, newest first, optionally only in one state (for the API).
    pub async fn notifications(&self, state: Option<OutboxState>, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM outbox WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
        );
        let rows: Vec<NotificationRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(state.map(OutboxState::as_str))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(notification).collect()
    }

    /// Mark a pending notification sent. `false` if it was not pending (already sent,
    /// failed, or unknown): nothing changed.
    pub async fn mark_sent(&self, id: i64, at: SystemTime) -> Result<bool, StoreError> {
        let sql = "UPDATE outbox SET state = 'sent', sent_at = $2 WHERE id = $1 AND state = 'pending'";
        let changed =
            on_pool!(self, pool => sqlx::query(sql).bind(id).bind(unix_ms(at)).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Count a failed attempt of a pending notification and schedule the next one.
    /// `false` if it was not pending.
    pub async fn mark_retry(&self, id: i64, error: &str, next_attempt_at: SystemTime) -> Result<bool, StoreError> {
        let sql = "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 \
                   WHERE id = $1 AND state = 'pending'";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(error)
            .bind(unix_ms(next_attempt_at))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// A pending notification failed for good (it counts as an attempt): never retried.
    /// `false` if it was not pending.
    pub async fn mark_failed(&self, id: i64, error: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $2 \
                   WHERE id = $1 AND state = 'pending'";
        let changed =
            on_pool!(self, pool => sqlx::query(sql).bind(id).bind(error).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    // --- retention ------------------------------------------------------------------

    /// Delete events older than `retention` or beyond the newest `max_events`, and sent
    /// or failed notifications created more than `retention` ago. Pending
    /// notifications are never deleted. Returns the number of rows deleted.
    pub async fn prune(&self, now: SystemTime, retention: Duration, max_events: u64) -> Result<u64, StoreError> {
        let cutoff = unix_ms(now.checked_sub(retention).unwrap_or(UNIX_EPOCH));
        let max_events = i64::try_from(max_events).unwrap_or(i64::MAX);
        let by_age = "DELETE FROM events WHERE at < $1";
        let by_count = "DELETE FROM events WHERE id IN \
                        (SELECT id FROM events ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2)";
        let outbox = "DELETE FROM outbox WHERE state IN ('sent', 'failed') AND created_at < $1";
        let pruned = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut n = sqlx::query(by_age).bind(cutoff).execute(&mut *tx).await?.rows_affected();
            n += sqlx::query(by_count).bind(i64::MAX).bind(max_events).execute(&mut *tx).await?.rows_affected();
            n += sqlx::query(outbox).bind(cutoff).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        Ok(pruned)
    }
}

const SAVE_STATE: &str = "INSERT INTO alert_state (name, state, updated_at) VALUES ('policy', $1, $2) \
     ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at";

fn notification(row: NotificationRow) -> Result<Notification, StoreError> {
    let (
        id,
        created_at,
        channel,
        fingerprint,
        status,
        severity,
        subject,
        body_text,
        body_html,
        payload,
        alerts,
        attempts,
        next_attempt_at,
        state,
        last_error,
        sent_at,
    ) = row;
    Ok(Notification {
        id,
        message: NewNotification {
            created_at: from_unix_ms(created_at),
            channel,
            fingerprint,
            status: status.parse()?,
            severity,
            subject,
            body_text,
            body_html,
            payload,
            alerts,
            next_attempt_at: from_unix_ms(next_attempt_at),
        },
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt(format!("attempts {attempts}")))?,
        state: state.parse()?,
        last_error,
        sent_at: sent_at.map(from_unix_ms),
    })
}

fn migrate_error(target: &str, error: StoreError) -> StoreError {
    match error {
        StoreError::Query(e) => open_error(target, e),
        StoreError::Corrupt(reason) => StoreError::Open {
            target: target.to_owned(),
            reason,
        },
        other => other,
    }
}

fn open_error(target: &str, error: sqlx::Error) -> StoreError {
    StoreError::Open {
        target: target.to_owned(),
        reason: error.to_string(),
    }
}

/// Milliseconds since the epoch (negative before it), saturating.
fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

fn from_unix_ms(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

/// The default SQLite file for `data_dir`.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DEFAULT_FILE)
}
