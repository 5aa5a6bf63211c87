//! Tests of the whole module through its public API: `parse` with inline TOML and a
//! fake environment, `diff`, `summary`, `example`. Error tests assert the exact
//! `FILE:LINE:COL: message` text, because that text is what users read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::schedule::{Schedule, Zone};

use super::*;

const FILE: &str = "w.toml";

fn no_env(_: &str) -> Option<String> {
    None
}

fn ok(text: &str) -> Config {
    ok_with(text, &[])
}

fn ok_with(text: &str, vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    match parse(text, Path::new(FILE), &|name| vars.get(name).cloned()) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// The errors as the user sees them, one string each.
fn errors(text: &str) -> Vec<String> {
    errors_with(text, &[])
}

fn errors_with(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    match parse(text, Path::new(FILE), &|name| vars.get(name).cloned()) {
        Ok(_) => panic!("expected errors, the config is valid"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

/// The single error of `text`, which must start with `prefix` (`"w.toml:L:C: ..."`).
fn one_error(text: &str) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.into_iter().next().unwrap()
}

const MINIMAL: &str = "[[program]]\nname = \"web\"\ncommand = \"python3\"\n";

#[test]
fn empty_file_is_all_defaults() {
    let c = ok("");
    assert_eq!(c.source, Path::new(FILE));
    assert_eq!(c.server.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(c.supervisor.data_dir, Path::new("./data"));
    assert_eq!(c.supervisor.sample_interval, Duration::from_secs(15));
    assert_eq!(c.supervisor.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(c.logs.dir, Path::new("./logs"));
    assert_eq!(
        c.logs.rotation,
        Rotation {
            max_size: 10 << 20,
            max_files: 5
        }
    );
    assert_eq!(c.logs.tail_lines, 500);
    assert_eq!(c.logs.max_line, 16 << 10);
    assert!(c.programs.is_empty());
}

#[test]
fn program_defaults() {
    let c = ok(MINIMAL);
    let p = &c.programs[0];
    assert_eq!(p.name, "web");
    assert_eq!(p.command, "python3");
    assert!(p.args.is_empty());
    assert_eq!(p.cwd, None);
    assert!(p.env.is_empty());
    assert!(p.env_passthrough.is_empty());
    assert_eq!((p.user.as_deref(), p.group.as_deref()), (None, None));
    assert!(p.enabled);
    assert!(p.autostart);
    assert_eq!(p.restart, RestartPolicy::Always);
    assert_eq!(
        p.backoff,
        BackoffSpec {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            multiplier: 2.0,
            reset_after: Duration::from_secs(600),
            jitter: Jitter::None,
        }
    );
    assert_eq!(p.max_restarts, 10);
    assert_eq!(p.restart_window, Duration::from_secs(600));
    assert_eq!(p.start_period, Duration::from_secs(1));
    assert_eq!(p.stop_signal, Signal::SIGTERM);
    assert_eq!(p.stop_timeout, Duration::from_secs(10));
    assert!(p.depends_on.is_empty());
    assert_eq!(p.memory_limit, None);
    assert_eq!(p.memory_limit_grace, Duration::from_secs(10));
    assert_eq!(p.rotation, c.logs.rotation);
}

#[test]
fn every_key() {
    let c = ok_with(
        r#"
[server]
listen = "0.0.0.0:9000"

[supervisor]
data_dir = "/var/lib/warden"
sample_interval = "250ms"
shutdown_timeout = "1m"

[logs]
dir = "logs"
max_size = 4096
max_files = 0
tail_lines = 20
max_line = "1KiB"

[[program]]
name = "db-migrate"
command = "migrate"
restart = "never"

[[program]]
name = "mail-watcher"
command = "python3"
args = ["-m", "watchers.mail"]
cwd = "/srv/app"
env = { LOG_LEVEL = "info", API_KEY = "${ANTHROPIC_API_KEY}", PORT = 8080 }
env_passthrough = ["GMAIL_ADDRESS"]
user = "nobody"
group = "nogroup"
enabled = "yes"
autostart = false
restart = "on-failure"
backoff = { initial = "0s", max = "0s", multiplier = 1, reset_after = "1h", jitter = "decorrelated" }
max_restarts = 0
restart_window = "1h"
start_period = "3s"
stop_signal = "int"
stop_timeout = "2s"
depends_on = ["db-migrate", { name = "api", condition = "healthy" }, { name = "api2" }]
memory_limit = "512MiB"
memory_limit_grace = "1m"
logs = { max_size = "50MiB", max_files = 3 }

[[program]]
name = "api"
command = "api"
depends_on = [{ name = "db-migrate", condition = "completed_successfully" }]

[[program]]
name = "api2"
command = "api"
enabled = false
stop_signal = "SIGKILL"
logs = { max_files = 1 }
depends_on = [{ name = "api", condition = "started" }]
"#,
        &[("ANTHROPIC_API_KEY", "sk-secret")],
    );
    assert_eq!(c.server.listen, "0.0.0.0:9000".parse::<SocketAddr>().unwrap());
    assert_eq!(c.supervisor.data_dir, Path::new("/var/lib/warden"));
    assert_eq!(c.supervisor.sample_interval, Duration::from_millis(250));
    assert_eq!(c.supervisor.shutdown_timeout, Duration::from_secs(60));
    assert_eq!(c.logs.dir, Path::new("logs"), "relative paths stay as written");
    assert_eq!(
        c.logs.rotation,
        Rotation {
            max_size: 4096,
            max_files: 0
        }
    );
    assert_eq!((c.logs.tail_lines, c.logs.max_line), (20, 1024));

    let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["db-migrate", "mail-watcher", "api", "api2"]);
    assert_eq!(c.programs[0].restart, RestartPolicy::Never);

    let p = c.program("mail-watcher").unwrap();
    assert_eq!(p.args, ["-m", "watchers.mail"]);
    assert_eq!(p.cwd.as_deref(), Some(Path::new("/srv/app")));
    assert_eq!(p.env["LOG_LEVEL"].expose(), "info");
    assert_eq!(p.env["API_KEY"].expose(), "sk-secret");
    assert_eq!(p.env["PORT"].expose(), "8080");
    assert_eq!(p.env_passthrough, ["GMAIL_ADDRESS"]);
    assert_eq!(
        (p.user.as_deref(), p.group.as_deref()),
        (Some("nobody"), Some("nogroup"))
    );
    assert!(p.enabled);
    assert!(!p.autostart);
    assert_eq!(p.restart, RestartPolicy::OnFailure);
    assert_eq!(
        p.backoff,
        BackoffSpec {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            multiplier: 1.0,
            reset_after: Duration::from_secs(3600),
            jitter: Jitter::Decorrelated,
        }
    );
    assert_eq!(p.max_restarts, 0);
    assert_eq!(p.restart_window, Duration::from_secs(3600));
    assert_eq!(p.start_period, Duration::from_secs(3));
    assert_eq!(p.stop_signal, Signal::SIGINT);
    assert_eq!(p.stop_timeout, Duration::from_secs(2));
    assert_eq!(
        p.depends_on,
        [
            Dependency {
                name: "db-migrate".into(),
                condition: DependencyCondition::Running
            },
            Dependency {
                name: "api".into(),
                condition: DependencyCondition::Healthy
            },
            Dependency {
                name: "api2".into(),
                condition: DependencyCondition::Running
            },
        ]
    );
    assert_eq!(p.memory_limit, Some(512 << 20));
    assert_eq!(p.memory_limit_grace, Duration::from_secs(60));
    assert_eq!(
        p.rotation,
        Rotation {
            max_size: 50 << 20,
            max_files: 3
        }
    );

    let api = c.program("api").unwrap();
    assert_eq!(api.depends_on[0].condition, DependencyCondition::CompletedSuccessfully);
    let api2 = c.program("api2").unwrap();
    assert!(!api2.enabled);
    assert_eq!(api2.stop_signal, Signal::SIGKILL);
    assert_eq!(
        api2.rotation,
        Rotation {
            max_size: 4096,
            max_files: 1
        },
        "a partial override keeps the [logs] rest"
    );
    assert_eq!(api2.depends_on[0].condition, DependencyCondition::Started);
}

#[test]
fn signal_spellings() {
    for (written, signal) in [
        ("SIGTERM", Signal::SIGTERM),
        ("TERM", Signal::SIGTERM),
        ("sigterm", Signal::SIGTERM),
        ("hup", Signal::SIGHUP),
        ("SIGUSR1", Signal::SIGUSR1),
        ("SIGSTOP", Signal::SIGSTOP),
    ] {
        let c = ok(&format!("{MINIMAL}stop_signal = {written:?}\n"));
        assert_eq!(c.programs[0].stop_signal, signal, "{written}");
    }
}

#[test]
fn enabled_spellings() {
    for (written, enabled) in [
        ("true", true),
        ("false", false),
        ("\"1\"", true),
        ("\"0\"", false),
        ("\"YES\"", true),
        ("\"no\"", false),
        ("\"on\"", true),
        ("\" off \"", false),
    ] {
        let c = ok(&format!("{MINIMAL}enabled = {written}\n"));
        assert_eq!(c.programs[0].enabled, enabled, "{written}");
    }
    let flag = format!("{MINIMAL}enabled = \"${{FEATURE_X:-false}}\"\n");
    assert!(!ok(&flag).programs[0].enabled);
    assert!(ok_with(&flag, &[("FEATURE_X", "true")]).programs[0].enabled);
    assert_eq!(
        errors_with(&flag, &[("FEATURE_X", "maybe")]),
        ["w.toml:4:11: invalid value \"maybe\" for enabled: use true/false, 1/0, yes/no or on/off"]
    );
}

#[test]
fn sizes_as_integers_and_strings() {
    let c = ok(&format!(
        "{MINIMAL}memory_limit = 1000000\nlogs = {{ max_size = \"10 MB\" }}\n"
    ));
    assert_eq!(c.programs[0].memory_limit, Some(1_000_000));
    assert_eq!(c.programs[0].rotation.max_size, 10_000_000);
}

// --- interpolation ---

#[test]
fn interpolation() {
    let c = ok_with(
        r#"
[[program]]
name = "a"
command = "${BIN_DIR}/run"
args = ["--home=${HOME}", "--level=${LEVEL:-info}", "--price=$$5", "$HOME", "${EMPTY:-fallback}", "cost $5"]
cwd = "${APP_DIR:-/srv/app}"
env = { TOKEN = "${TOKEN}", LITERAL = "$${TOKEN}" }
user = "${RUN_AS:-nobody}"
group = "${RUN_GROUP}"
"#,
        &[
            ("BIN_DIR", "/opt/bin"),
            ("HOME", "/home/me"),
            ("TOKEN", "t0k"),
            ("EMPTY", ""),
            ("RUN_GROUP", "staff"),
        ],
    );
    let p = &c.programs[0];
    assert_eq!(p.command, "/opt/bin/run");
    assert_eq!(
        p.args,
        [
            "--home=/home/me",
            "--level=info",
            "--price=$5",
            "$HOME",
            "fallback",
            "cost $5"
        ]
    );
    assert_eq!(p.cwd.as_deref(), Some(Path::new("/srv/app")));
    assert_eq!(p.env["TOKEN"].expose(), "t0k");
    assert_eq!(p.env["LITERAL"].expose(), "${TOKEN}");
    assert_eq!(p.user.as_deref(), Some("nobody"));
    assert_eq!(p.group.as_deref(), Some("staff"));
}

#[test]
fn unset_variable() {
    assert_eq!(
        errors("[[program]]\nname = \"a\"\ncommand = \"x\"\nenv = { API_KEY = \"${ANTHROPIC_API_KEY}\" }\n"),
        ["w.toml:4:19: environment variable ANTHROPIC_API_KEY is not set (write ${ANTHROPIC_API_KEY:-default} to give a default)"]
    );
    assert_eq!(
        errors("[[program]]\nname = \"a\"\ncommand = \"${BIN}\"\nargs = [\"x\", \"${A}${B}\"]\n"),
        [
            "w.toml:3:11: environment variable BIN is not set (write ${BIN:-default} to give a default)",
            "w.toml:4:14: environment variable A is not set (write ${A:-default} to give a default)",
            "w.toml:4:14: environment variable B is not set (write ${B:-default} to give a default)",
        ]
    );
}

#[test]
fn unterminated_substitution() {
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\ncommand = \"${HOME\"\n"),
        "w.toml:3:11: unterminated `${` (close it with `}`, or write `$$` for a literal `$`)"
    );
}

// --- secrets ---

#[test]
fn secrets_never_in_errors_or_debug() {
    const SECRET: &str = "sk-ant-very-secret";
    // A secret written in the file with a broken substitution, and a secret from the environment.
    let text = format!(
        "[[program]]\nname = \"a\"\ncommand = \"x\"\nenv = {{ BROKEN = \"{SECRET}${{\", MISSING = \"{SECRET}${{NOPE}}\", OK = \"${{KEY}}\" }}\n"
    );
    let errors = errors_with(&text, &[("KEY", SECRET)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    for e in &errors {
        assert!(!e.contains(SECRET), "secret in {e}");
    }

    // `env` written as a string instead of a table: serde would quote the string.
    let e = one_error(&format!(
        "[[program]]\nname = \"a\"\ncommand = \"x\"\nenv = \"API_KEY={SECRET}\"\n"
    ));
    assert!(!e.contains(SECRET), "secret in {e}");
    assert!(
        e.starts_with("w.toml:4:7: invalid type: string, expected a table like { NAME = \"value\" }"),
        "{e}"
    );

    let c = ok_with(
        "[[program]]\nname = \"a\"\ncommand = \"x\"\nenv = { K = \"${KEY}\" }\n",
        &[("KEY", SECRET)],
    );
    assert_eq!(c.programs[0].env["K"].expose(), SECRET);
    let debug = format!("{c:?} {c:#?}");
    assert!(!debug.contains(SECRET), "secret in Debug");
    assert!(!c.summary().contains(SECRET), "secret in summary");
}

// --- one error of each kind, at its exact place ---

#[test]
fn syntax_error_is_the_one_error() {
    assert_eq!(
        one_error("[server]\nlisten = \"127.0.0.1:8080\nfoo = 1\n"),
        "w.toml:2:25: invalid basic string, expected `\"`"
    );
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\nname = \"b\"\n"),
        "w.toml:3:1: duplicate key"
    );
}

#[test]
fn type_error_is_the_one_error() {
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\ncommand = \"x\"\nargs = \"--verbose\"\n"),
        "w.toml:4:8: invalid type: string \"--verbose\", expected an array (in `program.args`)"
    );
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\ncommand = \"x\"\nbackoff = \"1s\"\n"),
        "w.toml:4:11: invalid type: string \"1s\", expected a table like { initial = \"1s\", max = \"5m\" } (in `program.backoff`)"
    );
    assert_eq!(
        one_error("[program]\nname = \"a\"\n"),
        "w.toml:1:1: invalid type: table, expected an array (in `program`)"
    );
}

