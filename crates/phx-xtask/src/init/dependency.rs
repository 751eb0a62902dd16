//! Where the thin crate `init` writes finds phx-xtask: a path to the
//! checkout `init` runs from, a git repository (`--git URL [--rev REV]`),
//! or a crates.io version (`--version V`); and the check that cargo
//! resolves it (`cargo metadata`) before `init` says it is done.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::cli::InitArgs;
use crate::env::Env;
use crate::proc::{self, Spawn};

/// How the thin crate depends on phx-xtask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A checkout of this repository, by absolute path.
    Path(PathBuf),
    Git {
        url: String,
        rev: Option<String>,
    },
    Version(String),
}

/// The library's own directory, as it was built: in a checkout of this
/// repository that is `<checkout>/crates/phx-xtask`.
const BUILT_FROM: &str = env!("CARGO_MANIFEST_DIR");

/// `--git` or `--version` when given; else the checkout this binary was
/// built from, when it is one (and not cargo's own copy of a registry or
/// git source); else this version from crates.io.
pub fn choose(args: &InitArgs, env: &Env) -> Source {
    if let Some(url) = &args.git {
        return Source::Git {
            url: url.clone(),
            rev: args.rev.clone(),
        };
    }
    if let Some(v) = &args.version {
        return Source::Version(v.clone());
    }
    match checkout(Path::new(BUILT_FROM), env) {
        Some(dir) => Source::Path(dir),
        None => Source::Version(env!("CARGO_PKG_VERSION").to_string()),
    }
}

