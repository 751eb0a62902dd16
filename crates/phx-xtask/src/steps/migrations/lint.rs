//! The lint of `migrations`: which files it reads, and what it reports.
//! With the one-boot session (Ecto, or `[migrate] migrator`) it runs inside
//! that session, after the services are up, so the whole step boots the
//! BEAM once; with only `[migrate] up`, `up_to` and `rollback` configured
//! it runs alone in `elixir` at t=0 (no Mix, so it races no compile).
//! Either way its findings, its allow comments and its messages are the
//! same: both run the one `lint.exs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};

use super::reversible::{Driver, Mover};
use super::{lock, Slot};
use crate::exec::Exec;
use crate::migrations::files::Migration;
use crate::migrations::lint;
use crate::migrations::scope::Scope;
use crate::plan::Action;
use crate::steps::ctx::Ctx;

const LINT_HINT: &str = "make each flagged operation safe as its message says, or, when it is \
                         safe here, put `# xtask:allow RULE` on the line above it";
/// The lint reads every file in one BEAM: even thousands take seconds.
const LINT_TIMEOUT: Duration = Duration::from_secs(300);

/// What one run of the lint reads and how it reports, decided at planning.
struct Lint {
    app: PathBuf,
    rel: Vec<PathBuf>,
    postgres: String,
    lint_after: Option<String>,
    skip: Vec<String>,
    scope_line: String,
    branch: Scope,
    old: Option<i64>,
}

impl Lint {
    fn options(&self) -> lint::Options<'_> {
        lint::Options {
            postgres: &self.postgres,
            lint_after: self.lint_after.as_deref(),
            skip: &self.skip,
        }
    }

    /// Logs the findings and the counts; fails on any finding, with the
    /// fix (and `lint_after` when a finding is in production already).
    fn report(&self, ctx: &mut Exec, report: &lint::Report) -> Result<()> {
        log_findings(ctx, report);
        if report.findings.is_empty() {
            return Ok(());
        }
        let in_production = report
            .findings
            .iter()
            .any(|f| !self.branch.includes(&self.app.join(&f.file)));
        ctx.hint = Some(match (in_production, self.old) {
            (true, Some(v)) => format!(
                "{LINT_HINT}; a migration at or before the merge base ran in production already: \
                 set `lint_after = \"{v}\"` under [migrate] in xtask.toml to stop linting those"
            ),
            _ => LINT_HINT.into(),
        });
        bail!(
            "{} unsafe operation(s) in the migrations, listed above",
            report.findings.len()
        )
    }
}

fn log_findings(ctx: &mut Exec, report: &lint::Report) {
    for finding in &report.findings {
        ctx.log(finding.to_string());
    }
    ctx.log(linted_line(report));
}

/// When the session cannot start (the app's repo config, a database that
/// does not answer), the lint still tells its findings: alone, in one
/// `elixir`, as the step's error stays the session's.
fn lint_alone_after(ctx: &mut Exec, lint: &Lint) {
    if lint.rel.is_empty() {
        return;
    }
    ctx.log("# the migrate session did not start: the lint runs alone in `elixir`");
    let report = lint::write_script(&lint.app)
        .and_then(|_| lint::run(&lint.app, &lint.options(), &lint.rel, LINT_TIMEOUT));
    match report {
        Ok(report) => log_findings(ctx, &report),
        Err(e) => ctx.log(format!("the lint failed too: {e:#}")),
    }
}

/// `linted 4 files (2 allowed, 1 at or before [migrate] lint_after skipped)`.
fn linted_line(report: &lint::Report) -> String {
    let mut notes = Vec::new();
    if report.allowed > 0 {
        notes.push(format!("{} allowed", report.allowed));
    }
    if report.skipped > 0 {
        notes.push(format!(
            "{} at or before [migrate] lint_after skipped",
            report.skipped
        ));
    }
    match notes.is_empty() {
        true => format!("linted {} files", report.checked),
        false => format!("linted {} files ({})", report.checked, notes.join(", ")),
    }
}

