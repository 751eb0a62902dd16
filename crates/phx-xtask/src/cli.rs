//! The command line: every clap type, whose doc comments are the `--help`
//! text. Nothing below the entry point sees these: `run::Run` is resolved
//! from them once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Backend;

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
    /// Keep running the steps that do not depend on a failed one (the
    /// default of `ci` when CI=true, so one run shows every failure).
    #[arg(long, global = true, conflicts_with = "fail_fast")]
    pub keep_going: bool,
    /// Start no new step after the first failure (the default, except for
    /// `ci` when CI=true).
    #[arg(long, global = true)]
    pub fail_fast: bool,
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
    /// Fail on compile-connected references over `[xref]
    /// compile_connected_max` (`mix xref graph --label compile-connected`).
    Xref,
    /// Check the .pot files are up to date (skipped when gettext is not a
    /// dependency).
    Gettext,
    /// Build the docs with warnings as errors (skipped when ex_doc is not a
    /// dependency).
    Docs,
    /// Run `mix hex.audit`, and `mix deps.audit` with mix_audit (skipped
    /// offline).
    Audit,
    /// Run dialyzer with a cached PLT (dialyxir when it is a dependency,
    /// else OTP's dialyzer on the compiled beams).
    Dialyzer,
    /// Install, lint, test and build the assets, then `mix assets.deploy`,
    /// then check that every configured output exists and is not empty.
    Assets,
    /// Run `mix test` with Postgres and Redis started for it (at once, while
    /// the test build compiles), in partitions if asked, then report coverage.
    Test(TestArgs),
    /// Merge the results of a suite split over CI machines (`test
    /// --partition K/N` on each): prove every leg and test file ran once,
    /// merge coverage (threshold on the union, cover/lcov.info) and JUnit,
    /// and write the timings the next split balances by.
    Merge {
        /// The legs' `_build/xtask/shard-K-of-N` directories (or
        /// directories holding them), as downloaded.
        #[arg(value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Start Postgres and Redis for development (`up`), remove this
    /// project's containers (`down`), or list them (`status`).
    Services {
        #[command(subcommand)]
        action: ServicesAction,
    },
    /// Build the release image from the app's own Dockerfile, with the
    /// pinned toolchain, tags and OCI labels from git; `--push` pushes it.
    Image(ImageArgs),
    /// Database migrations: `up` (the default), `status`, `rollback --to
    /// VERSION`, and `check` (reversible and lint-clean), against the local
    /// database, a one-off container of the image, or a Fly app.
    Migrate(MigrateArgs),
    /// Deploy the recorded image to an environment from `[deploy.<env>]`,
    /// behind a health gate, with automatic rollback; or `rollback` and
    /// `status`.
    Deploy(DeployArgs),
    /// Run every step `ci` is configured to run, after the doctor's checks.
    Ci {
        /// Rerun only the steps that failed (or did not run) in the last
        /// `ci` in this app dir, and the tests with `mix test --failed`.
        #[arg(long)]
        failed: bool,
        /// Leave this step out (repeatable): `ci --skip test` is the checks
        /// job of a workflow that runs the tests as a matrix of legs.
        #[arg(long, value_name = "STEP")]
        skip: Vec<String>,
    },
    /// Check this machine against the pins in xtask.toml: each tool's version,
    /// the docker daemon, disk space for images, and the app dir.
    Doctor,
    /// List the steps, whether `ci` runs each, and what each does.
    List,
    /// Run the named steps (built-in or the repo's own) as `ci` would.
    Step {
        /// The steps, by name (see `cargo xtask list`).
        #[arg(required = true, value_name = "STEP")]
        names: Vec<String>,
    },
    /// Set up phx-xtask in an existing Phoenix repo: xtask.toml with the
    /// pins read from the app, the thin xtask crate, the cargo alias, the
    /// flake and the CI workflow.
    Init(InitArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct InitArgs {
    /// The repository to set up (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Depend on phx-xtask from this git repository (default: a path to
    /// the checkout init runs from, else the crates.io version).
    #[arg(long, value_name = "URL", conflicts_with = "version")]
    pub git: Option<String>,
    /// With --git: the commit, tag or branch to build.
    #[arg(long, value_name = "REV", requires = "git")]
    pub rev: Option<String>,
    /// Depend on this crates.io version of phx-xtask.
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// Write a workflow that runs the suite as N legs on N machines (a
    /// checks job, a test matrix, and `cargo xtask merge`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=256))]
    pub legs: Option<u32>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ImageArgs {
    /// Push every tag to the registry (`[image] registry`) and record the
    /// digest. Credentials come from REGISTRY_USER/REGISTRY_PASSWORD (or
    /// GITHUB_TOKEN for ghcr.io), through `docker login --password-stdin`.
    #[arg(long)]
    pub push: bool,
    /// Build for these platforms through buildx (`linux/amd64,linux/arm64`).
    #[arg(long, value_name = "LIST")]
    pub platform: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeployArgs {
    #[command(subcommand)]
    pub action: Option<DeployAction>,
    /// The environment, a `[deploy.<env>]` table in xtask.toml.
    #[arg(value_name = "ENV")]
    pub env: Option<String>,
    /// Print what the deploy would do (image, pending migrations and their
    /// lint findings, strategy, gate, rollback target) and change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Deploy to production without asking.
    #[arg(long)]
    pub yes: bool,
    /// The image to deploy (default: the one `cargo xtask image` recorded).
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Deploy although this image did not pass the environment's
    /// prerequisite (staging); the reason is logged.
    #[arg(long, value_name = "REASON")]
    pub skip_staging_check: Option<String>,
    /// Run migrations that break the code still serving (a removed or
    /// renamed column or table) before traffic moves.
    #[arg(long)]
    pub allow_breaking_migrations: bool,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum DeployAction {
    /// Go back to a kept release (default: the one before the current).
    Rollback {
        #[arg(value_name = "ENV")]
        env: String,
        /// The release's version (see `deploy status`).
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Roll production back without asking.
        #[arg(long)]
        yes: bool,
    },
    /// The current release (version, digest, since when), and on each
    /// docker host the release serving there and the kept ones. Reads only:
    /// needs no secrets.
    Status {
        #[arg(value_name = "ENV")]
        env: String,
    },
    /// docker: create the environment's network and proxy container on
    /// each host (idempotent; run it once per host, and again after
    /// changing proxy_image or proxy_publish's config).
    Setup {
        #[arg(value_name = "ENV")]
        env: String,
    },
    /// docker: break the environment's deploy lock (on its first host),
    /// left by a deploy that was killed; says who held it.
    Unlock {
        #[arg(value_name = "ENV")]
        env: String,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub action: Option<MigrateAction>,
    /// Where the migrations run.
    #[arg(long, value_enum, default_value_t = MigrateTarget::Local, global = true)]
    pub target: MigrateTarget,
    /// The Fly app (`--target fly`).
    #[arg(long, value_name = "NAME", global = true)]
    pub app: Option<String>,
    /// The image to run (`--target image`; default: the one `cargo xtask
    /// image` recorded).
    #[arg(long, value_name = "REF", global = true)]
    pub image: Option<String>,
    /// Where the throwaway database comes from when DATABASE_URL is not set
    /// (as `test --services`).
    #[arg(long, value_enum, value_name = "BACKEND", global = true)]
    pub services: Option<Backend>,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum MigrateAction {
    /// Apply the pending migrations (the default).
    Up,
    /// List each migration file as up or down, and versions in the
    /// database that have no file.
    Status,
    /// Roll back every migration newer than VERSION, and VERSION itself.
    Rollback {
        #[arg(long, value_name = "VERSION")]
        to: String,
    },
    /// Check the migrations on a throwaway database: each one reversible
    /// (the schema after down and up again is the same), and none using a
    /// pattern that locks production tables. By default only the migrations
    /// added or changed since the merge base with the default branch are
    /// checked one by one (and linted); the others are applied in one step.
    Check {
        /// Check and lint every migration, not only the branch's.
        #[arg(long)]
        all: bool,
    },
}

/// Where `migrate` runs.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrateTarget {
    /// The app's migrate command against DATABASE_URL, or against services
    /// started as `cargo xtask test` starts them.
    #[default]
    Local,
    /// `bin/migrate` in a one-off container of the built image.
    Image,
    /// `flyctl ssh console --app NAME --command /app/bin/migrate`.
    Fly,
}

#[derive(Args, Debug, Clone, Default)]
pub struct TestArgs {
    /// Run the suite as N `mix test --partitions N` processes at once, each
    /// with its own database and Redis DB (default: [test] partitions).
    #[arg(long, value_name = "N", conflicts_with = "partition")]
    pub partitions: Option<u32>,
    /// Run leg K of N of the suite, one leg per CI machine: its share of
    /// the test files, balanced by time, with its results in
    /// `_build/xtask/shard-K-of-N/` for `cargo xtask merge` (default: the
    /// engine's CI_NODE_INDEX/TOTAL, BUILDKITE_PARALLEL_JOB/_COUNT or
    /// CIRCLE_NODE_INDEX/TOTAL).
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<Partition>,
    /// The per-file durations the split balances by (default: the file the
    /// last `cargo xtask merge` wrote, `_build/xtask/test-timings.json`; a
    /// missing file splits by file alone).
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,
    /// Where the partition came from, when an engine's variables said.
    #[arg(skip)]
    pub partition_from: Option<String>,
    /// Run only the tests with this tag (repeatable), as ExUnit's --only.
    #[arg(long, value_name = "TAG")]
    pub only: Vec<String>,
    /// Leave out the tests with this tag (repeatable), as ExUnit's --exclude.
    #[arg(long, value_name = "TAG")]
    pub exclude: Vec<String>,
    /// Run only the tests that failed last time.
    #[arg(long)]
    pub failed: bool,
    /// Where Postgres and Redis come from (default: XTASK_SERVICES, else
    /// [services] backend, else docker).
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub services: Option<Backend>,
    /// Arguments for `mix test` itself, after `--` (`-- --seed 0`).
    #[arg(last = true, value_name = "MIX_TEST_ARGS")]
    pub extra: Vec<String>,
}

/// `--partition K/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: u32,
    pub n: u32,
}

pub fn parse_partition(s: &str) -> std::result::Result<Partition, String> {
    let bad = || format!("`{s}` is not K/N: write the partition and the count, like 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(format!(
            "partition {k}/{n} does not exist: K must be between 1 and N"
        ));
    }
    Ok(Partition { k, n })
}

#[derive(Subcommand, Debug, Clone)]
pub enum ServicesAction {
    /// Start Postgres and Redis, print their URLs, and keep them running
    /// until Ctrl-C or `cargo xtask services down`.
    Up {
        /// Where they run: docker, native or auto (default: XTASK_SERVICES,
        /// else [services] backend, else docker).
        #[arg(long, value_enum, value_name = "BACKEND")]
        services: Option<Backend>,
        /// Stop again as soon as both answer (for measuring start-up).
        #[arg(long, hide = true)]
        exit_when_ready: bool,
    },
    /// Remove every container this project started, found by its labels.
    Down,
    /// List this project's containers: service, port, run and owner.
    Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn partition_specs() {
        assert_eq!(parse_partition("2/4"), Ok(Partition { k: 2, n: 4 }));
        assert_eq!(parse_partition(" 1 / 1 "), Ok(Partition { k: 1, n: 1 }));
        for bad in ["", "2", "2/", "/4", "a/b", "-1/4", "2/4/8"] {
            assert!(
                parse_partition(bad).unwrap_err().contains("is not K/N"),
                "{bad}"
            );
        }
        for bad in ["0/4", "5/4", "1/0"] {
            assert!(
                parse_partition(bad).unwrap_err().contains("does not exist"),
                "{bad}"
            );
        }
    }
}
