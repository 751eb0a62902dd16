//! `docs`: `mix docs` with warnings as errors, when ex_doc is a dependency
//! (skipped with the line to add when not). ex_doc takes
//! `--warnings-as-errors` from 0.36.0 on; an older one ignores the unknown
//! switch (its task parses leniently), so there we run plain `mix docs` and
//! fail on the warnings it printed ourselves.

use anyhow::bail;

use super::ctx::{missing_dep, Ctx};
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

const HINT: &str = "fix the documentation warnings above (a reference to a function, module or \
    file that does not exist, or a doc that is not valid Markdown)";

pub fn plan(ctx: &Ctx) -> StepPlan {
    if !ctx.project.has_dep("ex_doc") {
        return missing_dep(
            StepId::Docs,
            "ex_doc",
            ctx,
            r#"{:ex_doc, "~> 0.36", only: :dev, runtime: false}"#,
        );
    }
    let version = ex_doc_version(ctx);
    let flag = version.as_deref().is_some_and(|v| at_least(v, (0, 36)));
    let mut actions = Vec::new();
    if flag {
        actions.push(Action::Run(
            Cmd::mix(ctx.app, &["docs", "--warnings-as-errors"]).hint(HINT),
        ));
    } else {
        actions.push(Action::Run(Cmd::mix(ctx.app, &["docs"]).hint(HINT)));
        let shown = version.unwrap_or_else(|| "of unknown version".into());
        actions.push(Action::Native {
            describe: format!(
                "fail on the warnings ex_doc {shown} printed (it has no --warnings-as-errors)"
            ),
            run: Box::new(|exec| {
                let n = exec.log.iter().filter(|l| is_warning(l)).count();
                if n > 0 {
                    exec.hint = Some(HINT.into());
                    bail!("`mix docs` printed {n} warning(s)");
                }
                Ok(())
            }),
        });
    }
    // `mix docs` compiles the build env first, so it needs compile's pass
    // rather than racing it on the same _build. Without compile in the run,
    // xref's own compile would build the deps beside ours: it goes first.
    let plan = StepPlan::new(
        StepId::Docs,
        &[StepId::Deps, StepId::Compile],
        actions,
        HINT,
    );
    match ctx.selected.contains(&StepId::Compile) {
        true => plan,
        false => plan.after(&[StepId::Xref]),
    }
}

/// ex_doc's and Elixir's warnings start `warning:` (after the colour codes
/// our log has already lost).
pub fn is_warning(line: &str) -> bool {
    line.trim_start().starts_with("warning:")
}

/// The locked version (`"ex_doc": {:hex, :ex_doc, "0.34.2", …}`), else the
/// version in a path dependency's own mix.exs.
fn ex_doc_version(ctx: &Ctx) -> Option<String> {
    if let Some(lock) = &ctx.project.lock {
        let i = lock.find(":ex_doc, \"")?;
        let rest = &lock[i + 10..];
        return Some(rest[..rest.find('"')?].to_string());
    }
    let path = ctx.project.dep_path("ex_doc")?;
    let mix_exs = std::fs::read_to_string(ctx.app.join(path).join("mix.exs")).ok()?;
    let i = mix_exs
        .find("version: \"")
        .or_else(|| mix_exs.find("@version \""))?;
    let rest = &mix_exs[i..];
    let start = rest.find('"')? + 1;
    Some(rest[start..start + rest[start..].find('"')?].to_string())
}

fn at_least(version: &str, (major, minor): (u64, u64)) -> bool {
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(mix_exs: &str, files: &[(&str, &str)]) -> Vec<String> {
        crate::steps::ctx::with_ctx(mix_exs, files, false, |ctx| {
            plan(ctx).phases[0]
                .actions
                .iter()
                .map(|a| a.describe(ctx.app))
                .collect()
        })
    }

    const PATH_DEP: &str = "defmodule A.MixProject do\n  def project, do: [app: :a, deps: [{:ex_doc, path: \"vendor/ex_doc\"}]]\nend\n";

    #[test]
    fn the_flag_from_0_36_and_our_own_check_before() {
        let new = [("vendor/ex_doc/mix.exs", "[version: \"0.36.1\"]")];
        assert_eq!(lines(PATH_DEP, &new), ["$ mix docs --warnings-as-errors"]);
        let old = [(
            "mix.lock",
            "%{\n  \"ex_doc\": {:hex, :ex_doc, \"0.34.2\", \"abc\"},\n}\n",
        )];
        let with_hex = "defmodule A.MixProject do\n  def project, do: [app: :a, deps: [{:ex_doc, \"~> 0.34\"}]]\nend\n";
        assert_eq!(
            lines(with_hex, &old),
            [
                "$ mix docs",
                "# fail on the warnings ex_doc 0.34.2 printed (it has no --warnings-as-errors)"
            ]
        );
        assert!(at_least("1.0.0", (0, 36)) && !at_least("0.35.9", (0, 36)));
    }
}
