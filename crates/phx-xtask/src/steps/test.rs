//! `test`: `mix test` against Postgres and Redis that we start for it.
//!
//! 0. Before anything runs (a check): the backend's preconditions (docker
//!    answers, or the binaries exist, the ports are free).
//! 1. At t=0 (it needs nothing, and as a light phase takes no `--jobs`
//!    slot): sweep orphaned containers, start both services, wait until
//!    they answer, create one database per partition. This overlaps `deps`
//!    and the build env's compile.
//!    An app with no repo, no database or Redis URL and no client dep
//!    (`phx.new --no-ecto`) gets none (`needs.rs`; `[test] services`).
//! 2. After deps: export `DATABASE_URL` and `REDIS_URL`, then one
//!    `MIX_ENV=test mix do deps.compile + compile --warnings-as-errors + test
//!    --raise --cover … + run … cover.exs`: the test env boots once, beside
//!    the build env's compile (another `_build/<env>` tree), and the same VM
//!    reports the coverage (total, cover/lcov.info, the threshold). With
//!    `--partitions N` the build is its own `mix do`, N `mix test` run at
//!    once, each with its own database and Redis DB, and `elixir` (which
//!    loads no deps) merges their exports.
//! 3. Stop the services. A failure, a panic or a signal stops them too:
//!    dropping the last handle removes them.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::ctx::Ctx;
use super::deps;
use super::throwaway::{self, lock, Slot};
use crate::cli::TestArgs;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};
use crate::services;
use layout::{export_name, layout, Layout};

pub(crate) mod cases;
pub(crate) mod cover;
mod junit;
mod layout;
mod needs;
pub(crate) mod shard;
mod slow;
pub(crate) mod split;

const HINT: &str = "make the failing tests above pass; rerun one partition with \
                    `cargo xtask test --partition K/N`, or only the failures with `--failed`";

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let (args, cfg) = (ctx.test, &ctx.config.test);
    let layout = layout(args, cfg.partitions)?;
    let unused = needs::unused(ctx.app, ctx.project, cfg.services, args.services.is_some());
    let settings = match unused {
        Some(_) => None,
        None => {
            let backend = services::backend(args.services, ctx.config, ctx.env)?;
            Some(services::resolve(
                ctx.config,
                ctx.env,
                ctx.app,
                &ctx.project.app,
                backend,
                layout.count(),
            )?)
        }
    };
    let base = settings.as_ref().map_or_else(
        || format!("{}_test", ctx.project.app),
        |s| s.database.clone(),
    );
    let runs = layout.runs(&base);
    let leg = match layout {
        Layout::One(p) => Some(shard::plan(ctx, p)?),
        _ if args.timings.is_some() => {
            bail!("--timings balances the legs of a split suite: use it with --partition K/N")
        }
        _ => None,
    };
    // A leg always writes JUnit: the merge reads its tests from it.
    let junit = !cfg.junit.is_empty() || leg.is_some();
    let cmds = commands(ctx, layout, settings.as_ref(), &runs, leg.as_ref());
    let slot = settings.map(|s| throwaway::slot(&ctx.services, s));

    let mut late = Vec::new();
    if !ctx.selected.contains(&StepId::Deps) {
        // Run alone (a CI matrix job with --partition K/N), the step fetches
        // the deps itself; `ci` has the deps step for that.
        late.extend(deps::fetch(ctx));
    }
    let names: Vec<String> = runs.iter().map(|(_, _, db)| db.clone()).collect();
    let early = match (&slot, unused) {
        (Some(slot), _) => {
            let (start, wait) = (throwaway::start(slot), throwaway::ready(slot, names));
            let start_wait = vec![start, wait];
            match cfg.overlap {
                true => start_wait,
                false => {
                    late.extend(start_wait);
                    Vec::new()
                }
            }
        }
        (None, why) => {
            late.push(Action::Skip {
                what: "postgres and redis".into(),
                why: why.unwrap_or_default(),
            });
            Vec::new()
        }
    };
    if let Some(slot) = &slot {
        late.push(export(slot, layout, &runs));
    }
    // A leg's coverage counts only in the union: `cargo xtask merge`
    // reports and checks it.
    let report = match cfg.cover && leg.is_none() {
        true => cover::report(ctx, args, layout, &runs),
        false => cover::Report::default(),
    };
    if cfg.cover {
        late.push(cover::clean_coverdata(ctx.app));
    }
    late.extend(report.before);
    if leg.is_some() {
        late.push(shard::clear(ctx.app));
    }
    if junit {
        late.extend(junit::prepare(ctx.app));
    }
    let (needs, suite) = build_and_run(ctx, layout, cmds, report.part);
    late.extend(suite);
    if let Some(leg) = &leg {
        let k = leg.part.k;
        let export = Path::new("cover").join(format!("{}.coverdata", export_name(layout, k)));
        late.push(shard::write(ctx, leg, junit::partial(k), export));
    }
    if !cfg.junit.is_empty() {
        late.push(Action::Always(Box::new(junit::merge(
            ctx.app,
            &runs,
            ctx.app.join(&cfg.junit),
        ))));
    }
    late.extend(report.after);
    if !cfg.junit.is_empty() {
        late.push(slow::action(ctx.app, slow_settings(ctx)));
    }
    if let Some(slot) = &slot {
        late.push(throwaway::stop(slot));
    }

    let mut plan = StepPlan::new(StepId::Test, &[], early, HINT).then(&needs, late);
    plan.phases[0].light = cfg.overlap;
    plan.phases.retain(|p| !p.actions.is_empty());
    Ok(match &slot {
        Some(slot) => plan.check(throwaway::check(slot, "test")),
        None => plan,
    })
}