#[test]
fn wrong_scalar_types_are_ordinary_errors() {
    assert_eq!(
        errors("[logs]\nmax_files = \"ten\"\ntail_lines = -1\n[[program]]\nname = 5\ncommand = \"x\"\nautostart = \"yes\"\n"),
        [
            "w.toml:2:13: logs.max_files must be a whole number from 0 to 4294967295, not \"ten\"",
            "w.toml:3:14: logs.tail_lines must be a whole number from 0 to 18446744073709551615, not -1",
            "w.toml:5:8: name must be a string, not an integer",
            "w.toml:7:13: autostart must be true or false, not \"yes\"",
        ]
    );
}

#[test]
fn unknown_keys_everywhere() {
    let text = r#"
[sever]
listen = "x"

[logs]
max_sise = "1MiB"

[[program]]
name = "web"
command = "x"
restat = "always"
backoff = { initial = "1s", multiplyer = 2.0 }
depends_on = [{ name = "db", conditon = "healthy" }]
logs = { max_files = 1, rotate = true }

[[program]]
command = "y"
name = "db"
zzzzzzzz = 1

[program.backoff]
jiter = "full"
"#;
    assert_eq!(
        errors(text),
        [
            "w.toml:2:2: unknown key `sever` at the top level: did you mean `server`? (known keys: server, supervisor, logs, ports, system, check, metrics, store, alerts, program)",
            "w.toml:6:1: unknown key `max_sise` in [logs]: did you mean `max_size`? (known keys: dir, max_size, max_files, tail_lines, max_line)",
            "w.toml:11:1: unknown key `restat` in [[program]] \"web\": did you mean `restart`? (known keys: name, command, args, cwd, env, env_passthrough, user, group, enabled, autostart, restart, backoff, max_restarts, restart_window, start_period, stop_signal, stop_timeout, depends_on, memory_limit, memory_limit_grace, logs, port, probe, required, instances, schedule, timezone, overlap, timeout, missed, max_retries)",
            "w.toml:12:29: unknown key `multiplyer` in backoff of [[program]] \"web\": did you mean `multiplier`? (known keys: initial, max, multiplier, reset_after, jitter)",
            "w.toml:13:30: unknown key `conditon` in depends_on of [[program]] \"web\": did you mean `condition`? (known keys: name, condition)",
            "w.toml:14:25: unknown key `rotate` in logs of [[program]] \"web\" (known keys: max_size, max_files)",
            "w.toml:19:1: unknown key `zzzzzzzz` in [[program]] \"db\" (known keys: name, command, args, cwd, env, env_passthrough, user, group, enabled, autostart, restart, backoff, max_restarts, restart_window, start_period, stop_signal, stop_timeout, depends_on, memory_limit, memory_limit_grace, logs, port, probe, required, instances, schedule, timezone, overlap, timeout, missed, max_retries)",
            "w.toml:22:1: unknown key `jiter` in backoff of [[program]] \"db\": did you mean `jitter`? (known keys: initial, max, multiplier, reset_after, jitter)",
        ]
    );
}

#[test]
fn unknown_key_in_a_program_without_name() {
    let e = errors("[[program]]\ncommand = \"x\"\nnmae = \"a\"\n");
    assert_eq!(e[0], "w.toml:1:1: [[program]] is missing the required key `name`",);
    assert!(
        e[1].starts_with("w.toml:3:1: unknown key `nmae` in [[program]] #1: did you mean `name`?"),
        "{}",
        e[1]
    );
}

#[test]
fn bad_duration() {
    assert_eq!(
        one_error(&format!("{MINIMAL}stop_timeout = \"10 parsecs\"\n")),
        "w.toml:4:16: invalid duration \"10 parsecs\" for stop_timeout: unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations); write a number with a unit, like \"10s\", \"250ms\", \"5m\" or \"1h\""
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}backoff = {{ initial = 5 }}\n")),
        "w.toml:4:23: invalid duration 5 for backoff.initial: write a string with a unit, like \"10s\", \"250ms\" or \"5m\""
    );
    assert_eq!(
        one_error("[supervisor]\nsample_interval = \"50ms\"\n"),
        "w.toml:2:19: supervisor.sample_interval must be at least 100ms, not 50ms"
    );
}

