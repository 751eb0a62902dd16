//! What every planner may look at, and what several planners share.

use std::path::Path;

use crate::cli::{ImageArgs, MigrateArgs, TestArgs};
use crate::config::Config;
use crate::env::Env;
use crate::ids::StepId;
use crate::mixproj::MixProject;
use crate::plan::{Action, StepPlan};
use crate::run::Run;
use crate::steps::throwaway::Shared;

/// What every planner may look at: files and the resolved run, nothing
/// that probes the machine.
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
    pub test: &'a TestArgs,
    pub image: &'a ImageArgs,
    pub migrate: &'a MigrateArgs,
    pub env: &'a Env,
    /// The project root (xtask.toml's dir), where `.xtask/` records live.
    pub root: &'a Path,
    /// The throwaway services the steps of this run share.
    pub services: Shared,
}

impl<'a> Ctx<'a> {
    pub fn new(run: &'a Run, app: &'a Path, project: &'a MixProject) -> Ctx<'a> {
        Ctx {
            app,
            config: &run.config,
            project,
            selected: &run.selected,
            fix: run.fix,
            require_all: run.require_all,
            test: &run.test,
            image: &run.image,
            migrate: &run.migrate,
            env: &run.env,
            root: &run.root,
            services: Shared::default(),
        }
    }
}

/// A step whose tool is not a dependency: skipped with the line to add, or
/// failed with it under `--require-all`, so it never passes silently.
pub fn missing_tool(id: StepId, ctx: &Ctx, dep_line: &str) -> StepPlan {
    missing_dep(id, id.name(), ctx, dep_line)
}

/// As `missing_tool`, for a step named apart from its tool (docs: ex_doc).
pub fn missing_dep(id: StepId, tool: &str, ctx: &Ctx, dep_line: &str) -> StepPlan {
    let why = format!("{tool} is not a dependency: add `{dep_line}` to deps in mix.exs");
    if !ctx.require_all {
        return StepPlan::skipped(id, why);
    }
    let fail = Action::Native {
        describe: format!("require {tool} (--require-all)"),
        run: Box::new(move |_| anyhow::bail!("{why}")),
    };
    let mut plan = StepPlan::new(id, &[], vec![fail], "");
    plan.hint = format!("add `{dep_line}` to deps in mix.exs, or drop --require-all");
    plan
}

/// Plans against a throwaway app with this mix.exs (and `files` beside it).
#[cfg(test)]
pub fn with_ctx<T>(
    mix_exs: &str,
    files: &[(&str, &str)],
    require_all: bool,
    f: impl FnOnce(&Ctx) -> T,
) -> T {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mix.exs"), mix_exs).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let (config, project) = (Config::default(), MixProject::read(dir.path()).unwrap());
    let (args, env) = (TestArgs::default(), Env::default());
    let (image, migrate) = (ImageArgs::default(), MigrateArgs::default());
    let ctx = Ctx {
        app: dir.path(),
        config: &config,
        project: &project,
        selected: &[],
        fix: false,
        require_all,
        test: &args,
        image: &image,
        migrate: &migrate,
        env: &env,
        root: dir.path(),
        services: Shared::default(),
    };
    f(&ctx)
}
