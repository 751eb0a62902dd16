//! Migrations in a deploy: they run in a one-off container of the new image
//! before any traffic moves (so a failed migration leaves the old release
//! serving on the old schema), and `--plan` lists the pending ones.

use std::time::Duration;

use anyhow::{bail, Result};

use super::target::Target;
use crate::docker;
use crate::run::Run;

/// `<image_command>` (bin/migrate) in a one-off container of `image`, on
/// the release's network, with the release's variables by name.
pub fn before_traffic(
    t: &Target,
    run: &Run,
    image: &str,
    log: &mut dyn FnMut(String),
) -> Result<()> {
    let command = &run.config.migrate.image_command;
    if command.is_empty() {
        return Ok(());
    }
    let mut args: Vec<&str> = vec!["run", "--rm"];
    if let Some(net) = &t.env.network {
        args.extend(["--network", net]);
    }
    for var in &t.env.env {
        args.extend(["-e", var]);
    }
    args.extend([image, command.as_str()]);
    log(format!(
        "migrating: {command} in a one-off container of {image}"
    ));
    match docker::cli(&t.host, &args, Duration::from_secs(600)) {
        Ok(out) => {
            out.lines().for_each(|l| log(format!("  {l}")));
            Ok(())
        }
        Err(e) => bail!("the migrations failed, before any traffic moved (the live release is untouched): {e:#}"),
    }
}

/// The migration files the plan shows.
pub fn summary(run: &Run) -> Result<String> {
    let dir = run.app()?.join(&run.config.migrate.dir);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".exs"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    Ok(match names.last() {
        Some(last) => format!("{} files, the newest {last}; pending ones run in a one-off container before traffic moves", names.len()),
        None => "none".into(),
    })
}
