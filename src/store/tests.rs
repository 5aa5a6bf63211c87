//! Every case runs on SQLite (a temp dir) and on the real Postgres at
//! 127.0.0.1:5432/test, each Postgres case in a schema of its own.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;

use super::*;

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Where a case's store lives; `open` may be called again to simulate a restart.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres { schema: String },
}

impl Backend {
    fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh schema in the test database, or `None` (a loud skip) without Postgres.
    async fn postgres() -> Option<Self> {
        let reachable =
            std::net::TcpStream::connect_timeout(&"127.0.0.1:5432".parse().unwrap(), Duration::from_secs(1)).is_ok();
        if !crate::testing::require("Postgres at 127.0.0.1:5432", reachable) {
            return None;
        }
        let schema = format!("w_{:016x}", rand::random::<u64>());
        let admin = PgPool::connect(PG_URL).await.unwrap();
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        Some(Backend::Postgres { schema })
    }

    async fn open(&self) -> Store {
        match self {
            Backend::Sqlite(dir) => Store::open(None, dir.path()).await.unwrap(),
            Backend::Postgres { schema } => {
                let options = PgConnectOptions::from_str(PG_URL)
                    .unwrap()
                    .options([("search_path", schema.as_str())]);
                Store::open_postgres(options).await.unwrap()
            }
        }
    }

    async fn cleanup(self) {
        if let Backend::Postgres { schema } = self {
            let admin = PgPool::connect(PG_URL).await.unwrap();
            sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

/// `#[tokio::test]`s `NAME::sqlite` and `NAME::postgres` running `async fn NAME(&Backend)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::run(super::Backend::sqlite(), |b| Box::pin(async move { super::$name(&b).await })).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(backend) = super::Backend::postgres().await else { return };
                super::run(backend, |b| Box::pin(async move { super::$name(&b).await })).await;
            }
        }
    )*};
}

/// Run `case` on `backend`, then clean up (drop the Postgres schema) even if it panicked.
async fn run(
    backend: Backend,
    case: impl FnOnce(Arc<Backend>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    let backend = Arc::new(backend);
    let result = tokio::spawn(case(backend.clone())).await;
    Arc::into_inner(backend).expect("the case is over").cleanup().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

on_both!(
    migrations_are_idempotent,
    enqueued_survives_restart,
    retry_scheduling,
    permanent_failure,
    prune_rules,
    event_filters,
    fifo_per_channel_and_state,
);

/// `head` is the oldest pending notification of a channel, due or not (a retry of the
/// first holds back the second); the policy state is saved with what it released;
/// failed notifications can be put back in line.
async fn fifo_per_channel_and_state(backend: &Backend) {
    let store = backend.open().await;
    assert_eq!(store.load_state().await.unwrap(), None);
    let mut slack = notification_at(t(0), "to slack");
    slack.channel = "slack".into();
    slack.payload = Some("{\"text\":\"x\"}".into());
    let ids = store
        .enqueue_with_state(
            &[notification_at(t(0), "first"), notification_at(t(1), "second"), slack],
            "{\"v\":1}",
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(store.load_state().await.unwrap().as_deref(), Some("{\"v\":1}"));
    store.enqueue_with_state(&[], "{\"v\":2}").await.unwrap();
    assert_eq!(store.load_state().await.unwrap().as_deref(), Some("{\"v\":2}"));

    let head = store.head("email").await.unwrap().unwrap();
    assert_eq!(head.message.subject, "first");
    store.mark_retry(head.id, "451 later", t(100)).await.unwrap();
    // Not due, but still the head: "second" waits behind it.
    assert_eq!(store.head("email").await.unwrap().unwrap().id, head.id);
    let s = store.head("slack").await.unwrap().unwrap();
    assert_eq!(s.message.payload.as_deref(), Some("{\"text\":\"x\"}"));
    assert_eq!(
        store.notification(s.id).await.unwrap().unwrap().message.subject,
        "to slack"
    );

    store.mark_failed(head.id, "550 refused").await.unwrap();
    assert_eq!(store.head("email").await.unwrap().unwrap().message.subject, "second");
    assert_eq!(store.requeue_failed("email", t(0), t(200)).await.unwrap(), 1);
    let again = store.notification(head.id).await.unwrap().unwrap();
    assert_eq!(
        (again.state, again.message.next_attempt_at),
        (OutboxState::Pending, t(200))
    );
    assert_eq!(store.head("email").await.unwrap().unwrap().id, head.id);
    store.close().await;
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn event(at: SystemTime, program: Option<&str>, message: &str) -> NewEvent {
    NewEvent {
        at,
        kind: "exited".into(),
        program: program.map(Into::into),
        severity: "error".into(),
        message: message.into(),
        details: serde_json::json!({ "code": 1, "stderr": ["a", "b"] }),
    }
}

fn notification_at(created: SystemTime, subject: &str) -> NewNotification {
    NewNotification {
        created_at: created,
        channel: "email".into(),
        fingerprint: "crash:api".into(),
        status: AlertStatus::Firing,
        severity: "error".into(),
        subject: subject.into(),
        body_text: "api exited with code 1".into(),
        body_html: Some("<p>api exited</p>".into()),
        payload: None,
        alerts: "[]".into(),
        next_attempt_at: created,
    }
}

async fn migrations_are_idempotent(backend: &Backend) {
    let store = backend.open().await;
    let known = schema::MIGRATIONS.len() as i64;
    assert_eq!(store.schema_version().await.unwrap(), known);
    store.record_event(&event(t(0), Some("api"), "kept")).await.unwrap();
    store.close().await;
    // Opening again migrates nothing and loses nothing.
    let store = backend.open().await;
    let store2 = backend.open().await;
    assert_eq!(store.schema_version().await.unwrap(), known);
    let all = store2
        .events(&EventFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].message, "kept");
    store.close().await;
    store2.close().await;
}

/// The delivery guarantee: an enqueued notification outlives the process until it is
/// marked sent (or failed).
async fn enqueued_survives_restart(backend: &Backend) {
    let store = backend.open().await;
    let id = store.enqueue(&notification_at(t(0), "api is down")).await.unwrap();
    drop(store); // no close: as abrupt as a process exit can be from here

    let store = backend.open().await;
    let due = store.due(t(1), 10).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    let n = &due[0];
    assert_eq!(n.id, id);
    assert_eq!(n.message.subject, "api is down");
    assert_eq!(n.message.body_html.as_deref(), Some("<p>api exited</p>"));
    assert_eq!(
        (n.state, n.message.status, n.attempts),
        (OutboxState::Pending, AlertStatus::Firing, 0)
    );
    assert_eq!(
        (n.message.created_at, n.message.next_attempt_at, n.sent_at),
        (t(0), t(0), None)
    );
    assert!(store.mark_sent(id, t(2)).await.unwrap());
    assert!(
        !store.mark_sent(id, t(3)).await.unwrap(),
        "a sent notification stays sent"
    );
    store.close().await;

    let store = backend.open().await;
    assert!(store.due(t(100), 10).await.unwrap().is_empty());
    let all = store.notifications(None, 10).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].state, all[0].sent_at), (OutboxState::Sent, Some(t(2))));
    store.close().await;
}

