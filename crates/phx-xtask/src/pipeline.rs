//! From a parsed command line to a finished run:
//!
//! 1. resolve the `Run` (config files, app dir, output mode, environment);
//! 2. plan the selected steps, from files and the `Run` alone;
//! 3. `--dry-run`: print the plans and stop;
//! 4. check the machine: every program on PATH, the doctor's preflight
//!    (`ci`), and each plan's own checks (docker answers, ports are free);
//! 5. run the plans and render the outcome.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::{Cli, Command, MigrateAction};
use crate::env::Env;
use crate::ids::StepId;
use crate::mixproj::MixProject;
use crate::plan::StepPlan;
use crate::run::{Exit, Mode, Run, Verbosity};
use crate::runner::{self, Opts};
use crate::steps::{self, Ctx, Step};
use crate::{deploy, doctor, init, last_run, merge, migrate, proc, redact, render, services};

/// `main` with the guards around it: signal handling, panics (redacted,
/// and every child and container still stopped), and the exit code.
pub fn guarded(cli: Cli, root: PathBuf, custom: &[Step]) -> ExitCode {
    // A panic message may hold a URL from a driver's error: redact it.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: phx-xtask panicked: {}",
            redact::line(&info.to_string())
        );
    }));
    if let Err(e) = proc::handle_signals() {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let result = std::panic::catch_unwind(|| main(cli, root, custom));
    let Ok(result) = result else {
        proc::shutdown();
        return ExitCode::from(101);
    };
    result.map_or_else(
        |e| {
            proc::shutdown();
            eprintln!("error: {}", redact::line(&format!("{e:#}")));
            ExitCode::from(2)
        },
        |exit| ExitCode::from(exit.code()),
    )
}

pub fn main(cli: Cli, root: PathBuf, custom: &[Step]) -> Result<Exit> {
    let names: Vec<&'static str> = custom.iter().map(|s| s.name).collect();
    let mut run = Run::resolve(&cli, &root, Env::capture(), &names)?;
    services::register_secrets(&run.config, &run.env);
    // The doctor reports a bad app dir as one of its rows, so it (like
    // `list` and `init`, which need no app) runs before the app is read.
    match &cli.command {
        Command::Doctor => return doctor::run(&run),
        Command::List => return list(&run, custom),
        Command::Init(args) => return init::run(args, &run),
        _ => {}
    }
    let app = run.app()?;
    let project = MixProject::read(&app)?;
    if let Command::Ci { failed: true, .. } = cli.command {
        last_run::narrow(&mut run, &app);
    }
    if let Command::Services { action } = &cli.command {
        return services::cmd::run(action, &run, &app, &project);
    }
    if let Command::Deploy(args) = &cli.command {
        return deploy::run(args, &run, &app, &project);
    }
    if let Command::Merge { dirs } = &cli.command {
        let Some(plan) = merge::prepare(dirs, &run, &app, &project)? else {
            return Ok(Exit::Failed);
        };
        if run.dry_run {
            print_plan(std::slice::from_ref(&plan), &app);
            return Ok(Exit::Passed);
        }
        let plans = check(&run, vec![plan], false)?;
        return execute(&run, plans, app, false);
    }
    if let Command::Migrate(args) = &cli.command {
        if !matches!(args.action, Some(MigrateAction::Check { .. })) {
            return migrate::run(args, &run, &app, &project);
        }
    }
    let ctx = Ctx::new(&run, &app, &project);
    let mut plans = run
        .selected
        .iter()
        .map(|&id| steps::plan(id, &ctx, custom))
        .collect::<Result<Vec<_>>>()?;
    plans.extend(
        run.passed_before
            .iter()
            .map(|&id| StepPlan::skipped(id, last_run::PASSED)),
    );
    plans.sort_by_key(|p| p.id);
    steps::fuse(&mut plans);
    if run.dry_run {
        print_plan(&plans, &app);
        return Ok(Exit::Passed);
    }
    let ci = matches!(cli.command, Command::Ci { .. });
    let plans = check(&run, plans, ci)?;
    execute(&run, plans, app, ci)
}

/// Everything that probes the machine, before the first side effect: the
/// programs the plans start, the doctor (for `ci`), each plan's checks.
fn check(run: &Run, mut plans: Vec<StepPlan>, ci: bool) -> Result<Vec<StepPlan>> {
    for program in plans.iter().flat_map(StepPlan::all_programs) {
        if run.env.which(program).is_none() {
            bail!("`{program}` is not on PATH: {}", install_hint(program));
        }
    }
    if ci {
        doctor::preflight(run)?;
    }
    for plan in &mut plans {
        for check in std::mem::take(&mut plan.checks) {
            (check.run)().map_err(|e| e.context(format!("{}: {}", plan.id, check.describe)))?;
        }
    }
    Ok(plans)
}

