//! One resolved run: the command line, the config files and the
//! environment, read once at the entry point into the value every layer
//! below takes. Nothing below reads `std::env` or the clap types' globals.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cli::{Cli, Command, ImageArgs, MigrateAction, MigrateArgs, Output, TestArgs};
use crate::config::{self, Config};
use crate::env::Env;
use crate::ids::StepId;

/// How a run ends. Exit codes: 0 all passed, 1 a step failed, 2 bad input
/// or a missing precondition (nothing ran), 130 interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Passed,
    Failed,
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Passed => 0,
            Exit::Failed => 1,
            Exit::Interrupted => crate::proc::interrupt_code(),
        }
    }
}

/// Where progress and the summary go, `auto` resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Terminal,
    Plain,
    Json,
    Github,
}

/// How much of the steps' output to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    /// `-vv`: every line as it comes.
    Stream,
}

pub struct Run {
    /// The directory holding xtask.toml (the project root).
    pub root: PathBuf,
    pub config: Config,
    /// The config files read, main first.
    pub config_files: Vec<PathBuf>,
    /// The app dir as given; `app()` checks it.
    pub app: PathBuf,
    pub mode: Mode,
    pub verbosity: Verbosity,
    pub jobs: usize,
    pub keep_going: bool,
    pub dry_run: bool,
    pub require_all: bool,
    /// The steps this run plans, in `ci` order.
    pub selected: Vec<StepId>,
    /// `ci --failed`: the steps that passed last run, shown as such.
    pub passed_before: Vec<StepId>,
    /// `format --fix`.
    pub fix: bool,
    /// `test`'s flags (the defaults under `ci`).
    pub test: TestArgs,
    /// `image`'s flags.
    pub image: ImageArgs,
    /// `migrate`'s flags.
    pub migrate: MigrateArgs,
    pub env: Env,
}

impl Run {
    /// Resolves everything once. `custom` names the repo's own steps.
    pub fn resolve(cli: &Cli, root: &Path, env: Env, custom: &[&'static str]) -> Result<Run> {
        let g = &cli.global;
        let loaded = config::load(g.config.as_deref(), root)?;
        let app = match &g.app_dir {
            Some(d) => d.clone(),
            None => loaded.root.join(&loaded.config.app_dir),
        };
        let selected = selected(&cli.command, &loaded.config, custom, &loaded.files)?;
        let named = loaded.config.deploy.values().flat_map(|d| d.env.clone());
        let env = env.with_named(named.collect::<Vec<_>>());
        let test = match &cli.command {
            Command::Test(args) => from_engine(args.clone(), &env)?,
            _ => TestArgs::default(),
        };
        let image = match &cli.command {
            Command::Image(args) => args.clone(),
            _ => ImageArgs::default(),
        };
        let migrate = match &cli.command {
            Command::Migrate(args) => args.clone(),
            _ => MigrateArgs::default(),
        };
        let verbosity = match (g.quiet, g.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Stream,
        };
        let jobs = g.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(2, |n| n.get()),
            usize::from,
        );
        Ok(Run {
            mode: mode(g.output, &env),
            verbosity,
            jobs,
            keep_going: keep_going(cli, &env),
            dry_run: g.dry_run,
            require_all: g.require_all || loaded.config.ci.require_all,
            fix: matches!(cli.command, Command::Format { fix: true }),
            selected,
            passed_before: Vec::new(),
            test,
            image,
            migrate,
            root: loaded.root,
            config: loaded.config,
            config_files: loaded.files,
            app,
            env,
        })
    }

    /// The app dir, checked and made absolute.
    pub fn app(&self) -> Result<PathBuf> {
        let dir = &self.app;
        let fix = "fix --app-dir or app_dir in xtask.toml";
        if !dir.exists() {
            bail!("app dir {} does not exist: {fix}", dir.display());
        }
        if !dir.is_dir() {
            bail!("app dir {} is not a directory: {fix}", dir.display());
        }
        Ok(dir.canonicalize()?)
    }
}

