//! The command line (clap): what a user can type. Parsing only; `app` runs it (and
//! `client` runs the verbs that talk to a running warden over HTTP).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    about = "Keeps a personal AI employee's programs running 24/7"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run in the foreground: supervise the configured programs until SIGTERM/SIGINT.
    Run(ConfigArg),
    /// Validate the configuration, print a summary, exit 0 (valid) or 2 (invalid).
    Check(ConfigArg),
    /// Write a commented example configuration.
    Init(InitArgs),
    /// The verbs that talk to a running warden over its HTTP API.
    #[command(flatten)]
    Client(ClientCommand),
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(short, long, env = "WARDEN_CONFIG", default_value = "warden.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "warden.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Client verbs: each asks a running warden (`--url`) and exits 0, or 1 with the reason
/// on stderr.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Show the programs of a running warden: state, pid, uptime, restarts, usage, probe.
    Status(StatusArgs),
    /// Start a program (a failed one gets a fresh restart budget).
    Start(ControlArgs),
    /// Stop a program and its whole process tree; it stays down until started again.
    Stop(ControlArgs),
    /// Stop and start a program at once.
    Restart(ControlArgs),
    /// Print a program's last log lines; with -f, keep printing new ones.
    Logs(LogsArgs),
    /// Reload warden's configuration file: only what changed is restarted.
    Reload(ReloadArgs),
    /// Exit 0 when warden is live (or ready), 1 otherwise: a HEALTHCHECK without curl.
    Probe(ProbeArgs),
    /// Start a scheduled program (`schedule`) at once, outside its schedule.
    RunNow(RunNowArgs),
    /// Run N copies of a program that has an `instances` key (until the next reload of
    /// the file): copies are started, or stopped from the highest index down.
    Scale(ScaleArgs),
    /// Alert channels: `warden alert test` sends a test notification through them.
    Alert(AlertArgs),
}

#[derive(Debug, Args)]
pub struct RunNowArgs {
    /// The scheduled program.
    pub name: String,
    /// Answer once the run has ended (exited, failed or stopped).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The program (its `[[program]]` name, not a copy's).
    pub name: String,
    /// How many copies, 1 to 100.
    #[arg(value_parser = clap::value_parser!(u32).range(1..=100))]
    pub instances: u32,
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct AlertArgs {
    #[command(subcommand)]
    pub action: AlertAction,
}

#[derive(Debug, Subcommand)]
pub enum AlertAction {
    /// Send a test notification through the real path (outbox, then the channel) and
    /// say whether it was delivered: checks SMTP and webhook settings.
    Test(AlertTestArgs),
}

#[derive(Debug, Args)]
pub struct AlertTestArgs {
    /// Only this channel [default: every configured one].
    #[arg(long, value_enum)]
    pub channel: Option<AlertChannel>,
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlertChannel {
    Email,
    Slack,
}

/// How to reach a running warden.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The running warden's HTTP address.
    #[arg(
        long,
        env = "WARDEN_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub url: String,
    /// API token, sent as `Authorization: Bearer TOKEN` (prefer the variable: a
    /// command line shows in `ps`).
    #[arg(long, env = "WARDEN_API_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<ApiToken>,
    /// How long to wait for each answer, e.g. `10s`, `500ms` [default: 10s; probe: 5s].
    /// With --wait: how long warden waits for the program [default: 30s]. `alert test`:
    /// how long warden waits for the deliveries [default: 20s].
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// For an `https://` URL: trust only this PEM certificate (e.g. warden's own
    /// self-signed one) instead of the system's roots.
    #[arg(long, env = "WARDEN_CACERT", value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the server's JSON answer (indented) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The program.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub name: Option<String>,
    /// Every configured program (disabled ones are skipped), one line each.
    #[arg(long)]
    pub all: bool,
    /// Answer once the program is running (start, restart) or stopped (stop); fail if
    /// it did not get there within warden's timeout.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The program.
    pub name: String,
    /// How many of the last lines to print.
    #[arg(short = 'n', long = "lines", default_value_t = 100, value_name = "N")]
    pub lines: usize,
    /// Keep printing new lines as they come, until warden closes or Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// `live`: warden's supervision loop answers; `ready`: every required program and
    /// check is up.
    #[arg(value_enum)]
    pub what: ProbeKind,
    #[command(flatten, next_help_heading = "Connection")]
    pub remote: Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeKind {
    Live,
    Ready,
}

/// An API token: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// The value, for the `Authorization` header only.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

impl std::str::FromStr for ApiToken {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ApiToken(s.to_string()))
    }
}

/// `10s`, `1m`, `500ms`, or a bare number of seconds.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return Err("must be a positive duration".into()),
        Err(_) => humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (e.g. `10s`, `500ms`)"))?,
    };
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("warden").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn control_takes_a_name_or_all_but_not_both() {
        let cli = parse(&["restart", "web", "--wait"]).unwrap();
        let Command::Client(ClientCommand::Restart(args)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.name.as_deref(), Some("web"));
        assert!(args.wait && !args.all);
        assert!(parse(&["stop", "--all"]).is_ok());
        assert!(parse(&["stop"]).is_err());
        assert!(parse(&["stop", "web", "--all"]).is_err());
    }

    #[test]
    fn timeouts_read_as_durations_or_seconds() {
        assert_eq!(parse_timeout("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn a_token_never_shows_in_debug() {
        let cli = parse(&["status", "--token", "s3cret"]).unwrap();
        assert!(!format!("{cli:?}").contains("s3cret"));
    }

    #[test]
    fn probe_and_logs_parse() {
        let cli = parse(&["probe", "ready", "--timeout", "2s"]).unwrap();
        let Command::Client(ClientCommand::Probe(p)) = cli.command else {
            panic!()
        };
        assert_eq!(p.what, ProbeKind::Ready);
        assert_eq!(p.remote.timeout, Some(Duration::from_secs(2)));
        let cli = parse(&["logs", "web", "-n", "5", "-f"]).unwrap();
        let Command::Client(ClientCommand::Logs(l)) = cli.command else {
            panic!()
        };
        assert_eq!((l.name.as_str(), l.lines, l.follow), ("web", 5, true));
        assert!(parse(&["probe", "dead"]).is_err());
    }
}
