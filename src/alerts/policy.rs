//! When which alert goes to which channel: an Alertmanager-like state machine, pure and
//! driven by an explicit clock.
//!
//! Semantics (all times are the `now` the caller passes):
//!
//! * **One group per channel** (`group_key` = channel name): every alert a channel gets
//!   travels in one notification stream, so a burst of mixed alerts is one message.
//! * **Dedup by fingerprint.** Firing an already-firing fingerprint updates its details
//!   (keeping when it started) and is not a change.
//! * A channel has a **change** when an eligible firing alert has not been notified to it
//!   (or was notified with another severity, e.g. a disk going warning → critical), or
//!   when an alert it was told is firing has resolved.
//! * A change is sent at `max(first seen + group_wait, last notification +
//!   group_interval)`: the first alert after a quiet time waits `group_wait` to collect a
//!   burst, later changes are batched every `group_interval` at most.
//! * With no change, the firing alerts are re-sent `repeat_interval` after the last
//!   notification.
//! * Every notification holds all eligible firing alerts of the channel (a full picture)
//!   plus the RESOLVED notices; a RESOLVED notice is sent once, and only for an alert
//!   whose firing the channel was told. An alert that fires and clears before it was
//!   sent is never sent (that is what `group_wait` is for; flapping does not spam).
//! * **Eligible** = severity ≥ the channel's `min_severity` and not silenced. A silenced
//!   alert is neither sent nor counted as notified; when the silence ends it is a change
//!   (firing) or, if it was notified before and resolved meanwhile, a RESOLVED notice.
//!   An alert notified and then de-escalated below a channel's minimum is not repeated
//!   there, but its RESOLVED notice still comes.
//! * `delivery_failed:CHANNEL` never goes to CHANNEL itself (it could not arrive).
//! * **Durable.** [`Policy::state`] is everything the policy knows, as serde data; the
//!   caller saves it in the same transaction as the notifications `due` returned, and
//!   [`Policy::restore`] takes it back after a restart, so a channel is neither told
//!   twice nor denied its RESOLVED notice.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::rules::{self, Alert, AlertStatus, Severity, Signal};
use super::text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPolicy {
    pub name: String,
    pub min_severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub channels: Vec<ChannelPolicy>,
}

/// A maintenance window: alerts it matches are not sent before `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// A program name (`web`: every alert of that program), a fingerprint
    /// (`system:disk:/`), or a prefix of whole `:`-separated parts (`system`,
    /// `system:disk`, `program_crashed`). `web` does not match `web2`; empty matches
    /// nothing.
    pub matcher: String,
    pub until: SystemTime,
}

impl Silence {
    pub fn matches(&self, alert: &Alert) -> bool {
        let m = self.matcher.as_str();
        if m.is_empty() {
            return false;
        }
        let fp = alert.fingerprint.as_str();
        let by_fingerprint = fp == m
            || fp.strip_prefix(m).is_some_and(|rest| rest.starts_with(':'))
            || (m.ends_with(':') && fp.starts_with(m));
        by_fingerprint || alert.details.program.as_deref() == Some(m)
    }
}

/// One message to send on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub channel: String,
    pub group_key: String,
    /// When the policy released it.
    pub at: SystemTime,
    /// Firing alerts (highest severity first), then resolved ones.
    pub alerts: Vec<Alert>,
    pub subject: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// What this channel was last told is firing: fingerprint → severity.
    told: BTreeMap<String, Severity>,
    /// When the current unsent change was first seen.
    pending_since: Option<SystemTime>,
    last_sent: Option<SystemTime>,
}

/// Everything a [`Policy`] knows but its configuration: what to save and restore.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    pub alerts: Vec<Alert>,
    pub silences: Vec<Silence>,
    /// By channel name.
    pub groups: BTreeMap<String, Group>,
}

