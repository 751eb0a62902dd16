//! One leg of a suite split over CI machines (`test --partition K/N`): the
//! files it runs, and its results in `_build/xtask/shard-K-of-N/` for the
//! workflow to upload and `cargo xtask merge` to read: `junit.xml`,
//! `cover.coverdata` (the `mix test --export-coverage` data) and `leg.json`
//! (app, K/N, split hash, files, counts, failures, per-file times, and the
//! time before its first test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::cases;
use super::split::{self, Split};
use crate::cli::Partition;
use crate::plan::Action;
use crate::steps::ctx::Ctx;

/// Bumped when leg.json changes shape, so a merge never misreads a leg.
pub const FORMAT: u32 = 1;
/// The JSON the merge reads, beside the JUnit and the coverage.
pub const LEG_FILE: &str = "leg.json";
pub const JUNIT_FILE: &str = "junit.xml";
pub const COVER_FILE: &str = "cover.coverdata";
/// Written by the JUnit formatter: the first test's start, the suite's end.
const CLOCK: &str = "_build/xtask/leg-clock.txt";

/// What a leg reports about itself (leg.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leg {
    pub format: u32,
    pub app: String,
    pub k: u32,
    pub n: u32,
    /// The hash of the split this leg ran (the same on every leg).
    pub split: String,
    /// Where the durations the split balanced by came from.
    pub timings: String,
    /// The engine variables the leg was read from, if not `--partition`.
    pub partition_from: Option<String>,
    /// The test files the split gave this leg.
    pub files: Vec<String>,
    pub tests: u64,
    pub failures: u64,
    pub skipped: u64,
    /// `file:line message` of each failed test.
    pub failed: Vec<String>,
    /// Seconds per test file (the sum of its tests' JUnit times).
    pub file_times: BTreeMap<String, f64>,
    /// From the start of `cargo xtask test` to its first test, seconds.
    pub before_first_test: Option<f64>,
    /// From the first test to the end of the suite, seconds.
    pub tests_time: Option<f64>,
    pub coverage: bool,
}

/// This leg's share of the suite, and where its results go.
pub struct Plan {
    pub part: Partition,
    pub split: Split,
    pub timings: String,
    pub dir: PathBuf,
}

impl Plan {
    pub fn files(&self) -> &[String] {
        &self.split.legs[self.part.k as usize - 1]
    }
}

pub fn dir_name(p: Partition) -> String {
    format!("shard-{}-of-{}", p.k, p.n)
}

/// Computes the split from the checkout and the timings; a leg left with
/// no file is an error (fewer legs than files would have run nothing).
pub fn plan(ctx: &Ctx, part: Partition) -> Result<Plan> {
    let files = split::test_files(ctx.app, ctx.project)?;
    let (timings, from) = split::timings(ctx.app, ctx.test.timings.as_deref())?;
    let split = split::split(&files, &timings, part.n);
    if split.legs[part.k as usize - 1].is_empty() {
        bail!(
            "leg {}/{} would run no test file: the suite has {} ({}); use at most {} legs",
            part.k,
            part.n,
            files.len(),
            files.join(", "),
            files.len()
        );
    }
    let dir = Path::new("_build/xtask").join(dir_name(part));
    Ok(Plan {
        part,
        split,
        timings: from,
        dir,
    })
}

/// Removes the results of earlier legs, so an upload holds this run's only.
pub fn clear(app: &Path) -> Action {
    let xtask = app.join("_build/xtask");
    Action::Native {
        describe: "remove _build/xtask/shard-* and the clock of earlier legs".into(),
        run: Box::new(move |_| {
            for e in std::fs::read_dir(&xtask).into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().starts_with("shard-") {
                    std::fs::remove_dir_all(e.path())
                        .with_context(|| format!("remove {}", e.path().display()))?;
                }
            }
            let _ = std::fs::remove_file(xtask.join("leg-clock.txt"));
            Ok(())
        }),
    }
}

/// The variable that makes the formatter write the clock.
pub fn clock_env() -> (&'static str, &'static str) {
    ("XTASK_LEG_CLOCK", CLOCK)
}

