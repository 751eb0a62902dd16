//! Migrations in a deploy. The pending ones are the migration files the new
//! revision adds or changes since the live release's (from git, so no
//! database needs to be reachable from here); the lint reads them, and one
//! that breaks the code still serving (a removed or renamed column or
//! table) stops the deploy unless `--allow-breaking-migrations`. They run in
//! a one-off container of the new image before any traffic moves, so a
//! failed migration leaves the old release serving on the old schema.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use super::state;
use super::target::Target;
use crate::docker;
use crate::image::git;
use crate::migrations::lint;
use crate::run::Run;

/// The lint rules whose operations the old release, still serving while
/// the new one starts, cannot survive.
const BREAKING: [&str; 4] = [
    "column_removed",
    "column_renamed",
    "table_dropped",
    "table_renamed",
];

/// What is pending and what the lint says of it.
pub struct Pending {
    pub files: Vec<PathBuf>,
    pub findings: Vec<lint::Finding>,
    /// Since which revision; None on the first deploy.
    pub since: Option<String>,
}

/// The migration files added or changed since the live release.
pub fn pending(t: &Target, run: &Run, revision: &str) -> Result<Pending> {
    let app = run.app()?;
    let live = state::read(&run.root, &t.name)?
        .live()
        .map(|r| r.revision.clone())
        .filter(|r| !r.is_empty());
    let dir = app.join(&run.config.migrate.dir);
    let Some(since) = live else {
        return Ok(Pending {
            files: Vec::new(),
            findings: Vec::new(),
            since: None,
        });
    };
    let to = if revision.is_empty() {
        "HEAD"
    } else {
        revision
    };
    let Some(changed) = git::changed(&app, &since, to, &dir)? else {
        bail!("git does not know the live release's revision {since}: fetch it (`git fetch`), or check `cargo xtask deploy status {}`", t.name);
    };
    let top = git_root(&app);
    let files: Vec<PathBuf> = changed
        .iter()
        .map(|f| top.join(f))
        .filter(|f| f.extension().is_some_and(|e| e == "exs"))
        .collect();
    let findings = if files.is_empty() {
        Vec::new()
    } else {
        lint::write_script(&app)?;
        let rel: Vec<PathBuf> = files
            .iter()
            .map(|f| f.strip_prefix(&app).unwrap_or(f).to_path_buf())
            .collect();
        let options = lint::Options {
            postgres: &run.config.toolchain.postgres,
            lint_after: None,
            skip: &run.config.migrate.skip,
        };
        lint::run(&app, &options, &rel, Duration::from_secs(120))?.findings
    };
    Ok(Pending {
        files,
        findings,
        since: Some(since),
    })
}

fn git_root(app: &Path) -> PathBuf {
    app.ancestors()
        .find(|d| d.join(".git").exists())
        .map_or_else(|| app.to_path_buf(), Path::to_path_buf)
}

/// Refuses migrations that break the live release, unless allowed.
pub fn check_breaking(p: &Pending, allow: bool, log: &mut dyn FnMut(String)) -> Result<()> {
    let breaking: Vec<&lint::Finding> = p
        .findings
        .iter()
        .filter(|f| BREAKING.contains(&f.rule.as_str()))
        .collect();
    if breaking.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = breaking.iter().map(|f| f.to_string()).collect();
    if allow {
        log(format!(
            "running breaking migrations (--allow-breaking-migrations): {}",
            list.join("; ")
        ));
        return Ok(());
    }
    bail!(
        "pending migrations would break the release still serving while the new one starts: {}. \
         Deploy the code that stops using them first, then the migration (expand, then contract), or pass --allow-breaking-migrations",
        list.join("; ")
    )
}

/// `<image_command>` (bin/migrate) in a one-off container of `image` on
/// the first host, on the release's network, with the release's variables by name.
pub fn before_traffic(
    t: &Target,
    run: &Run,
    image: &str,
    log: &mut dyn FnMut(String),
) -> Result<()> {
    let command: Vec<&str> = run
        .config
        .migrate
        .image_command
        .split_whitespace()
        .collect();
    if command.is_empty() {
        return Ok(());
    }
    // Once, on the first host: the database is the environment's, not a
    // host's.
    // Named, so that a run cut short (Ctrl-C, the time limit) removes it
    // rather than leave it migrating on the host.
    let name = format!("{}-migrate-{}", t.label, std::process::id());
    let mut args: Vec<&str> = vec!["run", "--rm", "--name", &name, "--network", &t.network];
    for var in &t.env.env {
        args.extend(["-e", var]);
    }
    args.push(image);
    args.extend(&command);
    log(format!(
        "migrating: {} in a one-off container of {image}",
        command.join(" ")
    ));
    match docker::cli(&t.hosts[0], &args, Duration::from_secs(600)) {
        Ok(out) => {
            out.lines().for_each(|l| log(format!("  {l}")));
            Ok(())
        }
        Err(e) => {
            let _ = docker::cli_cleanup(&t.hosts[0], &["rm", "-f", &name], Duration::from_secs(60));
            bail!("the migrations failed, before any traffic moved (the live release is untouched): {e:#}")
        }
    }
}

/// The plan's line about migrations.
pub fn summary(p: &Pending, run: &Run) -> String {
    let Some(since) = &p.since else {
        return "the first deploy here: every migration runs, in a one-off container before traffic moves".into();
    };
    if p.files.is_empty() {
        return format!(
            "none pending since the live release ({})",
            &since[..since.len().min(12)]
        );
    }
    let names: Vec<String> = p
        .files
        .iter()
        .map(|f| {
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let lint = match p.findings.is_empty() {
        true => "lint: clean".to_string(),
        false => format!(
            "lint: {}",
            p.findings
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    let reversible = match crate::last_run::passed(&run.app, crate::ids::StepId::Migrations) {
        true => "reversible: `migrate check` passed in the last ci here",
        false => "reversible: not checked here yet (run `cargo xtask migrate check`)",
    };
    format!(
        "{} pending since {}: {}; {lint}; {reversible}",
        names.len(),
        &since[..since.len().min(12)],
        names.join(", ")
    )
}
