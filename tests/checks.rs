//! End-to-end tests of the xref, gettext, docs and audit steps: each passes,
//! fails for its own reason, and is skipped (or failed under
//! `--require-all`) when its tool is not there. gettext and ex_doc are path
//! stand-ins in tests/fixtures/checks (no hex.pm here) with the real tasks'
//! flags, messages and exit codes; xref is Mix's own, run on the demo.

mod common;

use std::path::PathBuf;

use common::{copy_tree, root, xtask, App, Run};

/// A copy of tests/fixtures/checks and an xtask.toml pointing at it.
struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("phx-xtask-checks-")
            .tempdir()
            .unwrap();
        copy_tree(
            &root().join("tests/fixtures/checks"),
            &tmp.path().join("checks"),
        );
        std::fs::write(tmp.path().join("xtask.toml"), "app_dir = \"checks\"\n").unwrap();
        Fixture { tmp }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join("checks").join(rel)
    }

    /// Replaces `from` with `to` in the app's file `rel`.
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path(rel)).unwrap();
        assert!(text.contains(from), "{rel} lacks {from}");
        std::fs::write(self.path(rel), text.replace(from, to)).unwrap();
    }

    fn xtask(&self, args: &[&str]) -> Run {
        let config = self.tmp.path().join("xtask.toml");
        xtask(args).env("XTASK_CONFIG", config.to_str().unwrap())
    }
}

