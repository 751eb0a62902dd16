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

use crate::exec::Exec;
use crate::ids::fnv;
use crate::plan::{Action, GuardFn};
use super::terms::{parse, Etf, EtfReader, Term};

/// Beside the deps it describes: removing `deps/` removes the stamp too.
const STAMP: &str = ".xtask-deps-get";

/// The guard of `mix deps.get`: "deps in sync" when it would fetch nothing.
pub fn fresh(app: PathBuf) -> GuardFn {
    Box::new(move |ctx: &Exec| {
        let deps = deps_dir(&app, ctx.env_snapshot().get("MIX_DEPS_PATH"));
        check(&app, &deps)
            .ok()
            .map(|()| "deps in sync".to_string())
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

fn deps_dir(app: &Path, var: Option<&str>) -> PathBuf {
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
    same.then_some(())
        .ok_or_else(|| format!("deps has {} {}, mix.lock {}", have.name, have.version, lock.version))
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
