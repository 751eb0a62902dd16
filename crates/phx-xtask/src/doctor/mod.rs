//! `cargo xtask doctor`: is this machine the one CI is? One row per tool
//! (found, version, the pin from xtask.toml's [toolchain], whether they
//! match), then the docker daemon, disk space for images, and the app dir.
//! Inside the Nix dev shell a mismatch is an error, since the shell exists
//! to provide the pins; outside it a warning that names `nix develop`.
//! `ci` runs the same checks first, so a drifted machine fails with its
//! cause instead of a cryptic Mix error.

mod output;
mod probe;
mod rows;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::config::Toolchain;
use crate::env::Env;
use crate::render::rows::secs;
use crate::run::{Exit, Mode, Run, Verbosity};
use crate::{docker, redact};
use output::{json, problems, table};
use probe::Probe;
use rows::{
    app_row, daemon_row, disk_row, flake_row, nix_row, Judge, Level, Need, Pin, Report, Row,
};

/// Every check, run at the same time; the slowest (starting the BEAM)
/// decides how long the doctor takes.
pub fn check(toolchain: &Toolchain, root: &Path, app: &Path, env: &Env) -> Report {
    let started = Instant::now();
    let in_nix = env.in_nix_shell();
    let host = docker::host(env);
    let ((otp, elixir), npm, probes, daemon) = std::thread::scope(|s| {
        let beam = s.spawn(|| probe::beam(env));
        let npm = s.spawn(|| probe::npm(env));
        let tools: Vec<_> = [
            (&["node"][..], &["--version"][..]),
            (&["docker"], &["--version"]),
            (&["postgres"], &["--version"]),
            (&["redis-server"], &["--version"]),
            (&["git"], &["--version"]),
            (&["flyctl", "fly"], &["version"]),
            (&["nix"], &["--version"]),
        ]
        .into_iter()
        .map(|(names, args)| s.spawn(move || probe::tool(env, names, args)))
        .collect();
        let daemon =
            s.spawn(|| docker::info(&host, Duration::from_secs(2)).map_err(|e| format!("{e:#}")));
        let probes: Vec<Probe> = tools
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect();
        let failed = || Err("the check panicked".to_string());
        (
            beam.join().unwrap_or_default(),
            npm.join().unwrap_or_default(),
            probes,
            daemon.join().unwrap_or_else(|_| failed()),
        )
    });
    let [node, docker, postgres, redis, git, flyctl, nix] =
        <[Probe; 7]>::try_from(probes).expect("seven probes");

    let judge = Judge { in_nix };
    let tc = toolchain;
    let mut rows = vec![
        judge.pinned(&otp, "otp", &tc.otp, Pin::Series, Need::Required),
        judge.pinned(&elixir, "elixir", &tc.elixir, Pin::Series, Need::Required),
        judge.pinned(
            &node,
            "node",
            &tc.node,
            Pin::AtLeast,
            Need::Optional("the assets step needs it"),
        ),
        judge.unpinned(
            &npm,
            "npm",
            "the assets step needs it",
            "install Node.js, which brings npm",
        ),
        judge.unpinned(
            &docker,
            "docker",
            "service containers need it",
            "install docker",
        ),
        daemon_row(&host, &daemon),
        judge.pinned(
            &postgres,
            "postgres",
            &tc.postgres,
            Pin::Series,
            Need::Optional("native services need it"),
        ),
        judge.pinned(
            &redis,
            "redis",
            &tc.redis,
            Pin::Series,
            Need::Optional("native services need redis-server"),
        ),
        judge.unpinned(&git, "git", "the repo checks need it", "install git"),
        judge.unpinned(
            &flyctl,
            "flyctl",
            "optional until deploys are part of ci",
            "install flyctl (fly.io/docs/flyctl/install)",
        ),
    ];
    if elixir.path.is_some() && env.which("mix").is_none() {
        let fix = "reinstall Elixir, which brings mix, or enter the dev shell with `nix develop`";
        rows[1] = rows[1]
            .clone()
            .problem(Level::Error, "`mix` is not on PATH beside elixir", fix);
    }
    rows.push(disk_row(
        daemon.as_ref().ok().and_then(|d| d.root_dir.clone()),
        app,
    ));
    rows.push(app_row(app));
    rows.push(nix_row(&judge, &nix));
    rows.push(flake_row(root));
    Report {
        rows,
        in_nix,
        elapsed: started.elapsed(),
    }
}

/// `cargo xtask doctor`: the table (or JSON) on stdout, problems on stderr.
pub fn run(run: &Run) -> Result<Exit> {
    let report = check(&run.config.toolchain, &run.root, &run.app, &run.env);
    let mode = run.mode;
    if mode == Mode::Json {
        println!("{}", redact::line(&json(&report).to_string()));
    } else {
        print!("{}", redact::line(&table(&report)));
    }
    problems(report.rows.iter(), mode == Mode::Github);
    let (errors, warnings) = (report.count(Level::Error), report.count(Level::Warning));
    eprintln!(
        "doctor: {errors} errors, {warnings} warnings in {}",
        secs(report.elapsed)
    );
    Ok(if errors > 0 {
        Exit::Failed
    } else {
        Exit::Passed
    })
}

/// What `ci` runs before anything else: one line per warning, and on an
/// error, a stop with every cause and its fix (exit 2, nothing has run).
pub fn preflight(run: &Run) -> Result<()> {
    let report = check(&run.config.toolchain, &run.root, &run.app, &run.env);
    // The errors end the run with one message that lists them; under GitHub
    // Actions they are annotations as well.
    let github = run.mode == Mode::Github;
    if let Some(msg) = output::errors(&report) {
        problems(
            report
                .rows
                .iter()
                .filter(|r| github && r.level == Level::Error),
            github,
        );
        bail!("{msg}");
    }
    // Outside the dev shell the pins are advice: the versions that differ
    // are one line here and the whole table in `cargo xtask doctor`. Tools
    // that `ci` does not use (flyctl, nix) are the doctor's business only.
    let drifted: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.matches == Some(false) && r.level == Level::Warning)
        .collect();
    let others = report.rows.iter().filter(|r| {
        r.level == Level::Warning
            && r.matches != Some(false)
            && !(["flyctl", "nix"].contains(&r.check) && !r.found)
    });
    problems(others, github);
    if !drifted.is_empty() {
        let list: Vec<String> = drifted
            .iter()
            .map(|r| {
                format!(
                    "{} {} ({})",
                    r.check,
                    r.version.as_deref().unwrap_or("?"),
                    r.pin.as_deref().unwrap_or("?")
                )
            })
            .collect();
        eprintln!(
            "doctor: {} {} from the pins: {}; `cargo xtask doctor` for details, `nix develop` for the pinned ones",
            list.len(),
            if list.len() == 1 { "tool differs" } else { "tools differ" },
            list.join(", ")
        );
    }
    if run.verbosity > Verbosity::Quiet {
        eprintln!("doctor: checked in {}", secs(report.elapsed));
    }
    Ok(())
}
