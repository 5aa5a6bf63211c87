//! Alerts through the real binary, to a real SMTP server (aiosmtpd) and a local Slack
//! webhook receiver, both started by the test: what arrives, how often, in what order,
//! across an outage and a restart of warden.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{free_port, require, wait_for, KillOnDrop, Warden, BIN, DEADLINE};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn aiosmtpd() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require("aiosmtpd (pip install aiosmtpd)", ok)
}

/// A fixture server on `port`, recording into `out`; up once it accepts connections.
fn serve(script: &str, port: u16, out: &Path, extra: &[&str]) -> KillOnDrop {
    let child = Command::new("python3")
        .arg(Path::new(FIXTURES).join(script))
        .args(["--port", &port.to_string(), "--out"])
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the fixture server");
    let server = KillOnDrop(child);
    wait_for(&format!("{script} to listen on {port}"), DEADLINE, || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    server
}

/// One received email, decoded by Python's email package.
#[derive(Debug)]
struct Email {
    to: Vec<String>,
    subject: String,
    text: String,
    html: String,
}

const PARSE_EMAILS: &str = r#"
import email, email.policy, json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    msg = email.message_from_string(m["data"], policy=email.policy.default)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    print(json.dumps({"to": m["rcpt_tos"], "subject": str(msg["subject"]),
        "text": text.get_content() if text else "", "html": html.get_content() if html else ""}))
"#;

fn emails(out: &Path) -> Vec<Email> {
    if !out.exists() {
        return Vec::new();
    }
    let output = Command::new("python3")
        .args(["-c", PARSE_EMAILS])
        .arg(out)
        .stderr(Stdio::inherit())
        .output()
        .expect("python3");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            Email {
                to: v["to"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_owned())
                    .collect(),
                subject: s("subject"),
                text: s("text"),
                html: s("html"),
            }
        })
        .collect()
}

/// The webhook POSTs the receiver recorded: `(answered status, body)`.
fn posts(out: &Path) -> Vec<(u64, Value)> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["answered"].as_u64().unwrap(), v["body"].clone())
        })
        .collect()
}

fn alerts_section(extra: &str, smtp: Option<u16>, slack: Option<u16>) -> String {
    let mut s = format!(
        "[alerts]\ngroup_wait = \"1s\"\ngroup_interval = \"2s\"\nrepeat_interval = \"1h\"\n\
         retry_initial = \"200ms\"\nretry_max = \"1s\"\n{extra}\n"
    );
    if let Some(port) = smtp {
        s.push_str(&format!(
            "[alerts.email]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n\
             from = \"Warden <warden@example.com>\"\nto = [\"owner@example.com\", \"ops@example.com\"]\ntimeout = \"5s\"\n"
        ));
    }
    if let Some(port) = slack {
        s.push_str(&format!(
            "[alerts.slack]\nwebhook_url = \"http://127.0.0.1:{port}/services/T0/B0/secret-hook\"\ntimeout = \"5s\"\n"
        ));
    }
    s
}

/// The outbox as the API shows it.
fn notifications(w: &Warden) -> Vec<Value> {
    let (code, body) = w.get_json("/api/v1/alerts?limit=500");
    assert_eq!(code, 200, "{body}");
    body["notifications"].as_array().unwrap().clone()
}

/// A warden not yet launched, beside a running SMTP server and Slack receiver.
struct Setup {
    w: Warden,
    smtp_port: u16,
    slack_port: u16,
    mail: PathBuf,
    hooks: PathBuf,
    _smtp: KillOnDrop,
    slack: KillOnDrop,
}

/// `None` (a loud skip) without aiosmtpd.
fn setup(slack_args: &[&str]) -> Option<Setup> {
    if !aiosmtpd() {
        return None;
    }
    let w = Warden::prepare();
    let (smtp_port, slack_port) = (free_port(), free_port());
    let (mail, hooks) = (w.path("mail.jsonl"), w.path("hooks.jsonl"));
    let smtp = serve("smtp_server.py", smtp_port, &mail, &[]);
    let slack = serve("slack_receiver.py", slack_port, &hooks, slack_args);
    Some(Setup {
        w,
        smtp_port,
        slack_port,
        mail,
        hooks,
        _smtp: smtp,
        slack,
    })
}

