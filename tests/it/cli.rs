//! The command line: `check`, `init`, `run` with bad input.

use std::process::Command;

use crate::support::*;

fn warden(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("WARDEN_CONFIG")
        .output()
        .unwrap()
}

const BAD: &str = r#"[[program]]
name = "web"
command = "sleep"
stop_timeout = "10 parsecs"
restat = "always"

[[program]]
name = "web"
command = ""
depends_on = ["nowhere"]
"#;

#[test]
fn check_reports_every_error_with_file_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), BAD).unwrap();
    let out = warden(dir.path(), &["check", "-c", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("bad.toml:")).collect();
    assert!(lines.len() >= 5, "all errors at once:\n{err}");
    assert!(err.contains("bad.toml:4:"), "bad duration at line 4:\n{err}");
    assert!(
        err.contains("bad.toml:5:1: unknown key `restat`"),
        "unknown key:\n{err}"
    );
    assert!(err.contains("bad.toml:8:"), "duplicate name at line 8:\n{err}");
    assert!(err.contains("nowhere"), "unknown dependency:\n{err}");
}

#[test]
fn run_with_an_invalid_config_exits_2_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("warden.toml"), BAD).unwrap();
    let out = warden(dir.path(), &["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warden.toml:4:"));
    assert!(!dir.path().join("logs").exists(), "nothing was started");
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path(), &["check", "-c", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn init_writes_a_config_that_checks_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path(), &["init"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The default file name is what `check` reads by default.
    let out = warden(dir.path(), &["check"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("warden.toml: ok"));
    let again = warden(dir.path(), &["init"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn warden_config_env_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("custom.toml"),
        "[[program]]\nname = \"a\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("check")
        .current_dir(dir.path())
        .env("WARDEN_CONFIG", "custom.toml")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("custom.toml: ok, 1 program"));
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warden.toml"),
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let out = warden(dir.path(), &["run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot listen on 127.0.0.1:{port}")));
}
