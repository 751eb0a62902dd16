//! The run's shape: which steps made the critical path, the timeline as a
//! Mermaid `gantt` block (GitHub renders it in the step summary), and the
//! slowest tests as text and Markdown, for every summary.

use std::fmt::Write;

use super::figures::slow::{place, slowest};
use crate::ids::StepId;
use crate::runner::{Outcome, Status, Summary};

/// How far apart, in ms, an end and a start may be and still be one
/// handing over to the other (the scheduler starts a phase within a few ms).
pub const HANDOVER_MS: u64 = 50;

/// The steps whose phases ran back to back up to the run's last end: from
/// the phase that ended last, each earlier link is the phase (of any step,
/// the same one included) that ended last at or just before it started,
/// either because it was waited for or because it freed the slot.
pub fn critical_path(s: &Summary) -> Vec<StepId> {
    let phases: Vec<(StepId, u64, u64)> = s
        .outcomes
        .iter()
        .flat_map(|o| o.phases.iter().map(|p| (o.id, p.start_ms, p.end_ms)))
        .collect();
    let Some(mut at) = phases.iter().max_by_key(|p| p.2).copied() else {
        return Vec::new();
    };
    let mut path = vec![at.0];
    while at.1 > HANDOVER_MS {
        let before = phases
            .iter()
            .filter(|p| p.2 <= at.1 + HANDOVER_MS && p.2 + HANDOVER_MS >= at.1 && *p != &at)
            .filter(|p| p.1 < at.1)
            .max_by_key(|p| p.2);
        let Some(prev) = before.copied() else { break };
        if path.last() != Some(&prev.0) {
            path.push(prev.0);
        }
        at = prev;
    }
    path.reverse();
    path
}

/// The timeline as a Mermaid gantt: a section per step, its waiting and
/// running apart, the critical path's bars marked `crit`; a step that did
/// not run gets a one-millisecond `done` bar named after its status, so
/// every step is listed.
pub fn mermaid(s: &Summary) -> String {
    let crit = critical_path(s);
    let mut m = String::from(
        "```mermaid\ngantt\n  title cargo xtask\n  dateFormat x\n  axisFormat %M:%S\n",
    );
    for (i, o) in s.outcomes.iter().enumerate() {
        let _ = writeln!(m, "  section {}", o.id.name());
        if o.phases.is_empty() {
            let _ = writeln!(m, "  {} :done, s{i}, 0, 1", o.status.label());
            continue;
        }
        let tag = if crit.contains(&o.id) { "crit, " } else { "" };
        for (k, p) in o.phases.iter().enumerate() {
            if p.start_ms > p.ready_ms + HANDOVER_MS {
                let _ = writeln!(
                    m,
                    "  waiting :done, w{i}_{k}, {}, {}",
                    p.ready_ms, p.start_ms
                );
            }
            let end = p.end_ms.max(p.start_ms + 1);
            let _ = writeln!(m, "  {} :{tag}r{i}_{k}, {}, {end}", bar_name(o), p.start_ms);
        }
    }
    m.push_str("```\n");
    m
}

fn bar_name(o: &Outcome) -> &'static str {
    match o.status {
        Status::Failed => "failed",
        Status::Interrupted => "interrupted",
        _ => "running",
    }
}

/// The N slowest tests as the plain summary lists them.
pub fn slowest_text(s: &Summary) -> String {
    let tests = slowest(s);
    if tests.is_empty() {
        return String::new();
    }
    let mut out = String::from("slowest tests:\n");
    for t in &tests {
        let ms = t["ms"].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "  {ms:>7.0} ms  {}  {}",
            place(t),
            t["name"].as_str().unwrap_or("")
        );
    }
    out
}

/// The same as a Markdown list for the step summary.
pub fn slowest_markdown(s: &Summary) -> String {
    let tests = slowest(s);
    if tests.is_empty() {
        return String::new();
    }
    let mut md =
        String::from("#### Slowest tests\n\n| time | test | where |\n| --: | :-- | :-- |\n");
    for t in &tests {
        let ms = t["ms"].as_f64().unwrap_or(0.0);
        let name = t["name"].as_str().unwrap_or("").replace('|', "\\|");
        let _ = writeln!(md, "| {ms:.0} ms | {name} | `{}` |", place(t));
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::PhaseTime;
    use std::time::Duration;

    fn step(id: StepId, phases: &[(u64, u64, u64)]) -> Outcome {
        Outcome {
            id,
            status: Status::Ok,
            duration: Duration::ZERO,
            detail: None,
            log: Vec::new(),
            facts: Default::default(),
            phases: phases
                .iter()
                .map(|&(ready_ms, start_ms, end_ms)| PhaseTime {
                    ready_ms,
                    start_ms,
                    end_ms,
                })
                .collect(),
        }
    }

    fn summary() -> Summary {
        Summary {
            outcomes: vec![
                step(StepId::Deps, &[(0, 0, 1000)]),
                step(StepId::Format, &[(0, 0, 400)]),
                step(StepId::Compile, &[(1000, 1002, 3000)]),
                // Ready at 3000, it waited for a slot until 3500.
                step(StepId::Credo, &[(3000, 3500, 3900)]),
                // Services at t=0, the suite once compile is done.
                step(StepId::Test, &[(0, 0, 800), (3000, 3003, 7000)]),
                Outcome {
                    status: Status::Skipped,
                    ..step(StepId::Sobelow, &[])
                },
            ],
            wall: Duration::from_millis(7000),
            interrupted: false,
        }
    }

    #[test]
    fn the_critical_path_follows_the_handovers_back_from_the_last_end() {
        assert_eq!(
            critical_path(&summary()),
            [StepId::Deps, StepId::Compile, StepId::Test]
        );
    }

    #[test]
    fn the_gantt_lists_every_step_and_marks_the_path() {
        let m = mermaid(&summary());
        for name in ["deps", "format", "compile", "credo", "test", "sobelow"] {
            assert!(m.contains(&format!("  section {name}\n")), "{m}");
        }
        assert!(m.contains("  running :crit, r2_0, 1002, 3000\n"), "{m}");
        assert!(m.contains("  waiting :done, w3_0, 3000, 3500\n"), "{m}");
        assert!(m.contains("  running :r3_0, 3500, 3900\n"), "{m}");
        // A start within the handover is no wait.
        assert!(!m.contains("w4_1"), "{m}");
        assert!(m.contains("  skipped :done, s5, 0, 1\n"), "{m}");
        assert!(m.starts_with("```mermaid\ngantt\n") && m.ends_with("```\n"));
    }
}
