//! GitHub Actions output: each step's log in `::group::`/`::endgroup::`,
//! failures as `::error file=…,line=…::` annotations (at most 10 a step),
//! and the summary table appended to `$GITHUB_STEP_SUMMARY` as Markdown, so
//! that the one CI step still shows the result of every step.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::annotations::{self, Paths};
use super::rows::{secs, summary_text};
use crate::env::Env;
use crate::redact;
use crate::run::Verbosity;
use crate::runner::{Outcome, Status, Summary, Ui};

/// GitHub shows the first ten annotations of a step and drops the rest, so
/// we send ten and say how many more the log holds.
pub const MAX_ANNOTATIONS: usize = 10;

pub struct Github {
    verbosity: Verbosity,
    paths: Paths,
    step_summary: Option<PathBuf>,
    /// Annotations, sent after every step ended so that one problem that
    /// two steps report (a warning in `compile` and in the test build) is
    /// one annotation naming both.
    pending: Vec<Pending>,
}

/// One annotation: where, what, and the steps that reported it.
struct Pending {
    props: String,
    message: String,
    steps: Vec<&'static str>,
}

impl Github {
    pub fn new(verbosity: Verbosity, app: &Path, env: &Env) -> Github {
        let step_summary = env.get("GITHUB_STEP_SUMMARY").map(PathBuf::from);
        Github {
            verbosity,
            paths: Paths::new(app, env.get("GITHUB_WORKSPACE")),
            step_summary,
            pending: Vec::new(),
        }
    }
}

