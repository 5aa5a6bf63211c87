//! Alerting, wired (layer 3): what warden observes goes through the rules into the
//! policy; what the policy releases goes into the outbox; one delivery task per
//! channel sends the outbox's oldest pending notification, retrying with backoff.
//!
//! ```text
//! supervisor events ─┐                       ┌─► outbox (store) ─► email task ─► SMTP
//! check results ─────┼─► rules ─► Policy ────┤    + policy state  └► slack task ─► webhook
//! host findings ─────┘      ▲   (due())      │    (one transaction)
//! delivery outcomes ────────┘                └─► view (GET /api/v1/alerts, dashboard)
//! ```
//!
//! The delivery guarantee: a notification is written to the outbox, together with the
//! policy's state that says it was released, before any attempt to send it; it is
//! marked sent only after the server acknowledged it. A restart of warden therefore
//! neither loses a notification nor sends again one that was acknowledged (one that
//! was being sent at the very moment warden died may be sent twice: at least once).
//! Each channel sends strictly in order, so a RESOLVED notice never overtakes its
//! FIRING one.
//!
//! Nothing here blocks the supervision loop: events come from the broadcast. When the
//! store cannot be opened, notifications wait in memory (bounded) and are still sent;
//! they move into the store once it opens.
//!
//! When warden shuts down, program events stop feeding the rules: programs stopped by
//! the shutdown are not "resolved", so the owner is not told everything is fine
//! because warden restarted. The policy's state is saved and, after the restart,
//! restored; alerts of programs no longer configured are resolved then.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerts::{rules, text, Alert, AlertStatus, ChannelPolicy, Policy, PolicyConfig, Severity, Signal, Silence};
use crate::channels::{Channel, Message, SendError};
use crate::config::{AlertsConfig, Config, ProbeAction};
use crate::events::{Event, EventKind};
use crate::health::checks::CheckStatus;
use crate::health::system::{Level, SystemReport};
use crate::journal::StoreState;
use crate::logs::Stream;
use crate::metrics::Metrics;
use crate::redact::Redactor;
use crate::store::{self, NewNotification, Notification, OutboxState, Store};
use crate::supervisor::Handle;

/// Notifications kept in memory while the store is unavailable (oldest dropped).
const MEMORY_OUTBOX: usize = 1000;
/// The longest `Retry-After` a channel's server may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// A channel failing this many attempts in a row is reported on the other channels.
const FAILING_AFTER: u32 = 3;
/// The policy's state is saved at most this often when nothing was released.
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// After a channel's settings change, its notifications that failed for good within
/// this time are sent again.
const REQUEUE_WITHIN: Duration = Duration::from_secs(24 * 60 * 60);
/// How often the outbox tries to go back into a store that failed a write.
const STORE_RETRY: Duration = Duration::from_secs(30);
/// How long warden waits for the store at start before it alerts from memory.
const STORE_WAIT: Duration = Duration::from_secs(20);

/// What the API shows of alerting.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Firing alerts, and whether a silence holds them back.
    pub firing: Vec<(Alert, bool)>,
    pub silences: Vec<Silence>,
    /// Configured channels.
    pub channels: Vec<&'static str>,
    /// `None` while the outbox is in the store; otherwise why it is in memory.
    pub store_error: Option<String>,
}

/// The handle the HTTP layer and the app hold.
#[derive(Clone)]
pub struct Alerting {
    commands: mpsc::Sender<Command>,
    view: watch::Receiver<Arc<View>>,
    outbox: watch::Receiver<Outbox>,
}

/// Why a test notification was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    /// The request names no usable channel (400).
    Channel(String),
    /// Alerting cannot take it now (503).
    Unavailable(String),
}

enum Command {
    Silence(Silence, oneshot::Sender<()>),
    Test {
        channel: Option<String>,
        reply: oneshot::Sender<Result<Vec<i64>, TestError>>,
    },
    Flush(Duration, oneshot::Sender<()>),
}

/// Where alerting reads from.
pub struct Inputs {
    pub handle: Handle,
    pub config: watch::Receiver<Arc<Config>>,
    pub checks: watch::Receiver<Arc<Vec<CheckStatus>>>,
    pub system: watch::Receiver<Option<Arc<SystemReport>>>,
    pub store: StoreState,
    pub metrics: Arc<Metrics>,
    /// Cancelled when warden begins to shut down.
    pub shutdown: CancellationToken,
}

