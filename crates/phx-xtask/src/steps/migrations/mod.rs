//! `migrations` (`cargo xtask migrate check`), a step of `ci`: every
//! migration is reversible, and none uses an operation that locks or
//! breaks a production table.
//!
//! 0. Before anything runs (a check): the services' backend answers.
//! 1. At t=0: start Postgres and Redis as the test step does.
//! 2. After compile (the app's commands use the same MIX_ENV, and two Mix
//!    processes never compile one `_build/<env>` at once): wait until
//!    Postgres answers, create `<app>_migrations_check`, export
//!    DATABASE_URL, boot the migrate session (`mix run`, through
//!    Ecto.Migrator), lint every file in it (`lint`), and check each
//!    migration's down in it (`reversible`): ONE BEAM boot for the whole
//!    step, whatever the number of migrations.
//! 3. Stop the services (a failure, a panic or a signal stops them too).
//!
//! An app that migrates with its own `[migrate] up`, `up_to` and
//! `rollback` commands instead lints at t=0 in `elixir` (no Mix, so it
//! races no compile), and each of its commands is a boot.
//!
//! By default only the migrations added or changed since the merge base
//! with the default branch are linted and checked one by one (the others
//! ran in production already); `migrate check --all` takes every one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use url::Url;

use super::ctx::Ctx;
use super::throwaway;
use crate::cli::{MigrateAction, MigrateTarget};
use crate::config::Migrate;
use crate::ids::StepId;
use crate::migrations::files::{self, Migration};
use crate::migrations::scope::{self, Scope};
use crate::plan::{Action, StepPlan};
use crate::services;

mod lint;
mod reversible;

use reversible::Driver;

const HINT: &str = "make each migration's down undo exactly what its up does, and follow the \
                    lint's advice above (`# xtask:allow RULE` on the line above silences one finding)";

/// What the checks have seen so far (the services are in `throwaway`'s slot).
struct State {
    services: throwaway::Slot,
    url: Option<Url>,
    /// The migrate session the lint booted, for the reversibility check to
    /// go on in, with how long its boot and the lint took.
    session: Option<(reversible::Mover, Duration, Duration)>,
}

type Slot = Arc<Mutex<State>>;

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, State> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    if ctx.migrate.target != MigrateTarget::Local {
        bail!("`migrate check` runs on a throwaway database it starts here: drop --target");
    }
    let cfg = &ctx.config.migrate;
    let found = match files::list(&ctx.app.join(&cfg.dir)) {
        Ok(found) => found,
        Err(e) => return Ok(bad_files(e)),
    };
    if found.is_empty() {
        let why = format!(
            "no migration files in {}: nothing to check",
            cfg.dir.display()
        );
        return Ok(StepPlan::skipped(StepId::Migrations, why));
    }
    if cfg.up == Migrate::default().up && !ctx.project.has_dep("ecto_sql") {
        return Ok(without_ecto(ctx));
    }
    let backend = services::backend(ctx.migrate.services, ctx.config, ctx.env)?;
    let settings = services::resolve(ctx.config, ctx.env, ctx.app, &ctx.project.app, backend, 1)?;
    let services = throwaway::slot(&ctx.services, settings);
    let slot: Slot = Arc::new(Mutex::new(State {
        services: Arc::clone(&services),
        url: None,
        session: None,
    }));
    let branch = scope::since_default_branch(ctx.app, &ctx.app.join(&cfg.dir));
    let all = matches!(ctx.migrate.action, Some(MigrateAction::Check { all: true }));
    let chosen = match all {
        true => Scope::All("--all".into()),
        false => branch.clone(),
    };
    let checked: Vec<bool> = found.iter().map(|m| chosen.includes(&m.path)).collect();
    let linted: Vec<Migration> = found
        .iter()
        .zip(&checked)
        .filter(|(_, c)| **c)
        .map(|(m, _)| m.clone())
        .collect();
    let driver = reversible::driver(ctx.app, cfg)?;
    let scoped = (linted.as_slice(), &chosen, branch);
    let mut early = vec![throwaway::start(&services)];
    let mut late = Vec::new();
    if !ctx.selected.contains(&StepId::Deps) {
        // Run alone, the step fetches the deps the app's commands need,
        // unless they are in sync (no BEAM boot for nothing).
        late.extend(super::deps::fetch(ctx));
    }
    let database = format!("{}_migrations_check", ctx.project.app);
    late.push(throwaway::ready(&services, vec![database.clone()]));
    late.push(export(&slot, database));
    let alone = match &driver {
        Driver::Session(module) => {
            late.push(lint::in_session(ctx, scoped, &found, module.clone(), &slot));
            false
        }
        Driver::Commands { .. } => {
            early.push(lint::alone(ctx, scoped, &found));
            true
        }
    };
    late.push(reversible::check(ctx.app, cfg, &found, checked, &slot)?);
    late.push(throwaway::stop(&services));
    let mut plan = StepPlan::new(StepId::Migrations, &[], early, HINT)
        .then(&[StepId::Deps, StepId::Compile], late)
        .check(throwaway::check(&services, "migration"));
    if alone {
        plan.programs.push("elixir".into());
    }
    Ok(plan)
}

