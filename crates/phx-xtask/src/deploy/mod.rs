//! `cargo xtask deploy <env>`: the recorded image to an environment,
//! behind a real health gate, with automatic rollback. `--plan` changes
//! nothing; `deploy rollback <env>` and `deploy status <env>`.
//!
//! 1. Resolve the environment and the image; docker: every host reachable
//!    with its proxy; check the tree is clean, the prerequisite (staging)
//!    passed, production is confirmed; take the lock (docker: on the first
//!    host); docker: every host has the image (pulled by digest).
//! 2. docker: migrate once in a one-off container of the new image on the
//!    first host, then roll over the hosts (rolling.rs): start beside the
//!    old release, gate, switch the host's proxy; any failure puts every
//!    switched host back. fly: `flyctl deploy`, migrate, gate the public
//!    URL; on a failed gate, redeploy the last stable release.
//! 3. Record the release, notify, and say how it went.

mod docker;
mod fly;
mod gate;
mod guard;
mod hosts;
mod lock;
mod migrations;
mod notify;
mod proxy;
mod rollback;
mod rolling;
mod state;
mod target;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cli::{DeployAction, DeployArgs};
use crate::config::DeployTarget;
use crate::image::record;
use crate::mixproj::MixProject;
use crate::run::{Exit, Mode, Run};
use crate::{proc, redact};
use guard::Image;
use state::Release;
use target::{show, Needs, Target};

pub fn run(args: &DeployArgs, run: &Run, app: &Path, project: &MixProject) -> Result<Exit> {
    let envs: Vec<String> = run.config.deploy.keys().cloned().collect();
    let resolve = |env: &str, needs| target::resolve(run, env, app, &project.app, needs);
    match &args.action {
        Some(DeployAction::Status { env }) => {
            rollback::status(&resolve(env, Needs::Nothing)?, &run.root)
        }
        Some(DeployAction::Rollback { env, to, yes }) => {
            let t = resolve(env, Needs::Secrets)?;
            rollback::run(&t, run, to.as_deref(), *yes, &project.app)
        }
        Some(DeployAction::Setup { env }) => {
            hosts::setup(&docker_only(resolve(env, Needs::Nothing)?, "setup")?)
        }
        Some(DeployAction::Unlock { env }) => {
            lock::unlock(&docker_only(resolve(env, Needs::Nothing)?, "unlock")?)
        }
        None => {
            let env = args.env.as_deref().with_context(|| {
                format!(
                    "name the environment: `cargo xtask deploy <env>`, one of {}",
                    envs.join(", ")
                )
            })?;
            let t = resolve(
                env,
                if args.plan {
                    Needs::Nothing
                } else {
                    Needs::Secrets
                },
            )?;
            let docker = t.env.target == DeployTarget::Docker;
            if docker && !args.plan {
                hosts::reachable_all(&t)?;
            }
            let img = guard::image(args, &t, &run.root)?;
            let pending = migrations::pending(&t, run, &img.revision)?;
            if args.plan {
                return plan(&t, &img, run, &pending);
            }
            guard::clean_tree(app)?;
            let mut log = logger();
            guard::prerequisite(args, &t, &run.root, &envs, &img, &mut log)?;
            migrations::check_breaking(&pending, args.allow_breaking_migrations, &mut log)?;
            guard::confirm(&t, args.yes, &img)?;
            if docker {
                hosts::proxies(&t)?;
            }
            let _lock = match docker {
                true => Locked::Hosts(lock::Lock::take(
                    &t,
                    &t.env.proxy_image,
                    run.env.get("RUNNER_NAME"),
                )?),
                false => Locked::File(state::Lock::take(&run.root, env)?),
            };
            if docker {
                hosts::pull(&t, &img.reference, &mut log)?;
            }
            deploy(&t, &img, run, &project.app)
        }
    }
}

