//! Whether `mix deps.get` would fetch nothing, decided from files alone, as
//! Mix decides it (`Mix.Dep.Fetcher`: a dep is fetched when it is
//! unavailable or its lock status is a mismatch, outdated or missing):
//!
//! - a hex entry of mix.lock is in sync when `deps/<app>/.hex` (the manifest
//!   Hex writes on checkout, Erlang term format) names the same package,
//!   version, checksums and repo (`Hex.SCM.lock_status/1`);
//! - a git entry is in sync when `deps/<app>/.git/HEAD` is the locked
//!   revision and the origin url is the locked url (`Mix.SCM.Git`);
//! - what mix.lock cannot show (a dep added to mix.exs and not locked yet,
//!   git options changed in mix.exs) is caught by a stamp: a hash of
//!   mix.exs, mix.lock and the path deps' mix.exs, written into `deps/`
//!   after each `mix deps.get`. Anything we cannot read runs `deps.get`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::terms::{parse, Etf, EtfReader, Term};
use crate::exec::Exec;
use crate::ids::fnv;
use crate::plan::{Action, GuardFn};

/// Beside the deps it describes: removing `deps/` removes the stamp too.
const STAMP: &str = ".xtask-deps-get";

/// The guard of `mix deps.get`: "deps in sync" when it would fetch nothing.
pub fn fresh(app: PathBuf) -> GuardFn {
    Box::new(move |ctx: &Exec| {
        let deps = deps_dir(&app, ctx.env_snapshot().get("MIX_DEPS_PATH"));
        check(&app, &deps).ok().map(|()| "deps in sync".to_string())
    })
}

/// After `mix deps.get` (or its skip): the stamp of what it fetched for.
pub fn record(app: PathBuf) -> Action {
    Action::Native {
        describe: format!("record mix.exs and mix.lock in deps/{STAMP}"),
        run: Box::new(move |ctx| {
            let deps = deps_dir(&app, ctx.env_snapshot().get("MIX_DEPS_PATH"));
            std::fs::create_dir_all(&deps).with_context(|| format!("create {}", deps.display()))?;
            let file = deps.join(STAMP);
            std::fs::write(&file, stamp(&app)).with_context(|| format!("write {}", file.display()))
        }),
    }
}

/// Where Mix keeps the deps: `deps/`, or MIX_DEPS_PATH.
pub fn deps_dir(app: &Path, var: Option<&str>) -> PathBuf {
    match var {
        Some(dir) if !dir.is_empty() => app.join(dir),
        _ => app.join("deps"),
    }
}

/// Ok when `mix deps.get` would fetch nothing; else why it would.
pub fn check(app: &Path, deps: &Path) -> Result<(), String> {
    let mix_exs = std::fs::read_to_string(app.join("mix.exs")).map_err(|e| e.to_string())?;
    if mix_exs.contains("deps_path:") {
        return Err("mix.exs sets deps_path".into());
    }
    let stored = std::fs::read_to_string(deps.join(STAMP)).unwrap_or_default();
    if stored != stamp(app) {
        return Err("mix.exs or mix.lock changed since the last `mix deps.get`".into());
    }
    let Ok(lock) = std::fs::read_to_string(app.join("mix.lock")) else {
        return Ok(());
    };
    let Some(Term::Map(entries)) = parse(&lock) else {
        return Err("mix.lock is not a map we can read".into());
    };
    for (key, entry) in &entries {
        let (Term::Atom(name) | Term::Str(name)) = key else {
            return Err("mix.lock has a key that is not a name".into());
        };
        entry_in_sync(&deps.join(name), entry).map_err(|why| format!("{name}: {why}"))?;
    }
    Ok(())
}