/// The slow-test report's settings; only a run of the whole suite is
/// compared with the last one.
fn slow_settings(ctx: &Ctx) -> slow::Settings {
    let (args, cfg) = (ctx.test, &ctx.config.test);
    slow::Settings {
        junit: cfg.junit.clone().into(),
        slowest: cfg.slowest,
        slow_ms: cfg.slow_ms,
        slow_fail: cfg.slow_fail,
        whole: args.partition.is_none()
            && !args.failed
            && args.only.is_empty()
            && args.extra.is_empty(),
    }
}

/// One `mix test` per run: its partition's URLs (shown as the plan knows
/// them), and the JUnit formatter.
fn commands(
    ctx: &Ctx,
    layout: Layout,
    settings: Option<&services::Settings>,
    runs: &[(u32, u32, String)],
    leg: Option<&shard::Plan>,
) -> Vec<Cmd> {
    let (args, cfg) = (ctx.test, &ctx.config.test);
    runs.iter()
        .map(|(k, n, db)| {
            let files = leg.map_or(&[][..], |l| l.files());
            let cmd = mix_test(ctx.app, args, cfg.cover, layout, (*k, *n), files);
            let cmd = match cfg.junit.is_empty() && leg.is_none() {
                true => cmd,
                false => junit::add(cmd, *k, ctx.env.get("ELIXIR_ERL_OPTIONS")),
            };
            let cmd = match leg {
                Some(_) => {
                    let (var, path) = shard::clock_env();
                    cmd.env(var, path)
                }
                None => cmd,
            };
            match (layout, settings) {
                // Each partition gets its own URLs on its command; an
                // exported value would take precedence over them.
                (Layout::All(_), Some(settings)) => {
                    let (pg, redis) = settings.shown_urls(db, *k);
                    cmd.late_env("DATABASE_URL", format!("database_url{k}"), pg)
                        .late_env("REDIS_URL", format!("redis_url{k}"), redis)
                }
                _ => cmd,
            }
        })
        .collect()
}

/// What the suite waits for, and the test env's build and the suite: one
/// `MIX_ENV=test mix do deps.compile + compile --warnings-as-errors + test
/// … [+ run … cover.exs]`, or the build then N partitions at once.
fn build_and_run(
    ctx: &Ctx,
    layout: Layout,
    mut tests: Vec<Cmd>,
    report: Option<Cmd>,
) -> (Vec<StepId>, Vec<Action>) {
    // With MIX_ENV=test exported (common in CI), `compile` builds
    // _build/test too, and two Mix commands never compile one env at once.
    let mut needs = vec![StepId::Deps];
    let same_env = ctx.env.mix_env() == "test" && ctx.selected.contains(&StepId::Compile);
    if same_env {
        needs.push(StepId::Compile);
    }
    // Else beside the build env's compile (or dialyzer's compile of its
    // env), unless a dep builds inside deps/.
    let beside = !same_env
        && [StepId::Compile, StepId::Dialyzer]
            .iter()
            .any(|s| ctx.selected.contains(s));
    let alone = beside.then(|| deps::build_alone(ctx.app));
    let mut build = deps::compile_parts(ctx, Some("test"));
    build.push(
        Cmd::mix(ctx.app, &["compile", "--warnings-as-errors"])
            .env("MIX_ENV", "test")
            .hint("fix the warnings above: the test build compiles with --warnings-as-errors"),
    );
    let actions = match layout {
        Layout::All(_) => vec![Action::chain(build, alone), Action::Parallel(tests)],
        _ => {
            if let Some(report) = report {
                // Without --raise a failed suite only sets the exit code
                // for the end and `mix do` goes on to the report; with it,
                // the chain stops at the suite, as when the report ran on
                // its own after it.
                tests[0].args.insert(1, "--raise".into());
                tests.push(report);
            }
            build.extend(tests);
            vec![Action::chain(build, alone)]
        }
    };
    (needs, actions)
}

