//! The client verbs (`status`, `start|stop|restart`, `logs`, `reload`, `probe`) run
//! as a user would, against a live warden.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Two long-running programs.
const TWO: &str = r#"[[program]]
name = "alpha"
command = "sleep"
args = ["1000"]

[[program]]
name = "beta"
command = "sleep"
args = ["1000"]
"#;

/// A program that prints `tick N` ten times a second.
const TICKER: &str = r#"[[program]]
name = "ticker"
command = "sh"
args = ["-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"]
"#;

const TOKEN: &str = "ops-token-0123456789abcdef";
const READ_ONLY: &str = "read-token-0123456789abcdef";

/// `warden ARGS` aimed at `w`, with no token from the test's environment.
fn client(w: &Warden, args: &[&str]) -> Output {
    client_at(&format!("http://127.0.0.1:{}", w.port), args, None)
}

fn client_at(url: &str, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("WARDEN_URL", url)
        .env_remove("WARDEN_API_TOKEN")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(token) = token {
        cmd.env("WARDEN_API_TOKEN", token);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The stdout of a run that must succeed.
#[track_caller]
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The stderr of a run that must exit 1.
#[track_caller]
fn fails(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

fn wait_gone(pid: i32) {
    wait_for(&format!("pid {pid} to be gone"), DEADLINE, || {
        (!pid_alive(pid)).then_some(())
    });
}

#[test]
fn status_prints_a_table_and_the_servers_json() {
    let w = Warden::start(TWO);
    let alpha = w.wait_state("alpha", "running")["pid"].as_i64().unwrap();
    let beta = w.wait_state("beta", "running")["pid"].as_i64().unwrap();
    let table = ok(client(&w, &["status"]));
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "MEM", "CPU", "PROBE", "LAST", "EXIT"],
        "{table}"
    );
    for (line, name, pid) in [(lines[1], "alpha", alpha), (lines[2], "beta", beta)] {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[..3], [name, "running", &pid.to_string()], "{table}");
        assert!(cells[3].ends_with('s') || cells[3].ends_with('m'), "uptime: {table}");
    }
    // Columns line up: every row's STATE starts where the header's does.
    let state_at = lines[0].find("STATE").unwrap();
    for line in &lines[1..3] {
        assert_eq!(line.find("running"), Some(state_at), "{table}");
    }
    assert!(!table.contains('\x1b'), "no colour into a pipe: {table:?}");

    let json = ok(client(&w, &["status", "--json"]));
    assert!(
        json.starts_with("{\n  \"version\": "),
        "indented, in the server's order: {json}"
    );
    let value: Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = value["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(value["programs"][0]["pid"].as_i64(), Some(alpha));
}

#[test]
fn an_empty_configuration_is_said_in_words() {
    let w = Warden::start("");
    let out = ok(client(&w, &["status"]));
    assert!(out.starts_with("no programs configured\n"), "{out}");
    assert!(!out.contains("NAME"), "{out}");
}

#[test]
fn stop_ends_the_process_and_start_brings_it_back() {
    let w = Warden::start(TWO);
    let pid = w.pid_of("alpha");
    let beta = w.pid_of("beta");
    let out = ok(client(&w, &["stop", "alpha"]));
    assert!(out.starts_with("stop alpha: accepted"), "{out}");
    wait_gone(pid);
    w.wait_state("alpha", "stopped");
    assert_eq!(
        w.program("beta")["pid"].as_i64(),
        Some(beta as i64),
        "the other one is untouched"
    );
    let table = ok(client(&w, &["status"]));
    let row = table.lines().find(|l| l.starts_with("alpha ")).unwrap();
    assert_eq!(
        row.split_whitespace().take(3).collect::<Vec<_>>(),
        ["alpha", "stopped", "-"],
        "{table}"
    );

    let out = ok(client(&w, &["start", "alpha"]));
    assert!(out.starts_with("start alpha: accepted"), "{out}");
    let again = w.wait_program("alpha running again", "alpha", |p| {
        p["state"] == "running" && p["pid"].as_i64().is_some_and(|p| p as i32 != pid)
    });
    assert!(pid_alive(again["pid"].as_i64().unwrap() as i32));
}

#[test]
fn an_unknown_program_is_an_error_with_the_status() {
    let w = Warden::start(TWO);
    let err = fails(client(&w, &["restart", "nope"]));
    assert!(err.starts_with("warden: "), "{err}");
    assert!(err.trim_end().ends_with("(HTTP 404)"), "{err}");
    assert!(err.contains("nope"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn restart_all_restarts_every_program_and_reports_each() {
    let w = Warden::start(TWO);
    let alpha = w.pid_of("alpha");
    let beta = w.pid_of("beta");
    let out = ok(client(&w, &["restart", "--all"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("restart alpha: accepted"), "{out}");
    assert!(lines[1].starts_with("restart beta: accepted"), "{out}");
    for (name, old) in [("alpha", alpha), ("beta", beta)] {
        w.wait_program(&format!("{name} restarted"), name, |p| {
            p["state"] == "running" && p["pid"].as_i64().is_some_and(|p| p as i32 != old)
        });
        wait_gone(old);
    }
    let usage = client(&w, &["restart", "alpha", "--all"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(stderr(&usage).contains("cannot be used with"), "{}", stderr(&usage));
}

#[test]
fn probe_live_passes_and_probe_ready_fails_while_a_required_program_is_down() {
    let w = Warden::start(TWO);
    w.pid_of("alpha");
    w.pid_of("beta");
    assert_eq!(ok(client(&w, &["probe", "live"])), "live\n");
    wait_for("ready", DEADLINE, || (w.get_json("/ready").0 == 200).then_some(()));
    assert_eq!(ok(client(&w, &["probe", "ready"])), "ready\n");
    ok(client(&w, &["stop", "beta"]));
    w.wait_state("beta", "stopped");
    let err = fails(client(&w, &["probe", "ready"]));
    assert!(err.starts_with("warden: not ready: "), "{err}");
    assert!(err.contains("beta"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        ok(client(&w, &["probe", "live"])),
        "live\n",
        "live does not depend on programs"
    );
}

#[test]
fn a_closed_port_is_named_with_the_reason_and_exits_1() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        &["status"][..],
        &["stop", "web"],
        &["probe", "live"],
        &["logs", "web", "-f"],
    ] {
        let err = fails(client_at(&url, args, None));
        assert_eq!(
            err,
            format!("warden: cannot reach {url}: connection refused\n"),
            "{args:?}"
        );
    }
    // --url wins over WARDEN_URL.
    let err = fails(client_at("http://127.0.0.1:1", &["status", "--url", &url], None));
    assert!(err.contains(&url), "{err}");
}

/// A program that says `oops` on stderr, prints `line 1` .. `line 20` and stays up.
const TWENTY: &str = r#"[[program]]
name = "talker"
command = "sh"
args = ["-c", "echo oops >&2; for i in $(seq 1 20); do echo line $i; done; exec sleep 1000"]
"#;

fn wait_logged(w: &Warden, name: &str, texts: &[&str]) {
    wait_for(&format!("{texts:?} in {name}'s log"), DEADLINE, || {
        let log = std::fs::read_to_string(w.path(&format!("logs/{name}.log"))).ok()?;
        texts.iter().all(|t| log.contains(t)).then_some(())
    });
}

/// `TIME STREAM text` as (stream, text), checking the time.
fn parse_log_line(line: &str) -> (String, String) {
    let (at, rest) = line.split_once(' ').unwrap_or_else(|| panic!("{line}"));
    assert!(at.contains('T') && at.ends_with('Z'), "a time first: {line}");
    let (stream, text) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
    (stream.to_string(), text.trim_start().to_string())
}

#[test]
fn logs_prints_the_last_lines() {
    let w = Warden::start(TWENTY);
    // stdout and stderr are separate pipes: `oops` may be read before or after the rest.
    wait_logged(&w, "talker", &[" out line 20", " err oops"]);
    let out = ok(client(&w, &["logs", "talker", "-n", "100"]));
    let lines: Vec<(String, String)> = out.lines().map(parse_log_line).collect();
    assert!(lines.contains(&("err".into(), "oops".into())), "{out}");
    let outs: Vec<&str> = lines
        .iter()
        .filter(|(s, _)| s == "out")
        .map(|(_, t)| t.as_str())
        .collect();
    let numbered: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
    assert_eq!(outs, numbered, "{out}");

    let out = ok(client(&w, &["logs", "talker", "-n", "5"]));
    let lines: Vec<(String, String)> = out.lines().map(parse_log_line).collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[4], ("out".into(), "line 20".into()), "the newest last: {out}");
    assert!(lines.iter().any(|l| l.1 == "line 19"), "{out}");

    let err = fails(client(&w, &["logs", "nope"]));
    assert!(err.contains("(HTTP 404)"), "{err}");
}

/// `warden logs NAME -f -n 1` aimed at `w`, its stdout lines on a channel.
fn follow(w: &Warden, name: &str) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["logs", name, "-f", "-n", "1"])
        .env("WARDEN_URL", format!("http://127.0.0.1:{}", w.port))
        .env_remove("WARDEN_API_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn child_stderr(child: &mut std::process::Child) -> String {
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut err);
    }
    err
}

#[test]
fn logs_follow_prints_lines_as_they_come() {
    let w = Warden::start(TICKER);
    w.pid_of("ticker");
    let (mut child, rx) = follow(&w, "ticker");
    // More lines than the tail of one: they were printed as the program wrote them.
    let deadline = Instant::now() + DEADLINE;
    let mut ticks = Vec::new();
    while ticks.len() < 10 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "only {ticks:?} within {DEADLINE:?}; stderr:\n{}",
                child_stderr(&mut child)
            );
        };
        let (stream, text) = parse_log_line(&line);
        if stream == "warden" {
            continue; // warden's own "started" line may be in the tail
        }
        assert_eq!(stream, "out", "{line}");
        ticks.push(text.strip_prefix("tick ").unwrap().parse::<u64>().unwrap());
    }
    assert!(ticks.windows(2).all(|w| w[0] < w[1]), "in order: {ticks:?}");
    assert!(child.try_wait().unwrap().is_none(), "still following");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn logs_follow_ends_when_warden_closes() {
    let mut w = Warden::start(TICKER);
    w.pid_of("ticker");
    let (mut child, lines) = follow(&w, "ticker");
    if lines.recv_timeout(DEADLINE).is_err() {
        let _ = child.kill();
        panic!("no line within {DEADLINE:?}: {}", child_stderr(&mut child));
    }
    w.signal(libc::SIGTERM);
    w.wait_exit(DEADLINE);
    let status = wait_for("the client to end with the stream", DEADLINE, || {
        child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}: {}", child_stderr(&mut child));
}

#[test]
fn reload_reports_what_changed_and_every_error_of_a_refused_file() {
    let w = Warden::start(TWO);
    w.pid_of("alpha");
    let beta = w.pid_of("beta");
    w.write_config(&format!(
        "{TWO}\n[[program]]\nname = \"gamma\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n"
    ));
    let out = ok(client(&w, &["reload"]));
    assert_eq!(out, "reloaded: added gamma; 2 unchanged\n");
    w.wait_state("gamma", "running");
    assert_eq!(w.pid_of("beta"), beta, "unchanged programs are not touched");
    let out = ok(client(&w, &["reload"]));
    assert_eq!(out, "reloaded: nothing changed (3 unchanged)\n");

    w.write_config(
        "[[program]]\nname = \"alpha\"\ncommand = \"sleep\"\nstop_timeout = \"10 parsecs\"\nrestat = \"always\"\n",
    );
    let err = fails(client(&w, &["reload"]));
    let places: Vec<&str> = err.lines().filter(|l| l.starts_with("warden.toml:")).collect();
    assert!(places.len() >= 2, "every error, each with its place:\n{err}");
    assert!(err.starts_with("warden: "), "{err}");
    assert_eq!(
        w.program("gamma")["state"],
        "running",
        "the running configuration stays"
    );
}

#[test]
fn wait_answers_once_the_program_got_there() {
    let w = Warden::start(TWO);
    let pid = w.pid_of("alpha");
    let out = ok(client(&w, &["stop", "alpha", "--wait"]));
    assert_eq!(out, "stop alpha: done (state stopped)\n");
    // No waiting here: the answer came after the fact.
    assert!(!pid_alive(pid), "the process is gone when stop --wait returns");
    assert_eq!(w.program("alpha")["state"], "stopped");

    let out = ok(client(&w, &["start", "alpha", "--wait"]));
    let now = w.program("alpha");
    assert_eq!(now["state"], "running");
    assert_eq!(out, format!("start alpha: done (state running, pid {})\n", now["pid"]));

    let out = ok(client(&w, &["restart", "--all", "--wait", "--timeout", "15s"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.contains(": done (state running, pid ")), "{out}");
}

#[test]
fn wait_fails_with_warden_s_reason_when_the_program_does_not_get_there() {
    let w = Warden::start(
        r#"[[program]]
name = "crashy"
command = "sh"
args = ["-c", "exit 3"]
backoff = { initial = "5s", max = "5s" }
"#,
    );
    w.wait_program("crashy in backoff", "crashy", |p| p["state"] == "backoff");
    let err = fails(client(&w, &["restart", "crashy", "--wait", "--timeout", "1s"]));
    assert!(err.contains("(HTTP 409)"), "{err}");
    assert!(err.contains("crashy"), "{err}");
}

fn with_tokens(programs: &str) -> Warden {
    let mut w = Warden::prepare();
    std::fs::write(
        w.path("warden.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\ntokens = [\"{TOKEN}\"]\nread_only_tokens = [\"{READ_ONLY}\"]\n\n{programs}",
            w.port
        ),
    )
    .unwrap();
    w.launch();
    w
}

#[test]
fn tokens_are_sent_and_a_missing_or_refused_one_says_what_to_set() {
    let w = with_tokens(TWO);
    let url = format!("http://127.0.0.1:{}", w.port);
    let err = fails(client_at(&url, &["status"], None));
    assert!(err.contains("(HTTP 401)"), "{err}");
    assert!(
        err.contains("no API token was sent") && err.contains("WARDEN_API_TOKEN"),
        "{err}"
    );

    let err = fails(client_at(&url, &["status", "--token", "wrong-token-0123456789"], None));
    assert!(err.contains("(HTTP 401)") && err.contains("refused"), "{err}");

    let table = ok(client_at(&url, &["status"], Some(TOKEN)));
    assert!(table.starts_with("NAME"), "{table}");
    // The command line wins over the environment.
    ok(client_at(
        &url,
        &["status", "--token", TOKEN],
        Some("wrong-token-0123456789"),
    ));

    // A read-only token reads but may not control.
    ok(client_at(&url, &["status"], Some(READ_ONLY)));
    let err = fails(client_at(&url, &["restart", "alpha"], Some(READ_ONLY)));
    assert!(err.contains("(HTTP 403)") && err.contains("WARDEN_API_TOKEN"), "{err}");
    let out = ok(client_at(&url, &["restart", "alpha"], Some(TOKEN)));
    assert!(out.starts_with("restart alpha: accepted"), "{out}");

    // The probes are public.
    assert_eq!(ok(client_at(&url, &["probe", "live"], None)), "live\n");
}

#[test]
fn help_never_shows_the_token() {
    let out = Command::new(BIN)
        .args(["status", "--help"])
        .env("WARDEN_API_TOKEN", "do-not-print-me-0123456789")
        .output()
        .unwrap();
    let help = ok(out);
    assert!(help.contains("WARDEN_API_TOKEN"), "{help}");
    assert!(!help.contains("do-not-print-me"), "{help}");
}

#[test]
fn a_silent_server_times_out_with_the_url() {
    // Accepts connections (the kernel does, from the backlog) and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let started = Instant::now();
    let err = fails(client_at(&url, &["status", "--timeout", "500ms"], None));
    assert_eq!(err, format!("warden: no answer from {url} within 500ms\n"));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(listener);
}