impl Alerting {
    pub fn start(inputs: Inputs) -> Alerting {
        let (commands, rx) = mpsc::channel(16);
        let (view_tx, view) = watch::channel(Arc::new(View::default()));
        let (outbox_tx, outbox) = watch::channel(Outbox::memory());
        tokio::spawn(run(inputs, rx, view_tx, outbox_tx));
        Alerting { commands, view, outbox }
    }

    pub fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    /// Adds a maintenance silence.
    pub async fn silence(&self, silence: Silence) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Silence(silence, tx))
            .await
            .map_err(|_| GONE.to_owned())?;
        rx.await.map_err(|_| GONE.to_owned())
    }

    /// Puts a test notification in the outbox of `channel` (every channel if `None`);
    /// returns their ids, to follow with [`Alerting::notification`].
    pub async fn test(&self, channel: Option<String>) -> Result<Vec<i64>, TestError> {
        let gone = || TestError::Unavailable(GONE.to_owned());
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Test { channel, reply })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Saves the policy's state and gives the channels up to `within` to deliver what
    /// is due (at shutdown).
    pub async fn flush(&self, within: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Flush(within, tx)).await.is_ok() {
            let _ = tokio::time::timeout(within + Duration::from_secs(1), rx).await;
        }
    }

    pub async fn notification(&self, id: i64) -> Result<Option<Notification>, String> {
        let outbox = self.outbox.borrow().clone();
        outbox.notification(id).await
    }

    /// The outbox, newest first: what was sent, what failed, what waits.
    pub async fn notifications(&self, state: Option<OutboxState>, limit: u32) -> Result<Vec<Notification>, String> {
        let outbox = self.outbox.borrow().clone();
        outbox.recent(state, limit).await
    }
}

const GONE: &str = "alerting has stopped";

// --- the outbox: the store, or memory while the store is unavailable ----------------

#[derive(Clone)]
enum Outbox {
    Store(Store),
    Memory(Arc<Mutex<VecDeque<Notification>>>),
}

impl Outbox {
    fn memory() -> Outbox {
        Outbox::Memory(Arc::default())
    }

    async fn enqueue(&self, ns: &[NewNotification], state: &str) -> Result<Vec<i64>, String> {
        match self {
            Outbox::Store(s) => s.enqueue_with_state(ns, state).await.map_err(|e| e.to_string()),
            Outbox::Memory(m) => {
                let mut rows = m.lock().unwrap_or_else(|e| e.into_inner());
                let mut ids = Vec::new();
                for n in ns {
                    let id = rows.back().map_or(1, |r| r.id + 1);
                    rows.push_back(Notification::pending(id, n.clone()));
                    ids.push(id);
                }
                while rows.len() > MEMORY_OUTBOX {
                    if let Some(dropped) = rows.pop_front() {
                        if dropped.state == OutboxState::Pending {
                            tracing::error!(channel = %dropped.message.channel, subject = %dropped.message.subject, "alert outbox in memory is full: dropped the oldest notification");
                        }
                    }
                }
                Ok(ids)
            }
        }
    }

