//! The steps: each file plans one step as a `StepPlan` (named commands, what
//! the step needs, the fix hint) and runs nothing itself.

use std::path::Path;

use anyhow::Result;
use clap::ValueEnum;
use serde::Deserialize;

use crate::config::Config;
use crate::mixproj::MixProject;
use crate::plan::{Action, StepPlan};

mod assets;
mod compile;
mod deps;
mod dialyzer;
mod format;
mod lint;
pub mod test;

/// The steps, in the order `ci` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StepId {
    Deps,
    Format,
    Compile,
    Credo,
    Sobelow,
    Dialyzer,
    Assets,
    Test,
}

impl StepId {
    pub const ALL: [StepId; 8] = [
        StepId::Deps,
        StepId::Format,
        StepId::Compile,
        StepId::Credo,
        StepId::Sobelow,
        StepId::Dialyzer,
        StepId::Assets,
        StepId::Test,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StepId::Deps => "deps",
            StepId::Format => "format",
            StepId::Compile => "compile",
            StepId::Credo => "credo",
            StepId::Sobelow => "sobelow",
            StepId::Dialyzer => "dialyzer",
            StepId::Assets => "assets",
            StepId::Test => "test",
        }
    }
}

/// What every planner may look at.
pub struct Ctx<'a> {
    pub app: &'a Path,
    pub config: &'a Config,
    pub project: &'a MixProject,
    /// The steps of this run: a step that is not selected is not waited for.
    pub selected: &'a [StepId],
    /// `format --fix`.
    pub fix: bool,
    pub require_all: bool,
    /// `test`'s flags (the defaults under `ci`).
    pub test: &'a test::TestArgs,
}

pub fn plan(id: StepId, ctx: &Ctx) -> Result<StepPlan> {
    let plan = match id {
        StepId::Deps => deps::plan(ctx),
        StepId::Format => format::plan(ctx),
        StepId::Compile => compile::plan(ctx),
        StepId::Credo => lint::credo(ctx),
        StepId::Sobelow => lint::sobelow(ctx),
        StepId::Dialyzer => dialyzer::plan(ctx)?,
        StepId::Assets => assets::plan(ctx)?,
        StepId::Test => test::plan(ctx)?,
    };
    Ok(plan)
}

/// Programs a plan runs, so that a missing one stops us before anything runs.
pub fn programs(plan: &StepPlan) -> Vec<&str> {
    plan.phases
        .iter()
        .flat_map(|p| &p.actions)
        .flat_map(|a| match a {
            Action::Run(c) | Action::RunUnless { cmd: c, .. } => vec![c.program.as_str()],
            Action::Parallel(cmds) => cmds.iter().map(|c| c.program.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// A step whose tool is not a dependency: skipped with the line to add, or
/// failed with it under `--require-all`, so it never passes silently.
fn missing_tool(id: StepId, ctx: &Ctx, dep_line: &str) -> StepPlan {
    let why = format!("{id} is not a dependency: add `{dep_line}` to deps in mix.exs");
    if !ctx.require_all {
        return StepPlan::skipped(id, why);
    }
    let fail = Action::Native {
        describe: format!("require {id} (--require-all)"),
        run: Box::new(move |_| anyhow::bail!("{why}")),
    };
    let mut plan = StepPlan::new(id, &[], vec![fail], "");
    plan.hint = format!("add `{dep_line}` to deps in mix.exs, or drop --require-all");
    plan
}

/// FNV-1a: a stable hash for cache keys and project ids (std's hasher may change between
/// Rust releases, which would invalidate every cache for nothing).
pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Plans against a throwaway app with this mix.exs (and `files` beside it).
#[cfg(test)]
pub(crate) fn with_ctx<T>(
    mix_exs: &str,
    files: &[(&str, &str)],
    require_all: bool,
    f: impl FnOnce(&Ctx) -> T,
) -> T {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mix.exs"), mix_exs).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let (config, project) = (Config::default(), MixProject::read(dir.path()).unwrap());
    let args = test::TestArgs::default();
    let ctx = Ctx {
        app: dir.path(),
        config: &config,
        project: &project,
        selected: &[],
        fix: false,
        require_all,
        test: &args,
    };
    f(&ctx)
}
