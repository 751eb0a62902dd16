//! Whether `npm ci` would install nothing new, decided from files alone.
//!
//! `npm ci` always deletes node_modules and installs the locked tree again,
//! so a warm run pays for a full install to end where it began. We skip it
//! when all of these hold, and run it when any does not or cannot be read:
//!
//! - package.json asks for what package-lock.json's root entry records
//!   (`npm ci` itself fails when the two are out of sync, and this keeps
//!   that failure);
//! - npm would trust its hidden lockfile, `node_modules/.package-lock.json`,
//!   by its own rule (arborist's `Shrinkwrap.load`, `assertNoNewer`): no
//!   package folder is newer than it, every folder is listed in it and
//!   every listed folder exists;
//! - the hidden lockfile records the locked tree: each of its entries is
//!   package-lock.json's entry, and a locked package it lacks is optional
//!   (npm skips optional packages built for other platforms).
//!
//! Workspaces, linked packages and npm-shrinkwrap.json always run `npm ci`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::plan::GuardFn;

/// What the skipped line and the report's row say.
pub const IN_SYNC: &str = "node_modules in sync with package-lock.json";

/// The guard of `npm ci` in `dir` (the dir of package.json).
pub fn fresh(dir: PathBuf) -> GuardFn {
    Box::new(move |_| check(&dir).ok().map(|()| IN_SYNC.to_string()))
}

type Packages = Map<String, Value>;

/// Ok when `npm ci` in `dir` would install the tree node_modules holds;
/// else why not.
pub fn check(dir: &Path) -> Result<(), String> {
    if dir.join("npm-shrinkwrap.json").exists() {
        return Err("npm-shrinkwrap.json takes the lock's place".into());
    }
    let package = read(&dir.join("package.json"))?;
    if package.get("workspaces").is_some() {
        return Err("package.json has workspaces".into());
    }
    let lock = packages(&dir.join("package-lock.json"))?;
    let root = lock.get("").ok_or("package-lock.json has no root entry")?;
    for field in [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        if specs(&package, field) != specs(root, field) {
            return Err(format!(
                "package.json's {field} differ from package-lock.json's"
            ));
        }
    }
    if lock.values().any(|e| e.get("link").is_some()) {
        return Err("package-lock.json has linked packages".into());
    }
    let hidden_file = dir.join("node_modules/.package-lock.json");
    let hidden = packages(&hidden_file)?;
    trusted(dir, &hidden_file, &hidden)?;
    for (loc, entry) in &hidden {
        if lock.get(loc) != Some(entry) {
            return Err(format!("{loc} is not the locked one"));
        }
    }
    for (loc, entry) in lock.iter().filter(|(loc, _)| !loc.is_empty()) {
        let optional = ["optional", "devOptional"]
            .iter()
            .any(|k| entry.get(*k) == Some(&Value::Bool(true)));
        if !hidden.contains_key(loc) && !optional {
            return Err(format!("{loc} is not installed"));
        }
    }
    Ok(())
}

fn read(file: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// The `packages` map of a lockfile (lockfileVersion 2 or 3).
fn packages(file: &Path) -> Result<Packages, String> {
    match read(file)? {
        Value::Object(mut o) => match o.remove("packages") {
            Some(Value::Object(p)) => Ok(p),
            _ => Err(format!("{} has no packages map", file.display())),
        },
        _ => Err(format!("{} is not an object", file.display())),
    }
}

/// A dependency field; absent and empty are the same request.
fn specs<'a>(entry: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
    entry
        .get(field)
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
}

