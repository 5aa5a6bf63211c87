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

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, MatchedPath, Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::RwLock;
use tokio::sync::{mpsc, oneshot, watch, Mutex};

use crate::auth::{Auth, Denied, Limiter, Need};
use crate::redact::Redactor;

use crate::api::{
    self, CheckInfo, ControlAnswer, CpuInfo, DiskInfo, ErrorBody, EventReport, Finding, LogLineInfo, LogTail,
    ProgramDetail, ProgramStatus, ReloadAnswer, ReloadRefused, Status, SystemInfo, UsageInfo,
};
use crate::config::Config;
use crate::events::{ProgramSnapshot, ProgramState};
use crate::health::checks::CheckStatus;
use crate::health::system::{SystemReport, Usage};
use crate::health::verdict::{self, Inputs};
use crate::metrics::{Metrics, Sources};
use crate::store::OutboxState;
use crate::supervisor::{CommandError, Handle};

/// How long `/live` waits for the supervision loop to answer.
const LIVE_TIMEOUT: Duration = Duration::from_secs(2);
/// A round trip this recent answers `/live` without another one: under a flood of
/// probes the loop is asked at most ten times a second.
const LIVE_FRESH: Duration = Duration::from_millis(100);
/// `GET /live`'s answer, `api::Live` serialized once (a test in `openapi.rs` checks).
pub const LIVE_ANSWER: &str = r#"{"status":"live"}"#;
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
    /// Who may do what, from the running configuration; replaced at each reload.
    pub gate: Arc<RwLock<Arc<Gate>>>,
    /// Asks the main loop, which owns the running configuration, to reload the file (as
    /// SIGHUP does) or to scale a program.
    pub reload: mpsc::Sender<MainRequest>,
    /// The store, once open (or why not): the event history.
    pub store: crate::journal::StoreState,
    /// Firing alerts, silences, the outbox.
    pub alerting: crate::alerting::Alerting,
    /// Scheduled programs: next due time, last run.
    pub jobs: crate::jobs::Jobs,
    /// Usage history and recent events for the dashboard.
    pub recorder: Arc<crate::dashboard::Recorder>,
    /// Cancelled when the HTTP server stops (after the programs are down): follow
    /// streams then send their last lines and end properly.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// What a reload came to: the changes, or every problem of the refused file.
pub type ReloadOutcome = Result<crate::config::ConfigDiff, Vec<String>>;
/// What a scale came to: the copies added and removed, or why not.
pub type ScaleOutcome = Result<crate::config::ConfigDiff, crate::config::ScaleError>;

/// What the HTTP layer asks of the main loop.
pub enum MainRequest {
    /// Re-read the configuration file.
    Reload(oneshot::Sender<ReloadOutcome>),
    /// Run `instances` copies of the scaled program `program`.
    Scale {
        program: String,
        instances: u32,
        reply: oneshot::Sender<ScaleOutcome>,
    },
}

/// The parts of the configuration every request consults, built once per config.
pub struct Gate {
    pub auth: Auth,
    pub limiter: Option<Arc<Limiter>>,
    pub redactor: Redactor,
    pub request_timeout: Duration,
    /// Clients are told apart by `X-Forwarded-For` (its last entry, the one the proxy
    /// wrote) rather than by the proxy's own address.
    pub behind_proxy: bool,
}

impl Gate {
    /// From a validated config (reads the token files). The rate limiter of `previous`
    /// is kept when the limit did not change, so a reload does not refill every bucket.
    pub fn new(config: &Config, previous: Option<&Gate>) -> Result<Gate, String> {
        let limiter = config.server.rate_limit.map(|rate| {
            match previous.and_then(|g| g.limiter.as_ref()).filter(|l| l.rate == rate) {
                Some(same) => same.clone(),
                None => Arc::new(Limiter::new(rate)),
            }
        });
        Ok(Gate {
            auth: Auth::load(&config.server)?,
            limiter,
            redactor: Redactor::new(config),
            request_timeout: config.server.request_timeout,
            behind_proxy: config.server.behind_tls_proxy,
        })
    }
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

/// Every route as (method, path): the OpenAPI document must list exactly these (a test
/// in `openapi.rs` compares them), and a router test requests each one.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/live"),
    ("GET", "/ready"),
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/status"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/programs"),
    ("GET", "/api/v1/programs/{name}"),
    ("POST", "/api/v1/programs/{name}/{action}"),
    ("POST", "/api/v1/programs/{name}/scale"),
    ("GET", "/api/v1/programs/{name}/logs"),
    ("POST", "/api/v1/reload"),
    ("GET", "/api/v1/alerts"),
    ("POST", "/api/v1/alerts/test"),
    ("POST", "/api/v1/silences"),
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/events"),
    ("GET", "/dashboard"),
    ("GET", "/dashboard/app.js"),
    ("GET", "/dashboard/app.css"),
];