impl Ui for Github {
    fn finished(&mut self, o: &Outcome) {
        let mut text = step(o, self.verbosity);
        text.push_str(&slow_warnings(o, &self.paths));
        if o.status == Status::Failed {
            let (found, more) = annotations(o, &self.paths);
            for (props, message) in found {
                self.add(o.id.name(), props, message);
            }
            if let Some(more) = more {
                text.push_str(&more);
                text.push('\n');
            }
        }
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn summary(&mut self, s: &Summary) {
        for a in std::mem::take(&mut self.pending) {
            eprintln!("{}", a.line());
        }
        eprint!("{}", summary_text(s));
        let Some(path) = &self.step_summary else {
            return;
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(markdown(s).as_bytes()));
        if let Err(e) = written {
            let msg = format!("could not append the summary to {}: {e}", path.display());
            eprintln!("::warning title=step summary::{}", data(&msg));
        }
    }
}

impl Github {
    fn add(&mut self, step: &'static str, props: String, message: String) {
        match self
            .pending
            .iter_mut()
            .find(|p| p.props == props && p.message == message)
        {
            Some(p) if !p.steps.contains(&step) => p.steps.push(step),
            Some(_) => {}
            None => self.pending.push(Pending {
                props,
                message,
                steps: vec![step],
            }),
        }
    }
}

impl Pending {
    /// `::error file=…,line=…,title=compile and test::message`; a problem
    /// without a place is titled `<steps> failed`.
    fn line(&self) -> String {
        let steps = self.steps.join(" and ");
        match self.props.is_empty() {
            true => format!(
                "::error title={}::{}",
                property(&format!("{steps} failed")),
                self.message
            ),
            false => format!(
                "::error {},title={}::{}",
                self.props,
                property(&steps),
                self.message
            ),
        }
    }
}

/// Everything printed for one finished step (its annotations come at the end).
pub fn step(o: &Outcome, verbosity: Verbosity) -> String {
    let name = o.id.name();
    let detail = o.detail.as_deref().map(redact::line).unwrap_or_default();
    let mut out = String::new();
    match o.status {
        Status::Skipped => {
            let _ = writeln!(
                out,
                "::notice title={}::{}",
                property(&format!("{name} skipped")),
                data(&detail)
            );
            return out;
        }
        Status::NotRun => {
            let _ = writeln!(out, "{name}: not run: {detail}");
            return out;
        }
        Status::Ok if verbosity == Verbosity::Quiet => return out,
        _ => {}
    }
    let _ = writeln!(
        out,
        "::group::{name} ({}, {})",
        o.status.label(),
        secs(o.duration)
    );
    // The log is the tools' output, which must not be able to issue
    // workflow commands (`::add-mask::`, `::set-env::`) of its own.
    let token = stop_token(name);
    let _ = writeln!(out, "::stop-commands::{token}");
    for line in &o.log {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "::{token}::");
    let _ = writeln!(out, "::endgroup::");
    if o.status != Status::Ok {
        let _ = writeln!(
            out,
            "{name}: {} in {}: {detail}",
            o.status.label(),
            secs(o.duration)
        );
    }
    out
}

/// A warning at each test slower than `[test] slow_ms`, from the test
/// step's `slow test: FILE:LINE NAME (N ms > M ms)` lines (at most ten).
fn slow_warnings(o: &Outcome, paths: &Paths) -> String {
    let mut out = String::new();
    let slow = o.log.iter().filter_map(|l| l.strip_prefix("slow test: "));
    for line in slow.take(MAX_ANNOTATIONS) {
        let Some((place, what)) = line.split_once(' ') else {
            continue;
        };
        let Some((file, at)) = place.rsplit_once(':') else {
            continue;
        };
        let _ = writeln!(
            out,
            "::warning file={},line={at},title=slow test::{}",
            property(&paths.relative(file)),
            data(what)
        );
    }
    out
}

/// The annotations of a failed step, as (properties, message) without the
/// title: one per place found in its log (at most ten, with a line saying
/// how many more), or one naming the step's fix when no place is found.
pub fn annotations(o: &Outcome, paths: &Paths) -> (Vec<(String, String)>, Option<String>) {
    let hits = annotations::parse(&o.log);
    if hits.is_empty() {
        let hint = o
            .detail
            .as_deref()
            .map(redact::line)
            .unwrap_or_else(|| "see the step's log".into());
        return (vec![(String::new(), data(&hint))], None);
    }
    let found = hits
        .iter()
        .take(MAX_ANNOTATIONS)
        .map(|h| {
            let mut props = format!("file={}", property(&paths.relative(&h.file)));
            if let Some(l) = h.line {
                let _ = write!(props, ",line={l}");
            }
            if let Some(c) = h.col {
                let _ = write!(props, ",col={c}");
            }
            (props, data(&redact::line(&h.message)))
        })
        .collect();
    let more = (hits.len() > MAX_ANNOTATIONS).then(|| {
        format!(
            "{}: {} more problems in the log above",
            o.id.name(),
            hits.len() - MAX_ANNOTATIONS
        )
    });
    (found, more)
}

/// The summary as a Markdown table, for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(s: &Summary) -> String {
    let result = s.result();
    let mut md = format!(
        "### cargo xtask: {result}\n\n| step | status | time | note |\n| :-- | :-- | --: | :-- |\n"
    );
    for o in super::rows::failures_first(s) {
        let icon = match o.status {
            Status::Ok => "✅",
            Status::Failed | Status::Interrupted => "❌",
            Status::Skipped | Status::NotRun => "⏭️",
        };
        let time = if o.duration.is_zero() {
            "-".to_string()
        } else {
            secs(o.duration)
        };
        let lead = if o.status == Status::Failed {
            "fix: "
        } else {
            ""
        };
        let _ = lead;
        let note = super::rows::row_text(o)
            .map(|d| cell(&redact::line(&d)))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {icon} {} | {time} | {note} |",
            o.id.name(),
            o.status.label()
        );
    }
    let _ = writeln!(
        md,
        "\nwall {}, steps {}\n",
        secs(s.wall),
        secs(s.step_time())
    );
    // The failed tests, where they failed and how, for whoever opens the run.
    let failed = s
        .outcomes
        .iter()
        .filter(|o| o.id == crate::ids::StepId::Test && o.status == Status::Failed);
    let hits: Vec<annotations::Hit> = failed
        .flat_map(|o| annotations::parse(&o.log))
        .filter(|h| h.file.starts_with("test/") || h.file.contains("/test/"))
        .collect();
    if !hits.is_empty() {
        let _ = writeln!(md, "#### Failed tests\n");
        for h in hits {
            let at = h.line.map_or(h.file.clone(), |l| format!("{}:{l}", h.file));
            let first = h.message.lines().next().unwrap_or_default();
            let _ = writeln!(md, "- `{at}` {}", cell(&redact::line(first)));
        }
        md.push('\n');
    }
    md.push_str(&super::timeline::slowest_markdown(s));
    md.push_str("#### Timeline\n\n");
    md.push_str(&super::timeline::mermaid(s));
    md.push('\n');
    md
}

/// A table cell: no pipes or line breaks, and no HTML.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace(['\r', '\n'], " ")
        .replace('<', "&lt;")
}

