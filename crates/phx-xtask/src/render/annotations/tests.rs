//! Each parser against output captured from the real tools (Elixir 1.14 and
//! OTP 25 on Debian), or built from their sources where this machine has an
//! older version (Elixir 1.15+, credo, eslint).

use super::*;

fn log(text: &str) -> Vec<String> {
    text.lines().map(String::from).collect()
}

fn at(h: &Hit) -> (String, Option<u32>) {
    (h.file.clone(), h.line)
}

#[test]
fn compiler_warning_1_14_and_1_15() {
    // Captured from `mix compile --warnings-as-errors` on Elixir 1.14.0.
    let hits = parse(&log(
        "Compiling 10 files (.ex)\n\
         warning: variable \"unused\" is unused (if the variable is not meant to be used, prefix it with an underscore)\n  \
         lib/demo/slug.ex:20: Demo.Slug.slugify/1\n\
         \n\
         Compilation failed due to warnings while using the --warnings-as-errors option\n\
         error: `mix compile --warnings-as-errors` exited with code 1",
    ));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(at(&hits[0]), ("lib/demo/slug.ex".into(), Some(20)));
    assert!(
        hits[0].message.starts_with("variable \"unused\" is unused"),
        "{:?}",
        hits[0]
    );
}

#[test]
fn compiler_xref_warning_lists_every_place() {
    let hits = parse(&log(
        "warning: Demo.Missing.call/1 is undefined (module Demo.Missing is not available or is yet to be defined)\n\
         Invalid call found at 2 locations:\n  \
         lib/demo/xref.ex:2: Demo.Xref.f/0\n  \
         lib/demo/xref.ex:3: Demo.Xref.g/0\n",
    ));
    let places: Vec<_> = hits.iter().map(at).collect();
    assert_eq!(
        places,
        [
            ("lib/demo/xref.ex".into(), Some(2)),
            ("lib/demo/xref.ex".into(), Some(3))
        ]
    );
}

#[test]
fn compiler_diagnostics_with_snippets_1_16() {
    // The shape of elixir_errors.erl's snippet formatter, coloured.
    let hits = parse(&log(
        "    \u{1b}[33mwarning:\u{1b}[0m variable \"y\" is unused (if the variable is not meant to be used, prefix it with an underscore)\n    \
         │\n  \
         3 │     y = 1\n    \
         │     ~\n    \
         │\n    \
         └─ lib/demo/foo.ex:3:5: Demo.Foo.bar/1\n\
         \n    \
         error: undefined function nope/1 (expected Demo.Err to define such a function or for it to be imported, but none are available)\n    \
         │\n  \
         3 │     nope(1)\n    \
         │     ^\n    \
         │\n    \
         └─ lib/demo/err.ex:3:5: Demo.Err.f/0\n\
         \n\
         ** (CompileError) lib/demo/err.ex: cannot compile module Demo.Err (errors have been logged)",
    ));
    let places: Vec<_> = hits
        .iter()
        .map(|h| (h.file.clone(), h.line, h.col))
        .collect();
    assert_eq!(
        places,
        [
            ("lib/demo/foo.ex".into(), Some(3), Some(5)),
            ("lib/demo/err.ex".into(), Some(3), Some(5))
        ]
    );
    assert!(
        hits[1].message.starts_with("undefined function nope/1"),
        "{:?}",
        hits[1]
    );
}

#[test]
fn compile_and_syntax_errors_1_14() {
    let hits = parse(&log(
        "== Compilation error in file lib/demo/err.ex ==\n\
         ** (CompileError) lib/demo/err.ex:3: undefined function nope/1 (expected Demo.Err to define such a function)\n\
         ** (SyntaxError) lib/demo/syn.ex:4:3: unexpected reserved word: end. The \"(\" at line 3 is missing terminator \")\"\n    \
         (elixir 1.14.0) lib/kernel/parallel_compiler.ex:346: anonymous fn/5 in Kernel.ParallelCompiler.spawn_workers/7",
    ));
    let places: Vec<_> = hits.iter().map(at).collect();
    assert_eq!(
        places,
        [
            ("lib/demo/err.ex".into(), Some(3)),
            ("lib/demo/syn.ex".into(), Some(4))
        ]
    );
    assert!(
        hits[0]
            .message
            .starts_with("CompileError: undefined function nope/1"),
        "{:?}",
        hits[0]
    );
}