#[test]
fn bad_size() {
    assert_eq!(
        one_error("[logs]\nmax_size = \"10M\"\n"),
        "w.toml:2:12: invalid size \"10M\" for logs.max_size: unknown unit \"m\"; write bytes, or a number with B, KB, MB, GB, TB (1000-based) or KiB, MiB, GiB, TiB (1024-based), like \"10MiB\""
    );
    assert_eq!(
        one_error("[logs]\nmax_size = \"1KiB\"\n"),
        "w.toml:2:12: logs.max_size must be at least 4KiB, not 1KiB"
    );
    assert_eq!(
        one_error("[logs]\nmax_line = 100\n"),
        "w.toml:2:12: logs.max_line must be at least 256, not 100"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}memory_limit = 0\n")),
        "w.toml:4:16: memory_limit must be more than 0 (leave it out for no limit)"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}memory_limit = -5\n")),
        "w.toml:4:16: invalid size -5 for memory_limit: must not be negative"
    );
}

#[test]
fn duplicate_name() {
    assert_eq!(
        one_error("[[program]]\nname = \"web\"\ncommand = \"a\"\n\n[[program]]\nname = \"web\"\ncommand = \"b\"\n"),
        "w.toml:6:8: duplicate program name \"web\" (first defined at line 2)"
    );
}

#[test]
fn invalid_names() {
    let long = "a".repeat(64);
    for name in ["Web", "web_1", "", "web app", long.as_str()] {
        let e = one_error(&format!("[[program]]\nname = {name:?}\ncommand = \"a\"\n"));
        assert_eq!(
            e,
            format!("w.toml:2:8: invalid program name {name:?}: use 1 to 63 characters of a-z, 0-9 and -")
        );
    }
    ok(&format!(
        "[[program]]\nname = \"{}\"\ncommand = \"a\"\n",
        "a".repeat(63)
    ));
}

#[test]
fn missing_required_keys() {
    assert_eq!(
        errors("[server]\n\n[[program]]\nargs = []\n"),
        [
            "w.toml:3:1: [[program]] is missing the required key `name`",
            "w.toml:3:1: [[program]] is missing the required key `command`",
        ]
    );
}

#[test]
fn empty_command() {
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\ncommand = \"\"\n"),
        "w.toml:3:11: command is empty"
    );
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\ncommand = \"${CMD:-}\"\n"),
        "w.toml:3:11: command is empty"
    );
}

#[test]
fn bad_signal() {
    assert_eq!(
        one_error(&format!("{MINIMAL}stop_signal = \"SIGFOO\"\n")),
        "w.toml:4:15: invalid stop_signal \"SIGFOO\": not a signal name (use one like SIGTERM, SIGINT, SIGQUIT, SIGHUP or SIGUSR1)"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}stop_signal = 15\n")),
        "w.toml:4:15: stop_signal must be a string, not an integer"
    );
}

#[test]
fn bad_choices() {
    assert_eq!(
        one_error(&format!("{MINIMAL}restart = \"alway\"\n")),
        "w.toml:4:11: invalid value \"alway\" for restart: use always, on-failure or never"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}backoff = {{ jitter = \"some\" }}\n")),
        "w.toml:4:22: invalid value \"some\" for backoff.jitter: use none, full or decorrelated"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}depends_on = [{{ name = \"web2\", condition = \"ready\" }}]\n[[program]]\nname = \"web2\"\ncommand = \"x\"\n")),
        "w.toml:4:44: invalid value \"ready\" for depends_on condition: use started, running, healthy or completed_successfully"
    );
}

#[test]
fn bad_backoff_numbers() {
    assert_eq!(
        one_error(&format!("{MINIMAL}backoff = {{ multiplier = 0.5 }}\n")),
        "w.toml:4:26: backoff.multiplier must be at least 1.0, not 0.5"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}backoff = {{ initial = \"10s\", max = \"5s\" }}\n")),
        "w.toml:4:36: backoff.max (5s) must not be less than backoff.initial (10s)"
    );
    // Only initial written, above the default max.
    assert_eq!(
        one_error(&format!("{MINIMAL}backoff = {{ initial = \"10m\" }}\n")),
        "w.toml:4:23: backoff.max (5m) must not be less than backoff.initial (10m)"
    );
}

#[test]
fn bad_env_names() {
    assert_eq!(
        errors(&format!("{MINIMAL}env = {{ \"BAD-NAME\" = \"x\" }}\nenv_passthrough = [\"OK\", \"1BAD\"]\n")),
        [
            "w.toml:4:9: invalid variable name \"BAD-NAME\" in env: use letters, digits and _, not starting with a digit",
            "w.toml:5:26: invalid variable name \"1BAD\" in env_passthrough: use letters, digits and _, not starting with a digit",
        ]
    );
    assert_eq!(
        one_error(&format!(
            "{MINIMAL}env = {{ KEY = \"x\" }}\nenv_passthrough = [\"KEY\"]\n"
        )),
        "w.toml:5:20: KEY is set in env and also listed in env_passthrough: keep one"
    );
}

#[test]
fn bad_listen() {
    assert_eq!(
        one_error("[server]\nlisten = \"localhost\"\n"),
        "w.toml:2:10: invalid server.listen address \"localhost\": write IP:PORT, like \"127.0.0.1:8080\" or \"0.0.0.0:8080\""
    );
}

// --- the program graph ---

#[test]
fn unknown_dependency() {
    assert_eq!(
        errors("[[program]]\nname = \"web\"\ncommand = \"x\"\ndepends_on = [\"db-migrat\", { name = \"cache\" }]\n\n[[program]]\nname = \"db-migrate\"\ncommand = \"y\"\n"),
        [
            "w.toml:4:15: depends_on: no program or check named \"db-migrat\" (did you mean \"db-migrate\"?)",
            "w.toml:4:37: depends_on: no program or check named \"cache\"",
        ]
    );
}

#[test]
fn self_dependency() {
    assert_eq!(
        one_error(&format!("{MINIMAL}depends_on = [\"web\"]\n")),
        "w.toml:4:15: program \"web\" depends on itself"
    );
}

#[test]
fn dependency_listed_twice() {
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\ncommand = \"x\"\ndepends_on = [\"b\", { name = \"b\" }]\n[[program]]\nname = \"b\"\ncommand = \"x\"\n"),
        "w.toml:4:29: depends_on lists \"b\" twice"
    );
}

fn programs(deps: &[(&str, &[&str])]) -> String {
    deps.iter()
        .map(|(name, deps)| format!("[[program]]\nname = \"{name}\"\ncommand = \"x\"\ndepends_on = {deps:?}\n\n"))
        .collect()
}

#[test]
fn dependency_cycle_reported_once() {
    // Lines: a = 1..4, b = 6..9, c = 11..14, d = 16..19.
    let text = programs(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]);
    assert_eq!(errors(&text), ["w.toml:4:15: dependency cycle: a -> b -> c -> a"]);
}

#[test]
fn two_cycles_and_shortest_path() {
    // a <-> b is one cycle; c -> d -> e -> c another; a also reaches c.
    let text = programs(&[
        ("a", &["c", "b"]),
        ("b", &["a"]),
        ("c", &["d"]),
        ("d", &["e"]),
        ("e", &["c"]),
    ]);
    assert_eq!(
        errors(&text),
        [
            "w.toml:4:20: dependency cycle: a -> b -> a",
            "w.toml:14:15: dependency cycle: c -> d -> e -> c"
        ]
    );
    // A diamond is not a cycle.
    ok(&programs(&[
        ("a", &["b", "c"]),
        ("b", &["d"]),
        ("c", &["d"]),
        ("d", &[]),
    ]));
}

#[test]
fn many_errors_at_once_in_file_order() {
    let text = r#"[[program]]
name = "a"
command = "x"
depends_on = ["b"]

[[program]]
name = "b"
command = "y"
restat = "always"
stop_timeout = "10 parsecs"
depends_on = ["a"]
"#;
    let errors = errors(text);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!(errors[0], "w.toml:4:15: dependency cycle: a -> b -> a");
    assert!(errors[1].starts_with("w.toml:9:1: unknown key `restat` in [[program]] \"b\": did you mean `restart`?"));
    assert!(errors[2].starts_with("w.toml:10:16: invalid duration \"10 parsecs\" for stop_timeout: "));
}

#[test]
fn restart_window_zero_needs_no_limit() {
    assert_eq!(
        one_error(&format!("{MINIMAL}restart_window = \"0s\"\n")),
        "w.toml:4:18: restart_window must be longer than 0s when max_restarts is set (max_restarts = 0 means no limit)"
    );
    ok(&format!("{MINIMAL}restart_window = \"0s\"\nmax_restarts = 0\n"));
}

#[test]
fn columns_count_characters() {
    // "é" is two bytes; the column is in characters.
    assert_eq!(
        one_error("[[program]]\nname = \"a\"\ncommand = \"é\"\nargs = [\"é\", 1]\n"),
        "w.toml:4:14: args[1] must be a string, not an integer"
    );
}

// --- load ---

#[test]
fn load_missing_file() {
    let e = load(Path::new("/nonexistent/warden.toml")).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].line, 0);
    assert_eq!(
        e.to_string(),
        "/nonexistent/warden.toml: cannot read config: No such file or directory (os error 2)"
    );
}

#[test]
fn load_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let c = load(&path).unwrap();
    assert_eq!(c.source, path);
    assert_eq!(c.programs[0].name, "web");
}

#[test]
fn errors_display() {
    let e = parse(
        "[logs]\nmax_size = \"x\"\nmax_files = -1\n",
        Path::new("dir/w.toml"),
        &no_env,
    )
    .unwrap_err();
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("dir/w.toml:2:12: invalid size \"x\" for logs.max_size"));
    assert!(lines[1].starts_with("dir/w.toml:3:13: logs.max_files must be"));
}

