//! `cargo xtask services up|down|status`: the test services for
//! development. `up` runs until Ctrl-C, or until `down` (from another
//! terminal) removes its containers; URLs go to stdout, with the password
//! shown as `***`, and everything else to stderr.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use super::Services;
use crate::cli::ServicesAction as Action;
use crate::config::{Backend, DEFAULT_PASSWORD};
use crate::docker;
use crate::mixproj::MixProject;
use crate::run::{Exit, Run};
use crate::{proc, redact};

pub fn run(action: &Action, run: &Run, app: &Path, project: &MixProject) -> Result<Exit> {
    let host = docker::host(&run.env);
    match action {
        Action::Up {
            services,
            exit_when_ready,
        } => up(*services, *exit_when_ready, run, app, project),
        Action::Down => down(&host, app),
        Action::Status => status(&host, app),
    }
}

fn up(
    backend: Option<Backend>,
    once: bool,
    run: &Run,
    app: &Path,
    project: &MixProject,
) -> Result<Exit> {
    let backend = super::backend(backend, &run.config, &run.env)?;
    if backend == Backend::External {
        bail!("with --services external there is nothing to start: use docker, native or auto");
    }
    let mut settings = super::resolve(&run.config, &run.env, app, &project.app, backend, 1)?;
    if run.dry_run {
        println!("# start {}", settings.describe());
        return Ok(Exit::Passed);
    }
    super::check(&mut settings)?;
    eprintln!("starting {}", settings.describe());
    let started = Services::start(&settings, &mut |line| eprintln!("{}", redact::line(&line)))
        .and_then(|s| {
            let took = s.wait_ready()?;
            s.recreate_databases(std::slice::from_ref(&s.database))?;
            Ok((s, took))
        });
    let (services, took) = match started {
        Err(_) if proc::interrupted() => return Ok(stopped()),
        other => other?,
    };
    announce(&services, took, run);
    if once {
        return Ok(Exit::Passed);
    }
    Ok(watch(services))
}

/// The URLs on stdout (password masked), the rest on stderr.
fn announce(services: &Services, took: Duration, run: &Run) {
    let url = services.database_url(&services.database);
    println!("{}", redact::line(&format!("DATABASE_URL={url}")));
    println!("REDIS_URL={}", redact::line(services.redis_url().as_str()));
    let source = match run.config.services.postgres_password == DEFAULT_PASSWORD {
        true => {
            "the default, `postgres`; set [services] postgres_password in xtask.toml to change it"
        }
        false => "[services] postgres_password in xtask.toml",
    };
    eprintln!("the password (shown as ***) is {source}");
    eprintln!("ready in {} ms", took.as_millis());
}

/// Keeps the services until Ctrl-C, `services down`, or one of them stops.
fn watch(services: Services) -> Exit {
    eprintln!("running until Ctrl-C or `cargo xtask services down`");
    let mut last_check = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if proc::interrupted() {
            drop(services);
            return stopped();
        }
        if last_check.elapsed() < Duration::from_secs(1) {
            continue;
        }
        last_check = Instant::now();
        if let Err(e) = services.alive() {
            if services.removed_by_down() {
                eprintln!("stopping: `cargo xtask services down` removed the services");
                return Exit::Passed;
            }
            // A crash (or an OOM kill) is a failure; the rest is stopped.
            eprintln!("{}", redact::line(&format!("{e:#}")));
            eprintln!("stopping: a service stopped on its own");
            drop(services);
            return Exit::Failed;
        }
    }
}

/// After Ctrl-C or SIGTERM: what we started is already dropped.
fn stopped() -> Exit {
    eprintln!("stopped ({})", proc::signal_name());
    proc::shutdown();
    Exit::Interrupted
}

fn docker_answers(host: &str) -> Result<()> {
    docker::ping(host).map_err(|e| {
        anyhow!(
            "docker does not answer at {host} ({e}): `services down` and `status` manage containers; \
             native services stop with the `services up` that started them"
        )
    })
}

fn down(host: &str, app: &Path) -> Result<Exit> {
    docker_answers(host)?;
    let found = docker::list(host, docker::PROJECT, &docker::project_id(app))?;
    if found.is_empty() {
        eprintln!("no containers of this project");
    }
    // Every container is tried, so one that fails to go does not keep the
    // rest running; the failures are reported together.
    let mut failed = Vec::new();
    for c in &found {
        match docker::remove(host, std::slice::from_ref(&c.id)) {
            Ok(()) => eprintln!(
                "removed {} ({}, run {})",
                docker::short(&c.id),
                c.service,
                c.run
            ),
            Err(e) => failed.push(format!("{} ({}): {e:#}", docker::short(&c.id), c.service)),
        }
    }
    if !failed.is_empty() {
        bail!(
            "could not remove {}: retry `cargo xtask services down`, or `docker rm -fv` them",
            failed.join("; ")
        );
    }
    Ok(Exit::Passed)
}

fn status(host: &str, app: &Path) -> Result<Exit> {
    docker_answers(host)?;
    let found = docker::list(host, docker::PROJECT, &docker::project_id(app))?;
    if found.is_empty() {
        eprintln!("no containers of this project");
        return Ok(Exit::Passed);
    }
    println!(
        "{:<12}  {:<8}  {:>5}  {:<20}  {:<14}  STATE",
        "ID", "SERVICE", "PORT", "RUN", "OWNER PID"
    );
    for c in found {
        let owner = match c.pid {
            Some(p) if proc::pid_alive(p) => format!("{p} (alive)"),
            Some(p) => format!("{p} (gone)"),
            None => "?".to_string(),
        };
        let port = c.port.map_or_else(|| "-".to_string(), |p| p.to_string());
        println!(
            "{:<12}  {:<8}  {port:>5}  {:<20}  {owner:<14}  {} ({})",
            docker::short(&c.id),
            c.service,
            c.run,
            c.state,
            c.image
        );
    }
    Ok(Exit::Passed)
}