#[test]
fn compile_error_without_line_keeps_the_file() {
    let hits = parse(&log("** (CompileError) lib/demo/err.ex: cannot compile module Demo.Err (errors have been logged)"));
    assert_eq!(
        hits.iter().map(at).collect::<Vec<_>>(),
        [("lib/demo/err.ex".into(), None)]
    );
}

#[test]
fn format_check_1_14() {
    // Captured from `mix format --check-formatted` on Elixir 1.14.0.
    let hits = parse(&log(
        "** (Mix) mix format failed due to --check-formatted.\n\
         The following files are not formatted:\n\
         \n  \
         * lib/demo/slug.ex\n  \
         * lib/demo/bad_fmt.ex\n",
    ));
    let places: Vec<_> = hits.iter().map(at).collect();
    assert_eq!(
        places,
        [
            ("lib/demo/slug.ex".into(), None),
            ("lib/demo/bad_fmt.ex".into(), None)
        ]
    );
    assert!(hits[0].message.contains("cargo xtask format --fix"));
}

#[test]
fn format_check_1_15_diff_names_the_first_changed_line() {
    // Mix.Tasks.Format.to_diffs/1: the absolute file in bright red, a blank
    // line, then "OLD NEW -|" / "    NEW +|" lines.
    let hits = parse(&log(
        "** (Mix) mix format failed due to --check-formatted.\n\
         The following files are not formatted:\n\
         \n\
         \u{1b}[1m\u{1b}[31m/w/app/lib/demo/bad_fmt.ex\n\
         \u{1b}[0m\n\
         1 1  |defmodule Demo.BadFmt do\n\
         2   -|  def x,   do: 1\n  \
         2 +|  def x, do: 1\n\
         3 3  |end\n\
         \n\
         \u{1b}[1m\u{1b}[31m/w/app/lib/demo/other.ex\n\
         \u{1b}[0m\n    \
         |\n\
         12   -|  x =  1\n   \
         12 +|  x = 1\n",
    ));
    let places: Vec<_> = hits.iter().map(at).collect();
    assert_eq!(
        places,
        [
            ("/w/app/lib/demo/bad_fmt.ex".into(), Some(2)),
            ("/w/app/lib/demo/other.ex".into(), Some(12))
        ]
    );
}

#[test]
fn credo_default_output() {
    // Credo.CLI.Output.IssueHelper: the message after the edge, tag and
    // priority arrow (wrapped lines follow), then the place and the scope.
    let hits = parse(&log("┃ \n\
         ┃ [R] ↗ Modules should have a @moduledoc tag.\n\
         ┃       lib/demo/catalog.ex:1:11 #(Demo.Catalog)\n\
         ┃ [W] ↘ There should be no calls to `IO.inspect/1` when the code is\n\
         ┃       shipped.\n\
         ┃       lib/demo/slug.ex:22:5 #(Demo.Slug.slugify)\n"));
    let places: Vec<_> = hits
        .iter()
        .map(|h| (h.file.clone(), h.line, h.col))
        .collect();
    assert_eq!(
        places,
        [
            ("lib/demo/catalog.ex".into(), Some(1), Some(11)),
            ("lib/demo/slug.ex".into(), Some(22), Some(5))
        ]
    );
    assert_eq!(hits[0].message, "[R] Modules should have a @moduledoc tag.");
    assert_eq!(
        hits[1].message,
        "[W] There should be no calls to `IO.inspect/1` when the code is shipped."
    );
}

