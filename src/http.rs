//! The HTTP surface (axum): `/live`, `/ready`, `/health`, `/metrics`, `/status` and the
//! `/api/v1` programs, events and control endpoints.
//!
//! Handlers read published state — the supervisor's snapshot, the last system report,
//! the last check results — or send the supervisor a command through its [`Handle`];
//! they never touch supervisor state and never wait for sysinfo, Postgres or Redis. Only
//! this module and the client know the JSON wire format ([`crate::api`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use tokio::sync::{watch, Mutex};

use crate::api::{
    self, CheckInfo, CpuInfo, DiskInfo, ErrorBody, EventReport, Finding, ProgramStatus, Status, SystemInfo, UsageInfo,
};
use crate::config::Config;
use crate::health::checks::CheckStatus;
use crate::health::system::{SystemReport, Usage};
use crate::health::verdict::{self, Inputs};
use crate::metrics::{Metrics, Sources};
use crate::supervisor::{CommandError, Handle};

/// How long `/live` waits for the supervision loop to answer.
const LIVE_TIMEOUT: Duration = Duration::from_secs(2);
/// A round trip this recent answers `/live` without another one: under a flood of
/// probes the loop is asked at most ten times a second.
const LIVE_FRESH: Duration = Duration::from_millis(100);
/// Largest request body accepted (events are tiny).
const MAX_BODY: usize = 64 * 1024;
const MAX_EVENT_COUNT: u64 = 1_000_000;

#[derive(Clone)]
pub struct AppState {
    pub supervisor: Handle,
    pub started_at: SystemTime,
    /// Where program cgroups live, if warden uses them (shown in `/status`).
    pub cgroup: Option<String>,
    /// Set as soon as a shutdown begins: `/ready` answers 503 from then on.
    pub shutting_down: Arc<AtomicBool>,
    pub system: watch::Receiver<Option<Arc<SystemReport>>>,
    pub checks: watch::Receiver<Arc<Vec<CheckStatus>>>,
    /// The running configuration (event kinds, program names).
    pub config: watch::Receiver<Arc<Config>>,
    pub metrics: Arc<Metrics>,
    pub liveness: Arc<Liveness>,
}

/// The last time the supervision loop answered, shared by every `/live` request.
pub struct Liveness {
    origin: Instant,
    /// Microseconds after `origin` of the last answer, plus one (0: never).
    last: AtomicU64,
    /// One round trip at a time; others wait for its answer.
    asking: Mutex<()>,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            asking: Mutex::new(()),
        }
    }
}

impl Liveness {
    fn fresh(&self) -> bool {
        let last = self.last.load(Ordering::Relaxed);
        last != 0 && self.origin.elapsed().as_micros() as u64 + 1 - last < LIVE_FRESH.as_micros() as u64
    }

    /// Whether the loop answers: a recent answer, or a new round trip within the timeout.
    pub async fn check(&self, supervisor: &Handle) -> bool {
        if self.fresh() {
            return true;
        }
        let _asking = self.asking.lock().await;
        if self.fresh() {
            return true; // answered while we waited for the lock
        }
        let answered = tokio::time::timeout(LIVE_TIMEOUT, supervisor.ping())
            .await
            .unwrap_or(false);
        if answered {
            self.last
                .store(self.origin.elapsed().as_micros() as u64 + 1, Ordering::Relaxed);
        }
        answered
    }
}

/// One allocation shared by every request: axum clones the state per extractor, and a
/// clone of the whole [`AppState`] (a dozen reference counts) showed in a `/live` profile.
type Shared = Arc<AppState>;