// --- diff ---

#[test]
fn diff_by_name() {
    let old = ok(&programs(&[
        ("keep", &[]),
        ("change", &[]),
        ("gone", &[]),
        ("rotate", &[]),
    ]));
    let new_text = programs(&[("new", &[]), ("rotate", &[]), ("change", &[]), ("keep", &[])])
        .replace(
            "name = \"change\"\ncommand = \"x\"",
            "name = \"change\"\ncommand = \"x2\"",
        )
        .replace(
            "name = \"rotate\"\ncommand = \"x\"",
            "name = \"rotate\"\ncommand = \"x\"\nlogs = { max_files = 1 }",
        );
    let new = ok(&new_text);
    assert_eq!(
        diff(&old, &new),
        ConfigDiff {
            added: vec!["new".into()],
            changed: vec!["change".into()],
            removed: vec!["gone".into()],
            unchanged: vec!["rotate".into(), "keep".into()],
        }
    );
    // A global [logs] change reaches every program's rotation, and restarts none.
    let relogged = ok(&format!("[logs]\nmax_size = \"1MiB\"\n{}", programs(&[("keep", &[])])));
    let d = diff(&ok(&programs(&[("keep", &[])])), &relogged);
    assert_eq!(d.unchanged, ["keep"]);
    assert!(d.changed.is_empty());
}

#[test]
fn diff_sees_env_and_dependency_changes() {
    let old = ok_with(
        "[[program]]\nname = \"a\"\ncommand = \"x\"\nenv = { K = \"${V}\" }\n",
        &[("V", "1")],
    );
    let same = ok_with(
        "[[program]]\nname = \"a\"\ncommand = \"x\"\nenv = { K = \"${V}\" }\n",
        &[("V", "1")],
    );
    let other = ok_with(
        "[[program]]\nname = \"a\"\ncommand = \"x\"\nenv = { K = \"${V}\" }\n",
        &[("V", "2")],
    );
    assert_eq!(diff(&old, &same).unchanged, ["a"]);
    assert_eq!(diff(&old, &other).changed, ["a"]);
    assert_eq!(diff(&old, &ok("")).removed, ["a"]);
}

#[test]
fn diff_of_a_new_instance_count_touches_only_the_copies() {
    let text = |n: u32, dep: &str| {
        format!(
            "[[program]]\nname = \"mcp\"\ncommand = \"x\"\ninstances = {n}\n\
             [[program]]\nname = \"agent\"\ncommand = \"y\"\ndepends_on = [\"{dep}\"]\n"
        )
    };
    let three = ok(&text(3, "mcp"));
    let one = ok(&text(1, "mcp"));
    assert_eq!(
        diff(&three, &one),
        ConfigDiff {
            added: vec![],
            changed: vec![],
            // Highest index first.
            removed: vec!["mcp-2".into(), "mcp-1".into()],
            unchanged: vec!["mcp-0".into(), "agent".into()],
        }
    );
    assert_eq!(diff(&one, &three).added, ["mcp-1", "mcp-2"]);
    // A dependency on another program is a change.
    let other = ok(&format!(
        "{}[[program]]\nname = \"db\"\ncommand = \"z\"\n",
        text(1, "db")
    ));
    assert_eq!(diff(&one, &other).changed, ["agent"]);
}

// --- summary and example ---

#[test]
fn summary_lines() {
    let c = ok(r#"
[[program]]
name = "db"
command = "postgres"
restart = "on-failure"

[[program]]
name = "mail-watcher"
command = "python3"
args = ["-m", "watchers.mail", "two words"]
env = { SECRET = "hidden-value" }
autostart = false
depends_on = ["db", { name = "api", condition = "healthy" }]

[[program]]
name = "api"
command = "api"
enabled = false
restart = "never"
"#);
    assert_eq!(
        c.summary(),
        "w.toml: ok, 3 programs (2 enabled)\n\
         \x20 NAME          STATE     COMMAND                               RESTART     DEPENDS ON\n\
         \x20 db            auto      postgres                              on-failure  -\n\
         \x20 mail-watcher  manual    python3 -m watchers.mail 'two words'  always      db (running), api (healthy)\n\
         \x20 api           disabled  api                                   never       -"
    );
    assert_eq!(ok("").summary(), "w.toml: ok, 0 programs (0 enabled)");
    assert!(ok(MINIMAL)
        .summary()
        .starts_with("w.toml: ok, 1 program (1 enabled)\n  NAME"));
}

#[test]
fn example_config_is_valid() {
    let c = parse(example(), Path::new("config/warden.toml"), &no_env).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["watcher", "flaky", "worker", "api", "reports"]);
    assert!(
        !c.program("reports").unwrap().enabled,
        "reports is off unless FEATURE_REPORTS is set"
    );
    let on = parse(example(), Path::new("config/warden.toml"), &|n| {
        (n == "FEATURE_REPORTS").then(|| "true".into())
    })
    .unwrap();
    assert!(on.program("reports").unwrap().enabled);
    // Every script it runs exists (paths are relative to the repository root).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for p in c.programs.iter().filter(|p| p.command == "python3") {
        assert!(
            root.join(&p.args[0]).is_file(),
            "{} runs a missing script {}",
            p.name,
            p.args[0]
        );
    }
}

// ---- health: probes, ports, checks, system, metrics --------------------------------

#[test]
fn health_defaults() {
    let c = ok(MINIMAL);
    assert_eq!(
        c.ports,
        PortRange {
            first: 9100,
            last: 9199
        }
    );
    assert_eq!(c.system.interval, Duration::from_secs(10));
    assert_eq!(
        c.system.disk,
        Thresholds {
            warning: 0.8,
            critical: 0.9
        }
    );
    assert!(c.checks.is_empty());
    assert!(c.metrics.event_kinds.contains(&"email_processed".to_string()));
    let web = &c.programs[0];
    assert_eq!(web.port, None);
    assert_eq!(web.probe, None);
    assert!(web.required, "an enabled, autostarted program is required by default");
}

#[test]
fn a_full_health_section_is_read() {
    let c = ok_with(
        r#"
[ports]
range = "9300-9301"

[system]
interval = "5s"
cpu = { warning = 70, critical = 90.5 }
mounts = ["/", "/data"]

[metrics]
event_kinds = ["email_processed", "briefing_sent"]

[[check]]
name = "db"
type = "postgres"
required = false
timeout = "1s"

[[check]]
name = "cache"
type = "redis"
url = "redis://127.0.0.1:6379"

[[program]]
name = "mcp"
command = "python3"
port = "auto"
depends_on = [{ name = "db", condition = "healthy" }]
probe = { type = "mcp", interval = "5s", failure_threshold = 2, action = "alert" }

[[program]]
name = "web"
command = "web"
port = 8080
required = false
[program.probe]
type = "http"
path = "/healthz"
status = "200-204"
headers = { Authorization = "Bearer ${TOKEN}" }
"#,
        &[("DATABASE_URL", "postgres://u:pw@db/app"), ("TOKEN", "t0k")],
    );
    assert_eq!(
        c.ports,
        PortRange {
            first: 9300,
            last: 9301
        }
    );
    assert_eq!(
        c.system.cpu,
        Thresholds {
            warning: 0.7,
            critical: 0.905
        }
    );
    assert_eq!(c.system.mounts, [Path::new("/"), Path::new("/data")]);
    assert_eq!(c.metrics.event_kinds, ["email_processed", "briefing_sent"]);
    assert_eq!(c.checks.len(), 2);
    assert_eq!(c.checks[0].url.expose(), "postgres://u:pw@db/app", "from $DATABASE_URL");
    assert!(!c.checks[0].required);
    assert_eq!(c.checks[0].timeout, Duration::from_secs(1));
    assert_eq!(c.checks[1].kind, CheckKind::Redis);
    let mcp = &c.programs[0];
    assert_eq!(mcp.port, Some(PortSpec::Auto));
    let probe = mcp.probe.as_ref().unwrap();
    assert_eq!(
        probe.kind,
        ProbeKind::Mcp {
            host: "127.0.0.1".into(),
            port: ProbePort::Program,
            path: "/mcp".into()
        }
    );
    assert_eq!((probe.failure_threshold, probe.action), (2, ProbeAction::Alert));
    let web = &c.programs[1];
    assert!(!web.required);
    match &web.probe.as_ref().unwrap().kind {
        ProbeKind::Http {
            path, status, headers, ..
        } => {
            assert_eq!(path, "/healthz");
            assert_eq!(*status, StatusRange { first: 200, last: 204 });
            assert_eq!(headers[0].0, "Authorization");
            assert_eq!(headers[0].1.expose(), "Bearer t0k");
        }
        other => panic!("not http: {other:?}"),
    }
}

#[test]
fn probe_mistakes_are_reported_with_their_place() {
    let text = r#"[[program]]
name = "a"
command = "a"
probe = { type = "grpc" }

[[program]]
name = "b"
command = "b"
probe = { type = "http" }

[[program]]
name = "c"
command = "c"
port = 9000
probe = { type = "exec", path = "/x", status = 99, failure_threshold = 0 }

[[program]]
name = "d"
command = "d"
port = 9001
probe = { type = "http", status = "300-200", path = "health", timeout = "0s" }
"#;
    assert_eq!(
        errors(text),
        [
            "w.toml:4:18: invalid probe type \"grpc\": use \"tcp\", \"http\", \"exec\" or \"mcp\"",
            "w.toml:9:9: a probe of type \"http\" needs a port: set probe.port, or the program's `port` (a number or \"auto\")",
            "w.toml:15:9: a probe of type \"exec\" needs `command`",
            "w.toml:15:33: probe key `path` does not apply to type \"exec\"",
            "w.toml:15:48: probe key `status` does not apply to type \"exec\"",
            "w.toml:15:72: probe failure_threshold must be at least 1",
            "w.toml:21:35: invalid probe status \"300-200\": use a status like 200, or a range like \"200-299\"",
            "w.toml:21:53: probe path \"health\" must start with /",
            "w.toml:21:73: probe timeout must be longer than 0s",
        ]
    );
}

