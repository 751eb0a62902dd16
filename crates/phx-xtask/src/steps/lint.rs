//! `credo` and `sobelow`: each runs when its tool is among the app's deps,
//! and is skipped (never silently) with the line to add when it is not.

use super::ctx::{missing_tool, Ctx};
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

pub fn credo(ctx: &Ctx) -> StepPlan {
    if !ctx.project.has_dep("credo") {
        return missing_tool(
            StepId::Credo,
            ctx,
            r#"{:credo, "~> 1.7", only: [:dev, :test], runtime: false}"#,
        );
    }
    let mut cmd = Cmd::mix(ctx.app, &["credo"]);
    if ctx.config.credo.strict {
        cmd = cmd.arg("--strict");
    }
    let cmd = cmd.args(ctx.config.credo.args.iter().cloned());
    // Running a Mix task loads (and may compile) the project, so it runs
    // after `compile` rather than racing it on the same _build; it reads
    // the sources, so a failed compile does not keep it from reporting.
    StepPlan::new(
        StepId::Credo,
        &[StepId::Deps],
        vec![Action::Run(cmd)],
        "address the issues credo lists (`mix credo explain FILE:LINE` says why)",
    )
    .after(&[StepId::Compile])
}

pub fn sobelow(ctx: &Ctx) -> StepPlan {
    if !ctx.project.has_dep("sobelow") {
        return missing_tool(
            StepId::Sobelow,
            ctx,
            r#"{:sobelow, "~> 0.13", only: [:dev, :test], runtime: false}"#,
        );
    }
    // `--private` skips sobelow's version check over the network.
    let mut cmd = Cmd::mix(ctx.app, &["sobelow", "--private"]);
    if ctx.config.sobelow.config {
        cmd = cmd.arg("--config");
    }
    // Sobelow exits 0 even with findings unless told `--exit`. When the app
    // has a .sobelow-conf, its own `exit:` setting rules (with sobelow up to
    // 0.14.0 the file replaces every flag anyway), so we add ours only when
    // there is no such file.
    if !ctx.app.join(".sobelow-conf").is_file() {
        cmd = cmd.args(["--exit", ctx.config.sobelow.exit.as_str()]);
    }
    let cmd = cmd.args(ctx.config.sobelow.args.iter().cloned());
    StepPlan::new(
        StepId::Sobelow,
        &[StepId::Deps],
        vec![Action::Run(cmd)],
        "address the findings, or mark a false positive with `# sobelow_skip [\"Type\"]`",
    )
    .after(&[StepId::Compile])
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_TOOLS: &str =
        "defmodule A.MixProject do\n  def project, do: [app: :a, deps: deps()]\n  \
        defp deps, do: [{:credo, \"~> 1.7\"}, {:sobelow, \"~> 0.13\"}]\nend\n";
    const WITHOUT: &str =
        "defmodule A.MixProject do\n  def project, do: [app: :a, deps: []]\nend\n";

    /// Plans credo and sobelow for a mix.exs; returns each plan's one line.
    fn plan(mix_exs: &str, sobelow_conf: bool, require_all: bool) -> Vec<String> {
        let conf: &[(&str, &str)] = if sobelow_conf {
            &[(".sobelow-conf", "[exit: \"medium\"]\n")]
        } else {
            &[]
        };
        crate::steps::ctx::with_ctx(mix_exs, conf, require_all, |ctx| {
            [credo(ctx), sobelow(ctx)]
                .iter()
                .map(|p| match &p.skip {
                    Some(why) => format!("skipped: {why}"),
                    None => p.phases[0]
                        .actions
                        .iter()
                        .map(|a| a.describe(ctx.app))
                        .collect::<Vec<_>>()
                        .join("; "),
                })
                .collect()
        })
    }

    #[test]
    fn tools_in_deps_run_with_the_real_flags() {
        let lines = plan(WITH_TOOLS, false, false);
        assert_eq!(
            lines,
            [
                "$ mix credo --strict",
                "$ mix sobelow --private --config --exit low"
            ]
        );
    }

    #[test]
    fn a_sobelow_conf_decides_the_exit_level() {
        let lines = plan(WITH_TOOLS, true, false);
        assert_eq!(lines[1], "$ mix sobelow --private --config");
    }

    #[test]
    fn absent_tools_are_skipped_with_the_line_to_add_or_fail_when_required() {
        let lines = plan(WITHOUT, false, false);
        assert!(
            lines[0].starts_with("skipped: credo is not a dependency: add `{:credo, "),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("{:sobelow, "), "{}", lines[1]);
        let lines = plan(WITHOUT, false, true);
        assert_eq!(lines[0], "# require credo (--require-all)");
    }
}
