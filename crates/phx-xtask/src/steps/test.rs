//! `test`: `mix test` against Postgres and Redis that we start for it.
//!
//! 0. Before anything runs (a check): the backend's preconditions (docker
//!    answers, or the binaries exist, the ports are free).
//! 1. At t=0 (it needs nothing, and as a light phase takes no `--jobs`
//!    slot): sweep orphaned containers, start both services, wait until
//!    they answer, create one database per partition. This overlaps `deps`
//!    and the build env's compile.
//! 2. After deps: export `DATABASE_URL` and `REDIS_URL`, then one
//!    `MIX_ENV=test mix do deps.compile + compile --warnings-as-errors + test
//!    --cover …`: the test env boots once, beside the build env's compile
//!    (another `_build/<env>` tree). With `--partitions N` the build is its
//!    own `mix do` and N `mix test` run at once, each with its own database
//!    and Redis DB.
//! 3. Merge the coverage exports, report the total, write cover/lcov.info,
//!    check the threshold (with `elixir`, which loads no deps); then stop
//!    the services. A failure, a panic or a signal stops them too: dropping
//!    the last handle removes them.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use super::ctx::Ctx;
use super::deps;
use crate::cli::TestArgs;
use crate::config::Backend;
use crate::ids::StepId;
use crate::plan::{Action, Check, Cmd, StepPlan};
use crate::services::{self, Services, Settings};
use layout::{export_name, layout, Layout};

mod cover;
mod junit;
mod layout;

const HINT: &str = "make the failing tests above pass; rerun one partition with \
                    `cargo xtask test --partition K/N`, or only the failures with `--failed`";
const SERVICES_HINT: &str = "the services did not come up: fix the error above (`cargo xtask \
                             services up` starts them the same way), or pick another --services";

/// The settings (which the check completes) and, once started, the services.
struct Shared {
    settings: Settings,
    services: Option<Services>,
}

type Slot = Arc<Mutex<Shared>>;

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Shared> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let (args, cfg) = (ctx.test, &ctx.config.test);
    let layout = layout(args, cfg.partitions)?;
    let backend = services::backend(args.services, ctx.config, ctx.env)?;
    let settings = services::resolve(
        ctx.config,
        ctx.env,
        ctx.app,
        &ctx.project.app,
        backend,
        layout.count(),
    )?;
    let runs = layout.runs(&settings.database);
    let cmds: Vec<Cmd> = runs
        .iter()
        .map(|(k, n, db)| {
            let cmd = mix_test(ctx.app, args, cfg.cover, layout, *k, *n);
            let cmd = match cfg.junit.is_empty() {
                true => cmd,
                false => junit::add(cmd, ctx.app, *k, ctx.env.get("ELIXIR_ERL_OPTIONS")),
            };
            match layout {
                // Each partition gets its own URLs on its command; an
                // exported value would take precedence over them.
                Layout::All(_) => {
                    let (pg, redis) = settings.shown_urls(db, *k);
                    cmd.late_env("DATABASE_URL", format!("database_url{k}"), pg)
                        .late_env("REDIS_URL", format!("redis_url{k}"), redis)
                }
                _ => cmd,
            }
        })
        .collect();
    let describe = settings.describe();
    let slot: Slot = Arc::new(Mutex::new(Shared {
        settings,
        services: None,
    }));

    let mut late = Vec::new();
    if !ctx.selected.contains(&StepId::Deps) {
        // Run alone (a CI matrix job with --partition K/N), the step fetches
        // the deps itself; `ci` has the deps step for that.
        late.extend(deps::fetch(ctx));
    }
    let names: Vec<String> = runs.iter().map(|(_, _, db)| db.clone()).collect();
    let (start, wait) = (start(describe, &slot), ready(&slot, names));
    let early = match cfg.overlap {
        true => vec![start, wait],
        false => {
            late.extend([start, wait]);
            Vec::new()
        }
    };
    late.push(export(&slot, layout, &runs));
    if cfg.cover {
        late.push(cover::clean_coverdata(ctx.app));
    }
    if !cfg.junit.is_empty() {
        late.extend(junit::prepare(ctx.app));
    }
    let (needs, suite) = build_and_run(ctx, layout, cmds);
    late.extend(suite);
    if !cfg.junit.is_empty() {
        late.push(Action::Always(Box::new(junit::merge(
            ctx.app,
            &runs,
            ctx.app.join(&cfg.junit),
        ))));
    }
    if cfg.cover {
        late.extend(cover::actions(ctx, args, layout, &runs));
    }
    late.push(stop(&slot));

    let mut plan = StepPlan::new(StepId::Test, &[], early, HINT).then(&needs, late);
    plan.phases[0].light = cfg.overlap;
    plan.phases.retain(|p| !p.actions.is_empty());
    Ok(plan.check(check(&slot, backend)))
}

