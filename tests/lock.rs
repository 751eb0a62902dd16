//! End-to-end tests of the build env's one BEAM: xref and format run in
//! compile's `mix do`, each still with its own row, and no two of our Mix
//! processes wait on Elixir 1.18's build lock. The BEAMs a `ci` boots are
//! counted by wrappers for mix, elixir and dialyzer put first on PATH, as
//! scripts/bench.sh counts them. Runs on both toolchains (.ci/run).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{serial, App};

/// What Mix 1.18 prints when another process holds `_build/<env>`'s lock.
const WAIT: &str = "Waiting for lock on the build directory";

/// Wrappers that log each mix, elixir and dialyzer start to `log`, then run
/// the real one. They sit in a bin/ beside a link to Elixir's lib, as in an
/// Elixir install, so xtask still reads the versions from files.
fn wrappers(dir: &Path, log: &Path) -> String {
    let out = Command::new("elixir")
        .args(["-e", "IO.write(Path.dirname(:code.lib_dir(:elixir)))"])
        .output()
        .expect("run elixir");
    let lib = String::from_utf8(out.stdout).unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(lib.trim(), dir.join("lib")).unwrap();
    let real = std::env::var("PATH").unwrap();
    for p in ["mix", "elixir", "dialyzer"] {
        // One line when it starts, one when it ends, both naming the
        // wrapper's pid, so the test can tell which ran at the same time.
        let script = format!(
            "#!/bin/sh\nlog='{log}'\n\
             echo \"start $$ $(date +%s%N) ${{MIX_ENV:--}} {p} $*\" >>\"$log\"\n\
             PATH='{real}' {p} \"$@\"\nrc=$?\n\
             echo \"end $$ $(date +%s%N)\" >>\"$log\"\nexit $rc\n",
            log = log.display()
        );
        let path = bin.join(p);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:{real}", bin.display())
}

/// `ci -v` with every ready step started at once (`--jobs 8`), so readers
/// that could contend for the lock do run side by side.
fn ci(app: &App, path: &str) -> common::Done {
    app.xtask(&["ci", "-v", "--jobs", "8"])
        .env("PATH", path)
        .run()
}

/// Each boot as `ENV PROGRAM ARGS`, in the order they started.
fn boots(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("start "))
        .map(|l| l.splitn(3, ' ').nth(2).unwrap_or_default().to_string())
        .collect()
}

/// The Mix processes of one env that ran at the same time, as pairs: the
/// ones that would contend for Mix 1.18's build lock. A lock wait depends
/// on timing; this does not, so it catches a reader that left the chain
/// even when that run happened not to wait.
fn overlapping_mix(log: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut runs: Vec<(u128, u128, String)> = Vec::new();
    for l in text.lines().filter(|l| l.starts_with("start ")) {
        let f: Vec<&str> = l.splitn(4, ' ').collect();
        let end = text
            .lines()
            .find_map(|e| e.strip_prefix(&format!("end {} ", f[1])))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(u128::MAX);
        let what = f[3].to_string();
        let env = what.split(' ').next().unwrap_or_default();
        if what.split(' ').nth(1) == Some("mix") && !env.is_empty() {
            runs.push((f[2].parse().unwrap(), end, what));
        }
    }
    let mut pairs = Vec::new();
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            let same_env = a.2.split(' ').next() == b.2.split(' ').next();
            if same_env && a.0 < b.1 && b.0 < a.1 {
                pairs.push((a.2.clone(), b.2.clone()));
            }
        }
    }
    pairs
}

