//! Every text a person reads about an alert: summaries, subjects, plain-text and HTML
//! bodies, Slack blocks. Program-supplied strings (names, reasons, stderr) are escaped
//! for HTML and for Slack's mrkdwn.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::events::ExitReason;

use super::policy::Notification;
use super::rules::{Alert, AlertStatus, Severity};

pub fn crashed_summary(program: &str, reason: &ExitReason) -> String {
    format!("{program} crashed: {reason}")
}

pub fn gave_up_summary(program: &str, restarts: u32, window_secs: u64) -> String {
    format!(
        "{program} failed: gave up after {restarts} restarts within {}",
        humantime::format_duration(Duration::from_secs(window_secs))
    )
}

pub fn failed_summary(program: &str, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("{program} failed: {r}"),
        None => format!("{program} failed"),
    }
}

pub fn probe_summary(program: &str, message: &str) -> String {
    format!("{program} probe failing: {message}")
}

pub fn check_summary(check: &str, message: &str) -> String {
    format!("check {check} down: {message}")
}

pub fn delivery_summary(channel: &str, reason: &str) -> String {
    format!("alerts cannot be delivered by {channel}: {reason}")
}

pub fn system_summary(reason: &str) -> String {
    reason.to_owned()
}

fn plural(kind: &str, n: usize) -> String {
    match kind {
        "program_crashed" => format!("{n} programs crashed"),
        "program_failed" => format!("{n} programs failed"),
        "probe_failing" => format!("{n} probes failing"),
        "check_down" => format!("{n} checks down"),
        "system" => format!("{n} host resources over threshold"),
        _ => format!("{n} alerts"),
    }
}

/// One alert: `[CRITICAL] web failed: ...` / `[RESOLVED] web failed: ...`. Several:
/// the highest firing severity and a count, `[ERROR] 20 programs crashed`, plus
/// `, 2 resolved` when some resolved too.
pub fn subject(alerts: &[Alert]) -> String {
    let firing: Vec<&Alert> = alerts.iter().filter(|a| a.status == AlertStatus::Firing).collect();
    let resolved = alerts.len() - firing.len();
    match (firing.as_slice(), resolved) {
        ([], 0) => "[INFO] no alerts".to_owned(),
        ([], 1) => format!("[RESOLVED] {}", alerts[0].summary),
        ([], n) => match common_kind(alerts.iter()) {
            Some(kind) => format!("[RESOLVED] {}", plural(kind, n)),
            None => format!("[RESOLVED] {n} alerts"),
        },
        (firing, resolved) => {
            let worst = firing.iter().map(|a| a.severity).max().unwrap_or(Severity::Info);
            let what = match firing {
                [one] => one.summary.clone(),
                _ => match common_kind(firing.iter().copied()) {
                    Some(kind) => plural(kind, firing.len()),
                    None => format!("{} alerts firing", firing.len()),
                },
            };
            let tail = if resolved > 0 {
                format!(", {resolved} resolved")
            } else {
                String::new()
            };
            format!("[{}] {what}{tail}", worst.label())
        }
    }
}

fn common_kind<'a>(mut alerts: impl Iterator<Item = &'a Alert>) -> Option<&'a str> {
    let first = alerts.next()?.kind();
    alerts.all(|a| a.kind() == first).then_some(first)
}

fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

fn status_label(a: &Alert) -> &'static str {
    match a.status {
        AlertStatus::Firing => a.severity.label(),
        AlertStatus::Resolved => "RESOLVED",
    }
}

/// `(label, value)` lines of an alert's details, in display order.
fn detail_lines(a: &Alert) -> Vec<(&'static str, String)> {
    let d = &a.details;
    let mut out = Vec::new();
    if let Some(p) = &d.program {
        out.push(("program", p.clone()));
    }
    if let Some(c) = d.exit_code {
        out.push(("exit code", c.to_string()));
    }
    if let Some(s) = d.signal {
        out.push(("signal", crate::events::signal_name(s)));
    }
    if let Some(r) = d.restarts {
        out.push(("restarts", r.to_string()));
    }
    if let Some(r) = &d.reason {
        out.push(("reason", r.clone()));
    }
    out.push(("host", d.host.clone()));
    out.push(("since", time(d.at)));
    if let Some(r) = a.resolved_at {
        out.push(("resolved", time(r)));
    }
    out
}

/// The plain-text body (email text part).
pub fn plain(n: &Notification) -> String {
    let mut s = format!("{}\n", n.subject);
    for a in &n.alerts {
        let _ = write!(s, "\n[{}] {}\n", status_label(a), a.summary);
        for (k, v) in detail_lines(a) {
            let _ = writeln!(s, "  {k}: {v}");
        }
        if !a.details.stderr_tail.is_empty() {
            s.push_str("  last lines of stderr:\n");
            for line in &a.details.stderr_tail {
                let _ = writeln!(s, "    {line}");
            }
        }
    }
    s
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML body (email HTML part). Every string is escaped.
pub fn html(n: &Notification) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n",
        escape_html(&n.subject)
    );
    for a in &n.alerts {
        let _ = write!(
            s,
            "<h3 style=\"color:{}\">[{}] {}</h3>\n<table>\n",
            colour(a),
            status_label(a),
            escape_html(&a.summary)
        );
        for (k, v) in detail_lines(a) {
            let _ = writeln!(s, "<tr><th align=\"left\">{k}</th><td>{}</td></tr>", escape_html(&v));
        }
        s.push_str("</table>\n");
        if !a.details.stderr_tail.is_empty() {
            let lines: Vec<String> = a.details.stderr_tail.iter().map(|l| escape_html(l)).collect();
            let _ = writeln!(s, "<p>last lines of stderr:</p>\n<pre>{}</pre>", lines.join("\n"));
        }
    }
    s.push_str("</body></html>\n");
    s
}