#[test]
fn a_crash_reaches_email_and_slack_once_with_redacted_stderr() {
    let Some(Setup {
        mut w,
        smtp_port,
        slack_port,
        mail,
        hooks,
        // Bound, not `..`: the servers must live as long as the test.
        _smtp,
        slack: _slack,
    }) = setup(&[])
    else {
        return;
    };
    let program = "[[program]]\nname = \"crasher\"\ncommand = \"sh\"\n\
                   args = [\"-c\", \"echo 'connecting with sk-live-SECRET0123456789'; echo 'fatal: key sk-live-SECRET0123456789 refused' >&2; exit 3\"]\n\
                   env = { OPENAI_API_KEY = \"sk-live-SECRET0123456789\" }\nbackoff = { initial = \"1h\", max = \"1h\" }\n";
    w.write_config(&format!(
        "{}\n{program}",
        alerts_section("", Some(smtp_port), Some(slack_port))
    ));
    w.launch();

    let mails = wait_for("the crash email", DEADLINE, || {
        Some(emails(&mail)).filter(|m| !m.is_empty())
    });
    let m = &mails[0];
    assert_eq!(m.subject, "[ERROR] crasher crashed: exit code 3");
    assert_eq!(m.to, ["owner@example.com", "ops@example.com"]);
    for body in [&m.text, &m.html] {
        assert!(body.contains("crasher"), "{body}");
        assert!(body.contains("exit code 3"), "{body}");
        assert!(body.contains("fatal: key *** refused"), "{body}");
        assert!(!body.contains("SECRET0123456789"), "{body}");
    }
    assert!(m.html.contains("<"), "an HTML part: {}", m.html);

    let hooks_seen = wait_for("the Slack post", DEADLINE, || {
        Some(posts(&hooks)).filter(|p| !p.is_empty())
    });
    let (answered, payload) = &hooks_seen[0];
    assert_eq!(*answered, 200);
    let text = payload.to_string();
    assert!(text.contains("crasher crashed: exit code 3"), "{text}");
    assert!(payload["attachments"][0]["color"].is_string(), "{text}");
    assert!(!text.contains("SECRET0123456789"), "{text}");

    // The API tells the same story, and the counters count it.
    let (_, alerts) = w.get_json("/api/v1/alerts");
    let firing = &alerts["firing"][0];
    assert_eq!(firing["fingerprint"], "program_crashed:crasher");
    assert_eq!(firing["exit_code"], 3);
    assert!(!alerts.to_string().contains("SECRET0123456789"));
    wait_for("both notifications marked sent", DEADLINE, || {
        let ns = notifications(&w);
        (ns.len() == 2 && ns.iter().all(|n| n["state"] == "sent")).then_some(())
    });
    let (_, metrics) = w.get("/metrics").unwrap();
    for line in [
        r#"warden_alerts_sent_total{channel="email",severity="error"} 1"#,
        r#"warden_alerts_sent_total{channel="slack",severity="error"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    // Still one of each: the crash is one alert, not re-sent before repeat_interval.
    assert_eq!(emails(&mail).len(), 1);
    assert_eq!(posts(&hooks).len(), 1);
}

#[test]
fn twenty_crashes_within_group_wait_are_one_message_per_channel() {
    let Some(Setup {
        mut w,
        smtp_port,
        slack_port,
        mail,
        hooks,
        // Bound, not `..`: the servers must live as long as the test.
        _smtp,
        slack: _slack,
    }) = setup(&[])
    else {
        return;
    };
    let programs: String = (0..20)
        .map(|i| {
            format!(
                "[[program]]\nname = \"agent-{i:02}\"\ncommand = \"sh\"\nargs = [\"-c\", \"exit 1\"]\nbackoff = {{ initial = \"1h\", max = \"1h\" }}\n"
            )
        })
        .collect();
    // A long group_interval: a straggler would only be sent an hour later.
    let alerts = alerts_section("", Some(smtp_port), Some(slack_port))
        .replace("group_wait = \"1s\"", "group_wait = \"3s\"")
        .replace("group_interval = \"2s\"", "group_interval = \"1h\"");
    w.write_config(&format!("{alerts}\n{programs}"));
    w.launch();

    let mails = wait_for("the grouped email", DEADLINE, || {
        Some(emails(&mail)).filter(|m| !m.is_empty())
    });
    assert_eq!(mails[0].subject, "[ERROR] 20 programs crashed");
    for i in 0..20 {
        assert!(mails[0].text.contains(&format!("agent-{i:02}")), "{}", mails[0].text);
    }
    let hooks_seen = wait_for("the grouped Slack post", DEADLINE, || {
        Some(posts(&hooks)).filter(|p| !p.is_empty())
    });
    assert_eq!(hooks_seen[0].1["attachments"].as_array().unwrap().len(), 20);
    wait_for("both marked sent", DEADLINE, || {
        let ns = notifications(&w);
        ns.iter().all(|n| n["state"] == "sent").then_some(ns)
    });
    let (_, alerts) = w.get_json("/api/v1/alerts");
    assert_eq!(alerts["firing"].as_array().unwrap().len(), 20);
    assert_eq!(notifications(&w).len(), 2, "one notification per channel");
    assert_eq!(emails(&mail).len(), 1);
    assert_eq!(posts(&hooks).len(), 1);
}

/// The delivery guarantee: SMTP is down while a program crashes, warden restarts in
/// the middle, then SMTP comes up: the crash arrives once, then its RESOLVED notice.
#[test]
fn an_smtp_outage_and_a_restart_lose_nothing_and_send_nothing_twice() {
    if !aiosmtpd() {
        return;
    }
    let mut w = Warden::prepare();
    let smtp_port = free_port();
    let mail = w.path("mail.jsonl");
    std::fs::write(w.path("broken"), "").unwrap();
    let flag = w.path("broken").display().to_string();
    let program = format!(
        "[[program]]\nname = \"flaky\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"if [ -f {flag} ]; then echo 'db: connection refused' >&2; exit 1; fi; exec sleep 1000\"]\n\
         backoff = {{ initial = \"300ms\", max = \"1s\" }}\nmax_restarts = 0\nstart_period = \"500ms\"\n"
    );
    w.write_config(&format!("{}\n{program}", alerts_section("", Some(smtp_port), None)));
    w.launch();

    // Queued, and failing to go out.
    let pending = wait_for("a notification retried against the dead SMTP server", DEADLINE, || {
        notifications(&w)
            .into_iter()
            .find(|n| n["state"] == "pending" && n["attempts"].as_u64() >= Some(1))
    });
    assert_eq!(pending["subject"], "[ERROR] flaky crashed: exit code 1");
    let error = pending["last_error"].as_str().unwrap();
    assert!(error.contains("refused"), "{error}");

    // warden restarts; meanwhile the program gets fixed.
    w.signal(libc::SIGTERM);
    assert!(w.wait_exit(DEADLINE).success(), "{}", w.stderr());
    std::fs::remove_file(w.path("broken")).unwrap();
    w.launch();
    w.wait_state("flaky", "running");

    let _smtp = serve("smtp_server.py", smtp_port, &mail, &[]);
    let mails = wait_for("the crash, then its RESOLVED notice", DEADLINE, || {
        Some(emails(&mail)).filter(|m| m.len() >= 2)
    });
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "[ERROR] flaky crashed: exit code 1",
            "[RESOLVED] flaky crashed: exit code 1"
        ]
    );
    assert!(mails[0].text.contains("db: connection refused"), "{}", mails[0].text);
    let ns = wait_for("the outbox to settle", DEADLINE, || {
        let ns = notifications(&w);
        ns.iter().all(|n| n["state"] == "sent").then_some(ns)
    });
    assert_eq!(ns.len(), 2, "{ns:#?}");
    assert_eq!(emails(&mail).len(), 2);
}

