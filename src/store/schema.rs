//! The schema, as an ordered list of migrations shared by both backends. `schema_version` holds
//! one row: how many migrations have been applied. A migration is applied once, in
//! the same transaction that advances the version; statements are also idempotent
//! (`IF NOT EXISTS`), so a half-done manual repair cannot break the next start.
//!
//! Append only: never edit a released migration, add the next one.

/// The statements of a migration for a backend: `{id}` becomes its auto-increment
/// primary key; split at `;` (no migration has one inside a string).
pub(super) fn statements(migration: &str, postgres: bool) -> Vec<String> {
    let id = if postgres {
        "BIGSERIAL PRIMARY KEY"
    } else {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    migration
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("{id}", id))
        .collect()
}

/// Created before anything else, outside the numbered migrations.
pub(super) const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)";

/// The migrations, oldest first, in SQL both backends take (but for `{id}`).
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS events (
    id {id},
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    program TEXT,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_program_at ON events (program, at);
CREATE TABLE IF NOT EXISTS outbox (
    id {id},
    created_at BIGINT NOT NULL,
    channel TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    last_error TEXT,
    sent_at BIGINT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
"#,
    r#"
ALTER TABLE outbox ADD COLUMN payload TEXT;
ALTER TABLE outbox ADD COLUMN alerts TEXT NOT NULL DEFAULT '[]';
CREATE INDEX IF NOT EXISTS outbox_channel ON outbox (channel, state, id);
CREATE TABLE IF NOT EXISTS alert_state (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
"#,
];