#[test]
fn ports_are_claimed_once_and_auto_ones_must_fit() {
    let text = r#"[ports]
range = "9100-9101"

[[program]]
name = "a"
command = "a"
port = 9100

[[program]]
name = "b"
command = "b"
port = 9100

[[program]]
name = "c"
command = "c"
port = "auto"

[[program]]
name = "d"
command = "d"
port = "auto"

[[program]]
name = "e"
command = "e"
port = "eighty"
"#;
    assert_eq!(
        errors(text),
        [
            "w.toml:12:8: port 9100 is already claimed by program \"a\"",
            "w.toml:22:8: no port left for program \"d\": [ports] range 9100-9101 has 1 free ports for 2 \"auto\" programs",
            "w.toml:27:8: invalid port \"eighty\": use a number from 1 to 65535, or \"auto\" for one from [ports] range",
        ]
    );
    assert_eq!(
        one_error("[ports]\nrange = \"9200-9100\"\n"),
        "w.toml:2:9: invalid ports.range \"9200-9100\": write FIRST-LAST with 1 <= FIRST <= LAST <= 65535, like \"9100-9199\""
    );
}

#[test]
fn check_mistakes_never_show_the_url() {
    let text = r#"[[check]]
name = "db"
type = "mysql"

[[check]]
name = "db2"
type = "postgres"
url = "mysql://root:hunter2@x/db"

[[check]]
name = "cache"
type = "redis"

[[check]]
name = "cache"
type = "redis"
url = "redis://x"

[[program]]
name = "web"
command = "web"
depends_on = ["dbb"]
"#;
    let errs = errors(text);
    assert_eq!(
        errs,
        [
            "w.toml:1:1: [[check]] \"db\" has no `url` and $DATABASE_URL is not set",
            "w.toml:3:8: invalid value \"mysql\" for check type: use postgres or redis",
            "w.toml:8:7: postgres check url must start with postgres:// or postgresql://",
            "w.toml:10:1: [[check]] \"cache\" has no `url` and $REDIS_URL is not set",
            "w.toml:15:8: duplicate check name \"cache\"",
            "w.toml:22:15: depends_on: no program or check named \"dbb\" (did you mean \"db\"?)",
        ]
    );
    assert!(errs.iter().all(|e| !e.contains("hunter2")));
}

#[test]
fn a_program_may_depend_on_a_check_but_not_share_its_name() {
    let c = ok_with(
        "[[check]]\nname = \"db\"\ntype = \"postgres\"\n\n[[program]]\nname = \"web\"\ncommand = \"w\"\ndepends_on = [\"db\"]\n",
        &[("DATABASE_URL", "postgres://x")],
    );
    assert_eq!(c.programs[0].depends_on[0].name, "db");
    assert_eq!(
        errors_with(
            "[[check]]\nname = \"db\"\ntype = \"postgres\"\n\n[[program]]\nname = \"db\"\ncommand = \"w\"\n",
            &[("DATABASE_URL", "postgres://x")],
        ),
        ["w.toml:6:8: program name \"db\" is also the name of a [[check]]: names must be distinct"]
    );
}

#[test]
fn system_and_metrics_mistakes() {
    let text = r#"[system]
interval = "100ms"
cpu = { warning = 95, critical = 90 }
disk = { warning = 0, critical = "90" }
mounts = ["data"]

[metrics]
event_kinds = ["Emails", "ok", "ok"]
"#;
    assert_eq!(
        errors(text),
        [
            "w.toml:2:12: system.interval must be at least 1s (CPU usage is averaged over it), not 100ms",
            "w.toml:3:19: system.cpu.warning (95%) is above system.cpu.critical (90%)",
            "w.toml:4:20: system.disk.warning must be a percentage above 0 and at most 100, not 0",
            "w.toml:4:34: system.disk.critical must be a percentage above 0 and at most 100, not \"90\"",
            "w.toml:5:11: system.mounts entry \"data\" must be an absolute mount point, like \"/\" or \"/data\"",
            "w.toml:8:16: invalid event kind \"Emails\": use a-z, 0-9 and _ (at most 63 characters)",
            "w.toml:8:32: event kind \"ok\" is listed twice",
        ]
    );
}

#[test]
fn a_probe_or_required_change_does_not_restart_the_program() {
    let before = ok("[[program]]\nname = \"web\"\ncommand = \"w\"\nport = 9000\n");
    let after =
        ok("[[program]]\nname = \"web\"\ncommand = \"w\"\nport = 9000\nrequired = false\nprobe = { type = \"tcp\" }\n");
    let d = diff(&before, &after);
    assert_eq!(d.unchanged, ["web"]);
    let moved = ok("[[program]]\nname = \"web\"\ncommand = \"w\"\nport = 9001\n");
    assert_eq!(diff(&before, &moved).changed, ["web"]);
}

// ---- [server]: tokens, public endpoints, TLS, rate limit, production guard ----

const TOKEN: &str = "0123456789abcdef0123";

#[test]
fn server_defaults_public_probes_rate_limit_and_no_token() {
    let c = ok("");
    assert!(c.server.tokens.is_empty());
    assert!(c.server.token_file.is_none() && c.server.read_only_tokens.is_empty());
    assert!(c.server.read_only_token_file.is_none());
    assert_eq!(c.server.public, PublicEndpoint::DEFAULT.to_vec());
    assert_eq!(
        c.server.rate_limit,
        Some(RateLimit {
            per_second: 20,
            burst: 100
        })
    );
    assert_eq!(c.server.request_timeout, Duration::from_secs(30));
    assert_eq!(c.server.tls, None);
}

#[test]
fn token_comes_from_the_file_or_else_from_warden_api_token() {
    let c = ok_with("", &[("WARDEN_API_TOKEN", TOKEN)]);
    assert_eq!(c.server.tokens, vec![Secret::new(TOKEN)]);
    // Tokens named in the file replace the variable.
    let c = ok_with(
        "[server]\ntokens = [\"${OPS}\"]\nread_only_tokens = [\"${RO}\"]\n",
        &[
            ("WARDEN_API_TOKEN", TOKEN),
            ("OPS", "ops-token-0123456789"),
            ("RO", "read-token-0123456789"),
        ],
    );
    assert_eq!(c.server.tokens, vec![Secret::new("ops-token-0123456789")]);
    assert_eq!(c.server.read_only_tokens, vec![Secret::new("read-token-0123456789")]);
    let c = ok_with(
        "[server]\ntoken_file = \"/run/secrets/t\"\n",
        &[("WARDEN_API_TOKEN", TOKEN)],
    );
    assert!(c.server.tokens.is_empty());
    assert_eq!(c.server.token_file.as_deref(), Some(Path::new("/run/secrets/t")));
}

#[test]
fn short_tokens_are_refused_without_showing_them() {
    let e = one_error("[server]\ntokens = [\"hunter2\"]\n");
    assert_eq!(
        e,
        "w.toml:2:11: server.tokens entry #1 is shorter than 16 characters: use a long random value, e.g. `openssl rand -hex 32`"
    );
    assert!(!e.contains("hunter2"));
    let e = errors_with("", &[("WARDEN_API_TOKEN", "hunter2")]);
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("$WARDEN_API_TOKEN is shorter than 16"), "{e:?}");
    assert!(!e[0].contains("hunter2"));
}

#[test]
fn server_bad_values_say_what_is_valid() {
    assert_eq!(
        one_error("[server]\npublic = [\"live\", \"status\"]\n"),
        "w.toml:2:19: invalid value \"status\" in server.public: use live, ready, health, metrics or dashboard"
    );
    assert_eq!(
        one_error("[server.tls]\ncert = \"c.pem\"\n"),
        "w.toml:2:8: [server.tls] needs both `cert` and `key` (PEM files)"
    );
    assert_eq!(
        one_error("[server]\nrequest_timeout = \"0s\"\n"),
        "w.toml:2:19: server.request_timeout must be longer than 0s"
    );
    assert_eq!(
        one_error("[server]\nsecret_env = [\"MY VAR\"]\n"),
        "w.toml:2:15: \"MY VAR\" is not an environment variable name (letters, digits and _)"
    );
    assert_eq!(
        one_error("[server]\nrate_limit = { per_second = 5, bursts = 3 }\n"),
        "w.toml:2:32: unknown key `bursts` in server.rate_limit: did you mean `burst`? (known keys: per_second, burst)"
    );
    let c = ok("[server]\nrate_limit = { per_second = 0 }\npublic = []\n");
    assert_eq!(c.server.rate_limit, None);
    assert!(c.server.public.is_empty());
}

