//! The static lint of migration files: `lint.exs` (embedded, written
//! under `_build/xtask/` at run time) parses every file as Elixir in one
//! BEAM and reports the operations that lock or break production tables;
//! this side builds its arguments and reads what it prints.
//!
//! `lint.exs` prints one tab-separated record a line; backslash, tab, CR and LF inside a
//! field arrive escaped as `\\`, `\t`, `\r`, `\n`:
//!
//! ```text
//! finding<TAB>FILE<TAB>LINE<TAB>RULE<TAB>MESSAGE
//! error<TAB>FILE<TAB>LINE<TAB>MESSAGE      (LINE 0: about the whole file)
//! done<TAB>CHECKED<TAB>SKIPPED<TAB>ALLOWED  (always last)
//! ```

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::proc;

/// Where the script is written, relative to the app.
pub const SCRIPT: &str = "_build/xtask/migration_lint.exs";

/// One unsafe operation in a migration, with the safe pattern in its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: PathBuf,
    pub line: u32,
    pub rule: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.rule,
            self.message
        )
    }
}

/// Everything one run of `lint.exs` reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Files read and linted (including those with findings).
    pub checked: usize,
    /// Files skipped because their version is at or before `lint_after`.
    pub skipped: usize,
    /// Findings silenced by an allow comment (`# xtask:allow RULE`).
    pub allowed: usize,
}

/// What one run of the lint is told, besides the files.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// The `[toolchain] postgres` pin ("16" or "16.4"): some operations lock
    /// only on older servers.
    pub postgres: &'a str,
    /// A 14-digit version: files at or before it ran everywhere, and are skipped.
    pub lint_after: Option<&'a str>,
    /// Rules not to check at all.
    pub skip: &'a [String],
}

/// The arguments after `elixir` for one run over `files`.
pub fn lint_args(script: &Path, options: &Options, files: &[PathBuf]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![script.into(), "--postgres".into(), options.postgres.into()];
    if let Some(version) = options.lint_after {
        args.push("--lint-after".into());
        args.push(version.into());
    }
    for rule in options.skip {
        args.push("--skip".into());
        args.push(rule.into());
    }
    args.extend(files.iter().map(OsString::from));
    args
}

/// Writes the embedded script under the app's `_build/xtask/`, where no
/// Mix task looks, and returns its path.
pub fn write_script(app: &Path) -> Result<PathBuf> {
    let script = app.join(SCRIPT);
    std::fs::create_dir_all(script.parent().expect("a file in a dir"))
        .context("create _build/xtask")?;
    std::fs::write(&script, include_str!("lint.exs"))
        .with_context(|| format!("write {}", script.display()))?;
    Ok(script)
}

/// Runs the lint over `files` (paths relative to `app`, so findings name
/// them that way) in one BEAM, bounded by `timeout`.
pub fn run(app: &Path, options: &Options, files: &[PathBuf], timeout: Duration) -> Result<Report> {
    let args: Vec<String> = lint_args(Path::new(SCRIPT), options, files)
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let spawn = proc::Spawn {
        program: "elixir",
        args: &args,
        dir: app,
        env: Vec::new(),
        stdin: None,
    };
    let out = proc::output(&spawn, timeout, |_| {})?;
    if !out.status.success() {
        bail!(
            "the migration lint exited with {}: {}",
            out.status,
            proc::tail(out.stderr.trim())
        );
    }
    parse_report(&out.stdout)
}

/// The findings of a `lint.exs` run and the counts of checked and skipped
/// files; an `error` record (a file that could not be read or parsed, or
/// has a bad name) makes the whole run an error, since that file went
/// unchecked.
pub fn parse_report(output: &str) -> Result<Report> {
    let mut report = Report::default();
    let mut errors = Vec::new();
    let mut done = false;
    for (index, raw) in output.lines().enumerate() {
        let record = || format!("line {} of the lint.exs output ({raw:?})", index + 1);
        if done {
            bail!(
                "{} comes after its `done` record: lint.exs and xtask disagree on the format",
                record()
            );
        }
        let fields = raw
            .split('\t')
            .map(unescape)
            .collect::<Result<Vec<_>>>()
            .with_context(record)?;
        match fields
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["finding", file, line, rule, message] => report.findings.push(Finding {
                file: PathBuf::from(file),
                line: line
                    .parse()
                    .with_context(|| format!("bad line number in {}", record()))?,
                rule: rule.to_string(),
                message: message.to_string(),
            }),
            ["error", file, "0", message] => errors.push(format!("{file}: {message}")),
            ["error", file, line, message] => errors.push(format!("{file}:{line}: {message}")),
            ["done", counts @ ..] if counts.len() == 3 => {
                let count = |i: usize| -> Result<usize> {
                    counts[i]
                        .parse()
                        .with_context(|| format!("bad count in {}", record()))
                };
                (report.checked, report.skipped, report.allowed) =
                    (count(0)?, count(1)?, count(2)?);
                done = true;
            }
            _ => bail!(
                "unexpected {}: lint.exs and xtask disagree on the format",
                record()
            ),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} migration file(s) could not be checked:\n  {}",
            errors.len(),
            errors.join("\n  ")
        );
    }
    if !done {
        bail!("lint.exs stopped before its `done` record; its stderr above says why");
    }
    Ok(report)
}

fn unescape(field: &str) -> Result<String> {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => bail!(
                "unknown escape \\{} in a field",
                other.map(String::from).unwrap_or_default()
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