/// Slack's colour bar: by severity while firing, green when resolved.
pub fn colour(a: &Alert) -> &'static str {
    match a.status {
        AlertStatus::Resolved => "#2eb67d",
        AlertStatus::Firing => severity_colour(a.severity),
    }
}

pub fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Info => "#439fe0",
        Severity::Warning => "#ecb22e",
        Severity::Error => "#e01e5a",
        Severity::Critical => "#8b0000",
    }
}

/// Escapes Slack mrkdwn's control characters (`&`, `<`, `>`), which would otherwise
/// make links and mentions out of program output.
pub fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Slack's limits: a section's text, a field's text, and how many alerts one message
/// carries in full (Slack refuses a message over its limits with a 400, for good).
const SLACK_TEXT: usize = 2900;
const SLACK_FIELD: usize = 1900;
const SLACK_ALERTS: usize = 20;
/// Of the stderr tails, at most this much (the last lines) across a message.
const SLACK_STDERR_TOTAL: usize = 6000;

/// The incoming-webhook payload: the subject as fallback text and one attachment per
/// alert, coloured by severity, with blocks for summary, details and stderr. Kept
/// within Slack's limits: long texts are cut (stderr keeps its last lines), and past
/// 20 alerts one line counts the rest.
pub fn slack(n: &Notification) -> Value {
    let stderr_each = SLACK_STDERR_TOTAL / n.alerts.len().clamp(1, SLACK_ALERTS);
    let mut attachments: Vec<Value> = n
        .alerts
        .iter()
        .take(SLACK_ALERTS)
        .map(|a| {
            let fields: Vec<Value> = detail_lines(a)
                .into_iter()
                .map(|(k, v)| json!({"type": "mrkdwn", "text": head(&format!("*{k}*\n{}", escape_slack(&v)), SLACK_FIELD)}))
                .collect();
            let summary = format!("*[{}]* {}", status_label(a), escape_slack(&a.summary));
            let mut blocks = vec![
                json!({"type": "section", "text": {"type": "mrkdwn", "text": head(&summary, SLACK_TEXT)}}),
                // A section holds at most 10 fields.
                json!({"type": "section", "fields": fields.into_iter().take(10).collect::<Vec<_>>()}),
            ];
            if !a.details.stderr_tail.is_empty() {
                let tail = escape_slack(&a.details.stderr_tail.join("\n")).replace("```", "'''");
                let tail = tail_of(&tail, stderr_each.min(SLACK_TEXT - 6));
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                    "text": format!("```{tail}```")}}));
            }
            json!({"color": colour(a), "blocks": blocks})
        })
        .collect();
    if n.alerts.len() > SLACK_ALERTS {
        let more = n.alerts.len() - SLACK_ALERTS;
        attachments.push(json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn",
            "text": format!("…and {more} more (all of them in `GET /api/v1/alerts`)")}}]}));
    }
    json!({"text": head(&escape_slack(&n.subject), SLACK_TEXT), "attachments": attachments})
}

