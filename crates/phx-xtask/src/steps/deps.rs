//! `deps`: fetch the dependencies (unless `deps/` already holds what mix.lock
//! names), compile them, then check mix.lock for unused ones. When `compile`
//! runs too, the last two go into its `mix do`, so the build env boots once.

mod in_place;
mod sync;
mod terms;

use std::path::Path;

use super::ctx::Ctx;
use crate::exec::Exec;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, GuardFn, StepPlan};

const HINT: &str = "run `mix deps.get` and check the deps in mix.exs";
const GET_HINT: &str = "`mix deps.get` failed: fix the dependency it names in mix.exs (its \
                        version, git url or path), then run `mix deps.get`";
const COMPILE_HINT: &str = "a dependency did not compile: fix what the error above names, or \
                            rebuild it with `mix deps.compile NAME --force`";
const UNUSED_HINT: &str =
    "mix.lock lists deps mix.exs no longer uses: run `mix deps.unlock --unused` and commit mix.lock";

pub fn plan(ctx: &Ctx) -> StepPlan {
    let mut actions = fetch(ctx);
    let parts = compile_parts(ctx, None);
    if ctx.selected.contains(&StepId::Compile) {
        let names: Vec<String> = parts
            .iter()
            .map(|c| format!("mix {}", c.args.join(" ")))
            .collect();
        actions.push(Action::Native {
            describe: format!("then in compile's `mix do`: {}", names.join(", ")),
            run: Box::new(|_| Ok(())),
        });
    } else {
        actions.push(Action::chain(parts, None));
    }
    // Without a mix.lock (no deps, or only path deps) the check has nothing
    // to compare and would pass vacuously, so say so instead.
    if ctx.project.lock.is_none() {
        actions.push(Action::Skip {
            what: "mix deps.unlock --check-unused".into(),
            why: "no mix.lock, so there are no locked deps to check".into(),
        });
    }
    StepPlan::new(StepId::Deps, &[], actions, HINT)
}

/// `mix deps.get` unless every locked dep is fetched at its locked
/// version, then the stamp that lets the next run tell.
pub fn fetch(ctx: &Ctx) -> Vec<Action> {
    vec![
        Action::RunUnless {
            cmd: Cmd::mix(ctx.app, &["deps.get"]).hint(GET_HINT),
            when: "unless deps in sync",
            fresh: sync::fresh(ctx.app.to_path_buf()),
        },
        sync::record(ctx.app.to_path_buf()),
    ]
}

/// What compiles the deps of one env (`MIX_ENV=<env>`, or the env in
/// use): `deps.compile`, then `deps.unlock --check-unused` for the build env
/// when there is a mix.lock. Another command of that env may follow in the
/// same `mix do`.
pub fn compile_parts(ctx: &Ctx, env: Option<&str>) -> Vec<Cmd> {
    let mix = |args: &[&str]| match env {
        Some(e) => Cmd::mix(ctx.app, args).env("MIX_ENV", e),
        None => Cmd::mix(ctx.app, args),
    };
    let mut parts = vec![mix(&["deps.compile"]).hint(COMPILE_HINT)];
    if env.is_none() && ctx.project.lock.is_some() {
        parts.push(mix(&["deps.unlock", "--check-unused"]).hint(UNUSED_HINT));
    }
    parts
}

/// The guard of a `mix do` that compiles deps: it runs alone when a dep
/// builds inside `deps/` (make, elixir_make, rebar3 hooks), naming them.
pub fn build_alone(app: &Path) -> GuardFn {
    let app = app.to_path_buf();
    Box::new(move |ctx: &Exec| {
        let deps = sync::deps_dir(&app, ctx.env_snapshot().get("MIX_DEPS_PATH"));
        let found = in_place::deps_building_in_place(&app, &deps);
        (!found.is_empty()).then(|| format!("{} build inside deps/", found.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::ctx::with_ctx;

    fn lines(plan: &StepPlan, app: &Path) -> Vec<String> {
        plan.phases[0]
            .actions
            .iter()
            .map(|a| a.describe(app))
            .collect()
    }

    #[test]
    fn alone_deps_fetches_compiles_and_checks_the_lock() {
        let mix_exs = "def project, do: [app: :a, deps: [{:jason, \"~> 1.4\"}]]";
        with_ctx(mix_exs, &[("mix.lock", "%{}\n")], false, |ctx| {
            assert_eq!(
                lines(&plan(ctx), ctx.app),
                [
                    "$ mix deps.get  [unless deps in sync]",
                    "# record mix.exs and mix.lock in deps/.xtask-deps-get",
                    "$ mix do deps.compile + deps.unlock --check-unused",
                ]
            );
        });
    }

    #[test]
    fn with_compile_the_build_env_parts_move_to_its_mix_do() {
        with_ctx("def project, do: [app: :a]", &[], false, |ctx| {
            let ctx = Ctx {
                selected: &[StepId::Deps, StepId::Compile],
                services: Default::default(),
                ..*ctx
            };
            let l = lines(&plan(&ctx), ctx.app);
            assert_eq!(l[2], "# then in compile's `mix do`: mix deps.compile");
            assert!(l[3].starts_with("# skip mix deps.unlock --check-unused: no mix.lock"));
            let test = compile_parts(&ctx, Some("test"));
            assert_eq!(test.len(), 1, "the lock is checked once, in the build env");
        });
    }
}
