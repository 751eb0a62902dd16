//! `test`: `mix test` against Postgres and Redis that we start for it.
//!
//! 1. At t=0 (it needs nothing): sweep orphaned containers, start both
//!    services. They boot while `deps` and the test build compile.
//! 2. After deps: `MIX_ENV=test mix compile --warnings-as-errors`, then wait
//!    until the services answer, create one database per partition, export
//!    `DATABASE_URL` and `REDIS_URL`, and run `mix test --cover` (N processes
//!    at once with `--partitions N`, each with its own database and Redis DB).
//! 3. Merge the coverage exports, report the total, write cover/lcov.info,
//!    check the threshold; then stop the services. A failure, a panic or a
//!    signal stops them too: dropping the last handle removes them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{Ctx, StepId};
use crate::plan::{Action, Cmd, Phase, StepPlan};
use crate::runner::StepCtx;
use crate::services::{self, urls, Backend, Services, Settings};

mod cover;

const HINT: &str = "make the failing tests above pass; rerun one partition with \
                    `cargo xtask test --partition K/N`, or only the failures with `--failed`";
const SERVICES_HINT: &str = "the services did not come up: fix the error above (`cargo xtask \
                             services up` starts them the same way), or pick another --services";

#[derive(Args, Debug, Clone, Default)]
pub struct TestArgs {
    /// Run the suite as N `mix test --partitions N` processes at once, each
    /// with its own database and Redis DB (default: [test] partitions).
    #[arg(long, value_name = "N", conflicts_with = "partition")]
    pub partitions: Option<u32>,
    /// Run only partition K of N, to split the suite across CI machines.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<Partition>,
    /// Run only the tests with this tag (repeatable), as ExUnit's --only.
    #[arg(long, value_name = "TAG")]
    pub only: Vec<String>,
    /// Leave out the tests with this tag (repeatable), as ExUnit's --exclude.
    #[arg(long, value_name = "TAG")]
    pub exclude: Vec<String>,
    /// Run only the tests that failed last time.
    #[arg(long)]
    pub failed: bool,
    /// Where Postgres and Redis come from (default: XTASK_SERVICES, else
    /// [services] backend, else docker).
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub services: Option<Backend>,
    /// Arguments for `mix test` itself, after `--` (`-- --seed 0`).
    #[arg(last = true, value_name = "MIX_TEST_ARGS")]
    pub extra: Vec<String>,
}

/// `--partition K/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: u32,
    pub n: u32,
}

pub fn parse_partition(s: &str) -> std::result::Result<Partition, String> {
    let bad = || format!("`{s}` is not K/N: write the partition and the count, like 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(format!(
            "partition {k}/{n} does not exist: K must be between 1 and N"
        ));
    }
    Ok(Partition { k, n })
}

/// Which `mix test` processes a run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Whole,
    All(u32),
    One(Partition),
}

fn layout(args: &TestArgs, default_partitions: u32) -> Result<Layout> {
    Ok(
        match (
            args.partition,
            args.partitions.unwrap_or(default_partitions),
        ) {
            (Some(p), _) => Layout::One(p),
            (None, 0) => {
                bail!("--partitions 0 runs nothing: use 1 or more (or fix [test] partitions)")
            }
            (None, 1) => Layout::Whole,
            (None, n) => Layout::All(n),
        },
    )
}

impl Layout {
    /// (K, N, database) for each process, in order.
    fn runs(self, base: &str) -> Vec<(u32, u32, String)> {
        match self {
            Layout::Whole => vec![(0, 1, base.to_string())],
            Layout::All(n) => (1..=n)
                .map(|k| (k, n, urls::partition_database(base, k)))
                .collect(),
            Layout::One(p) => vec![(p.k, p.n, urls::partition_database(base, p.k))],
        }
    }

    fn count(self) -> u32 {
        match self {
            Layout::Whole => 1,
            Layout::All(n) => n,
            Layout::One(p) => p.n,
        }
    }
}

type Slot = Arc<Mutex<Option<Services>>>;

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<Services>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let (args, cfg) = (ctx.test, &ctx.config.test);
    let layout = layout(args, cfg.partitions)?;
    let backend = services::backend(args.services, ctx.config)?;
    let settings = services::resolve(
        ctx.config,
        ctx.app,
        &ctx.project.app,
        backend,
        layout.count(),
    )?;
    let runs = layout.runs(&settings.database);
    let slot: Slot = Arc::default();

    let start = start(settings, &slot);
    let compile = Cmd::mix(ctx.app, &["compile", "--warnings-as-errors"])
        .env("MIX_ENV", "test")
        .hint("fix the warnings above: the test build compiles with --warnings-as-errors");
    let mut late = Vec::new();
    if !ctx.selected.contains(&StepId::Deps) {
        // Run alone (a CI matrix job with --partition K/N), the step fetches
        // the deps itself; `ci` has the deps step for that.
        late.push(Action::Run(Cmd::mix(ctx.app, &["deps.get"])));
    }
    late.push(Action::Run(compile));
    let early = match cfg.overlap {
        true => vec![start],
        false => {
            late.push(start);
            Vec::new()
        }
    };
    late.push(ready(&slot, layout, &runs));
    let cmds: Vec<Cmd> = runs
        .iter()
        .map(|(k, n, _)| mix_test(ctx.app, args, cfg.cover, layout, *k, *n))
        .collect();
    if cfg.cover {
        late.push(cover::clean_coverdata(ctx.app));
    }
    late.push(match layout {
        Layout::All(_) => partitions(cmds, &slot, runs.clone()),
        _ => Action::Run(cmds.into_iter().next().expect("one run")),
    });
    if cfg.cover {
        late.extend(cover::actions(ctx, args, layout, &runs));
    }
    late.push(stop(&slot));

    // With MIX_ENV=test exported (common in CI), `compile` builds
    // _build/test too, and two Mix commands never compile one env at once.
    let mut needs = vec![StepId::Deps];
    if std::env::var("MIX_ENV").as_deref() == Ok("test") && ctx.selected.contains(&StepId::Compile)
    {
        needs.push(StepId::Compile);
    }
    let mut plan = StepPlan::new(StepId::Test, &[], early, HINT);
    plan.phases.push(Phase {
        needs,
        actions: late,
    });
    plan.phases.retain(|p| !p.actions.is_empty());
    Ok(plan)
}

