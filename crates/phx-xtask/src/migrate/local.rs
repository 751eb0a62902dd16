//! `migrate`, `migrate status` and `migrate rollback --to V` from this
//! machine: the app's own commands (`[migrate] up`, `rollback`) run in the
//! app dir with the MIX_ENV in use, and `schema_migrations` is read back
//! through sqlx.

use anyhow::{bail, Result};

use super::database::{self, Database};
use super::{configured, dry_run, exec, finish, Ctx};
use crate::migrations::status::{self, State};
use crate::migrations::{db, files};
use crate::run::{Exit, Mode};

const UP_HINT: &str = "fix the migration that failed above (the output names it), then run \
                       `cargo xtask migrate` again: the ones before it stay applied";

pub fn up(ctx: &Ctx) -> Result<Exit> {
    let cmd = configured("up", &ctx.run.config.migrate.up, ctx.app, None)?;
    if ctx.run.dry_run {
        return Ok(dry_run(&[database::planned(ctx)?, cmd.describe(ctx.app)]));
    }
    let db = database::open(ctx, true)?;
    let mut exec = exec(ctx);
    exec.env = db.env();
    let result = exec.run(&cmd).and_then(|()| report(ctx, &db, true));
    Ok(finish(result, UP_HINT))
}

/// Says what the database holds now; after `up`, a file still down means
/// the command did not migrate the database we read.
pub fn report(ctx: &Ctx, db: &Database, all_up: bool) -> Result<()> {
    let applied = db::applied(&db.url, database::connect_timeout(ctx))?;
    let rows = status::rows(&ctx.files, &applied, ctx.app);
    eprintln!("{}: {}", db.describe(), status::summary(&rows));
    if db.throwaway() {
        eprintln!(
            "(a throwaway database, gone with its services now: set DATABASE_URL to migrate one of yours)"
        );
    }
    let down: Vec<String> = rows
        .iter()
        .filter(|r| r.status == State::Down)
        .filter_map(|r| r.name.as_ref().map(|n| format!("{}_{n}", r.version)))
        .collect();
    if all_up && !down.is_empty() {
        bail!(
            "the migrate command passed, but {} {} still down in {}: check that `[migrate] up` \
             migrates the database in DATABASE_URL and reads `[migrate] dir`",
            down.join(", "),
            if down.len() == 1 { "is" } else { "are" },
            db.describe()
        );
    }
    Ok(())
}

pub fn status(ctx: &Ctx) -> Result<Exit> {
    let url = database::required(ctx, "status")?;
    let name = db::database(&url);
    if ctx.run.dry_run {
        let line = format!(
            "# read schema_migrations in {name} at {}",
            db::host_port(&url)
        );
        return Ok(dry_run(&[line]));
    }
    let applied = db::applied(&url, database::connect_timeout(ctx))?;
    let rows = status::rows(&ctx.files, &applied, ctx.app);
    match ctx.run.mode {
        Mode::Json => print!("{}", status::json(&name, &rows)),
        _ => {
            print!("{}", status::table(&rows));
            eprintln!(
                "{name} at {}: {}",
                db::host_port(&url),
                status::summary(&rows)
            );
        }
    }
    Ok(Exit::Passed)
}

pub fn rollback(ctx: &Ctx, to: &str) -> Result<Exit> {
    let version = files::parse_version(to)?;
    // Only a database that outlives the command can be rolled back.
    database::required(ctx, "rollback")?;
    let cmd = configured(
        "rollback",
        &ctx.run.config.migrate.rollback,
        ctx.app,
        Some(version),
    )?;
    if ctx.run.dry_run {
        return Ok(dry_run(&[cmd.describe(ctx.app)]));
    }
    let db = database::open(ctx, true)?;
    let result = exec(ctx).run(&cmd).and_then(|()| report(ctx, &db, false));
    Ok(finish(
        result,
        "the rollback failed above: fix the migration's `down` (the output names it); \
         the ones rolled back before it stay down",
    ))
}