/// Whether `path` is a probe endpoint (the default `[server] public` ones): never rate
/// limited (a limited kubelet would restart the pod), never cut by the time limit.
pub fn is_probe(path: &str) -> bool {
    crate::config::PublicEndpoint::DEFAULT.iter().any(|e| e.path() == path)
}

pub fn router(state: AppState) -> Router {
    let state: Shared = Arc::new(state);
    Router::new()
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/programs", get(programs))
        .route("/api/v1/programs/{name}", get(program))
        .route("/api/v1/programs/{name}/{action}", post(control))
        .route("/api/v1/programs/{name}/scale", post(scale))
        .route("/api/v1/programs/{name}/logs", get(logs))
        .route("/api/v1/reload", post(reload))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alerts/test", post(alert_test))
        .route("/api/v1/silences", post(silence))
        .route("/api/v1/events", post(event).get(events))
        .route("/dashboard", get(dashboard))
        .route("/dashboard/app.js", get(dashboard_js))
        .route("/dashboard/app.css", get(dashboard_css))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        // Outermost last: count → guard (rate limit, authorise, time limit) → handler.
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .route_layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

impl AppState {
    fn gate(&self) -> Arc<Gate> {
        self.gate.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn route_of(request: &Request) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str)
}

/// One layer for the three checks (one look at the gate, one boxed future): the rate
/// limit, then the token, then the time limit. The probes skip the limit and the
/// timer: they answer from memory, and a kubelet must never be limited.
async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let gate = state.gate();
    let route = route_of(&request);
    let probe = is_probe(route);
    if !probe {
        if let Some(refused) = rate_limited(&gate, &request) {
            return refused;
        }
    }
    if let Some(refused) = unauthorised(&gate, route, probe, &request) {
        return refused;
    }
    // A control request with `?wait=true` is bounded by its own `timeout` (up to 10m).
    let waits = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "wait=true"));
    if probe || waits {
        return next.run(request).await;
    }
    let limit = gate.request_timeout;
    drop(gate);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request took longer than {} ([server] request_timeout)",
                crate::config::format_duration(limit)
            ),
        ),
    }
}

/// 401/403 unless the request's token (or the lack of one) may do what it asks.
fn unauthorised(gate: &Gate, route: &str, probe: bool, request: &Request) -> Option<Response> {
    let page = route.starts_with("/dashboard/") || (route == "/dashboard" && wants_html(request));
    let need = if page
        || route == "/api/v1/openapi.json"
        || ((probe || route == "/dashboard") && gate.auth.is_public(route))
    {
        Need::Nothing
    } else if matches!(*request.method(), Method::GET | Method::HEAD) {
        Need::Read
    } else {
        Need::Control
    };
    let header = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes());
    match gate.auth.check(need, header) {
        Ok(()) => None,
        Err(Denied::Unauthenticated(why)) => {
            let mut response = error(StatusCode::UNAUTHORIZED, why);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            Some(response)
        }
        Err(Denied::Forbidden(why)) => Some(error(StatusCode::FORBIDDEN, why)),
    }
}

/// 429 with `Retry-After` once a client (other than a loopback one) used its burst.
fn rate_limited(gate: &Gate, request: &Request) -> Option<Response> {
    let limiter = gate.limiter.as_ref()?;
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0 .0.ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let client = if gate.behind_proxy {
        forwarded_for(request).unwrap_or(peer)
    } else {
        peer
    };
    // The CLI on the same host, a sidecar, a local script polling `/status`: the limit
    // is for the network.
    if client.is_loopback() {
        return None;
    }
    let wait = limiter.check(client).err()?;
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "too many requests from {client}: at most {} per second (burst {}); retry in {seconds}s",
            limiter.rate.per_second, limiter.rate.burst
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, seconds.max(1).into());
    Some(response)
}

