//! From parsed options to a finished run: load the config, find the app,
//! plan the selected steps, check that their programs exist (before any
//! side effect), then print the plan (`--dry-run`) or run it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::{Cli, Command, Output};
use crate::config::{self, Loaded};
use crate::mixproj::MixProject;
use crate::plan::StepPlan;
use crate::report::{self, Verbosity};
use crate::runner::{self, Opts};
use crate::steps::{self, StepId};
use crate::{doctor, proc, Exit};

pub fn main(cli: Cli, root: PathBuf) -> Result<Exit> {
    let loaded = config::load(cli.global.config.as_deref(), &root)?;
    // The doctor reports a bad app dir as one of its rows, so it runs before
    // the app is read.
    match cli.command {
        Command::Doctor => return doctor::run(&cli, &loaded),
        Command::List => return list(&loaded),
        _ => {}
    }
    let app = app_dir(&cli, &loaded)?;
    let project = MixProject::read(&app)?;
    let (selected, fix) = match &cli.command {
        Command::List | Command::Doctor => unreachable!("they ran before the app is read"),
        Command::Ci => (loaded.config.ci.steps.clone(), false),
        Command::Deps => (vec![StepId::Deps], false),
        Command::Format { fix } => (vec![StepId::Format], *fix),
        Command::Compile => (vec![StepId::Compile], false),
        Command::Credo => (vec![StepId::Credo], false),
        Command::Sobelow => (vec![StepId::Sobelow], false),
        Command::Dialyzer => (vec![StepId::Dialyzer], false),
        Command::Assets => (vec![StepId::Assets], false),
        Command::Test(_) => (vec![StepId::Test], false),
        Command::Services { action } => {
            return crate::services::cmd::run(action, &cli, &loaded.config, &app, &project)
        }
    };
    let selected = ordered(selected);
    let default_test = steps::test::TestArgs::default();
    let test = match &cli.command {
        Command::Test(args) => args,
        _ => &default_test,
    };
    let ctx = steps::Ctx {
        app: &app,
        config: &loaded.config,
        project: &project,
        selected: &selected,
        fix,
        require_all: cli.global.require_all || loaded.config.ci.require_all,
        test,
    };
    // Planning asks Elixir for its versions, so Mix and Elixir come first;
    // then every program a plan starts. Bad input has had its one-line error
    // by then, and a drifted toolchain gets its cause named before anything
    // runs.
    check_programs(["mix", "elixir"])?;
    let plans = selected
        .iter()
        .map(|&id| steps::plan(id, &ctx))
        .collect::<Result<Vec<_>>>()?;
    check_programs(plans.iter().flat_map(steps::programs))?;
    if cli.global.dry_run {
        print_plan(&plans, &app);
        return Ok(Exit::Passed);
    }
    if matches!(cli.command, Command::Ci) {
        doctor::preflight(&cli, &loaded)?;
    }

    let verbosity = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, _) => Verbosity::Verbose,
    };
    let live: Option<runner::Live> = (cli.global.verbose >= 2
        && report::resolve(cli.global.output) != Output::Json)
        .then(|| {
            std::sync::Arc::new(|id: StepId, line: &str| eprintln!("[{id}] {line}")) as runner::Live
        });
    let jobs = cli.global.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        usize::from,
    );
    let opts = Opts {
        jobs,
        keep_going: cli.global.keep_going,
        base: app.clone(),
        live,
    };
    let mut ui = report::renderer(cli.global.output, verbosity, &app);
    let summary = runner::run(plans, opts, ui.as_mut());
    proc::shutdown();
    Ok(match (summary.interrupted, summary.failed()) {
        (true, _) => Exit::Interrupted,
        (false, true) => Exit::Failed,
        (false, false) => Exit::Passed,
    })
}

/// `--app-dir` is relative to where we were started; `app_dir` in the
/// config is relative to the config file.
fn app_dir(cli: &Cli, loaded: &Loaded) -> Result<PathBuf> {
    let dir = match &cli.global.app_dir {
        Some(d) => d.clone(),
        None => loaded.root.join(&loaded.config.app_dir),
    };
    if !dir.is_dir() {
        bail!(
            "app dir {} does not exist: fix --app-dir or app_dir in xtask.toml",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("resolve {}", dir.display()))
}

/// Steps in `ci` order, each once.
fn ordered(mut selected: Vec<StepId>) -> Vec<StepId> {
    selected.sort();
    selected.dedup();
    selected
}

/// Every program the plans start must be on PATH, or nothing runs. Mix and
/// Elixir are checked before planning too, since planning asks Elixir for
/// its versions.
fn check_programs<'a>(programs: impl IntoIterator<Item = &'a str>) -> Result<()> {
    for program in programs {
        if proc::which(program).is_none() {
            bail!("`{program}` is not on PATH: {}", install_hint(program));
        }
    }
    Ok(())
}

fn install_hint(program: &str) -> &'static str {
    match program {
        "npm" => "install Node.js 20+ (`apt-get install nodejs npm`), or enter the dev shell with `nix develop`",
        "dialyzer" => "install OTP's dialyzer (`apt-get install erlang-dialyzer`), or enter `nix develop`",
        _ => "install Elixir (`apt-get install elixir erlang-dev`), or enter the dev shell with `nix develop`",
    }
}

fn print_plan(plans: &[StepPlan], app: &Path) {
    let names = |ids: &[StepId]| ids.iter().map(|n| n.name()).collect::<Vec<_>>().join(", ");
    for p in plans {
        match (&p.skip, p.phases.first()) {
            (Some(why), _) => println!("{}: skipped: {why}", p.id),
            (None, Some(first)) if !first.needs.is_empty() => {
                println!("{} (after {}):", p.id, names(&first.needs))
            }
            (None, _) => println!("{}:", p.id),
        }
        for (i, phase) in p.phases.iter().enumerate() {
            if i > 0 {
                println!("  # then, after {}:", names(&phase.needs));
            }
            for a in &phase.actions {
                println!("  {}", a.describe(app));
            }
        }
    }
}

fn list(loaded: &Loaded) -> Result<Exit> {
    use clap::CommandFactory;
    let cmd = crate::cli::Cli::command();
    for id in StepId::ALL {
        let about = cmd
            .find_subcommand(id.name())
            .and_then(|c| c.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let in_ci = if loaded.config.ci.steps.contains(&id) {
            "ci"
        } else {
            "--"
        };
        println!("{:<10} {in_ci:<3} {about}", id.name());
    }
    Ok(Exit::Passed)
}
