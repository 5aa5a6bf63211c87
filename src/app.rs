//! Wiring: turns a parsed command line into running parts and an exit code.
//!
//! `run` starts, in this order: signal handlers (before any child exists, so no
//! signal is lost), the subreaper bit and the reaper, the HTTP listener (a port clash
//! is reported before any program starts), the supervisor; then it turns signals into
//! supervisor commands until the supervisor has stopped everything.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command};
use crate::config::{self, Config, ConfigDiff};
use crate::health::checks::{self, CheckSet, CheckStatus};
use crate::health::probe::Prober;
use crate::health::system::{self, SystemReport};
use crate::http::{self, AppState, Gate};
use crate::metrics::Metrics;
use crate::platform::{self, cgroup::Cgroups, reaper::Reaper};
use crate::serve;
use crate::service;
use crate::supervisor::{self, Handle, Outcome};
use crate::telemetry;
use crate::tls::{Certs, TlsListener};

/// Exit code for an invalid configuration.
pub const EXIT_CONFIG: u8 = 2;
/// How long in-flight HTTP requests may take once warden has stopped its programs.
const HTTP_DRAIN: Duration = Duration::from_secs(2);
/// At shutdown, how long due alert notifications may take to go out.
const ALERT_FLUSH: Duration = Duration::from_secs(3);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(&args.config),
        Command::Check(args) => check(&args.config),
        Command::Init(args) => init(&args.path, args.force),
        Command::Client(cmd) => crate::client::run(cmd),
    }
}

