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
//! Linked packages (Phoenix's `"phoenix": "file:../deps/phoenix"`) are
//! followed as npm follows them: the folder a link points to is checked
//! too, so a dep that `mix deps.get` fetched again runs `npm ci`.
//! Workspaces and npm-shrinkwrap.json always run `npm ci`.
//!
//! The tree check alone cannot see how the tree was made: a node_modules
//! installed on another platform or Node (a mounted or restored folder), an
//! `npm ci` that failed in the root package's own install scripts after
//! npm wrote its hidden lockfile, or a package.json change the lock does
//! not record (`overrides`). So each `npm ci` that passes is recorded in a
//! stamp under `.xtask/npm-ci/`: the files npm read, the hidden lockfile it
//! wrote, the node and platform, and the variables that change what it
//! installs. The skip also needs the stamp to match.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use serde_json::{Map, Value};

use crate::env::Env;
use crate::ids::fnv;
use crate::plan::{Action, GuardFn};
use crate::proc::{self, Spawn};

/// What the skipped line and the report's row say.
pub const IN_SYNC: &str = "node_modules in sync with package-lock.json";

/// The variables that change what `npm ci` installs.
const NPM_VARS: [&str; 4] = [
    "NODE_ENV",
    "npm_config_omit",
    "npm_config_include",
    "npm_config_production",
];

/// Where the stamp of `dir`'s last passing `npm ci` lives, under the
/// project's `.xtask/`.
pub fn stamp_file(root: &Path, dir: &Path) -> PathBuf {
    let key = fnv(dir.as_os_str().as_encoded_bytes());
    root.join(".xtask/npm-ci").join(format!("{key:016x}"))
}

/// The guard of `npm ci` in `dir` (the dir of package.json).
pub fn fresh(dir: PathBuf, stamp_file: PathBuf) -> GuardFn {
    Box::new(move |ctx| {
        let recorded = std::fs::read_to_string(&stamp_file).ok()?;
        (stamp(&dir, ctx.env_snapshot())? == recorded).then_some(())?;
        check(&dir).ok().map(|()| IN_SYNC.to_string())
    })
}

/// After `npm ci` passed (or was skipped): its stamp.
pub fn record(dir: PathBuf, stamp_file: PathBuf) -> Action {
    Action::Native {
        describe: "record what this install was made from in .xtask/npm-ci/".into(),
        run: Box::new(move |ctx| {
            let Some(text) = stamp(&dir, ctx.env_snapshot()) else {
                return Ok(());
            };
            let parent = stamp_file.parent().expect("a file in a dir");
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create {}", parent.display()))?;
            std::fs::write(&stamp_file, text)
                .with_context(|| format!("write {}", stamp_file.display()))
        }),
    }
}

/// The stamp of the install node_modules holds now; None when node does
/// not answer.
fn stamp(dir: &Path, env: &Env) -> Option<String> {
    let args = ["--version".to_string()];
    let node = proc::read(&Spawn::new("node", &args), Duration::from_secs(10)).ok()?;
    Some(stamp_text(dir, env, node.trim()))
}