async fn retry_scheduling(backend: &Backend) {
    let store = backend.open().await;
    let first = store.enqueue(&notification_at(t(0), "first")).await.unwrap();
    let mut later = notification_at(t(0), "later");
    later.next_attempt_at = t(50);
    let second = store.enqueue(&later).await.unwrap();
    let mut resolved = notification_at(t(1), "resolved");
    resolved.status = AlertStatus::Resolved;
    resolved.body_html = None;
    let third = store.enqueue(&resolved).await.unwrap();

    // Only what is due, oldest first, at most `limit`.
    let ids = |v: Vec<Notification>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(ids(store.due(t(1), 10).await.unwrap()), [first, third]);
    assert_eq!(ids(store.due(t(1), 1).await.unwrap()), [first]);
    assert_eq!(ids(store.due(t(50), 10).await.unwrap()), [first, second, third]);

    assert!(store.mark_retry(first, "421 try later", t(10)).await.unwrap());
    assert_eq!(ids(store.due(t(9), 10).await.unwrap()), [third]);
    let due = store.due(t(10), 10).await.unwrap();
    assert_eq!(ids(due.clone()), [first, third]);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].last_error.as_deref(), Some("421 try later"));
    assert_eq!(due[0].message.next_attempt_at, t(10));
    assert_eq!(due[1].message.status, AlertStatus::Resolved);
    assert_eq!(due[1].message.body_html, None);

    assert!(store.mark_retry(first, "connection refused", t(20)).await.unwrap());
    let n = store.due(t(20), 1).await.unwrap().remove(0);
    assert_eq!((n.attempts, n.last_error.as_deref()), (2, Some("connection refused")));
    assert!(store.mark_sent(first, t(21)).await.unwrap());
    assert!(!store.mark_retry(first, "late", t(30)).await.unwrap(), "sent is final");
    assert!(!store.mark_retry(9_999_999, "unknown", t(30)).await.unwrap());
    assert_eq!(ids(store.due(t(50), 10).await.unwrap()), [second, third]);
    store.close().await;
}

