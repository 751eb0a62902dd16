//! `gettext`: `mix gettext.extract --check-up-to-date` fails when a .pot
//! file no longer matches the messages in the code (someone added a
//! `gettext("…")` and did not extract). Skipped, with the line to add, when
//! gettext is not a dependency.

use super::ctx::{missing_tool, Ctx};
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

const HINT: &str = "run `mix gettext.extract --merge` and commit the .pot and .po files it changes";

pub fn plan(ctx: &Ctx) -> StepPlan {
    if !ctx.project.has_dep("gettext") {
        return missing_tool(StepId::Gettext, ctx, r#"{:gettext, "~> 0.26"}"#);
    }
    let cmd = Cmd::mix(ctx.app, &["gettext.extract", "--check-up-to-date"]).hint(HINT);
    // The extractor forces a recompile of every Elixir file of the build env
    // (it marks the manifests old), so it waits for the other Mix tasks that
    // read that build instead of rewriting it under them.
    StepPlan::new(
        StepId::Gettext,
        &[StepId::Deps, StepId::Compile],
        vec![Action::Run(cmd)],
        HINT,
    )
    .after(&[StepId::Credo, StepId::Sobelow, StepId::Xref, StepId::Docs])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_when_gettext_is_a_dep_and_says_the_line_when_not() {
        let with = "defmodule A.MixProject do\n  def project, do: [app: :a, deps: [{:gettext, \"~> 0.26\"}]]\nend\n";
        let line = crate::steps::ctx::with_ctx(with, &[], false, |ctx| {
            plan(ctx).phases[0].actions[0].describe(ctx.app)
        });
        assert_eq!(line, "$ mix gettext.extract --check-up-to-date");
        let without = "defmodule A.MixProject do\n  def project, do: [app: :a, deps: []]\nend\n";
        let why = crate::steps::ctx::with_ctx(without, &[], false, |ctx| plan(ctx).skip);
        assert_eq!(
            why.as_deref(),
            Some("gettext is not a dependency: add `{:gettext, \"~> 0.26\"}` to deps in mix.exs")
        );
    }
}