#[test]
fn slack_429_is_retried_after_retry_after_and_a_404_fails_for_good_and_is_reported_by_email() {
    let Some(Setup {
        mut w,
        smtp_port,
        slack_port,
        mail,
        hooks,
        slack,
        _smtp,
    }) = setup(&["--fail-status", "429", "--fail-count", "2", "--retry-after", "1"])
    else {
        return;
    };
    let program =
        "[[program]]\nname = \"web\"\ncommand = \"sh\"\nargs = [\"-c\", \"exit 2\"]\nbackoff = { initial = \"1h\", max = \"1h\" }\n";
    w.write_config(&format!(
        "{}\n{program}",
        alerts_section("", Some(smtp_port), Some(slack_port))
    ));
    w.launch();

    let seen = wait_for("the Slack post to get through", DEADLINE, || {
        Some(posts(&hooks)).filter(|p| p.iter().any(|(code, _)| *code == 200))
    });
    let codes: Vec<u64> = seen.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [429, 429, 200]);
    let slack_row = wait_for("the Slack notification marked sent", DEADLINE, || {
        notifications(&w)
            .into_iter()
            .find(|n| n["channel"] == "slack" && n["state"] == "sent")
    });
    assert_eq!(slack_row["attempts"], 2);

    // Now the webhook is gone (404): the next notification fails for good, is counted,
    // and the owner hears it by email.
    drop(slack);
    let _slack = serve(
        "slack_receiver.py",
        slack_port,
        &hooks,
        &["--fail-status", "404", "--fail-count", "1000"],
    );
    // The test path goes through the same outbox and delivery as any alert.
    let (code, body) = w.post("/api/v1/alerts/test?channel=slack&wait=true&timeout=10s");
    assert_eq!(code, 502, "{body}");
    assert_eq!(body["results"][0]["state"], "failed", "{body}");
    let error = body["results"][0]["error"].as_str().unwrap();
    assert!(error.contains("404"), "{error}");
    assert!(!error.contains("secret-hook"), "{error}");
    let (_, metrics) = w.get("/metrics").unwrap();
    assert!(
        metrics.contains(r#"warden_alerts_failed_total{channel="slack"} 1"#),
        "{metrics}"
    );
    let mails = wait_for("the delivery failure by email", DEADLINE, || {
        Some(emails(&mail)).filter(|m| m.iter().any(|m| m.text.contains("alerts cannot be delivered by slack")))
    });
    // The whole picture: the crash still firing, and the channel failing.
    let last = mails.last().unwrap();
    assert_eq!(last.subject, "[ERROR] 2 alerts firing");
    assert!(last.text.contains("HTTP 404"), "{}", last.text);
    assert!(!format!("{mails:?}").contains("secret-hook"));
    // And never on Slack itself.
    assert!(posts(&hooks)
        .iter()
        .all(|(_, body)| !body.to_string().contains("alerts cannot be delivered by slack")));
}