/// The client's address as the connection gave it (set by `serve` on every request,
/// for plain and TLS listeners alike).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Plain TCP with `TCP_NODELAY`: answers are written whole, and without Nagle's delay a
/// keep-alive client never waits on a delayed ACK.
pub struct PlainListener(pub tokio::net::TcpListener);

impl axum::serve::Listener for PlainListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, peer) = axum::serve::Listener::accept(&mut self.0).await;
        let _ = stream.set_nodelay(true);
        (stream, peer)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The last address of `X-Forwarded-For`: the one the proxy in front appended.
fn forwarded_for(request: &Request) -> Option<std::net::IpAddr> {
    let value = request.headers().get_all("x-forwarded-for").iter().next_back()?;
    value.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// A browser asking for a page (`Accept: text/html`), not a client asking for data.
fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// `GET /dashboard`: the page to a browser (static, no data, no token needed), the
/// document it polls to anyone else.
async fn dashboard(State(state): State<Shared>, request: Request) -> Response {
    if wants_html(&request) {
        return (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, crate::dashboard::CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CACHE_CONTROL, "no-cache"),
                // One URL, two answers: caches must keep them apart.
                (header::VARY, "Accept"),
            ],
            crate::dashboard::INDEX_HTML,
        )
            .into_response();
    }
    let now = SystemTime::now();
    let current = state.current();
    let (ready, health) = state.verdict().await;
    let checks_down: Vec<String> = current
        .checks
        .iter()
        .filter(|(_, c)| c.status == "down")
        .map(|(name, _)| name.clone())
        .collect();
    let jobs = state.jobs.borrow().clone();
    let config_now = state.config.borrow().clone();
    let programs = current
        .snapshot
        .programs
        .iter()
        .map(|p| api::DashboardProgram {
            status: ProgramStatus {
                job: job_info(&jobs, &p.name),
                instance: instance_info(&config_now, &p.name),
                ..ProgramStatus::new(p, now)
            },
            history: state.recorder.history(&p.name),
        })
        .collect();
    let document = Json(api::Dashboard {
        warden: api::DashboardWarden {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            started_at: api::rfc3339(state.started_at),
            uptime_seconds: now.duration_since(state.started_at).unwrap_or_default().as_secs(),
        },
        overall: api::Overall {
            status: health.status,
            ready: ready.ready,
            summary: crate::dashboard::summary(&current.snapshot, &checks_down),
            reasons: health
                .components
                .iter()
                .filter(|(_, c)| c.status != "healthy")
                .map(|(name, c)| format!("{name}: {}", c.reason))
                .collect(),
        },
        programs,
        checks: current.checks,
        system: current.system,
        events: state.recorder.events(),
        alerts: firing_alerts(&state.alerting.view()),
    });
    ([(header::VARY, "Accept")], document).into_response()
}

async fn dashboard_js() -> Response {
    static_asset("text/javascript; charset=utf-8", crate::dashboard::APP_JS)
}

async fn dashboard_css() -> Response {
    static_asset("text/css; charset=utf-8", crate::dashboard::APP_CSS)
}

fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method",
    )
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::DOCUMENT).into_response()
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
        ([(header::CONTENT_TYPE, "application/json")], LIVE_ANSWER).into_response()
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
    let jobs = state.jobs.borrow().clone();
    let config = state.config.borrow().clone();
    for p in &mut status.programs {
        p.job = job_info(&jobs, &p.name);
        p.instance = instance_info(&config, &p.name);
    }
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
        Json(api::EventAccepted {
            kind: report.kind,
            count: report.count,
            program: report.program,
        }),
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
    let jobs = state.jobs.borrow().clone();
    let config = state.config.borrow().clone();
    Json(
        state
            .supervisor
            .snapshot()
            .programs
            .iter()
            .map(|p| ProgramStatus {
                job: job_info(&jobs, &p.name),
                instance: instance_info(&config, &p.name),
                ..ProgramStatus::new(p, now)
            })
            .collect(),
    )
}