/// npm's `assertNoNewer`: the hidden lockfile is newer (give or take its
/// 10 ms of jitter) than every package folder under node_modules, lists
/// each of them, and each folder it lists was seen.
fn trusted(dir: &Path, hidden_file: &Path, hidden: &Packages) -> Result<(), String> {
    let modified = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let limit = modified(hidden_file)? + Duration::from_millis(10);
    let mut seen = BTreeSet::new();
    let mut todo = vec!["node_modules".to_string()];
    while let Some(rel) = todo.pop() {
        let path = dir.join(&rel);
        if modified(&path)? > limit {
            return Err(format!("{rel} changed after the last install"));
        }
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        let parent = name == "node_modules" || name.starts_with('@');
        if !parent && !hidden.contains_key(&rel) {
            return Err(format!("{rel} is not in the hidden lockfile"));
        }
        seen.insert(rel.clone());
        let children = match parent {
            true => rel.clone(),
            false => format!("{rel}/node_modules"),
        };
        for entry in std::fs::read_dir(dir.join(&children)).into_iter().flatten() {
            let entry = entry.map_err(|e| e.to_string())?;
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            let child = entry.file_name().to_string_lossy().into_owned();
            if kind.is_symlink() {
                return Err(format!("{children}/{child} is a link"));
            }
            if kind.is_dir() && !child.starts_with('.') {
                todo.push(format!("{children}/{child}"));
            }
        }
    }
    match hidden.keys().find(|loc| !seen.contains(*loc)) {
        Some(loc) => Err(format!("{loc} is missing from node_modules")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    /// Stamps `file` with `at`, for the mtime cases.
    fn touch(file: &Path, at: SystemTime) {
        std::fs::File::options()
            .append(true)
            .open(file)
            .and_then(|f| f.set_modified(at))
            .unwrap();
    }

    const LOCK: &str = r#"{"name":"a","lockfileVersion":3,"requires":true,"packages":{
        "":{"name":"a","devDependencies":{"esbuild":"^0.28.2"}},
        "node_modules/esbuild":{"version":"0.28.2","dev":true,"optionalDependencies":{"@esbuild/linux-x64":"0.28.2","@esbuild/darwin-arm64":"0.28.2"}},
        "node_modules/@esbuild/linux-x64":{"version":"0.28.2","dev":true,"optional":true},
        "node_modules/@esbuild/darwin-arm64":{"version":"0.28.2","dev":true,"optional":true}}}"#;

    /// An installed tree as `npm ci` leaves it on linux-x64.
    fn installed() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(
            d.join("package.json"),
            r#"{"name":"a","devDependencies":{"esbuild":"^0.28.2"}}"#,
        )
        .unwrap();
        std::fs::write(d.join("package-lock.json"), LOCK).unwrap();
        for p in ["esbuild", "@esbuild/linux-x64", ".bin"] {
            std::fs::create_dir_all(d.join("node_modules").join(p)).unwrap();
        }
        let lock: Value = serde_json::from_str(LOCK).unwrap();
        let mut hidden = lock["packages"].as_object().unwrap().clone();
        hidden.remove("");
        hidden.remove("node_modules/@esbuild/darwin-arm64");
        std::fs::write(
            d.join("node_modules/.package-lock.json"),
            serde_json::json!({"name":"a","lockfileVersion":3,"packages":hidden}).to_string(),
        )
        .unwrap();
        // The hidden lockfile is written last.
        touch(
            &d.join("node_modules/.package-lock.json"),
            SystemTime::now() + Duration::from_secs(1),
        );
        t
    }

    #[test]
    fn an_installed_tree_is_in_sync_without_other_platforms_packages() {
        let t = installed();
        assert_eq!(check(t.path()), Ok(()));
    }

    #[test]
    fn a_missing_folder_a_newer_folder_and_an_extra_folder_each_run_npm_ci() {
        let t = installed();
        std::fs::remove_dir_all(t.path().join("node_modules/@esbuild/linux-x64")).unwrap();
        assert_eq!(
            check(t.path()),
            Err("node_modules/@esbuild/linux-x64 is missing from node_modules".into())
        );

        let t = installed();
        let later = SystemTime::now() + Duration::from_secs(60);
        std::fs::create_dir_all(t.path().join("node_modules/esbuild/lib")).unwrap();
        std::fs::File::open(t.path().join("node_modules/esbuild"))
            .and_then(|f| f.set_modified(later))
            .unwrap();
        assert_eq!(
            check(t.path()),
            Err("node_modules/esbuild changed after the last install".into())
        );

        let t = installed();
        std::fs::create_dir_all(t.path().join("node_modules/left-pad")).unwrap();
        touch(
            &t.path().join("node_modules/.package-lock.json"),
            SystemTime::now() + Duration::from_secs(1),
        );
        assert_eq!(
            check(t.path()),
            Err("node_modules/left-pad is not in the hidden lockfile".into())
        );
    }

    #[test]
    fn a_changed_package_json_or_lock_runs_npm_ci() {
        let t = installed();
        std::fs::write(
            t.path().join("package.json"),
            r#"{"name":"a","devDependencies":{"esbuild":"^0.29.0"}}"#,
        )
        .unwrap();
        assert_eq!(
            check(t.path()),
            Err("package.json's devDependencies differ from package-lock.json's".into())
        );

        let t = installed();
        let bumped = LOCK.replace(
            r#""node_modules/esbuild":{"version":"0.28.2""#,
            r#""node_modules/esbuild":{"version":"0.28.3""#,
        );
        std::fs::write(t.path().join("package-lock.json"), bumped).unwrap();
        assert_eq!(
            check(t.path()),
            Err("node_modules/esbuild is not the locked one".into())
        );

        let t = installed();
        std::fs::remove_file(t.path().join("node_modules/.package-lock.json")).unwrap();
        assert!(check(t.path()).is_err());
    }

    #[test]
    fn workspaces_run_npm_ci() {
        let t = installed();
        std::fs::write(
            t.path().join("package.json"),
            r#"{"name":"a","workspaces":["x"],"devDependencies":{"esbuild":"^0.28.2"}}"#,
        )
        .unwrap();
        assert_eq!(check(t.path()), Err("package.json has workspaces".into()));
    }
}
