//! What must hold before a deploy changes anything: the image exists and
//! is known (its digest, revision and version), the git tree is clean,
//! the image passed the environment's prerequisite (production: staging),
//! and production is confirmed. Each failure is bad input: exit 2.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::state;
use super::target::Target;
use crate::cli::DeployArgs;
use crate::config::DeployTarget;
use crate::docker;
use crate::image::{git, record};

/// The image to deploy, as the deploy and its records name it.
#[derive(Debug, Clone)]
pub struct Image {
    pub reference: String,
    /// The registry digest when pushed, else the local image id.
    pub digest: String,
    pub revision: String,
    pub version: String,
}

pub fn image(args: &DeployArgs, t: &Target, root: &Path) -> Result<Image> {
    let recorded = record::read(root).ok();
    let reference = match (&args.image, &recorded) {
        (Some(r), _) => r.clone(),
        // Once pushed, every host (and Fly) pulls the exact digest.
        (None, Some(rec)) => rec.digest.clone().unwrap_or_else(|| rec.reference.clone()),
        (None, None) => bail!("no image to deploy: build one with `cargo xtask image` (add --push for fly), or pass --image REF"),
    };
    let from_record = recorded
        .filter(|r| r.reference == reference || r.digest.as_deref() == Some(reference.as_str()));
    let labels = labels(t, &reference)?;
    // A digest is pulled on each host before any switch (hosts::pull).
    if labels.is_none() && t.env.target == DeployTarget::Docker && !reference.contains("@sha256:") {
        bail!("the image {reference} does not exist on the docker host {}: build it with `cargo xtask image` (with --push when the hosts are remote), or pass --image with one that `docker images` lists", super::target::show(&t.hosts[0]));
    }
    let (id, revision, version) = labels.unwrap_or_default();
    let digest = from_record
        .as_ref()
        .and_then(|r| r.digest.clone())
        .or((!id.is_empty()).then_some(id))
        .unwrap_or_else(|| reference.clone());
    let revision = from_record
        .as_ref()
        .map(|r| r.git_sha.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or(revision);
    let version = from_record
        .as_ref()
        .and_then(|r| r.tags.first().cloned())
        .unwrap_or(version);
    Ok(Image {
        reference,
        digest,
        revision,
        version,
    })
}

/// (id, revision label, version label) of a local image; None when absent.
fn labels(t: &Target, reference: &str) -> Result<Option<(String, String, String)>> {
    let format = "{{.Id}}\t{{index .Config.Labels \"org.opencontainers.image.revision\"}}\t{{index .Config.Labels \"org.opencontainers.image.version\"}}";
    match docker::cli(
        &t.hosts[0],
        &["image", "inspect", "--format", format, reference],
        Duration::from_secs(30),
    ) {
        Ok(out) => {
            let f: Vec<&str> = out.split('\t').collect();
            let get = |i: usize| {
                f.get(i)
                    .map(|s| s.replace("<no value>", ""))
                    .unwrap_or_default()
            };
            Ok(Some((get(0), get(1), get(2))))
        }
        Err(e) if format!("{e:#}").contains("No such image") => Ok(None),
        // Fly and a pushed digest do without the labels: the record has
        // the revision.
        Err(_) if t.env.target == DeployTarget::Fly || reference.contains("@sha256:") => Ok(None),
        Err(e) => Err(e),
    }
}

/// A deploy ships what is committed: a dirty tree is refused.
pub fn clean_tree(app: &Path) -> Result<()> {
    let (facts, _) = git::facts(app)?;
    if facts.dirty {
        bail!("the git tree has uncommitted changes: commit or stash them first, so what is deployed is a commit");
    }
    Ok(())
}

/// Production needs the same image to have passed staging first.
pub fn prerequisite(
    args: &DeployArgs,
    t: &Target,
    root: &Path,
    run_envs: &[String],
    img: &Image,
    log: &mut dyn FnMut(String),
) -> Result<()> {
    let after = t.env.after.clone().or_else(|| {
        (t.name == "production" && run_envs.iter().any(|e| e == "staging"))
            .then(|| "staging".to_string())
    });
    let Some(after) = after else {
        return Ok(());
    };
    if state::read(root, &after)?.passed(&img.digest) {
        log(format!("{} passed {after} before", img.digest));
        return Ok(());
    }
    match &args.skip_staging_check {
        Some(reason) => {
            log(format!("skipping the {after} check ({}): {reason}", img.digest));
            Ok(())
        }
        None => bail!(
            "{} has not passed {after}: deploy it there first (`cargo xtask deploy {after}`), or pass --skip-staging-check \"<reason>\"",
            img.digest
        ),
    }
}

/// Production asks on a terminal, and needs --yes anywhere else.
pub fn confirm(t: &Target, yes: bool, img: &Image) -> Result<()> {
    let asks = t.env.confirm.unwrap_or(t.name == "production");
    if !asks || yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "deploying to {} needs confirmation: pass --yes (there is no terminal to ask on)",
            t.name
        );
    }
    eprint!("deploy {} to {}? [y/N] ", img.version, t.name);
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("read the answer")?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not confirmed: nothing was deployed");
    }
    Ok(())
}