/// A copy's part of its status.
fn instance_info(config: &Config, name: &str) -> Option<api::InstanceInfo> {
    let i = config.program(name)?.instance.as_ref()?;
    Some(api::InstanceInfo {
        of: i.of.clone(),
        index: i.index,
    })
}

/// A scheduled program's part of its status.
fn job_info(jobs: &std::collections::BTreeMap<String, crate::jobs::JobView>, name: &str) -> Option<api::JobInfo> {
    let j = jobs.get(name)?;
    Some(api::JobInfo {
        schedule: j.schedule.clone(),
        timezone: j.timezone.clone(),
        next_due: j.next_due.map(api::rfc3339),
        last_run: j.last_run.as_ref().map(|r| api::JobRun {
            started_at: api::rfc3339(r.started_at),
            finished_at: r.finished_at.map(api::rfc3339),
            duration_seconds: r
                .finished_at
                .and_then(|f| f.duration_since(r.started_at).ok())
                .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0),
            exit_code: r.exit_code,
            outcome: r.outcome.to_owned(),
        }),
        last_skipped: j.last_skipped.map(api::rfc3339),
        queued: j.queued,
    })
}

async fn program(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let snapshot = state.supervisor.snapshot();
    let config = state.config.borrow().clone();
    match (snapshot.programs.iter().find(|p| p.name == name), config.program(&name)) {
        (Some(p), Some(spec)) => Json(ProgramDetail {
            status: ProgramStatus {
                job: job_info(&state.jobs.borrow(), &name),
                instance: instance_info(&config, &name),
                ..ProgramStatus::new(p, SystemTime::now())
            },
            config: crate::redact::program_config(spec, &config.server.secret_env, &state.gate().redactor),
        })
        .into_response(),
        _ => unknown_program(&name),
    }
}

fn unknown_program(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        CommandError::UnknownProgram(name.to_string()).to_string(),
    )
}

/// Longest `?timeout=` of a control request.
const MAX_WAIT: Duration = Duration::from_secs(600);
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

#[derive(serde::Deserialize)]
struct ControlQuery {
    #[serde(default)]
    wait: bool,
    timeout: Option<String>,
}

/// `POST /api/v1/programs/{name}/start|stop|restart`: 202 once the supervisor accepted
/// it; with `?wait=true`, 200 once the program is running (start, restart: a new
/// process) or stopped, 409 if that did not happen within `timeout`.
async fn control(
    State(state): State<Shared>,
    Path((name, action)): Path<(String, String)>,
    query: Result<Query<ControlQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let timeout = match query.timeout.as_deref().map(crate::config::parse_duration) {
        None => DEFAULT_WAIT,
        Some(Ok(t)) if t <= MAX_WAIT => t,
        Some(Ok(_)) | Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "invalid timeout {:?}: write a duration up to {}, like \"30s\"",
                    query.timeout.unwrap_or_default(),
                    crate::config::format_duration(MAX_WAIT)
                ),
            )
        }
    };
    let before = state.supervisor.snapshot();
    let Some(old) = before.programs.iter().find(|p| p.name == name) else {
        return unknown_program(&name);
    };
    let old_pid = old.pid;
    let result = match action.as_str() {
        "run" if !state.jobs.borrow().contains_key(&name) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{name} is not a scheduled program: use start"),
            )
        }
        "run" if old_pid.is_some() => {
            return error(
                StatusCode::CONFLICT,
                format!("{name} is already running (since its last due time or run)"),
            )
        }
        "start" | "run" => state.supervisor.start(&name).await,
        "stop" => state.supervisor.stop(&name).await,
        "restart" => state.supervisor.restart(&name).await,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action {action:?}: use start, stop, restart or run"),
            )
        }
    };
    match result {
        Ok(()) => {}
        Err(e @ CommandError::UnknownProgram(_)) => return error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ CommandError::Disabled(_)) => return error(StatusCode::CONFLICT, e.to_string()),
        Err(e @ CommandError::ShuttingDown) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
    let answer = |p: &ProgramSnapshot| ControlAnswer {
        program: name.clone(),
        action: action.clone(),
        state: p.state.as_str().to_string(),
        pid: p.pid,
    };
    if !query.wait {
        let now = state.supervisor.snapshot();
        return match now.programs.iter().find(|p| p.name == name) {
            Some(p) => (StatusCode::ACCEPTED, Json(answer(p))).into_response(),
            None => unknown_program(&name),
        };
    }
    let asked_at = SystemTime::now();
    let done = |p: &ProgramSnapshot| match action.as_str() {
        "stop" => p.pid.is_none() && !matches!(p.state, ProgramState::Starting | ProgramState::Running),
        // A run is done when it has ended (succeeded, failed or given up).
        "run" => {
            p.pid.is_none()
                && matches!(
                    p.state,
                    ProgramState::Exited | ProgramState::Failed | ProgramState::Stopped
                )
                && p.last_exit.as_ref().is_some_and(|x| x.at >= asked_at)
        }
        "restart" => p.state == ProgramState::Running && p.pid.is_some() && p.pid != old_pid,
        _ => p.state == ProgramState::Running,
    };
    let mut watch = state.supervisor.watch();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = {
            let snapshot = watch.borrow_and_update();
            match snapshot.programs.iter().find(|p| p.name == name) {
                Some(p) if done(p) => return (StatusCode::OK, Json(answer(p))).into_response(),
                Some(p) => p.clone(),
                None => return unknown_program(&name),
            }
        };
        let changed = tokio::time::timeout_at(deadline, watch.changed()).await;
        if !matches!(changed, Ok(Ok(()))) {
            let goal = if action == "stop" { "stopped" } else { "running" };
            let why = last.reason.map(|r| format!(" ({r})")).unwrap_or_default();
            return error(
                StatusCode::CONFLICT,
                format!(
                    "{name} was not {goal} within {}: it is {}{why}",
                    crate::config::format_duration(timeout),
                    last.state
                ),
            );
        }
    }
}

