//! The app's migration files, found as `Ecto.Migrator` finds them (every
//! `*.exs` below the migrations dir, dotfiles such as `.formatter.exs`
//! aside) and held to the name `mix ecto.gen.migration` gives them:
//! `<14-digit version>_<name>.exs`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version as `schema_migrations` stores it (a bigint).
    pub version: i64,
    /// The file name after the version, without `.exs` (`add_posts`).
    pub name: String,
    pub path: PathBuf,
}

impl Migration {
    /// `20240101120000_add_posts.exs`, how errors and the summary name it.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Every migration under `dir`, oldest first. A missing dir has none; a
/// file with a bad name or a version used twice is an error naming it.
pub fn list(dir: &Path) -> Result<Vec<Migration>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths).with_context(|| format!("read {}", dir.display()))?;
    paths.sort();
    check_file_names(&paths)?;
    let mut found: Vec<Migration> = paths.into_iter().map(parse).collect();
    found.sort_by(|a, b| (a.version, &a.path).cmp(&(b.version, &b.path)));
    if let Some(pair) = found.windows(2).find(|w| w[0].version == w[1].version) {
        bail!(
            "two migrations have the version {}: {} and {}; give one of them a new version \
             (`mix ecto.gen.migration NAME` stamps the current time)",
            pair[0].version,
            pair[0].path.display(),
            pair[1].path.display()
        );
    }
    Ok(found)
}

/// `*.exs` below `dir`, in subdirectories too, skipping dotfiles as
/// `Path.wildcard` does.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "exs") {
            out.push(path);
        }
    }
    Ok(())
}

/// A path that `check_file_names` accepted.
fn parse(path: PathBuf) -> Migration {
    let base = path.file_name().unwrap_or_default().to_string_lossy();
    let (version, name) = base
        .trim_end_matches(".exs")
        .split_once('_')
        .expect("the name was checked");
    Migration {
        version: version.parse().expect("14 digits fit in an i64"),
        name: name.to_string(),
        path: path.clone(),
    }
}

/// Every migration must be named `<14-digit version>_<name>.exs`, as `mix
/// ecto.gen.migration` names them; all offenders are listed in one error.
pub fn check_file_names<P: AsRef<Path>>(paths: &[P]) -> Result<()> {
    let bad: Vec<String> = paths
        .iter()
        .map(AsRef::as_ref)
        .filter(|path| !is_migration_name(path))
        .map(|path| path.display().to_string())
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    bail!(
        "bad migration file name(s): {}; expected `<14-digit version>_<name>.exs` with a name of letters, digits and `_`, \
         e.g. `20240101120000_add_posts.exs` (`mix ecto.gen.migration add_posts` creates one)",
        bad.join(", ")
    )
}

fn is_migration_name(path: &Path) -> bool {
    let Some(base) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let Some(stem) = base.strip_suffix(".exs") else {
        return false;
    };
    let Some((version, name)) = stem.split_once('_') else {
        return false;
    };
    version.len() == 14
        && version.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A version as given on the command line (`rollback --to`): 14 digits.
pub fn parse_version(text: &str) -> Result<i64> {
    let text = text.trim();
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "`{text}` is not a migration version: give the 14 digits a file name starts with, \
             like 20240101120000 (`cargo xtask migrate status` lists them)"
        );
    }
    Ok(text.parse().expect("14 digits fit in an i64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let good = [
            "priv/repo/migrations/20240101120000_add_posts.exs",
            "20240101120000_AddPosts2.exs",
            "/abs/dir.with.dots/20991231235959_x.exs",
        ];
        assert!(check_file_names(&good).is_ok());

        for bad in [
            "2024_add_posts.exs",
            "202401011200000_add_posts.exs",
            "20240101120000add_posts.exs",
            "20240101120000_.exs",
            "20240101120000_add_posts.ex",
            "20240101120000_add-posts.exs",
            "2024010112000a_add_posts.exs",
            "add_posts.exs",
        ] {
            let err = check_file_names(&[good[0], bad]).unwrap_err().to_string();
            assert!(err.contains(bad) && !err.contains(good[0]), "{bad}: {err}");
            assert!(err.contains("`<14-digit version>_<name>.exs`"), "{err}");
        }
        assert!(check_file_names::<&str>(&[]).is_ok());
    }

    #[test]
    fn lists_every_bad_name() {
        let err = check_file_names(&["a.exs", "b.exs"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.exs, b.exs"), "{err}");
    }

    fn touch(dir: &Path, rel: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    #[test]
    fn lists_like_ecto_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "20240201000000_b.exs");
        touch(dir.path(), "sub/20240101000000_a.exs");
        // Ecto's wildcard skips dotfiles (Phoenix puts a .formatter.exs
        // there) and reads only .exs files.
        touch(dir.path(), ".formatter.exs");
        touch(dir.path(), "README.md");
        let found = list(dir.path()).unwrap();
        let got: Vec<(i64, &str)> = found.iter().map(|m| (m.version, m.name.as_str())).collect();
        assert_eq!(got, [(20240101000000, "a"), (20240201000000, "b")]);
        assert_eq!(found[0].file_name(), "20240101000000_a.exs");
        assert!(list(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn a_bad_name_or_a_duplicate_version_is_an_error_naming_the_files() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "20240101000000_a.exs");
        touch(dir.path(), "2024_oops.exs");
        let err = list(dir.path()).unwrap_err().to_string();
        assert!(err.contains("2024_oops.exs"), "{err}");
        std::fs::remove_file(dir.path().join("2024_oops.exs")).unwrap();
        touch(dir.path(), "20240101000000_again.exs");
        let err = list(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("two migrations have the version 20240101000000"),
            "{err}"
        );
        assert!(
            err.contains("_again.exs") && err.contains("_a.exs"),
            "{err}"
        );
    }

    #[test]
    fn versions_from_the_command_line() {
        assert_eq!(parse_version("20240101120000").unwrap(), 20240101120000);
        for bad in ["2024", "2024010112000a", "", "-20240101120000"] {
            let err = parse_version(bad).unwrap_err().to_string();
            assert!(err.contains("is not a migration version"), "{err}");
        }
    }
}
