//! The test row's slow-test and delta figures, from the facts the test step
//! leaves (`slow_tests`, `slow_over`, `slow_ms`, `deltas`: see
//! steps/test/slow.rs), and the slowest tests for the summaries.

use serde_json::Value;

use super::Figures;
use crate::ids::StepId;
use crate::runner::{Outcome, Summary};

/// The slowest tests of the run, slowest first, each `{name, module, file,
/// line, ms}` (and `leg` after a merge): the test step's, or the merge's
/// across its legs.
pub fn slowest(s: &Summary) -> Vec<Value> {
    s.outcomes
        .iter()
        .filter(|o| matches!(o.id, StepId::Test | StepId::Custom("merge")))
        .filter_map(|o| serde_json::from_str::<Vec<Value>>(o.facts.get("slow_tests")?).ok())
        .flatten()
        .collect()
}

/// `test/x_test.exs:12`.
pub fn place(t: &Value) -> String {
    format!("{}:{}", t["file"].as_str().unwrap_or("?"), t["line"])
}

pub fn add(o: &Outcome, f: &mut Figures) {
    let first = o
        .facts
        .get("slow_tests")
        .and_then(|t| serde_json::from_str::<Vec<Value>>(t).ok())
        .and_then(|t| t.into_iter().next());
    if let Some(t) = first {
        let ms = t["ms"].as_f64().unwrap_or(0.0);
        f.push("slowest", format!("{} ({ms:.0} ms)", place(&t)));
    }
    let over: u64 = o
        .facts
        .get("slow_over")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if over > 0 {
        let limit = o.facts.get("slow_ms").map_or("?", String::as_str);
        f.push("slow", format!("{over} over {limit} ms"));
    }
    if let Some(d) = o
        .facts
        .get("deltas")
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
    {
        f.push("vs_last", d);
    }
}

/// `+1 test, coverage +0.4, suite -0.31s`.
pub fn deltas_text(d: &Value) -> String {
    let n = |k: &str| d[k].as_u64().unwrap_or(0);
    let tests = |n: u64| if n == 1 { "test" } else { "tests" };
    let mut parts = Vec::new();
    match (n("tests_added"), n("tests_gone")) {
        (0, 0) => parts.push("same tests".to_string()),
        (a, g) => {
            if a > 0 {
                parts.push(format!("+{a} {}", tests(a)));
            }
            if g > 0 {
                parts.push(format!("-{g} {} gone", tests(g)));
            }
        }
    }
    if let Some(c) = d["coverage"].as_f64() {
        parts.push(format!("coverage {c:+.1}"));
    }
    if let Some(ms) = d["suite_ms"].as_f64() {
        parts.push(format!("suite {:+.2}s", ms / 1000.0));
    }
    format!("vs last run: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deltas_read_as_signed_changes() {
        let d = json!({"tests_added": 1, "tests_gone": 0, "coverage": 0.4, "suite_ms": -310.0});
        assert_eq!(
            deltas_text(&d),
            "vs last run: +1 test, coverage +0.4, suite -0.31s"
        );
        let same = json!({"tests_added": 0, "tests_gone": 2, "coverage": null, "suite_ms": null});
        assert_eq!(deltas_text(&same), "vs last run: -2 tests gone");
    }
}
