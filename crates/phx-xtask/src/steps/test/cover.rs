//! The coverage part of `test`: clear old exports, then merge this run's,
//! report the total and each module as `mix test.coverage` does, write its
//! HTML and cover/lcov.info, and check the threshold. `cover.exs` does all of
//! it with OTP's :cover only. A whole suite's report is the last part of the
//! test env's `mix do` (`run … cover.exs`, in the VM that ran the suite,
//! whose cover still holds the data): no boot of its own. Partitions, a
//! partial run and the legs' merge run it with `elixir`, which reads mix.exs
//! but loads no deps: one short boot instead of `mix run` plus `mix
//! test.coverage` (two boots that load every dep).

use std::path::Path;

use anyhow::Context;

use super::layout::{export_name, Layout};
use crate::cli::TestArgs;
use crate::plan::{Action, Cmd};
use crate::steps::ctx::Ctx;

/// The script exits 3 below the threshold, as `mix test.coverage` does.
const BELOW_THRESHOLD: i32 = 3;
const COVERAGE_HINT: &str = "coverage is below the threshold: test the modules listed above, \
                             or set [test] coverage_threshold in xtask.toml";
/// Any other failure is the script's own, whatever the total.
const SCRIPT_HINT: &str = "the coverage report failed before it could check the threshold: \
                           the error above says why (no cover/*.coverdata from this run, or \
                           a build the exports do not match: rerun `cargo xtask test`)";
/// Where the coverage script is written, relative to the app.
const SCRIPT: &str = "_build/xtask/cover.exs";

/// Exports from an earlier run would be merged into this one's total.
pub fn clean_coverdata(app: &Path) -> Action {
    let dir = app.join("cover");
    Action::Native {
        describe: "remove cover/*.coverdata from earlier runs".into(),
        run: Box::new(move |_| {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().extension().is_some_and(|e| e == "coverdata") {
                    std::fs::remove_file(entry.path())
                        .with_context(|| format!("remove {}", entry.path().display()))?;
                }
            }
            Ok(())
        }),
    }
}

/// How the test step reports its coverage: what runs before the suite, the
/// part that ends the suite's `mix do` (a whole suite), what runs after it
/// (partitions, a partial run).
#[derive(Default)]
pub struct Report {
    pub before: Option<Action>,
    pub part: Option<Cmd>,
    pub after: Vec<Action>,
}

pub fn report(ctx: &Ctx, args: &TestArgs, layout: Layout, runs: &[(u32, u32, String)]) -> Report {
    let exports: Vec<String> = runs
        .iter()
        .map(|(k, _, _)| export_name(layout, *k))
        .collect();
    let partial = partial_run(args, layout);
    // Partitions are N VMs, whose exports only a VM of its own can merge;
    // a partial run may run no test, and then no report runs.
    if layout != Layout::Whole || partial.is_some() {
        return Report {
            before: None,
            part: None,
            after: script_actions(ctx, &exports, partial),
        };
    }
    let part = Cmd::mix(ctx.app, &["run", "--no-compile", "--no-start", SCRIPT]);
    let threshold = ctx.config.test.coverage_threshold;
    Report {
        before: Some(write_script(ctx.app)),
        part: Some(with_settings(part, &exports, threshold)),
        after: Vec::new(),
    }
}

