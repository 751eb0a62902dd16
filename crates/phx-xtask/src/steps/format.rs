//! `format`: `mix format --check-formatted`, or `mix format` with `--fix`.

use super::ctx::Ctx;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

pub fn plan(ctx: &Ctx) -> StepPlan {
    let cmd = match ctx.fix {
        true => Cmd::mix(ctx.app, &["format"]),
        false => Cmd::mix(ctx.app, &["format", "--check-formatted"]),
    };
    // Formatter plugins (Phoenix's HTML formatter) come from deps, so the
    // step waits for them; it never compiles the app itself.
    StepPlan::new(
        StepId::Format,
        &[StepId::Deps],
        vec![Action::Run(cmd)],
        "run `cargo xtask format --fix`, then commit",
    )
}