#[test]
fn a_warm_ci_boots_the_build_env_once_and_no_mix_waits_for_the_lock() {
    let _s = serial();
    let app = App::demo_copy();
    let log: PathBuf = app.tmp.path().join("boots.log");
    let path = wrappers(&app.tmp.path().join("wrap"), &log);
    let cold = ci(&app, &path);
    assert_eq!(cold.code, Some(0), "{}", cold.all());
    assert!(!cold.all().contains(WAIT), "cold run:\n{}", cold.stderr);
    assert_eq!(
        overlapping_mix(&log),
        [],
        "Mix processes of one env at once"
    );

    std::fs::remove_file(&log).unwrap();
    let warm = ci(&app, &path);
    assert_eq!(warm.code, Some(0), "{}", warm.all());
    assert!(!warm.all().contains(WAIT), "warm run:\n{}", warm.stderr);
    assert_eq!(
        overlapping_mix(&log),
        [],
        "Mix processes of one env at once"
    );
    // Each step keeps its row and figures.
    assert!(
        warm.row("xref").contains("0 compile-connected"),
        "{}",
        warm.row("xref")
    );
    assert!(warm.stderr.contains("[xref] # ran in compile's `mix do`"));
    assert!(warm.stderr.contains("[format] # ran in compile's `mix do`"));
    // Their bars in report.html are their parts' spans, inside compile's.
    let page = std::fs::read_to_string(app.path("_build/xtask/report.html")).unwrap();
    let (start, end) = bar(&page, "compile");
    for step in ["xref", "format"] {
        let (s, e) = bar(&page, step);
        assert!(
            start <= s && s <= e && e <= end,
            "{step}'s bar {s}..{e} ms is not inside compile's {start}..{end} ms"
        );
    }

    let all = boots(&log);
    // Five: one per env's `mix do` (the test env's ends with the coverage
    // report, in the VM that ran the suite), dialyzer, the npm layout's `mix
    // assets.deploy`, and the migrations step's one session (issue 16),
    // counted apart.
    let (migrations, rest): (Vec<&String>, Vec<&String>) = all
        .iter()
        .partition(|b| b.contains("_build/xtask/migration_"));
    let mut rest: Vec<String> = rest
        .iter()
        .map(|b| b.split(" --").next().unwrap().to_string())
        .collect();
    rest.sort();
    assert_eq!(
        rest,
        [
            "- dialyzer",
            "- mix assets.deploy",
            "- mix do deps.compile + compile",
            "test mix do deps.compile + compile",
        ],
        "every boot:\n{}",
        all.join("\n")
    );
    // One: the migrate session, with the lint in it (no `elixir` of its own).
    assert_eq!(migrations.len(), 1, "the migrations step: {migrations:?}");
    assert!(
        migrations[0].contains("mix run --no-start _build/xtask/migration_session.exs"),
        "{migrations:?}"
    );
    assert_eq!(all.len(), 5, "every boot:\n{}", all.join("\n"));
    let chain = all.iter().find(|b| b.starts_with("- mix do")).unwrap();
    assert!(
        chain.contains("+ xref graph") && chain.contains("+ format --check-formatted"),
        "{chain}"
    );
    let test = all.iter().find(|b| b.starts_with("test mix do")).unwrap();
    assert!(
        test.contains("+ test --raise --cover")
            && test.ends_with("+ run --no-compile --no-start _build/xtask/cover.exs"),
        "{test}"
    );
    assert!(
        warm.all().contains("wrote cover/lcov.info"),
        "{}",
        warm.all()
    );
}

/// The first bar of `step` in report.html: its start and end in ms.
fn bar(page: &str, step: &str) -> (u64, u64) {
    let at = page
        .find(&format!("data-step=\"{step}\" data-start-ms=\""))
        .unwrap_or_else(|| panic!("no bar of {step} in report.html"));
    let attr = |name: &str| -> u64 {
        let rest = &page[at..];
        let from = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let len = rest[from..].find('"').unwrap();
        rest[from..from + len].parse().unwrap()
    };
    (attr("data-start-ms"), attr("data-end-ms"))
}

/// A step's status in the summary, found by its name column (a hint may
/// say "compile" too).
fn status(done: &common::Done, step: &str) -> String {
    let summary = &done.stderr[done.stderr.rfind("\nsummary\n").expect("a summary")..];
    let row = summary.lines().find(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words
            .iter()
            .position(|w| *w == step)
            .is_some_and(|i| i > 0 && i <= 2)
    });
    let row = row.unwrap_or_else(|| panic!("no row for {step}:\n{summary}"));
    row.split_whitespace()
        .take_while(|w| *w != step)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_failure_in_compiles_mix_do_is_the_row_of_the_step_it_belongs_to() {
    let _s = serial();
    let app = App::demo_copy();
    let steps = ["step", "deps", "compile", "xref", "format", "--keep-going"];
    app.add_compile_connected_chain();
    let done = app.xtask(&steps).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(status(&done, "compile"), "ok", "{}", done.stderr);
    assert_eq!(status(&done, "xref"), "failed", "{}", done.stderr);
    let row = done.row("xref");
    assert!(row.contains("1 compile-connected"), "{row}");
    assert!(row.contains("move the use into a function"), "{row}");
    // xref's output is in xref's log, not compile's, and its error names
    // its own command.
    assert!(
        done.stderr
            .contains("[xref] ** (Mix) Too many references (found: 1, permitted: 0)"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains(
        "[xref] error: `mix xref graph --label compile-connected --format plain --fail-above 0` exited with code 1\n"
    ), "{}", done.stderr);
    // Format came after xref in the chain, so it ran on its own.
    assert_eq!(status(&done, "format"), "ok", "{}", done.stderr);
    assert!(
        done.stderr
            .contains("[format] # not run in compile's `mix do`: `mix xref` failed before it"),
        "{}",
        done.stderr
    );

    // A format failure is format's alone.
    std::fs::remove_file(app.path("lib/demo/route_table.ex")).unwrap();
    app.write(
        "lib/demo/ugly.ex",
        "defmodule Demo.Ugly do\n  def x,    do:   1\nend\n",
    );
    let done = app.xtask(&steps).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    for (step, want) in [("compile", "ok"), ("xref", "ok"), ("format", "failed")] {
        assert_eq!(status(&done, step), want, "{step}: {}", done.stderr);
    }
    assert!(done.row("format").contains("cargo xtask format --fix"));
    assert!(done.stderr.contains("[format] # ran in compile's `mix do`"));
}