/// A workflow command's message, escaped as the runner expects.
pub fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: `data` plus `:` and `,`.
pub fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A token no tool output will guess, to pause workflow commands with.
fn stop_token(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("xtask-{name}-{:x}{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ids::StepId;

    fn outcome(status: Status, log: &str, detail: Option<&str>) -> Outcome {
        Outcome {
            id: StepId::Compile,
            status,
            duration: Duration::from_millis(1500),
            detail: detail.map(String::from),
            log: log.lines().map(String::from).collect(),
            facts: Default::default(),
            phases: Vec::new(),
        }
    }

    fn paths() -> Paths {
        Paths {
            app: "/w/repo/demo".into(),
            root: Some("/w/repo".into()),
        }
    }

    #[test]
    fn escapes_follow_the_workflow_command_rules() {
        assert_eq!(data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn failed_step_is_grouped_then_annotated() {
        let log = "$ mix compile\nwarning: variable \"x\" is unused\n  lib/demo/slug.ex:20: Demo.Slug.slugify/1\n::add-mask::x";
        let o = outcome(Status::Failed, log, Some("fix the warnings"));
        let text = step(&o, Verbosity::Normal);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "::group::compile (failed, 1.50s)");
        assert!(
            lines[1].starts_with("::stop-commands::xtask-compile-"),
            "{text}"
        );
        let token = lines[1].trim_start_matches("::stop-commands::");
        let resume = lines
            .iter()
            .position(|l| *l == format!("::{token}::"))
            .expect("commands resume");
        assert!(
            lines.iter().position(|l| l.contains("add-mask")).unwrap() < resume,
            "tool output is inside the pause"
        );
        assert_eq!(lines[resume + 1], "::endgroup::");
        assert_eq!(
            lines[resume + 2],
            "compile: failed in 1.50s: fix the warnings"
        );
        // The annotations come once every step has ended, each place once,
        // naming every step that reported it.
        let mut gh = Github {
            verbosity: Verbosity::Normal,
            paths: paths(),
            step_summary: None,
            pending: Vec::new(),
        };
        for id in [StepId::Compile, StepId::Test] {
            let (found, _) = annotations(&Outcome { id, ..o.clone() }, &gh.paths);
            for (props, message) in found {
                gh.add(id.name(), props, message);
            }
        }
        let lines: Vec<String> = gh.pending.iter().map(Pending::line).collect();
        assert_eq!(lines, ["::error file=demo/lib/demo/slug.ex,line=20,title=compile and test::variable \"x\" is unused"]);
    }

    #[test]
    fn at_most_ten_annotations_and_a_fallback() {
        let log: String = (1..=13)
            .map(|i| format!("lib/a.ex:{i}: problem {i}\n"))
            .collect();
        let (found, more) = annotations(&outcome(Status::Failed, &log, None), &paths());
        assert_eq!(found.len(), MAX_ANNOTATIONS);
        assert_eq!(
            more.as_deref(),
            Some("compile: 3 more problems in the log above")
        );
        let (none, _) = annotations(
            &outcome(Status::Failed, "boom", Some("run `mix compile`")),
            &paths(),
        );
        let p = Pending {
            props: none[0].0.clone(),
            message: none[0].1.clone(),
            steps: vec!["compile"],
        };
        assert_eq!(p.line(), "::error title=compile failed::run `mix compile`");
    }

    #[test]
    fn skipped_and_quiet_ok_are_one_line_or_none() {
        let skipped = step(
            &outcome(Status::Skipped, "", Some("credo is not a dependency")),
            Verbosity::Normal,
        );
        assert_eq!(
            skipped,
            "::notice title=compile skipped::credo is not a dependency\n"
        );
        assert_eq!(step(&outcome(Status::Ok, "x", None), Verbosity::Quiet), "");
    }

    #[test]
    fn slow_tests_are_warnings_at_their_place() {
        let mut o = outcome(
            Status::Ok,
            "slow test: test/a_test.exs:4 test sleeps (262 ms > 100 ms)",
            None,
        );
        o.id = crate::ids::StepId::Test;
        assert_eq!(
            slow_warnings(&o, &paths()),
            "::warning file=demo/test/a_test.exs,line=4,title=slow test::test sleeps (262 ms > 100 ms)\n"
        );
    }

    #[test]
    fn markdown_table_has_a_row_per_step() {
        let s = Summary {
            outcomes: vec![
                outcome(Status::Failed, "", Some("a | b")),
                outcome(Status::Skipped, "", None),
            ],
            wall: Duration::from_secs(2),
            interrupted: false,
        };
        let md = markdown(&s);
        assert!(
            md.starts_with(
                "### cargo xtask: failed (compile)\n\n| step | status | time | note |\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("| compile | ❌ failed | 1.50s | fix: a \\| b |\n"),
            "{md}"
        );
        assert!(md.contains("| compile | ⏭️ skipped | 1.50s |  |\n"), "{md}");
        assert!(md.contains("wall 2.00s, steps 3.00s"), "{md}");
    }

    #[test]
    fn the_summary_lists_each_failed_test_with_its_place() {
        let log = "  1) test fails on purpose (Demo.FailsTest)\n     test/demo/fails_test.exs:4\n     Assertion with == failed\n     code:  assert 1 + 1 == 3\n     stacktrace:\n       test/demo/fails_test.exs:5: (test)\n";
        let failed = Outcome {
            id: StepId::Test,
            ..outcome(Status::Failed, log, Some("make them pass"))
        };
        let s = Summary {
            outcomes: vec![failed],
            wall: Duration::from_secs(1),
            interrupted: false,
        };
        let md = markdown(&s);
        assert!(
            md.contains("#### Failed tests\n\n- `test/demo/fails_test.exs:5`"),
            "{md}"
        );
    }
}
