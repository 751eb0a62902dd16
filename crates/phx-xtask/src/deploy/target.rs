//! One environment, resolved: its `[deploy.<env>]` table checked against
//! the machine's inputs (the variables it passes, flyctl, the token), the
//! container label that finds its releases, and the Docker hosts.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config::{DeployEnv, DeployTarget};
use crate::run::Run;

pub struct Target {
    pub name: String,
    pub env: DeployEnv,
    /// `<app>-<env>`: the label value and the container name prefix.
    pub label: String,
    /// Each host's DOCKER_HOST: `ssh://…` or `unix://…`.
    pub hosts: Vec<String>,
    /// The network the proxy and the releases share on each host.
    pub network: String,
    pub flyctl: String,
    pub app_dir: PathBuf,
}

impl Target {
    /// The proxy container's name on each host.
    pub fn proxy(&self) -> String {
        format!("{}-proxy", self.label)
    }
}

/// What the command at hand will do: `status` and `--plan` only read, so
/// they need none of the secrets a deploy passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Secrets,
    Nothing,
}

/// The environment `name`, or an error listing the known ones.
pub fn resolve(run: &Run, name: &str, app: &Path, app_name: &str, needs: Needs) -> Result<Target> {
    let known: Vec<&str> = run.config.deploy.keys().map(String::as_str).collect();
    let Some(env) = run.config.deploy.get(name).cloned() else {
        match known.is_empty() {
            true => bail!("no environment `{name}`: xtask.toml has no [deploy.<env>] table yet (see the README's `cargo xtask deploy`)"),
            false => bail!("no environment `{name}` in xtask.toml: the known ones are {}", known.join(", ")),
        }
    };
    let fix = format!("set it in [deploy.{name}] in xtask.toml");
    if env.url.is_empty() {
        bail!("[deploy.{name}] has no url (the public URL the gate checks): {fix}");
    }
    let mut flyctl = String::new();
    let hosts: Vec<String>;
    match env.target {
        DeployTarget::Docker => {
            hosts = docker_hosts(run, name, &env)?;
            if needs == Needs::Secrets {
                missing_vars(run, name, &env)?;
            }
        }
        // Fly's releases are Fly's; this machine's docker only has images.
        DeployTarget::Fly if needs == Needs::Nothing => hosts = vec![crate::docker::host(&run.env)],
        DeployTarget::Fly => {
            hosts = vec![crate::docker::host(&run.env)];
            if env.app.is_none() {
                bail!("[deploy.{name}] has no app (the Fly app's name): {fix}");
            }
            flyctl = find_flyctl(&run.env).ok_or_else(|| anyhow::anyhow!("the fly target needs flyctl on PATH: install it (fly.io/docs/flyctl/install) or enter `nix develop`"))?;
            if run.env.get("FLY_API_TOKEN").is_none() {
                bail!("the fly target needs FLY_API_TOKEN in the environment (`fly tokens create deploy`); it reaches flyctl through the environment only");
            }
        }
    }
    let label = format!("{app_name}-{name}");
    Ok(Target {
        name: name.to_string(),
        network: env.network.clone().unwrap_or_else(|| label.clone()),
        label,
        hosts,
        flyctl,
        app_dir: app.to_path_buf(),
        env,
    })
}

/// `hosts`, checked; none means DOCKER_HOST or the local socket.
fn docker_hosts(run: &Run, name: &str, env: &DeployEnv) -> Result<Vec<String>> {
    if env.proxy_upstream.is_some() || !env.proxy_reload.is_empty() {
        bail!("[deploy.{name}] has proxy_upstream/proxy_reload, which rewrote a proxy on the deploying machine: the proxy now runs as a container on each host. Remove them, set proxy_publish (e.g. [\"80:80\"]) and run `cargo xtask deploy setup {name}`");
    }
    if env.max_parallel == 0 {
        bail!("[deploy.{name}] max_parallel = 0 would deploy nowhere: set it to 1 (one host at a time) or more");
    }
    let hosts = match env.hosts.is_empty() {
        true => vec![crate::docker::host(&run.env)],
        false => env.hosts.clone(),
    };
    for h in &hosts {
        let ok = match h.split_once("://") {
            Some(("ssh", rest)) => !rest.is_empty() && !rest.contains('/'),
            Some(("unix", path)) => path.starts_with('/'),
            Some(("tcp", rest)) => !rest.is_empty(),
            _ => false,
        };
        if !ok {
            bail!("[deploy.{name}] hosts has `{h}`, which is not a docker host: write `ssh://user@host[:port]` (or `unix:///var/run/docker.sock` for this machine)");
        }
    }
    if let Some(dup) = hosts
        .iter()
        .enumerate()
        .find(|(i, h)| hosts[..*i].contains(h))
    {
        bail!(
            "[deploy.{name}] hosts lists {} twice: list each host once",
            dup.1
        );
    }
    Ok(hosts)
}

fn missing_vars(run: &Run, name: &str, env: &DeployEnv) -> Result<()> {
    let missing: Vec<&str> = env
        .env
        .iter()
        .filter(|v| run.env.get(v).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!("[deploy.{name}] passes {} to the release, and they are not set here: set them in the environment (they never go on a command line)", missing.join(", "));
    }
    Ok(())
}

/// How a host is named in messages: `deploy@web1:2222`, or `local` for
/// this machine's socket.
pub fn show(host: &str) -> String {
    match host.split_once("://") {
        Some(("ssh" | "tcp", rest)) => rest.to_string(),
        _ => host.to_string(),
    }
}

/// flyctl, or fly (its other name).
fn find_flyctl(env: &crate::env::Env) -> Option<String> {
    ["flyctl", "fly"]
        .into_iter()
        .find(|p| env.which(p).is_some())
        .map(String::from)
}
