//! `deploy rollback <env> [--to VERSION]` and `deploy status <env>`.
//! docker: restart a kept release, gate it, switch the proxy, stop the
//! current one. fly: redeploy that release's image.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::target::Target;
use super::{docker, fly, gate, logger, state};
use crate::config::DeployTarget;
use crate::image::record;
use crate::run::{Exit, Run};

pub fn run(t: &Target, run: &Run, to: Option<&str>, yes: bool, app: &str) -> Result<Exit> {
    let _lock = state::Lock::take(&run.root, &t.name)?;
    if t.env.confirm.unwrap_or(t.name == "production") && !yes {
        bail!("rolling {} back needs --yes", t.name);
    }
    let started = Instant::now();
    let mut log = logger();
    let (version, revision, image, healthy) = match t.env.target {
        DeployTarget::Docker => docker_back(t, to, &mut log)?,
        DeployTarget::Fly => fly_back(t, to, &mut log)?,
    };
    let mut history = state::read(&run.root, &t.name)?;
    let container = docker::releases(t)
        .ok()
        .and_then(|r| r.into_iter().find(|k| k.running))
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
    let all = docker::releases(t)?;
    let current = all.iter().find(|k| k.running).cloned();
    let kept: Vec<&docker::Kept> = all.iter().filter(|k| !k.running).collect();
    let target = match to {
        Some(v) => kept
            .iter()
            .find(|k| k.version == v || (v.len() >= 7 && k.revision.starts_with(v)))
            .copied(),
        None => kept.first().copied(),
    };
    let Some(target) = target else {
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
        );
    };
    crate::docker::cli(&t.host, &["start", &target.name], Duration::from_secs(60))?;
    let port = docker::port(t, &target.name)?;
    log(format!(
        "restarted {} ({}) on 127.0.0.1:{port}",
        target.name, target.version
    ));
    let healthy = docker::gate(t, port, &target.revision, log).map_err(|e| {
        let _ = crate::docker::cli(&t.host, &["stop", &target.name], Duration::from_secs(60));
        e.context(format!(
            "{} did not pass the gate; the current release keeps serving",
            target.name
        ))
    })?;
    docker::switch(t, port, &target.revision, log)?;
    if let Some(c) = current {
        docker::drain_and_stop(t, &c.name, log);
    }
    Ok((
        target.version.clone(),
        target.revision.clone(),
        target.name.clone(),
        healthy,
    ))
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
    if t.env.target == DeployTarget::Docker {
        for k in docker::releases(t)? {
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
    Ok(Exit::Passed)
}

fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}
