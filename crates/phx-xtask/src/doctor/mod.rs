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
use crate::{beam, docker, redact, services};
use output::{json, problems, table};
use probe::Probe;
use rows::{
    app_row, daemon_row, disk_row, flake_row, nix_row, Judge, Level, Need, Pin, Report, Row,
};

/// Every check, run at the same time; the slowest (starting the BEAM)
/// decides how long the doctor takes.
pub fn check(toolchain: &Toolchain, root: &Path, app: &Path, env: &Env) -> Report {
    let started = Instant::now();
    let host = docker::host(env);
    let found = probe_all(env, &host);
    let judge = Judge {
        in_nix: env.in_nix_shell(),
    };
    let mut rows = tool_rows(&judge, toolchain, &found, &host);
    if found.elixir.path.is_some() && env.which("mix").is_none() {
        let fix = "reinstall Elixir, which brings mix, or enter the dev shell with `nix develop`";
        rows[1] = rows[1]
            .clone()
            .problem(Level::Error, "`mix` is not on PATH beside elixir", fix);
    }
    let docker_root = found.daemon.as_ref().ok().and_then(|d| d.root_dir.clone());
    rows.extend([
        disk_row(docker_root, app),
        app_row(app),
        nix_row(&judge, &found.nix),
        flake_row(root),
    ]);
    Report {
        rows,
        in_nix: judge.in_nix,
        elapsed: started.elapsed(),
    }
}

/// What every probe found.
struct Found {
    otp: Probe,
    elixir: Probe,
    npm: Probe,
    /// node, docker, postgres, redis, git, flyctl, in that order.
    tools: [Probe; 6],
    nix: Probe,
    daemon: Result<docker::Info, String>,
}

/// Every probe at the same time: the slowest (starting the BEAM, for a
/// version manager's shims) decides how long the doctor takes.
fn probe_all(env: &Env, host: &str) -> Found {
    const TOOLS: [(&[&str], &[&str]); 6] = [
        (&["node"], &["--version"]),
        (&["docker"], &["--version"]),
        (&["redis-server"], &["--version"]),
        (&["git"], &["--version"]),
        (&["flyctl", "fly"], &["version"]),
        (&["nix"], &["--version"]),
    ];
    std::thread::scope(|s| {
        let beam = s.spawn(|| probe::beam(env));
        let npm = s.spawn(|| probe::npm(env));
        let mut tools: Vec<_> = TOOLS
            .iter()
            .map(|&(n, a)| s.spawn(move || probe::tool(env, n, a)))
            .collect();
        // Postgres as the native services backend finds it (Debian keeps
        // the server off PATH), so that the two never disagree.
        let postgres = services::postgres_program(env, "postgres");
        tools.insert(2, s.spawn(move || probe::at(postgres, &["--version"])));
        let daemon =
            s.spawn(|| docker::info(host, Duration::from_secs(2)).map_err(|e| format!("{e:#}")));
        let mut probes: Vec<Probe> = tools
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect();
        let nix = probes.pop().unwrap_or_default();
        let (otp, elixir) = beam.join().unwrap_or_default();
        Found {
            otp,
            elixir,
            npm: npm.join().unwrap_or_default(),
            tools: <[Probe; 6]>::try_from(probes).expect("six probes"),
            nix,
            daemon: daemon
                .join()
                .unwrap_or_else(|_| Err("the check panicked".into())),
        }
    })
}

/// One row per tool, judged against its pin.
fn tool_rows(judge: &Judge, tc: &Toolchain, f: &Found, host: &str) -> Vec<Row> {
    let [node, docker, postgres, redis, git, flyctl] = &f.tools;
    let optional = Need::Optional;
    vec![
        judge.pinned(&f.otp, "otp", &tc.otp, Pin::Series, Need::Required),
        judge.pinned(&f.elixir, "elixir", &tc.elixir, Pin::Series, Need::Required),
        judge.pinned(
            node,
            "node",
            &tc.node,
            Pin::AtLeast,
            optional("the assets step needs it"),
        ),
        judge.unpinned(
            &f.npm,
            "npm",
            "the assets step needs it",
            "install Node.js, which brings npm",
        ),
        judge.unpinned(
            docker,
            "docker",
            "service containers need it",
            "install docker",
        ),
        daemon_row(host, &f.daemon),
        judge.pinned(
            postgres,
            "postgres",
            &tc.postgres,
            Pin::Series,
            optional("native services need it; nor in /usr/lib/postgresql/<v>/bin"),
        ),
        judge.pinned(
            redis,
            "redis",
            &tc.redis,
            Pin::Series,
            optional("native services need redis-server"),
        ),
        judge.unpinned(git, "git", "the repo checks need it", "install git"),
        judge.unpinned(
            flyctl,
            "flyctl",
            "the fly deploy target needs it",
            "install flyctl (fly.io/docs/flyctl/install)",
        ),
    ]
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
    let tc = &run.config.toolchain;
    eprintln!("doctor: {}", beam::ci_toolchains_line(&tc.elixir, &tc.otp));
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
            && (r.found || !["flyctl", "nix"].contains(&r.check))
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