#[test]
fn alert_test_cli_reports_each_channel() {
    let Some(Setup {
        mut w,
        smtp_port,
        slack_port,
        mail,
        hooks,
        // Bound, not `..`: the servers must live as long as the test.
        _smtp,
        slack: _slack,
    }) = setup(&["--html"])
    else {
        return;
    };
    w.write_config(&alerts_section("", Some(smtp_port), Some(slack_port)));
    w.launch();
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(["alert", "test"])
            .args(args)
            .args(["--url", &format!("http://127.0.0.1:{}", w.port)])
            .output()
            .unwrap()
    };
    let out = cli(&["--channel", "email"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "email: sent\n");
    let m = &emails(&mail)[0];
    assert!(m.subject.starts_with("[TEST] "), "{}", m.subject);

    // The webhook answers an HTML page: a wrong URL, said plainly.
    let out = cli(&[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("email: sent\n"), "{stdout}");
    assert!(
        stdout.contains("slack: failed: ") && stdout.contains("HTML"),
        "{stdout}"
    );
    assert!(!stdout.contains("secret-hook"), "{stdout}");
    let seen = posts(&hooks);
    assert_eq!(seen.len(), 1, "one attempt: an HTML answer is not retried");
    assert!(seen[0].1.to_string().contains("[TEST]"), "{seen:?}");
}

/// Wrong SMTP credentials: a clear error in the API, warden goes on, and after the
/// password is fixed and the file reloaded, what failed is sent.
#[test]
fn wrong_smtp_credentials_are_reported_and_a_fixed_reload_sends_what_failed() {
    if !aiosmtpd() {
        return;
    }
    let mut w = Warden::prepare();
    let smtp_port = free_port();
    let mail = w.path("mail.jsonl");
    let _smtp = serve("smtp_server.py", smtp_port, &mail, &["--auth", "warden:right-password"]);
    let alerts = |password: &str| {
        alerts_section("", Some(smtp_port), None).replace(
            "timeout = \"5s\"\n",
            &format!("timeout = \"5s\"\nusername = \"warden\"\npassword = \"{password}\"\n"),
        )
    };
    w.write_config(&alerts("wrong-password"));
    w.launch();
    let (code, body) = w.post("/api/v1/alerts/test?channel=email&wait=true&timeout=10s");
    assert_eq!(code, 502, "{body}");
    let error = body["results"][0]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("535"), "{error}");
    assert!(!error.contains("wrong-password"), "{error}");
    assert!(emails(&mail).is_empty());
    assert_eq!(w.get("/live").unwrap().0, 200);

    w.write_config(&alerts("right-password"));
    w.reload();
    let mails = wait_for("the failed test, sent again", DEADLINE, || {
        Some(emails(&mail)).filter(|m| !m.is_empty())
    });
    assert!(mails[0].subject.starts_with("[TEST] "));
    wait_for("the notification marked sent", DEADLINE, || {
        notifications(&w).iter().all(|n| n["state"] == "sent").then_some(())
    });
}