#[test]
fn xref_passes_on_the_demo_fails_over_the_limit_and_names_the_worst_file() {
    let app = App::demo_copy();
    let done = app.xtask(&["xref"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.row("xref").contains("0 compile-connected"),
        "{}",
        done.row("xref")
    );

    app.add_compile_connected_chain();
    let done = app.xtask(&["xref"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let row = done.row("xref");
    assert!(row.starts_with("  failed"), "{row}");
    assert!(row.contains("1 compile-connected"), "{row}");
    assert!(row.contains("worst: lib/demo/route_table.ex (1)"), "{row}");
    assert!(row.contains("move the use into a function"), "{row}");
    assert!(
        done.stderr
            .contains("Too many references (found: 1, permitted: 0)"),
        "{}",
        done.stderr
    );

    // The limit is the config's.
    app.write_config("[xref]\ncompile_connected_max = 1\n");
    let done = app.xtask(&["xref"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(done.all().contains("--fail-above 1"), "{}", done.all());
}

#[test]
fn gettext_and_docs_pass_then_fail_on_a_stale_pot_and_a_doc_warning() {
    let fx = Fixture::new();
    let done = fx.xtask(&["step", "gettext", "docs"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.row("gettext").contains("pot up to date"),
        "{}",
        done.row("gettext")
    );
    assert!(
        done.row("docs").contains("0 warnings"),
        "{}",
        done.row("docs")
    );
    assert!(fx.path("doc/index.html").is_file());
    // ex_doc 0.36.1 takes the flag itself.
    assert!(
        done.stderr.contains("$ mix docs --warnings-as-errors"),
        "{}",
        done.stderr
    );

    fx.edit(
        "lib/checks.ex",
        "def greeting, do: gettext(\"Hello\")",
        "def greeting, do: gettext(\"Hello\")\n\n  @doc \"Says goodbye; see `Checks.nope/0`.\"\n  def farewell, do: gettext(\"Bye\")",
    );
    let pot_before = std::fs::read_to_string(fx.path("priv/gettext/default.pot")).unwrap();
    let done = fx.xtask(&["step", "gettext", "docs", "--keep-going"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let row = done.row("gettext");
    assert!(row.starts_with("  failed"), "{row}");
    assert!(
        row.contains("out of date: priv/gettext/default.pot"),
        "{row}"
    );
    assert!(row.contains("mix gettext.extract --merge"), "{row}");
    // A check writes nothing.
    assert_eq!(
        std::fs::read_to_string(fx.path("priv/gettext/default.pot")).unwrap(),
        pot_before
    );
    let row = done.row("docs");
    assert!(row.starts_with("  failed"), "{row}");
    assert!(row.contains("1 warning"), "{row}");
    assert!(
        done.stderr
            .contains("\"Checks.nope/0\" but it is undefined"),
        "{}",
        done.stderr
    );
}

#[test]
fn an_older_ex_doc_fails_on_its_warnings_through_our_own_check() {
    let fx = Fixture::new();
    fx.edit(
        "vendor/ex_doc_stand_in/mix.exs",
        "version: \"0.36.1\"",
        "version: \"0.34.2\"",
    );
    fx.edit(
        "lib/checks.ex",
        "`Checks.greeting/0`",
        "`Checks.greeting/9`",
    );
    let done = fx.xtask(&["docs"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(done.stderr.contains("$ mix docs\n"), "{}", done.stderr);
    assert!(
        done.stderr.contains("`mix docs` printed 1 warning(s)"),
        "{}",
        done.stderr
    );
    assert!(
        done.row("docs").contains("fix the documentation warnings"),
        "{}",
        done.row("docs")
    );
}

#[test]
fn without_the_tools_they_are_skipped_with_the_line_or_fail_under_require_all() {
    let app = App::demo_copy();
    let done = app.xtask(&["step", "gettext", "docs"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.row("gettext")
            .contains("add `{:gettext, \"~> 0.26\"}` to deps in mix.exs"),
        "{}",
        done.row("gettext")
    );
    assert!(done
        .row("docs")
        .contains("{:ex_doc, \"~> 0.36\", only: :dev, runtime: false}"));
    let done = app
        .xtask(&["step", "gettext", "docs", "--require-all", "--keep-going"])
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(done.status_of("gettext") == "failed" && done.status_of("docs") == "failed");
}

/// A server that answers every request with a 404 (any answer proves the
/// route), until the test ends.
fn answering_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/repo",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    url
}

#[test]
fn audit_offline_is_skipped_in_one_line_and_fails_under_require_all() {
    let app = App::demo_copy();
    app.write_config("[audit]\ntimeout = 2\n");
    // A mirror that takes the connection and never answers: only the bound
    // ends the wait (no timing is asserted; the row says why).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mirror = format!("http://127.0.0.1:{port}/repo");
    let done = app.xtask(&["audit"]).env("HEX_MIRROR_URL", &mirror).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let row = done.row("audit");
    assert!(row.starts_with("  skipped"), "{row}");
    let want = format!("offline: 127.0.0.1:{port} did not answer within 2s");
    assert!(row.contains(&want), "{row}");
    // One line as it happens, then the summary row.
    let before_summary = &done.stderr[..done.stderr.rfind("\nsummary\n").unwrap()];
    let lines: Vec<&str> = before_summary
        .lines()
        .filter(|l| l.contains("offline:"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", done.stderr);
    assert!(!done.stderr.contains("$ mix hex.audit"), "{}", done.stderr);

    // Without a mirror: hex.pm itself, which this machine cannot reach.
    let done = app.xtask(&["audit"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.row("audit").contains("offline: repo.hex.pm:443"),
        "{}",
        done.row("audit")
    );

    let done = app
        .xtask(&["audit", "--require-all"])
        .env("HEX_MIRROR_URL", &mirror)
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let row = done.row("audit");
    assert!(row.starts_with("  failed"), "{row}");
    assert!(row.contains("drop --require-all"), "{row}");
}

#[test]
fn audit_without_hex_installed_says_so() {
    // A mirror that answers gets past the network check; an empty archives
    // dir means no Hex.
    let mirror = answering_server();
    let archives = tempfile::tempdir().unwrap();
    let app = App::demo_copy();
    let done = app
        .xtask(&["audit"])
        .env("HEX_MIRROR_URL", &mirror)
        .env("MIX_ARCHIVES", archives.path().to_str().unwrap())
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.row("audit").contains("Hex is not installed"),
        "{}",
        done.row("audit")
    );
    assert!(
        done.row("audit").contains("mix local.hex --force"),
        "{}",
        done.row("audit")
    );
    assert!(!done.stderr.contains("$ mix hex.audit"), "{}", done.stderr);
    let done = app
        .xtask(&["audit", "--require-all"])
        .env("HEX_MIRROR_URL", &mirror)
        .env("MIX_ARCHIVES", archives.path().to_str().unwrap())
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
}

/// A reversible migration of the demo whose index is not built
/// concurrently, said safe with `# xtask:allow`: a finding the lint
/// silences and counts.
const ALLOWED_INDEX: &str = "# Indexes products.name; the table is small.
defmodule Demo.Repo.Migrations.IndexName do
  def up do
    # xtask:allow index_not_concurrently -- products is small
    create index(:products, [:name])
  end

  def down, do: [\"DROP INDEX products_name_index\"]

  defp create(sql), do: [sql]
  defp index(table, [c]), do: \"CREATE INDEX #{table}_#{c}_index ON #{table} (#{c})\"
end
";

#[test]
fn the_migrations_row_counts_checked_reversible_findings_and_allowed() {
    let _s = common::serial();
    let app = App::demo_copy();
    app.write(
        "priv/repo/migrations/20260101000100_index_products_name.exs",
        ALLOWED_INDEX,
    );
    let done = app.xtask(&["migrate", "check", "--output", "json"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let report: serde_json::Value = serde_json::from_str(done.stdout.trim()).unwrap();
    let figures = &report["steps"][0]["figures"];
    let migrations = std::fs::read_dir(app.path("priv/repo/migrations"))
        .unwrap()
        .count() as u64;
    assert_eq!(migrations, 4);
    assert_eq!(
        *figures,
        serde_json::json!({"migrations": 4, "reversible": 4, "findings": 0, "allowed": 1}),
        "{figures}"
    );
    let row = done.row("migrations");
    let text = "4 migrations, 4 reversible, 0 findings, 1 allowed";
    assert!(row.contains(text), "{row}");
    // `ci` of this step alone: its row in the run's page carries them too.
    app.write_config("[ci]\nsteps = [\"migrations\"]\n");
    let done = app.xtask(&["ci"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let page = std::fs::read_to_string(app.path("_build/xtask/report.html")).unwrap();
    assert!(page.contains(text), "{page}");
}