/// The first `max` characters of `s`, `…` marking a cut.
fn head(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The last `max` characters of `s`, from the start of a line when it can, `…`
/// marking a cut.
fn tail_of(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_owned();
    }
    let start = s.char_indices().nth(count - max + 2).map_or(0, |(i, _)| i);
    let rest = &s[start..];
    let rest = rest.find('\n').map_or(rest, |nl| &rest[nl + 1..]);
    format!("…\n{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::AlertDetails;
    use std::time::UNIX_EPOCH;

    fn alert(fp: &str, severity: Severity, summary: &str, status: AlertStatus) -> Alert {
        Alert {
            fingerprint: fp.into(),
            severity,
            summary: summary.into(),
            details: AlertDetails {
                program: Some(fp.split(':').nth(1).unwrap_or("").into()),
                exit_code: Some(1),
                signal: None,
                restarts: None,
                reason: Some("exit code 1".into()),
                stderr_tail: vec!["line one".into()],
                host: "box".into(),
                at: UNIX_EPOCH,
            },
            status,
            resolved_at: None,
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification {
            channel: "email".into(),
            group_key: "email".into(),
            at: UNIX_EPOCH,
            subject: subject(&alerts),
            alerts,
        }
    }

    #[test]
    fn single_subjects() {
        let f = alert(
            "program_failed:web",
            Severity::Critical,
            "web failed: gave up after 10 restarts",
            AlertStatus::Firing,
        );
        assert_eq!(
            subject(std::slice::from_ref(&f)),
            "[CRITICAL] web failed: gave up after 10 restarts"
        );
        let r = Alert {
            status: AlertStatus::Resolved,
            ..f
        };
        assert_eq!(subject(&[r]), "[RESOLVED] web failed: gave up after 10 restarts");
    }

    #[test]
    fn grouped_subjects() {
        let crashes: Vec<Alert> = (0..20)
            .map(|i| {
                alert(
                    &format!("program_crashed:p{i}"),
                    Severity::Error,
                    "x",
                    AlertStatus::Firing,
                )
            })
            .collect();
        assert_eq!(subject(&crashes), "[ERROR] 20 programs crashed");
        let mut mixed = crashes[..2].to_vec();
        mixed.push(alert("system:disk:/", Severity::Critical, "disk", AlertStatus::Firing));
        mixed.push(alert("probe_failing:a", Severity::Warning, "p", AlertStatus::Resolved));
        assert_eq!(subject(&mixed), "[CRITICAL] 3 alerts firing, 1 resolved");
        let resolved: Vec<Alert> = crashes[..3]
            .iter()
            .map(|a| Alert {
                status: AlertStatus::Resolved,
                ..a.clone()
            })
            .collect();
        assert_eq!(subject(&resolved), "[RESOLVED] 3 programs crashed");
    }

    #[test]
    fn html_escapes_program_supplied_strings() {
        let mut a = alert(
            "program_crashed:web",
            Severity::Error,
            "<script>alert(1)</script> crashed",
            AlertStatus::Firing,
        );
        a.details.stderr_tail = vec!["<script>steal()</script> & \"q\"".into()];
        a.details.reason = Some("<b>bad</b>".into());
        a.details.program = Some("<img src=x>".into());
        let n = notification(vec![a]);
        let h = html(&n);
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<b>bad"), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(
            h.contains("&lt;script&gt;steal()&lt;/script&gt; &amp; &quot;q&quot;"),
            "{h}"
        );
        assert!(h.contains("&lt;b&gt;bad&lt;/b&gt;"));
    }

    #[test]
    fn plain_body_carries_details_and_stderr() {
        let n = notification(vec![alert(
            "program_crashed:web",
            Severity::Error,
            "web crashed: exit code 1",
            AlertStatus::Firing,
        )]);
        let p = plain(&n);
        assert!(p.starts_with("[ERROR] web crashed: exit code 1\n"), "{p}");
        assert!(p.contains("  program: web\n"));
        assert!(p.contains("  exit code: 1\n"));
        assert!(p.contains("  host: box\n"));
        assert!(p.contains("    line one\n"));
        assert!(p.contains("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn slack_colours_by_severity_and_escapes() {
        let mut a = alert(
            "program_crashed:web",
            Severity::Critical,
            "<!channel> hi",
            AlertStatus::Firing,
        );
        a.details.stderr_tail = vec!["<@U123>".into()];
        let r = alert("probe_failing:x", Severity::Warning, "p", AlertStatus::Resolved);
        let v = slack(&notification(vec![a, r]));
        assert_eq!(v["attachments"][0]["color"], "#8b0000");
        assert_eq!(v["attachments"][1]["color"], "#2eb67d");
        let s = v.to_string();
        assert!(!s.contains("<!channel>") && !s.contains("<@U123>"), "{s}");
        assert!(s.contains("&lt;!channel&gt; hi"));
        let colours: std::collections::HashSet<_> =
            [Severity::Info, Severity::Warning, Severity::Error, Severity::Critical]
                .map(severity_colour)
                .into();
        assert_eq!(colours.len(), 4);
    }

    #[test]
    fn slack_payloads_stay_within_slacks_limits() {
        // 200 lines of a long stack trace on each of 30 alerts.
        let alerts: Vec<Alert> = (0..30)
            .map(|i| {
                let mut a = alert(
                    &format!("program_crashed:p{i}"),
                    Severity::Error,
                    "crashed",
                    AlertStatus::Firing,
                );
                a.details.stderr_tail = (0..200).map(|l| format!("line {l} <{}>", "x".repeat(80))).collect();
                a.details.reason = Some("r".repeat(5000));
                a
            })
            .collect();
        let v = slack(&notification(alerts));
        let attachments = v["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 21, "20 alerts and one line for the rest");
        assert!(attachments[20].to_string().contains("and 10 more"));
        let mut stderr_total = 0;
        for a in &attachments[..20] {
            for block in a["blocks"].as_array().unwrap() {
                if let Some(text) = block["text"]["text"].as_str() {
                    assert!(text.chars().count() <= 3000, "{}", text.len());
                    if text.starts_with("```") {
                        stderr_total += text.chars().count();
                        // The last lines are kept.
                        assert!(text.contains("line 199 &lt;"), "{text}");
                    }
                }
                for f in block["fields"].as_array().into_iter().flatten() {
                    assert!(f["text"].as_str().unwrap().chars().count() <= 2000);
                }
            }
        }
        assert!(stderr_total <= 6000 + 20 * 10, "{stderr_total}");
    }
}
