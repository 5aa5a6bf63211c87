//! The journal: every supervision event written to the store (SQLite by default), so
//! `GET /api/v1/events` can answer for the past, across restarts of warden.
//!
//! The supervision loop never waits on it: events come from the broadcast (a lagging
//! reader skips, it never blocks the loop), wait in a bounded queue while the store is
//! being opened or written, and are counted in `warden_store_events_dropped_total`
//! when the queue overflows or a write fails. A store that cannot be opened is retried
//! every 30 s; warden supervises meanwhile.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::config::StoreConfig;
use crate::events::{Event, EventKind};
use crate::metrics::Metrics;
use crate::store::{NewEvent, Store};
use crate::supervisor::Handle;

/// Events held while the store is not ready (bounded memory).
const QUEUE: usize = 10_000;
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
const OPEN_RETRY: Duration = Duration::from_secs(30);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The store once it is open (`None` before, or while it cannot be opened), and why
/// not, for the API.
pub type StoreState = watch::Receiver<Result<Store, String>>;

/// Opens the store and writes every event of `handle` into it, in the background.
pub fn start(handle: &Handle, config: &StoreConfig, data_dir: PathBuf, metrics: Arc<Metrics>) -> StoreState {
    let (tx, rx) = watch::channel(Err("the store is being opened".to_string()));
    let url = config.url.as_ref().map(|u| u.expose().to_string());
    let retention = (config.retention, config.retention_events);
    let mut events = handle.subscribe();
    tokio::spawn(async move {
        let mut queue: VecDeque<NewEvent> = VecDeque::new();
        let mut store: Option<Store> = None;
        let mut next_open = tokio::time::Instant::now();
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if store.is_none() && tokio::time::Instant::now() >= next_open {
                match tokio::time::timeout(OPEN_TIMEOUT, Store::open(url.as_deref(), &data_dir)).await {
                    Ok(Ok(s)) => {
                        tracing::info!(backend = s.backend(), "store open");
                        let _ = tx.send(Ok(s.clone()));
                        store = Some(s);
                    }
                    outcome => {
                        let why = match outcome {
                            Ok(Err(e)) => e.to_string(),
                            _ => format!("opening it took longer than {}s", OPEN_TIMEOUT.as_secs()),
                        };
                        tracing::error!(error = %why, "cannot open the store: events are kept in memory (up to {QUEUE}) and it is retried every 30s");
                        let _ = tx.send(Err(why));
                        next_open = tokio::time::Instant::now() + OPEN_RETRY;
                    }
                }
            }
            if let Some(s) = &store {
                while let Some(event) = queue.pop_front() {
                    if let Err(e) = s.record_event(&event).await {
                        metrics.store_dropped.inc();
                        tracing::warn!(error = %e, "cannot write an event to the store");
                    }
                }
                if tokio::time::Instant::now() >= next_prune {
                    match s.prune(SystemTime::now(), retention.0, retention.1).await {
                        Ok(n) if n > 0 => tracing::info!(pruned = n, "store retention applied"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot prune the store"),
                    }
                    next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
                }
            }
            let wait = if store.is_some() { next_prune } else { next_open };
            tokio::select! {
                received = events.recv() => match received {
                    Ok(event) => {
                        if queue.len() == QUEUE {
                            queue.pop_front();
                            metrics.store_dropped.inc();
                        }
                        queue.push_back(new_event(&event));
                    }
                    Err(RecvError::Lagged(n)) => metrics.store_dropped.inc_by(n),
                    Err(RecvError::Closed) => {
                        // The supervisor is done: write what is left, then stop.
                        if let Some(s) = &store {
                            for event in queue.drain(..) {
                                let _ = s.record_event(&event).await;
                            }
                        }
                        return;
                    }
                },
                _ = tokio::time::sleep_until(wait) => {}
            }
        }
    });
    rx
}

/// An event as the store keeps it: the words the dashboard shows, and the facts.
pub fn new_event(event: &Event) -> NewEvent {
    let info = crate::dashboard::event_info(event);
    let details = match &event.kind {
        EventKind::Exited { pid, record, .. } => serde_json::json!({
            "pid": pid,
            "reason": record.reason.kind(),
            "code": record.status.and_then(|s| s.code()),
            "signal": record.status.and_then(|s| s.signal()),
        }),
        EventKind::Spawned { pid, .. } => serde_json::json!({ "pid": pid }),
        EventKind::GaveUp {
            restarts, window_secs, ..
        } => serde_json::json!({ "restarts": restarts, "window_seconds": window_secs }),
        EventKind::StateChanged { from, to, .. } => serde_json::json!({ "from": from.as_str(), "to": to.as_str() }),
        EventKind::Reloaded {
            added,
            changed,
            removed,
        } => serde_json::json!({ "added": added, "changed": changed, "removed": removed }),
        EventKind::ReloadRefused { .. } | EventKind::ProbeChanged { .. } => serde_json::json!({}),
    };
    NewEvent {
        at: event.at,
        kind: info.kind,
        program: info.program,
        severity: info.severity,
        message: info.message,
        details,
    }
}
