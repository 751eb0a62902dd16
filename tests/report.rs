//! What a team reads after a run: the figures in each row and as numbers
//! in JSON, JUnit XML from every test run, `ci --failed` rerunning only
//! what failed, one annotation for a problem two steps report, and a
//! terminal view (under a real pseudo-terminal) without repeated rows.

mod common;

use common::{serial, App, Done};

fn json(done: &Done) -> serde_json::Value {
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("{e}: {}", done.all()))
}

fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

const FAILING_TEST: &str = "defmodule Demo.FailsTest do\n  use ExUnit.Case, async: true\n\n  test \"fails on purpose\" do\n    assert 1 + 1 == 3\n  end\nend\n";

#[test]
fn test_figures_are_numbers_and_junit_names_the_failure() {
    let _s = serial();
    let app = App::demo_copy();
    app.write("test/demo/fails_test.exs", FAILING_TEST);
    let done = app
        .xtask(&["test", "--output", "json", "--partitions", "2"])
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let report = json(&done);
    let f = &step(&report, "test")["figures"];
    assert_eq!(f["failures"], 1, "{f}");
    assert!(f["tests"].as_u64().unwrap() > 20, "{f}");
    assert!(f["doctests"].as_u64().unwrap() > 0, "{f}");
    assert!(
        done.row("test").contains(" tests, 1 failure"),
        "{}",
        done.row("test")
    );
    // JUnit: both partitions merged, every test once, the failure located.
    let xml = app.read("_build/test/junit.xml");
    let cases = xml.matches("<testcase ").count() as u64;
    assert_eq!(
        cases,
        f["tests"].as_u64().unwrap() + f["doctests"].as_u64().unwrap(),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains("file=\"test/demo/fails_test.exs\" line=\"5\""),
        "{xml}"
    );
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("<testsuites>")
            && xml.contains("<testsuite name=\"Demo.FailsTest\""),
        "{xml}"
    );
    assert!(
        xml.contains("message=\"Assertion with == failed\""),
        "{xml}"
    );
}

#[test]
fn dialyzer_reports_its_warnings_and_the_plt_hit() {
    let _s = serial();
    let app = App::demo_copy();
    let first = app.xtask(&["dialyzer", "--output", "json"]).run();
    assert_eq!(first.code, Some(0), "{}", first.all());
    let again = app.xtask(&["dialyzer", "--output", "json"]).run();
    let report = json(&again);
    let f = &step(&report, "dialyzer")["figures"];
    assert_eq!(
        (f["warnings"].as_u64(), f["plt"].as_str()),
        (Some(0), Some("hit")),
        "{f}"
    );
    app.write(
        "lib/demo/broken.ex",
        "defmodule Demo.Broken do\n  @spec bad() :: integer()\n  def bad, do: :not_an_int\nend\n",
    );
    let broken = app.xtask(&["dialyzer", "--output", "json"]).run();
    assert_eq!(broken.code, Some(1), "{}", broken.all());
    assert_eq!(step(&json(&broken), "dialyzer")["figures"]["warnings"], 1);
}