    async fn head(&self, channel: &str) -> Result<Option<Notification>, String> {
        match self {
            Outbox::Store(s) => s.head(channel).await.map_err(|e| e.to_string()),
            Outbox::Memory(m) => Ok(m
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|r| r.message.channel == channel && r.state == OutboxState::Pending)
                .cloned()),
        }
    }

    async fn notification(&self, id: i64) -> Result<Option<Notification>, String> {
        match self {
            Outbox::Store(s) => s.notification(id).await.map_err(|e| e.to_string()),
            Outbox::Memory(m) => Ok(m
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|r| r.id == id)
                .cloned()),
        }
    }

    async fn recent(&self, state: Option<OutboxState>, limit: u32) -> Result<Vec<Notification>, String> {
        match self {
            Outbox::Store(s) => s.notifications(state, limit).await.map_err(|e| e.to_string()),
            Outbox::Memory(m) => Ok(m
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .rev()
                .filter(|r| state.is_none_or(|s| r.state == s))
                .take(limit as usize)
                .cloned()
                .collect()),
        }
    }

    /// Records an attempt's outcome.
    async fn mark(&self, id: i64, outcome: &Mark) -> Result<(), String> {
        match self {
            Outbox::Store(s) => match outcome {
                Mark::Sent(at) => s.mark_sent(id, *at).await,
                Mark::Retry(error, next) => s.mark_retry(id, error, *next).await,
                Mark::Failed(error) => s.mark_failed(id, error).await,
            }
            .map(drop)
            .map_err(|e| e.to_string()),
            Outbox::Memory(m) => {
                let mut rows = m.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(r) = rows.iter_mut().find(|r| r.id == id && r.state == OutboxState::Pending) {
                    match outcome {
                        Mark::Sent(at) => {
                            r.state = OutboxState::Sent;
                            r.sent_at = Some(*at);
                        }
                        Mark::Retry(error, next) => {
                            r.attempts += 1;
                            r.last_error = Some(error.to_owned());
                            r.message.next_attempt_at = *next;
                        }
                        Mark::Failed(error) => {
                            r.attempts += 1;
                            r.state = OutboxState::Failed;
                            r.last_error = Some(error.to_owned());
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// An attempt's outcome, as recorded in the outbox.
#[derive(Clone)]
enum Mark {
    Sent(SystemTime),
    Retry(String, SystemTime),
    Failed(String),
}

// --- the worker ---------------------------------------------------------------------

/// A channel's delivery task.
struct Deliverer {
    name: &'static str,
    wake: Arc<Notify>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// What a delivery task reports.
struct Outcome {
    channel: &'static str,
    /// `None`: delivered. `Some((reason, failed for good, attempts in a row))`.
    failure: Option<(String, bool, u32)>,
}

#[derive(Serialize)]
struct CarriedAlert<'a> {
    fingerprint: &'a str,
    status: AlertStatus,
    severity: Severity,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    program: Option<&'a str>,
}

struct Worker {
    handle: Handle,
    config: Arc<Config>,
    policy: Policy,
    outbox: watch::Sender<Outbox>,
    metrics: Arc<Metrics>,
    deliverers: Vec<Deliverer>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    redactor: Redactor,
    host: String,
    /// Last seen `up` of each check and level of each host component (signals are
    /// raised on changes only).
    checks_seen: BTreeMap<String, Option<bool>>,
    system_seen: BTreeMap<String, Level>,
    dirty: bool,
    last_save: tokio::time::Instant,
    store_error: Option<String>,
    /// `CHANNEL: why` for each configured channel that could not be set up.
    setup_errors: Vec<String>,
    /// The saved state has been taken in (at start, or when the store opened late).
    restored: bool,
}

async fn run(
    inputs: Inputs,
    mut commands: mpsc::Receiver<Command>,
    view: watch::Sender<Arc<View>>,
    outbox_tx: watch::Sender<Outbox>,
) {
    let Inputs {
        handle,
        mut config,
        mut checks,
        mut system,
        mut store,
        metrics,
        shutdown,
    } = inputs;
    let mut events = handle.subscribe();
    let current = config.borrow_and_update().clone();
    // Unbounded: a delivery task must never wait on the worker (which may be waiting on
    // it in stop_deliverers); one outcome per attempt keeps it small.
    let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
    let mut w = Worker {
        handle: handle.clone(),
        policy: Policy::new(policy_config(&current.alerts)),
        redactor: Redactor::new(&current),
        config: current,
        outbox: outbox_tx,
        metrics,
        deliverers: Vec::new(),
        outcomes: outcomes_tx,
        host: hostname(),
        checks_seen: BTreeMap::new(),
        system_seen: BTreeMap::new(),
        dirty: false,
        last_save: tokio::time::Instant::now(),
        store_error: Some("the store is being opened".into()),
        setup_errors: Vec::new(),
        restored: false,
    };

    // The saved state first: a notification must not be released twice. The journal
    // opens the store; its first outcome (or a timeout) decides.
    let mut opened = store.borrow_and_update().clone();
    if opened.is_err() {
        if let Ok(Ok(())) = tokio::time::timeout(STORE_WAIT, store.changed()).await {
            opened = store.borrow_and_update().clone();
        }
    }
    match opened {
        Ok(s) => w.use_store(s, true).await,
        Err(why) => {
            tracing::error!(error = %why, "alerts wait in memory until the store opens");
            w.store_error = Some(why);
        }
    }
    w.start_deliverers();
    w.publish(&view);

    let mut stopping = false;
    let mut store_retry = tokio::time::interval_at(tokio::time::Instant::now() + STORE_RETRY, STORE_RETRY);
    loop {
        let wakeup = w.policy.next_wakeup().map(|t| {
            let wait = t.duration_since(SystemTime::now()).unwrap_or_default();
            tokio::time::Instant::now() + wait
        });
        let save_at = w.dirty.then_some(w.last_save + SAVE_EVERY);
        let timer = [wakeup, save_at].into_iter().flatten().min();
        tokio::select! {
            // First: once warden is shutting down, the stops it causes must not be
            // taken for resolutions.
            biased;
            _ = shutdown.cancelled(), if !stopping => {
                stopping = true;
                w.save().await;
            }
            event = events.recv() => match event {
                Ok(event) if !stopping => w.on_event(&event).await,
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "alerting fell behind the event stream"),
                Err(RecvError::Closed) => break,
            },
            // Once warden shuts down, what it stops (a database it supervises) is not news.
            Ok(()) = checks.changed(), if !stopping => {
                let list = checks.borrow_and_update().clone();
                w.on_checks(&list);
            }
            Ok(()) = system.changed(), if !stopping => {
                let report = system.borrow_and_update().clone();
                if let Some(report) = report { w.on_system(&report); }
            }
            Ok(()) = config.changed() => {
                let new = config.borrow_and_update().clone();
                w.reconfigure(new).await;
            }
            Ok(()) = store.changed(), if w.store_error.is_some() => {
                let opened = store.borrow_and_update().clone();
                if let Ok(s) = opened { w.use_store(s, false).await; }
            }
            // A store that opened, then failed a write: try it again now and then.
            _ = store_retry.tick(), if w.store_error.is_some() && store.borrow().is_ok() => {
                let opened = store.borrow().clone();
                if let Ok(s) = opened { w.use_store(s, false).await; }
            }
            Some(outcome) = outcomes.recv() => w.on_outcome(outcome),
            Some(command) = commands.recv() => match command {
                Command::Silence(silence, reply) => {
                    w.policy.silence(silence, SystemTime::now());
                    w.dirty = true;
                    w.save().await;
                    // Shown before the answer: a GET right after the POST sees it.
                    w.publish(&view);
                    let _ = reply.send(());
                }
                Command::Test { channel, reply } => { let _ = reply.send(w.test(channel).await); }
                Command::Flush(within, reply) => {
                    w.release().await;
                    w.save().await;
                    w.drain(within).await;
                    let _ = reply.send(());
                }
            },
            _ = sleep_until(timer) => {}
        }
        w.release().await;
        if w.dirty && w.last_save.elapsed() >= SAVE_EVERY {
            w.save().await;
        }
        w.publish(&view);
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Worker {
    fn outbox(&self) -> Outbox {
        self.outbox.borrow().clone()
    }

    /// Switches the outbox to the store: restores the saved state (`restore`, at
    /// start), or moves what waited in memory into it.
    async fn use_store(&mut self, s: Store, restore: bool) {
        if restore {
            self.restored = true;
            match s.load_state().await {
                Ok(Some(json)) => match serde_json::from_str(&json) {
                    Ok(state) => {
                        let now = SystemTime::now();
                        self.policy = Policy::restore(policy_config(&self.config.alerts), state, now);
                        self.resolve_gone(now);
                        tracing::info!(firing = self.policy.firing().count(), "alert state restored");
                    }
                    Err(e) => tracing::error!(error = %e, "the saved alert state is unreadable: starting afresh"),
                },
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot read the saved alert state: starting afresh"),
            }
        } else if let Outbox::Memory(m) = self.outbox() {
            // Opened late: what was saved before warden started still counts. (Not
            // after a failed write: the policy already holds all that was saved.)
            if !self.restored {
                match s.load_state().await.map(|json| json.map(|j| serde_json::from_str(&j))) {
                    Ok(Some(Ok(saved))) => self.policy.merge(saved, SystemTime::now()),
                    Ok(Some(Err(e))) => {
                        tracing::error!(error = %e, "the saved alert state is unreadable: it is replaced")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot read the saved alert state"),
                }
                self.restored = true;
            }
            let waiting: Vec<NewNotification> = m
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|r| r.state == OutboxState::Pending)
                .map(|r| r.message.clone())
                .collect();
            // Stop the memory deliverers first so nothing is sent from both.
            self.stop_deliverers().await;
            if let Err(e) = s.enqueue_with_state(&waiting, &self.state_json()).await {
                tracing::error!(error = %e, "cannot move the alerts waiting in memory into the store");
                self.start_deliverers();
                return;
            }
            tracing::info!(
                moved = waiting.len(),
                "the store is open: the alert outbox moves into it"
            );
            self.outbox.send_replace(Outbox::Store(s));
            self.store_error = None;
            self.start_deliverers();
            return;
        }
        self.outbox.send_replace(Outbox::Store(s));
        self.store_error = None;
    }

    /// Resolves the alerts nothing will report on any more: of programs and checks no
    /// longer configured, of channels removed, of probes removed or set to `none`.
    fn resolve_gone(&mut self, now: SystemTime) {
        let config = &self.config;
        let channel_on = |c: &str| match c {
            "email" => config.alerts.email.is_some(),
            "slack" => config.alerts.slack.is_some(),
            _ => false,
        };
        let probe_alerts = |p: &str| {
            config
                .program(p)
                .and_then(|p| p.probe.as_ref())
                .is_some_and(|probe| probe.action != ProbeAction::None)
        };
        let gone: Vec<String> = self
            .policy
            .firing()
            .filter(|a| {
                let fp = a.fingerprint.as_str();
                let program_gone = a
                    .details
                    .program
                    .as_deref()
                    .is_some_and(|p| config.program(p).is_none());
                let check_gone = fp
                    .strip_prefix("check_down:")
                    .is_some_and(|c| !config.checks.iter().any(|k| k.name == c));
                let channel_gone = rules::delivery_channel(fp).is_some_and(|c| !channel_on(c));
                let probe_gone = fp.strip_prefix("probe_failing:").is_some_and(|p| !probe_alerts(p));
                program_gone || check_gone || channel_gone || probe_gone
            })
            .map(|a| a.fingerprint.clone())
            .collect();
        for fingerprint in gone {
            self.policy.signal(Signal::Resolve { fingerprint, at: now }, now);
        }
    }

    async fn on_event(&mut self, event: &Event) {
        // A probe's alert: none with `action = "none"` (its end still resolves one
        // raised before), else at its `severity`.
        let mut probe_severity = None;
        if let EventKind::ProbeChanged { program, healthy, .. } = &event.kind {
            let probe = self.config.program(program).and_then(|p| p.probe.as_ref());
            if !healthy && probe.is_some_and(|p| p.action == ProbeAction::None) {
                return;
            }
            probe_severity = probe.map(|p| p.severity);
        }
        let tail = match &event.kind {
            EventKind::Exited { program, record, .. } if record.reason.is_failure() => self.stderr_tail(program).await,
            _ => Vec::new(),
        };
        let now = SystemTime::now();
        for mut signal in rules::from_event(event, &self.host, &tail) {
            if let (Signal::Fire(alert), Some(severity)) = (&mut signal, probe_severity) {
                alert.severity = severity;
            }
            self.policy.signal(signal, now);
            self.dirty = true;
        }
    }

    /// The program's last stderr lines, secrets blanked.
    async fn stderr_tail(&self, program: &str) -> Vec<String> {
        let n = self.config.alerts.stderr_lines;
        if n == 0 {
            return Vec::new();
        }
        let Some(sink) = self.handle.logs(program).await else {
            return Vec::new();
        };
        let lines: Vec<String> = sink
            .tail(n * 4)
            .into_iter()
            .filter(|l| l.stream == Stream::Stderr)
            .map(|l| self.redactor.redact(&l.text).into_owned())
            .collect();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }

    fn on_checks(&mut self, list: &[CheckStatus]) {
        let now = SystemTime::now();
        for c in list {
            if self.checks_seen.get(&c.name) == Some(&c.up) {
                continue;
            }
            self.checks_seen.insert(c.name.clone(), c.up);
            if let Some(signal) = rules::from_check(&c.name, c.up, &c.message, &self.host, now) {
                self.policy.signal(signal, now);
                self.dirty = true;
            }
        }
    }

    fn on_system(&mut self, report: &SystemReport) {
        let now = SystemTime::now();
        let findings = report.findings();
        // A component no longer measured (a mount removed) cannot clear by itself.
        let absent: Vec<String> = self
            .policy
            .firing()
            .filter_map(|a| a.fingerprint.strip_prefix("system:"))
            .filter(|c| !findings.iter().any(|f| f.component == *c))
            .map(rules::system_fingerprint)
            .collect();
        for fingerprint in absent {
            self.policy.signal(Signal::Resolve { fingerprint, at: now }, now);
            self.dirty = true;
        }
        for f in findings {
            if self.system_seen.get(&f.component) == Some(&f.level) {
                continue;
            }
            self.system_seen.insert(f.component.clone(), f.level);
            let level = match f.level {
                Level::Ok => rules::SystemLevel::Ok,
                Level::Warning => rules::SystemLevel::Warning,
                Level::Critical => rules::SystemLevel::Critical,
            };
            let signal = rules::from_finding(&f.component, level, &f.reason, &self.host, now);
            self.policy.signal(signal, now);
            self.dirty = true;
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        let now = SystemTime::now();
        let failure = match &outcome.failure {
            None => None,
            Some((reason, permanent, attempts)) if *permanent || *attempts >= FAILING_AFTER => Some(reason.as_str()),
            Some(_) => return,
        };
        let signal = rules::from_delivery(outcome.channel, failure, &self.host, now);
        self.policy.signal(signal, now);
        self.dirty = true;
    }

    async fn reconfigure(&mut self, new: Arc<Config>) {
        self.redactor = Redactor::new(&new);
        let old = std::mem::replace(&mut self.config, new);
        if old.alerts == self.config.alerts {
            self.resolve_gone(SystemTime::now());
            return;
        }
        let now = SystemTime::now();
        let state = self.policy.state();
        self.policy = Policy::restore(policy_config(&self.config.alerts), state, now);
        self.resolve_gone(now);
        self.dirty = true;
        let changed: Vec<&'static str> = [
            ("email", old.alerts.email != self.config.alerts.email),
            ("slack", old.alerts.slack != self.config.alerts.slack),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect();
        let retries = (old.alerts.retry_initial, old.alerts.retry_max);
        if changed.is_empty() && retries == (self.config.alerts.retry_initial, self.config.alerts.retry_max) {
            return;
        }
        self.stop_deliverers().await;
        if let Outbox::Store(s) = self.outbox() {
            for name in &changed {
                let since = now.checked_sub(REQUEUE_WITHIN).unwrap_or(now);
                match s.requeue_failed(name, since, now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        channel = name,
                        notifications = n,
                        "new channel settings: sending again what failed"
                    ),
                    Err(e) => tracing::error!(channel = name, error = %e, "cannot requeue failed notifications"),
                }
            }
        }
        self.start_deliverers();
    }

    /// Hands what the policy releases now to the outbox, with the policy's state.
    async fn release(&mut self) {
        let now = SystemTime::now();
        let due = self.policy.due(now);
        if due.is_empty() {
            return;
        }
        let rows: Vec<NewNotification> = due.iter().map(|n| render(n, now)).collect();
        let outbox = self.outbox();
        match outbox.enqueue(&rows, &self.state_json()).await {
            Ok(_) => {
                self.dirty = false;
                self.last_save = tokio::time::Instant::now();
                for n in &due {
                    tracing::info!(channel = %n.channel, subject = %n.subject, "alert notification queued");
                }
            }
            Err(e) => {
                // The store failed after it opened: keep alerting from memory.
                tracing::error!(error = %e, "cannot write the alert outbox: notifications wait in memory");
                let memory = Outbox::memory();
                let _ = memory.enqueue(&rows, "").await;
                self.stop_deliverers().await;
                self.outbox.send_replace(memory);
                self.store_error = Some(e);
                self.start_deliverers();
            }
        }
        self.wake_all();
    }

    fn state_json(&self) -> String {
        serde_json::to_string(&self.policy.state()).unwrap_or_else(|_| "{}".into())
    }

    async fn save(&mut self) {
        if let Outbox::Store(s) = self.outbox() {
            match s.enqueue_with_state(&[], &self.state_json()).await {
                Ok(_) => self.dirty = false,
                Err(e) => tracing::warn!(error = %e, "cannot save the alert state"),
            }
        }
        self.last_save = tokio::time::Instant::now();
    }

    async fn test(&mut self, channel: Option<String>) -> Result<Vec<i64>, TestError> {
        let names: Vec<&'static str> = self.deliverers.iter().map(|d| d.name).collect();
        let refuse = |m: String| Err(TestError::Channel(m));
        let chosen: Vec<&'static str> = match channel.as_deref() {
            None if names.is_empty() && self.setup_errors.is_empty() => {
                return refuse("no alert channel is configured: add [alerts.email] or [alerts.slack]".into())
            }
            None if names.is_empty() => return refuse(self.setup_errors.join("; ")),
            None => names,
            Some(c) => match names.iter().find(|n| **n == c) {
                Some(n) => vec![*n],
                None => match self.setup_errors.iter().find(|e| e.starts_with(&format!("{c}:"))) {
                    Some(e) => return refuse(e.clone()),
                    None if c == "email" || c == "slack" => {
                        return refuse(format!("the {c} channel is not configured: add [alerts.{c}]"))
                    }
                    None => return refuse(format!("unknown channel {c:?}: use email or slack")),
                },
            },
        };
        let now = SystemTime::now();
        let alert = Alert {
            fingerprint: "test".into(),
            severity: Severity::Info,
            summary: format!("Test notification from warden on {}", self.host),
            details: rules::AlertDetails {
                program: None,
                exit_code: None,
                signal: None,
                restarts: None,
                reason: Some("sent by `warden alert test`: if you read this, alerts reach you".into()),
                stderr_tail: Vec::new(),
                host: self.host.clone(),
                at: now,
            },
            status: AlertStatus::Firing,
            resolved_at: None,
        };
        let rows: Vec<NewNotification> = chosen
            .iter()
            .map(|c| {
                let mut n = crate::alerts::Notification {
                    channel: (*c).to_owned(),
                    group_key: "test".into(),
                    at: now,
                    alerts: vec![alert.clone()],
                    subject: String::new(),
                };
                n.subject = format!("[TEST] {}", alert.summary);
                render(&n, now)
            })
            .collect();
        let ids = self
            .outbox()
            .enqueue(&rows, &self.state_json())
            .await
            .map_err(|e| TestError::Unavailable(format!("cannot write the alert outbox: {e}")))?;
        self.wake_all();
        Ok(ids)
    }

    /// Waits until no channel has a notification due, or `within` passed.
    async fn drain(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let outbox = self.outbox();
        loop {
            let mut busy = false;
            for d in &self.deliverers {
                if let Ok(Some(head)) = outbox.head(d.name).await {
                    busy |= head.message.next_attempt_at <= SystemTime::now();
                }
            }
            if !busy || tokio::time::Instant::now() >= deadline {
                if busy {
                    tracing::warn!(
                        "shutting down with alerts still to deliver: they wait in the outbox for the next start"
                    );
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn wake_all(&self) {
        for d in &self.deliverers {
            d.wake.notify_one();
        }
    }

    /// Stops the delivery tasks after their current attempt.
    async fn stop_deliverers(&mut self) {
        let old: Vec<Deliverer> = std::mem::take(&mut self.deliverers);
        for d in &old {
            d.stop.cancel();
        }
        for d in old {
            let _ = d.task.await;
        }
    }

    fn start_deliverers(&mut self) {
        let alerts = &self.config.alerts;
        let built = [
            ("email", alerts.email.as_ref().map(Channel::email)),
            ("slack", alerts.slack.as_ref().map(Channel::slack)),
        ];
        let mut channels = Vec::new();
        self.setup_errors.clear();
        for (name, channel) in built {
            match channel {
                Some(Ok(c)) => channels.push(c),
                Some(Err(e)) => {
                    // Its notifications wait in the outbox until a reload fixes it.
                    tracing::error!(channel = name, error = %e, "cannot set up the alert channel: its notifications wait in the outbox");
                    self.setup_errors
                        .push(format!("{name}: cannot set up the channel: {e}"));
                }
                None => {}
            }
        }
        for channel in channels {
            let wake = Arc::new(Notify::new());
            wake.notify_one();
            let stop = CancellationToken::new();
            let name = channel.name();
            let task = tokio::spawn(deliver(
                channel,
                self.outbox.subscribe(),
                wake.clone(),
                stop.clone(),
                (alerts.retry_initial, alerts.retry_max),
                self.metrics.clone(),
                self.outcomes.clone(),
            ));
            self.deliverers.push(Deliverer { name, wake, stop, task });
        }
    }

    fn publish(&self, view: &watch::Sender<Arc<View>>) {
        let firing = self
            .policy
            .firing()
            .map(|a| (a.clone(), self.policy.is_silenced(a)))
            .collect();
        let next = View {
            firing,
            silences: self.policy.silences().to_vec(),
            channels: self.deliverers.iter().map(|d| d.name).collect(),
            store_error: self.store_error.clone(),
        };
        view.send_if_modified(|v| {
            let same = v.firing == next.firing
                && v.silences == next.silences
                && v.channels == next.channels
                && v.store_error == next.store_error;
            if !same {
                *v = Arc::new(next);
            }
            !same
        });
    }
}

/// One channel: sends the outbox's oldest pending notification for it, in order,
/// waiting for its next attempt when it is not due.
async fn deliver(
    channel: Channel,
    mut outbox: watch::Receiver<Outbox>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    (initial, max): (Duration, Duration),
    metrics: Arc<Metrics>,
    outcomes: mpsc::UnboundedSender<Outcome>,
) {
    let name = channel.name();
    let mut failing = 0u32;
    // An attempt whose outcome the outbox could not record: recorded before anything
    // else is sent, so a store that cannot be written does not make the same
    // notification go out again and again.
    let mut unrecorded: Option<(i64, Mark)> = None;
    loop {
        let current = outbox.borrow_and_update().clone();
        if let Some((id, mark)) = unrecorded.take() {
            if let Err(e) = current.mark(id, &mark).await {
                tracing::error!(channel = name, error = %e, "still cannot record a delivery in the outbox: waiting");
                unrecorded = Some((id, mark));
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = outbox.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
                continue;
            }
        }
        let wait = match current.head(name).await {
            Err(e) => {
                tracing::error!(channel = name, error = %e, "cannot read the alert outbox");
                Some(Duration::from_secs(5))
            }
            Ok(None) => None,
            Ok(Some(row)) => match row.message.next_attempt_at.duration_since(SystemTime::now()) {
                Ok(wait) if !wait.is_zero() => Some(wait),
                _ => {
                    let n = &row.message;
                    let message = Message {
                        subject: &n.subject,
                        text: &n.body_text,
                        html: n.body_html.as_deref(),
                        slack: n.payload.as_deref(),
                    };
                    let result = channel.send(&message).await;
                    let now = SystemTime::now();
                    let (mark, failure) = match &result {
                        Ok(()) => {
                            failing = 0;
                            metrics.alerts_sent.with_label_values(&[name, &n.severity]).inc();
                            tracing::info!(channel = name, subject = %n.subject, "alert notification sent");
                            (Mark::Sent(now), None)
                        }
                        Err(SendError::Permanent { reason }) => {
                            failing += 1;
                            metrics.alerts_failed.with_label_values(&[name]).inc();
                            tracing::error!(channel = name, subject = %n.subject, error = %reason, "alert notification failed for good (kept in the outbox as failed)");
                            (Mark::Failed(reason.clone()), Some((reason.clone(), true, failing)))
                        }
                        Err(SendError::Transient { reason, retry_after }) => {
                            failing += 1;
                            let backoff = initial.saturating_mul(1 << row.attempts.min(20)).min(max);
                            // A server's Retry-After is honoured, within reason.
                            let delay = retry_after.map_or(backoff, |r| r.min(MAX_RETRY_AFTER).max(backoff));
                            tracing::warn!(channel = name, subject = %n.subject, error = %reason, retry_in = ?delay, attempt = row.attempts + 1, "alert notification not delivered: retrying");
                            let next = now.checked_add(delay).unwrap_or(now + max);
                            (
                                Mark::Retry(reason.clone(), next),
                                Some((reason.clone(), false, failing)),
                            )
                        }
                    };
                    if let Err(e) = current.mark(row.id, &mark).await {
                        tracing::error!(channel = name, error = %e, "cannot record a delivery in the outbox");
                        unrecorded = Some((row.id, mark));
                    }
                    let _ = outcomes.send(Outcome { channel: name, failure });
                    if stop.is_cancelled() {
                        return;
                    }
                    continue;
                }
            },
        };
        let sleep = sleep_until(wait.map(|w| tokio::time::Instant::now() + w));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = wake.notified() => {}
            _ = outbox.changed() => {}
            _ = sleep => {}
        }
    }
}

/// A notification as the outbox keeps it: the texts of its channel, rendered now.
fn render(n: &crate::alerts::Notification, now: SystemTime) -> NewNotification {
    let firing: Vec<&Alert> = n.alerts.iter().filter(|a| a.status == AlertStatus::Firing).collect();
    let status = if firing.is_empty() {
        store::AlertStatus::Resolved
    } else {
        store::AlertStatus::Firing
    };
    let severity = firing
        .iter()
        .map(|a| a.severity)
        .max()
        .or_else(|| n.alerts.iter().map(|a| a.severity).max())
        .unwrap_or(Severity::Info);
    let carried: Vec<CarriedAlert> = n
        .alerts
        .iter()
        .map(|a| CarriedAlert {
            fingerprint: &a.fingerprint,
            status: a.status,
            severity: a.severity,
            summary: &a.summary,
            program: a.details.program.as_deref(),
        })
        .collect();
    let slack = n.channel == "slack";
    NewNotification {
        created_at: now,
        channel: n.channel.clone(),
        fingerprint: n
            .alerts
            .iter()
            .map(|a| a.fingerprint.as_str())
            .collect::<Vec<_>>()
            .join(","),
        status,
        severity: severity.as_str().to_owned(),
        subject: n.subject.clone(),
        body_text: text::plain(n),
        body_html: (!slack).then(|| text::html(n)),
        payload: slack.then(|| text::slack(n).to_string()),
        alerts: serde_json::to_string(&carried).unwrap_or_else(|_| "[]".into()),
        next_attempt_at: now,
    }
}

fn policy_config(a: &AlertsConfig) -> PolicyConfig {
    let mut channels = Vec::new();
    if let Some(e) = &a.email {
        channels.push(ChannelPolicy {
            name: "email".into(),
            min_severity: e.min_severity,
        });
    }
    if let Some(s) = &a.slack {
        channels.push(ChannelPolicy {
            name: "slack".into(),
            min_severity: s.min_severity,
        });
    }
    PolicyConfig {
        group_wait: a.group_wait,
        group_interval: a.group_interval,
        repeat_interval: a.repeat_interval,
        channels,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}
