//! `_build/xtask/report.html`, written by every `ci`: the run as one
//! self-contained page (inline CSS, no script, nothing fetched): the
//! timeline with a bar per step from its start to its end (waiting for a
//! slot or a need drawn apart from running, the critical path marked),
//! each step's figures, the failures with their fix and the end of their
//! output, the slowest tests and the changes since the last run.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::figures::{self, slow};
use super::rows::{row_text, secs};
use super::timeline::critical_path;
use crate::runner::{Outcome, Status, Summary};

/// How many of a failed step's last output lines the page shows.
const TAIL: usize = 30;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1 .ok{color:#1a7f37}h1 .failed,h1 .interrupted{color:#cf222e}\
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}\
.row{display:flex;align-items:center;height:22px}.name{width:110px}.time{width:80px;text-align:right}\
.track{position:relative;flex:1;height:14px;background:#f4f4f4}\
.wait{position:absolute;height:14px;background:repeating-linear-gradient(45deg,#ccc 0 3px,#eee 3px 6px)}\
.bar{position:absolute;height:14px;background:#e6e6e6}\
.run{position:absolute;height:14px;background:#4c8bf5}.bar.failed .run{background:#cf222e}\
.bar.crit{outline:2px solid #d4a72c}.legend span{margin-right:1.5em}\
.sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}\
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:24em}";

pub fn path(app: &Path) -> PathBuf {
    app.join("_build").join("xtask").join("report.html")
}

/// Writes the page beside the build it describes (through a temporary
/// file, so a reader never sees half of it).
pub fn write(app: &Path, s: &Summary) -> std::io::Result<PathBuf> {
    let path = path(app);
    std::fs::create_dir_all(path.parent().expect("a file in a dir"))?;
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, html(s))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

pub fn html(s: &Summary) -> String {
    let result = s.result();
    let class = if s.interrupted {
        "interrupted"
    } else if s.failed() {
        "failed"
    } else {
        "ok"
    };
    let crit: Vec<&str> = critical_path(s).iter().map(|id| id.name()).collect();
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>cargo xtask ci: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>cargo xtask ci: <span class=\"{class}\">{}</span></h1>\n\
         <p>wall {}, steps {}; critical path: <span id=\"critical-path\">{}</span></p>\n",
        esc(&result),
        esc(&result),
        secs(s.wall),
        secs(s.step_time()),
        esc(&crit.join(" → "))
    );
    timeline(&mut h, s, &crit);
    steps(&mut h, s);
    failures(&mut h, s);
    slowest(&mut h, s);
    deltas(&mut h, s);
    h.push_str("</body>\n</html>\n");
    h
}

/// Percent of the run's wall time, for a position on the track.
fn pct(ms: u64, total: u64) -> f64 {
    (ms as f64 * 100.0 / total.max(1) as f64).min(100.0)
}

fn timeline(h: &mut String, s: &Summary, crit: &[&str]) {
    let total = s
        .outcomes
        .iter()
        .filter_map(Outcome::span)
        .map(|(_, end)| end)
        .max()
        .unwrap_or(0)
        .max(s.wall.as_millis() as u64);
    h.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n<p class=\"legend\">\
        <span><i class=\"sw\" style=\"background:#4c8bf5\"></i>running</span>\
        <span><i class=\"sw\" style=\"background:repeating-linear-gradient(45deg,#ccc 0 3px,#eee 3px 6px)\"></i>waiting for a slot</span>\
        <span><i class=\"sw\" style=\"background:#e6e6e6\"></i>between phases, waiting for a need</span>\
        <span><i class=\"sw\" style=\"outline:2px solid #d4a72c\"></i>critical path</span></p>\n");
    for o in &s.outcomes {
        let name = o.id.name();
        let _ = write!(h, "<div class=\"row\" data-step=\"{name}\"><span class=\"name\">{name}</span><div class=\"track\">");
        if let (Some((start, end)), Some(first)) = (o.span(), o.phases.first()) {
            if first.start_ms > first.ready_ms + super::timeline::HANDOVER_MS {
                let (l, w) = (
                    pct(first.ready_ms, total),
                    pct(first.start_ms - first.ready_ms, total),
                );
                let _ = write!(h, "<div class=\"wait\" data-ready-ms=\"{}\" style=\"left:{l:.2}%;width:{w:.2}%\"></div>", first.ready_ms);
            }
            let on = if crit.contains(&name) { " crit" } else { "" };
            let status = o.status.label().replace(' ', "-");
            let (l, w) = (pct(start, total), pct(end - start, total).max(0.2));
            let _ = write!(
                h,
                "<div class=\"bar {status}{on}\" data-step=\"{name}\" data-start-ms=\"{start}\" data-end-ms=\"{end}\" \
                 data-critical=\"{}\" title=\"{name}: {start} ms to {end} ms\" style=\"left:{l:.2}%;width:{w:.2}%\">",
                !on.is_empty()
            );
            for p in &o.phases {
                let (l, w) = (
                    pct(p.start_ms - start, end - start),
                    pct(p.end_ms - p.start_ms, end - start),
                );
                let _ = write!(
                    h,
                    "<div class=\"run\" style=\"left:{l:.2}%;width:{w:.2}%\"></div>"
                );
            }
            h.push_str("</div>");
        }
        let time = if o.duration.is_zero() {
            o.status.label().to_string()
        } else {
            secs(o.duration)
        };
        let _ = writeln!(h, "</div><span class=\"time\">{}</span></div>", esc(&time));
    }
    h.push_str("</section>\n");
}

fn steps(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"steps\">\n<h2>Steps</h2>\n<table>\n<tr><th>step</th><th>status</th><th>time</th><th>figures and notes</th></tr>\n");
    for o in &s.outcomes {
        let time = if o.duration.is_zero() {
            "-".into()
        } else {
            secs(o.duration)
        };
        let text = row_text(o).unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr data-step=\"{}\"><td>{}</td><td>{}</td><td>{time}</td><td>{}</td></tr>",
            o.id.name(),
            o.id.name(),
            o.status.label(),
            esc(&text)
        );
    }
    h.push_str("</table>\n</section>\n");
}

