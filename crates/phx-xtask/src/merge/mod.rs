//! `cargo xtask merge DIR...`: the legs of a suite split over CI machines,
//! made one run again, in the app dir:
//!
//! 1. read every leg's directory and prove the run exhaustive (all legs
//!    1..N, one split, every test file on one leg, no test twice, no empty
//!    leg) before writing anything;
//! 2. the test build, which the coverage report reads sources from;
//! 3. the legs' coverage exports merged with OTP's :cover (`cover.exs`, as
//!    `test` uses), so the total is what one machine running the whole suite
//!    reports, the threshold applied to that union, cover/lcov.info;
//! 4. one JUnit file (each test once), the timings for the next split, the
//!    figures row, the N slowest tests across the legs (`[test] slowest`),
//!    and under GitHub the step summary; any failed test fails the merge
//!    with its `file:line`.

mod legs;
mod report;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::ids::StepId;
use crate::mixproj::MixProject;
use crate::plan::{Action, Cmd, StepPlan};
use crate::run::Run;
use crate::steps::test::{cover, split};
use crate::steps::{deps, Ctx};
use legs::Loaded;

pub const ID: StepId = StepId::Custom("merge");
const HINT: &str = "make the failing tests above pass (each names its file:line), or raise \
                    coverage over the modules listed above";

/// The merge's plan, or None when the legs do not prove the suite ran
/// (already reported: exit 1). Unreadable input is an error (exit 2).
pub fn prepare(
    dirs: &[PathBuf],
    run: &Run,
    app: &Path,
    project: &MixProject,
) -> Result<Option<StepPlan>> {
    if dirs.is_empty() {
        bail!("merge needs the legs' directories: cargo xtask merge DIR...");
    }
    let mut loaded = Vec::new();
    for d in legs::expand(dirs)? {
        loaded.push(legs::load(&d, &project.app)?);
    }
    let suite = split::test_files(app, project)?;
    let gaps = legs::gaps(&loaded, &suite);
    if !gaps.is_empty() {
        eprintln!(
            "error: the legs do not prove that the whole suite ran once; nothing was written:"
        );
        for g in &gaps {
            eprintln!("  {g}");
        }
        return Ok(None);
    }
    loaded.sort_by_key(|l| l.leg.k);
    let ctx = Ctx::new(run, app, project);
    Ok(Some(plan(&ctx, loaded, run)))
}

fn plan(ctx: &Ctx, legs: Vec<Loaded>, run: &Run) -> StepPlan {
    let mut actions = deps::fetch(ctx);
    let mut build = deps::compile_parts(ctx, Some("test"));
    build.push(Cmd::mix(ctx.app, &["compile"]).env("MIX_ENV", "test"));
    actions.push(Action::chain(build, None));
    let coverage = legs.iter().all(|l| l.leg.coverage);
    let exports: Vec<String> = legs.iter().map(|l| format!("leg-{}", l.leg.k)).collect();
    let junit_out = ctx.app.join(match ctx.config.test.junit.as_str() {
        "" => "_build/test/junit.xml",
        path => path,
    });
    let legs = std::sync::Arc::new(legs);
    if coverage {
        actions.push(report::gather_coverage(ctx.app, &legs));
        actions.extend(cover::script_actions(ctx, &exports, None));
    } else {
        actions.push(Action::Skip {
            what: "coverage".into(),
            why: "the legs ran without [test] cover".into(),
        });
    }
    let summary = run.env.get("GITHUB_STEP_SUMMARY").map(PathBuf::from);
    for a in [
        report::junit(&legs, junit_out),
        report::timings(ctx.app, &legs),
        report::slowest(&legs, ctx.config.test.slowest),
        report::figures(&legs, summary),
        report::failures(&legs),
    ] {
        actions.push(Action::Always(Box::new(a)));
    }
    StepPlan::new(ID, &[], actions, HINT)
}
