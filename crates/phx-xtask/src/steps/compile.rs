//! `compile`: `mix compile --warnings-as-errors` in the env in use (MIX_ENV).
//! It is the one step that writes `_build/<env>`; the steps that read it
//! wait. With `deps` in the run, the deps' compile and the lock check come
//! first in the same `mix do`: one boot for the build env.

use super::ctx::Ctx;
use super::deps;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

const HINT: &str =
    "resolve the compiler warnings above: with --warnings-as-errors they fail the build";

pub fn plan(ctx: &Ctx) -> StepPlan {
    let compile = Cmd::mix(ctx.app, &["compile", "--warnings-as-errors"]).hint(HINT);
    let (mut parts, mut alone) = match ctx.selected.contains(&StepId::Deps) {
        true => (deps::compile_parts(ctx, None), None),
        false => (Vec::new(), None),
    };
    // Another env's build may run at the same time (the test step's, or
    // dialyzer's compile of its own env), and `mix compile` builds the
    // deps too.
    if [StepId::Test, StepId::Dialyzer]
        .iter()
        .any(|s| ctx.selected.contains(s))
    {
        alone = Some(deps::build_alone(ctx.app));
    }
    parts.push(compile);
    StepPlan::new(
        StepId::Compile,
        &[StepId::Deps],
        vec![Action::chain(parts, alone)],
        HINT,
    )
}