/// The default commands are Ecto's, which an app without ecto_sql lacks:
/// skipped with the fix (failed with it under `--require-all`).
fn without_ecto(ctx: &Ctx) -> StepPlan {
    let why = "the default `mix ecto.migrate` needs ecto_sql, which is not a dependency: add \
               `{:ecto_sql, \"~> 3.10\"}` to deps in mix.exs, or set [migrate] up, up_to and \
               rollback to your own migrator's commands";
    if !ctx.require_all {
        return StepPlan::skipped(StepId::Migrations, why);
    }
    let fail = Action::Native {
        describe: "require the migrate commands (--require-all)".into(),
        run: Box::new(move |_| bail!("{why}")),
    };
    StepPlan::new(
        StepId::Migrations,
        &[],
        vec![fail],
        "configure [migrate] in xtask.toml, or drop --require-all",
    )
}

/// A bad file name (or a version used twice) fails the step, naming it.
fn bad_files(e: anyhow::Error) -> StepPlan {
    let why = format!("{e:#}");
    let fail = Action::Native {
        describe: "check the migration file names".into(),
        run: Box::new(move |_| bail!("{why}")),
    };
    StepPlan::new(
        StepId::Migrations,
        &[],
        vec![fail],
        "rename the file as `<14-digit version>_<name>.exs` (`mix ecto.gen.migration NAME` does)",
    )
}

/// Exports the check database's URL to the app's commands.
fn export(slot: &Slot, database: String) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: format!("export DATABASE_URL ({database}) and REDIS_URL"),
        run: Box::new(move |ctx| {
            let mut state = lock(&slot);
            let (url, redis) = {
                let started = throwaway::lock(&state.services);
                let s = started
                    .services
                    .as_ref()
                    .context("the services were not started")?;
                (s.database_url(&database), s.redis_url().clone())
            };
            // Logged through ctx.log, which masks the password.
            ctx.log(format!("export DATABASE_URL={url} REDIS_URL={redis}"));
            ctx.env.push(("DATABASE_URL".into(), url.to_string()));
            ctx.env.push(("REDIS_URL".into(), redis.to_string()));
            state.url = Some(url);
            Ok(())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::ctx::with_ctx;
    use std::path::Path;

    const ECTO: &str = "defmodule A.MixProject do\n  def project, do: [app: :a, deps: deps()]\n  \
                        defp deps, do: [{:ecto_sql, \"~> 3.10\"}]\nend\n";
    const NO_ECTO: &str = "defmodule A.MixProject do\n  def project, do: [app: :a]\nend\n";
    const M1: &str = "priv/repo/migrations/20240101000000_a.exs";
    const M2: &str = "priv/repo/migrations/20240201000000_b.exs";

    fn lines(plan: &StepPlan, app: &Path) -> Vec<String> {
        plan.phases
            .iter()
            .flat_map(|p| &p.actions)
            .map(|a| a.describe(app))
            .collect()
    }

    #[test]
    fn with_ecto_every_migration_is_checked_in_one_session() {
        with_ctx(ECTO, &[(M1, ""), (M2, "")], false, |ctx| {
            let plan = plan(ctx).unwrap();
            assert_eq!(plan.phases[1].needs, [StepId::Deps, StepId::Compile]);
            // One boot: the lint runs in the session, not in an `elixir` of its own.
            assert_eq!(plan.all_programs(), ["mix"]);
            let got = lines(&plan, ctx.app);
            // Not in a git repository: every file is linted and checked.
            assert_eq!(
                got[got.len() - 3..],
                [
                    "# lint 2 of 2 files in priv/repo/migrations: in the migrate session below (no boot of \
                     its own): _build/xtask/migration_lint.exs --postgres 16 FILE…",
                    "# check 2 of 2 migrations: up one by one, down one by one, snapshots between, in one boot: $ mix run --no-start \
                     _build/xtask/migration_session.exs Ecto.Migrator priv/repo/migrations",
                    "# stop the services",
                ]
            );
        });
    }

    #[test]
    fn nothing_to_check_no_ecto_or_a_bad_name() {
        with_ctx(ECTO, &[], false, |ctx| {
            let why = plan(ctx).unwrap().skip.unwrap();
            assert!(
                why.contains("no migration files in priv/repo/migrations"),
                "{why}"
            );
        });
        with_ctx(NO_ECTO, &[(M1, "")], false, |ctx| {
            let why = plan(ctx).unwrap().skip.unwrap();
            assert!(why.contains("ecto_sql, which is not a dependency"), "{why}");
        });
        with_ctx(NO_ECTO, &[(M1, "")], true, |ctx| {
            let plan = plan(ctx).unwrap();
            assert_eq!(
                lines(&plan, ctx.app),
                ["# require the migrate commands (--require-all)"]
            );
        });
        with_ctx(
            ECTO,
            &[("priv/repo/migrations/2024_oops.exs", "")],
            false,
            |ctx| {
                let plan = plan(ctx).unwrap();
                assert_eq!(lines(&plan, ctx.app), ["# check the migration file names"]);
                assert!(
                    plan.hint.contains("<14-digit version>_<name>.exs"),
                    "{}",
                    plan.hint
                );
            },
        );
    }
}
