//! `deps`: fetch and compile dependencies, then check mix.lock for unused ones.

use super::ctx::Ctx;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

pub fn plan(ctx: &Ctx) -> StepPlan {
    let mut actions = vec![
        Action::Run(Cmd::mix(ctx.app, &["deps.get"])),
        Action::Run(Cmd::mix(ctx.app, &["deps.compile"])),
    ];
    let check = Cmd::mix(ctx.app, &["deps.unlock", "--check-unused"])
        .hint("mix.lock lists deps mix.exs no longer uses: run `mix deps.unlock --unused` and commit mix.lock");
    // Without a mix.lock (no deps, or only path deps) the check has nothing
    // to compare and would pass vacuously, so say so instead.
    actions.push(match ctx.project.lock {
        Some(_) => Action::Run(check),
        None => Action::Skip {
            what: "mix deps.unlock --check-unused".into(),
            why: "no mix.lock, so there are no locked deps to check".into(),
        },
    });
    StepPlan::new(
        StepId::Deps,
        &[],
        actions,
        "run `mix deps.get` and check the deps in mix.exs",
    )
}