/// Most lines one `?tail=` may ask for.
const MAX_TAIL: usize = 10_000;
const DEFAULT_TAIL: usize = 100;
/// Lines sent per wake-up of a follow stream.
const FOLLOW_BATCH: usize = 1_000;
const FOLLOW_KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(serde::Deserialize)]
struct LogsQuery {
    tail: Option<usize>,
    #[serde(default)]
    follow: bool,
}

fn line_info(line: &crate::logs::LogLine, redactor: &Redactor) -> LogLineInfo {
    LogLineInfo {
        at: humantime::format_rfc3339_micros(line.at).to_string(),
        stream: match line.stream {
            crate::logs::Stream::Stdout => "stdout",
            crate::logs::Stream::Stderr => "stderr",
            crate::logs::Stream::Warden => "warden",
        }
        .to_string(),
        text: redactor.redact(&line.text).into_owned(),
    }
}

/// `GET /api/v1/programs/{name}/logs?tail=N[&follow=true]`: the last lines from memory
/// (`[logs] tail_lines` at most), then with `follow` every new line as a Server-Sent
/// Event. Known secret values are blanked out of each line.
async fn logs(
    State(state): State<Shared>,
    Path(name): Path<String>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{}; tail is a number of lines from 0 to {MAX_TAIL}", e.body_text()),
            )
        }
    };
    let tail = query.tail.unwrap_or(DEFAULT_TAIL);
    if tail > MAX_TAIL {
        return error(
            StatusCode::BAD_REQUEST,
            format!("tail must be from 0 to {MAX_TAIL} lines, not {tail}"),
        );
    }
    let Some(sink) = state.supervisor.logs(&name).await else {
        // A disabled program exists but has never had a log.
        if state.supervisor.snapshot().programs.iter().any(|p| p.name == name) {
            if query.follow {
                return error(
                    StatusCode::CONFLICT,
                    format!("{name} is disabled: it has no log to follow"),
                );
            }
            return Json(LogTail {
                program: name,
                lines: vec![],
            })
            .into_response();
        }
        return unknown_program(&name);
    };
    let gate = state.gate();
    if !query.follow {
        let lines = sink.tail(tail).iter().map(|l| line_info(l, &gate.redactor)).collect();
        return Json(LogTail { program: name, lines }).into_response();
    }
    let mut appended = sink.follow();
    let mut next = appended.borrow_and_update().saturating_sub(tail as u64);
    let stream = async_stream(move |tx| async move {
        let mut stopped = false;
        loop {
            let (lines, skipped) = sink.since(next, FOLLOW_BATCH);
            let gate = state.gate();
            if skipped > 0 {
                let gap = serde_json::to_string(&api::LogGap { skipped }).expect("plain data");
                let event = format!("event: gap\ndata: {gap}\n\n");
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            next += skipped + lines.len() as u64;
            if !lines.is_empty() {
                let mut chunk = String::new();
                for line in &lines {
                    let data = serde_json::to_string(&line_info(line, &gate.redactor)).expect("plain data");
                    chunk.push_str("event: line\ndata: ");
                    chunk.push_str(&data);
                    chunk.push_str("\n\n");
                }
                if tx.send(chunk).await.is_err() {
                    return;
                }
                continue; // there may be more than one batch waiting
            }
            if stopped {
                return; // the last lines are out
            }
            tokio::select! {
                changed = tokio::time::timeout(FOLLOW_KEEPALIVE, appended.changed()) => match changed {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return, // the program was removed
                    Err(_) => {
                        if tx.send(":\n\n".to_string()).await.is_err() {
                            return;
                        }
                    }
                },
                // One more round sends what came before the stop, then the stream ends.
                _ = state.stopping.cancelled() => stopped = true,
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A body stream fed by a task: the task ends when the client goes away (its next
/// send fails).
fn async_stream<F, Fut>(make: F) -> impl futures_core::Stream<Item = Result<String, std::convert::Infallible>>
where
    F: FnOnce(mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(make(tx));
    ReceiverStream(rx)
}

struct ReceiverStream(mpsc::Receiver<String>);

impl futures_core::Stream for ReceiverStream {
    type Item = Result<String, std::convert::Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|item| item.map(Ok))
    }
}

/// `POST /api/v1/programs/{name}/scale {"instances": N}`: start or stop copies of a
/// scaled program (highest index stops first) until there are N; the file is not
/// changed, so a reload of it brings its own count back.
async fn scale(
    State(state): State<Shared>,
    Path(name): Path<String>,
    body: Result<Json<api::ScaleRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(r)) => r,
        Err(rejection) => return json_rejection(rejection),
    };
    let (reply, rx) = oneshot::channel();
    let asked = MainRequest::Scale {
        program: name.clone(),
        instances: request.instances,
        reply,
    };
    if state.reload.send(asked).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "warden is shutting down");
    }
    match rx.await {
        Ok(Ok(diff)) => Json(api::ScaleAnswer {
            program: name,
            instances: request.instances,
            added: diff.added,
            removed: diff.removed,
        })
        .into_response(),
        Ok(Err(crate::config::ScaleError::NotFound(e))) => error(StatusCode::NOT_FOUND, e),
        Ok(Err(crate::config::ScaleError::Refused(e))) => error(StatusCode::BAD_REQUEST, e),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "warden is shutting down"),
    }
}