fn entry_in_sync(dest: &Path, entry: &Term) -> Result<(), String> {
    let Term::Tuple(items) = entry else {
        return Err("not a tuple".into());
    };
    let text = |i: usize| match items.get(i) {
        Some(Term::Str(s) | Term::Atom(s)) => Some(s.as_str()),
        _ => None,
    };
    match text(0) {
        Some("hex") => {
            let lock = Manifest {
                name: text(1).ok_or("no package name")?.into(),
                version: text(2).ok_or("no version")?.into(),
                inner: text(3).ok_or("no checksum")?.into(),
                repo: text(6).unwrap_or("hexpm").into(),
                outer: text(7).filter(|o| *o != "nil").map(String::from),
            };
            hex_in_sync(dest, &lock)
        }
        Some("git") => git_in_sync(dest, text(1).ok_or("no url")?, text(2).ok_or("no rev")?),
        other => Err(format!("the {other:?} SCM is not one we check")),
    }
}

/// What Hex records of a package: in mix.lock and in `deps/<app>/.hex`.
#[derive(Debug, PartialEq)]
struct Manifest {
    name: String,
    version: String,
    inner: String,
    repo: String,
    outer: Option<String>,
}

fn hex_in_sync(dest: &Path, lock: &Manifest) -> Result<(), String> {
    if !dest.is_dir() {
        return Err("not fetched".into());
    }
    let bytes = std::fs::read(dest.join(".hex")).map_err(|_| "no .hex manifest".to_string())?;
    let have = manifest(&bytes).ok_or("a .hex manifest we cannot read")?;
    let outer_ok = match (&have.outer, &lock.outer) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let same = have.name == lock.name
        && have.version == lock.version
        && have.inner == lock.inner
        && have.repo == lock.repo
        && outer_ok;
    same.then_some(()).ok_or_else(|| {
        format!(
            "deps has {} {}, mix.lock {}",
            have.name, have.version, lock.version
        )
    })
}

/// `Hex.SCM.parse_manifest/1`: `{{:hex, 1 | 2, _}, map}` in Erlang's term
/// format, or the old `name,version,checksum,repo` text.
fn manifest(bytes: &[u8]) -> Option<Manifest> {
    if bytes.first() != Some(&131) {
        let text = std::str::from_utf8(bytes).ok()?;
        let first = text.trim().lines().next()?;
        let f: Vec<&str> = first.split(',').collect();
        return Some(Manifest {
            name: f.first()?.to_string(),
            version: f.get(1)?.to_string(),
            inner: f.get(2)?.to_string(),
            repo: f.get(3)?.to_string(),
            outer: None,
        });
    }
    let mut d = EtfReader { b: bytes, i: 1 };
    let Etf::Tuple(outer) = d.term()? else {
        return None;
    };
    let (Some(Etf::Tuple(tag)), Some(Etf::Map(map))) = (outer.first(), outer.get(1)) else {
        return None;
    };
    if tag.first() != Some(&Etf::Atom("hex".into())) {
        return None;
    }
    let field = |k: &str| {
        map.iter()
            .find(|(key, _)| *key == Etf::Atom(k.into()))
            .and_then(|(_, v)| v.text())
    };
    Some(Manifest {
        name: field("name")?,
        version: field("version")?,
        inner: field("inner_checksum")?,
        repo: field("repo")?,
        outer: field("outer_checksum").filter(|o| o != "nil"),
    })
}

fn git_in_sync(dest: &Path, url: &str, rev: &str) -> Result<(), String> {
    let git = dest.join(".git");
    let head = std::fs::read_to_string(git.join("HEAD")).map_err(|_| "not fetched".to_string())?;
    let head = head.trim();
    let at = match head.strip_prefix("ref: ") {
        Some(r) => resolve_ref(&git, r).ok_or("HEAD names a ref we cannot resolve")?,
        None => head.to_string(),
    };
    if at != rev {
        return Err(format!("checked out at {at}, mix.lock has {rev}"));
    }
    let config = std::fs::read_to_string(git.join("config")).unwrap_or_default();
    match origin_url(&config) {
        Some(u) if u == url => Ok(()),
        other => Err(format!("origin is {other:?}, mix.lock has {url}")),
    }
}