/// `--keep-going` or `--fail-fast` when given; else `ci` keeps going in CI
/// (`CI=true`, set by GitHub Actions, GitLab and the others), where one push
/// should show every failing step, and stops early on a laptop.
fn keep_going(cli: &Cli, env: &Env) -> bool {
    let g = &cli.global;
    match (g.keep_going, g.fail_fast) {
        (true, _) => true,
        (_, true) => false,
        _ => matches!(cli.command, Command::Ci { .. }) && env.is("CI", "true"),
    }
}

/// `auto` is GitHub's under GitHub Actions, spinners on a terminal, plain
/// blocks anywhere else.
fn mode(output: Output, env: &Env) -> Mode {
    match output {
        Output::Auto if env.is("GITHUB_ACTIONS", "true") => Mode::Github,
        Output::Auto if std::io::stderr().is_terminal() => Mode::Terminal,
        Output::Auto | Output::Plain => Mode::Plain,
        Output::Json => Mode::Json,
        Output::Github => Mode::Github,
    }
}

/// The steps a command runs, in `ci` order, each once.
/// `test` without `--partition` or `--partitions` inside a CI engine's
/// parallel job runs that job's leg.
fn from_engine(mut args: TestArgs, env: &Env) -> Result<TestArgs> {
    if args.partition.is_none() && args.partitions.is_none() {
        if let Some((p, from)) = crate::engines::partition(env)? {
            args.partition = Some(p);
            args.partition_from = Some(from);
        }
    }
    Ok(args)
}

