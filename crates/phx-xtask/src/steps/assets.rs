//! `assets`: in the assets dir `npm ci` and the configured npm scripts
//! (lint, test, build); then `mix assets.deploy`; then a check that every
//! configured output exists and is not empty. The npm part needs at most
//! the deps (Phoenix's package.json points into deps/), so it starts early;
//! the Mix part waits for `compile`, which owns `_build`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::ctx::Ctx;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, Phase, StepPlan};

const HINT: &str = "run the failing command above in the assets dir and correct what it reports";

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let cfg = &ctx.config.assets;
    let dir = ctx.app.join(&cfg.dir);
    let package = dir.join("package.json");
    if !package.is_file() {
        return Ok(StepPlan::skipped(
            StepId::Assets,
            format!("no {} in the app: set [assets] dir in xtask.toml, or drop the step from [ci] steps", package.strip_prefix(ctx.app).unwrap_or(&package).display()),
        ));
    }
    let text =
        std::fs::read_to_string(&package).with_context(|| format!("read {}", package.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", package.display()))?;
    let scripts = json.get("scripts").and_then(|s| s.as_object());

    let mut npm = vec![Action::Run(Cmd::new("npm", &dir).arg("ci").hint(format!(
        "`npm ci` needs a package-lock.json in sync: run `npm install` in {} and commit it",
        cfg.dir.display()
    )))];
    let mut runs = Vec::new();
    for script in &cfg.scripts {
        match scripts.is_some_and(|s| s.contains_key(script)) {
            // `npm test` is npm's own shorthand; other scripts need `run`.
            true if script == "test" => runs.push(Cmd::new("npm", &dir).arg("test")),
            true => runs.push(Cmd::new("npm", &dir).args(["run", script])),
            false => npm.push(Action::Skip {
                what: format!("npm run {script}"),
                why: "package.json has no such script".into(),
            }),
        }
    }
    if cfg.parallel && runs.len() > 1 {
        npm.push(Action::Parallel(runs));
    } else {
        npm.extend(runs.into_iter().map(Action::Run));
    }

    let mut deploy = Vec::new();
    if ctx.project.has_alias(&cfg.deploy) {
        deploy.push(Action::Run(Cmd::mix(ctx.app, &[cfg.deploy.as_str()])));
    } else {
        deploy.push(Action::Skip {
            what: format!("mix {}", cfg.deploy),
            why: "mix.exs defines no such alias".into(),
        });
    }
    let outputs: Vec<PathBuf> = cfg.outputs.iter().map(|o| ctx.app.join(o)).collect();
    let names: Vec<String> = cfg
        .outputs
        .iter()
        .map(|o| o.display().to_string())
        .collect();
    deploy.push(Action::Native {
        describe: format!("check {} exist and are not empty", names.join(", ")),
        run: Box::new(move |ctx| check_outputs(&outputs, ctx)),
    });

    // Phoenix's package.json installs `phoenix` and friends from ../deps,
    // so npm waits for `deps` only when the package refers to them.
    let needs: &[StepId] = if text.contains("deps/") {
        &[StepId::Deps]
    } else {
        &[]
    };
    let mut plan = StepPlan::new(StepId::Assets, needs, npm, HINT);
    plan.phases.push(Phase {
        needs: vec![StepId::Compile],
        actions: deploy,
    });
    Ok(plan)
}

fn check_outputs(outputs: &[PathBuf], ctx: &mut crate::exec::Exec) -> Result<()> {
    let mut bad = Vec::new();
    for o in outputs {
        match std::fs::metadata(o) {
            Ok(m) if m.len() > 0 => ctx.log(format!("{} ({} bytes)", o.display(), m.len())),
            Ok(_) => bad.push(format!("{} is empty", o.display())),
            Err(_) => bad.push(format!("{} is missing", o.display())),
        }
    }
    if !bad.is_empty() {
        ctx.hint = Some("make the deploy alias write every file in [assets] outputs, or fix the list in xtask.toml".into());
        bail!("{}", bad.join("; "));
    }
    Ok(())
}
