//! The `docker` target, Kamal-style, on the local Docker host or
//! `DOCKER_HOST=ssh://…`: start the new release beside the old one, gate it
//! directly, switch the reverse proxy's upstream and reload it, drain the
//! old release, then stop it (kept, for a fast rollback). A release that
//! never gets healthy is removed, and the old one never stopped serving.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::gate::Gate;
use super::target::Target;
use crate::docker;
use crate::proc;

const DOCKER: Duration = Duration::from_secs(120);
pub const ENV_LABEL: &str = "dev.phx-xtask.deploy";
pub const VERSION_LABEL: &str = "dev.phx-xtask.version";
pub const REVISION_LABEL: &str = "dev.phx-xtask.revision";

/// A container of this environment, as `docker ps` lists it.
#[derive(Debug, Clone)]
pub struct Kept {
    pub name: String,
    pub version: String,
    pub revision: String,
    pub running: bool,
    pub created: String,
}

/// Every release container of the environment, newest first.
pub fn releases(t: &Target) -> Result<Vec<Kept>> {
    let filter = format!("label={ENV_LABEL}={}", t.label);
    let format = format!("{{{{.Names}}}}\t{{{{.Label \"{VERSION_LABEL}\"}}}}\t{{{{.Label \"{REVISION_LABEL}\"}}}}\t{{{{.State}}}}\t{{{{.CreatedAt}}}}");
    let out = docker::cli(
        &t.host,
        &["ps", "-a", "--filter", &filter, "--format", &format],
        DOCKER,
    )?;
    let mut all: Vec<Kept> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some(Kept {
                name: f.first()?.to_string(),
                version: f.get(1)?.to_string(),
                revision: f.get(2)?.to_string(),
                running: *f.get(3)? == "running",
                created: f.get(4)?.to_string(),
            })
        })
        .collect();
    all.sort_by(|a, b| b.created.cmp(&a.created));
    Ok(all)
}

/// Starts `image` as a new release container; its loopback port.
pub fn start(t: &Target, image: &str, version: &str, revision: &str) -> Result<(String, u16)> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("{}-{secs}", t.label);
    let publish = format!("127.0.0.1::{}", t.env.port);
    let labels = [
        format!("{ENV_LABEL}={}", t.label),
        format!("{VERSION_LABEL}={version}"),
        format!("{REVISION_LABEL}={revision}"),
    ];
    let mut args: Vec<&str> = vec!["run", "-d", "--name", &name, "-p", &publish];
    for l in &labels {
        args.extend(["--label", l]);
    }
    if let Some(net) = &t.env.network {
        args.extend(["--network", net]);
    }
    // By name only: docker takes each value from our environment, so no
    // secret is on a command line.
    for var in &t.env.env {
        args.extend(["-e", var]);
    }
    args.push(image);
    docker::cli(&t.host, &args, DOCKER)?;
    Ok((name.clone(), port(t, &name)?))
}

pub fn port(t: &Target, name: &str) -> Result<u16> {
    let out = docker::cli(
        &t.host,
        &["port", name, &format!("{}/tcp", t.env.port)],
        DOCKER,
    )?;
    let line = out.lines().next().unwrap_or_default();
    line.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("{name} publishes no port {}: {out}", t.env.port))
}

/// Gates the container on its own port: health, then its revision.
pub fn gate(
    t: &Target,
    port: u16,
    revision: &str,
    log: &mut dyn FnMut(String),
) -> Result<Duration> {
    Gate {
        base: format!("http://127.0.0.1:{port}"),
        health: &t.env.health_path,
        version: &t.env.version_path,
        expect: Some(revision).filter(|r| !r.is_empty()),
        host: t.env.host.as_deref(),
        timeout: Duration::from_secs(t.env.timeout),
        passes: 1,
    }
    .wait(log)
}

/// The last lines a failed release printed, for the summary (redacted).
pub fn last_logs(t: &Target, name: &str) -> String {
    let args = ["logs", "--tail", "15", name];
    let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let spawn = proc::Spawn {
        env: vec![("DOCKER_HOST", &t.host)],
        ..proc::Spawn::new("docker", &a)
    };
    let out = proc::output(&spawn, DOCKER, |_| {})
        .map(|o| format!("{}{}", o.stdout, o.stderr))
        .unwrap_or_default();
    crate::redact::line(out.trim_end())
}

pub fn remove(t: &Target, name: &str) {
    let _ = docker::cli(&t.host, &["rm", "-f", name], DOCKER);
}

/// Points the proxy at `port` and reloads it, then checks through the
/// public URL that the release answers there.
pub fn switch(t: &Target, port: u16, revision: &str, log: &mut dyn FnMut(String)) -> Result<()> {
    let file = t.env.proxy_upstream.as_ref().expect("settings checked it");
    let text = format!("# Managed by phx-xtask: the release serving {}. Rewritten on each deploy.\nserver 127.0.0.1:{port};\n", t.label);
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("write {}", file.display()))?;
    let (program, args) = t
        .env
        .proxy_reload
        .split_first()
        .expect("settings checked it");
    let spawn = proc::Spawn::new(program, args);
    let out = proc::output(&spawn, Duration::from_secs(30), |_| {})?;
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            t.env.proxy_reload.join(" "),
            out.stderr.trim()
        );
    }
    log(format!("proxy: upstream 127.0.0.1:{port}, reloaded"));
    Gate {
        base: t.env.url.trim_end_matches('/').to_string(),
        health: &t.env.health_path,
        version: &t.env.version_path,
        expect: Some(revision).filter(|r| !r.is_empty()),
        host: t.env.host.as_deref(),
        timeout: Duration::from_secs(15),
        passes: 3,
    }
    .wait(log)
    .map(|_| ())
    .context("the proxy does not serve the new release")
}

/// Lets the old release finish its requests, then stops it (kept).
pub fn drain_and_stop(t: &Target, name: &str, log: &mut dyn FnMut(String)) {
    let until = Instant::now() + Duration::from_secs(t.env.drain);
    while Instant::now() < until && !proc::interrupted() {
        std::thread::sleep(Duration::from_millis(100));
    }
    match docker::cli(&t.host, &["stop", "-t", "10", name], DOCKER) {
        Ok(_) => log(format!(
            "stopped {name} after draining {} s (kept for rollback)",
            t.env.drain
        )),
        Err(e) => log(format!("warning: could not stop {name}: {e:#}")),
    }
}

/// Keeps the newest `keep` stopped releases, removes the older ones.
pub fn prune(t: &Target, log: &mut dyn FnMut(String)) -> Result<()> {
    let stopped: Vec<Kept> = releases(t)?.into_iter().filter(|k| !k.running).collect();
    for old in stopped.iter().skip(t.env.keep) {
        remove(t, &old.name);
        log(format!(
            "removed {} ({}), beyond the {} kept",
            old.name, old.version, t.env.keep
        ));
    }
    Ok(())
}