#[derive(Debug)]
pub struct Policy {
    config: PolicyConfig,
    /// Firing alerts, and resolved ones some channel still has to hear about.
    alerts: BTreeMap<String, Alert>,
    /// Only silences still active at the last call (expired ones are dropped).
    silences: Vec<Silence>,
    /// Parallel to `config.channels`.
    groups: Vec<Group>,
}

impl Policy {
    pub fn new(config: PolicyConfig) -> Self {
        let groups = config.channels.iter().map(|_| Group::default()).collect();
        Self {
            config,
            alerts: BTreeMap::new(),
            silences: Vec::new(),
            groups,
        }
    }

    /// A policy that goes on from `state` (saved by [`Policy::state`], possibly under
    /// another configuration): channels keep what they were told by name; a channel
    /// new in `config` starts afresh, a removed one is forgotten.
    pub fn restore(config: PolicyConfig, mut state: PolicyState, now: SystemTime) -> Self {
        let groups = config
            .channels
            .iter()
            .map(|c| state.groups.remove(&c.name).unwrap_or_default())
            .collect();
        let mut policy = Self {
            config,
            alerts: state.alerts.into_iter().map(|a| (a.fingerprint.clone(), a)).collect(),
            silences: state.silences,
            groups,
        };
        policy.refresh(now);
        policy
    }

    /// Takes in a state saved earlier, for when it could only be read after this policy
    /// started (the store opened late): what this policy knows wins, what only the
    /// saved state knew (alerts, what channels were told, silences) is added.
    pub fn merge(&mut self, saved: PolicyState, now: SystemTime) {
        for alert in saved.alerts {
            self.alerts.entry(alert.fingerprint.clone()).or_insert(alert);
        }
        for (c, group) in self.config.channels.iter().zip(self.groups.iter_mut()) {
            let Some(old) = saved.groups.get(&c.name) else { continue };
            for (fp, severity) in &old.told {
                group.told.entry(fp.clone()).or_insert(*severity);
            }
            group.last_sent = group.last_sent.max(old.last_sent);
        }
        for s in saved.silences {
            if !self.silences.contains(&s) {
                self.silences.push(s);
            }
        }
        self.refresh(now);
    }

    /// What to save (see [`Policy::restore`]).
    pub fn state(&self) -> PolicyState {
        PolicyState {
            alerts: self.alerts.values().cloned().collect(),
            silences: self.silences.clone(),
            groups: self
                .config
                .channels
                .iter()
                .zip(&self.groups)
                .map(|(c, g)| (c.name.clone(), g.clone()))
                .collect(),
        }
    }

    /// The active silences.
    pub fn silences(&self) -> &[Silence] {
        &self.silences
    }

    /// Whether an active silence matches `alert`.
    pub fn is_silenced(&self, alert: &Alert) -> bool {
        self.silenced(alert)
    }

    /// Takes one signal from the rules.
    pub fn signal(&mut self, signal: Signal, now: SystemTime) {
        match signal {
            Signal::Fire(mut alert) => {
                alert.status = AlertStatus::Firing;
                alert.resolved_at = None;
                match self.alerts.get_mut(&alert.fingerprint) {
                    Some(old) if old.status == AlertStatus::Firing => {
                        old.severity = alert.severity;
                        old.summary = alert.summary;
                        old.details.merge(alert.details);
                    }
                    _ => {
                        self.alerts.insert(alert.fingerprint.clone(), alert);
                    }
                }
            }
            Signal::Resolve { fingerprint, at } => {
                if let Some(a) = self.alerts.get_mut(&fingerprint) {
                    if a.status == AlertStatus::Firing {
                        a.status = AlertStatus::Resolved;
                        a.resolved_at = Some(at);
                    }
                }
            }
        }
        self.refresh(now);
    }

    /// Adds a silence (ignored if it has already ended).
    pub fn silence(&mut self, silence: Silence, now: SystemTime) {
        self.silences.push(silence);
        self.refresh(now);
    }

