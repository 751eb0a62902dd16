//! Judging what the probes found: each pin compared with the version on
//! PATH, and what a mismatch or a missing tool means here (inside the Nix
//! dev shell or outside it), and what fixes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::probe::{self, Probe};
use crate::docker;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub check: &'static str,
    pub found: bool,
    pub path: Option<PathBuf>,
    pub version: Option<String>,
    pub pin: Option<String>,
    /// `None` when there is nothing to compare.
    pub matches: Option<bool>,
    pub level: Level,
    /// What is wrong (empty when all is well).
    pub note: String,
    /// How to put it right.
    pub fix: String,
}

impl Row {
    pub fn new(check: &'static str, probe: &Probe) -> Row {
        let found = probe.path.is_some();
        let (version, path) = (probe.version.clone(), probe.path.clone());
        Row {
            check,
            found,
            path,
            version,
            pin: None,
            matches: None,
            level: Level::Ok,
            note: String::new(),
            fix: String::new(),
        }
    }

    pub fn problem(mut self, level: Level, note: impl Into<String>, fix: impl Into<String>) -> Row {
        self.level = level;
        self.note = note.into();
        self.fix = fix.into();
        self
    }
}

pub struct Report {
    pub rows: Vec<Row>,
    pub in_nix: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn count(&self, level: Level) -> usize {
        self.rows.iter().filter(|r| r.level == level).count()
    }
}

/// Below this, pulling the service images and building a release image
/// may fail half-way.
const MIN_FREE: u64 = 2 << 30;

/// How a pin is compared: the same release series, or at least that version.
#[derive(Clone, Copy)]
pub enum Pin {
    Series,
    AtLeast,
}

pub enum Need {
    /// Nothing in `ci` works without it.
    Required,
    /// Some steps need it; the reason says which.
    Optional(&'static str),
}

pub struct Judge {
    pub in_nix: bool,
}

const NIX: &str = "enter the dev shell with `nix develop`";

impl Judge {
    /// Inside the dev shell the pins are a promise, so breaking one is an
    /// error; outside it they are advice.
    fn mismatch_level(&self) -> Level {
        if self.in_nix {
            Level::Error
        } else {
            Level::Warning
        }
    }

    /// A tool with a pin in xtask.toml's `[toolchain] key`.
    pub fn pinned(&self, p: &Probe, key: &'static str, pin: &str, how: Pin, need: Need) -> Row {
        let check = if key == "otp" { "erlang/OTP" } else { key };
        let mut row = Row::new(check, p);
        row.pin = Some(match how {
            Pin::Series => pin.to_string(),
            Pin::AtLeast => format!(">={pin}"),
        });
        let Some(path) = &p.path else {
            return match need {
                Need::Required => row.problem(
                    Level::Error,
                    "not on PATH",
                    format!("{NIX}, or install {check} {pin}"),
                ),
                Need::Optional(why) => {
                    row.problem(self.mismatch_level(), format!("not on PATH ({why})"), NIX)
                }
            };
        };
        let Some(version) = &p.version else {
            let why = p.error.clone().unwrap_or_default();
            let note = format!("{} did not tell its version: {why}", path.display());
            return row.problem(Level::Warning, note, format!("reinstall it, or {NIX}"));
        };
        let ok = matches(version, pin, how);
        row.matches = Some(ok);
        match (ok, self.in_nix) {
            (true, _) => row,
            (false, true) => row.problem(
                Level::Error,
                format!("{version} at {} is not the pinned {pin}, inside the Nix shell", path.display()),
                "a tool from outside the dev shell comes first on PATH: remove its dir from PATH, or leave this shell and run `nix develop` again",
            ),
            (false, false) => row.problem(
                Level::Warning,
                format!("{version} is not the pinned {pin} (xtask.toml [toolchain] {key})"),
                format!("{NIX}, which has the pinned versions (outside it a mismatch is only a warning)"),
            ),
        }
    }