async fn permanent_failure(backend: &Backend) {
    let store = backend.open().await;
    let id = store.enqueue(&notification_at(t(0), "bad recipient")).await.unwrap();
    let other = store.enqueue(&notification_at(t(0), "fine")).await.unwrap();
    assert!(store.mark_failed(id, "550 no such mailbox").await.unwrap());
    assert!(!store.mark_failed(id, "again").await.unwrap());
    assert!(!store.mark_sent(id, t(1)).await.unwrap(), "failed is final");

    let due = store.due(t(1_000_000), 10).await.unwrap();
    assert_eq!(due.iter().map(|n| n.id).collect::<Vec<_>>(), [other]);
    let failed = store.notifications(Some(OutboxState::Failed), 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, id);
    assert_eq!(failed[0].attempts, 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("550 no such mailbox"));
    assert_eq!(failed[0].sent_at, None);
    let pending = store.notifications(Some(OutboxState::Pending), 10).await.unwrap();
    assert_eq!(pending.iter().map(|n| n.id).collect::<Vec<_>>(), [other]);
    // Newest first, all states.
    let all = store.notifications(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|n| n.id).collect::<Vec<_>>(), [other, id]);
    store.close().await;
}

async fn prune_rules(backend: &Backend) {
    const DAY: u64 = 86_400;
    let store = backend.open().await;
    let retention = Duration::from_secs(30 * DAY);
    let now = t(100 * DAY);
    // Events: 3 too old, 5 recent.
    for i in 0..3 {
        store.record_event(&event(t(i), None, "old")).await.unwrap();
    }
    for i in 0..5 {
        store
            .record_event(&event(t(90 * DAY + i), Some("api"), &format!("recent {i}")))
            .await
            .unwrap();
    }
    // Outbox: old sent, old failed, old pending (kept), recent sent (kept).
    let old_sent = store.enqueue(&notification_at(t(0), "old sent")).await.unwrap();
    store.mark_sent(old_sent, t(1)).await.unwrap();
    let old_failed = store.enqueue(&notification_at(t(0), "old failed")).await.unwrap();
    store.mark_failed(old_failed, "550").await.unwrap();
    let old_pending = store.enqueue(&notification_at(t(0), "old pending")).await.unwrap();
    store.mark_retry(old_pending, "down", t(99 * DAY)).await.unwrap();
    let recent_sent = store
        .enqueue(&notification_at(t(95 * DAY), "recent sent"))
        .await
        .unwrap();
    store.mark_sent(recent_sent, t(95 * DAY)).await.unwrap();

    // By age: 3 events + 2 notifications; and then the count: 5 left, keep the newest 3.
    assert_eq!(store.prune(now, retention, 3).await.unwrap(), 3 + 2 + 2);
    let all = EventFilter {
        limit: 100,
        ..Default::default()
    };
    let kept = store.events(&all).await.unwrap();
    let messages: Vec<_> = kept.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["recent 4", "recent 3", "recent 2"]);
    let ids: Vec<_> = store
        .notifications(None, 10)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, [recent_sent, old_pending]);
    assert_eq!(
        store.due(t(99 * DAY), 10).await.unwrap().len(),
        1,
        "pending is never pruned"
    );

    // Nothing more to do.
    assert_eq!(store.prune(now, retention, 3).await.unwrap(), 0);
    assert_eq!(store.prune(now, retention, 100).await.unwrap(), 0);
    store.close().await;
}

async fn event_filters(backend: &Backend) {
    let store = backend.open().await;
    let a1 = store.record_event(&event(t(10), Some("api"), "a1")).await.unwrap();
    store.record_event(&event(t(20), Some("worker"), "w1")).await.unwrap();
    store.record_event(&event(t(30), None, "reload")).await.unwrap();
    store.record_event(&event(t(30), Some("api"), "a2")).await.unwrap();
    store.record_event(&event(t(40), Some("api"), "a3")).await.unwrap();

    let messages = |events: Vec<StoredEvent>| events.into_iter().map(|e| e.message).collect::<Vec<_>>();
    let filter = |program: Option<&str>, since: Option<SystemTime>, limit: u32| EventFilter {
        program: program.map(Into::into),
        since,
        limit,
    };
    // Newest first; the same instant in insertion order, newest first.
    assert_eq!(
        messages(store.events(&filter(None, None, 100)).await.unwrap()),
        ["a3", "a2", "reload", "w1", "a1"]
    );
    assert_eq!(
        messages(store.events(&filter(Some("api"), None, 100)).await.unwrap()),
        ["a3", "a2", "a1"]
    );
    assert_eq!(
        messages(store.events(&filter(None, Some(t(30)), 100)).await.unwrap()),
        ["a3", "a2", "reload"]
    );
    assert_eq!(
        messages(store.events(&filter(Some("api"), Some(t(11)), 1)).await.unwrap()),
        ["a3"]
    );
    assert!(store
        .events(&filter(Some("nobody"), None, 100))
        .await
        .unwrap()
        .is_empty());
    assert!(store.events(&filter(None, None, 0)).await.unwrap().is_empty());

    // Every field comes back as written (times to the millisecond).
    let mut e = event(t(100) + Duration::from_millis(123), Some("api"), "exact");
    e.details = serde_json::json!({ "signal": "SIGKILL", "restarts": 3, "nested": { "ok": true } });
    let id = store.record_event(&e).await.unwrap();
    assert!(id > a1);
    let got = store.events(&filter(Some("api"), None, 1)).await.unwrap().remove(0);
    assert_eq!(
        got,
        StoredEvent {
            id,
            at: e.at,
            kind: e.kind,
            program: e.program,
            severity: e.severity,
            message: e.message,
            details: e.details,
        }
    );
    store.close().await;
}

