//! End-to-end tests of the runner and the quality steps: the plan, the real
//! pipeline on demo/, copies of the demo broken on purpose, bad input,
//! interruption, and the PLT cache. Everything runs real mix, dialyzer and npm.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{serial, xtask, App};

/// The steps `ci` runs on the demo, as the summary names them.
const CI_STEPS: [&str; 13] = [
    "deps",
    "format",
    "compile",
    "credo",
    "sobelow",
    "xref",
    "gettext",
    "docs",
    "audit",
    "dialyzer",
    "assets",
    "test",
    "migrations",
];

#[test]
fn no_arguments_prints_help_listing_every_step() {
    let done = xtask(&[]).run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    // The migrations step is `migrate check`, under the `migrate` command.
    let commands = CI_STEPS.map(|s| if s == "migrations" { "migrate" } else { s });
    for step in commands.iter().chain(&["ci", "list"]) {
        assert!(
            done.stderr.contains(&format!("  {step} ")),
            "help lacks {step}:\n{}",
            done.stderr
        );
    }
}

#[test]
fn list_names_every_step_on_stdout() {
    let done = xtask(&["list"]).run();
    assert_eq!(done.code, Some(0));
    let names: Vec<&str> = done
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut all = CI_STEPS.to_vec();
    all.push("image");
    assert_eq!(names, all, "{}", done.stdout);
    // The image is built on its own, not by `ci`.
    assert!(
        done.stdout.lines().any(|l| l.starts_with("image      --")),
        "{}",
        done.stdout
    );
}

