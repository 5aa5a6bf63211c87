//! Fixtures shared by the unit tests (compiled for tests only).

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::{BackoffSpec, Jitter, ProgramSpec, RestartPolicy, Rotation};

/// A program with small, predictable settings: restart always, backoff 1s ×2 up to 8s,
/// 3 restarts in 10 minutes, start period 1s.
pub fn program(name: &str) -> ProgramSpec {
    ProgramSpec {
        name: name.to_string(),
        command: "true".to_string(),
        args: vec![],
        cwd: None,
        env: Default::default(),
        env_passthrough: vec![],
        user: None,
        group: None,
        enabled: true,
        autostart: true,
        restart: RestartPolicy::Always,
        backoff: BackoffSpec {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
            multiplier: 2.0,
            reset_after: Duration::from_secs(60),
            jitter: Jitter::None,
        },
        max_restarts: 3,
        restart_window: Duration::from_secs(600),
        start_period: Duration::from_secs(1),
        stop_signal: Signal::SIGTERM,
        stop_timeout: Duration::from_secs(10),
        depends_on: vec![],
        memory_limit: None,
        memory_limit_grace: Duration::from_secs(10),
        rotation: Rotation {
            max_size: 1 << 20,
            max_files: 1,
        },
        port: None,
        probe: None,
        required: true,
        instance: None,
        job: None,
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `true` when `available`; otherwise a loud skip notice, or a failure under
/// `WARDEN_TEST_STRICT=1` (what CI sets).
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("WARDEN_TEST_STRICT").is_ok_and(|v| v == "1") {
        panic!("{what} is required (WARDEN_TEST_STRICT=1) but not available");
    }
    eprintln!("\n!!! SKIPPED: {what} is not available; the test did not run !!!\n");
    false
}

/// The reaper of this test process. Every `Reaper` sweeps `waitpid(-1)`, so two of
/// them would steal each other's statuses, and a reaper started inside a
/// `#[tokio::test]` would die with that test's runtime. So one reaper serves every
/// test, started once on a runtime of its own that lives as long as the process.
/// (Consequence: in this test binary, children must be waited for through it.)
pub fn reaper() -> crate::platform::reaper::Reaper {
    use crate::platform::reaper::Reaper;
    static REAPER: std::sync::OnceLock<Reaper> = std::sync::OnceLock::new();
    REAPER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("test-reaper".into())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        tx.send(Reaper::start().unwrap()).unwrap();
                        std::future::pending::<()>().await
                    })
                })
                .unwrap();
            rx.recv().unwrap()
        })
        .clone()
}

/// A program's snapshot in `state` (a pid when the state has a process, healthy when
/// running), everything else empty.
pub fn program_snapshot(name: &str, state: crate::events::ProgramState) -> crate::events::ProgramSnapshot {
    crate::events::ProgramSnapshot {
        name: name.into(),
        state,
        reason: None,
        pid: state.has_process().then_some(42),
        restarts: 0,
        started_at: None,
        last_exit: None,
        next_restart_at: None,
        memory_bytes: None,
        cpu_percent: None,
        enabled: true,
        required: true,
        port: None,
        probe: None,
        healthy: state == crate::events::ProgramState::Running,
        log: None,
    }
}

/// Runs `cmd` (stdin closed) to its end through the test reaper, the only one allowed
/// to wait; `None` when it cannot be started or takes more than a minute.
pub fn run_to_exit(cmd: &mut std::process::Command) -> Option<crate::events::ExitStatus> {
    let (tx, rx) = std::sync::mpsc::channel();
    cmd.stdin(std::process::Stdio::null());
    reaper()
        .spawn(
            cmd,
            Box::new(move |_, status| {
                let _ = tx.send(status);
            }),
        )
        .ok()?;
    rx.recv_timeout(Duration::from_secs(60)).ok()
}