fn start(settings: Settings, slot: &Slot) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: format!("start {}", settings.describe()),
        run: Box::new(move |ctx| {
            let started = Services::start(&settings, &mut |line| ctx.log(line));
            *lock(&slot) = Some(started.inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?);
            Ok(())
        }),
    }
}

fn ready(slot: &Slot, layout: Layout, runs: &[(u32, u32, String)]) -> Action {
    let slot = Arc::clone(slot);
    let names: Vec<String> = runs.iter().map(|(_, _, db)| db.clone()).collect();
    let (k, first_db) = (runs[0].0, runs[0].2.clone());
    Action::Native {
        describe: format!(
            "wait until postgres answers `SELECT 1` and redis `PING`; create {}{}",
            names.join(", "),
            if matches!(layout, Layout::All(_)) {
                ""
            } else {
                "; export DATABASE_URL and REDIS_URL"
            }
        ),
        run: Box::new(move |ctx| {
            let guard = lock(&slot);
            let s = guard.as_ref().context("the services were not started")?;
            let took = s
                .wait_ready()
                .inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?;
            let (at, ms) = (s.where_(), took.as_millis());
            ctx.log(format!("{at} answer ({ms} ms after start-up began)"));
            s.recreate_databases(&names)
                .inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?;
            ctx.log(format!("created {}", names.join(", ")));
            let redis = match layout {
                Layout::Whole => s.redis_url().clone(),
                Layout::One(_) => s.redis_db_url(k),
                // Each partition gets its own URLs on its command; an
                // exported value would take precedence over them.
                Layout::All(_) => return Ok(()),
            };
            let database = s.database_url(&first_db).to_string();
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

fn export_name(layout: Layout, k: u32) -> String {
    match layout {
        Layout::Whole => "suite".to_string(),
        _ => format!("partition-{k}"),
    }
}

/// The partitions at once; each gets its own DATABASE_URL and Redis DB,
/// which exist only once the services run, so they are added here.
fn partitions(cmds: Vec<Cmd>, slot: &Slot, runs: Vec<(u32, u32, String)>) -> Action {
    let slot = Arc::clone(slot);
    let base = cmds.first().map_or_else(PathBuf::new, |c| c.dir.clone());
    let lines: Vec<String> = cmds
        .iter()
        .map(|c| format!("  {}  &", c.describe(&base)))
        .collect();
    Action::Native {
        describe: format!(
            "run {} partitions at once, each with its own DATABASE_URL and REDIS_URL:\n{}",
            cmds.len(),
            lines.join("\n")
        ),
        run: Box::new(move |ctx: &mut StepCtx| {
            let cmds: Vec<Cmd> = {
                let guard = lock(&slot);
                let s = guard.as_ref().context("the services were not started")?;
                cmds.into_iter()
                    .zip(&runs)
                    .map(|(c, (k, _, db))| {
                        c.env("DATABASE_URL", s.database_url(db).to_string())
                            .env("REDIS_URL", s.redis_db_url(*k).to_string())
                    })
                    .collect()
            };
            ctx.run_all(&cmds)
        }),
    }
}

fn stop(slot: &Slot) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: "stop the services".into(),
        run: Box::new(move |ctx| {
            if let Some(s) = lock(&slot).take() {
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
    fn partition_specs() {
        assert_eq!(parse_partition("2/4"), Ok(Partition { k: 2, n: 4 }));
        assert_eq!(parse_partition(" 1 / 1 "), Ok(Partition { k: 1, n: 1 }));
        for bad in ["", "2", "2/", "/4", "a/b", "-1/4", "2/4/8"] {
            assert!(
                parse_partition(bad).unwrap_err().contains("is not K/N"),
                "{bad}"
            );
        }
        for bad in ["0/4", "5/4", "1/0"] {
            assert!(
                parse_partition(bad).unwrap_err().contains("does not exist"),
                "{bad}"
            );
        }
    }

    #[test]
    fn layouts_and_databases() {
        let args = |partitions, partition| TestArgs {
            partitions,
            partition,
            ..TestArgs::default()
        };
        assert_eq!(layout(&args(None, None), 1).unwrap(), Layout::Whole);
        assert_eq!(layout(&args(None, None), 3).unwrap(), Layout::All(3));
        assert_eq!(layout(&args(Some(1), None), 3).unwrap(), Layout::Whole);
        assert!(layout(&args(Some(0), None), 1).is_err());
        let one = Partition { k: 2, n: 3 };
        assert_eq!(layout(&args(None, Some(one)), 1).unwrap(), Layout::One(one));
        assert_eq!(
            Layout::Whole.runs("demo_test"),
            vec![(0, 1, "demo_test".to_string())]
        );
        let all: Vec<String> = Layout::All(2)
            .runs("demo_test")
            .into_iter()
            .map(|r| r.2)
            .collect();
        assert_eq!(all, ["demo_test1", "demo_test2"]);
        assert_eq!(Layout::One(one).runs("d"), vec![(2, 3, "d2".to_string())]);
    }

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
