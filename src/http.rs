//! The HTTP surface (axum): `/live` and `/status` for now; later issues add `/ready`,
//! `/health`, `/metrics`, `/dashboard` and `/api/v1`.
//!
//! Handlers read the supervisor's snapshot or send it a command through its
//! [`Handle`]; they never touch supervisor state. Only this module and the client
//! know the JSON wire format ([`crate::api`]).

use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::SocketAddr;

use crate::api::{ErrorBody, ProgramStatus, Status};
use crate::supervisor::{CommandError, Handle};

/// How long `/live` waits for the supervision loop to answer.
const LIVE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub supervisor: Handle,
    pub started_at: SystemTime,
    /// Where program cgroups live, if warden uses them (shown in `/status`).
    pub cgroup: Option<String>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/live", get(live))
        .route("/status", get(status))
        .route("/api/v1/programs", get(programs))
        .route("/api/v1/programs/{name}", get(program))
        .route("/api/v1/programs/{name}/{action}", post(control))
        .fallback(not_found)
        .with_state(state)
}

/// 200 while the supervision loop answers a round trip; never depends on programs.
async fn live(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(LIVE_TIMEOUT, state.supervisor.ping()).await {
        Ok(true) => (StatusCode::OK, Json(serde_json::json!({"status": "live"}))).into_response(),
        _ => error(StatusCode::SERVICE_UNAVAILABLE, "the supervision loop does not answer"),
    }
}

async fn status(State(state): State<AppState>) -> Json<Status> {
    Json(Status::new(
        &state.supervisor.snapshot(),
        state.started_at,
        SystemTime::now(),
        state.cgroup.clone(),
    ))
}

async fn programs(State(state): State<AppState>) -> Json<Vec<ProgramStatus>> {
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

async fn program(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let snapshot = state.supervisor.snapshot();
    match snapshot.programs.iter().find(|p| p.name == name) {
        Some(p) => Json(ProgramStatus::new(p, SystemTime::now())).into_response(),
        None => error(StatusCode::NOT_FOUND, CommandError::UnknownProgram(name).to_string()),
    }
}

/// `POST /api/v1/programs/{name}/start|stop|restart`. Until tokens exist, control is
/// only accepted from the loopback interface.
async fn control(
    State(state): State<AppState>,
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