#[test]
fn dialyzer_dialyxir_and_flycheck_lines() {
    // The first line was captured from OTP 25's dialyzer with --fullpath
    // --no_indentation; the "Unknown functions" entries must not count.
    let hits = parse(&log(
        "  Proceeding with analysis...\n\
         lib/demo/spec.ex:2: Invalid type specification for function 'Elixir.Demo.Spec':bad/0. The success typing is () -> 'not_an_int'\n\
         Unknown functions:\n  \
         inets:stop/2 (lib/mix/utils.ex:682)\n\
         lib/demo/foo.ex:7:invalid_contract Invalid type specification for function bad.\n\
         lib/demo/bar.ex:12:5: R: Modules should have a @moduledoc tag.\n",
    ));
    let places: Vec<_> = hits.iter().map(at).collect();
    assert_eq!(
        places,
        [
            ("lib/demo/spec.ex".into(), Some(2)),
            ("lib/demo/foo.ex".into(), Some(7)),
            ("lib/demo/bar.ex".into(), Some(12))
        ]
    );
    assert!(
        hits[0].message.starts_with("Invalid type specification"),
        "{:?}",
        hits[0]
    );
    assert_eq!(
        hits[1].message,
        "invalid_contract Invalid type specification for function bad."
    );
}

#[test]
fn exunit_failure_points_at_the_failing_line() {
    // Captured from `mix test` on Elixir 1.14.0, as a partition's block.
    let hits = parse(&log("[2]   1) test fails on purpose (BrkTest)\n\
         [2]      test/brk_test.exs:4\n\
         [2]      Assertion with == failed\n\
         [2]      code:  assert 1 + 1 == 3\n\
         [2]      left:  2\n\
         [2]      right: 3\n\
         [2]      stacktrace:\n\
         [2]        test/brk_test.exs:5: (test)\n\
         [2] \n\
         [2]   2) doctest Demo.Slug.slugify/1 (1) (Demo.SlugTest)\n\
         [2]      test/demo/slug_test.exs:3\n\
         [2]      ** (RuntimeError) boom\n"));
    let places: Vec<_> = hits.iter().map(at).collect();
    assert_eq!(
        places,
        [
            ("test/brk_test.exs".into(), Some(5)),
            ("test/demo/slug_test.exs".into(), Some(3))
        ]
    );
    assert_eq!(
        hits[0].message,
        "test fails on purpose (BrkTest): Assertion with == failed"
    );
    assert_eq!(
        hits[1].message,
        "doctest Demo.Slug.slugify/1 (1) (Demo.SlugTest): ** (RuntimeError) boom"
    );
}

#[test]
fn eslint_stylish() {
    let hits = parse(&log("\n/w/app/assets/js/app.js\n  \
         12:5  error  'x' is assigned a value but never used  no-unused-vars\n   \
         3:1   warning  Unexpected console statement  no-console\n\
         \n\
         ✖ 2 problems (1 error, 1 warning)\n"));
    let places: Vec<_> = hits
        .iter()
        .map(|h| (h.file.clone(), h.line, h.col))
        .collect();
    assert_eq!(
        places,
        [
            ("/w/app/assets/js/app.js".into(), Some(12), Some(5)),
            ("/w/app/assets/js/app.js".into(), Some(3), Some(1))
        ]
    );
    assert_eq!(
        hits[0].message,
        "'x' is assigned a value but never used no-unused-vars"
    );
}

#[test]
fn plain_failures_give_nothing() {
    let hits = parse(&log("$ mix deps.get\n\
         ** (Mix) Could not find an SCM for dependency :jason from Demo.MixProject\n\
         error: `mix deps.get` exited with code 1"));
    assert!(hits.is_empty(), "{hits:?}");
}

#[test]
fn paths_are_relative_to_the_checkout() {
    let p = Paths {
        app: "/w/repo/demo".into(),
        root: Some("/w/repo".into()),
    };
    assert_eq!(p.relative("lib/demo/slug.ex"), "demo/lib/demo/slug.ex");
    assert_eq!(
        p.relative("/w/repo/demo/assets/js/app.js"),
        "demo/assets/js/app.js"
    );
    let outside = Paths {
        app: "/tmp/copy/demo".into(),
        root: None,
    };
    assert_eq!(outside.relative("lib/demo/slug.ex"), "lib/demo/slug.ex");
    assert_eq!(outside.relative("/tmp/copy/demo/lib/x.ex"), "lib/x.ex");
}