/// The lint of `linted` (paths relative to the app in findings, so they
/// read `priv/repo/migrations/…exs:LINE`), and the action's description.
/// `branch` tells the migrations that ran in production already: a finding
/// there points at `[migrate] lint_after`.
fn prepare(
    ctx: &Ctx,
    linted: &[Migration],
    chosen: &Scope,
    branch: Scope,
    found: &[Migration],
) -> (Lint, String) {
    let app = ctx.app.to_path_buf();
    let cfg = &ctx.config.migrate;
    let lint = Lint {
        rel: linted
            .iter()
            .map(|m| m.path.strip_prefix(&app).unwrap_or(&m.path).to_path_buf())
            .collect(),
        app,
        postgres: ctx.config.toolchain.postgres.clone(),
        lint_after: cfg.lint_after.clone(),
        skip: cfg.skip.clone(),
        scope_line: format!("checks {}", chosen.describe()),
        old: newest_old(found, &branch),
        branch,
    };
    let shown: Vec<String> = lint::lint_args(Path::new(lint::SCRIPT), &lint.options(), &[])
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let head = format!(
        "lint {} of {} files in {}",
        lint.rel.len(),
        found.len(),
        cfg.dir.display()
    );
    (lint, format!("{head}: {{how}}{} FILE…", shown.join(" ")))
}

/// The lint alone, in one `elixir` (the configured commands' path).
pub(super) fn alone(
    ctx: &Ctx,
    (linted, chosen, branch): (&[Migration], &Scope, Scope),
    found: &[Migration],
) -> Action {
    let (lint, describe) = prepare(ctx, linted, chosen, branch, found);
    Action::Native {
        describe: describe.replace("{how}", "elixir "),
        run: Box::new(move |ctx| {
            ctx.log(&lint.scope_line);
            if lint.rel.is_empty() {
                ctx.log("linted 0 files: no migration to lint");
                return Ok(());
            }
            lint::write_script(&lint.app)?;
            let report = lint::run(&lint.app, &lint.options(), &lint.rel, LINT_TIMEOUT)?;
            lint.report(ctx, &report)
        }),
    }
}

/// The lint in the migrate session through `module`, which this starts
/// and leaves in the slot for the reversibility check (or stops, when the
/// lint fails).
pub(super) fn in_session(
    ctx: &Ctx,
    (linted, chosen, branch): (&[Migration], &Scope, Scope),
    found: &[Migration],
    module: String,
    slot: &Slot,
) -> Action {
    let (lint, describe) = prepare(ctx, linted, chosen, branch, found);
    let dir = ctx.config.migrate.dir.clone();
    let slot = Arc::clone(slot);
    Action::Native {
        describe: describe.replace(
            "{how}",
            "in the migrate session below (no boot of its own): ",
        ),
        run: Box::new(move |ctx| {
            ctx.log(&lint.scope_line);
            let started = std::time::Instant::now();
            let mut mover = match Mover::start(ctx, &lint.app, &dir, Driver::Session(module)) {
                Ok(mover) => mover,
                Err(e) => {
                    lint_alone_after(ctx, &lint);
                    return Err(e);
                }
            };
            let booted = started.elapsed();
            let linting = std::time::Instant::now();
            let result = match lint.rel.is_empty() {
                true => {
                    ctx.log("linted 0 files: no migration to lint");
                    Ok(())
                }
                false => mover
                    .lint(ctx, &lint.app, &lint.options(), &lint.rel)
                    .and_then(|report| lint.report(ctx, &report)),
            };
            match result {
                Ok(()) => {
                    lock(&slot).session = Some((mover, booted, linting.elapsed()));
                }
                Err(_) => mover.finish(),
            }
            result
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linted_line_counts_allowed_and_skipped() {
        let mut r = lint::Report {
            checked: 4,
            ..Default::default()
        };
        assert_eq!(linted_line(&r), "linted 4 files");
        r.allowed = 2;
        assert_eq!(linted_line(&r), "linted 4 files (2 allowed)");
        r.skipped = 1;
        assert_eq!(
            linted_line(&r),
            "linted 4 files (2 allowed, 1 at or before [migrate] lint_after skipped)"
        );
    }
}