// --- SQLite files that cannot be used ------------------------------------------------

#[tokio::test]
async fn corrupt_sqlite_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DEFAULT_FILE);
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();
    let error = Store::open(None, dir.path()).await.unwrap_err().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("not a database"), "{error}");
}

#[tokio::test]
async fn unusable_sqlite_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let path = dir.path().join("db");
    std::fs::create_dir(&path).unwrap();
    let url = format!("sqlite://{}", path.display());
    let error = Store::open(Some(&url), dir.path()).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("cannot open the store (SQLite file {})", path.display())),
        "{error}"
    );
    // A data_dir that cannot be created (a file is in the way).
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let error = Store::open(None, &blocker.join("data")).await.unwrap_err().to_string();
    assert!(error.contains("cannot create the directory"), "{error}");
}

/// Needs a user that file permissions apply to; root writes anyway.
#[tokio::test]
async fn read_only_sqlite_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(None, dir.path()).await.unwrap().close().await;
    let path = dir.path().join(DEFAULT_FILE);
    let read_only = |path: &Path| {
        let mut permissions = std::fs::metadata(path).unwrap().permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(path, permissions).unwrap();
    };
    read_only(&path);
    read_only(dir.path());
    if nix::unistd::geteuid().is_root() {
        eprintln!("read_only_sqlite_file_is_a_clear_error: running as root, permissions do not apply; checked nothing");
    } else {
        let error = Store::open(None, dir.path()).await.unwrap_err().to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("readonly"), "{error}");
    }
    let mut permissions = std::fs::metadata(dir.path()).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(dir.path(), permissions).unwrap();
}

// --- urls ------------------------------------------------------------------------------

#[tokio::test]
async fn urls() {
    let dir = tempfile::tempdir().unwrap();
    let error = Store::open(Some("mysql://u:hunter2@h/db"), dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("use sqlite://PATH, postgres://"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    assert!(Store::open(Some("sqlite://"), dir.path()).await.is_err());

    let path = dir.path().join("custom.db");
    let store = Store::open(Some(&format!("sqlite://{}", path.display())), dir.path())
        .await
        .unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.close().await;
    assert!(path.exists());
    // WAL mode is on the file.
    let store = Store::open_sqlite(&path).await.unwrap();
    let Store::Sqlite(pool) = &store else { unreachable!() };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
    assert_eq!(mode, "wal");
    store.close().await;
}

/// A refused connection names the host and database, never the password.
#[tokio::test]
async fn unreachable_postgres_is_a_clear_error() {
    let port = crate::testing::free_port();
    let url = format!("postgres://warden:hunter2@127.0.0.1:{port}/events");
    let error = Store::open(Some(&url), Path::new(".")).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "cannot open the store (Postgres warden@127.0.0.1:{port}/events)"
        )),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}

/// Every future of the API can be spawned (the wiring will run them in tasks).
#[allow(dead_code)]
fn futures_are_send(store: Store, e: NewEvent, n: NewNotification, f: EventFilter) {
    fn send<T: Send + 'static>(_: T) {}
    send(async move { Store::open(None, Path::new(".")).await });
    send({
        let s = store.clone();
        let e = e.clone();
        async move { s.record_event(&e).await }
    });
    send({
        let s = store.clone();
        async move { s.events(&f).await }
    });
    send({
        let s = store.clone();
        async move { s.enqueue(&n).await }
    });
    send({
        let s = store.clone();
        async move { s.due(UNIX_EPOCH, 1).await }
    });
    send({
        let s = store.clone();
        async move { s.notifications(None, 1).await }
    });
    send({
        let s = store.clone();
        async move { s.mark_sent(1, UNIX_EPOCH).await }
    });
    send({
        let s = store.clone();
        async move { s.mark_retry(1, "e", UNIX_EPOCH).await }
    });
    send({
        let s = store.clone();
        async move { s.mark_failed(1, "e").await }
    });
    send({
        let s = store.clone();
        async move { s.prune(UNIX_EPOCH, Duration::ZERO, 1).await }
    });
    send({
        let s = store.clone();
        async move { s.schema_version().await }
    });
}