fn stamp_text(dir: &Path, env: &Env, node: &str) -> String {
    let mut text = format!(
        "node {node}\nplatform {}-{}\n",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    for name in [
        "package.json",
        "package-lock.json",
        ".npmrc",
        "node_modules/.package-lock.json",
    ] {
        let file = dir.join(name);
        let _ = match std::fs::read(&file) {
            Ok(bytes) => writeln!(text, "{name} {:016x} {}", fnv(&bytes), bytes.len()),
            Err(_) => writeln!(text, "{name} absent"),
        };
    }
    let written = std::fs::metadata(dir.join("node_modules/.package-lock.json"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let _ = writeln!(text, "hidden lockfile written {written}");
    for var in NPM_VARS {
        if let Some(v) = env.get(var) {
            let _ = writeln!(text, "{var}={v}");
        }
    }
    text
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
            let rel = format!("{children}/{child}");
            if kind.is_symlink() {
                // npm's `relpath(path, resolve(parent, readlink(child)))`.
                let link = std::fs::read_link(entry.path()).map_err(|e| e.to_string())?;
                let target = relative(dir, &dir.join(&children).join(link))
                    .ok_or_else(|| format!("{rel} points where npm cannot name"))?;
                seen.insert(rel);
                if dir.join(&target).is_dir() && !seen.contains(&target) {
                    todo.push(target);
                }
            } else if kind.is_dir() && !child.starts_with('.') {
                todo.push(rel);
            }
        }
    }
    match hidden.keys().find(|loc| !seen.contains(*loc)) {
        Some(loc) => Err(format!("{loc} is missing from node_modules")),
        None => Ok(()),
    }
}

/// `to` relative to `from`, both made absolute and free of `.` and `..`
/// by their text alone (as node's `path.relative`), with `/` between parts.
fn relative(from: &Path, to: &Path) -> Option<String> {
    fn parts(p: &Path) -> Option<Vec<Component<'_>>> {
        let mut out = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop()?;
                }
                c => out.push(c),
            }
        }
        Some(out)
    }
    let cwd = std::env::current_dir().ok()?;
    let (from, to) = (cwd.join(from), cwd.join(to));
    let (from, to) = (parts(&from)?, parts(&to)?);
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let up = std::iter::repeat_n("..".to_string(), from.len() - common);
    let down = to[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    Some(up.chain(down).collect::<Vec<_>>().join("/"))
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

    /// Phoenix's layout: `assets/` links `phoenix` from `../deps/phoenix`.
    fn linked() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let (root, dir) = (t.path(), t.path().join("assets"));
        std::fs::create_dir_all(root.join("deps/phoenix")).unwrap();
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        std::fs::write(
            dir.join("package.json"),
            r#"{"name":"app","dependencies":{"phoenix":"file:../deps/phoenix"}}"#,
        )
        .unwrap();
        let entries = r#""../deps/phoenix":{"version":"1.7.14"},"node_modules/phoenix":{"resolved":"../deps/phoenix","link":true}"#;
        std::fs::write(
            dir.join("package-lock.json"),
            format!(r#"{{"lockfileVersion":3,"packages":{{"":{{"name":"app","dependencies":{{"phoenix":"file:../deps/phoenix"}}}},{entries}}}}}"#),
        )
        .unwrap();
        std::os::unix::fs::symlink("../../deps/phoenix", dir.join("node_modules/phoenix")).unwrap();
        let hidden = dir.join("node_modules/.package-lock.json");
        std::fs::write(
            &hidden,
            format!(r#"{{"lockfileVersion":3,"packages":{{{entries}}}}}"#),
        )
        .unwrap();
        touch(&hidden, SystemTime::now() + Duration::from_secs(1));
        t
    }

    #[test]
    fn a_link_into_deps_is_followed_as_npm_follows_it() {
        let t = linked();
        let dir = t.path().join("assets");
        assert_eq!(check(&dir), Ok(()));

        // `mix deps.get` fetched the dep again: its folder is newer.
        let later = SystemTime::now() + Duration::from_secs(60);
        std::fs::File::open(t.path().join("deps/phoenix"))
            .and_then(|f| f.set_modified(later))
            .unwrap();
        assert_eq!(
            check(&dir),
            Err("../deps/phoenix changed after the last install".into())
        );

        std::fs::remove_dir_all(t.path().join("deps/phoenix")).unwrap();
        assert_eq!(
            check(&dir),
            Err("../deps/phoenix is missing from node_modules".into())
        );
    }

    #[test]
    fn relative_names_what_npm_names() {
        let rel = relative(
            Path::new("/a/assets"),
            Path::new("/a/assets/node_modules/../../deps/x"),
        );
        assert_eq!(rel.as_deref(), Some("../deps/x"));
        let rel = relative(
            Path::new("/a/assets"),
            Path::new("/a/assets/node_modules/y"),
        );
        assert_eq!(rel.as_deref(), Some("node_modules/y"));
    }

    #[test]
    fn the_stamp_changes_with_what_changes_the_install() {
        let t = installed();
        let d = t.path();
        let env = Env::default();
        let base = stamp_text(d, &env, "v20.19.2");
        assert_eq!(stamp_text(d, &env, "v20.19.2"), base);
        assert_ne!(stamp_text(d, &env, "v22.1.0"), base, "another node");
        let prod = Env::from_pairs(&[("NODE_ENV", "production")]);
        assert_ne!(stamp_text(d, &prod, "v20.19.2"), base, "NODE_ENV");
        // `overrides` is not in the lock's root entry; the file's hash is.
        std::fs::write(
            d.join("package.json"),
            r#"{"name":"a","devDependencies":{"esbuild":"^0.28.2"},"overrides":{"x":"1"}}"#,
        )
        .unwrap();
        let changed = stamp_text(d, &env, "v20.19.2");
        assert_ne!(changed, base, "package.json");
        // npm wrote its hidden lockfile again (another install).
        touch(
            &d.join("node_modules/.package-lock.json"),
            SystemTime::now() + Duration::from_secs(5),
        );
        assert_ne!(stamp_text(d, &env, "v20.19.2"), changed, "hidden lockfile");
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
