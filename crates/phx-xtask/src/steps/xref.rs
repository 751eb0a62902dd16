//! `xref`: the gate that keeps recompilation small. `mix xref graph --label
//! compile-connected` lists the compile-time references that drag others
//! along (a change to the referenced file recompiles every file that reaches
//! it at compile time), and `--fail-above N` fails when there are more than
//! `[xref] compile_connected_max` of them. Built into Mix, so it always runs.

use super::ctx::Ctx;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

const HINT: &str = "each file above reaches the one marked (compile) at compile time (a macro, \
    an `import`, a struct or a call in a module body): move the use into a function, or raise \
    [xref] compile_connected_max";

pub fn plan(ctx: &Ctx) -> StepPlan {
    let max = ctx.config.xref.compile_connected_max.to_string();
    // `plain` is the ASCII tree (the default `pretty` draws with Unicode
    // box characters); its roots are the files the row names.
    let cmd = Cmd::mix(
        ctx.app,
        &[
            "xref",
            "graph",
            "--label",
            "compile-connected",
            "--format",
            "plain",
            "--fail-above",
            &max,
        ],
    )
    .hint(HINT);
    // xref reads compile's manifest, and its own implicit `compile` would
    // race compile's on the same _build, so it needs compile to pass.
    StepPlan::new(
        StepId::Xref,
        &[StepId::Deps, StepId::Compile],
        vec![Action::Reader(cmd)],
        HINT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_comes_from_the_config() {
        let mix = "defmodule A.MixProject do\n  def project, do: [app: :a, deps: []]\nend\n";
        let line = crate::steps::ctx::with_ctx(mix, &[], false, |ctx| {
            plan(ctx).phases[0].actions[0].describe(ctx.app)
        });
        assert_eq!(
            line,
            "$ mix xref graph --label compile-connected --format plain --fail-above 0"
        );
    }
}