/// `POST /api/v1/reload`: as SIGHUP. 200 with the changes, or 400 with every problem
/// of the file (the running configuration stays).
async fn reload(State(state): State<Shared>) -> Response {
    let (tx, rx) = oneshot::channel();
    if state.reload.send(MainRequest::Reload(tx)).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "warden is shutting down");
    }
    match rx.await {
        Ok(Ok(diff)) => Json(ReloadAnswer {
            added: diff.added,
            changed: diff.changed,
            removed: diff.removed,
            unchanged: diff.unchanged,
        })
        .into_response(),
        Ok(Err(errors)) => (
            StatusCode::BAD_REQUEST,
            Json(ReloadRefused {
                error: format!(
                    "the configuration was refused ({} problem{}); the running configuration stays",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                ),
                errors,
            }),
        )
            .into_response(),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "warden is shutting down"),
    }
}

/// Most events one `GET /api/v1/events` answers.
const MAX_EVENTS: u32 = 1000;

#[derive(serde::Deserialize)]
struct EventsQuery {
    program: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/events?program=&since=&limit=`: the supervision history from the
/// store, newest first.
async fn events(State(state): State<Shared>, query: Result<Query<EventsQuery>, QueryRejection>) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_EVENTS {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be from 1 to {MAX_EVENTS}, not {limit}"),
        );
    }
    let since = match query.since.as_deref().map(humantime::parse_rfc3339_weak) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "since must be an RFC 3339 time like \"2026-11-23T10:00:00Z\", not {:?}",
                    query.since.unwrap_or_default()
                ),
            )
        }
    };
    let store = match state.store.borrow().clone() {
        Ok(store) => store,
        Err(why) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the store is not available: {why}"),
            )
        }
    };
    let filter = crate::store::EventFilter {
        program: query.program,
        since,
        limit,
    };
    match store.events(&filter).await {
        Ok(events) => Json(api::EventHistory {
            events: events
                .into_iter()
                .map(|e| api::StoredEventInfo {
                    id: e.id,
                    at: api::rfc3339(e.at),
                    kind: e.kind,
                    program: e.program,
                    severity: e.severity,
                    message: e.message,
                    details: e.details,
                })
                .collect(),
        })
        .into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the store: {e}")),
    }
}

/// Most notifications one `GET /api/v1/alerts` lists.
const MAX_NOTIFICATIONS: u32 = 500;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    /// `pending | sent | failed`.
    state: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/alerts?state=&limit=`: firing alerts, silences, and the outbox.
async fn alerts(State(state): State<Shared>, query: Result<Query<AlertsQuery>, QueryRejection>) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_NOTIFICATIONS {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be from 1 to {MAX_NOTIFICATIONS}, not {limit}"),
        );
    }
    let wanted = match query.state.as_deref() {
        None => None,
        Some("pending") => Some(OutboxState::Pending),
        Some("sent") => Some(OutboxState::Sent),
        Some("failed") => Some(OutboxState::Failed),
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("state must be pending, sent or failed, not {other:?}"),
            )
        }
    };
    let view = state.alerting.view();
    let notifications = match state.alerting.notifications(wanted, limit).await {
        Ok(ns) => ns.iter().map(notification_info).collect(),
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the alert outbox: {e}"),
            )
        }
    };
    Json(api::Alerts {
        firing: firing_alerts(&view),
        silences: view
            .silences
            .iter()
            .map(|s| api::SilenceInfo {
                matcher: s.matcher.clone(),
                until: api::rfc3339(s.until),
            })
            .collect(),
        channels: view.channels.iter().map(|c| (*c).to_owned()).collect(),
        notifications,
        store_error: view.store_error.clone(),
    })
    .into_response()
}