#[test]
fn ci_failed_reruns_exactly_what_failed_and_the_tests_with_failed() {
    let _s = serial();
    let app = App::demo_copy();
    app.write(
        "lib/demo/ugly.ex",
        "defmodule Demo.Ugly do\n  def x,    do:   1\nend\n",
    );
    app.write("test/demo/fails_test.exs", FAILING_TEST);
    let first = app.xtask(&["ci", "--keep-going", "--output", "json"]).run();
    assert_eq!(first.code, Some(1), "{}", first.all());
    let again = app
        .xtask(&["ci", "--failed", "--keep-going", "--output", "json"])
        .run();
    assert_eq!(again.code, Some(1), "{}", again.all());
    let report = json(&again);
    for s in report["steps"].as_array().unwrap() {
        let name = s["step"].as_str().unwrap();
        match name {
            "format" | "test" => assert_eq!(s["status"], "failed", "{name}: {s}"),
            _ => assert!(
                s["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("passed last run"),
                "{name}: {s}"
            ),
        }
    }
    assert!(
        again.stderr.contains("mix test") && again.stderr.contains("--failed"),
        "{}",
        again.stderr
    );
}

/// The demo copy with `ci` running only deps and test.
fn deps_and_test() -> App {
    let app = App::demo_copy();
    app.write_config("[ci]\nsteps = [\"deps\", \"test\"]\n");
    app
}

#[test]
fn ci_failed_after_a_test_build_failure_reruns_the_whole_suite() {
    let _s = serial();
    let app = deps_and_test();
    let warn = "defmodule Demo.Warn do\n  @moduledoc false\n  def x(unused), do: 1\nend\n";
    app.write("lib/demo/warn.ex", warn);
    let first = app.xtask(&["ci", "--output", "json"]).run();
    assert_eq!(first.code, Some(1), "{}", first.all());
    assert_eq!(step(&json(&first), "test")["status"], "failed");

    app.write("lib/demo/warn.ex", &warn.replace("(unused)", "(_unused)"));
    let again = app.xtask(&["ci", "--failed", "--output", "json"]).run();
    assert_eq!(again.code, Some(0), "{}", again.all());
    let mix_test = again
        .stderr
        .lines()
        .find(|l| l.contains("+ mix test"))
        .unwrap_or_else(|| panic!("no mix test in {}", again.stderr));
    assert!(
        again.stderr.contains("no test ran last time") && !mix_test.contains("--failed"),
        "{}",
        again.stderr
    );
    let report = json(&again);
    let test = step(&report, "test");
    let f = &test["figures"];
    assert!(f["tests"].as_u64().unwrap() > 20, "the whole suite: {f}");
    assert!(f["coverage"].as_f64().unwrap() >= 75.0, "{f}");
    assert!(
        !test["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("partial"),
        "{test}"
    );
}

#[test]
fn ci_failed_after_a_failed_test_reruns_it_with_partial_coverage() {
    let _s = serial();
    let app = deps_and_test();
    app.write("test/demo/fails_test.exs", FAILING_TEST);
    let first = app.xtask(&["ci", "--output", "json"]).run();
    assert_eq!(first.code, Some(1), "{}", first.all());
    // The coverage report is the last part of the suite's `mix do`: a
    // failed suite stops it there, and the failure is the suite's.
    let report = json(&first);
    let failed = step(&report, "test");
    assert_eq!(failed["figures"]["failures"], 1, "{failed}");
    assert!(
        failed
            .to_string()
            .contains("make the failing tests above pass"),
        "{failed}"
    );
    // The log marks each part of the chain as it starts: the suite did, the
    // report did not.
    assert!(
        first.stderr.contains("+ mix test --raise --cover")
            && !first
                .stderr
                .contains("+ mix run --no-compile --no-start _build/xtask/cover.exs")
            && !first.stderr.contains("wrote cover/lcov.info"),
        "{}",
        first.stderr
    );

    app.write(
        "test/demo/fails_test.exs",
        &FAILING_TEST.replace("== 3", "== 2"),
    );
    let again = app.xtask(&["ci", "--failed", "--output", "json"]).run();
    assert_eq!(again.code, Some(0), "{}", again.all());
    assert!(again.stderr.contains(" --failed"), "{}", again.stderr);
    let report = json(&again);
    let test = step(&report, "test");
    let f = &test["figures"];
    assert_eq!(
        (f["tests"].as_u64(), f["failures"].as_u64()),
        (Some(1), Some(0)),
        "{f}"
    );
    // One test covers far less than the demo's threshold (75%), which a
    // partial run must not be held to.
    assert!(f["coverage"].as_f64().unwrap() < 75.0, "{f}");
    assert!(
        test["detail"].as_str().unwrap_or_default().contains(
            "partial coverage (--failed ran part of the suite): the threshold is not checked"
        ),
        "{test}"
    );

    // Nothing failed now: ExUnit has no test to run, which is no error.
    let none = app.xtask(&["test", "--failed"]).run();
    assert_eq!(none.code, Some(0), "{}", none.all());
    assert!(
        none.stderr.contains("There are no tests to run")
            && none
                .stderr
                .contains("no test ran, so there is no coverage to report"),
        "{}",
        none.stderr
    );
}

#[test]
fn one_annotation_for_a_warning_both_builds_report() {
    let _s = serial();
    let app = App::demo_copy();
    let slug = app.read("lib/demo/slug.ex").replacen(
        "  def ",
        "  def unused_var_demo(x), do: :ok\n\n  def ",
        1,
    );
    app.write("lib/demo/slug.ex", &slug);
    let done = app
        .xtask(&["ci", "--keep-going"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let annotations: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.starts_with("::error file=lib/demo/slug.ex"))
        .collect();
    assert_eq!(annotations.len(), 1, "{annotations:#?}\n{}", done.stderr);
    assert!(
        annotations[0].contains("title=compile and test"),
        "{}",
        annotations[0]
    );
}

#[test]
fn a_terminal_shows_each_row_once_then_one_totals_line() {
    let _s = serial();
    let app = App::demo_copy();
    let bin = env!("CARGO_BIN_EXE_xtask");
    let config = app.config();
    let command = format!(
        "XTASK_CONFIG={} XTASK_ROOT={} {bin} format",
        config.display(),
        common::root().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script (bsdutils) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let rows = text
        .lines()
        .filter(|l| l.contains("format") && l.contains("ok"))
        .count();
    assert_eq!(rows, 1, "one row for format:\n{text}");
    assert!(
        !text.contains("\nsummary"),
        "no second copy of the rows:\n{text}"
    );
    assert!(text.contains("ok: 1 ok in"), "one totals line:\n{text}");
}
