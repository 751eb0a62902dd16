//! Slow tests and the run-to-run deltas, from the JUnit XML we write: the N
//! slowest tests (`[test] slowest`) with file:line and time, the tests over
//! `[test] slow_ms` (a warning, or a failure with `slow_fail`), and, against
//! the last whole-suite run recorded in `_build/xtask/test-last.json`, the
//! tests added and gone, the coverage and the suite's time up or down. They
//! reach the renderers as the step's facts (`slow_tests`, `slow_over`,
//! `deltas`), which the summary turns into its rows and lists.

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cases;
use crate::plan::Action;

/// One test case of the JUnit XML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    pub module: String,
    pub file: String,
    pub line: u32,
    pub ms: f64,
}

/// What a whole-suite run leaves for the next one to compare with.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    tests: Vec<String>,
    coverage: Option<f64>,
    suite_ms: Option<f64>,
}

pub struct Settings {
    pub junit: PathBuf,
    pub slowest: usize,
    pub slow_ms: u64,
    pub slow_fail: bool,
    /// The whole suite ran (no --partition K/N, --failed, --only): only then
    /// is it compared with, and recorded for, the next run.
    pub whole: bool,
}

/// Reads the merged JUnit XML after the suite (even a failed one) and
/// reports as the module doc says.
pub fn action(app: &Path, s: Settings) -> Action {
    let record = app.join("_build").join("xtask").join("test-last.json");
    let junit = app.join(&s.junit);
    let describe = format!(
        "list the {} slowest tests, flag those over {} ms, compare with the last run",
        s.slowest, s.slow_ms
    );
    let run = Box::new(move |exec: &mut crate::exec::Exec| {
        let Ok(xml) = std::fs::read_to_string(&junit) else {
            return Ok(());
        };
        let cases = parse(&xml);
        let mut by_time = cases.clone();
        by_time.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        let slowest: Vec<&Case> = by_time.iter().take(s.slowest).collect();
        exec.facts
            .insert("slow_tests".into(), json!(slowest).to_string());
        let over: Vec<&Case> = by_time.iter().filter(|c| c.ms > s.slow_ms as f64).collect();
        for c in &over {
            exec.log(format!(
                "slow test: {}:{} {} ({:.0} ms > {} ms)",
                c.file, c.line, c.name, c.ms, s.slow_ms
            ));
        }
        exec.facts
            .insert("slow_over".into(), over.len().to_string());
        exec.facts.insert("slow_ms".into(), s.slow_ms.to_string());
        if s.whole {
            let now = Record {
                tests: cases.iter().map(id).collect(),
                coverage: coverage(&exec.log),
                suite_ms: suite_ms(&exec.log),
            };
            if let Some(d) = deltas(&load(&record), &now) {
                exec.facts.insert("deltas".into(), d.to_string());
            }
            save(&record, &now);
        }
        if s.slow_fail && !over.is_empty() {
            exec.hint = Some(format!(
                "speed up the tests over {} ms listed above, or raise [test] slow_ms",
                s.slow_ms
            ));
            bail!(
                "{} test(s) took longer than {} ms ([test] slow_fail)",
                over.len(),
                s.slow_ms
            );
        }
        Ok(())
    });
    Action::Always(Box::new(Action::Native { describe, run }))
}

fn id(c: &Case) -> String {
    format!("{} {}", c.module, c.name)
}

/// Every `<testcase …>` (as `cases` reads them for the legs and the
/// annotations too), with its time in ms.
pub fn parse(xml: &str) -> Vec<Case> {
    cases::read(xml)
        .into_iter()
        .map(|c| Case {
            name: c.name,
            module: c.classname,
            file: c.file,
            line: c.line,
            ms: c.time * 1000.0,
        })
        .collect()
}

/// Our cover script's `coverage: 79.8% …` line.
fn coverage(log: &[String]) -> Option<f64> {
    log.iter().rev().find_map(|l| {
        let rest = l.trim().split("coverage: ").nth(1)?;
        rest.split('%').next()?.parse().ok()
    })
}

/// ExUnit's `Finished in 1.2 seconds (…)`, summed over partitions' lines.
fn suite_ms(log: &[String]) -> Option<f64> {
    let times: Vec<f64> = log
        .iter()
        .filter_map(|l| {
            let rest = l.split("Finished in ").nth(1)?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .collect();
    times.into_iter().reduce(f64::max).map(|s| s * 1000.0)
}

fn load(path: &Path) -> Option<Record> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn save(path: &Path, r: &Record) {
    let _ = std::fs::create_dir_all(path.parent().expect("a file in a dir"));
    let _ = std::fs::write(path, serde_json::to_string(r).unwrap_or_default());
}

/// Tests added and gone (by module and name), coverage and suite time up
/// or down, against the last run; nothing without one.
fn deltas(last: &Option<Record>, now: &Record) -> Option<serde_json::Value> {
    let last = last.as_ref()?;
    let added = now.tests.iter().filter(|t| !last.tests.contains(t)).count();
    let gone = last.tests.iter().filter(|t| !now.tests.contains(t)).count();
    let diff = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    Some(json!({
        "tests_added": added,
        "tests_gone": gone,
        "coverage": diff(last.coverage, now.coverage).map(|d| (d * 10.0).round() / 10.0),
        "suite_ms": diff(last.suite_ms, now.suite_ms).map(f64::round),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<testsuites>\n  <testsuite name=\"A\">\n    <testcase name=\"test fast\" classname=\"ATest\" file=\"test/a_test.exs\" line=\"4\" time=\"0.002\"/>\n    <testcase name=\"test &quot;slow&quot;\" classname=\"ATest\" file=\"test/a_test.exs\" line=\"9\" time=\"0.250\"><skipped/></testcase>\n  </testsuite>\n</testsuites>\n";

    #[test]
    fn junit_cases_with_their_place_and_time() {
        let cases = parse(XML);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[1].name, "test \"slow\"");
        assert_eq!(
            (cases[1].file.as_str(), cases[1].line),
            ("test/a_test.exs", 9)
        );
        assert!((cases[1].ms - 250.0).abs() < 1e-6);
    }

    #[test]
    fn deltas_count_tests_added_and_gone_and_the_changes() {
        let last = Record {
            tests: vec!["A a".into(), "A b".into()],
            coverage: Some(80.0),
            suite_ms: Some(1000.0),
        };
        let now = Record {
            tests: vec!["A a".into(), "A c".into(), "A d".into()],
            coverage: Some(80.25),
            suite_ms: Some(900.0),
        };
        assert_eq!(
            deltas(&Some(last), &now).unwrap(),
            json!({"tests_added": 2, "tests_gone": 1, "coverage": 0.3, "suite_ms": -100.0})
        );
        assert_eq!(deltas(&None, &now), None);
        let log = vec![
            "Finished in 0.4 seconds (0.1s async, 0.3s sync)".to_string(),
            "coverage: 81.5% (threshold 75%)".into(),
        ];
        assert_eq!((coverage(&log), suite_ms(&log)), (Some(81.5), Some(400.0)));
    }
}
