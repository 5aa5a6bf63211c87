//! Rules of the code base that a reviewer would otherwise have to remember
//! (see ARCHITECTURE.md, "Invariants").

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Code outside comments and `#[cfg(test)]` modules (tests may do what the daemon must
/// not; comments may name what is forbidden).
fn code(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn only_the_reaper_waits_for_children() {
    for path in sources(&src()) {
        let text = code(&path);
        let rel = path.strip_prefix(src()).unwrap().display().to_string();
        assert!(
            !text.contains("tokio::process"),
            "{rel}: tokio::process would race the reaper"
        );
        for call in [".try_wait(", ".wait_with_output(", ".output()", "Command::status("] {
            assert!(
                !text.contains(call),
                "{rel}: `{call}` waits for a child; go through platform::reaper"
            );
        }
        if rel != "platform/reaper.rs" {
            assert!(
                !text.contains("waitpid"),
                "{rel}: only platform/reaper.rs may call waitpid"
            );
        }
    }
}

#[test]
fn imports_point_down_the_layers() {
    let runtime = [
        "crate::supervisor",
        "crate::platform",
        "crate::logs",
        "crate::http",
        "crate::app",
        "crate::cli",
        "crate::telemetry",
        "crate::health",
        "crate::metrics",
    ];
    for path in sources(&src()) {
        let rel = path.strip_prefix(src()).unwrap().display().to_string();
        let text = code(&path);
        let layer0 = rel.starts_with("config/") || rel == "events.rs" || rel == "api.rs";
        if layer0 {
            for m in runtime {
                assert!(!text.contains(m), "{rel} (layer 0) must not use {m}");
            }
        }
        let pure = [
            "supervisor/machine.rs",
            "supervisor/backoff.rs",
            "supervisor/order.rs",
            "supervisor/health.rs",
            "health/verdict.rs",
            "alerts/rules.rs",
            "alerts/policy.rs",
            "alerts/text.rs",
            "schedule.rs",
        ]
        .contains(&rel.as_str());
        if pure {
            for m in [
                "tokio::",
                "std::fs",
                "std::process",
                "crate::platform",
                "crate::logs",
                "crate::health::probe",
                "crate::health::checks",
                "crate::health::system",
                "Instant::now",
                "SystemTime::now",
            ] {
                assert!(!text.contains(m), "{rel} is pure and must not use {m}");
            }
        }
        if rel == "cli.rs" {
            assert!(
                !text.contains("crate::supervisor"),
                "the CLI talks to warden over HTTP only"
            );
        }
    }
}

#[test]
fn only_spawning_reads_secrets() {
    // The places that must use a secret: the program's environment, the probe's HTTP
    // headers (sent as sensitive header values), the checks' connection URLs.
    // The API's gate compares tokens; the redactor reads secrets to blank them. The
    // alert channels log in to the SMTP server and post to the webhook URL.
    const READERS: [&str; 9] = [
        "platform/spawn.rs",
        "config/model.rs",
        "health/probe.rs",
        "health/checks.rs",
        "auth.rs",
        "redact.rs",
        "journal.rs",
        "channels/email.rs",
        "channels/slack.rs",
    ];
    for path in sources(&src()) {
        let rel = path.strip_prefix(src()).unwrap().display().to_string();
        if READERS.contains(&rel.as_str()) {
            continue;
        }
        assert!(!code(&path).contains(".expose()"), "{rel} reads a secret's value");
    }
}