fn failures(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"failures\">\n<h2>Failures</h2>\n");
    let failed: Vec<&Outcome> = s
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
        .collect();
    if failed.is_empty() {
        h.push_str("<p>none</p>\n");
    }
    for o in failed {
        let fix = o.detail.as_deref().unwrap_or("see its output");
        let tail: Vec<&str> = o
            .log
            .iter()
            .rev()
            .take(TAIL)
            .rev()
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            h,
            "<div class=\"failure\" data-step=\"{0}\"><h3>{0}</h3><p class=\"fix\">fix: {1}</p><pre>{2}</pre></div>",
            o.id.name(),
            esc(fix),
            esc(&tail.join("\n"))
        );
    }
    h.push_str("</section>\n");
}

fn slowest(h: &mut String, s: &Summary) {
    let tests = slow::slowest(s);
    if tests.is_empty() {
        return;
    }
    h.push_str("<section id=\"slowest\">\n<h2>Slowest tests</h2>\n<table>\n<tr><th>time</th><th>test</th><th>where</th></tr>\n");
    for t in &tests {
        let ms = t["ms"].as_f64().unwrap_or(0.0);
        let name = t["name"].as_str().unwrap_or("");
        let _ = writeln!(
            h,
            "<tr><td>{ms:.0} ms</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(&slow::place(t))
        );
    }
    h.push_str("</table>\n</section>\n");
}

