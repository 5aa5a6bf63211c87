//! warden: one binary that keeps a personal "AI employee" running 24/7.
//!
//! Layout (imports point down only; see `ARCHITECTURE.md`):
//!
//! | layer | modules |
//! | --- | --- |
//! | 0 vocabulary, no I/O | [`config`], [`events`], [`api`], [`schedule`] |
//! | 1 pure cores | [`supervisor::machine`], [`supervisor::backoff`], [`supervisor::order`], [`supervisor::health`], [`health::verdict`], [`alerts`] |
//! | 2 runtime adapters | [`supervisor`] (the loop), [`platform`] (spawn, reap, kill, /proc), [`logs`], [`health`] (probes, system, checks), [`store`], [`channels`] (email, Slack), [`telemetry`] |
//! | 3 surfaces | [`serve`], [`http`], [`journal`], [`alerting`], [`jobs`], [`dashboard`], [`auth`], [`tls`], [`metrics`], [`openapi`], [`redact`], [`cli`], [`client`] |
//! | 4 wiring | [`app`], [`service`] (systemd notify, Kubernetes grace), `main.rs` |
//!
//! Start reading at [`app::run`]: it loads the config, starts the reaper, the
//! supervisor loop and the HTTP server, and waits for signals.

pub mod alerting;
pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod client;
pub mod config;
pub mod dashboard;
pub mod events;
pub mod health;
pub mod http;
pub mod jobs;
pub mod journal;
pub mod logs;
pub mod metrics;
pub mod openapi;
pub mod redact;
pub mod schedule;
pub mod serve;
pub mod service;
pub mod store;

pub mod platform;
pub mod supervisor;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod text;
pub mod tls;
