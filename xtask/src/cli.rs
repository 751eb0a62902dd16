//! The command line: clap derive types whose doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A Phoenix app's whole CI as one command, the same on a laptop and in CI.
///
/// Every step plans the commands it needs, then one runner executes them:
/// independent steps run at the same time, each step's output is captured,
/// and a summary says what passed, what failed and how to fix it.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The Phoenix app's directory (default: `app_dir` from xtask.toml).
    #[arg(long, global = true, value_name = "DIR")]
    pub app_dir: Option<PathBuf>,
    /// The config file (default: xtask.toml at the project root).
    #[arg(long, global = true, value_name = "FILE", env = "XTASK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print every command that would run, in order, and run none of them.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Keep running the steps that do not depend on a failed one.
    #[arg(long, global = true)]
    pub keep_going: bool,
    /// How many steps may run at once (default: the number of cores).
    #[arg(long, short = 'j', global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// How to show progress and the summary.
    #[arg(long, global = true, value_enum, default_value_t = Output::Auto)]
    pub output: Output,
    /// Treat a step skipped for a missing tool (credo, sobelow) as a failure.
    #[arg(long, global = true)]
    pub require_all: bool,
    /// Show every step's output, not only the failures' (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Show only failures and the summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Where output goes: `auto` draws spinners on a terminal, uses GitHub's
/// groups and annotations under GitHub Actions, and plain blocks elsewhere.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Auto,
    Plain,
    Json,
    Github,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fetch and compile dependencies, and check mix.lock for unused ones.
    Deps,
    /// Check formatting with `mix format --check-formatted`.
    Format {
        /// Rewrite the files instead of checking them.
        #[arg(long)]
        fix: bool,
    },
    /// Compile with warnings as errors.
    Compile,
    /// Run `mix credo --strict` (skipped when credo is not a dependency).
    Credo,
    /// Run `mix sobelow --config` (skipped when sobelow is not a dependency).
    Sobelow,
    /// Run dialyzer with a cached PLT (dialyxir when it is a dependency,
    /// else OTP's dialyzer on the compiled beams).
    Dialyzer,
    /// Install, lint, test and build the assets, then `mix assets.deploy`,
    /// then check that every configured output exists and is not empty.
    Assets,
    /// Run `mix test` with Postgres and Redis started for it (at once, while
    /// the test build compiles), in partitions if asked, then report coverage.
    Test(crate::steps::test::TestArgs),
    /// Start Postgres and Redis for development (`up`), remove this
    /// project's containers (`down`), or list them (`status`).
    Services {
        #[command(subcommand)]
        action: crate::services::cmd::Action,
    },
    /// Run every step `ci` is configured to run, after the doctor's checks.
    Ci,
    /// Check this machine against the pins in xtask.toml: each tool's version,
    /// the docker daemon, disk space for images, and the app dir.
    Doctor,
    /// List the steps, whether `ci` runs each, and what each does.
    List,
}
