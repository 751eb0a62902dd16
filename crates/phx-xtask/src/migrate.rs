//! `cargo xtask migrate [up|status|rollback --to V]`: the app's migrations
//! against the local database, a one-off container of the image, or a Fly
//! app. (`migrate check` is the `migrations` step, in steps/.)

use std::path::Path;

use anyhow::{bail, Result};

use crate::cli::MigrateArgs;
use crate::mixproj::MixProject;
use crate::run::{Exit, Run};

pub fn run(args: &MigrateArgs, run: &Run, app: &Path, project: &MixProject) -> Result<Exit> {
    let _ = (args, run, app, project);
    bail!("migrate: being built")
}