/// Gives the test commands the services' URLs: exported for one run, or
/// each partition its own.
fn export(slot: &Slot, layout: Layout, runs: &[(u32, u32, String)]) -> Action {
    let slot = Arc::clone(slot);
    let runs = runs.to_vec();
    let describe = match layout {
        Layout::All(_) => "give each partition its DATABASE_URL and REDIS_URL",
        _ => "export DATABASE_URL and REDIS_URL",
    };
    Action::Native {
        describe: describe.into(),
        run: Box::new(move |ctx| {
            let shared = lock(&slot);
            let s = shared
                .services
                .as_ref()
                .context("the services were not started")?;
            if let Layout::All(_) = layout {
                for (k, _, db) in &runs {
                    ctx.vars
                        .insert(format!("database_url{k}"), s.database_url(db).to_string());
                    ctx.vars
                        .insert(format!("redis_url{k}"), s.redis_db_url(*k).to_string());
                }
                return Ok(());
            }
            let (k, db) = (runs[0].0, &runs[0].2);
            let redis = match layout {
                Layout::One(_) => s.redis_db_url(k),
                _ => s.redis_url().clone(),
            };
            let database = s.database_url(db).to_string();
            // Logged through ctx.log, which masks the password.
            ctx.log(format!("export DATABASE_URL={database} REDIS_URL={redis}"));
            ctx.env.push(("DATABASE_URL".into(), database));
            ctx.env.push(("REDIS_URL".into(), redis.to_string()));
            Ok(())
        }),
    }
}

/// `MIX_ENV=test [MIX_TEST_PARTITION=K] mix test [--cover --export-coverage
/// NAME] [--partitions N] [--only T] [--exclude T] [--failed] [EXTRA…]
/// [FILES…]`: a leg of a split suite (`--partition`) names its files and
/// leaves ExUnit's own `--partitions` out; MIX_TEST_PARTITION still names
/// its database, as Phoenix's config/test.exs expects.
fn mix_test(
    app: &Path,
    args: &TestArgs,
    cover: bool,
    layout: Layout,
    (k, n): (u32, u32),
    files: &[String],
) -> Cmd {
    let mut cmd = Cmd::mix(app, &["test"]).env("MIX_ENV", "test");
    if layout != Layout::Whole {
        cmd = cmd.env("MIX_TEST_PARTITION", k.to_string());
    }
    if cover {
        cmd = cmd.args(["--cover", "--export-coverage", &export_name(layout, k)]);
    }
    if let Layout::All(_) = layout {
        cmd = cmd.args(["--partitions", &n.to_string()]);
    }
    for tag in &args.only {
        cmd = cmd.args(["--only", tag]);
    }
    for tag in &args.exclude {
        cmd = cmd.args(["--exclude", tag]);
    }
    if args.failed {
        cmd = cmd.arg("--failed");
    }
    cmd.args(args.extra.iter().cloned())
        .args(files.iter().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_test_commands() {
        let app = Path::new("/app");
        let args = TestArgs {
            only: vec!["slow".into()],
            exclude: vec!["flaky".into()],
            failed: true,
            extra: vec!["--seed".into(), "0".into()],
            ..TestArgs::default()
        };
        let whole = mix_test(app, &args, true, Layout::Whole, (0, 1), &[]).describe(app);
        assert_eq!(
            whole,
            "$ MIX_ENV=test mix test --cover --export-coverage suite --only slow --exclude flaky --failed --seed 0"
        );
        let part =
            mix_test(app, &TestArgs::default(), true, Layout::All(2), (2, 2), &[]).describe(app);
        assert_eq!(part, "$ MIX_ENV=test MIX_TEST_PARTITION=2 mix test --cover --export-coverage partition-2 --partitions 2");
        let one = Layout::One(crate::cli::Partition { k: 2, n: 3 });
        let files = ["test/b_test.exs".to_string(), "test/e_test.exs".to_string()];
        let leg = mix_test(app, &TestArgs::default(), true, one, (2, 3), &files).describe(app);
        assert_eq!(leg, "$ MIX_ENV=test MIX_TEST_PARTITION=2 mix test --cover --export-coverage partition-2 test/b_test.exs test/e_test.exs");
        let nocover =
            mix_test(app, &TestArgs::default(), false, Layout::Whole, (0, 1), &[]).describe(app);
        assert_eq!(nocover, "$ MIX_ENV=test mix test");
    }

    /// Whether the test build's `mix do` waits for other builds when a dep
    /// builds inside deps/, with these steps selected.
    fn guarded(selected: &[StepId]) -> bool {
        crate::steps::ctx::with_ctx("def project, do: [app: :a]", &[], false, |ctx| {
            let ctx = Ctx {
                selected,
                services: Default::default(),
                ..*ctx
            };
            let plan = plan(&ctx).unwrap();
            let lines: Vec<String> = plan
                .phases
                .iter()
                .flat_map(|p| p.actions.iter().map(|a| a.describe(ctx.app)))
                .collect();
            let build = lines.iter().find(|l| l.contains("mix do deps.compile"));
            build
                .expect("the test build")
                .ends_with("[alone if a dep builds inside deps/]")
        })
    }

    #[test]
    fn the_test_build_is_guarded_whenever_another_env_may_build_beside_it() {
        assert!(guarded(&[StepId::Compile, StepId::Test]));
        // Dialyzer compiles its own env (dev) when compile is not in the run.
        assert!(guarded(&[StepId::Dialyzer, StepId::Test]));
        assert!(!guarded(&[StepId::Test]));
    }
}
