//! warden's own log: JSON lines for machines (systemd journal, docker, kubelet), or
//! human-readable text when stderr is a terminal.
//!
//! `WARDEN_LOG` sets the filter (`info` by default, `warden=debug` for more);
//! `WARDEN_LOG_FORMAT=json|text` overrides the terminal detection.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("WARDEN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("WARDEN_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        builder.with_target(false).try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