/// Writes the shard dir after the suite, passed or failed.
pub fn write(ctx: &Ctx, plan: &Plan, junit: PathBuf, export: PathBuf) -> Action {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (app, dir) = (ctx.app.to_path_buf(), ctx.app.join(&plan.dir));
    let mut leg = Leg {
        format: FORMAT,
        app: ctx.project.app.clone(),
        k: plan.part.k,
        n: plan.part.n,
        split: plan.split.hash.clone(),
        timings: plan.timings.clone(),
        partition_from: ctx.test.partition_from.clone(),
        files: plan.files().to_vec(),
        tests: 0,
        failures: 0,
        skipped: 0,
        failed: Vec::new(),
        file_times: BTreeMap::new(),
        before_first_test: None,
        tests_time: None,
        coverage: ctx.config.test.cover,
    };
    let describe = format!(
        "write {}/ ({LEG_FILE}, {JUNIT_FILE}, {COVER_FILE})",
        plan.dir.display()
    );
    Action::Always(Box::new(Action::Native {
        describe,
        run: Box::new(move |ex| {
            let xml = std::fs::read_to_string(app.join(&junit)).with_context(|| {
                format!(
                    "leg {}/{} wrote no JUnit ({}): the suite did not run",
                    leg.k,
                    leg.n,
                    junit.display()
                )
            })?;
            fill(&mut leg, &xml, &app.join(CLOCK), started);
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            std::fs::write(dir.join(JUNIT_FILE), &xml)?;
            if leg.coverage {
                let from = app.join(&export);
                std::fs::copy(&from, dir.join(COVER_FILE))
                    .with_context(|| format!("copy {}", from.display()))?;
            }
            std::fs::write(dir.join(LEG_FILE), serde_json::to_string_pretty(&leg)?)?;
            ex.log(summary(&leg));
            ex.log(format!("wrote {}", dir.display()));
            Ok(())
        }),
    }))
}

/// Counts, failures and times from the JUnit, and the clock.
fn fill(leg: &mut Leg, xml: &str, clock: &Path, started_ms: u64) {
    let cases = cases::read(xml);
    leg.tests = cases.len() as u64;
    leg.skipped = cases.iter().filter(|c| c.skipped).count() as u64;
    leg.failed = cases.iter().filter_map(|c| c.failure.clone()).collect();
    leg.failures = leg.failed.len() as u64;
    leg.file_times = cases::file_times(&cases);
    let text = std::fs::read_to_string(clock).unwrap_or_default();
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    if let [first, end] = nums[..] {
        leg.before_first_test = Some(first.saturating_sub(started_ms) as f64 / 1000.0);
        leg.tests_time = Some(end.saturating_sub(first) as f64 / 1000.0);
    }
}

/// The line the step's row reads its figures from.
pub fn summary(leg: &Leg) -> String {
    let first = leg.before_first_test.map_or("no test ran".into(), |s| {
        format!("first test after {s:.1} s")
    });
    format!(
        "leg {}/{}: {} files, split {}, timings {}; {first}",
        leg.k,
        leg.n,
        leg.files.len(),
        leg.split,
        leg.timings
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leg_reads_its_counts_and_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = dir.path().join("clock");
        std::fs::write(&clock, "11500 14000\n").unwrap();
        let xml = r#"<testsuites>
    <testcase name="a" classname="A" file="test/a_test.exs" line="1" time="1.000"/>
    <testcase name="b" classname="A" file="test/a_test.exs" line="2" time="0.500"><failure message="no" file="test/a_test.exs" line="4">x</failure></testcase>
</testsuites>"#;
        let mut leg: Leg = serde_json::from_str(
            r#"{"format":1,"app":"demo","k":1,"n":2,"split":"x","timings":"none","partition_from":null,
            "files":["test/a_test.exs"],"tests":0,"failures":0,"skipped":0,"failed":[],"file_times":{},
            "before_first_test":null,"tests_time":null,"coverage":true}"#,
        )
        .unwrap();
        fill(&mut leg, xml, &clock, 10_000);
        assert_eq!((leg.tests, leg.failures, leg.skipped), (2, 1, 0));
        assert_eq!(leg.failed, ["test/a_test.exs:4 no"]);
        assert_eq!(leg.file_times["test/a_test.exs"], 1.5);
        assert_eq!(
            (leg.before_first_test, leg.tests_time),
            (Some(1.5), Some(2.5))
        );
        assert!(
            summary(&leg).ends_with("first test after 1.5 s"),
            "{}",
            summary(&leg)
        );
    }
}
