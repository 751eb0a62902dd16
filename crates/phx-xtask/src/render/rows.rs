//! What every renderer shares: times as text, which finished step's log is
//! worth showing, and the summary as rows of text and as JSON.

use std::time::Duration;

use serde_json::json;

use super::figures;
use crate::run::Verbosity;
use crate::runner::{Outcome, Status, Summary};

/// What a finished step's row says after its status and time: its
/// figures, then its detail (the fix, or why it was skipped).
pub fn row_text(o: &Outcome) -> Option<String> {
    let figures = figures::of(o).text();
    let detail = o.detail.as_deref().map(|d| match o.status {
        Status::Failed => format!("fix: {d}"),
        _ => d.to_string(),
    });
    match (figures.is_empty(), detail) {
        (true, d) => d,
        (false, None) => Some(figures),
        (false, Some(d)) => Some(format!("{figures}; {d}")),
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Whether a finished step's output is worth showing at this verbosity.
pub fn shows_log(o: &Outcome, verbosity: Verbosity, always_ok: bool) -> bool {
    match o.status {
        Status::Failed | Status::Interrupted => true,
        Status::Ok => {
            verbosity >= Verbosity::Verbose || (always_ok && verbosity == Verbosity::Normal)
        }
        Status::Skipped | Status::NotRun => false,
    }
}

/// The steps as the summary lists them: the failed (and interrupted) ones
/// first, since they are what the reader came for; each group in `ci` order.
pub fn failures_first(s: &Summary) -> Vec<&Outcome> {
    let mut rows: Vec<&Outcome> = s.outcomes.iter().collect();
    rows.sort_by_key(|o| !matches!(o.status, Status::Failed | Status::Interrupted));
    rows
}

/// The closing table: one row per step, then the times and the result.
pub fn summary_text(s: &Summary) -> String {
    let mut out = String::from("\nsummary\n");
    let width = s
        .outcomes
        .iter()
        .map(|o| o.id.name().len())
        .max()
        .unwrap_or(4);
    for o in failures_first(s) {
        let dur = if o.duration.is_zero() {
            "-".to_string()
        } else {
            secs(o.duration)
        };
        let mut row = format!(
            "  {:<11} {:<width$}  {:>7}",
            o.status.label(),
            o.id.name(),
            dur
        );
        if let Some(text) = row_text(o) {
            row.push_str(&format!("  {text}"));
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out.push_str(&super::timeline::slowest_text(s));
    let result = s.result();
    out.push_str(&format!(
        "wall {}, steps {}, result: {result}\n",
        secs(s.wall),
        secs(s.step_time())
    ));
    out
}

/// Facts that reach the JSON report in a shape of their own (the slowest
/// tests as a list, the deltas as figures), not as strings.
const INTERNAL: [&str; 4] = ["slow_tests", "slow_over", "slow_ms", "deltas"];

pub fn summary_json(s: &Summary) -> serde_json::Value {
    let steps: Vec<_> = s
        .outcomes
        .iter()
        .map(|o| {
            json!({
                "step": o.id.name(),
                "status": o.status,
                "duration_ms": o.duration.as_millis() as u64,
                "detail": o.detail.as_deref().map(crate::redact::line),
                "figures": figures::of(o).json(),
                "facts": o.facts.iter().filter(|(k, _)| !INTERNAL.contains(&k.as_str())).collect::<std::collections::BTreeMap<_, _>>(),
                "start_ms": o.span().map(|s| s.0),
                "end_ms": o.span().map(|s| s.1),
                "phases": o.phases,
            })
        })
        .collect();
    let status = if s.interrupted {
        "interrupted"
    } else if s.failed() {
        "failed"
    } else {
        "ok"
    };
    json!({
        "status": status,
        "wall_ms": s.wall.as_millis() as u64,
        "steps_ms": s.step_time().as_millis() as u64,
        "steps": steps,
        "critical_path": super::timeline::critical_path(s).iter().map(|id| id.name()).collect::<Vec<_>>(),
        "slowest_tests": figures::slow::slowest(s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StepId;

    pub fn outcome(id: StepId, status: Status, ms: u64, detail: Option<&str>) -> Outcome {
        Outcome {
            id,
            status,
            duration: Duration::from_millis(ms),
            detail: detail.map(String::from),
            log: vec!["$ mix format --check-formatted".into()],
            facts: Default::default(),
            phases: Vec::new(),
        }
    }

    fn summary() -> Summary {
        Summary {
            outcomes: vec![
                outcome(StepId::Deps, Status::Ok, 1200, None),
                outcome(
                    StepId::Format,
                    Status::Failed,
                    300,
                    Some("run `cargo xtask format --fix`"),
                ),
                outcome(
                    StepId::Credo,
                    Status::Skipped,
                    0,
                    Some("credo is not a dependency"),
                ),
                outcome(StepId::Dialyzer, Status::NotRun, 0, Some("needs compile")),
            ],
            wall: Duration::from_millis(1500),
            interrupted: false,
        }
    }

    #[test]
    fn summary_rows_give_status_time_and_the_fix() {
        let text = summary_text(&summary());
        let rows: Vec<&str> = text.lines().collect();
        // Failures first, the rest in `ci` order.
        assert_eq!(
            rows[2],
            "  failed      format      0.30s  fix: run `cargo xtask format --fix`"
        );
        assert_eq!(rows[3], "  ok          deps        1.20s");
        assert_eq!(
            rows[4],
            "  skipped     credo           -  credo is not a dependency"
        );
        assert_eq!(rows[5], "  not run     dialyzer        -  needs compile");
        assert_eq!(rows[6], "wall 1.50s, steps 1.50s, result: failed (format)");
    }

    #[test]
    fn summary_json_has_numbers_and_statuses() {
        let v = summary_json(&summary());
        assert_eq!(v["status"], "failed");
        assert_eq!(v["wall_ms"], 1500);
        assert_eq!(v["steps"][1]["status"], "failed");
        assert_eq!(v["steps"][3]["status"], "not_run");
        assert_eq!(v["steps"][0]["duration_ms"], 1200);
    }

    #[test]
    fn logs_show_for_failures_always_and_for_passes_when_verbose() {
        let ok = outcome(StepId::Deps, Status::Ok, 1, None);
        let failed = outcome(StepId::Deps, Status::Failed, 1, None);
        assert!(shows_log(&failed, Verbosity::Quiet, false));
        assert!(!shows_log(&ok, Verbosity::Normal, false));
        assert!(shows_log(&ok, Verbosity::Normal, true));
        assert!(shows_log(&ok, Verbosity::Stream, false));
    }
}
