//! `deploy rollback <env> [--to VERSION]` and `deploy status <env>`.
//! docker: on every host, restart the kept release, gate it, switch the
//! proxy (rolling.rs: all hosts or none), then stop the current one. fly:
//! redeploy that release's image.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::target::{show, Target};
use super::{docker, fly, gate, lock, logger, proxy, rolling, state};
use crate::config::DeployTarget;
use crate::image::record;
use crate::run::{Exit, Run};

pub fn run(t: &Target, run: &Run, to: Option<&str>, yes: bool, app: &str) -> Result<Exit> {
    if t.env.confirm.unwrap_or(t.name == "production") && !yes {
        bail!("rolling {} back needs --yes", t.name);
    }
    let _locks = match t.env.target {
        DeployTarget::Docker => {
            super::hosts::reachable_all(t)?;
            super::hosts::proxies(t)?;
            (
                Some(lock::Lock::take(
                    t,
                    &t.env.proxy_image,
                    run.env.get("RUNNER_NAME"),
                )?),
                None,
            )
        }
        DeployTarget::Fly => (None, Some(state::Lock::take(&run.root, &t.name)?)),
    };
    let started = Instant::now();
    let mut log = logger();
    let (version, revision, image, healthy) = match t.env.target {
        DeployTarget::Docker => docker_back(t, to, &mut log)?,
        DeployTarget::Fly => fly_back(t, to, &mut log)?,
    };
    let mut history = state::read(&run.root, &t.name)?;
    let container = docker::serving(t, &t.hosts[0])
        .ok()
        .flatten()
        .map(|k| k.name);
    history.push_live(state::Release {
        version: version.clone(),
        revision,
        image: image.clone(),
        digest: image,
        container: container.filter(|_| t.env.target == DeployTarget::Docker),
        at: record::now_rfc3339(),
        status: "live".into(),
        healthy_after: Some(healthy.as_secs_f64()),
    });
    state::write(&run.root, &t.name, &history)?;
    let _ = app;
    eprintln!(
        "deploy: {}: rolled back to {version} in {:.1} s (healthy after {:.1} s)",
        t.name,
        started.elapsed().as_secs_f64(),
        healthy.as_secs_f64()
    );
    Ok(Exit::Passed)
}

fn docker_back(
    t: &Target,
    to: Option<&str>,
    log: &mut dyn FnMut(String),
) -> Result<(String, String, String, Duration)> {
    let target = pick(t, to)?;
    // Every host must have it before any host switches.
    for h in &t.hosts[1..] {
        kept_on(t, h, &target.revision, &target.version)?;
    }
    let up = |h: &str| {
        let k = kept_on(t, h, &target.revision, &target.version)?;
        docker::start_kept(h, &k.name)?;
        Ok(k.name)
    };
    let down = |h: &str, n: &str| {
        let _ = docker::stop(h, n);
    };
    let plan = rolling::Plan {
        revision: &target.revision,
        up: &up,
        down: &down,
    };
    let healthy = rolling::roll(t, &plan, log)?;
    let slowest = healthy.iter().map(|(_, d)| *d).max().unwrap_or_default();
    Ok((
        target.version.clone(),
        target.revision.clone(),
        target.name.clone(),
        slowest,
    ))
}

/// The kept release to go back to, as the first host has it.
fn pick(t: &Target, to: Option<&str>) -> Result<docker::Kept> {
    let kept: Vec<docker::Kept> = docker::releases(t, &t.hosts[0])?
        .into_iter()
        .filter(|k| !k.running)
        .collect();
    let target = match to {
        Some(v) => kept
            .iter()
            .find(|k| k.version == v || (v.len() >= 7 && k.revision.starts_with(v))),
        None => kept.first(),
    };
    if let Some(k) = target {
        return Ok(k.clone());
    }
    let versions: Vec<&str> = kept.iter().map(|k| k.version.as_str()).collect();
    bail!(
        "no kept release {}to roll {} back to: the kept ones are {}",
        to.map(|v| format!("{v} ")).unwrap_or_default(),
        t.name,
        if versions.is_empty() {
            "none".into()
        } else {
            versions.join(", ")
        }
    )
}

/// The stopped release of that revision (and version) on `host`.
fn kept_on(t: &Target, host: &str, revision: &str, version: &str) -> Result<docker::Kept> {
    docker::releases(t, host)?
        .into_iter()
        .find(|k| !k.running && k.revision == revision && k.version == version)
        .with_context(|| format!("{} keeps no stopped release {version} ({}), so no host was rolled back: deploy that version instead", show(host), short(revision)))
}

fn fly_back(
    t: &Target,
    to: Option<&str>,
    log: &mut dyn FnMut(String),
) -> Result<(String, String, String, Duration)> {
    let app = t.env.app.as_deref().expect("settings checked it");
    let out = fly::flyctl(t, &["releases", "--app", app, "--json"], log)?;
    let mut all: Vec<fly::Release> =
        serde_json::from_str(&out).context("read `flyctl releases --json`")?;
    all.sort_by_key(|r| -r.version);
    let current = all.first().map(|r| r.image_ref.clone()).unwrap_or_default();
    let target = match to {
        Some(v) => all
            .iter()
            .find(|r| format!("v{}", r.version) == v || r.version.to_string() == v),
        None => all.iter().find(|r| r.stable && r.image_ref != current),
    };
    let target = target.with_context(|| {
        format!(
            "fly has no release {} to roll back to",
            to.unwrap_or("before the current one")
        )
    })?;
    fly::deploy(t, &target.image_ref, "immediate", log)?;
    let healthy = gate::Gate {
        base: t.env.url.trim_end_matches('/').to_string(),
        health: &t.env.health_path,
        version: &t.env.version_path,
        expect: None,
        host: t.env.host.as_deref(),
        timeout: Duration::from_secs(t.env.timeout),
        passes: 1,
        via: None,
    }
    .wait(log)?;
    Ok((
        format!("v{}", target.version),
        String::new(),
        target.image_ref.clone(),
        healthy,
    ))
}

pub fn status(t: &Target, root: &Path) -> Result<Exit> {
    let history = state::read(root, &t.name)?;
    match history.live() {
        Some(r) => println!(
            "{}: {} (revision {}), {} ({}), live since {}",
            t.name,
            r.version,
            short(&r.revision),
            r.image,
            r.digest,
            r.at
        ),
        None => println!("{}: nothing deployed yet", t.name),
    }
    if t.env.target != DeployTarget::Docker {
        return Ok(Exit::Passed);
    }
    let mut all_answer = true;
    for h in &t.hosts {
        if let Err(e) = super::hosts::reachable(h) {
            println!(
                "{}: UNREACHABLE: {}",
                show(h),
                format!("{e:#}").lines().next().unwrap_or_default()
            );
            all_answer = false;
            continue;
        }
        let upstream = proxy::current(t, h).map_or_else(
            |_| format!("no proxy (run `cargo xtask deploy setup {}`)", t.name),
            |u| format!("proxy -> {u}"),
        );
        let releases = docker::releases(t, h)?;
        let live = releases
            .iter()
            .find(|k| k.running)
            .map_or("nothing".into(), |k| {
                format!("{} (revision {})", k.version, short(&k.revision))
            });
        println!("{}: serving {live}; {upstream}", show(h));
        for k in releases {
            let state = if k.running {
                "serving"
            } else {
                "kept (stopped)"
            };
            println!(
                "  {:<28} {:<24} {state}, since {}",
                k.name, k.version, k.created
            );
        }
    }
    Ok(if all_answer {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}
