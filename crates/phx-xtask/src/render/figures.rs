//! The figures a team reads in a step's row: parsed from what each tool
//! itself printed (the formats are in docs/tool-notes.md): ExUnit's
//! summary line and our coverage total; dialyzer's warnings and whether
//! the PLT was reused; credo's issues by category; sobelow's findings;
//! whether deps were fetched; the assets' outputs and their sizes.

use serde_json::{json, Map, Value};

use crate::ids::StepId;
use crate::runner::{Outcome, Status};

mod checks;
pub mod slow;

/// Ordered name → value pairs: numbers stay numbers for the JSON report.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures(pub Vec<(String, Value)>);

impl Figures {
    fn push(&mut self, name: &str, value: impl Into<Value>) {
        self.0.push((name.to_string(), value.into()));
    }

    pub fn json(&self) -> Value {
        Value::Object(self.0.iter().cloned().collect::<Map<String, Value>>())
    }

    /// `16 tests, 0 failures, 2 excluded, coverage 79.8%`.
    pub fn text(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("coverage", v) => format!("coverage {}%", v),
                ("plt" | "deps" | "env" | "node_modules" | "pot" | "hex", Value::String(s)) => {
                    format!("{k} {s}")
                }
                ("worst", Value::String(s)) => format!("worst: {s}"),
                ("slowest", Value::String(s)) => format!("slowest {s}"),
                ("slow", Value::String(s)) => format!("slow: {s}"),
                ("vs_last", d) => slow::deltas_text(d),
                ("compile_connected", n) => format!("{n} compile-connected"),
                ("html_skipped", n) if n.as_u64() == Some(1) => "1 HTML page skipped".into(),
                ("html_skipped", n) => format!("{n} HTML pages skipped"),
                ("first test", v) => format!("first test after {v} s"),
                ("balance", v) => format!("balance {v}"),
                ("slowest leg", Value::String(s)) => format!("slowest leg {s}"),
                ("outputs", Value::Object(o)) => o
                    .iter()
                    .map(|(f, b)| format!("{} {}", short(f), bytes(b)))
                    .collect::<Vec<_>>()
                    .join(", "),
                (k, Value::Number(n)) => format!("{n} {}", plural(k, n.as_u64() == Some(1))),
                (k, v) => format!("{k} {v}"),
            })
            .collect();
        parts.join(", ")
    }
}

/// What the step's log says, or nothing for a step that did not run.
pub fn of(o: &Outcome) -> Figures {
    if matches!(o.status, Status::Skipped | Status::NotRun) {
        return Figures::default();
    }
    let log: Vec<&str> = o.log.iter().map(String::as_str).collect();
    match o.id {
        StepId::Test => {
            let mut f = test(&log);
            slow::add(o, &mut f);
            f
        }
        StepId::Custom("merge") => {
            let mut f = merge(&log);
            slow::add(o, &mut f);
            f
        }
        StepId::Dialyzer => dialyzer(&log),
        StepId::Credo => credo(&log),
        StepId::Sobelow => sobelow(&log),
        StepId::Deps => deps(&log),
        StepId::Assets => assets(&log),
        StepId::Xref => checks::xref(&log),
        StepId::Gettext => checks::gettext(&log),
        StepId::Docs => checks::docs(&log),
        StepId::Audit => checks::audit(&log),
        StepId::Migrations => checks::migrations(&log),
        _ => Figures::default(),
    }
}