fn execute(run: &Run, plans: Vec<StepPlan>, app: PathBuf, ci: bool) -> Result<Exit> {
    let mut ui = render::renderer(run.mode, run.verbosity, &app, &run.env);
    let streams = run.verbosity == Verbosity::Stream && run.mode != Mode::Json;
    let opts = Opts {
        env: run.env.clone(),
        jobs: run.jobs,
        keep_going: run.keep_going,
        base: app,
        live: streams.then(|| ui.live()),
    };
    let record = opts.base.clone();
    let started = std::time::SystemTime::now();
    let summary = runner::run(plans, opts, ui.as_mut());
    proc::shutdown();
    if ci && !summary.interrupted {
        last_run::write(&record, &summary, started);
    }
    if ci {
        // The run as a page; the terminal's last line says where it is.
        match render::report_html::write(&record, &summary) {
            Ok(path) => eprintln!("report: {}", path.display()),
            Err(e) => eprintln!(
                "report: could not write {}: {e}",
                render::report_html::path(&record).display()
            ),
        }
    }
    Ok(match (summary.interrupted, summary.failed()) {
        (true, _) => Exit::Interrupted,
        (false, true) => Exit::Failed,
        (false, false) => Exit::Passed,
    })
}

fn install_hint(program: &str) -> &'static str {
    match program {
        "npm" => "install Node.js 20+ (`apt-get install nodejs npm`), or enter the dev shell with `nix develop`",
        "dialyzer" => "install OTP's dialyzer (`apt-get install erlang-dialyzer`), or enter `nix develop`",
        "docker" => "install docker (`apt-get install docker.io`), or enter `nix develop`",
        "mix" | "elixir" => "install Elixir (`apt-get install elixir erlang-dev`), or enter the dev shell with `nix develop`",
        _ => "install it, or enter the dev shell with `nix develop`",
    }
}

fn print_plan(plans: &[StepPlan], app: &Path) {
    let names = |ids: &[StepId]| ids.iter().map(|n| n.name()).collect::<Vec<_>>().join(", ");
    for p in plans {
        match (&p.skip, p.phases.first()) {
            (Some(why), _) => println!("{}: skipped: {why}", p.id),
            (None, Some(first)) if !first.after.is_empty() => println!(
                "{} (after {}; runs after {} ends, passed or not):",
                p.id,
                names(&first.needs),
                names(&first.after)
            ),
            (None, Some(first)) if !first.needs.is_empty() => {
                println!("{} (after {}):", p.id, names(&first.needs))
            }
            (None, _) => println!("{}:", p.id),
        }
        for check in &p.checks {
            println!("  # check: {}", check.describe);
        }
        for (i, phase) in p.phases.iter().enumerate() {
            if i > 0 {
                // An order that is not a need (the migrations session after
                // the assets' own Mix process: one build lock at a time).
                let also = match phase.after.is_empty() {
                    true => String::new(),
                    false => format!(", once {} has ended", names(&phase.after)),
                };
                println!("  # then, after {}{also}:", names(&phase.needs));
            }
            for a in &phase.actions {
                println!("  {}", a.describe(app));
            }
        }
    }
}

fn list(run: &Run, custom: &[Step]) -> Result<Exit> {
    use clap::CommandFactory;
    let cmd = crate::cli::Cli::command();
    let mut all = StepId::BUILT_IN.to_vec();
    all.extend(custom.iter().map(|s| StepId::Custom(s.name)));
    let in_ci = |id: &StepId| match &run.config.ci.steps {
        Some(names) => names.iter().any(|n| n == id.name()),
        None => id.in_ci_by_default(),
    };
    for id in all {
        let about = match id {
            StepId::Custom(name) => custom
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.about.to_string()),
            // `migrations` is what `cargo xtask migrate check` runs.
            StepId::Migrations => cmd
                .find_subcommand("migrate")
                .and_then(|m| m.find_subcommand("check"))
                .and_then(|c| c.get_about())
                .map(|a| a.to_string()),
            _ => cmd
                .find_subcommand(id.name())
                .and_then(|c| c.get_about())
                .map(|a| a.to_string()),
        };
        let mark = if in_ci(&id) { "ci" } else { "--" };
        println!("{:<10} {mark:<3} {}", id.name(), about.unwrap_or_default());
    }
    Ok(Exit::Passed)
}
