//! What the last `ci` in an app dir did, step by step, recorded under
//! `_build/xtask/last-run.json`, so that `ci --failed` reruns only the steps
//! that failed or did not run (and the tests with `mix test --failed`, when
//! tests ran last time; else the whole suite), and shows the others as
//! passed last run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::ids::StepId;
use crate::run::Run;
use crate::runner::{Status, Summary};

/// The reason a step that passed last run is not run now.
pub const PASSED: &str = "passed last run (`ci --failed` reruns only what failed or did not run)";

fn file(app: &Path) -> PathBuf {
    app.join("_build").join("xtask").join("last-run.json")
}

/// Each step's outcome, by name; a step `--failed` skipped counts as passed.
/// And whether any test ran in this run (`started` is when it began): only
/// then does ExUnit's record of failures say what `--failed` should rerun.
pub fn write(app: &Path, summary: &Summary, started: SystemTime) {
    let steps: BTreeMap<&str, &str> = summary
        .outcomes
        .iter()
        .map(|o| {
            let passed = o.status == Status::Ok
                || o.detail.as_deref() == Some(PASSED)
                || o.status == Status::Skipped;
            (o.id.name(), if passed { "passed" } else { "failed" })
        })
        .collect();
    let path = file(app);
    let _ = std::fs::create_dir_all(path.parent().expect("a file in a dir"));
    let record = serde_json::json!({ "steps": steps, "tests_ran": tests_ran(app, started) });
    let _ = std::fs::write(&path, record.to_string());
}

/// Whether ExUnit wrote its failures manifest (`mix test` writes it after
/// every run of tests, and never when the build or the services failed
/// first) since `started`, in any app of the project (an umbrella has one
/// per app).
fn tests_ran(app: &Path, started: SystemTime) -> bool {
    let lib = app.join("_build").join("test").join("lib");
    std::fs::read_dir(lib)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let manifest = e.path().join(".mix").join(".mix_test_failures");
            std::fs::metadata(manifest).and_then(|m| m.modified()).ok()
        })
        .any(|written| written >= started)
}

/// Narrows `run.selected` to what did not pass last time; without a record
/// everything runs.
pub fn narrow(run: &mut Run, app: &Path) {
    let Ok(text) = std::fs::read_to_string(file(app)) else {
        eprintln!("ci --failed: no record of a last run here, so every step runs");
        return;
    };
    let record: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let passed = |id: &StepId| record["steps"][id.name()] == "passed";
    let (before, again): (Vec<StepId>, Vec<StepId>) =
        run.selected.iter().partition(|id| passed(id));
    run.selected = again;
    run.passed_before = before;
    if !run.selected.contains(&StepId::Test) {
        return;
    }
    // `mix test --failed` after a run where no test ran (the test build or
    // the services failed) would run nothing, or failures from older runs.
    match record["tests_ran"] == true {
        true => run.test.failed = true,
        false => eprintln!(
            "ci --failed: no test ran last time (the test build or the services failed first), \
             so the whole suite runs"
        ),
    }
}

/// Whether `id` passed in the last `ci` in this app dir.
pub fn passed(app: &Path, id: StepId) -> bool {
    let text = std::fs::read_to_string(file(app)).unwrap_or_default();
    let record: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    record["steps"][id.name()] == "passed"
}
