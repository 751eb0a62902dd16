//! The legs' directories, read and checked before anything is written:
//! unreadable input (no leg.json, another app, a missing file) is an error
//! (exit 2); a gap in the proof that the whole suite ran once (a missing
//! leg, another split, a file on no leg or on two, a test reported twice, a
//! leg that ran nothing) is a failure (exit 1), each naming the leg or file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::steps::test::cases::{self, Case};
use crate::steps::test::shard::{Leg, COVER_FILE, FORMAT, JUNIT_FILE, LEG_FILE};

/// One leg's directory, read.
pub struct Loaded {
    pub dir: PathBuf,
    pub leg: Leg,
    pub xml: String,
    pub cases: Vec<Case>,
}

impl Loaded {
    pub fn name(&self) -> String {
        format!("leg {}/{}", self.leg.k, self.leg.n)
    }
}

/// The given directories, each a leg's or one holding legs' (`shard-*`
/// subdirectories, as a workflow downloads them), expanded in order.
pub fn expand(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            bail!("{} is not a directory: pass the legs' result directories (_build/xtask/shard-K-of-N, as uploaded)", d.display());
        }
        if d.join(LEG_FILE).exists() {
            out.push(d.clone());
            continue;
        }
        let mut inner: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("list {}", d.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join(LEG_FILE).is_file())
            .collect();
        if inner.is_empty() {
            bail!(
                "{} holds no {LEG_FILE}: it is not a leg's results (pass the directories `cargo xtask test \
                 --partition K/N` wrote, _build/xtask/shard-K-of-N, as uploaded)",
                d.display()
            );
        }
        inner.sort();
        out.extend(inner);
    }
    Ok(out)
}

/// Reads one leg; anything unreadable or from another app is an error.
pub fn load(dir: &Path, app: &str) -> Result<Loaded> {
    let file = dir.join(LEG_FILE);
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
    let leg: Leg = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a leg's {LEG_FILE} (written by another phx-xtask version?): rerun the legs",
            file.display()
        )
    })?;
    if leg.format != FORMAT {
        bail!("{} has format {}, this phx-xtask reads {FORMAT}: run the legs and the merge with one version", file.display(), leg.format);
    }
    if leg.app != app {
        bail!(
            "{} is a leg of app `{}`, not of `{app}`: merge in the app the legs tested (--app-dir)",
            dir.display(),
            leg.app
        );
    }
    let junit = dir.join(JUNIT_FILE);
    let xml = std::fs::read_to_string(&junit).with_context(|| {
        format!(
            "{} has no readable {JUNIT_FILE}: upload the whole shard directory",
            dir.display()
        )
    })?;
    if leg.coverage && !dir.join(COVER_FILE).is_file() {
        bail!(
            "{} has no {COVER_FILE}: upload the whole shard directory",
            dir.display()
        );
    }
    let cases = cases::read(&xml);
    Ok(Loaded {
        dir: dir.to_path_buf(),
        leg,
        xml,
        cases,
    })
}

/// Every gap in the proof that `suite` ran exactly once over the legs.
pub fn gaps(legs: &[Loaded], suite: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let n = legs[0].leg.n;
    if let Some(other) = legs.iter().find(|l| l.leg.n != n) {
        out.push(format!(
            "{} and {} disagree on the number of legs: run every leg with the same N",
            legs[0].name(),
            other.name()
        ));
        return out;
    }
    let mut by_k: BTreeMap<u32, &Loaded> = BTreeMap::new();
    for l in legs {
        if let Some(first) = by_k.insert(l.leg.k, l) {
            out.push(format!(
                "{} is given twice: {} and {}",
                l.name(),
                first.dir.display(),
                l.dir.display()
            ));
        }
    }
    for k in (1..=n).filter(|k| !by_k.contains_key(k)) {
        out.push(format!("leg {k}/{n} is missing: pass every leg's directory (a leg that failed still uploads its results)"));
    }
    let split = &legs[0].leg.split;
    for l in legs.iter().filter(|l| &l.leg.split != split) {
        out.push(format!(
            "{} ran split {}, {} ran split {split}: the legs split different inputs (test files or timings); \
             give every leg the same --timings file",
            l.name(),
            l.leg.split,
            legs[0].name()
        ));
    }
    out.extend(files(legs, suite));
    out.extend(tests(legs));
    out
}

/// Each suite file on exactly one leg, and no leg file outside the suite.
fn files(legs: &[Loaded], suite: &[String]) -> Vec<String> {
    let mut on: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for l in legs {
        for f in &l.leg.files {
            on.entry(f.as_str()).or_default().push(l.name());
        }
    }
    let suite_set: BTreeSet<&str> = suite.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for f in suite.iter().filter(|f| !on.contains_key(f.as_str())) {
        out.push(format!("{f} ran on no leg"));
    }
    for (f, names) in &on {
        if names.len() > 1 {
            out.push(format!(
                "{f} ran on {} legs: {}",
                names.len(),
                names.join(", ")
            ));
        }
        if !suite_set.contains(f) {
            out.push(format!("{} ran {f}, which this checkout does not have: merge in the commit the legs tested", names[0]));
        }
    }
    out
}

/// No test reported by two legs, and no leg that ran none.
fn tests(legs: &[Loaded]) -> Vec<String> {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut out = Vec::new();
    for l in legs {
        if l.cases.iter().all(|c| c.skipped) {
            out.push(format!(
                "{} ran no test ({} files): use fewer legs, or check its --only/--exclude",
                l.name(),
                l.leg.files.len()
            ));
        }
        for c in &l.cases {
            if let Some(first) = seen.insert(c.id(), l.name()) {
                out.push(format!(
                    "{} {:?} ({}:{}) is reported by {first} and {}",
                    c.classname,
                    c.name,
                    c.file,
                    c.line,
                    l.name()
                ));
            }
        }
    }
    out
}