fn resolve_ref(git: &Path, name: &str) -> Option<String> {
    if let Ok(s) = std::fs::read_to_string(git.join(name)) {
        return Some(s.trim().to_string());
    }
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (sha, r) = l.split_once(' ')?;
        (r == name).then(|| sha.to_string())
    })
}

/// `url` under `[remote "origin"]` in a git config file.
fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_origin = line == "[remote \"origin\"]";
        } else if in_origin {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "url" {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// A hash of what decides which deps there are: mix.exs, mix.lock, and the
/// mix.exs of each path dep (its own deps are fetched for us too).
fn stamp(app: &Path) -> String {
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|_| b"none".to_vec());
    let mix_exs = read(&app.join("mix.exs"));
    let mut data = mix_exs.clone();
    data.extend(read(&app.join("mix.lock")));
    for dep in path_deps(&String::from_utf8_lossy(&mix_exs)) {
        data.extend(read(&app.join(dep).join("mix.exs")));
    }
    format!("xtask deps.get stamp 1: {:016x}\n", fnv(&data))
}

/// The `path: "…"` options in mix.exs.
pub fn path_deps(mix_exs: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = mix_exs;
    while let Some(i) = rest.find("path:") {
        let before = rest[..i].chars().next_back();
        let after = rest[i + 5..].trim_start();
        rest = &rest[i + 5..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(s) = after.strip_prefix('"') {
            if let Some(end) = s.find('"') {
                out.push(s[..end].to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `:erlang.term_to_binary({{:hex, 2, 0}, %{name: "jason", version:
    /// "1.4.1", inner_checksum: "af15", outer_checksum: "fbb0", repo:
    /// "hexpm", managers: [:mix]}})` on OTP 25, as Hex 2 writes `.hex`.
    const HEX_V2: &str = "836802680364000368657861026100740000000664000e696e6e65725f636865636b73756d6d00000004616631356400086d616e61676572736c000000016400036d69786a6400046e616d656d000000056a61736f6e64000e6f757465725f636865636b73756d6d00000004666262306400047265706f6d00000005686578706d64000776657273696f6e6d00000005312e342e31";
    /// The same as Hex 1 wrote it: no outer checksum, no managers.
    const HEX_V1: &str = "836802680364000368657861016100740000000564000e696e6e65725f636865636b73756d6d00000004616631356400086d616e61676572736a6400046e616d656d000000056a61736f6e6400047265706f6d00000005686578706d64000776657273696f6e6d00000005312e342e31";

    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    const LOCK: &str = "%{\n  \"jason\": {:hex, :jason, \"1.4.1\", \"af15\", [:mix], [], \"hexpm\", \"fbb0\"},\n}\n";

    /// An app whose mix.lock is `lock`, with `files` under it, stamped as
    /// after a `mix deps.get`.
    fn app(lock: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path();
        std::fs::write(a.join("mix.exs"), "deps: [{:jason, \"~> 1.4\"}]").unwrap();
        std::fs::write(a.join("mix.lock"), lock).unwrap();
        for (rel, data) in files {
            let p = a.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        std::fs::create_dir_all(a.join("deps")).unwrap();
        std::fs::write(a.join("deps").join(STAMP), stamp(a)).unwrap();
        dir
    }

    fn check_app(dir: &tempfile::TempDir) -> Result<(), String> {
        check(dir.path(), &dir.path().join("deps"))
    }

    #[test]
    fn a_hex_dep_is_in_sync_when_its_manifest_matches_the_lock() {
        let v2 = bytes(HEX_V2);
        assert_eq!(check_app(&app(LOCK, &[("deps/jason/.hex", &v2)])), Ok(()));
        // Hex 1's manifest has no outer checksum: the rest must match.
        let v1 = bytes(HEX_V1);
        assert_eq!(check_app(&app(LOCK, &[("deps/jason/.hex", &v1)])), Ok(()));
        // The old text manifest.
        let text = b"jason,1.4.1,af15,hexpm\nmix";
        assert_eq!(check_app(&app(LOCK, &[("deps/jason/.hex", text)])), Ok(()));
    }

    #[test]
    fn a_missing_or_other_version_runs_deps_get() {
        let err = check_app(&app(LOCK, &[])).unwrap_err();
        assert_eq!(err, "jason: not fetched");
        let newer = LOCK.replace("1.4.1", "1.4.2");
        let v2 = bytes(HEX_V2);
        let err = check_app(&app(&newer, &[("deps/jason/.hex", &v2)])).unwrap_err();
        assert_eq!(err, "jason: deps has jason 1.4.1, mix.lock 1.4.2");
        let other_outer = LOCK.replace("\"fbb0\"", "\"ffff\"");
        assert!(check_app(&app(&other_outer, &[("deps/jason/.hex", &v2)])).is_err());
        let err = check_app(&app(LOCK, &[("deps/jason/mix.exs", b"")])).unwrap_err();
        assert_eq!(err, "jason: no .hex manifest");
    }

    #[test]
    fn a_changed_mix_exs_runs_deps_get_once() {
        let v2 = bytes(HEX_V2);
        let dir = app(LOCK, &[("deps/jason/.hex", &v2)]);
        std::fs::write(
            dir.path().join("mix.exs"),
            "deps: [{:jason, \"~> 1.4\"}, {:plug, \"~> 1.0\"}]",
        )
        .unwrap();
        let err = check_app(&dir).unwrap_err();
        assert!(
            err.contains("changed since the last `mix deps.get`"),
            "{err}"
        );
        std::fs::write(dir.path().join("deps").join(STAMP), stamp(dir.path())).unwrap();
        assert_eq!(check_app(&dir), Ok(()));
    }

    #[test]
    fn a_git_dep_is_in_sync_at_the_locked_rev_and_origin() {
        let rev = "b5eeb52cc73d41d731790f2356569b6560db3f8d";
        let lock = format!("%{{\n  \"helper\": {{:git, \"https://example.com/helper.git\", \"{rev}\", [branch: \"main\"]}},\n}}\n");
        let config = "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://example.com/helper.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";
        let head = format!("{rev}\n");
        let files: [(&str, &[u8]); 2] = [
            ("deps/helper/.git/HEAD", head.as_bytes()),
            ("deps/helper/.git/config", config.as_bytes()),
        ];
        assert_eq!(check_app(&app(&lock, &files)), Ok(()));
        let moved = lock.replace(rev, "0000000000000000000000000000000000000000");
        assert!(check_app(&app(&moved, &files))
            .unwrap_err()
            .contains("checked out at b5ee"));
        let elsewhere = lock.replace("example.com", "example.org");
        assert!(check_app(&app(&elsewhere, &files))
            .unwrap_err()
            .contains("origin is"));
        // HEAD on a branch resolves through packed-refs.
        let packed = format!("# pack-refs with: peeled\n{rev} refs/heads/main\n");
        let on_branch: [(&str, &[u8]); 3] = [
            ("deps/helper/.git/HEAD", b"ref: refs/heads/main\n"),
            ("deps/helper/.git/config", config.as_bytes()),
            ("deps/helper/.git/packed-refs", packed.as_bytes()),
        ];
        assert_eq!(check_app(&app(&lock, &on_branch)), Ok(()));
    }

    #[test]
    fn without_a_lock_the_stamp_decides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mix.exs"), "deps: []").unwrap();
        let deps = dir.path().join("deps");
        assert!(check(dir.path(), &deps).is_err(), "never fetched");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(deps.join(STAMP), stamp(dir.path())).unwrap();
        assert_eq!(check(dir.path(), &deps), Ok(()));
    }

    #[test]
    fn path_deps_are_read_from_mix_exs() {
        let mix_exs = "[{:helper, path: \"../helper\"}, {:x, \"~> 1.0\"}], deps_path: \"d\", lockfile_path: \"q\"";
        assert_eq!(path_deps(mix_exs), ["../helper"]);
    }
}
