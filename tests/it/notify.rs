//! systemd's notify protocol, received on a datagram socket the test owns as systemd
//! would: `READY=1` once the programs are started, `WATCHDOG=1` at half of
//! `WATCHDOG_USEC`, `RELOADING=1` then `READY=1` around a reload, `STOPPING=1` at
//! SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::*;

fn next(socket: &UnixDatagram, deadline: Instant) -> Option<String> {
    let left = deadline.checked_duration_since(Instant::now())?;
    socket
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Messages until one contains `what`; panics with all of them after the deadline.
fn until(socket: &UnixDatagram, what: &str) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while let Some(message) = next(socket, deadline) {
        let done = message.lines().any(|l| l == what);
        seen.push(message);
        if done {
            return seen;
        }
    }
    panic!("no {what} within {DEADLINE:?}; received {seen:#?}");
}

#[test]
fn ready_watchdog_reload_and_stopping_reach_the_service_manager() {
    let mut w = Warden::prepare();
    let path = w.path("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    w.env.push(("NOTIFY_SOCKET".into(), path.display().to_string()));
    w.env.push(("WATCHDOG_USEC".into(), "400000".into()));
    let program = "[[program]]\nname = \"a\"\ncommand = \"sleep\"\nargs = [\"1000\"]\nstart_period = \"300ms\"\n";
    w.write_config(program);
    w.launch();

    let ready = until(&socket, "READY=1");
    let last = ready.last().unwrap();
    assert!(last.contains("STATUS=1 program running"), "{last}");
    // By then the program is up, as /status says too.
    assert_eq!(w.program("a")["state"], "running");

    // Pets every 200ms: at least 4 in a second and a half, whatever else is sent.
    let started = Instant::now();
    let mut pets = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        if let Some(m) = next(&socket, started + Duration::from_millis(1500)) {
            pets += m.lines().filter(|l| *l == "WATCHDOG=1").count();
        }
    }
    assert!(
        (4..=10).contains(&pets),
        "{pets} watchdog pets in 1.5s at WATCHDOG_USEC=400ms"
    );

    w.signal(libc::SIGHUP);
    let around = until(&socket, "READY=1");
    assert!(
        around.iter().any(|m| m.lines().any(|l| l == "RELOADING=1")),
        "no RELOADING=1 before READY=1: {around:#?}"
    );

    w.signal(libc::SIGTERM);
    let stopping = until(&socket, "STOPPING=1");
    assert!(stopping.last().unwrap().contains("STATUS=stopping programs"));
    assert!(w.wait_exit(DEADLINE).success());
}

#[test]
fn programs_never_inherit_the_notify_socket() {
    let mut w = Warden::prepare();
    let path = w.path("notify.sock");
    let _socket = UnixDatagram::bind(&path).unwrap();
    w.env.push(("NOTIFY_SOCKET".into(), path.display().to_string()));
    let env_file = w.path("env.txt");
    w.write_config(&format!(
        "[[program]]\nname = \"a\"\ncommand = \"sh\"\nargs = [\"-c\", \"env > {}; exec sleep 1000\"]\n",
        env_file.display()
    ));
    w.launch();
    let env = wait_for("the program to write its environment", DEADLINE, || {
        std::fs::read_to_string(&env_file).ok().filter(|t| !t.is_empty())
    });
    assert!(
        !env.contains("NOTIFY_SOCKET"),
        "a program inherited NOTIFY_SOCKET:\n{env}"
    );
}
