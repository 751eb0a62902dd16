//! The split of a suite over N CI machines: by test file, longest first
//! onto the least-loaded leg, by the per-file durations of earlier runs (a
//! file without a record counts as the median). Every leg computes it from
//! the same inputs and gets the same split; its hash, recorded by every leg,
//! lets the merge prove they did.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::ids::fnv;
use crate::mixproj::MixProject;

/// Where the merge writes the timings, relative to the app; the next
/// `--partition` run reads them from there unless `--timings` says.
pub const TIMINGS: &str = "_build/xtask/test-timings.json";

/// The timings file: seconds per test file, as the merge recorded them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    pub files: BTreeMap<String, f64>,
}

/// Which files each leg runs (index K-1), and the hash every leg records.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub legs: Vec<Vec<String>>,
    pub hash: String,
}

/// Files longest first (ties by path), each onto the least-loaded leg
/// (ties to the lowest K). With no timings every file weighs the same, so
/// the split is by sorted path: deterministic, and the same on any machine.
pub fn split(files: &[String], timings: &BTreeMap<String, f64>, n: u32) -> Split {
    let median = median(files.iter().filter_map(|f| timings.get(f).copied()));
    let mut weighted: Vec<(f64, &String)> = files
        .iter()
        .map(|f| (timings.get(f).copied().unwrap_or(median), f))
        .collect();
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut legs: Vec<(f64, Vec<String>)> = vec![(0.0, Vec::new()); n as usize];
    for (secs, file) in weighted {
        let lightest = (0..legs.len())
            .min_by(|&a, &b| legs[a].0.total_cmp(&legs[b].0).then(a.cmp(&b)))
            .expect("at least one leg");
        legs[lightest].0 += secs;
        legs[lightest].1.push(file.clone());
    }
    let legs: Vec<Vec<String>> = legs
        .into_iter()
        .map(|(_, mut files)| {
            files.sort();
            files
        })
        .collect();
    Split {
        hash: hash(&legs),
        legs,
    }
}

/// The median of the known durations; 1 s when none is known (any
/// constant gives the same split).
fn median(known: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = known.collect();
    if v.is_empty() {
        return 1.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match v.len() % 2 {
        0 => (v[mid - 1] + v[mid]) / 2.0,
        _ => v[mid],
    }
}

/// A hash of the assignment itself (not of its inputs), so two legs agree
/// exactly when they ran the same split.
fn hash(legs: &[Vec<String>]) -> String {
    let mut text = format!("phx-xtask split 1\n{}\n", legs.len());
    for (i, files) in legs.iter().enumerate() {
        for f in files {
            text.push_str(&format!("{}\t{f}\n", i + 1));
        }
    }
    format!("{:016x}", fnv(text.as_bytes()))
}

/// The timings a leg splits by, and where they came from: `--timings FILE`,
/// else the file the last merge wrote, else none.
pub fn timings(app: &Path, given: Option<&Path>) -> Result<(BTreeMap<String, f64>, String)> {
    let default = app.join(TIMINGS);
    let path = match given {
        Some(p) if !p.exists() => {
            return Ok((
                BTreeMap::new(),
                format!("none ({} does not exist)", p.display()),
            ))
        }
        Some(p) => p.to_path_buf(),
        None if default.is_file() => default,
        None => return Ok((BTreeMap::new(), "none".into())),
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let t: Timings = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a timings file (`{{\"files\": {{\"test/x_test.exs\": 1.5}}}}`): pass one \
             `cargo xtask merge` wrote, or delete it to split by file",
            path.display()
        )
    })?;
    Ok((t.files, path.display().to_string()))
}

