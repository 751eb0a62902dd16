//! What a run shows beyond its rows: the slowest tests (flagged over
//! `[test] slow_ms`, failing with `slow_fail`), the changes since the last
//! run, `_build/xtask/report.html` (parsed as HTML, checked against the JSON
//! report, screenshotted in headless Chromium) and the Mermaid timeline in
//! GitHub's step summary. They run on tests/fixtures/checks, whose suite
//! needs no database (so the test step starts no services).

mod common;

use std::path::{Path, PathBuf};

use common::{copy_tree, root, serial, xtask, Done, Run};
use scraper::{Html, Selector};

const SLOW_TESTS: &str = "defmodule Checks.SlowTest do\n  use ExUnit.Case, async: true\n\n  test \"sleeps past the limit\" do\n    Process.sleep(250)\n  end\n\n  test \"sleeps a little\" do\n    Process.sleep(120)\n  end\n\n  test \"is quick\" do\n    assert true\n  end\nend\n";

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    /// A copy of the checks fixture with xtask.toml holding `config`.
    fn new(config: &str) -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("phx-xtask-picture-")
            .tempdir()
            .unwrap();
        copy_tree(
            &root().join("tests/fixtures/checks"),
            &tmp.path().join("checks"),
        );
        let fx = Fixture { tmp };
        fx.config(config);
        fx
    }

    fn config(&self, extra: &str) {
        let text = format!("app_dir = \"checks\"\n[test]\ncover = false\nslowest = 2\n{extra}");
        std::fs::write(self.tmp.path().join("xtask.toml"), text).unwrap();
    }

    fn app(&self) -> PathBuf {
        self.tmp.path().join("checks")
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.app().join(rel), text).unwrap();
    }

    fn xtask(&self, args: &[&str]) -> Run {
        let config = self.tmp.path().join("xtask.toml");
        xtask(args).env("XTASK_CONFIG", config.to_str().unwrap())
    }
}