#[test]
fn production_needs_a_token_and_tls_or_a_proxy() {
    let prod = [("ENVIRONMENT", "production")];
    let e = errors_with("[server]\nlisten = \"0.0.0.0:8080\"\n", &prod);
    assert_eq!(
        e,
        [
            "w.toml:2:10: ENVIRONMENT=production: warden refuses to start without an API token; set [server] tokens or token_file, or $WARDEN_API_TOKEN",
            "w.toml:2:10: ENVIRONMENT=production: warden refuses to serve its API without TLS; set [server.tls] cert and key, or behind_tls_proxy = true when a proxy in front terminates TLS",
        ]
    );
    let e = errors_with("", &[("ENVIRONMENT", "production"), ("WARDEN_API_TOKEN", TOKEN)]);
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("without TLS"), "{e:?}");
    ok_with(
        "[server]\nbehind_tls_proxy = true\n",
        &[("ENVIRONMENT", "production"), ("WARDEN_API_TOKEN", TOKEN)],
    );
    ok_with(
        "[server.tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
        &[("ENVIRONMENT", "production"), ("WARDEN_API_TOKEN", TOKEN)],
    );
    // Elsewhere nothing is demanded.
    ok_with("", &[("ENVIRONMENT", "staging")]);
}

#[test]
fn secret_names_by_suffix_or_list() {
    for name in [
        "ANTHROPIC_API_KEY",
        "SLACK_TOKEN",
        "DB_PASSWORD",
        "SECRET",
        "app_secret",
    ] {
        assert!(is_secret_name(name, &[]), "{name}");
    }
    for name in ["PATH", "KEYBOARD", "TOKENIZER_MODEL", "PORT"] {
        assert!(!is_secret_name(name, &[]), "{name}");
    }
    assert!(is_secret_name("MY_CREDS", &["MY_CREDS".to_string()]));
}

#[test]
fn store_defaults_and_values() {
    let c = ok("");
    assert_eq!(
        c.store,
        StoreConfig {
            url: None,
            retention: Duration::from_secs(30 * 86_400),
            retention_events: 100_000,
        }
    );
    let c = ok_with(
        "[store]\nurl = \"postgres://warden:${DB_PASSWORD}@db:5432/warden\"\nretention_days = 1\nretention_events = 100\n",
        &[("DB_PASSWORD", "hunter2")],
    );
    assert_eq!(
        c.store.url.as_ref().map(Secret::expose),
        Some("postgres://warden:hunter2@db:5432/warden")
    );
    assert_eq!(c.store.retention, Duration::from_secs(86_400));
    assert_eq!(c.store.retention_events, 100);
    assert!(!format!("{c:?}").contains("hunter2"));
    for url in [
        "sqlite:///var/lib/warden/w.db",
        "sqlite://w.db",
        "postgresql://u@h/db",
        "POSTGRES://u@h/db",
    ] {
        assert!(ok(&format!("[store]\nurl = \"{url}\"\n")).store.url.is_some(), "{url}");
    }
}

#[test]
fn store_errors() {
    assert_eq!(
        one_error("[store]\nurl = \"mysql://u:hunter2@h/db\"\n"),
        "w.toml:2:7: invalid store.url: use sqlite://PATH, postgres://... or postgresql://... (leave it out for the SQLite file supervisor.data_dir/warden.db)"
    );
    let e = one_error("[store]\nurl = \"sqlite://\"\n");
    assert!(
        e.starts_with("w.toml:2:7: store.url has nothing after sqlite://"),
        "{e}"
    );
    // The value of a bad url, even from a variable, is never shown.
    let e = errors_with("[store]\nurl = \"${DB_URL}\"\n", &[("DB_URL", "redis://:hunter2@h")]);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("w.toml:2:7: invalid store.url"), "{e:?}");
    assert!(!e[0].contains("hunter2"), "{e:?}");
    assert_eq!(
        one_error("[store]\nurl = 5\n"),
        "w.toml:2:7: store.url must be a string, not an integer"
    );
    assert_eq!(
        errors("[store]\nretention_days = 0\nretention_events = 99\n"),
        [
            "w.toml:2:18: store.retention_days must be a whole number from 1 to 1099511627776, not 0",
            "w.toml:3:20: store.retention_events must be a whole number from 100 to 1099511627776, not 99",
        ]
    );
    assert_eq!(
        one_error("[store]\nretention_days = \"30d\"\n"),
        "w.toml:2:18: store.retention_days must be a whole number from 1 to 1099511627776, not \"30d\""
    );
    let e = one_error("[store]\nretension_days = 3\n");
    assert!(
        e.starts_with("w.toml:2:1: unknown key `retension_days` in [store]: did you mean `retention_days`?"),
        "{e}"
    );
}

#[test]
fn alerts_defaults_and_channels() {
    let a = ok("").alerts;
    assert_eq!(a.group_wait, Duration::from_secs(30));
    assert_eq!(a.group_interval, Duration::from_secs(300));
    assert_eq!(a.repeat_interval, Duration::from_secs(4 * 3600));
    assert_eq!(
        (a.retry_initial, a.retry_max),
        (Duration::from_secs(5), Duration::from_secs(300))
    );
    assert_eq!(a.stderr_lines, 20);
    assert_eq!((a.email, a.slack), (None, None));

    let c = ok_with(
        "[alerts]\ngroup_wait = \"1s\"\n[alerts.email]\nhost = \"smtp.example.com\"\nsecurity = \"tls\"\n\
         username = \"me\"\npassword = \"${SMTP_PASSWORD}\"\nfrom = \"Warden <w@example.com>\"\n\
         to = [\"a@example.com\", \"b@example.com\"]\nmin_severity = \"error\"\n\
         [alerts.slack]\nmin_severity = \"critical\"\ntimeout = \"3s\"\n",
        &[
            ("SMTP_PASSWORD", "hunter2"),
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x"),
        ],
    );
    assert_eq!(c.alerts.group_wait, Duration::from_secs(1));
    let e = c.alerts.email.as_ref().unwrap();
    assert_eq!(
        (e.host.as_str(), e.port, e.security),
        ("smtp.example.com", 465, SmtpSecurity::Tls)
    );
    assert_eq!(e.password.as_ref().map(Secret::expose), Some("hunter2"));
    assert_eq!(e.to, ["a@example.com", "b@example.com"]);
    assert_eq!(e.min_severity, Severity::Error);
    let s = c.alerts.slack.as_ref().unwrap();
    assert_eq!(s.webhook_url.expose(), "https://hooks.slack.com/services/T/B/x");
    assert_eq!(
        (s.min_severity, s.timeout),
        (Severity::Critical, Duration::from_secs(3))
    );
    assert!(!format!("{c:?}").contains("hunter2"));
    assert!(!format!("{c:?}").contains("hooks.slack.com"));

    // Everything from the environment: an empty table is a channel.
    let c = ok_with(
        "[alerts.email]\n",
        &[
            ("SMTP_HOST", "mail"),
            ("SMTP_PORT", "2525"),
            ("SMTP_FROM", "w@example.com"),
            ("SMTP_TO", "a@example.com, b@example.com"),
        ],
    );
    let e = c.alerts.email.unwrap();
    assert_eq!(
        (e.host.as_str(), e.port, e.security),
        ("mail", 2525, SmtpSecurity::StartTls)
    );
    assert_eq!(e.to, ["a@example.com", "b@example.com"]);
    assert_eq!((e.username, e.password), (None, None));
}

#[test]
fn alerts_errors() {
    assert_eq!(
        errors("[alerts.email]\n[alerts.slack]\n"),
        [
            "w.toml:1:1: [alerts.email] needs host (the SMTP server): set it here or in the environment variable SMTP_HOST",
            "w.toml:1:1: [alerts.email] needs from (the sender's address): set it here or in the environment variable SMTP_FROM",
            "w.toml:1:1: [alerts.email] needs to (the recipients): set to = [\"you@example.com\"] or the environment variable SMTP_TO",
            "w.toml:2:1: [alerts.slack] needs webhook_url: set it here or in the environment variable SLACK_WEBHOOK_URL",
        ]
    );
    assert_eq!(
        errors(
            "[alerts]\ngroup_wait = \"soon\"\nretry_initial = \"0s\"\nstderr_lines = 1000\n\
             [alerts.email]\nhost = \"h\"\nfrom = \"nobody\"\nto = [\"x@y\"]\nsecurity = \"ssl\"\nport = 70000\n\
             username = \"u\"\nmin_severity = \"fatal\"\n"
        ),
        [
            "w.toml:2:14: invalid duration \"soon\" for alerts.group_wait: expected number at 0; write a number with a unit, like \"10s\", \"250ms\", \"5m\" or \"1h\"",
            "w.toml:3:17: alerts.retry_initial must be longer than 0s",
            "w.toml:4:16: alerts.stderr_lines must be at most 200, not 1000",
            "w.toml:5:1: [alerts.email] has a username but no password: set password or SMTP_PASSWORD",
            "w.toml:7:8: alerts.email.from: \"nobody\" is not an email address (write user@example.com or Name <user@example.com>)",
            "w.toml:9:12: invalid value \"ssl\" for alerts.email.security: use starttls, tls or none",
            "w.toml:10:8: alerts.email.port must be a port number from 1 to 65535, not 70000",
            "w.toml:12:16: invalid value \"fatal\" for alerts.email.min_severity: use info, warning, error or critical",
        ]
    );
    // A bad webhook URL is named, never quoted.
    let e = one_error("[alerts.slack]\nwebhook_url = \"hooks.slack.com/services/T/B/secret\"\n");
    assert!(
        e.starts_with("w.toml:2:15: alerts.slack.webhook_url must be an http:// or https:// URL"),
        "{e}"
    );
    assert!(!e.contains("secret"), "{e}");
    let e = one_error("[alerts.slack]\nwebhok_url = \"x\"\nwebhook_url = \"https://h/x\"\n");
    assert!(
        e.starts_with("w.toml:2:1: unknown key `webhok_url` in [alerts.slack]: did you mean `webhook_url`?"),
        "{e}"
    );
}

