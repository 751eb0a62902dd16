//! What the merge writes once the legs are proven: the coverage exports
//! gathered for cover.exs, one JUnit file, the timings for the next split,
//! the figures line (and GitHub's step summary), and the failed tests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};

use super::legs::Loaded;
use crate::plan::Action;
use crate::steps::test::cases;
use crate::steps::test::shard::COVER_FILE;
use crate::steps::test::split::{Timings, TIMINGS};

type Legs = Arc<Vec<Loaded>>;

/// Each leg's export as cover/leg-K.coverdata, after removing older ones
/// (cover.exs would count them too).
pub fn gather_coverage(app: &Path, legs: &Legs) -> Action {
    let (out, legs) = (app.join("cover"), Arc::clone(legs));
    Action::Native {
        describe: "copy each leg's cover.coverdata to cover/leg-K.coverdata".into(),
        run: Box::new(move |_| {
            std::fs::create_dir_all(&out).context("create cover/")?;
            for e in std::fs::read_dir(&out).into_iter().flatten().flatten() {
                if e.path().extension().is_some_and(|x| x == "coverdata") {
                    std::fs::remove_file(e.path())?;
                }
            }
            for l in legs.iter() {
                let to = out.join(format!("leg-{}.coverdata", l.leg.k));
                std::fs::copy(l.dir.join(COVER_FILE), &to)
                    .with_context(|| format!("copy {}", to.display()))?;
            }
            Ok(())
        }),
    }
}

/// The legs' `<testsuite>`s in one `<testsuites>`: each test once, as
/// the proof checked.
pub fn junit(legs: &Legs, out: PathBuf) -> Action {
    let legs = Arc::clone(legs);
    Action::Native {
        describe: format!("merge the legs' JUnit into {}", out.display()),
        run: Box::new(move |ex| {
            let mut xml =
                String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
            for l in legs.iter() {
                xml.push_str(cases::suites(&l.xml));
            }
            xml.push_str("</testsuites>\n");
            std::fs::create_dir_all(out.parent().expect("a file in a dir"))?;
            std::fs::write(&out, xml).with_context(|| format!("write {}", out.display()))?;
            let n: usize = legs.iter().map(|l| l.cases.len()).sum();
            ex.log(format!("wrote {} ({n} tests)", out.display()));
            Ok(())
        }),
    }
}

/// Seconds per test file from every leg, for the next run's split.
pub fn timings(app: &Path, legs: &Legs) -> Action {
    let (out, legs) = (app.join(TIMINGS), Arc::clone(legs));
    Action::Native {
        describe: format!("write {TIMINGS} (per-file durations for the next split)"),
        run: Box::new(move |ex| {
            let mut t = Timings::default();
            for l in legs.iter() {
                t.files.extend(
                    l.leg
                        .file_times
                        .iter()
                        .map(|(f, s)| (f.clone(), (s * 1000.0).round() / 1000.0)),
                );
            }
            std::fs::create_dir_all(out.parent().expect("a file in a dir"))?;
            std::fs::write(&out, serde_json::to_string_pretty(&t)?)?;
            ex.log(format!("wrote {} ({} files)", out.display(), t.files.len()));
            Ok(())
        }),
    }
}

/// The `n` slowest tests across the legs, from their JUnit, slowest first:
/// the `slow_tests` fact the test step leaves too (`[test] slowest`), with
/// the leg each ran on, so that the merged summary lists them as one
/// machine's would.
pub fn slowest(legs: &Legs, n: usize) -> Action {
    let legs = Arc::clone(legs);
    Action::Native {
        describe: format!("list the {n} slowest tests across the legs"),
        run: Box::new(move |ex| {
            let mut all: Vec<(&cases::Case, &Loaded)> = legs
                .iter()
                .flat_map(|l| l.cases.iter().filter(|c| !c.skipped).map(move |c| (c, l)))
                .collect();
            all.sort_by(|a, b| b.0.time.total_cmp(&a.0.time));
            let list: Vec<serde_json::Value> = all
                .iter()
                .take(n)
                .map(|(c, l)| {
                    serde_json::json!({
                        "name": c.name,
                        "module": c.classname,
                        "file": c.file,
                        "line": c.line,
                        "ms": c.time * 1000.0,
                        "leg": format!("{}/{}", l.leg.k, l.leg.n),
                    })
                })
                .collect();
            ex.facts.insert(
                "slow_tests".into(),
                serde_json::Value::from(list).to_string(),
            );
            Ok(())
        }),
    }
}