/// What the suite waits for, and the test env's build and the suite: one
/// `MIX_ENV=test mix do deps.compile + compile --warnings-as-errors + test
/// …`, or the build then N partitions at once.
fn build_and_run(ctx: &Ctx, layout: Layout, tests: Vec<Cmd>) -> (Vec<StepId>, Vec<Action>) {
    // With MIX_ENV=test exported (common in CI), `compile` builds
    // _build/test too, and two Mix commands never compile one env at once.
    let mut needs = vec![StepId::Deps];
    let same_env = ctx.env.mix_env() == "test" && ctx.selected.contains(&StepId::Compile);
    if same_env {
        needs.push(StepId::Compile);
    }
    // Else beside the build env's compile, unless a dep builds inside deps/.
    let beside = !same_env && ctx.selected.contains(&StepId::Compile);
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
            build.extend(tests);
            vec![Action::chain(build, alone)]
        }
    };
    (needs, actions)
}

/// The backend's preconditions, probed after planning.
fn check(slot: &Slot, backend: Backend) -> Check {
    let slot = Arc::clone(slot);
    let what = match backend {
        Backend::Docker => "docker answers",
        Backend::Native => "postgres and redis-server are installed, the ports are free",
        Backend::Auto => "docker answers, else postgres and redis-server are installed",
        Backend::External => "DATABASE_URL and REDIS_URL are given",
    };
    Check::new(format!("test services: {what}"), move || {
        services::check(&mut lock(&slot).settings)
    })
}

fn start(describe: String, slot: &Slot) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: format!("start {describe}"),
        run: Box::new(move |ctx| {
            let mut shared = lock(&slot);
            if let Some(why) = &shared.settings.chosen {
                ctx.log(format!(
                    "services: {} (auto: {why})",
                    shared.settings.backend_name()
                ));
            }
            let started = Services::start(&shared.settings, &mut |line| ctx.log(line));
            shared.services = Some(started.inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?);
            Ok(())
        }),
    }
}

/// Waits until the services answer, then creates the databases.
fn ready(slot: &Slot, names: Vec<String>) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: format!(
            "wait until postgres answers `SELECT 1` and redis `PING`; create {}",
            names.join(", ")
        ),
        run: Box::new(move |ctx| {
            let shared = lock(&slot);
            let s = shared
                .services
                .as_ref()
                .context("the services were not started")?;
            let took = s
                .wait_ready()
                .inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?;
            let (at, ms) = (s.where_(), took.as_millis());
            ctx.log(format!("{at} answer ({ms} ms after start-up began)"));
            s.recreate_databases(&names)
                .inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?;
            ctx.log(format!("created {}", names.join(", ")));
            Ok(())
        }),
    }
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
/// NAME] [--partitions N] [--only T] [--exclude T] [--failed] [EXTRA…]`.
fn mix_test(app: &Path, args: &TestArgs, cover: bool, layout: Layout, k: u32, n: u32) -> Cmd {
    let mut cmd = Cmd::mix(app, &["test"]).env("MIX_ENV", "test");
    if layout != Layout::Whole {
        cmd = cmd.env("MIX_TEST_PARTITION", k.to_string());
    }
    if cover {
        cmd = cmd.args(["--cover", "--export-coverage", &export_name(layout, k)]);
    }
    if layout != Layout::Whole {
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
}

fn stop(slot: &Slot) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: "stop the services".into(),
        run: Box::new(move |ctx| {
            if let Some(s) = lock(&slot).services.take() {
                let what = s.where_();
                drop(s);
                ctx.log(format!("stopped {what}"));
            }
            Ok(())
        }),
    }
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
        let whole = mix_test(app, &args, true, Layout::Whole, 0, 1).describe(app);
        assert_eq!(
            whole,
            "$ MIX_ENV=test mix test --cover --export-coverage suite --only slow --exclude flaky --failed --seed 0"
        );
        let part = mix_test(app, &TestArgs::default(), true, Layout::All(2), 2, 2).describe(app);
        assert_eq!(part, "$ MIX_ENV=test MIX_TEST_PARTITION=2 mix test --cover --export-coverage partition-2 --partitions 2");
        let nocover = mix_test(app, &TestArgs::default(), false, Layout::Whole, 0, 1).describe(app);
        assert_eq!(nocover, "$ MIX_ENV=test mix test");
    }
}
