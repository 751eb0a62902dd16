//! JUnit XML from every test run, without hex: an ExUnit formatter we embed
//! (junit_formatter.ex), compiled once into `_build/xtask/junit-<hash>/`,
//! put on the test run's code path and named with `--formatter` beside
//! ExUnit's own. Each partition writes its file; one action merges them
//! into `[test] junit` (default `_build/test/junit.xml`), which CI services
//! (GitHub's test reporters, Codecov) read.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::cases;
use crate::cmd::Cmd;
use crate::ids::fnv;
use crate::plan::Action;

const SOURCE: &str = include_str!("junit_formatter.ex");
const MODULE: &str = "PhxXtask.JUnitFormatter";

/// Where the formatter's beam lives, relative to the app (every command
/// runs there): a new source gets a new directory.
fn ebin() -> PathBuf {
    Path::new("_build")
        .join("xtask")
        .join(format!("junit-{:08x}", fnv(SOURCE.as_bytes()) as u32))
}

pub fn partial(k: u32) -> PathBuf {
    Path::new("_build")
        .join("xtask")
        .join(format!("junit-{k}.xml"))
}

/// Writes the formatter's source and compiles it, unless already compiled.
pub fn prepare(app: &Path) -> Vec<Action> {
    let dir = ebin();
    let source = dir.join("junit_formatter.ex");
    let (write_dir, write_source) = (app.join(&dir), app.join(&source));
    let write = Action::Native {
        describe: "write the JUnit formatter (an ExUnit formatter, no hex package)".into(),
        run: Box::new(move |_| {
            std::fs::create_dir_all(&write_dir).context("create the JUnit formatter's dir")?;
            std::fs::write(&write_source, SOURCE).context("write the JUnit formatter")
        }),
    };
    let beam = app.join(&dir).join(format!("Elixir.{MODULE}.beam"));
    let compile = Cmd::new("elixirc", app)
        .arg(source.display().to_string())
        .args(["-o".to_string(), dir.display().to_string()]);
    let fresh = Box::new(move |_: &crate::exec::Exec| {
        beam.is_file().then(|| "compiled already".to_string())
    });
    vec![
        write,
        Action::RunUnless {
            cmd: compile,
            when: "when not compiled yet",
            fresh,
        },
    ]
}

/// `mix test`'s formatters, and where this run's XML goes.
pub fn add(cmd: Cmd, k: u32, erl_options: Option<&str>) -> Cmd {
    let pa = format!("-pa {}", ebin().display());
    let erl = match erl_options {
        Some(own) => format!("{own} {pa}"),
        None => pa,
    };
    cmd.env("ELIXIR_ERL_OPTIONS", erl)
        .env("XTASK_JUNIT", partial(k).display().to_string())
        .args(["--formatter", MODULE, "--formatter", "ExUnit.CLIFormatter"])
}

/// The runs' files merged into one `<testsuites>` at `out`.
pub fn merge(app: &Path, runs: &[(u32, u32, String)], out: PathBuf) -> Action {
    let parts: Vec<PathBuf> = runs.iter().map(|(k, _, _)| app.join(partial(*k))).collect();
    Action::Native {
        describe: format!(
            "merge the JUnit XML into {}",
            out.strip_prefix(app).unwrap_or(&out).display()
        ),
        run: Box::new(move |ctx| {
            let mut suites = String::new();
            for p in &parts {
                // A run where no test ran ("There are no tests to run")
                // started no formatter, so it wrote nothing.
                if !p.exists() {
                    ctx.log(format!("no {}: no test ran there", p.display()));
                    continue;
                }
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?;
                suites.push_str(cases::suites(&text));
                let _ = std::fs::remove_file(p);
            }
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n{suites}</testsuites>\n"
            );
            std::fs::create_dir_all(out.parent().expect("a file in a dir"))?;
            std::fs::write(&out, xml).with_context(|| format!("write {}", out.display()))?;
            ctx.log(format!("wrote {}", out.display()));
            Ok(())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_merge_into_one_testsuites() {
        let a = "<?xml version=\"1.0\"?>\n<testsuites>\n  <testsuite name=\"A\"></testsuite>\n</testsuites>\n";
        assert_eq!(cases::suites(a), "  <testsuite name=\"A\"></testsuite>\n");
        let cmd = add(Cmd::mix(Path::new("/app"), &["test"]), 2, Some("+fnu"));
        let shown = cmd.describe(Path::new("/app"));
        assert!(
            shown.contains("ELIXIR_ERL_OPTIONS='+fnu -pa _build/xtask/junit-"),
            "{shown}"
        );
        assert!(
            shown.contains("XTASK_JUNIT=_build/xtask/junit-2.xml"),
            "{shown}"
        );
        assert!(
            shown.ends_with("--formatter PhxXtask.JUnitFormatter --formatter ExUnit.CLIFormatter"),
            "{shown}"
        );
    }
}