/// The slowest leg by its tests' time, and slowest / mean.
fn balance(legs: &[Loaded]) -> Option<(u32, f64, f64)> {
    let times: Vec<(u32, f64)> = legs
        .iter()
        .map(|l| Some((l.leg.k, l.leg.tests_time?)))
        .collect::<Option<_>>()?;
    let (k, slowest) = times.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let mean = times.iter().map(|t| t.1).sum::<f64>() / times.len() as f64;
    Some((k, slowest, if mean > 0.0 { slowest / mean } else { 1.0 }))
}

/// One line per leg and the figures line the row reads; the Markdown
/// table for GitHub's step summary when there is one.
pub fn figures(legs: &Legs, summary: Option<PathBuf>) -> Action {
    let legs = Arc::clone(legs);
    Action::Native {
        describe: "report each leg and the merged figures".into(),
        run: Box::new(move |ex| {
            for l in legs.iter() {
                ex.log(row(l));
            }
            let (tests, failures, skipped) = legs.iter().fold((0, 0, 0), |(t, f, s), l| {
                (t + l.leg.tests, f + l.leg.failures, s + l.leg.skipped)
            });
            let mut line = format!(
                "merged {} legs: {tests} tests, {failures} failures, {skipped} skipped",
                legs.len()
            );
            if let Some((k, slowest, b)) = balance(&legs) {
                let _ = write!(
                    line,
                    "; slowest leg {k}/{} {slowest:.1} s, balance {b:.2}",
                    legs.len()
                );
            }
            ex.log(&line);
            if let Some(path) = &summary {
                let coverage = ex.log.iter().find(|l| l.starts_with("coverage: ")).cloned();
                let md = markdown(&legs, &line, coverage.as_deref());
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                std::io::Write::write_all(&mut f, md.as_bytes())
                    .with_context(|| format!("append to {}", path.display()))?;
            }
            Ok(())
        }),
    }
}

fn row(l: &Loaded) -> String {
    let secs = |s: Option<f64>| s.map_or("-".into(), |s| format!("{s:.1} s"));
    format!(
        "leg {}/{}: {} files, {} tests, {} failures, {} skipped, first test after {}, tests {}",
        l.leg.k,
        l.leg.n,
        l.leg.files.len(),
        l.leg.tests,
        l.leg.failures,
        l.leg.skipped,
        secs(l.leg.before_first_test),
        secs(l.leg.tests_time)
    )
}

fn markdown(legs: &[Loaded], line: &str, coverage: Option<&str>) -> String {
    let secs = |s: Option<f64>| s.map_or("-".into(), |s| format!("{s:.1} s"));
    let mut md = String::from("### Test legs\n\n| leg | files | tests | failures | skipped | before first test | tests |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for l in legs {
        let g = &l.leg;
        let _ = writeln!(
            md,
            "| {}/{} | {} | {} | {} | {} | {} | {} |",
            g.k,
            g.n,
            g.files.len(),
            g.tests,
            g.failures,
            g.skipped,
            secs(g.before_first_test),
            secs(g.tests_time)
        );
    }
    let _ = writeln!(md, "\n{line}");
    if let Some(c) = coverage {
        let _ = writeln!(md, "\n{c}");
    }
    let failed: Vec<String> =
        legs.iter()
            .flat_map(|l| {
                l.leg.failed.iter().map(move |f| {
                    format!("- `{}` (leg {}/{})", f.replace('`', "'"), l.leg.k, l.leg.n)
                })
            })
            .collect();
    if !failed.is_empty() {
        let _ = writeln!(md, "\n**Failures**\n\n{}", failed.join("\n"));
    }
    md.push('\n');
    md
}

/// Fails the merge when a leg had failed tests, naming each `file:line`.
pub fn failures(legs: &Legs) -> Action {
    let legs = Arc::clone(legs);
    Action::Native {
        describe: "fail if any leg had failed tests".into(),
        run: Box::new(move |ex| {
            let failed: Vec<String> = legs
                .iter()
                .flat_map(|l| {
                    l.leg
                        .failed
                        .iter()
                        .map(move |f| format!("{f} (leg {}/{})", l.leg.k, l.leg.n))
                })
                .collect();
            if failed.is_empty() {
                return Ok(());
            }
            for f in &failed {
                ex.log(format!("failed: {f}"));
            }
            bail!("{} tests failed: {}", failed.len(), failed.join("; "))
        }),
    }
}