/// ExUnit's `7 doctests, 64 tests, 1 failure, 21 excluded, 2 skipped`
/// (summed over partitions), and the coverage total our script prints.
fn test(log: &[&str]) -> Figures {
    let mut counts: Vec<(String, u64)> = Vec::new();
    for line in log.iter().map(|l| strip(l)) {
        let parts: Vec<&str> = line.split(", ").collect();
        let is_summary = parts
            .iter()
            .any(|p| p.ends_with(" test") || p.ends_with(" tests"))
            && parts.iter().any(|p| p.contains("failure"));
        if !is_summary {
            continue;
        }
        for p in parts {
            let Some((n, what)) = p.trim().split_once(' ') else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            let Some(key) = [
                "doctest", "test", "failure", "excluded", "skipped", "invalid",
            ]
            .into_iter()
            .find(|k| what.starts_with(k)) else {
                continue;
            };
            let key = match key {
                "doctest" | "test" | "failure" => format!("{key}s"),
                k => k.to_string(),
            };
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v += n,
                None => counts.push((key, n)),
            }
        }
    }
    let mut f = Figures::default();
    for (k, v) in counts {
        f.push(&k, v);
    }
    if let Some(pct) = log.iter().find_map(|l| {
        strip(l)
            .strip_prefix("coverage: ")?
            .split('%')
            .next()?
            .parse::<f64>()
            .ok()
    }) {
        f.push("coverage", pct);
    }
    // Our coverage script's pages that cover could not write: one line
    // each for the first five, then `... and N more modules without a page`.
    let skipped: u64 = log
        .iter()
        .map(|l| strip(l))
        .map(|l| match l.strip_prefix("... and ") {
            Some(rest)
                if rest.ends_with(" more modules without a page (each has one saying why)") =>
            {
                rest.split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            }
            _ => u64::from(l.starts_with("skipped the HTML page of ")),
        })
        .sum();
    if skipped > 0 {
        f.push("html_skipped", skipped);
    }
    if let Some(secs) = first_test(log) {
        f.push("first test", secs);
    }
    f
}

/// A leg's time before its first test (`leg 2/3: … first test after 7.9 s`).
fn first_test(log: &[&str]) -> Option<f64> {
    log.iter().find_map(|l| {
        let rest = strip(l).strip_prefix("leg ")?;
        rest.split_once("; first test after ")?
            .1
            .strip_suffix(" s")?
            .parse()
            .ok()
    })
}

/// `merged 3 legs: 27 tests, 1 failures, 0 skipped; slowest leg 2/3 4.1 s,
/// balance 1.12`, and the union's coverage.
fn merge(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    let Some(line) = log.iter().find_map(|l| strip(l).strip_prefix("merged ")) else {
        return f;
    };
    let (counts, slow) = line.split_once("; slowest leg ").unwrap_or((line, ""));
    for part in counts.split(": ").nth(1).unwrap_or("").split(", ") {
        if let Some((n, k)) = part
            .split_once(' ')
            .and_then(|(n, k)| Some((n.parse::<u64>().ok()?, k)))
        {
            f.push(k, n);
        }
    }
    let cover = test(log).0.into_iter();
    f.0.extend(cover.filter(|(k, _)| k == "coverage" || k == "html_skipped"));
    if let Some((leg, b)) = slow.split_once(", balance ") {
        f.push("slowest leg", leg);
        if let Ok(b) = b.parse::<f64>() {
            f.push("balance", b);
        }
    }
    f
}

fn dialyzer(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    let warnings = log.iter().map(|l| strip(l)).filter(|l| warning(l)).count();
    f.push("warnings", warnings as u64);
    let hit = log.iter().any(|l| l.contains("(skipped: PLT cache hit"));
    f.push("plt", if hit { "hit" } else { "built" });
    f
}