#[test]
fn probe_alert_severity() {
    let probe = |extra: &str| {
        format!("[[program]]\nname = \"web\"\ncommand = \"x\"\nprobe = {{ type = \"tcp\", port = 80{extra} }}\n")
    };
    let c = ok(&probe(""));
    assert_eq!(c.programs[0].probe.as_ref().unwrap().severity, Severity::Warning);
    let c = ok(&probe(", severity = \"critical\""));
    assert_eq!(c.programs[0].probe.as_ref().unwrap().severity, Severity::Critical);
    assert_eq!(
        one_error(&probe(", severity = \"urgent\"")),
        "w.toml:4:47: invalid value \"urgent\" for probe severity: use info, warning, error or critical"
    );
}

#[test]
fn instances_become_numbered_programs() {
    let c = ok(
        "[[program]]\nname = \"mcp-files\"\ncommand = \"x\"\ninstances = 3\nport = \"auto\"\n\
                [[program]]\nname = \"agent\"\ncommand = \"y\"\ndepends_on = [\"mcp-files\"]\n",
    );
    let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["mcp-files-0", "mcp-files-1", "mcp-files-2", "agent"]);
    for (i, p) in c.programs[..3].iter().enumerate() {
        assert_eq!(p.env["INSTANCE"].expose(), i.to_string());
        assert_eq!(
            p.instance,
            Some(Instance {
                of: "mcp-files".into(),
                index: i as u32
            })
        );
        assert_eq!(p.port, Some(PortSpec::Auto));
    }
    // Depending on a scaled program is depending on every copy.
    let deps: Vec<&str> = c.programs[3].depends_on.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deps, ["mcp-files-0", "mcp-files-1", "mcp-files-2"]);
    // `instances = 1` names the one copy `-0` too, so scaling never renames it.
    assert_eq!(
        ok("[[program]]\nname = \"w\"\ncommand = \"x\"\ninstances = 1\n").programs[0].name,
        "w-0"
    );
    assert_eq!(ok(MINIMAL).programs[0].instance, None);
}

#[test]
fn instances_errors() {
    assert_eq!(
        one_error("[[program]]\nname = \"w\"\ncommand = \"x\"\ninstances = 0\n"),
        "w.toml:4:13: instances must be a whole number from 1 to 100, not 0"
    );
    assert_eq!(
        one_error("[[program]]\nname = \"w\"\ncommand = \"x\"\ninstances = 1000\n"),
        "w.toml:4:13: instances must be a whole number from 1 to 100, not 1000"
    );
    assert_eq!(
        one_error("[[program]]\nname = \"w\"\ncommand = \"x\"\ninstances = \"3\"\n"),
        "w.toml:4:13: instances must be a whole number from 1 to 100, not \"3\""
    );
    assert_eq!(
        one_error("[[program]]\nname = \"w\"\ncommand = \"x\"\ninstances = 2\nport = 9000\n"),
        "w.toml:5:8: 2 instances cannot share the fixed port 9000: use port = \"auto\" (each instance gets its own PORT)"
    );
    assert_eq!(
        one_error(
            "[[program]]\nname = \"w\"\ncommand = \"x\"\ninstances = 2\n[[program]]\nname = \"w-1\"\ncommand = \"y\"\n"
        ),
        "w.toml:4:13: instance name \"w-1\" is also the name of another program: rename one of them"
    );
    let e = one_error(
        "[ports]\nrange = \"9100-9101\"\n[[program]]\nname = \"w\"\ncommand = \"x\"\ninstances = 3\nport = \"auto\"\n",
    );
    assert!(e.starts_with("w.toml:7:8: no port left for program \"w\""), "{e}");
}

#[test]
fn scaling_keeps_existing_copies_and_updates_dependents() {
    let text = |n: u32| {
        format!(
            "[[program]]\nname = \"mcp\"\ncommand = \"x\"\ninstances = {n}\nport = \"auto\"\n\
             [[program]]\nname = \"agent\"\ncommand = \"y\"\ndepends_on = [\"mcp\", \"db\"]\n\
             [[program]]\nname = \"db\"\ncommand = \"z\"\n"
        )
    };
    let one = ok(&text(1));
    let three = scaled(&one, "mcp", 3).unwrap();
    // As if the file said 3, and nothing but the copies changes.
    assert_eq!(three, ok(&text(3)));
    assert!(Arc::ptr_eq(&one.programs[0], &three.programs[0]), "mcp-0 kept as it is");
    let d = diff(&one, &three);
    assert_eq!(
        (d.added, d.changed),
        (vec!["mcp-1".to_owned(), "mcp-2".to_owned()], vec![])
    );
    assert_eq!(scaled(&three, "mcp", 1).unwrap(), one);

    for (name, n, error) in [
        ("nope", 2, ScaleError::NotFound("no program named \"nope\"".into())),
        (
            "db",
            2,
            ScaleError::Refused(
                "db is not a scaled program: give its [[program]] an `instances` key to scale it".into(),
            ),
        ),
        (
            "mcp-0",
            2,
            ScaleError::Refused("mcp-0 is a copy of mcp: scale mcp instead".into()),
        ),
        (
            "mcp",
            0,
            ScaleError::Refused("instances must be from 1 to 100, not 0".into()),
        ),
        (
            "mcp",
            101,
            ScaleError::Refused("instances must be from 1 to 100, not 101".into()),
        ),
    ] {
        assert_eq!(scaled(&one, name, n), Err(error), "{name} {n}");
    }
    let fixed = ok("[[program]]\nname = \"web\"\ncommand = \"x\"\ninstances = 1\nport = 8080\n");
    assert_eq!(
        scaled(&fixed, "web", 2),
        Err(ScaleError::Refused(
            "2 instances cannot share the fixed port 8080: give web port = \"auto\" to scale it".into()
        ))
    );
    let clash = ok(&format!("{}[[program]]\nname = \"mcp-2\"\ncommand = \"w\"\n", text(1)));
    assert_eq!(
        scaled(&clash, "mcp", 3),
        Err(ScaleError::Refused(
            "mcp-2 would be a copy of mcp, but a program of that name exists".into()
        ))
    );
}

// ---- scheduled programs (jobs) ---------------------------------------------------------

/// A job: `schedule` is on line 4 (its value at column 12); more keys follow from line 5.
const JOB: &str = "[[program]]\nname = \"backup\"\ncommand = \"x\"\nschedule = \"0 2 * * *\"\n";

#[test]
fn job_defaults() {
    let c = ok(JOB);
    let p = &c.programs[0];
    assert_eq!(
        p.job,
        Some(JobSpec {
            schedule: Schedule::parse("0 2 * * *").unwrap(),
            zone: Zone::local(),
            overlap: Overlap::Skip,
            timeout: None,
            missed: Missed::Skip,
        })
    );
    // Started at its due times, not with warden; so not required by default.
    assert!(p.enabled);
    assert!(!p.autostart);
    assert!(!p.required);
    // max_retries = 0: a failed run waits for the next due time.
    assert_eq!(p.restart, RestartPolicy::Never);
    assert_eq!(p.max_restarts, 0);
    // The rest is a program's.
    assert_eq!(p.backoff, ok(MINIMAL).programs[0].backoff);
    assert_eq!(ok(MINIMAL).programs[0].job, None);
}