fn deltas(h: &mut String, s: &Summary) {
    let Some(d) = s
        .outcomes
        .iter()
        .map(|o| figures::of(o).json())
        .find_map(|f| f.get("vs_last").cloned())
    else {
        return;
    };
    let _ = writeln!(
        h,
        "<section id=\"deltas\">\n<h2>Since the last run</h2>\n<p>{}</p>\n</section>",
        esc(&slow::deltas_text(&d))
    );
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StepId;
    use crate::runner::PhaseTime;
    use std::time::Duration;

    #[test]
    fn a_bar_per_step_that_ran_with_its_times_and_the_fix_of_a_failure() {
        let o = |id, status, phases: Vec<PhaseTime>, detail: Option<&str>| Outcome {
            id,
            status,
            duration: Duration::from_millis(phases.iter().map(|p| p.end_ms - p.start_ms).sum()),
            detail: detail.map(String::from),
            log: vec!["lib/<x>.ex:1: \"bad\"".into()],
            facts: Default::default(),
            phases,
        };
        let p = |ready_ms, start_ms, end_ms| PhaseTime {
            ready_ms,
            start_ms,
            end_ms,
        };
        let s = Summary {
            outcomes: vec![
                o(StepId::Deps, Status::Ok, vec![p(0, 0, 900)], None),
                o(
                    StepId::Format,
                    Status::Failed,
                    vec![p(0, 300, 500)],
                    Some("run `mix format`"),
                ),
                o(
                    StepId::Credo,
                    Status::Skipped,
                    vec![],
                    Some("credo is not a dependency"),
                ),
            ],
            wall: Duration::from_millis(1000),
            interrupted: false,
        };
        let h = html(&s);
        assert_eq!(h.matches("<div class=\"bar ").count(), 2, "{h}");
        assert!(
            h.contains(
                "data-step=\"deps\" data-start-ms=\"0\" data-end-ms=\"900\" data-critical=\"true\""
            ),
            "{h}"
        );
        assert!(
            h.contains(
                "<div class=\"wait\" data-ready-ms=\"0\" style=\"left:0.00%;width:30.00%\">"
            ),
            "{h}"
        );
        assert!(h.contains("fix: run `mix format`"), "{h}");
        assert!(h.contains("lib/&lt;x&gt;.ex:1: &quot;bad&quot;"), "{h}");
        assert!(!h.contains("http"), "{h}");
    }

    /// A benchmark, not a test (scripts/bench-checks.sh runs it): the time
    /// to render and write a report of 14 steps, 10 slowest tests and a
    /// failure with its output.
    #[test]
    #[ignore]
    fn time_to_write() {
        let tests: Vec<_> = (0..10)
            .map(|i| serde_json::json!({"name": format!("test n{i}"), "module": "A", "file": "test/a_test.exs", "line": i, "ms": 100.0 - i as f64}))
            .collect();
        let outcomes = crate::ids::StepId::BUILT_IN
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let at = i as u64 * 500;
                let mut facts = std::collections::BTreeMap::new();
                facts.insert(
                    "slow_tests".to_string(),
                    serde_json::json!(tests).to_string(),
                );
                Outcome {
                    id,
                    status: if i == 3 { Status::Failed } else { Status::Ok },
                    duration: Duration::from_millis(900),
                    detail: Some("run `mix format`".into()),
                    log: (0..200)
                        .map(|n| format!("line {n} of the output"))
                        .collect(),
                    facts,
                    phases: vec![PhaseTime {
                        ready_ms: at,
                        start_ms: at + 60,
                        end_ms: at + 960,
                    }],
                }
            })
            .collect();
        let s = Summary {
            outcomes,
            wall: Duration::from_millis(8000),
            interrupted: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let n = 200;
        let started = std::time::Instant::now();
        for _ in 0..n {
            write(dir.path(), &s).unwrap();
        }
        let each = started.elapsed() / n;
        let size = std::fs::metadata(path(dir.path())).unwrap().len();
        println!(
            "report.html: {size} bytes, {:.2} ms to render and write (mean of {n})",
            each.as_secs_f64() * 1000.0
        );
    }
}
