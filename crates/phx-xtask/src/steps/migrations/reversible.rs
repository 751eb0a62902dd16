//! The reversibility check of `migrations`: apply everything and snapshot
//! the schema; then, newest first, roll each migration back, snapshot, bring
//! it up again and compare with the schema before its rollback.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{lock, Slot};
use crate::config::Migrate;
use crate::migrations::files::Migration;
use crate::migrations::{command, db, schema};
use crate::plan::Action;

/// Apply all and snapshot; then, newest first: roll back, snapshot, up
/// again, compare.
pub fn reversible(
    app: &Path,
    cfg: &Migrate,
    found: &[Migration],
    slot: &Slot,
) -> Result<Vec<Action>> {
    let timeout = Duration::from_secs(cfg.connect_timeout);
    let up = command("up", &cfg.up, app, None)?
        .hint("the migrations do not apply to an empty database: fix the one that failed above");
    let mut actions = vec![Action::Run(up), snapshot(slot, timeout, Keep::Expected)];
    for m in found.iter().rev() {
        let file = m.file_name();
        let down = command("rollback", &cfg.rollback, app, Some(m.version))?.hint(format!(
            "{file}'s down failed above: fix it so it undoes what its up does"
        ));
        let again = command("up_to", &cfg.up_to, app, Some(m.version))?.hint(format!(
            "{file} did not apply again after its down: its down leaves behind something its up \
             creates (see the error above); make down undo exactly what up does"
        ));
        actions.push(Action::Run(down));
        actions.push(snapshot(slot, timeout, Keep::Below));
        actions.push(Action::Run(again));
        actions.push(compare(slot, timeout, file));
    }
    Ok(actions)
}

/// Which schema a snapshot is kept as.
#[derive(Clone, Copy)]
enum Keep {
    Expected,
    Below,
}

fn snapshot(slot: &Slot, timeout: Duration, keep: Keep) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: "snapshot the schema".into(),
        run: Box::new(move |_| {
            let mut state = lock(&slot);
            let url = state.url.clone().context("the database was not created")?;
            let schema = db::snapshot(&url, timeout)?;
            match keep {
                Keep::Expected => state.expected = Some(schema),
                Keep::Below => state.below = Some(schema),
            }
            Ok(())
        }),
    }
}

/// The schema after down and up again must be the one before the down;
/// the schema after this down is what the next (older) one must give back.
fn compare(slot: &Slot, timeout: Duration, file: String) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: format!("compare the schema with the one before {file} went down"),
        run: Box::new(move |ctx| {
            let mut state = lock(&slot);
            let url = state.url.clone().context("the database was not created")?;
            let now = db::snapshot(&url, timeout)?;
            let before = state.expected.take().context("no schema was kept")?;
            let lines = schema::diff(&before, &now);
            if !lines.is_empty() {
                ctx.hint = Some(format!(
                    "make {file}'s down undo exactly what its up does: `-` is the schema before its down, `+` after down and up again"
                ));
                bail!("{file} is not reversible: after its down and up again the schema differs:\n  {}", lines.join("\n  "));
            }
            ctx.log(format!("{file}: reversible"));
            state.expected = state.below.take();
            Ok(())
        }),
    }
}