#[test]
fn dry_run_lists_the_exact_commands_in_order() {
    // Planning probes nothing, so a dead docker daemon does not matter here.
    let done = xtask(&["ci", "--dry-run"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    // How many migrations are linted and checked depends on what this
    // checkout changed since the merge base with the default branch.
    let plan: String = done
        .stdout
        .lines()
        .map(|l| match l.find(" of 3 ") {
            Some(i) if l.starts_with("  # lint ") || l.starts_with("  # check ") => {
                let head = l[..i].trim_end_matches(|c: char| c.is_ascii_digit());
                format!("{head}N{}\n", &l[i..])
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let want = r#"deps:
  $ mix deps.get  [unless deps in sync]
  # record mix.exs and mix.lock in deps/.xtask-deps-get
  # then in compile's `mix do`: mix deps.compile
  # skip mix deps.unlock --check-unused: no mix.lock, so there are no locked deps to check
format (after deps; runs after compile ends, passed or not):
  $ mix format --check-formatted  [in compile's `mix do`]
compile (after deps):
  $ mix do deps.compile + compile --warnings-as-errors + xref graph --label compile-connected --format plain --fail-above 0 + format --check-formatted  [alone if a dep builds inside deps/]
credo: skipped: credo is not a dependency: add `{:credo, "~> 1.7", only: [:dev, :test], runtime: false}` to deps in mix.exs
sobelow: skipped: sobelow is not a dependency: add `{:sobelow, "~> 0.13", only: [:dev, :test], runtime: false}` to deps in mix.exs
xref (after deps, compile):
  $ mix xref graph --label compile-connected --format plain --fail-above 0  [in compile's `mix do`]
gettext: skipped: gettext is not a dependency: add `{:gettext, "~> 0.26"}` to deps in mix.exs
docs: skipped: ex_doc is not a dependency: add `{:ex_doc, "~> 0.36", only: :dev, runtime: false}` to deps in mix.exs
audit (after deps):
  # check that repo.hex.pm:443 answers within 5s (the audit needs the network)
  # check that Hex is installed (`mix hex.audit` is Hex's task)
  $ mix hex.audit
  # skip mix deps.audit: mix_audit is not a dependency: add `{:mix_audit, "~> 2.1", only: [:dev, :test], runtime: false}` to deps in mix.exs
dialyzer (after compile):
  # find OTP and Elixir, the PLT key; create priv/plts
  $ dialyzer --build_plt -pa '{elixir_lib}/elixir/ebin' --output_plt 'priv/plts/otp-{otp}_elixir-{elixir}.plt' --apps erts kernel stdlib crypto '{elixir_lib}/elixir/ebin' '{elixir_lib}/logger/ebin' '{elixir_lib}/mix/ebin'  [when the PLT key changed]
  # record the PLT key in priv/plts/otp-{otp}_elixir-{elixir}.plt.key
  $ dialyzer --no_check_plt --fullpath --no_indentation -pa '{elixir_lib}/elixir/ebin' --plt 'priv/plts/otp-{otp}_elixir-{elixir}.plt' _build/dev/lib/demo/ebin
assets:
  # layout: npm (assets/package.json), then Mix
  $ npm ci  (in assets)  [unless node_modules in sync]
  # record what this install was made from in .xtask/npm-ci/
  $ npm run lint  (in assets)  &
  $ npm test  (in assets)  &
  $ npm run build  (in assets)  &
  # then, after compile:
  $ mix assets.deploy
  # check priv/static/assets/app.css, priv/static/assets/app.js exist and are not empty, and every file priv/static/cache_manifest.json names
test:
  # check: test services: docker answers
  # start postgres (phx-xtask-local/postgres:15) and redis (phx-xtask-local/redis:7) containers
  # wait until postgres answers `SELECT 1` and redis `PING`; create demo_test
  # then, after deps:
  # export DATABASE_URL and REDIS_URL
  # remove cover/*.coverdata from earlier runs
  # write _build/xtask/cover.exs (reports and checks the coverage total, writes cover/lcov.info and the HTML)
  # write the JUnit formatter (an ExUnit formatter, no hex package)
  $ elixirc _build/xtask/junit-6f19f705/junit_formatter.ex -o _build/xtask/junit-6f19f705  [when not compiled yet]
  $ MIX_ENV=test ELIXIR_ERL_OPTIONS='-pa _build/xtask/junit-6f19f705' XTASK_JUNIT=_build/xtask/junit-0.xml XTASK_COVER_EXPORTS=suite mix do deps.compile + compile --warnings-as-errors + test --raise --cover --export-coverage suite --formatter PhxXtask.JUnitFormatter --formatter ExUnit.CLIFormatter + run --no-compile --no-start _build/xtask/cover.exs  [alone if a dep builds inside deps/]
  # merge the JUnit XML into _build/test/junit.xml  [even after a failure]
  # list the 10 slowest tests, flag those over 100 ms, compare with the last run  [even after a failure]
  # stop the services
migrations:
  # check: migration services: docker answers
  # start postgres (phx-xtask-local/postgres:15) and redis (phx-xtask-local/redis:7) containers
  # then, after deps, compile, once assets has ended:
  # wait until postgres answers `SELECT 1` and redis `PING`; create demo_migrations_check
  # export DATABASE_URL (demo_migrations_check) and REDIS_URL
  # lint N of 3 files in priv/repo/migrations: in the migrate session below (no boot of its own): _build/xtask/migration_lint.exs --postgres 16 FILE…
  # check N of 3 migrations: up one by one, down one by one, snapshots between, in one boot: $ mix run --no-start _build/xtask/migration_session.exs Demo.EctoMigrator priv/repo/migrations
  # stop the services
"#;
    assert_eq!(plan, want);
}

#[test]
fn dry_run_shows_each_partition_with_its_own_urls() {
    let done = xtask(&["test", "--dry-run", "--partitions", "2"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    for k in [1, 2] {
        let line = format!("  $ DATABASE_URL='postgres://postgres:***@<host>:<port>/demo_test{k}' REDIS_URL='redis://<host>:<port>/{k}' MIX_ENV=test MIX_TEST_PARTITION={k} ELIXIR_ERL_OPTIONS='-pa _build/xtask/junit-");
        assert!(
            done.stdout.contains(&line),
            "{line}\nnot in:\n{}",
            done.stdout
        );
    }
}

#[test]
fn with_mix_env_test_the_test_build_waits_for_compile() {
    let done = xtask(&["ci", "--dry-run"]).env("MIX_ENV", "test").run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let test = &done.stdout[done.stdout.find("\ntest:").expect("a test block")..];
    assert!(test.contains("# then, after deps, compile:"), "{test}");
}

#[test]
fn dry_run_runs_nothing() {
    let app = App::demo_copy();
    let done = app.xtask(&["ci", "--dry-run"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    for made in [
        "_build",
        "deps",
        "assets/node_modules",
        "priv/static/assets",
    ] {
        assert!(!app.path(made).exists(), "--dry-run made {made}");
    }
}

#[test]
fn the_real_pipeline_passes_on_the_demo() {
    let _s = serial();
    let app = App::demo_copy();
    let done = app.xtask(&["ci", "--output", "json"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let report: serde_json::Value =
        serde_json::from_str(done.stdout.trim()).expect("stdout is one JSON document");
    assert_eq!(report["status"], "ok");
    let steps = report["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(names, CI_STEPS.to_vec());
    for s in steps {
        // The demo has none of these tools, and hex.pm is out of reach here.
        let skipped = ["credo", "sobelow", "gettext", "docs", "audit"];
        let want = if skipped.contains(&s["step"].as_str().unwrap()) {
            "skipped"
        } else {
            "ok"
        };
        assert_eq!(s["status"], want, "{s}");
    }
    // The skips say which line to add, and the summary shows them.
    assert!(
        done.row("credo").contains("{:credo, "),
        "{}",
        done.row("credo")
    );
    assert!(
        done.row("deps").contains("no mix.lock"),
        "{}",
        done.row("deps")
    );
    for out in ["priv/static/assets/app.js", "priv/static/assets/app.css"] {
        assert!(
            std::fs::metadata(app.path(out)).unwrap().len() > 0,
            "{out} is empty"
        );
    }
    assert!(
        done.stderr.contains("[dialyzer] $ dialyzer --no_check_plt"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("wall ") && done.stderr.contains("result: ok"));
    // The tests ran against the services and left a coverage report.
    assert!(app
        .read("cover/lcov.info")
        .contains("SF:lib/demo/catalog.ex"));
    assert!(done.stderr.contains("[test] coverage: "), "{}", done.stderr);
    // One Postgres and one Redis serve test and migrations: started by one
    // step, kept up by the first to finish, stopped by the last.
    let count = |what: &str| done.stderr.matches(what).count();
    assert_eq!(count("started containers "), 1, "{}", done.stderr);
    assert_eq!(count(" already started for another step"), 1);
    assert_eq!(count(" stay up for another step"), 1);
    assert_eq!(count("] stopped postgres at "), 1);
}

/// Runs `ci --keep-going` on a copy broken by `breakage`; returns the run.
fn broken_ci(breakage: impl FnOnce(&App), extra: &[&str]) -> (App, common::Done) {
    let app = App::demo_copy();
    breakage(&app);
    let mut args = vec!["ci"];
    args.extend_from_slice(extra);
    let done = app.xtask(&args).run();
    (app, done)
}

#[test]
fn an_unformatted_file_fails_format_and_hints_the_fix() {
    let _s = serial();
    let (_app, done) = broken_ci(
        |app| {
            app.write(
                "lib/demo/ugly.ex",
                "defmodule Demo.Ugly do\n  def x,    do:   1\nend\n",
            )
        },
        &["--keep-going"],
    );
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("format"), "failed");
    assert!(
        done.row("format").contains("cargo xtask format --fix"),
        "{}",
        done.row("format")
    );
    // Nothing depends on format, so with --keep-going everything else passes.
    for step in ["deps", "compile", "dialyzer", "assets", "test"] {
        assert_eq!(done.status_of(step), "ok", "{step}: {}", done.stderr);
    }
    assert!(done.stderr.contains("result: failed (format)"));
}

#[test]
fn format_fix_rewrites_the_file() {
    let _s = serial();
    let app = App::demo_copy();
    app.write(
        "lib/demo/ugly.ex",
        "defmodule Demo.Ugly do\n  def x,    do:   1\nend\n",
    );
    let done = app.xtask(&["format", "--fix"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert_eq!(
        app.read("lib/demo/ugly.ex"),
        "defmodule Demo.Ugly do\n  def x, do: 1\nend\n"
    );
    assert_eq!(app.xtask(&["format"]).run().code, Some(0));
}

#[test]
fn a_compiler_warning_fails_compile_and_blocks_what_reads_the_build() {
    let _s = serial();
    let warn = "defmodule Demo.Warn do\n  @moduledoc false\n  def x(unused), do: 1\nend\n";
    let (_app, done) = broken_ci(|app| app.write("lib/demo/warn.ex", warn), &["--keep-going"]);
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("compile"), "failed");
    assert!(
        done.stderr.contains("variable \"unused\" is unused"),
        "{}",
        done.stderr
    );
    // The `mix do` names the command in it that failed, with its hint.
    assert!(
        done.stderr.contains(
            "`mix compile --warnings-as-errors` exited with code 1, in `mix do deps.compile + compile --warnings-as-errors + xref graph"
        ),
        "{}",
        done.stderr
    );
    assert!(
        done.row("compile")
            .contains("fix: resolve the compiler warnings above"),
        "{}",
        done.row("compile")
    );
    assert!(
        done.row("test")
            .contains("the test build compiles with --warnings-as-errors"),
        "{}",
        done.row("test")
    );
    assert_eq!(done.status_of("dialyzer"), "not run");
    assert!(
        done.row("dialyzer").contains("needs compile"),
        "{}",
        done.row("dialyzer")
    );
    // The steps that do not read _build are still run and reported.
    assert_eq!(done.status_of("format"), "ok");
    assert_eq!(done.status_of("deps"), "ok");
    assert_eq!(
        done.status_of("assets"),
        "not run",
        "its mix part needs compile"
    );
    assert_eq!(done.status_of("test"), "failed", "the test build warns too");
}

#[test]
fn a_failure_without_keep_going_starts_nothing_new() {
    let _s = serial();
    let warn = "defmodule Demo.Warn do\n  @moduledoc false\n  def x(unused), do: 1\nend\n";
    let (_app, done) = broken_ci(|app| app.write("lib/demo/warn.ex", warn), &["--jobs", "1"]);
    assert_eq!(done.code, Some(1), "{}", done.all());
    // (Rows that name compile come before its own, so not `status_of`.)
    assert!(
        done.stderr.contains("result: failed (compile)"),
        "{}",
        done.stderr
    );
    // With one job the longest path goes first: deps, compile (on the way
    // to dialyzer), then nothing.
    assert_eq!(done.status_of("deps"), "ok");
    // format, assets and test need nothing that failed: only the stop
    // keeps them out.
    for step in ["format", "assets", "test"] {
        assert_eq!(done.status_of(step), "not run", "{step}");
        assert!(
            done.row(step).contains("not started after compile failed"),
            "{}",
            done.row(step)
        );
    }
    assert_eq!(done.status_of("dialyzer"), "not run");
    for step in CI_STEPS {
        done.row(step);
    }
}

#[test]
fn in_ci_a_failing_format_and_a_failing_credo_both_show_in_one_run() {
    let _s = serial();
    let app = App::demo_copy();
    // A stand-in for credo (no hex here), as a path dependency.
    let credo = common::root().join("tests/fixtures/credo_standin");
    common::copy_tree(&credo, &app.tmp.path().join("credo"));
    with_deps(
        &app,
        "{:credo, path: \"../credo\", only: [:dev, :test], runtime: false}",
    );
    app.write(
        "lib/demo/ugly.ex",
        "defmodule Demo.Ugly do\n  # TODO: name it\n  def x,    do:   1\nend\n",
    );
    app.write_config("[ci]\nsteps = [\"deps\", \"format\", \"compile\", \"credo\"]\n");
    let done = app.xtask(&["ci"]).env("CI", "true").run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("format"), "failed", "{}", done.stderr);
    assert_eq!(done.status_of("credo"), "failed", "{}", done.stderr);
    assert!(
        done.stderr
            .contains("Found a TODO tag in a comment: # TODO: name it"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("result: failed (format, credo)"),
        "{}",
        done.stderr
    );
    // The failures lead the summary, then the rest in `ci` order.
    let summary = &done.stderr[done.stderr.rfind("\nsummary\n").unwrap()..];
    let names: Vec<&str> = summary
        .lines()
        .skip(2)
        .take(4)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(names, ["format", "credo", "deps", "compile"], "{summary}");
}

#[test]
fn a_type_error_fails_dialyzer_naming_file_and_line() {
    let _s = serial();
    let bad = "defmodule Demo.Broken do\n  @moduledoc false\n  @spec add(integer()) :: String.t()\n  def add(x), do: x + 1\nend\n";
    let (_app, done) = broken_ci(
        |app| app.write("lib/demo/broken.ex", bad),
        &["--keep-going"],
    );
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("dialyzer"), "failed");
    assert!(
        done.stderr.contains("[dialyzer] lib/demo/broken.ex:3:"),
        "{}",
        done.stderr
    );
    for step in ["deps", "format", "compile", "assets", "test"] {
        assert_eq!(done.status_of(step), "ok", "{step}");
    }
}

#[test]
fn an_eslint_error_fails_assets() {
    let _s = serial();
    let (_app, done) = broken_ci(
        |app| app.write("assets/js/bad.js", "export const x = 1;\nvar unused = 2;\n"),
        &["--keep-going"],
    );
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("assets"), "failed");
    assert!(
        done.stderr.contains("no-var") || done.stderr.contains("no-unused-vars"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("`npm run lint"), "{}", done.stderr);
    for step in ["deps", "format", "compile", "dialyzer", "test"] {
        assert_eq!(done.status_of(step), "ok", "{step}");
    }
}

#[test]
fn parallel_npm_scripts_all_finish_and_the_failure_is_named() {
    let _s = serial();
    let app = App::demo_copy();
    app.write_config("[assets]\nparallel = true\n");
    app.write("assets/js/bad.js", "export const x = 1;\nvar unused = 2;\n");
    let done = app.xtask(&["assets"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(done.stderr.contains("[1] `npm run lint"), "{}", done.stderr);
    // The scripts beside the failed one still ran to the end.
    assert!(done.stderr.contains("[2] # pass "), "{}", done.stderr);
    assert!(app.path("priv/static/assets/app.js").is_file(), "build ran");
    assert!(
        !done.stderr.contains("$ mix assets.deploy"),
        "deploy waits for the scripts"
    );
}

/// Asserts a bad-input run: exit 2, one line on stderr naming `needle`, no
/// stdout, and nothing built.
fn assert_bad_input(done: &common::Done, needle: &str, app: Option<&App>) {
    assert_eq!(done.code, Some(2), "{}", done.all());
    let lines: Vec<&str> = done.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error, got:\n{}", done.stderr);
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{}",
        lines[0]
    );
    assert!(done.stdout.is_empty(), "{}", done.stdout);
    if let Some(app) = app {
        assert!(!app.path("_build").exists(), "something ran");
    }
}

#[test]
fn a_malformed_config_names_line_and_column() {
    let app = App::demo_copy();
    std::fs::write(app.config(), "app_dir = \"demo\"\n[credo]\nstrict = tru\n").unwrap();
    let done = app.xtask(&["ci"]).run();
    assert_bad_input(&done, "xtask.toml:3:10:", Some(&app));
}

#[test]
fn an_unknown_key_is_an_error_with_its_position() {
    let app = App::demo_copy();
    app.write_config("[assets]\noutput = [\"x.js\"]\n");
    let done = app.xtask(&["ci"]).run();
    assert_bad_input(&done, "unknown field `output`", Some(&app));
    assert!(done.stderr.contains("xtask.toml:3:1:"), "{}", done.stderr);
}

#[test]
fn an_app_dir_without_mix_exs_is_refused() {
    let empty = tempfile::tempdir().unwrap();
    let done = xtask(&["ci", "--app-dir", empty.path().to_str().unwrap()]).run();
    assert_bad_input(&done, "has no mix.exs", None);
    assert!(done.stderr.contains("--app-dir"), "the fix is named");
}

/// A PATH holding only these programs (links to the real ones).
fn path_with(programs: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    for p in programs {
        let real = which(p).unwrap_or_else(|| panic!("{p} is installed"));
        std::os::unix::fs::symlink(real, dir.path().join(p)).unwrap();
    }
    let path = dir.path().display().to_string();
    (dir, path)
}

fn which(p: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(p))
        .find(|f| f.is_file())
}

#[test]
fn mix_missing_from_path_is_refused() {
    let app = App::demo_copy();
    let (_dir, path) = path_with(&["npm", "node"]);
    let done = app.xtask(&["ci"]).env("PATH", &path).run();
    assert_bad_input(&done, "`mix` is not on PATH", Some(&app));
}

#[test]
fn npm_missing_from_path_is_refused() {
    let app = App::demo_copy();
    // Elixir's launcher scripts need a few coreutils; npm and node are absent.
    let tools = [
        "mix", "elixir", "erl", "dialyzer", "sh", "dirname", "basename", "readlink", "sed", "uname",
    ];
    let (_dir, path) = path_with(&tools);
    let done = app.xtask(&["ci"]).env("PATH", &path).run();
    assert_bad_input(&done, "`npm` is not on PATH", Some(&app));
    assert!(done.stderr.contains("nix develop"), "the fix is named");
}

/// Pids of processes whose working directory is inside `dir`.
fn processes_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        if let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) {
            if cwd.starts_with(dir) {
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                found.push(format!(
                    "{name}: {}",
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                ));
            }
        }
    }
    found
}

#[test]
fn sigint_during_ci_stops_every_child_and_exits_130() {
    let _s = serial();
    let app = App::demo_copy();
    // A lint script that runs until it is stopped, so the signal surely
    // lands while children run.
    let pkg = app
        .read("assets/package.json")
        .replace("\"lint\": \"", "\"lint\": \"sleep 300 && ");
    app.write("assets/package.json", &pkg);
    let child = app.xtask(&["ci", "--keep-going"]).spawn();
    let child_pid = child.id();
    let started = Instant::now();
    while !processes_in(&app.dir())
        .iter()
        .any(|p| p.contains("sleep 300"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the lint script never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) on the pid of a child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("result: interrupted by SIGINT"), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left = processes_in(&app.dir());
    assert!(left.is_empty(), "children left behind: {left:?}");
    // The test step started its services at once; they are gone too.
    let label = format!("label=dev.phx-xtask.pid={child_pid}");
    let ps = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &label])
        .output()
        .unwrap();
    let ids = String::from_utf8_lossy(&ps.stdout);
    assert!(ids.trim().is_empty(), "containers left behind: {ids}");
}

#[test]
fn a_second_dialyzer_run_reuses_the_plt_and_a_new_key_rebuilds_it() {
    let _s = serial();
    let app = App::demo_copy();
    // A small PLT of its own keeps this test fast and independent.
    let plts = tempfile::tempdir().unwrap();
    std::fs::write(
        app.config(),
        format!(
            "app_dir = \"demo\"\n[dialyzer]\nplt_dir = \"{}\"\nplt_apps = [\"erts\"]\n",
            plts.path().display()
        ),
    )
    .unwrap();
    let first = app.xtask(&["dialyzer"]).run();
    assert!(first.stderr.contains("Creating PLT"), "{}", first.stderr);
    let plt = std::fs::read_dir(plts.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "plt"))
        .unwrap()
        .path();
    let built = std::fs::metadata(&plt).unwrap().modified().unwrap();

    let second = app.xtask(&["dialyzer"]).run();
    assert!(
        second.stderr.contains("(skipped: PLT cache hit"),
        "{}",
        second.stderr
    );
    assert!(!second.stderr.contains("Creating PLT"), "{}", second.stderr);
    assert_eq!(
        std::fs::metadata(&plt).unwrap().modified().unwrap(),
        built,
        "the PLT was rewritten"
    );

    // A mix.lock changes the key, so the PLT is built again.
    app.write("mix.lock", "%{}\n");
    let third = app.xtask(&["dialyzer"]).run();
    assert!(third.stderr.contains("Creating PLT"), "{}", third.stderr);
}

#[test]
fn require_all_turns_a_missing_tool_into_a_failure() {
    let app = App::demo_copy();
    let done = app.xtask(&["credo", "--require-all"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("credo"), "failed");
    assert!(
        done.row("credo").contains("{:credo, "),
        "{}",
        done.row("credo")
    );
    let done = app.xtask(&["credo"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert_eq!(done.status_of("credo"), "skipped");
}

/// A git repository holding a small Mix project, `name`, under `dir`: a
/// dep that `mix deps.get` fetches without a network.
fn git_dep(dir: &Path, name: &str) -> PathBuf {
    let repo = dir.join(format!("{name}-repo"));
    let module = name[..1].to_uppercase() + &name[1..];
    std::fs::create_dir_all(repo.join("lib")).unwrap();
    std::fs::write(
        repo.join("mix.exs"),
        format!("defmodule {module}.MixProject do\n  use Mix.Project\n  def project, do: [app: :{name}, version: \"0.1.0\"]\nend\n"),
    )
    .unwrap();
    std::fs::write(
        repo.join(format!("lib/{name}.ex")),
        format!("defmodule {module} do\n  def hi, do: :hi\nend\n"),
    )
    .unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
        ],
    ] {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }
    repo
}

/// The demo copy with `deps` (Elixir terms) as its dependencies.
fn with_deps(app: &App, deps: &str) {
    let mix = app.read("mix.exs");
    assert!(
        mix.contains("deps: [],"),
        "the demo's mix.exs lists no deps"
    );
    app.write(
        "mix.exs",
        &mix.replace("deps: [],", &format!("deps: [{deps}],")),
    );
}

#[test]
fn deps_get_is_skipped_while_deps_are_in_sync_and_runs_when_one_is_missing() {
    let _s = serial();
    let app = App::demo_copy();
    let repo = git_dep(app.tmp.path(), "helper");
    with_deps(&app, &format!("{{:helper, git: \"{}\"}}", repo.display()));
    let first = app.xtask(&["deps", "-v"]).run();
    assert_eq!(first.code, Some(0), "{}", first.all());
    assert!(
        first.stderr.contains("* Getting helper"),
        "{}",
        first.stderr
    );
    assert!(app.read("mix.lock").contains("\"helper\": {:git,"));

    let second = app.xtask(&["deps", "-v"]).run();
    assert_eq!(second.code, Some(0), "{}", second.all());
    assert!(
        second
            .stderr
            .contains("$ mix deps.get  (skipped: deps in sync)"),
        "{}",
        second.stderr
    );
    assert!(
        second.row("deps").contains("in sync"),
        "{}",
        second.row("deps")
    );

    // A dep missing from deps/ is fetched again.
    std::fs::remove_dir_all(app.path("deps/helper")).unwrap();
    let third = app.xtask(&["deps", "-v"]).run();
    assert_eq!(third.code, Some(0), "{}", third.all());
    assert!(
        third.stderr.contains("* Getting helper"),
        "{}",
        third.stderr
    );
    assert!(!third.stderr.contains("(skipped: deps in sync)"));

    // A mix.lock that names another revision (a teammate's `mix deps.update`
    // pulled in) checks that revision out, as Mix's lock check does.
    std::fs::write(repo.join("lib/more.ex"), "defmodule More do\nend\n").unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let old = git(&["rev-parse", "HEAD"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "more"]);
    let new = git(&["rev-parse", "HEAD"]);
    app.write("mix.lock", &app.read("mix.lock").replace(&old, &new));
    let fourth = app.xtask(&["deps", "-v"]).run();
    assert_eq!(fourth.code, Some(0), "{}", fourth.all());
    assert!(
        !fourth.stderr.contains("(skipped: deps in sync)"),
        "{}",
        fourth.stderr
    );
    let head = std::fs::read_to_string(app.path("deps/helper/.git/HEAD")).unwrap();
    assert_eq!(head.trim(), new, "deps.get checked out the locked revision");
    assert!(app
        .xtask(&["deps", "-v"])
        .run()
        .stderr
        .contains("(skipped: deps in sync)"));

    // No deps/ at all (a fresh clone): fetched.
    std::fs::remove_dir_all(app.path("deps")).unwrap();
    let fifth = app.xtask(&["deps", "-v"]).run();
    assert_eq!(fifth.code, Some(0), "{}", fifth.all());
    assert!(
        fifth.stderr.contains("* Getting helper"),
        "{}",
        fifth.stderr
    );
}

#[test]
fn npm_ci_is_skipped_while_node_modules_is_in_sync_and_runs_when_it_is_not() {
    let _s = serial();
    let app = App::demo_copy();
    let skipped = "$ npm ci  (in assets)  (skipped: node_modules in sync with package-lock.json)";
    let first = app.xtask(&["assets", "-v"]).run();
    assert_eq!(first.code, Some(0), "{}", first.all());
    assert!(
        !first.stderr.contains("(skipped: node_modules"),
        "{}",
        first.stderr
    );
    assert!(app.path("assets/node_modules/.package-lock.json").is_file());

    let second = app.xtask(&["assets", "-v"]).run();
    assert_eq!(second.code, Some(0), "{}", second.all());
    assert!(second.stderr.contains(skipped), "{}", second.stderr);
    assert!(
        second.row("assets").contains("node_modules in sync"),
        "{}",
        second.row("assets")
    );
    // Only the install is skipped: the scripts still ran.
    assert!(
        second.stderr.contains("$ npm run lint"),
        "{}",
        second.stderr
    );

    // A package missing from node_modules is installed again.
    std::fs::remove_dir_all(app.path("assets/node_modules/eslint")).unwrap();
    let third = app.xtask(&["assets", "-v"]).run();
    assert_eq!(third.code, Some(0), "{}", third.all());
    assert!(!third.stderr.contains(skipped), "{}", third.stderr);
    assert!(app
        .path("assets/node_modules/eslint/package.json")
        .is_file());

    // package.json out of step with its lock: `npm ci` runs, and fails as
    // it always has, with its hint.
    let package = app.read("assets/package.json");
    app.write(
        "assets/package.json",
        &package.replace("\"esbuild\": \"^0.28.2\"", "\"esbuild\": \"^0.27.0\""),
    );
    let fourth = app.xtask(&["assets", "-v"]).run();
    assert_eq!(fourth.code, Some(1), "{}", fourth.all());
    assert!(!fourth.stderr.contains(skipped), "{}", fourth.stderr);
    assert!(
        fourth
            .stderr
            .contains("run `npm install` in assets and commit it"),
        "{}",
        fourth.stderr
    );

    // An `npm ci` that fails in the package's own postinstall, after npm
    // wrote its hidden lockfile, is not trusted by the next run.
    app.write(
        "assets/package.json",
        &package.replace(
            "\"scripts\": {",
            "\"scripts\": {\n    \"postinstall\": \"exit 7\",",
        ),
    );
    let fifth = app.xtask(&["assets", "-v"]).run();
    assert_eq!(fifth.code, Some(1), "{}", fifth.all());
    app.write("assets/package.json", &package);
    let sixth = app.xtask(&["assets", "-v"]).run();
    assert_eq!(sixth.code, Some(0), "{}", sixth.all());
    assert!(!sixth.stderr.contains(skipped), "{}", sixth.stderr);
    let seventh = app.xtask(&["assets", "-v"]).run();
    assert!(seventh.stderr.contains(skipped), "{}", seventh.stderr);
}

#[test]
fn a_dep_that_cannot_be_fetched_fails_deps_get_with_its_hint() {
    let _s = serial();
    let app = App::demo_copy();
    let missing = app.tmp.path().join("no-such-repo");
    with_deps(&app, &format!("{{:nope, git: \"{}\"}}", missing.display()));
    app.write_config("[ci]\nsteps = [\"deps\", \"compile\"]\n");
    let done = app.xtask(&["ci"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("deps"), "failed");
    assert!(
        done.stderr.contains("`mix deps.get` exited with code"),
        "{}",
        done.stderr
    );
    assert!(
        done.row("deps")
            .contains("fix the dependency it names in mix.exs"),
        "{}",
        done.row("deps")
    );
    assert!(
        done.row("compile").contains("needs deps"),
        "{}",
        done.row("compile")
    );
}

#[test]
fn a_warning_in_the_test_build_names_that_build_and_its_hint() {
    let _s = serial();
    let app = App::demo_copy();
    // test/support is compiled in the test env only.
    app.write(
        "test/support/warn.ex",
        "defmodule Demo.TestWarn do\n  @moduledoc false\n  def x(unused), do: 1\nend\n",
    );
    let done = app.xtask(&["test"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(done.status_of("test"), "failed");
    assert!(
        done.stderr.contains(
            "`MIX_ENV=test mix compile --warnings-as-errors` exited with code 1, in `MIX_ENV=test "
        ) && done
            .stderr
            .contains("mix do deps.compile + compile --warnings-as-errors + test"),
        "{}",
        done.stderr
    );
    assert!(
        done.row("test")
            .contains("fix the warnings above: the test build compiles with --warnings-as-errors"),
        "{}",
        done.row("test")
    );
    assert!(
        !done.stderr.contains("+ mix test"),
        "the suite did not start"
    );
}

/// Every beam and .app file under `dir`, by path.
fn build_outputs(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "beam" || x == "app") {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

/// Why `ci` compiles the dev and test envs at once: each writes its own
/// `_build/<env>`, Mix and rebar3 deps included, so the result is the one
/// built env after env. Mix runs `make` deps (and elixir_make, rebar3 hooks)
/// inside `deps/<app>`; `deps::build_alone` keeps those apart.
#[test]
fn two_envs_built_at_once_give_the_beams_of_one_after_the_other() {
    let _s = serial();
    let rebar3 = which("rebar3").expect(
        "rebar3 is on PATH (apt-get install rebar3, or the dev shell): a dep here is built by it",
    );
    let app = App::demo_copy();
    let root = app.tmp.path();
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "helper/mix.exs",
        "defmodule Helper.MixProject do\n  use Mix.Project\n  def project, do: [app: :helper, version: \"0.1.0\"]\nend\n",
    );
    write(
        "helper/lib/helper.ex",
        "defmodule Helper do\n  def hi, do: :hi\nend\n",
    );
    write(
        "erldep/rebar.config",
        "{erl_opts, [debug_info]}.\n{deps, []}.\n",
    );
    write(
        "erldep/src/erldep.app.src",
        "{application, erldep, [{vsn, \"0.1.0\"}, {applications, [kernel, stdlib]}]}.\n",
    );
    write(
        "erldep/src/erldep.erl",
        "-module(erldep).\n-export([hi/0]).\nhi() -> hi.\n",
    );
    with_deps(
        &app,
        "{:helper, path: \"../helper\"}, {:erldep, path: \"../erldep\"}",
    );
    let sources: Vec<_> = ["helper", "erldep"]
        .iter()
        .map(|d| files_under(&root.join(d)))
        .collect();
    let build = |at_once: bool| {
        let start = |env: &str| {
            std::process::Command::new("mix")
                .args(["do", "deps.compile", "+", "compile"])
                .current_dir(app.dir())
                .env("MIX_ENV", env)
                .env("MIX_REBAR3", &rebar3)
                .env_remove("MIX_DEPS_PATH")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut children = Vec::new();
        for env in ["dev", "test"] {
            children.push(start(env));
            if !at_once {
                assert!(children.last_mut().unwrap().wait().unwrap().success());
            }
        }
        for mut c in children {
            assert!(c.wait().unwrap().success(), "a build failed");
        }
        let built = build_outputs(&app.path("_build"));
        std::fs::remove_dir_all(app.path("_build")).unwrap();
        built
    };
    let at_once = build(true);
    let in_turn = build(false);
    for env in ["dev", "test"] {
        for beam in ["erldep/ebin/erldep.beam", "helper/ebin/Elixir.Helper.beam"] {
            let key = format!("{env}/lib/{beam}");
            assert!(at_once.contains_key(&key), "no {key}");
        }
    }
    assert_eq!(
        at_once.keys().collect::<Vec<_>>(),
        in_turn.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &at_once {
        assert!(in_turn[path] == *bytes, "{path} differs");
    }
    // Nothing was written into the deps' own dirs but rebar3's source DAG,
    // a cache both envs share anyway and rebar3 discards when unreadable.
    for (d, before) in ["helper", "erldep"].iter().zip(&sources) {
        let after = files_under(&root.join(d));
        for new in after.difference(before) {
            assert!(
                new.starts_with("_build/prod/lib/.rebar3/"),
                "{d}/{new} was written"
            );
        }
    }
}