/// The suite's test files, relative to the app, sorted: every file under
/// `test_paths` (default `test`) matching `test_pattern` (default
/// `*_test.exs`), as `mix test` finds them.
pub fn test_files(app: &Path, project: &MixProject) -> Result<Vec<String>> {
    let pattern = project
        .string_option("test_pattern")
        .unwrap_or_else(|| "*_test.exs".into());
    let Some(suffix) = pattern
        .strip_prefix('*')
        .filter(|s| !s.contains(['*', '?', '[']))
    else {
        bail!("test_pattern {pattern:?} in mix.exs is not `*SUFFIX`: phx-xtask splits suites by such patterns only")
    };
    let roots = project
        .list_option("test_paths")
        .unwrap_or_else(|| vec!["test".into()]);
    let mut out = Vec::new();
    for root in roots {
        walk(app, &app.join(&root), suffix, &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(app: &Path, dir: &Path, suffix: &str, out: &mut Vec<String>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("list {}", dir.display()))?
            .path();
        if path.is_dir() {
            walk(app, &path, suffix, out)?;
        } else if path.to_string_lossy().ends_with(suffix) {
            let rel = path.strip_prefix(app).unwrap_or(&path);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn times(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(f, t)| (f.to_string(), *t)).collect()
    }

    #[test]
    fn without_timings_the_split_is_by_sorted_path_and_deterministic() {
        let all = files(&["t/d.exs", "t/a.exs", "t/c.exs", "t/b.exs", "t/e.exs"]);
        let s = split(&all, &BTreeMap::new(), 2);
        assert_eq!(
            s.legs,
            [
                files(&["t/a.exs", "t/c.exs", "t/e.exs"]),
                files(&["t/b.exs", "t/d.exs"])
            ]
        );
        let mut shuffled = all.clone();
        shuffled.reverse();
        assert_eq!(
            split(&shuffled, &BTreeMap::new(), 2),
            s,
            "input order must not matter"
        );
    }

    #[test]
    fn slow_files_go_to_different_legs_and_every_file_once() {
        let all = files(&["a", "b", "c", "d", "e", "f", "slow1", "slow2"]);
        let t = times(&[("slow1", 10.0), ("slow2", 9.0), ("a", 1.0), ("b", 1.0)]);
        let s = split(&all, &t, 2);
        let leg_of = |f: &str| {
            s.legs
                .iter()
                .position(|l| l.iter().any(|x| x == f))
                .unwrap()
        };
        assert_ne!(leg_of("slow1"), leg_of("slow2"));
        let mut seen: Vec<String> = s.legs.concat();
        seen.sort();
        assert_eq!(seen, all, "every file in exactly one leg");
    }

    #[test]
    fn an_unknown_file_weighs_the_median() {
        // Known in the suite: 1, 2, 9 (`gone` left the suite), so `new`
        // weighs 2 and lands beside `a` and `b`, not on the 9 s leg.
        let all = files(&["a", "b", "big", "new"]);
        let t = times(&[("a", 1.0), ("b", 2.0), ("big", 9.0), ("gone", 100.0)]);
        let s = split(&all, &t, 2);
        assert_eq!(s.legs, [files(&["big"]), files(&["a", "b", "new"])]);
        assert_eq!(median([1.0, 2.0, 9.0].into_iter()), 2.0);
        assert_eq!(median([1.0, 3.0].into_iter()), 2.0);
        assert_eq!(median(std::iter::empty()), 1.0);
        // Known as slow instead, it opens the second leg.
        let slow = split(
            &all,
            &times(&[("a", 1.0), ("b", 2.0), ("big", 9.0), ("new", 8.0)]),
            2,
        );
        assert_eq!(slow.legs, [files(&["a", "big"]), files(&["b", "new"])]);
        let slower = split(
            &all,
            &times(&[("a", 1.0), ("b", 2.0), ("big", 9.0), ("new", 20.0)]),
            2,
        );
        assert_eq!(slower.legs, [files(&["new"]), files(&["a", "b", "big"])]);
    }

    #[test]
    fn the_hash_names_the_assignment() {
        let all = files(&["a", "b", "c"]);
        let plain = split(&all, &BTreeMap::new(), 2);
        assert_eq!(plain.hash.len(), 16);
        assert_eq!(split(&all, &BTreeMap::new(), 2).hash, plain.hash);
        assert_ne!(split(&all, &BTreeMap::new(), 3).hash, plain.hash);
        let moved = split(&all, &times(&[("a", 1.0), ("b", 1.0), ("c", 5.0)]), 2);
        assert_ne!(moved.legs, plain.legs);
        assert_ne!(moved.hash, plain.hash);
    }

    #[test]
    fn test_files_follow_the_pattern_under_test_paths() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "test/a_test.exs",
            "test/sub/b_test.exs",
            "test/test_helper.exs",
            "test/support/c.ex",
            "spec/d_test.exs",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        std::fs::write(dir.path().join("mix.exs"), "def project, do: [app: :a]").unwrap();
        let p = MixProject::read(dir.path()).unwrap();
        assert_eq!(
            test_files(dir.path(), &p).unwrap(),
            ["test/a_test.exs", "test/sub/b_test.exs"]
        );
        std::fs::write(
            dir.path().join("mix.exs"),
            "def project, do: [app: :a, test_paths: [\"test\", \"spec\"]]",
        )
        .unwrap();
        let p = MixProject::read(dir.path()).unwrap();
        assert_eq!(
            test_files(dir.path(), &p).unwrap(),
            ["spec/d_test.exs", "test/a_test.exs", "test/sub/b_test.exs"]
        );
    }

    #[test]
    fn timings_come_from_the_flag_the_default_or_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(timings(dir.path(), None).unwrap().1, "none");
        let given = dir.path().join("t.json");
        assert!(timings(dir.path(), Some(&given))
            .unwrap()
            .1
            .contains("does not exist"));
        std::fs::write(&given, r#"{"files": {"test/a_test.exs": 2.5}}"#).unwrap();
        let (t, from) = timings(dir.path(), Some(&given)).unwrap();
        assert_eq!(t["test/a_test.exs"], 2.5);
        assert_eq!(from, given.display().to_string());
        std::fs::write(&given, "[]").unwrap();
        let err = format!("{:#}", timings(dir.path(), Some(&given)).unwrap_err());
        assert!(err.contains("is not a timings file"), "{err}");
    }
}
