//! One suite over N CI machines: each leg (`test --partition K/N`) runs in
//! its own copy of the app, as separate machines would (no shared
//! `_build`), and `merge` makes them one run again: the same coverage as one
//! machine, every test once, the timings that balance the next split, and a
//! refusal, with nothing written, of legs that do not prove the suite ran.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{copy_tree, root, serial, App, Done};

/// A copy of a fixture app under tests/fixtures, as `App` (its dir is
/// still called `demo`, which only the config sees).
fn fixture_copy(name: &str) -> App {
    let tmp = tempfile::Builder::new()
        .prefix("phx-xtask-e2e-")
        .tempdir()
        .unwrap();
    copy_tree(
        &root().join("tests/fixtures").join(name),
        &tmp.path().join("demo"),
    );
    let app = App { tmp };
    app.write_config("");
    app
}

fn leg(app: &App, k: u32, n: u32, extra: &[&str]) -> Done {
    let part = format!("{k}/{n}");
    let mut args = vec!["test", "--services", "native", "--partition", &part];
    args.extend(extra);
    app.xtask(&args).run()
}

fn shard(app: &App, k: u32, n: u32) -> PathBuf {
    app.path(&format!("_build/xtask/shard-{k}-of-{n}"))
}

fn leg_json(app: &App, k: u32, n: u32) -> serde_json::Value {
    let text = std::fs::read_to_string(shard(app, k, n).join("leg.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn files_of(app: &App, k: u32, n: u32) -> Vec<String> {
    let v = leg_json(app, k, n);
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

fn merge(app: &App, dirs: &[PathBuf], env: &[(&str, &str)]) -> Done {
    let mut args = vec!["merge".to_string()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut run = app.xtask(&args);
    for (k, v) in env {
        run = run.env(k, v);
    }
    run.run()
}

fn passed(done: &Done, what: &str) {
    assert_eq!(done.code, Some(0), "{what} failed:\n{}", done.all());
}

/// `(classname, name)` of every testcase in a JUnit file.
fn testcases(xml: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| {
        let key = format!(" {name}=\"");
        let i = tag.find(&key).unwrap() + key.len();
        tag[i..i + tag[i..].find('"').unwrap()].to_string()
    };
    xml.split("<testcase ")
        .skip(1)
        .map(|t| {
            (
                attr(&format!(" {t}"), "classname"),
                attr(&format!(" {t}"), "name"),
            )
        })
        .collect()
}

/// Each source file with the lines lcov says were hit.
fn lcov_hits(text: &str) -> Vec<(String, BTreeSet<String>)> {
    text.split("end_of_record")
        .filter(|r| r.contains("SF:"))
        .map(|r| {
            let sf = r
                .lines()
                .find_map(|l| l.strip_prefix("SF:"))
                .unwrap()
                .to_string();
            let hit = r
                .lines()
                .filter_map(|l| l.strip_prefix("DA:"))
                .filter(|d| !d.ends_with(",0"))
                .map(|d| d.split(',').next().unwrap().to_string())
                .collect();
            (sf, hit)
        })
        .collect()
}

/// Lines that timing decides, not the tests: lib/demo/migrator.ex:81 (see
/// below), and lib/demo/http.ex:90, the accept loop's `{:error, :closed}`,
/// hit only when a test's server closes its socket while the loop waits in
/// accept (seen on trixie's OTP 27 in the single run, not in the legs).
const RACY: [(&str, &str); 2] = [("lib/demo/migrator.ex", "81"), ("lib/demo/http.ex", "90")];

fn racy_hit(lcov: &[(String, BTreeSet<String>)]) -> Vec<bool> {
    RACY.iter()
        .map(|(file, line)| lcov.iter().any(|(f, hit)| f == file && hit.contains(*line)))
        .collect()
}

fn without_racy(mut lcov: Vec<(String, BTreeSet<String>)>) -> Vec<(String, BTreeSet<String>)> {
    for (f, hit) in &mut lcov {
        for (file, line) in RACY {
            if f == file {
                hit.remove(line);
            }
        }
    }
    lcov
}

fn coverage_line(done: &Done) -> String {
    let line = done
        .stderr
        .lines()
        .find(|l| l.contains("coverage: ") && l.contains("% (threshold"));
    let line = line.unwrap_or_else(|| panic!("no coverage line in:\n{}", done.stderr));
    line[line.find("coverage: ").unwrap()..].to_string()
}

#[test]
fn three_legs_of_the_demo_on_three_machines_merge_to_what_one_machine_reports() {
    let _g = serial();
    let legs: Vec<App> = (0..3).map(|_| App::demo_copy()).collect();
    for (i, app) in legs.iter().enumerate() {
        let k = i as u32 + 1;
        let done = leg(app, k, 3, &["-v"]);
        passed(&done, &format!("leg {k}/3"));
        assert!(done.stderr.contains("first test after "), "{}", done.stderr);
        // A leg leaves the coverage to the merge: no per-leg report.
        assert!(
            !app.path("cover/lcov.info").exists(),
            "leg {k} reported coverage"
        );
    }
    let all: Vec<String> = (1..=3)
        .flat_map(|k| files_of(&legs[k as usize - 1], k, 3))
        .collect();
    assert_eq!(all.len(), 14, "{all:?}");
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        14,
        "a file on two legs: {all:?}"
    );

    // The fourth machine runs the whole suite, then merges the legs.
    let one = App::demo_copy();
    let single = one.xtask(&["test", "--services", "native", "-v"]).run();
    passed(&single, "the single run");
    let single_cov = coverage_line(&single);
    let single_cases = testcases(&one.read("_build/test/junit.xml"));
    let single_lcov = lcov_hits(&one.read("cover/lcov.info"));

    let summary = one.tmp.path().join("step-summary.md");
    let dirs: Vec<PathBuf> = (1..=3)
        .map(|k| shard(&legs[k as usize - 1], k, 3))
        .collect();
    let merged = merge(
        &one,
        &dirs,
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    passed(&merged, "the merge");
    // The demo has lines a race decides (RACY). In one, two migrators at
    // once (async tests on one database) make the second one's CREATE TABLE
    // fail on the catalog, which lib/demo/migrator.ex:81 forgives. A single
    // run covers it now and then, legs on separate databases rarely; every
    // other line, and the total whenever those lines agree, must be the same.
    let (racy_single, racy_merged) = (
        racy_hit(&single_lcov),
        racy_hit(&lcov_hits(&one.read("cover/lcov.info"))),
    );
    if racy_single == racy_merged {
        assert_eq!(
            coverage_line(&merged),
            single_cov,
            "the union's coverage must be the single run's"
        );
    }
    let mut cases = testcases(&one.read("_build/test/junit.xml"));
    assert_eq!(
        cases.len(),
        single_cases.len(),
        "as many tests as the single run"
    );
    cases.sort();
    let mut expected = single_cases.clone();
    expected.sort();
    assert_eq!(cases, expected, "every test exactly once");
    assert_eq!(
        without_racy(lcov_hits(&one.read("cover/lcov.info"))),
        without_racy(single_lcov),
        "lcov covers the union"
    );
    let timings: serde_json::Value =
        serde_json::from_str(&one.read("_build/xtask/test-timings.json")).unwrap();
    assert_eq!(timings["files"].as_object().unwrap().len(), 14);
    let md = std::fs::read_to_string(&summary).unwrap();
    for k in 1..=3 {
        assert!(md.contains(&format!("\n| {k}/3 | ")), "{md}");
    }
    assert!(
        merged
            .row("merge")
            .contains(&format!("{} tests", single_cases.len())),
        "{}",
        merged.row("merge")
    );
    assert!(
        merged.row("merge").contains("balance "),
        "{}",
        merged.row("merge")
    );
}

const SLOW: [&str; 4] = [
    "test/t01_test.exs",
    "test/t05_test.exs",
    "test/t09_test.exs",
    "test/t13_test.exs",
];

fn slow_on(app: &App, k: u32, n: u32) -> Vec<&'static str> {
    let files = files_of(app, k, n);
    SLOW.into_iter()
        .filter(|s| files.iter().any(|f| f == s))
        .collect()
}

/// Nothing the merge writes exists in `app`.
fn nothing_written(app: &App) {
    for f in [
        "cover/lcov.info",
        "_build/test/junit.xml",
        "_build/xtask/test-timings.json",
    ] {
        assert!(!app.path(f).exists(), "{f} was written");
    }
}

fn refused(done: &Done, code: i32, needle: &str, app: &App) {
    assert_eq!(done.code, Some(code), "{}", done.all());
    assert!(
        done.stderr.contains(needle),
        "no {needle:?} in:\n{}",
        done.stderr
    );
    nothing_written(app);
}

#[test]
fn the_merges_timings_put_the_slow_files_on_different_legs_and_bad_legs_are_refused() {
    let _g = serial();
    let (a, b, m) = (
        fixture_copy("skewed"),
        fixture_copy("skewed"),
        fixture_copy("skewed"),
    );
    // Round 1, no timings: the split by path puts every slow file on leg 1.
    // Leg 2 learns its place from Buildkite's 0-based variables.
    passed(&leg(&a, 1, 2, &[]), "leg 1/2");
    let bk = b
        .xtask(&["test", "--services", "native"])
        .env("BUILDKITE_PARALLEL_JOB", "1")
        .env("BUILDKITE_PARALLEL_JOB_COUNT", "2")
        .run();
    passed(&bk, "leg 2/2 from Buildkite's variables");
    assert_eq!(
        leg_json(&b, 2, 2)["partition_from"],
        "Buildkite BUILDKITE_PARALLEL_JOB=1 BUILDKITE_PARALLEL_JOB_COUNT=2"
    );
    assert_eq!(slow_on(&a, 1, 2), SLOW);
    let round1_split = leg_json(&a, 1, 2)["split"].clone();
    assert_eq!(leg_json(&b, 2, 2)["split"], round1_split);
    let round1 = [shard(&a, 1, 2), shard(&b, 2, 2)];
    let keep = m.tmp.path().join("round1");
    for (i, d) in round1.iter().enumerate() {
        copy_tree_all(d, &keep.join(format!("shard-{}-of-2", i + 1)));
    }

    // Every refusal, before the good merge: exit 2 for unreadable input,
    // 1 for a gap in the proof, and nothing written either way.
    let empty = m.tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    refused(&merge(&m, &[empty], &[]), 2, "holds no leg.json", &m);
    refused(&merge(&m, &round1[..1], &[]), 1, "leg 2/2 is missing", &m);
    let demo = App::demo_copy();
    refused(
        &merge(&demo, &round1, &[]),
        2,
        "is a leg of app `skewed`, not of `demo`",
        &demo,
    );

    // The merge writes the timings; round 2 splits by them.
    passed(&merge(&m, &round1, &[]), "the round-1 merge");
    let timings = m.path("_build/xtask/test-timings.json");
    let t = timings.to_str().unwrap();
    passed(&leg(&a, 1, 2, &["--timings", t]), "leg 1/2 with timings");
    passed(&leg(&b, 2, 2, &["--timings", t]), "leg 2/2 with timings");
    let (one, two) = (slow_on(&a, 1, 2), slow_on(&b, 2, 2));
    assert_eq!(
        (one.len(), two.len()),
        (2, 2),
        "slow files split {one:?} / {two:?}"
    );
    assert_eq!(leg_json(&a, 1, 2)["split"], leg_json(&b, 2, 2)["split"]);
    assert_ne!(leg_json(&a, 1, 2)["split"], round1_split);

    // A leg of round 1 beside a leg of round 2 ran another split.
    let fresh = fixture_copy("skewed");
    let mixed = [keep.join("shard-1-of-2"), shard(&b, 2, 2)];
    refused(
        &merge(&fresh, &mixed, &[]),
        1,
        "the legs split different inputs",
        &fresh,
    );
    fresh.write_config("[test]\nslowest = 3");
    let round2 = [shard(&a, 1, 2), shard(&b, 2, 2)];
    let merged = merge(&fresh, &round2, &[]);
    passed(&merged, "the round-2 merge");
    slowest_across_legs(&fresh, &merged, &round2);
    // This suite has no race: the union is exactly one machine's run.
    let lcov = lcov_hits(&fresh.read("cover/lcov.info"));
    let single = fresh.xtask(&["test", "--services", "native", "-v"]).run();
    passed(&single, "the single run");
    assert_eq!(coverage_line(&merged), coverage_line(&single));
    assert_eq!(lcov, lcov_hits(&fresh.read("cover/lcov.info")));
}

/// `(file:line, ms)` of every test in the legs' JUnit, slowest first.
fn times_in(legs: &[PathBuf]) -> Vec<(String, f64)> {
    let attr = |tag: &str, name: &str| {
        let key = format!(" {name}=\"");
        let i = tag.find(&key).unwrap() + key.len();
        tag[i..i + tag[i..].find('"').unwrap()].to_string()
    };
    let mut all: Vec<(String, f64)> = legs
        .iter()
        .flat_map(|d| {
            let xml = std::fs::read_to_string(d.join("junit.xml")).unwrap();
            xml.split("<testcase ")
                .skip(1)
                .map(|t| {
                    let t = format!(" {t}");
                    let at = format!("{}:{}", attr(&t, "file"), attr(&t, "line"));
                    (at, attr(&t, "time").parse::<f64>().unwrap() * 1000.0)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all
}

/// The merged summary lists the `[test] slowest = 3` slowest tests across
/// the legs (the slow files sit on both), in order, with file:line and
/// time: in the plain summary, the merge's row and the JSON report.
fn slowest_across_legs(app: &App, merged: &Done, legs: &[PathBuf]) {
    let want: Vec<(String, f64)> = times_in(legs).into_iter().take(3).collect();
    let places: Vec<&str> = want.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        places,
        [
            "test/t01_test.exs:5",
            "test/t05_test.exs:5",
            "test/t09_test.exs:5"
        ],
        "the fixture's three slowest"
    );
    let listed: Vec<&str> = merged
        .stderr
        .lines()
        .skip_while(|l| *l != "slowest tests:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(listed.len(), 3, "{}", merged.stderr);
    for (line, (place, ms)) in listed.iter().zip(&want) {
        assert!(
            line.contains(&format!("{ms:.0} ms  {place}  ")),
            "{line:?} is not {place} at {ms:.0} ms:\n{}",
            merged.stderr
        );
    }
    assert!(
        merged
            .row("merge")
            .contains(&format!("slowest {} ", places[0])),
        "{}",
        merged.row("merge")
    );
    let mut args = vec!["merge", "--output", "json"];
    args.extend(legs.iter().map(|d| d.to_str().unwrap()));
    let json = app.xtask(&args).run();
    passed(&json, "the merge, as JSON");
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("stdout is JSON");
    let slowest = report["slowest_tests"].as_array().expect("slowest_tests");
    let got: Vec<String> = slowest
        .iter()
        .map(|t| format!("{}:{}", t["file"].as_str().unwrap(), t["line"]))
        .collect();
    assert_eq!(got, places, "{report}");
    let on: BTreeSet<&str> = slowest.iter().map(|t| t["leg"].as_str().unwrap()).collect();
    assert_eq!(
        on,
        BTreeSet::from(["1/2", "2/2"]),
        "from both legs: {report}"
    );

    // Under GitHub Actions, the step summary's table, in the same order.
    let summary = app.tmp.path().join("slowest-summary.md");
    let github = merge(
        app,
        legs,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    passed(&github, "the merge under GitHub Actions");
    let md = std::fs::read_to_string(&summary).unwrap();
    let table = &md[md
        .find("#### Slowest tests")
        .expect("a slowest tests table")..];
    let at: Vec<usize> = places
        .iter()
        .map(|p| {
            table
                .find(&format!("`{p}`"))
                .unwrap_or_else(|| panic!("{p}:\n{md}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order:\n{md}");
}

fn copy_tree_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_failing_test_fails_its_leg_and_the_merge_names_its_file_and_line() {
    let _g = serial();
    let (a, b, m) = (
        fixture_copy("skewed"),
        fixture_copy("skewed"),
        fixture_copy("skewed"),
    );
    // t03 lands on leg 1 of 2 by path; it fails there only.
    for app in [&a, &b, &m] {
        let text = app
            .read("test/t03_test.exs")
            .replace("== 2 * 20", "== 3 * 20");
        app.write("test/t03_test.exs", &text);
    }
    let failed = leg(&a, 1, 2, &[]);
    assert_eq!(failed.code, Some(1), "{}", failed.all());
    assert!(files_of(&a, 1, 2).contains(&"test/t03_test.exs".to_string()));
    assert_eq!(
        leg_json(&a, 1, 2)["failures"],
        1,
        "the failed leg still writes its results"
    );
    passed(&leg(&b, 2, 2, &[]), "leg 2/2");
    let summary = m.tmp.path().join("step-summary.md");
    let done = merge(
        &m,
        &[shard(&a, 1, 2), shard(&b, 2, 2)],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(done.code, Some(1), "{}", done.all());
    let line = a
        .read("test/t03_test.exs")
        .lines()
        .position(|l| l.contains("3 * 20"))
        .unwrap()
        + 1;
    let at = format!("test/t03_test.exs:{line}");
    assert!(done.stderr.contains(&at), "no {at} in:\n{}", done.stderr);
    assert!(std::fs::read_to_string(&summary).unwrap().contains(&at));
    // The reports are still written for the test reporters.
    assert_eq!(testcases(&m.read("_build/test/junit.xml")).len(), 14);
}