    /// Alerts currently firing, by fingerprint (for the API).
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values().filter(|a| a.status == AlertStatus::Firing)
    }

    /// The notifications due at `now`, in channel order; marks them as sent. The caller
    /// must hand them to the (durable) outbox: the policy will not produce them again.
    pub fn due(&mut self, now: SystemTime) -> Vec<Notification> {
        self.refresh(now);
        let mut out = Vec::new();
        for i in 0..self.groups.len() {
            if self.group_due(i).is_none_or(|t| t > now) {
                continue;
            }
            let mut firing: Vec<Alert> = Vec::new();
            let mut resolved: Vec<Alert> = Vec::new();
            for a in self.alerts.values() {
                match a.status {
                    AlertStatus::Firing if self.eligible(i, a) => firing.push(a.clone()),
                    AlertStatus::Resolved if self.groups[i].told.contains_key(&a.fingerprint) && !self.silenced(a) => {
                        resolved.push(a.clone())
                    }
                    _ => {}
                }
            }
            let group = &mut self.groups[i];
            for a in &firing {
                group.told.insert(a.fingerprint.clone(), a.severity);
            }
            for a in &resolved {
                group.told.remove(&a.fingerprint);
            }
            group.pending_since = None;
            group.last_sent = Some(now);
            if firing.is_empty() && resolved.is_empty() {
                continue;
            }
            firing.sort_by(|a, b| {
                b.severity
                    .cmp(&a.severity)
                    .then_with(|| a.fingerprint.cmp(&b.fingerprint))
            });
            firing.extend(resolved);
            let channel = self.config.channels[i].name.clone();
            out.push(Notification {
                group_key: channel.clone(),
                channel,
                at: now,
                subject: text::subject(&firing),
                alerts: firing,
            });
        }
        self.cleanup();
        out
    }

    /// The earliest time `due` may return something (or a silence ends); `None` when
    /// nothing is pending. Sleep until then, or until the next signal.
    pub fn next_wakeup(&self) -> Option<SystemTime> {
        let groups = (0..self.groups.len()).filter_map(|i| self.group_due(i));
        let silences = self.silences.iter().map(|s| s.until);
        groups.chain(silences).min()
    }

    fn silenced(&self, a: &Alert) -> bool {
        self.silences.iter().any(|s| s.matches(a))
    }

    fn eligible(&self, channel: usize, a: &Alert) -> bool {
        let c = &self.config.channels[channel];
        a.severity >= c.min_severity
            && !self.silenced(a)
            && rules::delivery_channel(&a.fingerprint) != Some(c.name.as_str())
    }

    fn has_change(&self, channel: usize) -> bool {
        let told = &self.groups[channel].told;
        self.alerts.values().any(|a| match a.status {
            AlertStatus::Firing => self.eligible(channel, a) && told.get(&a.fingerprint) != Some(&a.severity),
            AlertStatus::Resolved => told.contains_key(&a.fingerprint) && !self.silenced(a),
        })
    }

    fn has_told_firing(&self, channel: usize) -> bool {
        self.groups[channel].told.keys().any(|fp| {
            self.alerts
                .get(fp)
                .is_some_and(|a| a.status == AlertStatus::Firing && self.eligible(channel, a))
        })
    }

    fn group_due(&self, channel: usize) -> Option<SystemTime> {
        let g = &self.groups[channel];
        let c = &self.config;
        let change = g.pending_since.map(|since| {
            let wait = since + c.group_wait;
            match g.last_sent {
                Some(last) => wait.max(last + c.group_interval),
                None => wait,
            }
        });
        let repeat = match g.last_sent {
            Some(last) if self.has_told_firing(channel) => Some(last + c.repeat_interval),
            _ => None,
        };
        change.into_iter().chain(repeat).min()
    }

    fn refresh(&mut self, now: SystemTime) {
        self.silences.retain(|s| s.until > now);
        for i in 0..self.groups.len() {
            let change = self.has_change(i);
            let g = &mut self.groups[i];
            if !change {
                g.pending_since = None;
            } else if g.pending_since.is_none() {
                g.pending_since = Some(now);
            }
        }
        self.cleanup();
    }

    /// Forgets resolved alerts no channel has to hear about any more.
    fn cleanup(&mut self) {
        let groups = &self.groups;
        self.alerts
            .retain(|fp, a| a.status == AlertStatus::Firing || groups.iter().any(|g| g.told.contains_key(fp)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::{self, AlertDetails};
    use std::time::UNIX_EPOCH;

    const GROUP_WAIT: u64 = 30;
    const GROUP_INTERVAL: u64 = 300;
    const REPEAT: u64 = 3600;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn channel(name: &str, min: Severity) -> ChannelPolicy {
        ChannelPolicy {
            name: name.into(),
            min_severity: min,
        }
    }

    fn policy(channels: Vec<ChannelPolicy>) -> Policy {
        Policy::new(PolicyConfig {
            group_wait: Duration::from_secs(GROUP_WAIT),
            group_interval: Duration::from_secs(GROUP_INTERVAL),
            repeat_interval: Duration::from_secs(REPEAT),
            channels,
        })
    }

    fn one_channel() -> Policy {
        policy(vec![channel("email", Severity::Info)])
    }

    fn fire(fp: &str, severity: Severity, secs: u64) -> Signal {
        let program = fp.split(':').nth(1).map(str::to_owned);
        Signal::Fire(Alert {
            fingerprint: fp.into(),
            severity,
            summary: format!("{fp} summary"),
            details: AlertDetails {
                program,
                exit_code: None,
                signal: None,
                restarts: None,
                reason: None,
                stderr_tail: vec![],
                host: "h".into(),
                at: at(secs),
            },
            status: AlertStatus::Firing,
            resolved_at: None,
        })
    }

    fn crash(p: &str, secs: u64) -> Signal {
        fire(&rules::crashed_fingerprint(p), Severity::Error, secs)
    }

    fn resolve(fp: &str, secs: u64) -> Signal {
        Signal::Resolve {
            fingerprint: fp.into(),
            at: at(secs),
        }
    }

    /// What was sent at `secs`: per notification, `(channel, [(fingerprint, status)])`.
    fn sent(p: &mut Policy, secs: u64) -> Vec<(String, Vec<(String, AlertStatus)>)> {
        p.due(at(secs))
            .into_iter()
            .map(|n| {
                (
                    n.channel,
                    n.alerts.into_iter().map(|a| (a.fingerprint, a.status)).collect(),
                )
            })
            .collect()
    }

    use AlertStatus::{Firing, Resolved};

    fn fp(s: &str, st: AlertStatus) -> (String, AlertStatus) {
        (s.to_owned(), st)
    }

    #[test]
    fn a_burst_within_group_wait_is_one_notification_per_channel() {
        let mut p = policy(vec![channel("email", Severity::Info), channel("slack", Severity::Info)]);
        for i in 0..20 {
            p.signal(crash(&format!("p{i:02}"), i), at(i));
        }
        assert_eq!(p.next_wakeup(), Some(at(GROUP_WAIT)));
        assert!(p.due(at(GROUP_WAIT - 1)).is_empty());
        let ns = p.due(at(GROUP_WAIT));
        assert_eq!(ns.len(), 2);
        assert_eq!(ns[0].channel, "email");
        assert_eq!(ns[1].channel, "slack");
        assert_eq!(ns[0].group_key, "email");
        assert_eq!(ns[0].alerts.len(), 20);
        assert_eq!(ns[0].subject, "[ERROR] 20 programs crashed");
        assert!(p.due(at(GROUP_WAIT + 1)).is_empty());
    }

    #[test]
    fn an_unchanged_firing_alert_is_repeated_only_after_repeat_interval() {
        let mut p = one_channel();
        p.signal(crash("web", 0), at(0));
        assert_eq!(sent(&mut p, 30).len(), 1);
        // The same crash again and again: deduplicated.
        for t in [40, 100, 1000] {
            p.signal(crash("web", t), at(t));
            assert!(sent(&mut p, t).is_empty());
        }
        assert_eq!(p.next_wakeup(), Some(at(30 + REPEAT)));
        assert!(sent(&mut p, 30 + REPEAT - 1).is_empty());
        assert_eq!(
            sent(&mut p, 30 + REPEAT),
            [("email".into(), vec![fp("program_crashed:web", Firing)])]
        );
        assert_eq!(p.next_wakeup(), Some(at(30 + 2 * REPEAT)));
    }

    #[test]
    fn later_changes_wait_for_group_interval() {
        let mut p = one_channel();
        p.signal(crash("a", 0), at(0));
        assert_eq!(sent(&mut p, 30).len(), 1);
        p.signal(crash("b", 40), at(40));
        p.signal(crash("c", 50), at(50));
        // Not group_wait after b, but group_interval after the last notification.
        assert_eq!(p.next_wakeup(), Some(at(30 + GROUP_INTERVAL)));
        assert!(sent(&mut p, 70).is_empty());
        let got = sent(&mut p, 30 + GROUP_INTERVAL);
        // The full picture: a (already told) with b and c.
        assert_eq!(
            got,
            [(
                "email".into(),
                vec![
                    fp("program_crashed:a", Firing),
                    fp("program_crashed:b", Firing),
                    fp("program_crashed:c", Firing)
                ]
            )]
        );
    }

    #[test]
    fn a_change_after_a_quiet_time_waits_group_wait_only() {
        let mut p = one_channel();
        p.signal(crash("a", 0), at(0));
        sent(&mut p, 30);
        p.signal(resolve("program_crashed:a", 100), at(100));
        assert_eq!(sent(&mut p, 330).len(), 1);
        // Long after: group_wait, not group_interval, counts.
        p.signal(crash("b", 5000), at(5000));
        assert_eq!(p.next_wakeup(), Some(at(5000 + GROUP_WAIT)));
    }

    #[test]
    fn resolved_is_sent_once_after_a_notified_firing() {
        let mut p = one_channel();
        p.signal(crash("web", 0), at(0));
        sent(&mut p, 30);
        p.signal(resolve("program_crashed:web", 60), at(60));
        p.signal(resolve("program_crashed:web", 61), at(61)); // a second resolve is nothing
        let ns = p.due(at(30 + GROUP_INTERVAL));
        assert_eq!(ns.len(), 1);
        assert_eq!(ns[0].alerts[0].status, Resolved);
        assert_eq!(ns[0].alerts[0].resolved_at, Some(at(60)));
        assert_eq!(ns[0].subject, "[RESOLVED] program_crashed:web summary");
        assert_eq!(p.next_wakeup(), None);
        assert!(sent(&mut p, 100_000).is_empty());
        assert_eq!(p.firing().count(), 0);
    }

    #[test]
    fn no_resolved_for_a_never_notified_alert() {
        let mut p = one_channel();
        p.signal(crash("web", 0), at(0));
        p.signal(resolve("program_crashed:web", 10), at(10));
        assert_eq!(p.next_wakeup(), None);
        assert!(sent(&mut p, 30).is_empty());
        assert!(sent(&mut p, 100_000).is_empty());
        // A resolve for something never fired is nothing too.
        p.signal(resolve("check_down:db", 1), at(1));
        assert_eq!(p.next_wakeup(), None);
    }

    #[test]
    fn firing_and_resolved_travel_together() {
        let mut p = one_channel();
        p.signal(crash("a", 0), at(0));
        sent(&mut p, 30);
        p.signal(resolve("program_crashed:a", 40), at(40));
        p.signal(fire("program_failed:b", Severity::Critical, 41), at(41));
        let ns = p.due(at(30 + GROUP_INTERVAL));
        assert_eq!(ns[0].subject, "[CRITICAL] program_failed:b summary, 1 resolved");
        assert_eq!(ns[0].alerts[0].status, Firing);
        assert_eq!(ns[0].alerts[1].status, Resolved);
    }

    #[test]
    fn channels_get_only_alerts_at_or_above_their_minimum() {
        let mut p = policy(vec![
            channel("email", Severity::Warning),
            channel("slack", Severity::Critical),
        ]);
        p.signal(fire("probe_failing:web", Severity::Warning, 0), at(0));
        p.signal(crash("web", 0), at(0));
        p.signal(fire("program_failed:db", Severity::Critical, 0), at(0));
        p.signal(fire("x:info", Severity::Info, 0), at(0));
        let got = sent(&mut p, 30);
        assert_eq!(
            got,
            [
                (
                    "email".into(),
                    vec![
                        fp("program_failed:db", Firing),
                        fp("program_crashed:web", Firing),
                        fp("probe_failing:web", Firing)
                    ]
                ),
                ("slack".into(), vec![fp("program_failed:db", Firing)]),
            ]
        );
        // Resolving what slack never saw sends it nothing.
        p.signal(resolve("program_crashed:web", 40), at(40));
        assert_eq!(
            sent(&mut p, 30 + GROUP_INTERVAL),
            [(
                "email".into(),
                vec![
                    fp("program_failed:db", Firing),
                    fp("probe_failing:web", Firing),
                    fp("program_crashed:web", Resolved)
                ]
            )]
        );
    }

    #[test]
    fn an_escalation_is_a_change_a_de_escalation_does_not_repeat_below_minimum() {
        let mut p = policy(vec![
            channel("email", Severity::Warning),
            channel("pager", Severity::Critical),
        ]);
        p.signal(fire("system:disk:/", Severity::Warning, 0), at(0));
        assert_eq!(sent(&mut p, 30).len(), 1); // email only
        p.signal(fire("system:disk:/", Severity::Critical, 40), at(40));
        let got = sent(&mut p, 30 + GROUP_INTERVAL);
        assert_eq!(got.len(), 2, "{got:?}"); // email: changed severity; pager: new
        p.signal(fire("system:disk:/", Severity::Warning, 400), at(400));
        let got = sent(&mut p, 330 + GROUP_INTERVAL);
        assert_eq!(got, [("email".into(), vec![fp("system:disk:/", Firing)])]);
        p.signal(resolve("system:disk:/", 1000), at(1000));
        let got = sent(&mut p, 1000 + GROUP_WAIT);
        assert_eq!(got.len(), 2, "both were told it fired: {got:?}");
    }

    #[test]
    fn silenced_alerts_are_not_sent_until_the_silence_ends() {
        let mut p = one_channel();
        p.silence(
            Silence {
                matcher: "web".into(),
                until: at(1000),
            },
            at(0),
        );
        p.signal(crash("web", 10), at(10));
        p.signal(fire("probe_failing:web", Severity::Warning, 10), at(10));
        p.signal(crash("api", 10), at(10));
        assert_eq!(
            sent(&mut p, 40),
            [("email".into(), vec![fp("program_crashed:api", Firing)])]
        );
        // Wakes for the silence's end; what it held back is a new change (group_wait).
        assert_eq!(p.next_wakeup(), Some(at(1000)));
        assert!(sent(&mut p, 999).is_empty());
        assert!(sent(&mut p, 1000).is_empty());
        assert_eq!(p.next_wakeup(), Some(at(1000 + GROUP_WAIT)));
        let got = sent(&mut p, 1000 + GROUP_WAIT);
        assert_eq!(got[0].1.len(), 3, "{got:?}");
    }

    #[test]
    fn a_silenced_alert_that_was_never_sent_never_resolves_loudly() {
        let mut p = one_channel();
        p.silence(
            Silence {
                matcher: "program_crashed".into(),
                until: at(1000),
            },
            at(0),
        );
        p.signal(crash("web", 10), at(10));
        p.signal(resolve("program_crashed:web", 20), at(20));
        assert!(sent(&mut p, 1000).is_empty());
        assert!(sent(&mut p, 5000).is_empty());
        assert_eq!(p.next_wakeup(), None);
    }

    #[test]
    fn silence_matchers() {
        let s = |m: &str| Silence {
            matcher: m.into(),
            until: at(1),
        };
        let Signal::Fire(web) = crash("web", 0) else { panic!() };
        let Signal::Fire(disk) = fire("system:disk:/", Severity::Warning, 0) else {
            panic!()
        };
        assert!(s("web").matches(&web));
        assert!(s("program_crashed").matches(&web));
        assert!(s("program_crashed:").matches(&web));
        assert!(s("program_crashed:web").matches(&web));
        assert!(!s("we").matches(&web));
        assert!(!s("program_crashed:we").matches(&web));
        assert!(!s("").matches(&web));
        assert!(s("system").matches(&disk));
        assert!(s("system:disk").matches(&disk));
        assert!(!s("system:disk:/d").matches(&disk));
    }

    #[test]
    fn flapping_within_group_wait_does_not_spam() {
        let mut p = one_channel();
        // fire / resolve / fire before the first message: one firing notice.
        p.signal(crash("web", 0), at(0));
        p.signal(resolve("program_crashed:web", 5), at(5));
        p.signal(crash("web", 10), at(10));
        assert_eq!(
            sent(&mut p, 40),
            [("email".into(), vec![fp("program_crashed:web", Firing)])]
        );
        // After it was sent: resolve / fire between two messages is no change at all.
        p.signal(resolve("program_crashed:web", 50), at(50));
        p.signal(crash("web", 60), at(60));
        assert!(sent(&mut p, 40 + GROUP_INTERVAL).is_empty());
        // Fast flapping for an hour: at most one message per group_interval.
        let mut messages = 0;
        for t in (100..3700).step_by(10) {
            if t % 20 == 0 {
                p.signal(resolve("program_crashed:web", t), at(t));
            } else {
                p.signal(crash("web", t), at(t));
            }
            messages += p.due(at(t)).len();
        }
        assert!(messages <= (3600 / GROUP_INTERVAL) as usize + 1, "{messages}");
    }

    #[test]
    fn next_wakeup_tracks_the_earliest_due_group() {
        let mut p = policy(vec![
            channel("email", Severity::Info),
            channel("slack", Severity::Critical),
        ]);
        assert_eq!(p.next_wakeup(), None);
        p.signal(crash("a", 0), at(5));
        assert_eq!(p.next_wakeup(), Some(at(5 + GROUP_WAIT)));
        p.signal(fire("program_failed:a", Severity::Critical, 0), at(20));
        assert_eq!(p.next_wakeup(), Some(at(5 + GROUP_WAIT)));
        assert_eq!(sent(&mut p, 5 + GROUP_WAIT).len(), 1);
        assert_eq!(p.next_wakeup(), Some(at(20 + GROUP_WAIT)));
        assert_eq!(sent(&mut p, 20 + GROUP_WAIT).len(), 1);
        // Both told: the next thing is a repeat of the email, then of slack.
        assert_eq!(p.next_wakeup(), Some(at(5 + GROUP_WAIT + REPEAT)));
        // Everything resolves: a resolved notice per channel is due, then nothing.
        p.signal(resolve("program_crashed:a", 100), at(100));
        p.signal(resolve("program_failed:a", 100), at(100));
        assert_eq!(p.next_wakeup(), Some(at(5 + GROUP_WAIT + GROUP_INTERVAL)));
        assert_eq!(sent(&mut p, 5 + GROUP_WAIT + GROUP_INTERVAL).len(), 1);
        assert_eq!(p.next_wakeup(), Some(at(20 + GROUP_WAIT + GROUP_INTERVAL)));
        assert_eq!(sent(&mut p, 20 + GROUP_WAIT + GROUP_INTERVAL).len(), 1);
        assert_eq!(p.next_wakeup(), None);
    }

    #[test]
    fn refiring_keeps_the_start_and_merges_details() {
        let mut p = one_channel();
        let mut gave_up = fire("program_failed:web", Severity::Critical, 0);
        if let Signal::Fire(a) = &mut gave_up {
            a.details.restarts = Some(10);
        }
        p.signal(gave_up, at(0));
        p.signal(fire("program_failed:web", Severity::Critical, 1), at(1));
        let a = p.firing().next().unwrap();
        assert_eq!(a.details.restarts, Some(10));
        assert_eq!(a.details.at, at(0));
    }

    #[test]
    fn a_restored_policy_neither_repeats_nor_forgets_the_resolved_notice() {
        let mut p = policy(vec![channel("email", Severity::Info), channel("slack", Severity::Info)]);
        p.signal(crash("web", 0), at(0));
        assert_eq!(sent(&mut p, 30).len(), 2);
        // Saved (as JSON, like the store does), warden restarts, slack is removed.
        let json = serde_json::to_string(&p.state()).unwrap();
        let state: PolicyState = serde_json::from_str(&json).unwrap();
        let mut p = Policy::restore(
            PolicyConfig {
                group_wait: Duration::from_secs(GROUP_WAIT),
                group_interval: Duration::from_secs(GROUP_INTERVAL),
                repeat_interval: Duration::from_secs(REPEAT),
                channels: vec![channel("email", Severity::Info)],
            },
            state,
            at(40),
        );
        // Still firing after the restart: deduplicated, nothing new to send.
        p.signal(crash("web", 50), at(50));
        assert!(sent(&mut p, 100).is_empty());
        assert_eq!(p.next_wakeup(), Some(at(30 + REPEAT)));
        p.signal(resolve("program_crashed:web", 400), at(400));
        assert!(sent(&mut p, 429).is_empty());
        assert_eq!(
            sent(&mut p, 430),
            [("email".into(), vec![fp("program_crashed:web", Resolved)])]
        );
        assert_eq!(p.state().alerts, vec![]);
    }

    #[test]
    fn a_failing_channel_is_reported_on_the_others_only() {
        let mut p = policy(vec![channel("email", Severity::Info), channel("slack", Severity::Info)]);
        p.signal(
            rules::from_delivery("email", Some("SMTP 535 bad credentials"), "h", at(0)),
            at(0),
        );
        assert_eq!(
            sent(&mut p, GROUP_WAIT),
            [("slack".into(), vec![fp("delivery_failed:email", Firing)])]
        );
        p.signal(rules::from_delivery("email", None, "h", at(400)), at(400));
        assert_eq!(
            sent(&mut p, 430),
            [("slack".into(), vec![fp("delivery_failed:email", Resolved)])]
        );
    }

    #[test]
    fn a_state_read_late_is_merged_not_lost() {
        // Before the restart: web's crash was told to email.
        let mut before = one_channel();
        before.signal(crash("web", 0), at(0));
        assert_eq!(sent(&mut before, 30).len(), 1);
        let saved = before.state();
        // After it, the store opens late: db crashed meanwhile (not yet sent).
        let mut p = one_channel();
        p.signal(crash("db", 100), at(100));
        p.merge(saved, at(110));
        assert_eq!(p.firing().count(), 2);
        // web is not told again; db is; web's RESOLVED is still owed.
        assert_eq!(
            sent(&mut p, 330),
            [(
                "email".into(),
                vec![fp("program_crashed:db", Firing), fp("program_crashed:web", Firing)]
            )]
        );
        p.signal(resolve("program_crashed:web", 400), at(400));
        let last = sent(&mut p, 630);
        assert!(last[0].1.contains(&fp("program_crashed:web", Resolved)), "{last:?}");
    }
}
