//! One environment, resolved: its `[deploy.<env>]` table checked against
//! the machine's inputs (the variables it passes, flyctl, the token), the
//! container label that finds its releases, and the Docker host.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config::{DeployEnv, DeployTarget};
use crate::run::Run;

pub struct Target {
    pub name: String,
    pub env: DeployEnv,
    /// `<app>-<env>`: the label value and the container name prefix.
    pub label: String,
    pub host: String,
    pub flyctl: String,
    pub app_dir: PathBuf,
}

/// The environment `name`, or an error listing the known ones.
pub fn resolve(run: &Run, name: &str, app: &Path, app_name: &str) -> Result<Target> {
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
    match env.target {
        DeployTarget::Docker => {
            if env.proxy_upstream.is_none() || env.proxy_reload.is_empty() {
                bail!("[deploy.{name}] needs proxy_upstream (the file its proxy includes) and proxy_reload (the command that reloads it): {fix}");
            }
            let missing: Vec<&str> = env
                .env
                .iter()
                .filter(|v| run.env.get(v).is_none())
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                bail!("[deploy.{name}] passes {} to the release, and they are not set here: set them in the environment (they never go on a command line)", missing.join(", "));
            }
        }
        DeployTarget::Fly => {
            if env.app.is_none() {
                bail!("[deploy.{name}] has no app (the Fly app's name): {fix}");
            }
            flyctl = find_flyctl(&run.env).ok_or_else(|| anyhow::anyhow!("the fly target needs flyctl on PATH: install it (fly.io/docs/flyctl/install) or enter `nix develop`"))?;
            if run.env.get("FLY_API_TOKEN").is_none() {
                bail!("the fly target needs FLY_API_TOKEN in the environment (`fly tokens create deploy`); it reaches flyctl through the environment only");
            }
        }
    }
    Ok(Target {
        name: name.to_string(),
        label: format!("{app_name}-{name}"),
        host: crate::docker::host(&run.env),
        flyctl,
        app_dir: app.to_path_buf(),
        env,
    })
}

/// flyctl, or fly (its other name).
fn find_flyctl(env: &crate::env::Env) -> Option<String> {
    ["flyctl", "fly"]
        .into_iter()
        .find(|p| env.which(p).is_some())
        .map(String::from)
}
