//! The command line (clap): what a user can type. Parsing only; `app` runs it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