fn json(done: &Done) -> serde_json::Value {
    serde_json::from_str(done.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", done.all()))
}

fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let steps = report["steps"].as_array().unwrap();
    steps
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn slow_tests_are_listed_in_order_flagged_with_their_place_and_fail_when_asked() {
    let _s = serial();
    let fx = Fixture::new("");
    fx.write("test/slow_test.exs", SLOW_TESTS);
    let done = fx.xtask(&["test", "--output", "json"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let row = done.row("test");
    assert!(row.contains("slowest test/slow_test.exs:4 ("), "{row}");
    assert!(row.contains("slow: 2 over 100 ms"), "{row}");
    // The N slowest, slowest first, in the JSON report and the summary.
    let report = json(&done);
    let slowest = report["slowest_tests"].as_array().unwrap();
    let lines: Vec<(&str, u64)> = slowest
        .iter()
        .map(|t| (t["file"].as_str().unwrap(), t["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [("test/slow_test.exs", 4), ("test/slow_test.exs", 8)]
    );
    assert_eq!(slowest[0]["name"], "test sleeps past the limit");
    let listed = done
        .stderr
        .split("slowest tests:\n")
        .nth(1)
        .expect("the summary lists them");
    let listed: Vec<&str> = listed.lines().take(2).collect();
    assert!(
        listed[0].contains("test/slow_test.exs:4  test sleeps past the limit"),
        "{listed:?}"
    );
    assert!(
        listed[1].contains("test/slow_test.exs:8  test sleeps a little"),
        "{listed:?}"
    );
    assert!(
        done.stderr
            .contains("slow test: test/slow_test.exs:4 test sleeps past the limit ("),
        "{}",
        done.stderr
    );

    fx.config("slow_fail = true\n");
    let done = fx.xtask(&["test"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let row = done.row("test");
    assert!(row.starts_with("  failed"), "{row}");
    assert!(row.contains("raise [test] slow_ms"), "{row}");
}

#[test]
fn a_second_run_after_adding_a_test_shows_plus_one() {
    let _s = serial();
    let fx = Fixture::new("[ci]\nsteps = [\"test\"]\n");
    let first = fx.xtask(&["ci", "--output", "json"]).run();
    assert_eq!(first.code, Some(0), "{}", first.all());
    assert!(step(&json(&first), "test")["figures"]
        .get("vs_last")
        .is_none());
    fx.write(
        "test/more_test.exs",
        "defmodule Checks.MoreTest do\n  use ExUnit.Case, async: true\n\n  test \"one more\" do\n    assert Checks.greeting() == \"Hello\"\n  end\nend\n",
    );
    let second = fx.xtask(&["ci", "--output", "json"]).run();
    assert_eq!(second.code, Some(0), "{}", second.all());
    let report = json(&second);
    let vs = &step(&report, "test")["figures"]["vs_last"];
    assert_eq!(
        (vs["tests_added"].as_u64(), vs["tests_gone"].as_u64()),
        (Some(1), Some(0)),
        "{vs}"
    );
    assert!(
        second.row("test").contains("vs last run: +1 test"),
        "{}",
        second.row("test")
    );
}

/// Every attribute of every element: a self-contained page fetches nothing.
fn assert_self_contained(page: &str, doc: &Html) {
    for el in doc
        .root_element()
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
    {
        for (name, value) in el.value().attrs() {
            assert!(
                !["src", "href", "srcset", "action", "data"].contains(&name),
                "<{}> has {name}={value}",
                el.value().name()
            );
        }
        assert!(!["script", "link", "iframe", "img", "object"].contains(&el.value().name()));
    }
    for bad in ["http://", "https://", "url(", "@import", "//fonts"] {
        assert!(!page.contains(bad), "the page holds {bad}");
    }
}

/// The page's screenshot size in headless Chromium; `None` in the trixie
/// toolchain container, which has no browser (the page does not depend on
/// the Elixir version: the host run takes the screenshot).
fn screenshot(page: &Path) -> Option<u64> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok()
    });
    if found.is_none() && std::env::var("XTASK_E2E_TOOLCHAIN").as_deref() == Ok("trixie") {
        eprintln!("no chromium in the trixie image: the screenshot is the host run's");
        return None;
    }
    let chromium = found.expect("Debian's chromium is installed (apt-get install chromium)");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("report.png");
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,900")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    Some(bytes.len() as u64)
}

#[test]
fn every_ci_writes_a_self_contained_report_that_matches_the_json() {
    let _s = serial();
    let steps = "[ci]\nsteps = [\"deps\", \"format\", \"compile\", \"credo\", \"xref\", \"gettext\", \"docs\", \"test\"]\n";
    let fx = Fixture::new(steps);
    fx.write("test/slow_test.exs", SLOW_TESTS);
    // A message the .pot does not have yet: gettext fails, with its fix.
    let lib = std::fs::read_to_string(fx.app().join("lib/checks.ex")).unwrap();
    fx.write(
        "lib/checks.ex",
        &lib.replace(
            "def greeting, do: gettext(\"Hello\")",
            "def greeting, do: gettext(\"Hello\")\n\n  @doc false\n  def farewell, do: gettext(\"Bye\")",
        ),
    );
    let done = fx.xtask(&["ci", "--output", "json", "--keep-going"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let report = json(&done);
    let path = fx.app().join("_build/xtask/report.html");
    let last = done.stderr.trim_end().lines().last().unwrap();
    assert_eq!(last, format!("report: {}", path.display()));

    let page = std::fs::read_to_string(&path).unwrap();
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    // A DOCTYPE that puts the browser in standards mode.
    assert_eq!(format!("{:?}", doc.quirks_mode), "NoQuirks");
    assert_self_contained(&page, &doc);
    let sel = |s: &str| Selector::parse(s).unwrap();
    // One bar per step that ran, from its start to its end as the JSON says.
    for s in report["steps"].as_array().unwrap() {
        let name = s["step"].as_str().unwrap();
        let bars: Vec<_> = doc
            .select(&sel(&format!("div.bar[data-step=\"{name}\"]")))
            .collect();
        match s["start_ms"].as_u64() {
            None => assert!(bars.is_empty(), "{name} did not run yet has a bar"),
            Some(start) => {
                assert_eq!(bars.len(), 1, "{name}");
                let attr = |k| bars[0].value().attr(k).unwrap().to_string();
                assert_eq!(attr("data-start-ms"), start.to_string(), "{name}");
                assert_eq!(
                    attr("data-end-ms"),
                    s["end_ms"].as_u64().unwrap().to_string(),
                    "{name}"
                );
            }
        }
    }
    // The critical path: named, and its bars marked.
    let crit: Vec<&str> = report["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let ran: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["start_ms"].is_u64())
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(
        !crit.is_empty() && crit.iter().all(|c| ran.contains(c)),
        "{crit:?} of {ran:?}"
    );
    let named: String = doc
        .select(&sel("#critical-path"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(named, crit.join(" → "));
    let mut marked: Vec<&str> = doc
        .select(&sel("div.bar.crit"))
        .map(|b| b.value().attr("data-step").unwrap())
        .collect();
    let mut want = crit.clone();
    marked.sort();
    want.sort();
    assert_eq!(marked, want);
    // The failure with its fix, and the slowest tests.
    let failure: String = doc
        .select(&sel(".failure[data-step=\"gettext\"] .fix"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(failure.contains("mix gettext.extract --merge"), "{failure}");
    let slow: String = doc
        .select(&sel("#slowest"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(slow.contains("test/slow_test.exs:4"), "{slow}");

    if let Some(size) = screenshot(&path) {
        assert!(size > 0);
    }
}

#[test]
fn the_github_summary_carries_the_timeline_as_mermaid_with_every_step() {
    let _s = serial();
    let fx = Fixture::new("[ci]\nsteps = [\"format\", \"credo\", \"xref\", \"docs\"]\n");
    let summary = fx.tmp.path().join("step-summary.md");
    let done = fx
        .xtask(&["ci", "--output", "github"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let md = std::fs::read_to_string(&summary).unwrap();
    let block = md
        .split("```mermaid\n")
        .nth(1)
        .expect("a mermaid block")
        .split("```")
        .next()
        .unwrap();
    assert!(block.starts_with("gantt\n"), "{block}");
    let sections: Vec<&str> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("section "))
        .collect();
    assert_eq!(sections, ["format", "credo", "xref", "docs"], "{block}");
    // credo is not a dependency of the fixture: listed, as skipped.
    assert!(block.contains("  skipped :done,"), "{block}");
    assert!(block.contains(":crit, "), "{block}");
}
