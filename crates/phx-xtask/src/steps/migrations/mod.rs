//! `migrations` (`cargo xtask migrate check`), a step of `ci`: every
//! migration is reversible, and none uses an operation that locks or
//! breaks a production table.
//!
//! 0. Before anything runs (a check): the services' backend answers.
//! 1. At t=0: start Postgres and Redis as the test step does; lint every
//!    file in one BEAM (`elixir`, not Mix, so it races no compile).
//! 2. After compile (the app's commands use the same MIX_ENV, and two Mix
//!    processes never compile one `_build/<env>` at once): wait until
//!    Postgres answers, create `<app>_migrations_check`, export
//!    DATABASE_URL, and check each migration's down (`reversible`): in one
//!    BEAM boot through Ecto.Migrator, whatever the number of migrations.
//! 3. Stop the services (a failure, a panic or a signal stops them too).
//!
//! By default only the migrations added or changed since the merge base
//! with the default branch are linted and checked one by one (the others
//! ran in production already); `migrate check --all` takes every one.

use std::path::{Path, PathBuf};
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
use crate::migrations::lint;
use crate::migrations::scope::{self, Scope};
use crate::plan::{Action, StepPlan};
use crate::services;

mod reversible;

const HINT: &str = "make each migration's down undo exactly what its up does, and follow the \
                    lint's advice above (`# xtask:allow RULE` on the line above silences one finding)";
const LINT_HINT: &str = "make each flagged operation safe as its message says, or, when it is \
                         safe here, put `# xtask:allow RULE` on the line above it";
/// The lint reads every file in one BEAM: even thousands take seconds.
const LINT_TIMEOUT: Duration = Duration::from_secs(300);

/// What the checks have seen so far (the services are in `throwaway`'s slot).
struct State {
    services: throwaway::Slot,
    url: Option<Url>,
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
    let early = vec![
        throwaway::start(&services),
        lint_action(ctx, &linted, &chosen, branch, &found),
    ];
    let mut late = Vec::new();
    if !ctx.selected.contains(&StepId::Deps) {
        // Run alone, the step fetches the deps the app's commands need,
        // unless they are in sync (no BEAM boot for nothing).
        late.extend(super::deps::fetch(ctx));
    }
    let database = format!("{}_migrations_check", ctx.project.app);
    late.push(throwaway::ready(&services, vec![database.clone()]));
    late.push(export(&slot, database));
    late.push(reversible::check(ctx.app, cfg, &found, checked, &slot)?);
    late.push(throwaway::stop(&services));
    let mut plan = StepPlan::new(StepId::Migrations, &[], early, HINT)
        .then(&[StepId::Deps, StepId::Compile], late)
        .check(throwaway::check(&services, "migration"));
    plan.programs.push("elixir".into());
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

/// Writes the lint script and runs it over `linted`, relative to the app
/// so findings read `priv/repo/migrations/…exs:LINE`. `branch` tells the
/// migrations that ran in production already: a finding there points at
/// `[migrate] lint_after`.
fn lint_action(
    ctx: &Ctx,
    linted: &[Migration],
    chosen: &Scope,
    branch: Scope,
    found: &[Migration],
) -> Action {
    let app = ctx.app.to_path_buf();
    let cfg = &ctx.config.migrate;
    let rel: Vec<PathBuf> = linted
        .iter()
        .map(|m| m.path.strip_prefix(&app).unwrap_or(&m.path).to_path_buf())
        .collect();
    let (postgres, lint_after, skip) = (
        ctx.config.toolchain.postgres.clone(),
        cfg.lint_after.clone(),
        cfg.skip.clone(),
    );
    let options = lint::Options {
        postgres: &postgres,
        lint_after: lint_after.as_deref(),
        skip: &skip,
    };
    let shown = lint::lint_args(Path::new(lint::SCRIPT), &options, &[]);
    let shown: Vec<String> = shown
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let describe = format!(
        "lint {} of {} files in {}: elixir {} FILE…",
        rel.len(),
        found.len(),
        cfg.dir.display(),
        shown.join(" ")
    );
    let (scope_line, old) = (
        format!("checks {}", chosen.describe()),
        newest_old(found, &branch),
    );
    Action::Native {
        describe,
        run: Box::new(move |ctx| {
            ctx.log(scope_line);
            if rel.is_empty() {
                ctx.log("linted 0 files: no migration to lint");
                return Ok(());
            }
            lint::write_script(&app)?;
            let options = lint::Options {
                postgres: &postgres,
                lint_after: lint_after.as_deref(),
                skip: &skip,
            };
            let report = lint::run(&app, &options, &rel, LINT_TIMEOUT)?;
            for finding in &report.findings {
                ctx.log(finding.to_string());
            }
            let mut linted = format!("linted {} files", report.checked);
            if report.skipped > 0 {
                linted.push_str(&format!(
                    " ({} at or before [migrate] lint_after skipped)",
                    report.skipped
                ));
            }
            ctx.log(linted);
            if report.findings.is_empty() {
                return Ok(());
            }
            let in_production = report
                .findings
                .iter()
                .any(|f| !branch.includes(&app.join(&f.file)));
            ctx.hint = Some(match (in_production, old) {
                (true, Some(v)) => format!(
                    "{LINT_HINT}; a migration at or before the merge base ran in production already: \
                     set `lint_after = \"{v}\"` under [migrate] in xtask.toml to stop linting those"
                ),
                _ => LINT_HINT.into(),
            });
            bail!(
                "{} unsafe operation(s) in the migrations, listed above",
                report.findings.len()
            );
        }),
    }
}

/// The newest migration at or before the merge base (outside `branch`).
fn newest_old(found: &[Migration], branch: &Scope) -> Option<i64> {
    match branch {
        Scope::All(_) => None,
        Scope::Since { .. } => found
            .iter()
            .filter(|m| !branch.includes(&m.path))
            .map(|m| m.version)
            .max(),
    }
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
            assert_eq!(plan.all_programs(), ["elixir", "mix"]);
            let got = lines(&plan, ctx.app);
            // Not in a git repository: every file is linted and checked.
            assert!(got[1].starts_with("# lint 2 of 2 files in priv/repo/migrations: elixir _build/xtask/migration_lint.exs --postgres 16"), "{got:#?}");
            assert_eq!(
                got[got.len() - 2..],
                [
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