fn selected(
    command: &Command,
    config: &Config,
    custom: &[&'static str],
    files: &[PathBuf],
) -> Result<Vec<StepId>> {
    let all = || {
        let mut all: Vec<StepId> = StepId::BUILT_IN
            .into_iter()
            .filter(|s| s.in_ci_by_default())
            .collect();
        all.extend(custom.iter().map(|c| StepId::Custom(c)));
        all
    };
    let by_name = |names: &[String], source: &str| -> Result<Vec<StepId>> {
        names.iter().map(|n| step(n, custom, source)).collect()
    };
    let source = files
        .first()
        .map_or("xtask.toml".into(), |f| f.display().to_string());
    let mut ids = match command {
        Command::Ci { skip, .. } => {
            let ids = match &config.ci.steps {
                Some(names) => by_name(names, &format!("{source}: [ci] steps"))?,
                None => all(),
            };
            // `ci --skip test`: the checks job of a workflow whose tests run
            // as a matrix of legs.
            let skipped = by_name(skip, "cargo xtask ci --skip")?;
            ids.into_iter().filter(|id| !skipped.contains(id)).collect()
        }
        Command::Step { names } => by_name(names, "cargo xtask step")?,
        // `list` marks what `ci` runs, so a bad `[ci] steps` fails as in `ci`.
        Command::List => {
            if let Some(names) = &config.ci.steps {
                by_name(names, &format!("{source}: [ci] steps"))?;
            }
            Vec::new()
        }
        Command::Deps => vec![StepId::Deps],
        Command::Format { .. } => vec![StepId::Format],
        Command::Compile => vec![StepId::Compile],
        Command::Credo => vec![StepId::Credo],
        Command::Sobelow => vec![StepId::Sobelow],
        Command::Xref => vec![StepId::Xref],
        Command::Gettext => vec![StepId::Gettext],
        Command::Docs => vec![StepId::Docs],
        Command::Audit => vec![StepId::Audit],
        Command::Dialyzer => vec![StepId::Dialyzer],
        Command::Assets => vec![StepId::Assets],
        Command::Test(_) => vec![StepId::Test],
        Command::Image(_) => vec![StepId::Image],
        Command::Migrate(args) if matches!(args.action, Some(MigrateAction::Check { .. })) => {
            vec![StepId::Migrations]
        }
        _ => Vec::new(),
    };
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn step(name: &str, custom: &[&'static str], source: &str) -> Result<StepId> {
    if let Some(id) = StepId::built_in(name) {
        return Ok(id);
    }
    if let Some(c) = custom.iter().find(|c| **c == name) {
        return Ok(StepId::Custom(c));
    }
    let mut known: Vec<&str> = StepId::BUILT_IN.iter().map(|s| s.name()).collect();
    known.extend(custom);
    bail!(
        "{source} names `{name}`, which is not a step: use one of {} (`cargo xtask list`)",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str], toml: &str) -> Result<Run> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("xtask.toml"), toml).unwrap();
        let cli = Cli::try_parse_from([&["xtask"], args].concat()).unwrap();
        Run::resolve(&cli, dir.path(), Env::default(), &["licenses"])
    }

    #[test]
    fn ci_runs_every_step_unless_the_config_names_them() {
        let run = resolve(&["ci"], "").unwrap();
        assert_eq!(run.selected.len(), 14);
        assert!(
            !run.selected.contains(&StepId::Image),
            "the image is built on its own"
        );
        assert_eq!(run.selected.last(), Some(&StepId::Custom("licenses")));
        let run = resolve(
            &["ci"],
            "[ci]\nsteps = [\"test\", \"licenses\", \"deps\"]\n",
        )
        .unwrap();
        assert_eq!(
            run.selected,
            [StepId::Deps, StepId::Test, StepId::Custom("licenses")]
        );
    }

    #[test]
    fn ci_skip_leaves_steps_out_and_a_leg_comes_from_the_engine() {
        let run = resolve(&["ci", "--skip", "test", "--skip", "licenses"], "").unwrap();
        assert_eq!(run.selected.len(), 12);
        assert!(!run.selected.contains(&StepId::Test) && run.selected.contains(&StepId::Deps));
        let err = resolve(&["ci", "--skip", "tests"], "")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("cargo xtask ci --skip names `tests`"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("xtask.toml"), "").unwrap();
        let env = Env::from_pairs(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")]);
        let cli = Cli::try_parse_from(["xtask", "test"]).unwrap();
        let run = Run::resolve(&cli, dir.path(), env.clone(), &[]).unwrap();
        assert_eq!(
            run.test.partition,
            Some(crate::cli::Partition { k: 2, n: 3 })
        );
        // --partitions (several at once on this machine) wins over the engine.
        let cli = Cli::try_parse_from(["xtask", "test", "--partitions", "2"]).unwrap();
        assert_eq!(
            Run::resolve(&cli, dir.path(), env, &[])
                .unwrap()
                .test
                .partition,
            None
        );
    }

    #[test]
    fn an_unknown_step_names_the_known_ones() {
        let err = resolve(&["ci"], "[ci]\nsteps = [\"lint\"]\n")
            .err()
            .unwrap();
        let err = err.to_string();
        assert!(
            err.contains("[ci] steps names `lint`, which is not a step"),
            "{err}"
        );
        assert!(
            err.contains("deps, format") && err.contains("licenses"),
            "{err}"
        );
        let err = resolve(&["list"], "[ci]\nsteps = [\"lint\"]\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("[ci] steps names `lint`, which is not a step"),
            "{err}"
        );
        let err = resolve(&["step", "nope"], "").err().unwrap().to_string();
        assert!(err.starts_with("cargo xtask step names `nope`"), "{err}");
    }

    #[test]
    fn verbosity_jobs_and_fix_are_resolved_once() {
        let run = resolve(&["format", "--fix", "-vv", "-j", "3"], "").unwrap();
        assert_eq!(
            (run.verbosity, run.jobs, run.fix),
            (Verbosity::Stream, 3, true)
        );
        assert_eq!(run.selected, [StepId::Format]);
    }

    #[test]
    fn ci_keeps_going_in_ci_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let keep = |args: &[&str], ci: bool| {
            let cli = Cli::try_parse_from([&["xtask"], args].concat()).unwrap();
            let env = match ci {
                true => Env::from_pairs(&[("CI", "true")]),
                false => Env::default(),
            };
            Run::resolve(&cli, dir.path(), env, &[]).unwrap().keep_going
        };
        assert!(keep(&["ci"], true));
        assert!(!keep(&["ci"], false));
        assert!(!keep(&["ci", "--fail-fast"], true));
        assert!(keep(&["ci", "--keep-going"], false));
        assert!(!keep(&["format"], true), "a single step stops early");
        assert!(Cli::try_parse_from(["xtask", "ci", "--keep-going", "--fail-fast"]).is_err());
    }

    #[test]
    fn an_app_dir_that_is_a_file_is_named_as_such() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut run = resolve(&["ci"], "").unwrap();
        run.app = file.path().to_path_buf();
        let err = run.app().unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
