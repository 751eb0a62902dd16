//! The reversibility check of `migrations`: up one at a time, oldest
//! first, with the schema recorded before each migration checked; then
//! down one at a time, newest first. After the down of migration k the
//! schema must be the one recorded before k's up, which puts a wrong down
//! on the file that has it, never on its neighbours. The migrations not
//! checked (on the default branch already) go up in one step each run of
//! them. Last, everything goes up again in one step.
//!
//! With Ecto (or `[migrate] migrator`), all of it runs in ONE BEAM boot:
//! a `mix run` session that holds the repo open and takes commands on a
//! line protocol (`migrations::session`) while the snapshots are read here
//! through sqlx. With only `[migrate] up`, `up_to` and `rollback`
//! configured, each move is one of those commands (one boot each).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{lock, Slot};
use crate::config::Migrate;
use crate::exec::Exec;
use crate::migrations::files::Migration;
use crate::migrations::lint;
use crate::migrations::schema::{self, Schema};
use crate::migrations::session::{self, Session};
use crate::migrations::{command, db};
use crate::plan::{Action, Cmd};

/// How the check moves the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// One session through this module's `run/4` (`Ecto.Migrator`).
    Session(String),
    /// The configured commands, one boot each.
    Commands {
        up: Box<Cmd>,
        up_to: Vec<String>,
        rollback: Vec<String>,
    },
}

/// The session when the app uses Ecto's commands or names a migrator;
/// otherwise its own configured commands.
pub fn driver(app: &Path, cfg: &Migrate) -> Result<Driver> {
    if let Some(module) = &cfg.migrator {
        return Ok(Driver::Session(module.clone()));
    }
    if cfg.up == Migrate::default().up {
        return Ok(Driver::Session("Ecto.Migrator".into()));
    }
    Ok(Driver::Commands {
        up: Box::new(command("up", &cfg.up, app, None)?),
        up_to: cfg.up_to.clone(),
        rollback: cfg.rollback.clone(),
    })
}

/// The one action that checks `found[i]` where `checked[i]`.
pub fn check(
    app: &Path,
    cfg: &Migrate,
    found: &[Migration],
    checked: Vec<bool>,
    slot: &Slot,
) -> Result<Action> {
    let driver = driver(app, cfg)?;
    let count = checked.iter().filter(|c| **c).count();
    let how = match &driver {
        Driver::Session(module) => {
            let cmd = session::command(app, module, &cfg.dir);
            format!("in one boot: {}", cmd.describe(app).trim_start_matches("# "))
        }
        Driver::Commands { up, .. } => format!(
            "with [migrate] up_to and rollback, one boot each (set [migrate] migrator for one boot in all): {}",
            up.describe(app)
        ),
    };
    let describe = format!(
        "check {count} of {} migrations: up one by one, down one by one, snapshots between, {how}",
        found.len()
    );
    let (app, dir, found) = (app.to_path_buf(), cfg.dir.clone(), found.to_vec());
    let timeout = Duration::from_secs(cfg.connect_timeout);
    let slot = Arc::clone(slot);
    Ok(Action::Native {
        describe,
        run: Box::new(move |ctx| {
            let url = lock(&slot)
                .url
                .clone()
                .context("the database was not created")?;
            let started = std::time::Instant::now();
            // The session the lint booted (and the time its boot and the
            // lint took before this), or a new one.
            let taken = lock(&slot).session.take();
            let (mut mover, booted, linted, before) = match taken {
                Some((mover, booted, linted)) => (mover, booted, linted, booted + linted),
                None => {
                    let mover = Mover::start(ctx, &app, &dir, driver)?;
                    (mover, started.elapsed(), Duration::ZERO, Duration::ZERO)
                }
            };
            let snap = Snap {
                db: RefCell::new(db::Snapshots::open(&url, timeout)?),
                taken: Default::default(),
            };
            let result = walk(ctx, &mut mover, &found, &checked, &snap);
            mover.finish();
            let (n, spent) = snap.taken.get();
            ctx.log(format!(
                "{:.1} s in all: {:.1} s to boot, {:.1} s to lint, {n} snapshots in {:.1} s, the rest migrating",
                (before + started.elapsed()).as_secs_f64(),
                booted.as_secs_f64(),
                linted.as_secs_f64(),
                spent.as_secs_f64()
            ));
            result
        }),
    })
}

struct Snap {
    db: RefCell<db::Snapshots>,
    /// Snapshots taken and the time they took, for the step's log.
    taken: Cell<(u32, Duration)>,
}

impl Snap {
    fn take(&self) -> Result<Schema> {
        let started = std::time::Instant::now();
        let schema = self.db.borrow_mut().take();
        let (n, spent) = self.taken.get();
        self.taken.set((n + 1, spent + started.elapsed()));
        schema
    }
}