pub fn router(state: AppState) -> Router {
    let state: Shared = Arc::new(state);
    Router::new()
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/api/v1/programs", get(programs))
        .route("/api/v1/programs/{name}", get(program))
        .route("/api/v1/programs/{name}/{action}", post(control))
        .route("/api/v1/events", post(event))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .route_layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Counts every routed request in `warden_http_requests_total` and its duration.
async fn count(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the standard methods become a label value: a client must not be able to
    // grow the series without bound with made-up ones.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    // An `Arc<str>` clone: no allocation per request.
    let path = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    state.metrics.http(
        method,
        path.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// 200 while the supervision loop answers a round trip; never depends on programs.
async fn live(State(state): State<Shared>) -> Response {
    if state.liveness.check(&state.supervisor).await {
        // A constant answer: nothing to build or serialize per probe.
        ([(header::CONTENT_TYPE, "application/json")], r#"{"status":"live"}"#).into_response()
    } else {
        error(StatusCode::SERVICE_UNAVAILABLE, "the supervision loop does not answer")
    }
}

/// Everything the verdict reads, taken once per request.
struct Current {
    snapshot: Arc<crate::events::Snapshot>,
    checks: BTreeMap<String, CheckInfo>,
    system: Option<SystemInfo>,
}

impl AppState {
    fn current(&self) -> Current {
        Current {
            snapshot: self.supervisor.snapshot(),
            checks: self
                .checks
                .borrow()
                .iter()
                .map(|c| (c.name.clone(), check_info(c)))
                .collect(),
            system: self.system.borrow().as_deref().map(system_info),
        }
    }

    async fn verdict(&self) -> (api::Ready, api::Health) {
        let loop_answers = self.liveness.check(&self.supervisor).await;
        let now = self.current();
        let findings = now.system.as_ref().map(|s| s.findings.as_slice()).unwrap_or_default();
        verdict::verdict(&Inputs {
            snapshot: &now.snapshot,
            checks: &now.checks,
            system: findings,
            loop_answers,
            shutting_down: self.shutting_down.load(Ordering::Relaxed),
        })
    }
}

/// 200 when every required program runs (and passes its probe) and every required
/// check passes; 503 with the reasons otherwise, and from the start of a shutdown.
async fn ready(State(state): State<Shared>) -> Response {
    let (ready, _) = state.verdict().await;
    let code = if ready.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(ready)).into_response()
}

/// `healthy | degraded | unhealthy` with every component; 503 when unhealthy.
async fn health(State(state): State<Shared>) -> Response {
    let (_, health) = state.verdict().await;
    let code = if health.status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(health)).into_response()
}

async fn metrics(State(state): State<Shared>) -> Response {
    let snapshot = state.supervisor.snapshot();
    let checks = state.checks.borrow().clone();
    let system = state.system.borrow().clone();
    let text = state.metrics.render(&Sources {
        snapshot: &snapshot,
        checks: &checks,
        system: system.as_deref(),
        now: SystemTime::now(),
    });
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn status(State(state): State<Shared>) -> Json<Status> {
    let now = state.current();
    let mut status = Status::new(&now.snapshot, state.started_at, SystemTime::now(), state.cgroup.clone());
    status.system = now.system;
    status.checks = now.checks;
    Json(status)
}

/// `POST /api/v1/events`: counts a business event in `warden_events_total`. Kinds and
/// programs are checked against the configuration so labels stay bounded.
async fn event(State(state): State<Shared>, body: Result<Json<EventReport>, JsonRejection>) -> Response {
    let report = match body {
        Ok(Json(report)) => report,
        Err(rejection) => return json_rejection(rejection),
    };
    let config = state.config.borrow().clone();
    if !config.metrics.event_kinds.contains(&report.kind) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown event kind {:?}: accepted kinds are {} (set [metrics] event_kinds)",
                report.kind,
                config.metrics.event_kinds.join(", ")
            ),
        );
    }
    if report.count == 0 || report.count > MAX_EVENT_COUNT {
        return error(
            StatusCode::BAD_REQUEST,
            format!("count must be from 1 to {MAX_EVENT_COUNT}, not {}", report.count),
        );
    }
    let program = report.program.as_deref().unwrap_or("");
    if !program.is_empty() && config.program(program).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown program {program:?}: events may name a configured program or none"),
        );
    }
    state.metrics.event(&report.kind, program, report.count);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"kind": report.kind, "count": report.count, "program": report.program})),
    )
        .into_response()
}

/// A request body that is not the expected JSON, in the same `{"error": ...}` shape.
fn json_rejection(rejection: JsonRejection) -> Response {
    let status = match &rejection {
        JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, rejection.body_text())
}

fn check_info(c: &CheckStatus) -> CheckInfo {
    CheckInfo {
        kind: c.kind.as_str().to_string(),
        required: c.required,
        status: match c.up {
            Some(true) => "up",
            Some(false) => "down",
            None => "unknown",
        }
        .to_string(),
        latency_ms: c.latency.map(api::millis),
        message: c.message.clone(),
        checked_at: c.checked_at.map(api::rfc3339),
        since: c.since.map(api::rfc3339),
        consecutive_failures: c.consecutive_failures,
    }
}

fn usage_info(u: &Usage) -> UsageInfo {
    UsageInfo {
        used_bytes: u.used,
        total_bytes: u.total,
        usage_ratio: (u.ratio * 1e4).round() / 1e4,
        level: u.level.as_str().to_string(),
    }
}

fn system_info(r: &SystemReport) -> SystemInfo {
    SystemInfo {
        at: api::rfc3339(r.at),
        level: r.worst().as_str().to_string(),
        cpu: r.cpu.map(|c| CpuInfo {
            usage_ratio: (c.ratio * 1e4).round() / 1e4,
            level: c.level.as_str().to_string(),
            cores: c.cores,
        }),
        memory: usage_info(&r.memory),
        disks: r
            .disks
            .iter()
            .map(|d| DiskInfo {
                mount: d.mount.clone(),
                filesystem: d.filesystem.clone(),
                usage: usage_info(&d.usage),
                error: d.error.clone(),
            })
            .collect(),
        load_average: r.load_average,
        findings: r
            .findings()
            .into_iter()
            .map(|f| Finding {
                component: f.component,
                level: f.level.as_str().to_string(),
                reason: f.reason,
            })
            .collect(),
    }
}

async fn programs(State(state): State<Shared>) -> Json<Vec<ProgramStatus>> {
    let now = SystemTime::now();
    Json(
        state
            .supervisor
            .snapshot()
            .programs
            .iter()
            .map(|p| ProgramStatus::new(p, now))
            .collect(),
    )
}

async fn program(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let snapshot = state.supervisor.snapshot();
    match snapshot.programs.iter().find(|p| p.name == name) {
        Some(p) => Json(ProgramStatus::new(p, SystemTime::now())).into_response(),
        None => error(StatusCode::NOT_FOUND, CommandError::UnknownProgram(name).to_string()),
    }
}

/// `POST /api/v1/programs/{name}/start|stop|restart`. Until tokens exist, control is
/// only accepted from the loopback interface.
async fn control(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    if !peer.ip().is_loopback() {
        return error(
            StatusCode::FORBIDDEN,
            "control endpoints are only served to loopback clients",
        );
    }
    let result = match action.as_str() {
        "start" => state.supervisor.start(&name).await,
        "stop" => state.supervisor.stop(&name).await,
        "restart" => state.supervisor.restart(&name).await,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action `{action}` (start, stop, restart)"),
            )
        }
    };
    match result {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"program": name, "action": action})),
        )
            .into_response(),
        Err(e @ CommandError::UnknownProgram(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ CommandError::Disabled(_)) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e @ CommandError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: message.into() })).into_response()
}
