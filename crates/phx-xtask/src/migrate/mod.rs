//! `cargo xtask migrate [up|status|rollback --to V]`: the app's migrations
//! against the local database (DATABASE_URL, or throwaway services started
//! as `cargo xtask test` starts them), in a one-off container of the
//! release image, or on a Fly app. `migrate check` is the `migrations`
//! step, planned in steps/.
//!
//! Preconditions come first (file names, the target's tools and secrets,
//! the database answering within `[migrate] connect_timeout`); then the
//! command runs, echoed with secrets masked; then the database's
//! `schema_migrations` is read back to say what is up and down.

mod database;
mod local;
mod remote;

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};

use crate::cli::{MigrateAction, MigrateArgs, MigrateTarget};
use crate::exec::Exec;
use crate::ids::StepId;
use crate::migrations::command as configured;
use crate::migrations::files::{self, Migration};
use crate::mixproj::MixProject;
use crate::run::{Exit, Run};
use crate::{proc, redact};

/// What every migrate command works from.
struct Ctx<'a> {
    run: &'a Run,
    app: &'a Path,
    project: &'a MixProject,
    args: &'a MigrateArgs,
    files: Vec<Migration>,
}

pub fn run(args: &MigrateArgs, run: &Run, app: &Path, project: &MixProject) -> Result<Exit> {
    let files = files::list(&app.join(&run.config.migrate.dir))?;
    let ctx = Ctx {
        run,
        app,
        project,
        args,
        files,
    };
    let action = args.action.clone().unwrap_or(MigrateAction::Up);
    match (args.target, action) {
        (MigrateTarget::Local, MigrateAction::Up) => local::up(&ctx),
        (MigrateTarget::Local, MigrateAction::Status) => local::status(&ctx),
        (MigrateTarget::Local, MigrateAction::Rollback { to }) => local::rollback(&ctx, &to),
        (MigrateTarget::Image, MigrateAction::Up) => remote::image(&ctx),
        (MigrateTarget::Fly, MigrateAction::Up) => remote::fly(&ctx),
        (_, MigrateAction::Check { .. }) => bail!("`migrate check` is a step: the pipeline runs it"),
        (target, _) => bail!(
            "`migrate status` and `rollback` read and change the database in DATABASE_URL from here: \
             drop `--target {}` (for a deployed app, point DATABASE_URL at its database)",
            target_name(target)
        ),
    }
}

fn target_name(target: MigrateTarget) -> &'static str {
    match target {
        MigrateTarget::Local => "local",
        MigrateTarget::Image => "image",
        MigrateTarget::Fly => "fly",
    }
}

/// Runs commands as the steps do (echoed, secrets masked, status judged),
/// with their output on stderr as it comes.
fn exec(ctx: &Ctx) -> Exec {
    let live: crate::exec::Live = Arc::new(|_, line: &str| eprintln!("{line}"));
    Exec::new(
        StepId::Migrations,
        ctx.app.to_path_buf(),
        Some(live),
        ctx.run.env.clone(),
    )
}

/// Prints the plan for `--dry-run`: the commands, and `#` lines for the rest.
fn dry_run(lines: &[String]) -> Exit {
    for line in lines {
        println!("{line}");
    }
    Exit::Passed
}

/// The exit for a command's result: a failure is reported with its fix.
fn finish(result: Result<()>, hint: &str) -> Exit {
    let Err(e) = result else {
        return Exit::Passed;
    };
    if proc::interrupted() {
        eprintln!("stopped ({})", proc::signal_name());
        return Exit::Interrupted;
    }
    eprintln!("error: {}", redact::line(&format!("{e:#}")));
    eprintln!("hint: {hint}");
    Exit::Failed
}