/// Up, oldest first: the unchecked ones in one step per run of them, each
/// checked one alone with the schema recorded before it. Then down, newest
/// first: after the down of migration k the schema must be the one
/// recorded before k's up. Then all up again.
fn walk(
    ctx: &mut Exec,
    m: &mut Mover,
    found: &[Migration],
    checked: &[bool],
    snap: &Snap,
) -> Result<()> {
    let mut recorded: Vec<(&Migration, Schema)> = Vec::new();
    let mut unchecked = None;
    for (mig, &check) in found.iter().zip(checked) {
        if !check {
            unchecked = Some(mig.version);
            continue;
        }
        if let Some(v) = unchecked.take() {
            m.up(ctx, Some(v))
                .map_err(|e| hinted(ctx, e, UP_HINT.into()))?;
        }
        recorded.push((mig, snap.take()?));
        m.up(ctx, Some(mig.version))
            .map_err(|e| hinted(ctx, e, UP_HINT.into()))?;
    }
    // The schema with each one up: the next one's record, or the top.
    let mut above = match recorded.is_empty() {
        true => None,
        false => Some(snap.take()?),
    };
    for (mig, before) in recorded.iter().rev() {
        let file = mig.file_name();
        m.down(ctx, mig.version).map_err(|e| {
            let why = format!("{file}'s down failed above: fix it so it undoes what its up does");
            hinted(ctx, e, why)
        })?;
        let down = snap.take()?;
        judge(ctx, &file, before, &down, above.as_ref().expect("taken"))?;
        // The schema with the one before it up: what this one found.
        above = Some(before.clone());
    }
    m.up(ctx, None).map_err(|e| {
        let why = "after their downs, the migrations did not apply again: a down leaves behind \
                   something its up creates (see the error above)";
        hinted(ctx, e, why.into())
    })
}

const UP_HINT: &str =
    "the migrations do not apply to an empty database: fix the one that failed above";

fn hinted(ctx: &mut Exec, e: anyhow::Error, hint: String) -> anyhow::Error {
    ctx.hint = Some(hint);
    e
}

/// After its down, the schema must be the one before its up. A migration
/// whose only effect is to validate constraints (`VALIDATE CONSTRAINT`
/// with an empty down, as ecto_sql's safe-migrations guide pairs it with
/// a `validate: false` foreign key) passes: no down can make a constraint
/// NOT VALID again.
fn judge(ctx: &mut Exec, file: &str, before: &Schema, down: &Schema, after: &Schema) -> Result<()> {
    let lines = schema::diff(before, down);
    if lines.is_empty() {
        ctx.log(format!("{file}: reversible"));
        return Ok(());
    }
    if down == after && schema::only_validated(before, after) {
        ctx.log(format!(
            "{file}: reversible (it only validates constraints, which no down undoes)"
        ));
        return Ok(());
    }
    Err(irreversible(ctx, file, &lines))
}

fn irreversible(ctx: &mut Exec, file: &str, lines: &[String]) -> anyhow::Error {
    ctx.hint = Some(format!(
        "make {file}'s down undo exactly what its up does: `-` is the schema before its up, `+` after its down"
    ));
    anyhow::anyhow!(
        "{file} is not reversible: after its down the schema differs from the one before its up:\n  {}",
        lines.join("\n  ")
    )
}

/// The session, or the configured commands.
pub(super) enum Mover {
    Session(Session),
    Commands {
        app: PathBuf,
        up: Box<Cmd>,
        up_to: Vec<String>,
        rollback: Vec<String>,
    },
}

impl Mover {
    pub(super) fn start(ctx: &mut Exec, app: &Path, dir: &Path, driver: Driver) -> Result<Mover> {
        Ok(match driver {
            Driver::Session(module) => {
                session::write_script(app)?;
                Mover::Session(Session::start(ctx, &session::command(app, &module, dir))?)
            }
            Driver::Commands {
                up,
                up_to,
                rollback,
            } => Mover::Commands {
                app: app.to_path_buf(),
                up,
                up_to,
                rollback,
            },
        })
    }

    /// Every pending migration (None), or those up to `version`.
    fn up(&mut self, ctx: &mut Exec, version: Option<i64>) -> Result<()> {
        match (self, version) {
            (Mover::Session(s), None) => s.send(ctx, "up all").map(drop),
            (Mover::Session(s), Some(v)) => s.send(ctx, &format!("up {v}")).map(drop),
            (Mover::Commands { up, .. }, None) => ctx.run(up),
            (Mover::Commands { app, up_to, .. }, Some(v)) => {
                ctx.run(&command("up_to", up_to, app, Some(v))?)
            }
        }
    }

    /// Every migration from the newest down to `version`, itself included.
    fn down(&mut self, ctx: &mut Exec, version: i64) -> Result<()> {
        match self {
            Mover::Session(s) => s.send(ctx, &format!("down {version}")).map(drop),
            Mover::Commands { app, rollback, .. } => {
                ctx.run(&command("rollback", rollback, app, Some(version))?)
            }
        }
    }

    /// The migration lint in the session (the commands have none).
    pub(super) fn lint(
        &mut self,
        ctx: &mut Exec,
        app: &Path,
        options: &lint::Options,
        files: &[PathBuf],
    ) -> Result<lint::Report> {
        match self {
            Mover::Session(s) => s.lint(ctx, app, options, files),
            Mover::Commands { .. } => bail!("the migration lint runs in the migrate session only"),
        }
    }

    pub(super) fn finish(self) {
        if let Mover::Session(s) = self {
            s.quit();
        }
    }
}