/// A corrupt store: warden supervises, says why in the API, and alerts still go out
/// (from memory).
#[test]
fn a_corrupt_store_does_not_stop_alerts() {
    if !aiosmtpd() {
        return;
    }
    let mut w = Warden::prepare();
    let smtp_port = free_port();
    let mail = w.path("mail.jsonl");
    let _smtp = serve("smtp_server.py", smtp_port, &mail, &[]);
    std::fs::create_dir_all(w.path("data")).unwrap();
    std::fs::write(
        w.path("data/warden.db"),
        "this is not a database, it is a text file ".repeat(200),
    )
    .unwrap();
    let program = "[[program]]\nname = \"web\"\ncommand = \"sh\"\nargs = [\"-c\", \"exit 4\"]\nbackoff = { initial = \"1h\", max = \"1h\" }\n";
    w.write_config(&format!("{}\n{program}", alerts_section("", Some(smtp_port), None)));
    w.launch();
    let mails = wait_for("the crash email", DEADLINE, || {
        Some(emails(&mail)).filter(|m| !m.is_empty())
    });
    assert_eq!(mails[0].subject, "[ERROR] web crashed: exit code 4");
    let (_, alerts) = w.get_json("/api/v1/alerts");
    let why = alerts["store_error"].as_str().unwrap_or_default();
    assert!(why.contains("warden.db"), "{alerts}");
    assert_eq!(alerts["notifications"][0]["state"], "sent", "{alerts}");
    assert_eq!(w.get("/live").unwrap().0, 200);
}

/// A probe's alert takes the probe's `severity`.
#[test]
fn a_failing_probe_alerts_at_its_severity() {
    if !aiosmtpd() {
        return;
    }
    let mut w = Warden::prepare();
    let smtp_port = free_port();
    let mail = w.path("mail.jsonl");
    let _smtp = serve("smtp_server.py", smtp_port, &mail, &[]);
    let closed = free_port();
    let program = format!(
        "[[program]]\nname = \"orchestrator\"\ncommand = \"sleep\"\nargs = [\"1000\"]\n\
         probe = {{ type = \"tcp\", port = {closed}, interval = \"200ms\", failure_threshold = 1, action = \"alert\", severity = \"critical\" }}\n"
    );
    w.write_config(&format!("{}\n{program}", alerts_section("", Some(smtp_port), None)));
    w.launch();
    let mails = wait_for("the probe alert", DEADLINE, || {
        Some(emails(&mail)).filter(|m| !m.is_empty())
    });
    assert!(
        mails[0].subject.starts_with("[CRITICAL] orchestrator"),
        "{}",
        mails[0].subject
    );
    let (_, alerts) = w.get_json("/api/v1/alerts");
    assert_eq!(alerts["firing"][0]["fingerprint"], "probe_failing:orchestrator");
    assert_eq!(alerts["firing"][0]["severity"], "critical");
}