/// Writes the script and runs it on `cover/<export>.coverdata` for each
/// export: the test step's own, or the legs' that `merge` gathered.
pub fn script_actions(ctx: &Ctx, exports: &[String], partial: Option<String>) -> Vec<Action> {
    let write = write_script(ctx.app);
    let elixir = Cmd::new("elixir", ctx.app).arg(SCRIPT);
    let mut report = with_settings(elixir, exports, ctx.config.test.coverage_threshold);
    let Some(why) = partial else {
        return vec![write, Action::Run(report)];
    };
    report = report.env("XTASK_COVERAGE_REPORT_ONLY", why.clone());
    let output = ctx.app.join("cover");
    let files: Vec<_> = exports
        .iter()
        .map(|e| output.join(format!("{e}.coverdata")))
        .collect();
    // `mix test --failed` with nothing recorded says "There are no tests to
    // run" and exits 0, exporting nothing: no coverage, and no error.
    let none_ran = Box::new(move |_: &crate::exec::Exec| {
        (!files.iter().any(|f| f.is_file()))
            .then(|| "no test ran, so there is no coverage to report".to_string())
    });
    let note = Action::Native {
        describe: "note that the coverage is partial".into(),
        run: Box::new(move |ctx| {
            ctx.notes.push(format!(
                "partial coverage ({why}): the threshold is not checked"
            ));
            Ok(())
        }),
    };
    let report = Action::RunUnless {
        cmd: report,
        when: "when a test ran",
        fresh: none_ran,
    };
    vec![write, note, report]
}

fn write_script(app: &Path) -> Action {
    let script = app.join(SCRIPT);
    Action::Native {
        describe: format!(
            "write {SCRIPT} (reports and checks the coverage total, writes \
             cover/lcov.info and the HTML)"
        ),
        run: Box::new(move |_| {
            std::fs::create_dir_all(script.parent().expect("a file in a dir"))
                .context("create _build/xtask")?;
            std::fs::write(&script, include_str!("cover.exs"))
                .with_context(|| format!("write {}", script.display()))
        }),
    }
}

/// The script's command (`elixir` or `mix run`) with its settings and a
/// hint for each way it fails.
fn with_settings(cmd: Cmd, exports: &[String], threshold: Option<f64>) -> Cmd {
    let cmd = cmd
        .env("MIX_ENV", "test")
        .env("XTASK_COVER_EXPORTS", exports.join(","))
        .hint(SCRIPT_HINT)
        .hint_on(BELOW_THRESHOLD, COVERAGE_HINT);
    match threshold {
        Some(t) => cmd.env("XTASK_COVERAGE_THRESHOLD", t.to_string()),
        None => cmd,
    }
}

/// Why the total of this run says nothing about the whole suite, if so.
fn partial_run(args: &TestArgs, layout: Layout) -> Option<String> {
    if let Layout::One(p) = layout {
        return Some(format!(
            "only leg {}/{} ran: `cargo xtask merge` checks the union of every leg's coverage",
            p.k, p.n
        ));
    }
    let mut flags = Vec::new();
    if !args.only.is_empty() {
        flags.push("--only");
    }
    if !args.exclude.is_empty() {
        flags.push("--exclude");
    }
    if args.failed {
        flags.push("--failed");
    }
    (!flags.is_empty()).then(|| format!("{} ran part of the suite", flags.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Partition;

    #[test]
    fn only_the_threshold_exit_says_the_threshold() {
        let cmd = with_settings(Cmd::new("elixir", Path::new(".")), &["suite".into()], None);
        assert_eq!(cmd.hint_for(Some(3)).unwrap(), COVERAGE_HINT);
        for other in [Some(1), Some(2), None] {
            assert_eq!(cmd.hint_for(other).unwrap(), SCRIPT_HINT);
        }
        assert!(include_str!("cover.exs").contains("exit({:shutdown, 3})"));
    }

    #[test]
    fn partial_runs_are_reported_not_enforced() {
        let full = TestArgs::default();
        assert_eq!(partial_run(&full, Layout::All(2)), None);
        assert!(partial_run(&full, Layout::One(Partition { k: 1, n: 2 }))
            .unwrap()
            .contains("only leg 1/2"));
        let only = TestArgs {
            only: vec!["x".into()],
            failed: true,
            ..TestArgs::default()
        };
        assert_eq!(
            partial_run(&only, Layout::Whole).unwrap(),
            "--only, --failed ran part of the suite"
        );
    }
}