fn check(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(config) => {
            println!("{}", config.summary());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn init(path: &Path, force: bool) -> ExitCode {
    if path.exists() && !force {
        eprintln!("{} already exists (use --force to overwrite it)", path.display());
        return ExitCode::FAILURE;
    }
    match std::fs::write(path, config::example()) {
        Ok(()) => {
            println!(
                "wrote {}; check it with `warden check -c {}`",
                path.display(),
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn run(path: &Path) -> ExitCode {
    let mut config = match config::load(path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init();
    service::fit_kubernetes(&mut config, &|k| std::env::var(k).ok());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(Outcome::Graceful) => {
            tracing::info!("warden stopped");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Forced) => {
            tracing::warn!("warden stopped by force");
            ExitCode::FAILURE
        }
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("warden: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<Outcome> {
    let started_at = SystemTime::now();
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    if let Err(e) = platform::become_subreaper() {
        tracing::warn!(error = %e, "cannot become a child subreaper: escaped grandchildren will not be tracked");
    }
    match platform::raise_fd_limit() {
        Ok((old, new)) if old != new => tracing::debug!(old, new, "raised the open-files limit"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
    // Token files are read before anything starts: a missing one stops warden here.
    let gate = Arc::new(std::sync::RwLock::new(Arc::new(
        Gate::new(&config, None).map_err(anyhow::Error::msg)?,
    )));
    let tls = match &config.server.tls {
        Some(files) => Some(Certs::load(files).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let reaper = Reaper::start().context("installing the SIGCHLD handler")?;
    for dir in [&config.supervisor.data_dir, &config.logs.dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let listen = config.server.listen;
    let config_timeout = config.server.request_timeout;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let source = config.source.clone();
    let programs = config.programs.len();
    let cgroups = if config.supervisor.cgroups {
        Cgroups::detect()
    } else {
        None
    };
    let prober: Arc<dyn supervisor::ProbeRunner> = Arc::new(Probes(Prober::new(reaper.clone())));
    let mut services = Services::start(&config);
    let (store_config, data_dir) = (config.store.clone(), config.supervisor.data_dir.clone());
    let (handle, mut supervisor) = supervisor::start(config, reaper, cgroups.clone(), prober);
    let metrics = Arc::new(Metrics::new());
    let store = crate::journal::start(&handle, &store_config, data_dir, metrics.clone());
    let alerts_shutdown = CancellationToken::new();
    let alerting = crate::alerting::Alerting::start(crate::alerting::Inputs {
        handle: handle.clone(),
        config: services.config.subscribe(),
        checks: services.checks.subscribe(),
        system: services.system.subscribe(),
        store: store.clone(),
        metrics: metrics.clone(),
        shutdown: alerts_shutdown.clone(),
    });
    tokio::spawn(forward_checks(services.checks.subscribe(), handle.clone()));
    tokio::spawn(service::run_systemd(handle.clone()));

    let stop_http = CancellationToken::new();
    let cgroup = cgroups.as_ref().map(|c| c.dir().display().to_string());
    let shutting_down = Arc::new(AtomicBool::new(false));
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel::<http::MainRequest>(4);
    let app = http::router(AppState {
        supervisor: handle.clone(),
        started_at,
        cgroup,
        shutting_down: shutting_down.clone(),
        system: services.system.subscribe(),
        checks: services.checks.subscribe(),
        config: services.config.subscribe(),
        metrics,
        store,
        liveness: Arc::default(),
        gate: gate.clone(),
        reload: reload_tx,
        stopping: stop_http.clone(),
        recorder: crate::dashboard::Recorder::start(&handle),
        alerting: alerting.clone(),
        jobs: crate::jobs::start(handle.clone(), services.config.subscribe(), alerts_shutdown.clone()),
    });
    tokio::spawn(forget_idle_clients(gate.clone()));
    // Headers must arrive within the request timeout (fixed at start).
    let header_timeout = config_timeout;
    let server = match &tls {
        Some(certs) => {
            let listener = TlsListener::new(listener, certs.clone()).context("setting up TLS")?;
            tokio::spawn(serve::serve(
                listener,
                app,
                header_timeout,
                stop_http.clone(),
                HTTP_DRAIN,
            ))
        }
        None => tokio::spawn(serve::serve(
            http::PlainListener(listener),
            app,
            header_timeout,
            stop_http.clone(),
            HTTP_DRAIN,
        )),
    };
    tracing::info!(%listen, programs, config = %source.display(), pid1 = platform::is_pid1(), "warden started");

    let mut signals = 0;
    let mut flush: Option<tokio::task::JoinHandle<()>> = None;
    let outcome = loop {
        tokio::select! {
            outcome = &mut supervisor => break outcome.context("the supervision loop panicked")?,
            _ = sigterm.recv() => {
                signals += 1;
                flush.get_or_insert_with(|| begin_alert_flush(&alerting, &alerts_shutdown));
                shutting_down.store(true, Ordering::Relaxed);
                shutdown_signal(&handle, "SIGTERM", signals).await
            }
            _ = sigint.recv() => {
                signals += 1;
                flush.get_or_insert_with(|| begin_alert_flush(&alerting, &alerts_shutdown));
                shutting_down.store(true, Ordering::Relaxed);
                shutdown_signal(&handle, "SIGINT", signals).await
            }
            _ = sighup.recv() => { let _ = reload(&handle, &source, &mut services, &gate, tls.as_deref()).await; }
            Some(request) = reload_rx.recv() => match request {
                http::MainRequest::Reload(reply) => {
                    let _ = reply.send(reload(&handle, &source, &mut services, &gate, tls.as_deref()).await);
                }
                http::MainRequest::Scale { program, instances, reply } => {
                    let _ = reply.send(scale(&handle, &mut services, &program, instances).await);
                }
            },
        }
    };
    // What was due at the signal went out while the programs stopped (the flush began
    // then, so it adds no time inside a pod's grace period); the rest waits in the
    // outbox for the next start.
    let flush = flush.unwrap_or_else(|| begin_alert_flush(&alerting, &alerts_shutdown));
    let _ = tokio::time::timeout(ALERT_FLUSH, flush).await;
    stop_http.cancel();
    let _ = tokio::time::timeout(HTTP_DRAIN + Duration::from_millis(500), server).await;
    if let Some(cgroups) = cgroups {
        cgroups.cleanup();
    }
    Ok(outcome)
}

/// From now on program events raise no alerts (warden's own stops are not resolutions),
/// and the notifications already due get [`ALERT_FLUSH`] to go out.
fn begin_alert_flush(
    alerting: &crate::alerting::Alerting,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    shutdown.cancel();
    let alerting = alerting.clone();
    tokio::spawn(async move { alerting.flush(ALERT_FLUSH).await })
}

async fn shutdown_signal(handle: &Handle, name: &str, count: u32) {
    if count == 1 {
        service::stopping();
        tracing::info!(
            signal = name,
            "shutting down (send it again to kill every program at once)"
        );
        handle.shutdown(false).await;
    } else {
        tracing::warn!(signal = name, "second signal: killing every program now");
        handle.shutdown(true).await;
    }
}

/// Re-reads the configuration file and applies it; an invalid file (or an unreadable
/// token file) is refused and the running configuration stays. Used by SIGHUP and by
/// `POST /api/v1/reload`, which gets every problem back.
async fn reload(
    handle: &Handle,
    path: &Path,
    services: &mut Services,
    gate: &std::sync::RwLock<Arc<Gate>>,
    tls: Option<&Certs>,
) -> Result<ConfigDiff, Vec<String>> {
    tracing::info!(config = %path.display(), "reloading the configuration");
    service::reloading();
    let refused = |errors: Vec<String>| async move {
        handle.reload_refused(errors.join("\n")).await;
        service::reloaded("reload refused: the previous configuration keeps running");
        Err(errors)
    };
    let new = match config::load(path) {
        Ok(mut new) => {
            service::fit_kubernetes(&mut new, &|k| std::env::var(k).ok());
            new
        }
        Err(errors) => return refused(errors.0.iter().map(ToString::to_string).collect()).await,
    };
    let previous = gate.read().unwrap_or_else(|e| e.into_inner()).clone();
    let new_gate = match Gate::new(&new, Some(&previous)) {
        Ok(g) => g,
        Err(e) => return refused(vec![e]).await,
    };
    let running = services.config.borrow().clone();
    if new.server.listen != running.server.listen || new.server.tls.is_some() != tls.is_some() {
        tracing::warn!("server.listen and turning TLS on or off take effect at the next start of warden");
    }
    // New certificate files (renewed by certbot or cert-manager) are read at each reload.
    if let (Some(certs), Some(files)) = (tls, &new.server.tls) {
        if let Err(e) = certs.reload(files) {
            return refused(vec![e]).await;
        }
    }
    services.apply(&new);
    let diff = handle.reload(new).await.map_err(|e| vec![e.to_string()])?;
    *gate.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new_gate);
    service::reloaded(&crate::dashboard::summary(&handle.snapshot(), &[]));
    Ok(diff)
}

/// Runs `instances` copies of `program`: the running configuration, scaled, applied as
/// a reload (only the copies added or removed start or stop).
async fn scale(handle: &Handle, services: &mut Services, program: &str, instances: u32) -> http::ScaleOutcome {
    let running = services.config.borrow().clone();
    let new = config::scaled(&running, program, instances)?;
    services.apply(&new);
    let diff = handle
        .reload(new)
        .await
        .map_err(|e| config::ScaleError::Refused(e.to_string()))?;
    tracing::info!(program, instances, added = ?diff.added, removed = ?diff.removed, "scaled");
    Ok(diff)
}

/// Drops the rate-limit buckets of clients that have been quiet (bounded memory).
async fn forget_idle_clients(gate: Arc<std::sync::RwLock<Arc<Gate>>>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        let current = gate.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(limiter) = &current.limiter {
            limiter.forget_idle();
        }
    }
}

/// Runs program probes for the supervisor with [`Prober`].
struct Probes(Prober);

impl supervisor::ProbeRunner for Probes {
    fn run(
        &self,
        program: Arc<crate::config::ProgramSpec>,
        port: Option<u16>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::events::ProbeResult> + Send>> {
        let prober = self.0.clone();
        Box::pin(async move {
            let at = SystemTime::now();
            let Some(probe) = program.probe.as_ref() else {
                return crate::events::ProbeResult {
                    ok: true,
                    message: "no probe".into(),
                    duration: Duration::ZERO,
                    at,
                };
            };
            let outcome = prober.probe(probe, &program, port).await;
            crate::events::ProbeResult {
                ok: outcome.ok,
                message: outcome.message,
                duration: outcome.duration,
                at,
            }
        })
    }
}

/// The health services beside the supervisor, and the channels the HTTP layer reads.
/// A reload replaces the system measurer and the checks when their settings changed.
struct Services {
    config: watch::Sender<Arc<Config>>,
    system: watch::Sender<Option<Arc<SystemReport>>>,
    /// Kept so the measurer never sees its channel without readers (it would stop).
    _system_reader: watch::Receiver<Option<Arc<SystemReport>>>,
    system_task: JoinHandle<()>,
    checks: watch::Sender<Arc<Vec<CheckStatus>>>,
    check_set: CheckSet,
}

impl Services {
    fn start(config: &Config) -> Services {
        let (system, system_reader) = watch::channel(None);
        let system_task = system::spawn_system(config.system.clone(), system.clone());
        let (checks, _) = watch::channel(Arc::new(Vec::new()));
        let check_set = checks::spawn_checks(config.checks.clone(), checks.clone());
        let (config_tx, _) = watch::channel(Arc::new(config.clone()));
        Services {
            config: config_tx,
            system,
            _system_reader: system_reader,
            system_task,
            checks,
            check_set,
        }
    }

    fn apply(&mut self, new: &Config) {
        let old = self.config.borrow().clone();
        if old.system != new.system {
            self.system_task.abort();
            self.system_task = system::spawn_system(new.system.clone(), self.system.clone());
        }
        if old.checks != new.checks {
            self.check_set = checks::spawn_checks(new.checks.clone(), self.checks.clone());
        }
        self.config.send_replace(Arc::new(new.clone()));
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.system_task.abort();
    }
}

/// Tells the supervisor how the checks stand after every change, so programs that
/// `depends_on` a check start once it passes.
async fn forward_checks(mut checks: watch::Receiver<Arc<Vec<CheckStatus>>>, handle: Handle) {
    while checks.changed().await.is_ok() {
        let states: Vec<(String, Option<bool>)> = checks
            .borrow_and_update()
            .iter()
            .map(|c| (c.name.clone(), c.up))
            .collect();
        handle.set_checks(states).await;
    }
}