/// `lib/x.ex:12: …` or dialyxir's short `lib/x.ex:12:name …`.
fn warning(line: &str) -> bool {
    let Some((file, rest)) = line.split_once(':') else {
        return false;
    };
    !file.contains(' ')
        && (file.ends_with(".ex") || file.ends_with(".exs"))
        && rest
            .split(':')
            .next()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// credo's summary: `… found 2 warnings, 1 refactoring opportunity.` or
/// `found no issues.`
fn credo(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    let Some(found) = log.iter().find_map(|l| {
        strip(l)
            .split_once("found ")
            .map(|(_, r)| r.trim_end_matches('.').to_string())
    }) else {
        return f;
    };
    let mut total = 0;
    let mut by: Vec<(String, u64)> = Vec::new();
    for part in found.split(", ") {
        let Some((n, what)) = part.split_once(' ') else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        total += n;
        let key = [
            "consistency",
            "warning",
            "refactoring",
            "readability",
            "design",
        ]
        .into_iter()
        .find(|k| what.contains(k))
        .unwrap_or("other");
        by.push((key.to_string(), n));
    }
    f.push("issues", total);
    for (k, n) in by {
        f.push(&k, n);
    }
    f
}

/// sobelow's txt blocks: `<Type> - High Confidence`, one per finding.
fn sobelow(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    let findings = log
        .iter()
        .filter(|l| {
            [
                " - High Confidence",
                " - Medium Confidence",
                " - Low Confidence",
            ]
            .iter()
            .any(|c| l.contains(c))
        })
        .count();
    f.push("findings", findings as u64);
    f
}

fn deps(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    if log
        .iter()
        .any(|l| l.contains("deps in sync") || l.contains("All dependencies are up to date"))
    {
        f.push("deps", "in sync");
    } else if log
        .iter()
        .any(|l| l.contains("* Getting ") || l.contains("Resolving Hex dependencies"))
    {
        f.push("deps", "fetched");
    }
    f
}

/// Our output check's `path (N bytes)` lines.
fn assets(log: &[&str]) -> Figures {
    let mut outputs = Map::new();
    for line in log.iter().map(|l| strip(l)) {
        let Some((path, rest)) = line.rsplit_once(" (") else {
            continue;
        };
        let Some(n) = rest
            .strip_suffix(" bytes)")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        outputs.insert(
            path.rsplit("/priv/static/")
                .next()
                .unwrap_or(path)
                .to_string(),
            json!(n),
        );
    }
    let mut f = Figures::default();
    if log
        .iter()
        .any(|l| l.contains("(skipped: node_modules in sync"))
    {
        f.push("node_modules", "in sync");
    }
    if !outputs.is_empty() {
        f.push("outputs", Value::Object(outputs));
    }
    f
}

/// A log line without the `[N] ` prefix of a parallel command.
pub(crate) fn strip(line: &str) -> &str {
    match line.strip_prefix('[').and_then(|r| r.split_once("] ")) {
        Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest.trim(),
        _ => line.trim(),
    }
}

fn plural(k: &str, one: bool) -> String {
    match (k, one) {
        ("failures", true) => "failure".into(),
        ("warnings", true) => "warning".into(),
        ("issues", true) => "issue".into(),
        ("findings", true) => "finding".into(),
        ("migrations", true) => "migration".into(),
        ("tests", true) => "test".into(),
        ("doctests", true) => "doctest".into(),
        (k, _) => k.to_string(),
    }
}

fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn bytes(v: &Value) -> String {
    let n = v.as_u64().unwrap_or(0);
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        // Whole KiB from 10 KiB on (`app.css 74 KiB`): a tenth means nothing there.
        n if n >= 10 << 10 => format!("{} KiB", (n as f64 / 1024.0).round()),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(id: StepId, log: &str) -> Figures {
        of(&Outcome {
            id,
            status: Status::Ok,
            duration: std::time::Duration::ZERO,
            detail: None,
            log: log.lines().map(String::from).collect(),
            facts: Default::default(),
            phases: Vec::new(),
        })
    }

    #[test]
    fn a_leg_reports_its_time_before_the_first_test_and_the_merge_its_balance() {
        let leg = fig(StepId::Test, "12 tests, 0 failures\nleg 2/3: 4 files, split 0a, timings none; first test after 7.9 s");
        assert_eq!(leg.text(), "12 tests, 0 failures, first test after 7.9 s");
        let log = "coverage: 88.10% (threshold 75% from mix.exs test_coverage)\nmerged 3 legs: 27 tests, 1 failures, 0 skipped; slowest leg 2/3 4.1 s, balance 1.12";
        let m = fig(StepId::Custom("merge"), log);
        assert_eq!(
            m.json(),
            json!({"tests": 27, "failures": 1, "skipped": 0, "coverage": 88.1, "slowest leg": "2/3 4.1 s", "balance": 1.12})
        );
        assert_eq!(
            m.text(),
            "27 tests, 1 failure, 0 skipped, coverage 88.1%, slowest leg 2/3 4.1 s, balance 1.12"
        );
    }

    #[test]
    fn exunit_summaries_sum_over_partitions_with_coverage() {
        let f = fig(StepId::Test, "[1] 7 doctests, 30 tests, 1 failure, 21 excluded\n[2] 34 tests, 0 failures, 2 skipped\ncoverage: 79.8% (threshold 75.00% from mix.exs)");
        assert_eq!(
            f.json(),
            json!({"doctests": 7, "tests": 64, "failures": 1, "excluded": 21, "skipped": 2, "coverage": 79.8})
        );
        assert_eq!(
            f.text(),
            "7 doctests, 64 tests, 1 failure, 21 excluded, 2 skipped, coverage 79.8%"
        );
    }

    #[test]
    fn coverage_pages_cover_could_not_write_are_counted() {
        let log = "5 tests, 0 failures\nskipped the HTML page of Shop: it was compiled at /old/lib/shop.ex: the app moved since it was compiled; its 100.00% still counts in the total\nskipped the HTML page of Shop.Email: x; y\n... and 6 more modules without a page (each has one saying why)\ncoverage: 100.00% (threshold 90% from Elixir's default)";
        assert_eq!(
            fig(StepId::Test, log).text(),
            "5 tests, 0 failures, coverage 100.0%, 8 HTML pages skipped"
        );
    }

    #[test]
    fn dialyzer_counts_warnings_and_the_plt() {
        let log = "$ dialyzer --build_plt …  (skipped: PLT cache hit, priv/plts/x.plt)\nlib/demo/broken.ex:3: Invalid type specification for function\nlib/demo/x.ex:9:no_return Function f/0 has no local return.\n  'Elixir.IEx':'started?'/0 (lib/kernel/cli.ex:236)\ndone (warnings were emitted)";
        assert_eq!(
            fig(StepId::Dialyzer, log).json(),
            json!({"warnings": 2, "plt": "hit"})
        );
    }

    #[test]
    fn credo_issues_by_category() {
        let f = fig(StepId::Credo, "Analysis took 0.1 seconds\n 80 mods/funs, found 2 warnings, 1 refactoring opportunity, 3 code readability issues.");
        assert_eq!(
            f.json(),
            json!({"issues": 6, "warning": 2, "refactoring": 1, "readability": 3})
        );
        assert_eq!(
            fig(StepId::Credo, " 12 mods/funs, found no issues.").json(),
            json!({"issues": 0})
        );
    }

    #[test]
    fn sobelow_deps_and_assets() {
        let s = fig(StepId::Sobelow, "XSS.Raw: XSS - Medium Confidence\nFile: lib/x.ex\n-----\nConfig.CSP: Missing CSP - High Confidence");
        assert_eq!(s.json(), json!({"findings": 2}));
        assert_eq!(
            fig(StepId::Deps, "All dependencies are up to date").text(),
            "deps in sync"
        );
        let a = fig(StepId::Assets, "/app/priv/static/assets/app.js (95 bytes)\n/app/priv/static/assets/app.css (2048 bytes)");
        assert_eq!(a.text(), "app.css 2.0 KiB, app.js 95 B");
        let b = fig(StepId::Assets, "priv/static/assets/css/app.css (75776 bytes)\npriv/static/assets/js/app.js (148480 bytes)\npriv/static/cache_manifest.json names 10 files; 0 missing or empty");
        assert_eq!(b.text(), "app.css 74 KiB, app.js 145 KiB");
        let warm = fig(
            StepId::Assets,
            "$ npm ci  (in assets)  (skipped: node_modules in sync with package-lock.json)\n/app/priv/static/assets/app.js (95 bytes)",
        );
        assert_eq!(warm.text(), "node_modules in sync, app.js 95 B");
    }
}