/// The lock held for the deploy: on the hosts (docker) or in `.xtask/`.
enum Locked {
    Hosts(#[allow(dead_code)] lock::Lock),
    File(#[allow(dead_code)] state::Lock),
}

fn docker_only(t: Target, what: &str) -> Result<Target> {
    if t.env.target != DeployTarget::Docker {
        anyhow::bail!(
            "`deploy {what}` is for the docker target; {} deploys to Fly, which runs its own proxy",
            t.name
        );
    }
    Ok(t)
}

/// Progress lines on stderr, secrets masked.
pub fn logger() -> impl FnMut(String) {
    |line: String| eprintln!("deploy: {}", redact::line(&line))
}

fn plan(t: &Target, img: &Image, run: &Run, pending: &migrations::Pending) -> Result<Exit> {
    let history = state::read(&run.root, &t.name)?;
    println!(
        "environment: {} ({:?} target, {})",
        t.name, t.env.target, t.env.url
    );
    println!("image:       {} ({})", img.reference, img.digest);
    println!("version:     {} (revision {})", img.version, img.revision);
    let how = match t.env.target {
        DeployTarget::Docker => format!("on each host, start beside the live release, gate it from the proxy, switch the proxy ({}), then drain {} s and keep {} stopped", t.proxy(), t.env.drain, t.env.keep),
        DeployTarget::Fly => format!("flyctl deploy --strategy {}", t.env.strategy.as_deref().unwrap_or("rolling")),
    };
    println!("strategy:    {how}");
    if t.env.target == DeployTarget::Docker {
        println!(
            "hosts:       {} ({} at a time; a failure puts every switched host back)",
            t.hosts.len(),
            t.env.max_parallel
        );
        for line in hosts::plan_lines(t, &img.version) {
            println!("  {line}");
        }
    }
    let version = match t.env.version_path.as_str() {
        "" => "health alone (version_path = \"\")".to_string(),
        v => format!("and {v} naming the revision when it names one"),
    };
    println!(
        "gate:        GET {}{} 2xx {version}, within {} s",
        t.env.url.trim_end_matches('/'),
        t.env.health_path,
        t.env.timeout
    );
    match history.live() {
        Some(r) => println!(
            "rollback to: {} ({}), live since {}",
            r.version, r.digest, r.at
        ),
        None => println!("rollback to: nothing yet (the first deploy to {})", t.name),
    }
    println!("migrations:  {}", migrations::summary(pending, run));
    Ok(Exit::Passed)
}

fn deploy(t: &Target, img: &Image, run: &Run, app_name: &str) -> Result<Exit> {
    let started = Instant::now();
    let mut log = logger();
    let result = match t.env.target {
        DeployTarget::Docker => via_docker(t, img, run, &mut log),
        DeployTarget::Fly => via_fly(t, img, run, &mut log),
    };
    let (ok, status, healthy) = match &result {
        Ok(h) => (true, "deployed".to_string(), Some(*h)),
        Err(e) => (
            false,
            format!("failed: {}", first_line(&format!("{e:#}"))),
            None,
        ),
    };
    let mut history = state::read(&run.root, &t.name)?;
    let release = Release {
        version: img.version.clone(),
        revision: img.revision.clone(),
        image: img.reference.clone(),
        digest: img.digest.clone(),
        container: None,
        at: record::now_rfc3339(),
        status: if ok { "live".into() } else { "failed".into() },
        healthy_after: healthy.map(|d| d.as_secs_f64()),
    };
    match ok {
        true => history.push_live(Release {
            container: current_container(t),
            ..release
        }),
        false => history.releases.push(release),
    }
    state::write(&run.root, &t.name, &history)?;
    let message = notify::Message {
        app: app_name,
        env: &t.name,
        version: &img.version,
        status: &status,
        ok,
        duration: started.elapsed(),
        healthy_after: healthy,
        url: &t.env.url,
    };
    notify::send(&run.env, &message, &mut log);
    finish(
        run,
        t,
        img,
        ok,
        &status,
        started.elapsed(),
        healthy,
        result.err(),
    )
}

fn current_container(t: &Target) -> Option<String> {
    match t.env.target {
        DeployTarget::Docker => docker::serving(t, &t.hosts[0]).ok()?.map(|k| k.name),
        DeployTarget::Fly => None,
    }
}

/// The summary line (and JSON), and the exit code: a failed deploy is 1.
#[allow(clippy::too_many_arguments)]
fn finish(
    run: &Run,
    t: &Target,
    img: &Image,
    ok: bool,
    status: &str,
    took: Duration,
    healthy: Option<Duration>,
    err: Option<anyhow::Error>,
) -> Result<Exit> {
    if let Some(e) = &err {
        eprintln!("deploy: {}", redact::line(&format!("{e:#}")));
    }
    let healthy_s = healthy.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    eprintln!(
        "deploy: {}: {} {status} in {:.1} s (healthy after {healthy_s})",
        t.name,
        img.version,
        took.as_secs_f64()
    );
    if run.mode == Mode::Json {
        let v = serde_json::json!({
            "env": t.name, "status": if ok { "ok" } else { "failed" }, "detail": status,
            "version": img.version, "image": img.reference, "digest": img.digest,
            "duration_ms": took.as_millis() as u64, "healthy_after_ms": healthy.map(|d| d.as_millis() as u64),
        });
        println!("{}", redact::line(&v.to_string()));
    }
    Ok(if proc::interrupted() {
        Exit::Interrupted
    } else if ok {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

/// docker: migrate once, then roll over the hosts; the slowest host's
/// time to healthy.
fn via_docker(t: &Target, img: &Image, run: &Run, log: &mut dyn FnMut(String)) -> Result<Duration> {
    migrations::before_traffic(t, run, &img.reference, log)?;
    let name = docker::new_name(t);
    let up = |h: &str| {
        docker::start(t, h, &name, &img.reference, &img.version, &img.revision)
            .map(|_| name.clone())
    };
    let down = |h: &str, n: &str| docker::remove(h, n);
    let plan = rolling::Plan {
        revision: &img.revision,
        up: &up,
        down: &down,
    };
    let healthy = rolling::roll(t, &plan, log)?;
    for (h, d) in &healthy {
        log(format!(
            "{}: healthy {:.1} s after it started",
            show(h),
            d.as_secs_f64()
        ));
    }
    Ok(healthy.iter().map(|(_, d)| *d).max().unwrap_or_default())
}

/// fly: deploy, migrate, gate the public URL; a failed gate redeploys the
/// last stable release's image.
fn via_fly(t: &Target, img: &Image, run: &Run, log: &mut dyn FnMut(String)) -> Result<Duration> {
    let strategy = t.env.strategy.as_deref().unwrap_or("rolling");
    fly::deploy(t, &img.reference, strategy, log)?;
    if t.env.migrate.as_deref() == Some("ssh") {
        fly::migrate(t, &run.config.migrate.image_command, log)?;
    }
    let gate = gate::Gate {
        base: t.env.url.trim_end_matches('/').to_string(),
        health: &t.env.health_path,
        version: &t.env.version_path,
        expect: Some(img.revision.as_str()).filter(|r| !r.is_empty()),
        host: t.env.host.as_deref(),
        timeout: Duration::from_secs(t.env.timeout),
        passes: 1,
        via: None,
    };
    match gate.wait(log) {
        Ok(d) => Ok(d),
        Err(e) => {
            let stable = fly::last_stable(t, &img.reference, log)?;
            fly::deploy(t, &stable.image_ref, "immediate", log)?;
            Err(e.context(format!(
                "rolled back to v{} ({})",
                stable.version, stable.image_ref
            )))
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}
