//! The steps: each file plans one step as a `StepPlan` (named commands,
//! what the step needs, the checks, the fix hint) and runs nothing itself.
//! A repo's own xtask adds steps of its own as `Step`s.

mod assets;
mod audit;
mod compile;
pub mod ctx;
pub(crate) mod deps;
mod dialyzer;
mod docs;
mod format;
mod fuse;
mod gettext;
mod image;
mod lint;
mod migrations;
pub(crate) mod test;
mod throwaway;
mod xref;

use anyhow::{bail, Result};

use crate::ids::StepId;
use crate::plan::StepPlan;
pub use ctx::Ctx;
pub use fuse::fuse;

/// A step a repo's own xtask adds: a function that returns a plan, which is
/// scheduled, shown and reported like the built-in steps.
#[derive(Clone, Copy)]
pub struct Step {
    /// Its name in `[ci] steps`, `cargo xtask step NAME` and the summary.
    pub name: &'static str,
    /// One line for `cargo xtask list`.
    pub about: &'static str,
    pub plan: fn(&Ctx) -> Result<StepPlan>,
}

pub fn plan(id: StepId, ctx: &Ctx, custom: &[Step]) -> Result<StepPlan> {
    let plan = match id {
        StepId::Deps => deps::plan(ctx),
        StepId::Format => format::plan(ctx),
        StepId::Compile => compile::plan(ctx),
        StepId::Credo => lint::credo(ctx),
        StepId::Sobelow => lint::sobelow(ctx),
        StepId::Xref => xref::plan(ctx),
        StepId::Gettext => gettext::plan(ctx),
        StepId::Docs => docs::plan(ctx),
        StepId::Audit => audit::plan(ctx),
        StepId::Dialyzer => dialyzer::plan(ctx)?,
        StepId::Assets => assets::plan(ctx)?,
        StepId::Test => test::plan(ctx)?,
        StepId::Migrations => migrations::plan(ctx)?,
        StepId::Image => image::plan(ctx)?,
        StepId::Custom(name) => {
            let Some(step) = custom.iter().find(|s| s.name == name) else {
                bail!("no step named {name} is registered")
            };
            let mut plan = (step.plan)(ctx)?;
            plan.id = id;
            plan
        }
    };
    Ok(plan)
}
