//! The `docker` target's releases on one host, Kamal-style: each release
//! is a container on the environment's network beside the proxy container,
//! publishing no port; it is gated from inside the proxy before it takes
//! traffic. Everything goes through that host's Docker API (the CLI with
//! DOCKER_HOST, so `ssh://` hosts work as `unix://` ones do).

use std::time::Duration;

use anyhow::Result;

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

/// Every release container of the environment on `host`, newest first.
pub fn releases(t: &Target, host: &str) -> Result<Vec<Kept>> {
    let filter = format!("label={ENV_LABEL}={}", t.label);
    let format = format!("{{{{.Names}}}}\t{{{{.Label \"{VERSION_LABEL}\"}}}}\t{{{{.Label \"{REVISION_LABEL}\"}}}}\t{{{{.State}}}}\t{{{{.CreatedAt}}}}");
    let out = docker::cli(
        host,
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

/// The release serving on `host`, if any.
pub fn serving(t: &Target, host: &str) -> Result<Option<Kept>> {
    Ok(releases(t, host)?.into_iter().find(|k| k.running))
}

/// A new release's container name, the same on every host.
pub fn new_name(t: &Target) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{}-{ms}", t.label)
}

/// Starts `image` as the release container `name` on the network.
pub fn start(
    t: &Target,
    host: &str,
    name: &str,
    image: &str,
    version: &str,
    revision: &str,
) -> Result<()> {
    let labels = [
        format!("{ENV_LABEL}={}", t.label),
        format!("{VERSION_LABEL}={version}"),
        format!("{REVISION_LABEL}={revision}"),
    ];
    let mut args: Vec<&str> = vec!["run", "-d", "--name", name, "--network", &t.network];
    args.extend(["--restart", "unless-stopped"]);
    for l in &labels {
        args.extend(["--label", l]);
    }
    // By name only: docker takes each value from our environment (over ssh
    // too: the CLI sends it in the API call), so no secret is on a command
    // line.
    for var in &t.env.env {
        args.extend(["-e", var]);
    }
    args.push(image);
    docker::cli(host, &args, DOCKER).map(|_| ())
}

/// Where the proxy reaches a release: its name on the network.
pub fn upstream(t: &Target, name: &str) -> String {
    format!("{name}:{}", t.env.port)
}

/// Gates the release itself, from inside the proxy on its host: health,
/// then its revision when it names one.
pub fn gate(
    t: &Target,
    host: &str,
    name: &str,
    revision: &str,
    log: &mut dyn FnMut(String),
) -> Result<Duration> {
    let proxy = t.proxy();
    Gate {
        base: format!("http://{}", upstream(t, name)),
        health: &t.env.health_path,
        version: &t.env.version_path,
        expect: Some(revision).filter(|r| !r.is_empty()),
        host: t.env.host.as_deref(),
        timeout: Duration::from_secs(t.env.timeout),
        passes: 1,
        via: Some((host, &proxy)),
    }
    .wait(log)
}

/// The last lines a failed release printed, for the summary (redacted).
pub fn last_logs(host: &str, name: &str) -> String {
    let args = ["logs", "--tail", "15", name];
    let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let spawn = proc::Spawn {
        env: vec![("DOCKER_HOST", host)],
        ..proc::Spawn::new("docker", &a)
    };
    let out = proc::output(&spawn, DOCKER, |_| {})
        .map(|o| format!("{}{}", o.stdout, o.stderr))
        .unwrap_or_default();
    crate::redact::line(out.trim_end())
}

/// Removes a release; after Ctrl-C too.
pub fn remove(host: &str, name: &str) {
    let _ = docker::cli_cleanup(host, &["rm", "-f", name], DOCKER);
}

pub fn start_kept(host: &str, name: &str) -> Result<()> {
    docker::cli(host, &["start", name], DOCKER).map(|_| ())
}

/// Stops a release (kept, for a fast rollback); its requests finished
/// during the drain. After Ctrl-C too.
pub fn stop(host: &str, name: &str) -> Result<()> {
    docker::cli_cleanup(host, &["stop", "-t", "10", name], DOCKER).map(|_| ())
}

/// Keeps the newest `keep` stopped releases on `host`, removes the rest.
pub fn prune(t: &Target, host: &str, log: &mut dyn FnMut(String)) -> Result<()> {
    let stopped: Vec<Kept> = releases(t, host)?
        .into_iter()
        .filter(|k| !k.running)
        .collect();
    for old in stopped.iter().skip(t.env.keep) {
        remove(host, &old.name);
        log(format!(
            "removed {} ({}), beyond the {} kept",
            old.name, old.version, t.env.keep
        ));
    }
    Ok(())
}
