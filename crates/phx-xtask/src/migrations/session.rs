//! The Rust side of the migrations check's one-boot session: the driver
//! script (`session.exs`, run as `mix run --no-start` in the app, so one
//! BEAM boot whatever the number of migrations) and its line protocol.
//! Each command (`up all`, `up V`, `down V`) goes out on the session's
//! stdin; the session answers with one `xtask-migrate: ok …` or
//! `xtask-migrate: error …` line on stdout. Every other line is the app's
//! own output, logged as it comes. `lint SCRIPT ARGS` runs the migration
//! lint (`lint.exs`, loaded into the same BEAM) with the arguments in the
//! file ARGS, NUL-separated: its records come as `xtask-migrate: lint …`
//! lines before the answer, so the lint costs no boot of its own.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::lint;
use crate::cmd::Cmd;
use crate::exec::Exec;
use crate::proc::Interactive;

/// Where the driver is written, inside the app (Mix reads it from there).
pub const SCRIPT: &str = "_build/xtask/migration_session.exs";
/// The lint's arguments for the `lint` command, NUL-separated, so that no
/// file name needs quoting on the line protocol.
const LINT_ARGS: &str = "_build/xtask/migration_lint.args";
/// The tag of the lint's records, after TAG.
const LINT: &str = "lint ";
/// The driver's answers start with this.
const TAG: &str = "xtask-migrate: ";
/// Booting may compile the app first (`migrate check` run alone).
const BOOT: Duration = Duration::from_secs(900);
/// One migration on a throwaway database; a data migration may be slow.
const COMMAND: Duration = Duration::from_secs(900);

/// The command that boots the session: `mix run --no-start SCRIPT
/// MIGRATOR DIR`, in the app dir.
pub fn command(app: &Path, migrator: &str, dir: &Path) -> Cmd {
    Cmd::mix(app, &["run", "--no-start", SCRIPT])
        .arg(migrator)
        .arg(dir.display().to_string())
}

/// Writes the driver into the app's `_build/xtask/`.
pub fn write_script(app: &Path) -> Result<PathBuf> {
    let script = app.join(SCRIPT);
    std::fs::create_dir_all(script.parent().expect("a file in a dir"))
        .context("create _build/xtask")?;
    std::fs::write(&script, include_str!("session.exs"))
        .with_context(|| format!("write {}", script.display()))?;
    Ok(script)
}

/// A running session, stopped when dropped.
pub struct Session {
    child: Interactive,
}

impl Session {
    /// Starts the session and waits until its repo is open.
    pub fn start(ctx: &mut Exec, cmd: &Cmd) -> Result<Session> {
        let child = ctx.start_session(cmd)?;
        let mut session = Session { child };
        let ready = session.answer(ctx, BOOT, &mut Vec::new()).context(
            "the migrate session did not start: the app must compile and its repo must open",
        )?;
        ctx.log(format!("session open: {ready}"));
        Ok(session)
    }

    /// Sends `line` and returns the versions the answer names.
    pub fn send(&mut self, ctx: &mut Exec, line: &str) -> Result<Vec<i64>> {
        self.child.send(line)?;
        let answer = self.answer(ctx, COMMAND, &mut Vec::new())?;
        parse_ok(&answer)
    }

    /// Runs the migration lint in the session over `files` (relative to
    /// `app`, the session's dir), as `elixir lint.exs` would alone.
    pub fn lint(
        &mut self,
        ctx: &mut Exec,
        app: &Path,
        options: &lint::Options,
        files: &[PathBuf],
    ) -> Result<lint::Report> {
        lint::write_script(app)?;
        let args = lint::lint_args(Path::new(""), options, files);
        let mut joined = Vec::new();
        for arg in args.iter().skip(1) {
            joined.extend_from_slice(arg.as_bytes());
            joined.push(0);
        }
        std::fs::write(app.join(LINT_ARGS), joined)
            .with_context(|| format!("write {LINT_ARGS}"))?;
        self.child
            .send(&format!("lint {} {LINT_ARGS}", lint::SCRIPT))?;
        let mut records = Vec::new();
        self.answer(ctx, COMMAND, &mut records)
            .context("the migration lint failed in the migrate session")?;
        lint::parse_report(&records.join("\n"))
    }

    /// Ends the session cleanly (`quit`), or kills it.
    pub fn quit(mut self) {
        let _ = self.child.send("quit");
        self.child.finish(Duration::from_secs(30));
    }

    /// Logs the app's output until the next tagged line, which it returns
    /// without the tag; an `error` answer is the error. The lint's records
    /// on the way go to `records`.
    fn answer(
        &mut self,
        ctx: &mut Exec,
        within: Duration,
        records: &mut Vec<String>,
    ) -> Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let Some(line) = self.child.next_line(deadline)? else {
                bail!("the migrate session exited before it answered (its output is above)");
            };
            let Some(answer) = line.strip_prefix(TAG) else {
                ctx.log(line);
                continue;
            };
            if let Some(record) = answer.strip_prefix(LINT) {
                records.push(record.to_string());
                continue;
            }
            if let Some(message) = answer.strip_prefix("error ") {
                bail!("{message}");
            }
            return Ok(answer.to_string());
        }
    }
}

/// `ok 20240101000000 …` as versions.
fn parse_ok(answer: &str) -> Result<Vec<i64>> {
    let mut words = answer.split_whitespace();
    if words.next() != Some("ok") {
        bail!("the migrate session answered `{answer}`, expected `ok …`");
    }
    words
        .map(|w| w.parse().with_context(|| format!("`{w}` is not a version")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_the_command() {
        assert_eq!(parse_ok("ok").unwrap(), Vec::<i64>::new());
        assert_eq!(
            parse_ok("ok 20240101000000 20240201000000").unwrap(),
            [20240101000000, 20240201000000]
        );
        assert!(parse_ok("ready X").is_err());
        let cmd = command(
            Path::new("/app"),
            "Ecto.Migrator",
            Path::new("/app/priv/repo/migrations"),
        );
        assert_eq!(
            cmd.describe(Path::new("/app")),
            "$ mix run --no-start _build/xtask/migration_session.exs Ecto.Migrator /app/priv/repo/migrations"
        );
    }
}