fn firing_alerts(view: &crate::alerting::View) -> Vec<api::AlertInfo> {
    let mut firing: Vec<_> = view.firing.iter().collect();
    firing.sort_by(|(a, _), (b, _)| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    firing
        .into_iter()
        .map(|(a, silenced)| api::AlertInfo {
            fingerprint: a.fingerprint.clone(),
            severity: a.severity.as_str().to_owned(),
            summary: a.summary.clone(),
            program: a.details.program.clone(),
            at: api::rfc3339(a.details.at),
            status: "firing".to_owned(),
            silenced: *silenced,
            reason: a.details.reason.clone(),
            exit_code: a.details.exit_code,
            signal: a.details.signal,
            restarts: a.details.restarts,
            stderr_tail: a.details.stderr_tail.clone(),
        })
        .collect()
}

fn notification_info(n: &crate::store::Notification) -> api::NotificationInfo {
    let m = &n.message;
    api::NotificationInfo {
        id: n.id,
        channel: m.channel.clone(),
        subject: m.subject.clone(),
        status: m.status.as_str().to_owned(),
        severity: m.severity.clone(),
        state: n.state.as_str().to_owned(),
        attempts: n.attempts,
        last_error: n.last_error.clone(),
        created_at: api::rfc3339(m.created_at),
        sent_at: n.sent_at.map(api::rfc3339),
        next_attempt_at: (n.state == OutboxState::Pending).then(|| api::rfc3339(m.next_attempt_at)),
        alerts: serde_json::from_str(&m.alerts).unwrap_or_default(),
    }
}

/// Longest silence: a forgotten one must not mute warden for ever.
const MAX_SILENCE: Duration = Duration::from_secs(30 * 24 * 3600);

/// `POST /api/v1/silences`: a maintenance window (201 with the silence).
async fn silence(State(state): State<Shared>, body: Result<Json<api::SilenceRequest>, JsonRejection>) -> Response {
    let request = match body {
        Ok(Json(r)) => r,
        Err(rejection) => return json_rejection(rejection),
    };
    let matcher = request.matcher.trim().to_owned();
    if matcher.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "matcher is empty: give a program name, a fingerprint (program_crashed:web) or a prefix (system)",
        );
    }
    let now = SystemTime::now();
    let until = match (request.until.as_deref(), request.duration.as_deref()) {
        (Some(_), Some(_)) => return error(StatusCode::BAD_REQUEST, "give until or duration, not both"),
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "give until (RFC 3339) or duration (\"2h\") for the silence to end",
            )
        }
        (Some(until), None) => match humantime::parse_rfc3339_weak(until) {
            Ok(t) => t,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("until must be an RFC 3339 time like \"2026-11-23T10:00:00Z\", not {until:?}"),
                )
            }
        },
        (None, Some(d)) => match crate::config::parse_duration(d) {
            // Checked before adding: a duration of centuries must not overflow the time.
            Ok(d) if d > MAX_SILENCE => return error(StatusCode::BAD_REQUEST, "a silence may last at most 30 days"),
            Ok(d) => now + d,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid duration {d:?}: {e}")),
        },
    };
    if until <= now {
        return error(StatusCode::BAD_REQUEST, "the silence would end in the past");
    }
    if until > now + MAX_SILENCE {
        return error(StatusCode::BAD_REQUEST, "a silence may last at most 30 days");
    }
    let silence = crate::alerts::Silence {
        matcher: matcher.clone(),
        until,
    };
    if let Err(e) = state.alerting.silence(silence).await {
        return error(StatusCode::SERVICE_UNAVAILABLE, e);
    }
    tracing::info!(%matcher, until = %api::rfc3339(until), "silence added");
    (
        StatusCode::CREATED,
        Json(api::SilenceInfo {
            matcher,
            until: api::rfc3339(until),
        }),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTestQuery {
    channel: Option<String>,
    /// Waiting is what this endpoint does; the flag only lifts the request timeout.
    #[allow(dead_code)]
    wait: Option<bool>,
    /// How long to wait for the deliveries (default 20s, at most 2m).
    timeout: Option<String>,
}

/// `POST /api/v1/alerts/test?channel=`: a test notification through the outbox to each
/// channel; 200 when every one was delivered, 502 when one failed or is still waiting.
async fn alert_test(State(state): State<Shared>, query: Result<Query<AlertTestQuery>, QueryRejection>) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let wait = match query.timeout.as_deref().map(crate::config::parse_duration) {
        None => Duration::from_secs(20),
        Some(Ok(d)) if d <= Duration::from_secs(120) => d,
        Some(_) => return error(StatusCode::BAD_REQUEST, "timeout must be a duration up to \"2m\""),
    };
    let ids = match state.alerting.test(query.channel).await {
        Ok(ids) => ids,
        Err(crate::alerting::TestError::Channel(e)) => return error(StatusCode::BAD_REQUEST, e),
        Err(crate::alerting::TestError::Unavailable(e)) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut results = Vec::new();
    for id in ids {
        let result = loop {
            let n = state.alerting.notification(id).await;
            let settled = match &n {
                Ok(Some(n)) => n.state != OutboxState::Pending || n.attempts > 0,
                _ => true,
            };
            if settled || tokio::time::Instant::now() >= deadline {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        results.push(match result {
            Ok(Some(n)) => api::AlertTestResult {
                channel: n.message.channel,
                id,
                state: n.state.as_str().to_owned(),
                error: match n.state {
                    OutboxState::Sent => None,
                    _ => Some(n.last_error.unwrap_or_else(|| "not tried yet".into())),
                },
            },
            Ok(None) => api::AlertTestResult {
                channel: String::new(),
                id,
                state: "failed".into(),
                error: Some("the notification left the outbox".into()),
            },
            Err(e) => api::AlertTestResult {
                channel: String::new(),
                id,
                state: "failed".into(),
                error: Some(e),
            },
        });
    }
    let all_sent = results.iter().all(|r| r.state == "sent");
    let status = if all_sent {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    (status, Json(api::AlertTest { results })).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: message.into() })).into_response()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