    /// A tool without a pin, which only has to be there.
    pub fn unpinned(&self, p: &Probe, check: &'static str, why: &str, fix: &str) -> Row {
        let row = Row::new(check, p);
        match (&p.path, &p.error) {
            (None, _) => row.problem(
                Level::Warning,
                format!("not on PATH ({why})"),
                format!("{fix}, or {NIX}"),
            ),
            (Some(path), Some(e)) => row.problem(
                Level::Warning,
                format!("{} did not tell its version: {e}", path.display()),
                format!("reinstall it, or {NIX}"),
            ),
            _ => row,
        }
    }
}

/// `version` is in the series `pin` names (`1.15` takes 1.15.x), or for an
/// `AtLeast` pin, not older than it (`20` takes 20.x and 22.x).
fn matches(version: &str, pin: &str, how: Pin) -> bool {
    let nums = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (v, p) = (nums(version), nums(pin));
    let head: Vec<u64> = (0..p.len())
        .map(|i| v.get(i).copied().unwrap_or(0))
        .collect();
    match how {
        Pin::Series => head == p,
        Pin::AtLeast => head >= p,
    }
}

pub fn daemon_row(where_: &str, daemon: &Result<docker::Info, String>) -> Row {
    let mut row = Row::new("docker daemon", &Probe::default());
    row.path = Some(PathBuf::from(where_));
    match daemon {
        Ok(d) => {
            row.found = true;
            row.version = Some(d.version.clone());
            row
        }
        // A warning: only the docker service backend needs the daemon, and
        // `test` says so itself when it is chosen.
        Err(e) => row.problem(
            Level::Warning,
            format!("unreachable at {where_}: {e}"),
            "start it (`sudo systemctl start docker`), or point DOCKER_HOST at a running daemon",
        ),
    }
}

pub fn disk_row(docker_root: Option<PathBuf>, app: &Path) -> Row {
    let dir = docker_root
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| app.to_path_buf());
    let mut row = Row::new("disk space", &Probe::default());
    row.pin = Some(format!(">={}", gib(MIN_FREE)));
    row.path = Some(dir.clone());
    match probe::free_bytes(&dir) {
        Ok(free) => {
            row.found = true;
            row.version = Some(format!("{} free", gib(free)));
            row.matches = Some(free >= MIN_FREE);
            match free >= MIN_FREE {
                true => row,
                false => row.problem(
                    Level::Warning,
                    format!(
                        "only {} free on {}: images need room",
                        gib(free),
                        dir.display()
                    ),
                    "free some space, e.g. with `docker system prune`",
                ),
            }
        }
        Err(e) => row.problem(
            Level::Warning,
            format!("cannot measure {}: {e}", dir.display()),
            "check that the app dir is readable",
        ),
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

pub fn app_row(app: &Path) -> Row {
    let mut row = Row::new("app dir", &Probe::default());
    row.path = Some(app.to_path_buf());
    let fix = "point --app-dir, or app_dir in xtask.toml, at the Phoenix app";
    if !app.join("mix.exs").is_file() {
        let what = if app.is_dir() {
            "has no mix.exs"
        } else {
            "does not exist"
        };
        return row.problem(Level::Error, format!("{} {what}", app.display()), fix);
    }
    match crate::mixproj::MixProject::read(app) {
        Ok(p) => {
            row.found = true;
            row.version = Some(format!(":{}", p.app));
            row
        }
        Err(e) => row.problem(Level::Error, format!("{e:#}"), fix),
    }
}

/// Flakes need Nix 2.4 or newer; an older nix cannot enter the dev shell.
const NIX_FLAKES: &str = "2.4";

pub fn nix_row(judge: &Judge, p: &Probe) -> Row {
    let mut row = Row::new("nix", p);
    row.pin = Some(format!(">={NIX_FLAKES}"));
    let Some(version) = &p.version else {
        return judge.unpinned(
            p,
            "nix",
            "the dev shell needs it",
            "install Nix (nixos.org/download)",
        );
    };
    let ok = matches(version, NIX_FLAKES, Pin::AtLeast);
    row.matches = Some(ok);
    match ok {
        true => row,
        false => row.problem(
            Level::Warning,
            format!("{version} predates flakes (2.4)"),
            "upgrade Nix to 2.4 or newer, and enable flakes (`experimental-features = nix-command flakes`)",
        ),
    }
}

/// The flake must take its versions from xtask.toml's [toolchain], which
/// is what makes the dev shell and the pins one source; it is read, not
/// evaluated (nixpkgs may be out of reach).
pub fn flake_row(root: &Path) -> Row {
    let mut row = Row::new("flake pins", &Probe::default());
    let flake = root.join("flake.nix");
    row.path = Some(flake.clone());
    let Ok(text) = std::fs::read_to_string(&flake) else {
        return row.problem(
            Level::Warning,
            "no flake.nix beside xtask.toml",
            "run `cargo xtask init` to write one that reads xtask.toml's [toolchain]",
        );
    };
    row.found = true;
    let reads = text.contains("builtins.fromTOML")
        && text.contains("xtask.toml")
        && text.contains("toolchain");
    row.matches = Some(reads);
    row.version = Some(if reads {
        "reads xtask.toml".into()
    } else {
        "own versions".into()
    });
    match reads {
        true => row,
        false => row.problem(
            Level::Warning,
            "flake.nix does not read [toolchain] from xtask.toml, so its versions can drift from the pins",
            "take the versions from `(builtins.fromTOML (builtins.readFile ./xtask.toml)).toolchain`, as the flake `cargo xtask init` writes does",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_match_a_series_or_a_minimum() {
        let cases = [
            ("1.15.7", "1.15", Pin::Series, true),
            ("1.14.0", "1.15", Pin::Series, false),
            ("1.150.0", "1.15", Pin::Series, false),
            ("26.2.5", "26", Pin::Series, true),
            ("25.2.3", "26", Pin::Series, false),
            ("20.20.2", "20", Pin::AtLeast, true),
            ("22.1.0", "20", Pin::AtLeast, true),
            ("18.19.0", "20", Pin::AtLeast, false),
            ("16", "16", Pin::Series, true),
        ];
        for (v, pin, how, want) in cases {
            assert_eq!(matches(v, pin, how), want, "{v} vs {pin}");
        }
    }

    #[test]
    fn a_mismatch_is_an_error_only_inside_nix() {
        let p = Probe {
            path: Some("/usr/bin/elixir".into()),
            version: Some("1.14.0".into()),
            error: None,
        };
        let outside =
            Judge { in_nix: false }.pinned(&p, "elixir", "1.15", Pin::Series, Need::Required);
        assert_eq!(
            (outside.level, outside.matches),
            (Level::Warning, Some(false))
        );
        assert!(outside.fix.contains("nix develop"), "{}", outside.fix);
        let inside =
            Judge { in_nix: true }.pinned(&p, "elixir", "1.15", Pin::Series, Need::Required);
        assert_eq!(inside.level, Level::Error);
        assert!(inside.note.contains("/usr/bin/elixir"), "{}", inside.note);
    }

    #[test]
    fn a_missing_required_tool_is_always_an_error() {
        let none = Probe::default();
        let row = Judge { in_nix: false }.pinned(&none, "otp", "26", Pin::Series, Need::Required);
        assert_eq!(
            (row.check, row.level, row.found),
            ("erlang/OTP", Level::Error, false)
        );
        let row =
            Judge { in_nix: false }.pinned(&none, "node", "20", Pin::AtLeast, Need::Optional("x"));
        assert_eq!(row.level, Level::Warning);
        let row =
            Judge { in_nix: true }.pinned(&none, "node", "20", Pin::AtLeast, Need::Optional("x"));
        assert_eq!(row.level, Level::Error);
    }
}
