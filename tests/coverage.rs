//! The coverage report (`crates/phx-xtask/src/steps/test/cover.exs`, which
//! `cargo xtask test` writes to `_build/xtask/`) on a real `mix test
//! --cover` of the phx18 fixture, both ways the test step runs it: as the
//! last part of the suite's `mix do` (the live data in that VM), and with
//! `elixir` on the exports (partitions, partial runs, the legs' merge). A
//! module whose HTML page cannot be written gets a page saying why and the
//! run goes on, the total stays `mix test.coverage`'s, and the exit code
//! tells a total below the threshold from a failure of the script itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{copy_tree, root, serial};

/// A copy of the phx18 fixture beside the stand-ins.
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("phx-xtask-cover-")
        .tempdir()
        .unwrap();
    for dir in ["phx18", "stand_ins"] {
        copy_tree(
            &root().join("tests/fixtures").join(dir),
            &tmp.path().join(dir),
        );
    }
    let app = tmp.path().join("phx18");
    (tmp, app)
}

/// The phx18 fixture tested with `--cover` and its coverage exported as
/// `suite`, as the test step runs it.
fn tested_fixture() -> (tempfile::TempDir, PathBuf) {
    let (tmp, app) = fixture_copy();
    let (code, out) = mix(&app, &["test", "--cover", "--export-coverage", "suite"]);
    assert_eq!(code, Some(0), "{out}");
    (tmp, app)
}

/// `MIX_ENV=test mix ARGS` in `app`: the exit code and everything printed.
fn mix(app: &Path, args: &[&str]) -> (Option<i32>, String) {
    run(Command::new("mix").args(args).current_dir(app))
}

