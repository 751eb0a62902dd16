//! `init`'s `[migrate] lint_after`: the migrations present when phx-xtask
//! is adopted ran in production long ago, so the lint starts after the
//! newest of them instead of failing the first `ci` on history.

use std::path::Path;

use crate::config::Migrate;
use crate::migrations::files;

/// The newest migration in the app's migrations dir, with how many there
/// are; None when there are none (or a file is misnamed: `migrate check`
/// names it then).
pub fn newest(app: &Path) -> Option<(i64, usize)> {
    let found = files::list(&app.join(Migrate::default().dir)).ok()?;
    found.last().map(|m| (m.version, found.len()))
}

/// The `[migrate]` section for xtask.toml.
pub fn section(version: i64) -> String {
    format!(
        "\n# The migrations present when `cargo xtask init` ran have run in production:\n\
         # the lint looks only at newer ones (`migrate check --all` still checks each\n\
         # one's down on a throwaway database).\n\
         [migrate]\nlint_after = \"{version}\"\n"
    )
}

/// What `init` says about it.
pub fn said(version: i64, count: usize) -> String {
    format!(
        "set [migrate] lint_after = \"{version}\" in xtask.toml: the {count} migration(s) present ran \
         already, so the lint looks only at newer ones"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_migration_becomes_lint_after() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(newest(dir.path()), None);
        let migrations = dir.path().join("priv/repo/migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        for name in [
            "20240101000000_a.exs",
            "20240301000000_c.exs",
            "20240201000000_b.exs",
        ] {
            std::fs::write(migrations.join(name), "").unwrap();
        }
        assert_eq!(newest(dir.path()), Some((20240301000000, 3)));
        let toml: toml::Value = toml::from_str(&section(20240301000000)).unwrap();
        assert_eq!(
            toml["migrate"]["lint_after"].as_str(),
            Some("20240301000000")
        );
        assert!(said(20240301000000, 3).contains("lint_after = \"20240301000000\""));
    }
}