/// `dir` when it is the library inside a git checkout outside cargo's home
/// (cargo's git checkouts under `~/.cargo/git` have a `.git` too).
fn checkout(dir: &Path, env: &Env) -> Option<PathBuf> {
    let root = dir.parent()?.parent()?;
    let cargo_home = env
        .get("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".cargo")));
    let in_cargo_home = cargo_home.is_some_and(|h| dir.starts_with(h));
    let ours = dir.join("Cargo.toml").is_file() && root.join(".git").exists();
    (ours && !in_cargo_home).then(|| dir.to_path_buf())
}

impl Source {
    /// The `phx-xtask = …` line for `[dependencies]`, with a comment that
    /// says where it points and how to change it.
    pub fn manifest_lines(&self) -> String {
        match self {
            Source::Path(dir) => format!(
                "# phx-xtask from the checkout `cargo xtask init` ran from. The path is this\n\
                 # machine's: for CI and teammates, rerun init with `--git URL [--rev REV]`\n\
                 # (or `--version V` once phx-xtask is on crates.io).\n\
                 phx-xtask = {{ path = {} }}\n",
                quoted(&dir.display().to_string())
            ),
            Source::Git { url, rev } => {
                let rev = rev
                    .as_ref()
                    .map(|r| format!(", rev = {}", quoted(r)))
                    .unwrap_or_default();
                format!(
                    "# phx-xtask from git; Cargo.lock pins the commit (`cargo update -p phx-xtask` moves it).\n\
                     phx-xtask = {{ git = {}{rev} }}\n",
                    quoted(url)
                )
            }
            Source::Version(v) => format!(
                "# phx-xtask from crates.io.\nphx-xtask = {{ version = {} }}\n",
                quoted(v)
            ),
        }
    }

    /// How `init` reports it.
    pub fn describe(&self) -> String {
        match self {
            Source::Path(dir) => format!("path {}", dir.display()),
            Source::Git { url, rev: Some(r) } => format!("git {url} at {r}"),
            Source::Git { url, rev: None } => format!("git {url}"),
            Source::Version(v) => format!("crates.io version {v}"),
        }
    }

    /// The checkout's Cargo.lock: the versions it builds and tests with,
    /// so a new repo resolves offline and its first build adds nothing new.
    pub fn lock_seed(&self) -> Option<PathBuf> {
        match self {
            Source::Path(dir) => {
                Some(dir.parent()?.parent()?.join("Cargo.lock")).filter(|lock| lock.is_file())
            }
            _ => None,
        }
    }
}

/// `host:` from `rustc -vV`: the platform cargo builds for by default.
fn host_triple(env: &Env) -> Option<String> {
    let rustc = env.get("RUSTC").unwrap_or("rustc");
    let args = ["-vV".to_string()];
    let out = proc::read(&Spawn::new(rustc, &args), Duration::from_secs(30)).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// `cargo metadata` on the thin crate: offline first (a path, or a source
/// cargo has fetched before); a git or registry source it has not fetched
/// is then resolved online, unless cargo is told to stay offline. Only
/// this machine's platform: every platform's packages (android's, say)
/// would have to be downloaded just to be read.
pub fn verify(repo: &Path, source: &Source, env: &Env) -> Result<()> {
    let cargo = env.get("CARGO").unwrap_or("cargo").to_string();
    let manifest = repo.join("xtask").join("Cargo.toml");
    let mut args: Vec<String> = ["metadata", "--format-version", "1", "--manifest-path"]
        .map(String::from)
        .to_vec();
    args.push(manifest.display().to_string());
    if let Some(host) = host_triple(env) {
        args.extend(["--filter-platform".to_string(), host]);
    }
    let attempt = |offline: bool| {
        let mut args = args.clone();
        if offline {
            args.push("--offline".into());
        }
        let spawn = Spawn {
            dir: repo,
            ..Spawn::new(&cargo, &args)
        };
        proc::output(&spawn, Duration::from_secs(300), |_| {})
    };
    let out = attempt(true)?;
    let online = !matches!(source, Source::Path(_)) && !env.is("CARGO_NET_OFFLINE", "true");
    let out = match (out.status.success(), online) {
        (false, true) => attempt(false)?,
        _ => out,
    };
    if out.status.success() {
        return Ok(());
    }
    let said = out.stderr.trim();
    let fix = match source {
        Source::Path(_) => "check that the checkout builds (`cargo build` in it)",
        Source::Git { .. } => "check the URL and the revision (`git ls-remote URL`)",
        Source::Version(_) => {
            "phx-xtask is not on crates.io yet: pass `--git URL [--rev REV]`, or run init from a checkout of phx-xtask"
        }
    };
    bail!(
        "cargo cannot resolve phx-xtask from {} (`cargo metadata` said: {said}); nothing was kept: {fix}",
        source.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dependency_line_for_each_source() {
        let path = Source::Path(PathBuf::from("/src/phx \"x\"/crates/phx-xtask"));
        assert!(path
            .manifest_lines()
            .ends_with("phx-xtask = { path = \"/src/phx \\\"x\\\"/crates/phx-xtask\" }\n"));
        assert!(path
            .manifest_lines()
            .starts_with("# phx-xtask from the checkout"));
        let git = Source::Git {
            url: "https://example.com/phx-xtask.git".into(),
            rev: Some("v0.2.0".into()),
        };
        assert!(git.manifest_lines().ends_with(
            "phx-xtask = { git = \"https://example.com/phx-xtask.git\", rev = \"v0.2.0\" }\n"
        ));
        let v = Source::Version("0.2.0".into());
        assert!(v
            .manifest_lines()
            .ends_with("phx-xtask = { version = \"0.2.0\" }\n"));
    }

    #[test]
    fn flags_win_then_the_checkout() {
        let env = Env::from_pairs(&[("HOME", "/nonexistent-home")]);
        let args = InitArgs {
            git: Some("https://example.com/x.git".into()),
            ..InitArgs::default()
        };
        assert!(matches!(choose(&args, &env), Source::Git { rev: None, .. }));
        let args = InitArgs {
            version: Some("1.0.0".into()),
            ..InitArgs::default()
        };
        assert_eq!(choose(&args, &env), Source::Version("1.0.0".into()));
        // This test runs from a checkout: the default is its path.
        assert_eq!(
            choose(&InitArgs::default(), &env),
            Source::Path(PathBuf::from(BUILT_FROM))
        );
        // Cargo's own copies (a git checkout under CARGO_HOME) are not one.
        let home = Path::new(BUILT_FROM).parent().unwrap().to_str().unwrap();
        let env = Env::from_pairs(&[("CARGO_HOME", home)]);
        assert_eq!(checkout(Path::new(BUILT_FROM), &env), None);
    }
}
