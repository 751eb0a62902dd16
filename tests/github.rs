//! End-to-end tests of the GitHub Actions output: `ci` on copies of the demo
//! broken on purpose, as GitHub runs it (`GITHUB_ACTIONS=true`, a step
//! summary file) or with `--output github`. The parsers' unit tests, on
//! captured output of every tool, are in xtask/src/annotations/.

mod common;

use common::{serial, App, Done};

const SLUG: &str = "lib/demo/slug.ex";

/// A copy of the demo whose slug.ex has an unused variable, formatted as
/// `mix format` wants it, so only `compile` fails; and the line it is on.
fn with_compile_warning() -> (App, usize) {
    let app = App::demo_copy();
    let text = app.read(SLUG);
    let head = "  def slugify(text) when is_binary(text) do\n";
    let at = text.find(head).expect("slug.ex defines slugify/1") + head.len();
    let line = text[..at].lines().count() + 1;
    app.write(
        SLUG,
        &format!("{}    unused = 1\n\n{}", &text[..at], &text[at..]),
    );
    (app, line)
}

fn lines_starting<'a>(done: &'a Done, prefix: &str) -> Vec<&'a str> {
    done.stderr
        .lines()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

#[test]
fn under_github_actions_ci_groups_annotates_and_writes_the_summary() {
    let _serial = serial();
    let (app, line) = with_compile_warning();
    app.write_config("[ci]\nsteps = [\"deps\", \"format\", \"compile\"]\n");
    // As in a GitHub checkout, the app is a dir below the repository root,
    // which is what annotation paths are relative to.
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(app.tmp.path())
        .status();
    assert!(git.unwrap().success());
    let summary = app.tmp.path().join("step-summary.md");
    std::fs::write(&summary, "earlier steps' summary\n").unwrap();

    // GitHub Actions sets CI=true beside GITHUB_ACTIONS, so `ci` keeps
    // going: format, which runs in compile's `mix do` after compile, runs
    // on its own once compile has failed.
    let done = app
        .xtask(&["ci"])
        .env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .run();

    assert_eq!(done.code, Some(1), "{}", done.all());
    for step in ["deps", "format", "compile"] {
        let opened = lines_starting(&done, &format!("::group::{step} ("));
        assert_eq!(opened.len(), 1, "one group for {step}:\n{}", done.stderr);
    }
    assert!(
        lines_starting(&done, "::group::compile (failed, ").len() == 1,
        "{}",
        done.stderr
    );
    assert_eq!(
        lines_starting(&done, "::group::").len(),
        lines_starting(&done, "::endgroup::").len()
    );
    let errors = lines_starting(&done, "::error ");
    // Elixir 1.18's diagnostics also name the column (`,col=5`), 1.14's do
    // not: the file, line and title are the same on both.
    let (at, title) = (
        format!("::error file=demo/{SLUG},line={line},"),
        "title=compile::variable \"unused\" is unused",
    );
    let want = format!("{at}…{title}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&at) && e.contains(title)),
        "no `{want}` in:\n{}",
        done.stderr
    );
    assert!(errors.len() <= 10, "{errors:?}");
    assert!(
        done.stderr.contains("\nsummary\n"),
        "the text summary is still printed:\n{}",
        done.stderr
    );

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier steps' summary\n"),
        "the summary is appended:\n{md}"
    );
    assert!(md.contains("| step | status | time | note |"), "{md}");
    assert!(md.contains("| deps | ✅ ok |"), "{md}");
    assert!(md.contains("| compile | ❌ failed |"), "{md}");
    assert!(md.contains("### cargo xtask: failed (compile)"), "{md}");
}

#[test]
fn output_github_annotates_files_the_format_check_names() {
    let _serial = serial();
    let app = App::demo_copy();
    app.write(
        "lib/demo/bad_fmt.ex",
        "defmodule Demo.BadFmt do\n  def x,   do: 1\nend\n",
    );
    app.write_config("[ci]\nsteps = [\"deps\", \"format\"]\n");

    let done = app.xtask(&["ci", "--output", "github"]).run();

    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(
        lines_starting(&done, "::group::format (failed, ").len(),
        1,
        "{}",
        done.stderr
    );
    // Outside any checkout, paths stay relative to the app dir.
    let errors = lines_starting(&done, "::error ");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("::error file=lib/demo/bad_fmt.ex,")
                && e.contains("title=format::")),
        "{}",
        done.stderr
    );
}

#[test]
fn tool_output_cannot_issue_workflow_commands() {
    let _serial = serial();
    let app = App::demo_copy();
    // A compile-time IO.puts is output of the step, like any tool's.
    app.write(
        "lib/demo/noisy.ex",
        "defmodule Demo.Noisy do\n  IO.puts(\"::add-mask::not-a-secret\")\n  def x, do: :x\nend\n",
    );
    app.write_config("[ci]\nsteps = [\"deps\", \"compile\"]\n");

    let done = app.xtask(&["ci", "--output", "github"]).run();

    assert_eq!(done.code, Some(0), "{}", done.all());
    let lines: Vec<&str> = done.stderr.lines().collect();
    let echo = lines
        .iter()
        .position(|l| *l == "::add-mask::not-a-secret")
        .expect("the output is shown");
    let pause = lines[..echo]
        .iter()
        .rposition(|l| l.starts_with("::stop-commands::"))
        .expect("commands are paused");
    let token = lines[pause].trim_start_matches("::stop-commands::");
    let resume = lines
        .iter()
        .position(|l| *l == format!("::{token}::"))
        .expect("and resumed");
    assert!(pause < echo && echo < resume, "{}", done.stderr);
}
