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
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::platform::{self, cgroup::Cgroups, reaper::Reaper};
use crate::supervisor::{self, Handle, Outcome};
use crate::telemetry;

/// Exit code for an invalid configuration.
pub const EXIT_CONFIG: u8 = 2;
/// How long in-flight HTTP requests may take once warden has stopped its programs.
const HTTP_DRAIN: Duration = Duration::from_secs(2);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(&args.config),
        Command::Check(args) => check(&args.config),
        Command::Init(args) => init(&args.path, args.force),
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
    let config = match config::load(path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init();
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
    let reaper = Reaper::start().context("installing the SIGCHLD handler")?;
    for dir in [&config.supervisor.data_dir, &config.logs.dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let listen = config.server.listen;
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
    let (handle, mut supervisor) = supervisor::start(config, reaper, cgroups.clone(), prober);
    tokio::spawn(forward_checks(services.checks.subscribe(), handle.clone()));

    let stop_http = CancellationToken::new();
    let cgroup = cgroups.as_ref().map(|c| c.dir().display().to_string());
    let shutting_down = Arc::new(AtomicBool::new(false));
    let app = http::router(AppState {
        supervisor: handle.clone(),
        started_at,
        cgroup,
        shutting_down: shutting_down.clone(),
        system: services.system.subscribe(),
        checks: services.checks.subscribe(),
        config: services.config.subscribe(),
        metrics: Arc::new(Metrics::new()),
        liveness: Arc::default(),
    });
    let http_stopped = stop_http.clone().cancelled_owned();
    let server = tokio::spawn(async move {
        use axum::serve::ListenerExt;
        // Answers are written whole; without Nagle's delay a keep-alive client never
        // waits on a delayed ACK.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(http_stopped)
        .await
    });
    tracing::info!(%listen, programs, config = %source.display(), pid1 = platform::is_pid1(), "warden started");

    let mut signals = 0;
    let outcome = loop {
        tokio::select! {
            outcome = &mut supervisor => break outcome.context("the supervision loop panicked")?,
            _ = sigterm.recv() => {
                signals += 1;
                shutting_down.store(true, Ordering::Relaxed);
                shutdown_signal(&handle, "SIGTERM", signals).await
            }
            _ = sigint.recv() => {
                signals += 1;
                shutting_down.store(true, Ordering::Relaxed);
                shutdown_signal(&handle, "SIGINT", signals).await
            }
            _ = sighup.recv() => { let _ = reload(&handle, &source, &mut services).await; }
        }
    };
    stop_http.cancel();
    let _ = tokio::time::timeout(HTTP_DRAIN, server).await;
    if let Some(cgroups) = cgroups {
        cgroups.cleanup();
    }
    Ok(outcome)
}

async fn shutdown_signal(handle: &Handle, name: &str, count: u32) {
    if count == 1 {
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

/// Re-reads the configuration file and applies it; an invalid file is refused and the
/// running configuration stays. Used by SIGHUP (and the API's reload).
async fn reload(handle: &Handle, path: &Path, services: &mut Services) -> Result<ConfigDiff, String> {
    tracing::info!(config = %path.display(), "reloading the configuration");
    match config::load(path) {
        Ok(new) => {
            services.apply(&new);
            handle.reload(new).await.map_err(|e| e.to_string())
        }
        Err(errors) => {
            let text = errors.to_string();
            handle.reload_refused(text.clone()).await;
            Err(text)
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