/// The coverage script as the test step runs it, with extra variables.
fn script(app: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let path = root().join("crates/phx-xtask/src/steps/test/cover.exs");
    let mut cmd = Command::new("elixir");
    cmd.arg(path)
        .current_dir(app)
        .env("XTASK_COVER_EXPORTS", "suite");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn run(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.env("MIX_ENV", "test").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The total `mix test.coverage` prints (`  88.24% | Total`, or with the
/// table's bars on newer Elixir), whatever happens after it.
fn mix_total(app: &Path) -> String {
    let (_, out) = mix(app, &["test.coverage"]);
    let line = out
        .lines()
        .find(|l| l.contains("| Total"))
        .unwrap_or_else(|| panic!("no total in:\n{out}"));
    let pct = line
        .trim_start_matches(['|', ' '])
        .split('%')
        .next()
        .unwrap();
    pct.trim().to_string()
}

fn script_total(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with("coverage: "))
        .unwrap_or_else(|| panic!("no total in:\n{out}"));
    line["coverage: ".len()..]
        .split('%')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_module_whose_source_is_gone_gets_a_page_saying_why_and_keeps_the_total() {
    let _s = serial();
    let (_tmp, app) = tested_fixture();
    let total = mix_total(&app);
    // The beam and the export still have Shop.MailerKit; its source is gone,
    // so cover cannot write its page ({:no_source_code_found, _}).
    std::fs::remove_file(app.join("lib/shop/mailer_kit.ex")).unwrap();
    let (code, out) = script(&app, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "skipped the HTML page of Shop.MailerKit: lib/shop/mailer_kit.ex, which it was \
             compiled from, is gone; its 100.00% still counts in the total"
        ),
        "{out}"
    );
    assert_eq!(script_total(&out), total, "{out}");
    let page = std::fs::read_to_string(app.join("cover/Elixir.Shop.MailerKit.html")).unwrap();
    assert!(
        page.contains("No line-by-line page: lib/shop/mailer_kit.ex"),
        "{page}"
    );
    // Every other module still has cover's own page, and its lcov record.
    let mailer = std::fs::read_to_string(app.join("cover/Elixir.Shop.Mailer.html")).unwrap();
    assert!(mailer.contains("use Shop.MailerKit"), "{mailer}");
    let lcov = std::fs::read_to_string(app.join("cover/lcov.info")).unwrap();
    assert!(lcov.contains("SF:lib/shop/mailer.ex\n"), "{lcov}");
    assert!(!lcov.contains("mailer_kit.ex"), "{lcov}");
}

#[test]
fn an_app_moved_since_it_was_compiled_keeps_its_total_and_lcov() {
    let _s = serial();
    let (tmp, app) = tested_fixture();
    let total = mix_total(&app);
    // A _build restored into another checkout path: every beam names a
    // source under the old path.
    let moved = tmp.path().join("moved");
    std::fs::rename(&app, &moved).unwrap();
    let (code, out) = script(&moved, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(script_total(&out), total, "{out}");
    let old = app.join("lib/shop.ex");
    assert!(
        out.contains(&format!(
            "skipped the HTML page of Shop: it was compiled at {}: the app moved since it was compiled",
            old.display()
        )),
        "{out}"
    );
    assert!(out.contains(" more modules without a page"), "{out}");
    // The lcov report names this checkout's files, relative to it.
    let lcov = std::fs::read_to_string(moved.join("cover/lcov.info")).unwrap();
    assert!(lcov.contains("SF:lib/shop.ex\n"), "{lcov}");
    assert!(lcov.contains("SF:lib/shop/mailer_kit.ex\n"), "{lcov}");
}

#[test]
fn the_mailer_generated_by_use_has_a_page_and_only_a_low_total_exits_3() {
    let _s = serial();
    let (_tmp, app) = tested_fixture();
    // Shop.Mailer is all `use Shop.MailerKit` generates, the shape of `use
    // Swoosh.Mailer` whose page Elixir 1.18's cover could not write: it has
    // a page either way, and the total is Mix's.
    let total = mix_total(&app);
    // Mix's own pages go, so the page left is the script's.
    for e in std::fs::read_dir(app.join("cover")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "html") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let (code, out) = script(&app, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(script_total(&out), total, "{out}");
    assert!(app.join("cover/Elixir.Shop.Mailer.html").is_file(), "{out}");
    let (code, out) = script(&app, &[("XTASK_COVERAGE_THRESHOLD", "100.5")]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("is below the threshold 100.50%"), "{out}");
    // A failure of the script itself is not about the threshold.
    let (code, out) = script(&app, &[("XTASK_COVER_EXPORTS", "partition-9")]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no partition-9 .coverdata in cover/"), "{out}");
    assert!(!out.contains("threshold"), "{out}");
}

#[test]
fn the_report_in_the_suites_mix_do_is_the_one_elixir_makes_from_the_export() {
    let _s = serial();
    let (_tmp, app) = fixture_copy();
    let script_path = root().join("crates/phx-xtask/src/steps/test/cover.exs");
    let chained = |env: &[(&str, &str)]| {
        let mut cmd = Command::new("mix");
        cmd.args([
            "do",
            "test",
            "--raise",
            "--cover",
            "--export-coverage",
            "suite",
            "+",
        ])
        .args(["run", "--no-compile", "--no-start"])
        .arg(&script_path)
        .current_dir(&app)
        .env("XTASK_COVER_EXPORTS", "suite");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    let (code, live) = chained(&[]);
    assert_eq!(code, Some(0), "{live}");
    assert!(live.contains("5 tests, 0 failures"), "{live}");
    let live_lcov = std::fs::read_to_string(app.join("cover/lcov.info")).unwrap();
    // A cover-compiled module's source comes from its beam in the build.
    assert!(live_lcov.contains("SF:lib/shop/mailer.ex\n"), "{live_lcov}");
    assert!(
        app.join("cover/Elixir.Shop.Mailer.html").is_file(),
        "{live}"
    );

    let (code, out) = script(&app, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(script_total(&live), script_total(&out), "{live}\n{out}");
    assert_eq!(script_total(&out), mix_total(&app), "{out}");
    let lcov = std::fs::read_to_string(app.join("cover/lcov.info")).unwrap();
    assert_eq!(live_lcov, lcov);

    // Below the threshold the whole `mix do` exits 3, as the script alone.
    let (code, low) = chained(&[("XTASK_COVERAGE_THRESHOLD", "100.5")]);
    assert_eq!(code, Some(3), "{low}");
    assert!(low.contains("is below the threshold 100.50%"), "{low}");
}