#[test]
fn job_every_key() {
    let c = ok(r#"
[[program]]
name = "mail-watcher"
command = "python3"
schedule = "*/5 * * * *"
overlap = "queue"
max_retries = 2

[[program]]
name = "briefing"
command = "python3"
schedule = "0 7 * * *"
timezone = "Europe/Berlin"
overlap = "replace"
max_retries = 3
restart = "on-failure"
autostart = false
required = true

[[program]]
name = "backup"
command = "backup"
schedule = "0 2 * * *"
timezone = "utc"
timeout = "30m"
missed = "run_once"
max_retries = 0
restart = "never"
enabled = false

[[program]]
name = "poller"
command = "poll"
schedule = "@every 90s"
overlap = "skip"
missed = "skip"
"#);
    let job = |name: &str| c.program(name).unwrap().job.clone().unwrap();

    let p = c.program("mail-watcher").unwrap();
    assert_eq!(job("mail-watcher").overlap, Overlap::Queue);
    assert_eq!((p.restart, p.max_restarts), (RestartPolicy::OnFailure, 2));
    assert!(!p.autostart && !p.required);

    let p = c.program("briefing").unwrap();
    assert_eq!(
        job("briefing"),
        JobSpec {
            schedule: Schedule::parse("0 7 * * *").unwrap(),
            zone: Zone::named("Europe/Berlin").unwrap(),
            overlap: Overlap::Replace,
            timeout: None,
            missed: Missed::Skip,
        }
    );
    assert_eq!(job("briefing").zone.name(), "Europe/Berlin");
    assert_eq!((p.restart, p.max_restarts), (RestartPolicy::OnFailure, 3));
    assert!(!p.autostart);
    assert!(p.required, "required = true is kept");

    let p = c.program("backup").unwrap();
    let backup = job("backup");
    assert_eq!(backup.zone.name(), "UTC", "the zone's own spelling");
    assert_eq!(backup.timeout, Some(Duration::from_secs(30 * 60)));
    assert_eq!(backup.missed, Missed::RunOnce);
    assert_eq!((p.restart, p.max_restarts), (RestartPolicy::Never, 0));
    assert!(!p.enabled && !p.autostart && !p.required);

    let poller = job("poller");
    assert!(poller.schedule.is_every());
    assert_eq!(poller.schedule.as_str(), "@every 90s");
    assert_eq!((poller.overlap, poller.missed), (Overlap::Skip, Missed::Skip));
    assert_eq!(poller.zone, Zone::local());
}

#[test]
fn job_keys_need_a_schedule() {
    let text = format!(
        "{MINIMAL}timezone = \"Europe/Berlin\"\noverlap = \"queue\"\ntimeout = \"1m\"\nmissed = \"run_once\"\nmax_retries = 3\n"
    );
    assert_eq!(
        errors(&text),
        [
            "w.toml:4:12: timezone is only for a scheduled program: add schedule = \"...\"",
            "w.toml:5:11: overlap is only for a scheduled program: add schedule = \"...\"",
            "w.toml:6:11: timeout is only for a scheduled program: add schedule = \"...\"",
            "w.toml:7:10: missed is only for a scheduled program: add schedule = \"...\"",
            "w.toml:8:15: max_retries is only for a scheduled program: add schedule = \"...\"",
        ]
    );
    // Only that: the value itself is not looked at.
    assert_eq!(
        one_error(&format!("{MINIMAL}overlap = \"sometimes\"\n")),
        "w.toml:4:11: overlap is only for a scheduled program: add schedule = \"...\""
    );
}

#[test]
fn bad_schedules_say_what_is_wrong() {
    let schedule = |value: &str| {
        one_error(&format!(
            "[[program]]\nname = \"j\"\ncommand = \"x\"\nschedule = {value}\n"
        ))
    };
    assert_eq!(
        schedule("\"61 * * * *\""),
        "w.toml:4:12: invalid schedule \"61 * * * *\": minute field \"61\": values are 0-59"
    );
    assert_eq!(
        schedule("\"@every 0s\""),
        "w.toml:4:12: @every 0s: the interval must be at least 1s"
    );
    assert_eq!(
        schedule("\"@fortnightly\""),
        "w.toml:4:12: unknown macro \"@fortnightly\": use @hourly, @daily, @weekly, @monthly, @yearly or @every 5m"
    );
    assert_eq!(
        schedule("\"@daily 7\""),
        "w.toml:4:12: invalid schedule \"@daily 7\": @daily takes nothing after it, got \"7\""
    );
    assert_eq!(
        schedule("\"0 0 30 2 *\""),
        "w.toml:4:12: invalid schedule \"0 0 30 2 *\": this schedule never runs: day-of-month \"30\" never occurs in February (it has at most 29 days)"
    );
    assert_eq!(
        schedule("\"0 * * * * *\""),
        "w.toml:4:12: invalid schedule \"0 * * * * *\": expected 5 fields (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly/@yearly/@every DURATION, got 6 (there is no seconds field; for less than a minute use @every 30s)"
    );
    assert_eq!(
        schedule("\" \""),
        "w.toml:4:12: the schedule is empty: expected 5 fields (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly/@yearly/@every DURATION, like \"*/5 * * * *\""
    );
    assert_eq!(schedule("5"), "w.toml:4:12: schedule must be a string, not an integer");
}

#[test]
fn bad_job_values() {
    assert_eq!(
        one_error(&format!("{JOB}timezone = \"Europe/Berln\"\n")),
        "w.toml:5:12: unknown time zone \"Europe/Berln\": use an IANA name like \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
    );
    assert_eq!(
        one_error(&format!("{JOB}timezone = 1\n")),
        "w.toml:5:12: timezone must be a string, not an integer"
    );
    assert_eq!(
        one_error("[[program]]\nname = \"j\"\ncommand = \"x\"\nschedule = \"@every 5m\"\ntimezone = \"UTC\"\n"),
        "w.toml:5:12: timezone does not apply to an @every schedule (it counts from the previous run, not by the clock): leave timezone out"
    );
    assert_eq!(
        one_error(&format!("{JOB}overlap = \"parallel\"\n")),
        "w.toml:5:11: invalid value \"parallel\" for overlap: use skip, queue or replace"
    );
    assert_eq!(
        one_error(&format!("{JOB}missed = \"run-once\"\n")),
        "w.toml:5:10: invalid value \"run-once\" for missed: use skip or run_once"
    );
    assert_eq!(
        one_error(&format!("{JOB}timeout = \"0s\"\n")),
        "w.toml:5:11: timeout must be longer than 0s (leave it out for no limit)"
    );
    assert_eq!(
        one_error(&format!("{JOB}timeout = 60\n")),
        "w.toml:5:11: invalid duration 60 for timeout: write a string with a unit, like \"10s\", \"250ms\" or \"5m\""
    );
    for (value, shown) in [("101", "101"), ("-1", "-1"), ("\"3\"", "\"3\"")] {
        assert_eq!(
            one_error(&format!("{JOB}max_retries = {value}\n")),
            format!("w.toml:5:15: max_retries must be a whole number from 0 to 100, not {shown}")
        );
    }
    // An invalid max_retries does not also make restart = "on-failure" wrong.
    assert_eq!(
        errors(&format!("{JOB}max_retries = 1000\nrestart = \"on-failure\"\n")),
        ["w.toml:5:15: max_retries must be a whole number from 0 to 100, not 1000"]
    );
    // Nor does an invalid restart say more than that.
    assert_eq!(
        one_error(&format!("{JOB}restart = \"alway\"\n")),
        "w.toml:5:11: invalid value \"alway\" for restart: use always, on-failure or never"
    );
}

#[test]
fn keys_a_job_cannot_have() {
    assert_eq!(
        one_error(&format!("{JOB}restart = \"always\"\n")),
        "w.toml:5:11: a scheduled program is not restarted when it exits 0: use restart = \"on-failure\" (to retry failures up to max_retries) or leave restart out"
    );
    assert_eq!(
        one_error(&format!("{JOB}max_retries = 2\nrestart = \"always\"\n")),
        "w.toml:6:11: a scheduled program is not restarted when it exits 0: use restart = \"on-failure\" (to retry failures up to max_retries) or leave restart out"
    );
    assert_eq!(
        one_error(&format!("{JOB}restart = \"on-failure\"\n")),
        "w.toml:5:11: restart = \"on-failure\" retries a failed run up to max_retries times, and max_retries is 0: set max_retries (1 to 100) or leave restart out"
    );
    assert_eq!(
        one_error(&format!("{JOB}restart = \"never\"\nmax_retries = 3\n")),
        "w.toml:6:15: max_retries = 3 does nothing with restart = \"never\" (a failed run is not retried): use restart = \"on-failure\" or leave restart out"
    );
    assert_eq!(
        one_error(&format!("{JOB}max_restarts = 3\n")),
        "w.toml:5:16: max_restarts does not apply to a scheduled program: use max_retries (how often a failed run is retried, 0 to 100)"
    );
    assert_eq!(
        one_error(&format!("{JOB}max_retries = 3\nmax_restarts = 3\n")),
        "w.toml:6:16: max_restarts does not apply to a scheduled program: use max_retries (how often a failed run is retried, 0 to 100)"
    );
    assert_eq!(
        one_error(&format!("{JOB}autostart = true\n")),
        "w.toml:5:13: autostart does not apply to a scheduled program: it starts at its due times (warden run-now NAME starts it at once)"
    );
    assert_eq!(
        one_error(&format!("{JOB}instances = 2\n")),
        "w.toml:5:13: a scheduled program cannot have instances"
    );
    assert_eq!(
        one_error(&format!("{JOB}max_retries = 2\nrestart_window = \"0s\"\n")),
        "w.toml:6:18: restart_window must be longer than 0s when max_retries is set"
    );
    // All at once, in file order.
    assert_eq!(
        errors(&format!("{JOB}instances = 2\nautostart = true\nrestart = \"always\"\nmax_restarts = 1\n")),
        [
            "w.toml:5:13: a scheduled program cannot have instances",
            "w.toml:6:13: autostart does not apply to a scheduled program: it starts at its due times (warden run-now NAME starts it at once)",
            "w.toml:7:11: a scheduled program is not restarted when it exits 0: use restart = \"on-failure\" (to retry failures up to max_retries) or leave restart out",
            "w.toml:8:16: max_restarts does not apply to a scheduled program: use max_retries (how often a failed run is retried, 0 to 100)",
        ]
    );
}

#[test]
fn summary_shows_schedules() {
    let c = ok(r#"
[[program]]
name = "api"
command = "api"

[[program]]
name = "briefing"
command = "brief"
schedule = "0 7 * * *"
timezone = "Europe/Berlin"
max_retries = 2

[[program]]
name = "poller"
command = "poll"
schedule = "@every 5m"
enabled = false
"#);
    assert_eq!(
        c.summary(),
        "w.toml: ok, 3 programs (2 enabled)\n\
         \x20 NAME      STATE      COMMAND  RESTART     DEPENDS ON  SCHEDULE\n\
         \x20 api       auto       api      always      -           -\n\
         \x20 briefing  scheduled  brief    on-failure  -           0 7 * * * (Europe/Berlin)\n\
         \x20 poller    disabled   poll     never       -           @every 5m"
    );
}

#[test]
fn the_documented_job_example_is_valid() {
    let doc = include_str!("../../docs/configuration.md");
    let section = &doc[doc.find("### Scheduled programs").expect("the section exists")..];
    let start = section.find("```toml\n").expect("an example") + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let c = ok(example);
    let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["mail-watcher", "briefing", "backup"]);
    assert!(c.programs.iter().all(|p| p.job.is_some() && !p.autostart));
    let backup = c.program("backup").unwrap().job.clone().unwrap();
    assert_eq!(
        (backup.timeout, backup.missed),
        (Some(Duration::from_secs(3600)), Missed::RunOnce)
    );
    assert_eq!(c.program("briefing").unwrap().max_restarts, 2);
}

#[test]
fn absurd_durations_are_refused() {
    assert_eq!(
        one_error("[alerts]\nrepeat_interval = \"300000000000y\"\n"),
        "w.toml:2:19: invalid duration \"300000000000y\" for alerts.repeat_interval: at most 10 years"
    );
}
