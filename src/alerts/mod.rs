//! Alerts as pure code (layer 1): which supervisor events, checks and host findings
//! raise or clear an alert ([`rules`]), when and to which channel a notification is due
//! ([`policy`], an Alertmanager-like state machine driven by an explicit clock), and
//! every text a person reads ([`text`]).
//!
//! Nothing here does I/O or reads a clock: the caller (`crate::alerting`) passes `now`,
//! sleeps until [`policy::Policy::next_wakeup`], then puts what
//! [`policy::Policy::due`] returns in the outbox, from which the channels send it.

pub mod policy;
pub mod rules;
pub mod text;

pub use policy::{ChannelPolicy, Notification, Policy, PolicyConfig, Silence};
pub use rules::{Alert, AlertDetails, AlertStatus, Severity, Signal, SystemLevel};
