//! `format`: `mix format --check-formatted`, or `mix format` with `--fix`.

use super::ctx::Ctx;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

pub fn plan(ctx: &Ctx) -> StepPlan {
    let cmd = match ctx.fix {
        true => Cmd::mix(ctx.app, &["format"]),
        false => Cmd::mix(ctx.app, &["format", "--check-formatted"]),
    };
    // `import_deps` reads the deps' own .formatter.exs, so the step waits
    // for them. Plugins (Phoenix's HTML formatter) must be compiled: Mix's
    // format task runs `loadpaths`, which compiles deps, and `compile` if a
    // plugin is missing, so then it waits for the build env's compile
    // rather than race it.
    let needs = match plugins(ctx.app) && ctx.selected.contains(&StepId::Compile) {
        true => StepId::Compile,
        false => StepId::Deps,
    };
    StepPlan::new(
        StepId::Format,
        &[needs],
        vec![Action::Reader(cmd)],
        "run `cargo xtask format --fix`, then commit",
    )
}

/// Whether .formatter.exs lists `plugins:`.
fn plugins(app: &std::path::Path) -> bool {
    std::fs::read_to_string(app.join(".formatter.exs")).is_ok_and(|t| {
        t.lines()
            .map(|l| l.split('#').next().unwrap_or_default())
            .any(|l| l.contains("plugins:"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::ctx::with_ctx;

    fn needs(formatter: &str) -> Vec<StepId> {
        let files = [(".formatter.exs", formatter)];
        with_ctx("def project, do: [app: :a]", &files, false, |ctx| {
            let ctx = Ctx {
                selected: &[StepId::Deps, StepId::Format, StepId::Compile],
                services: Default::default(),
                ..*ctx
            };
            plan(&ctx).phases[0].needs.clone()
        })
    }

    #[test]
    fn plugins_wait_for_the_build_env_compile() {
        assert_eq!(
            needs("[import_deps: [:phoenix], inputs: [\"*.exs\"]]"),
            [StepId::Deps]
        );
        let phoenix = "[import_deps: [:phoenix], plugins: [Phoenix.LiveView.HTMLFormatter]]";
        assert_eq!(needs(phoenix), [StepId::Compile]);
        assert_eq!(needs("# plugins: [X]\n[inputs: []]"), [StepId::Deps]);
    }
}
