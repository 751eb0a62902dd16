//! `compile`: `mix compile --warnings-as-errors` in the env in use (MIX_ENV).
//! It is the one step that writes `_build/<env>`; the steps that read it wait.

use super::ctx::Ctx;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

pub fn plan(ctx: &Ctx) -> StepPlan {
    let cmd = Cmd::mix(ctx.app, &["compile", "--warnings-as-errors"]);
    StepPlan::new(
        StepId::Compile,
        &[StepId::Deps],
        vec![Action::Run(cmd)],
        "resolve the compiler warnings above: with --warnings-as-errors they fail the build",
    )
}
