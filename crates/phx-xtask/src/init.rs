//! `cargo xtask init`: sets phx-xtask up in an existing Phoenix repo. It
//! writes xtask.toml (with the pins read from the app), the cargo alias,
//! the thin xtask crate, the flake and .envrc, and the CI workflow; it
//! refuses to overwrite anything without `--force`, and checks every
//! target before writing the first file; when cargo cannot resolve the
//! phx-xtask dependency it wrote, it puts every file back as it was.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::beam;
use crate::cli::InitArgs;
use crate::run::{Exit, Run};
use dependency::Source;

mod dependency;
mod lint_after;
mod workflow;

const FLAKE: &str = include_str!("../templates/flake.nix");
const ENVRC: &str = include_str!("../templates/envrc");

pub fn run(args: &InitArgs, run: &Run) -> Result<Exit> {
    let repo = match &args.repo {
        Some(r) => r.clone(),
        None => std::env::current_dir().context("read the current directory")?,
    };
    let app = find_app(&repo)?;
    let source = dependency::choose(args, &run.env);
    let pins = pins(&repo.join(&app), run);
    let files = files(&repo, &app, &source, &pins, args.legs)?;
    let taken: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.strip_prefix(&repo).unwrap_or(p).display().to_string())
        .collect();
    if !taken.is_empty() && !args.force {
        bail!(
            "{} already exist: nothing was written; move them away, or pass --force to overwrite them",
            taken.join(", ")
        );
    }
    let undo = Undo::before(&repo, &files);
    if let Err(e) = write_and_verify(&repo, &files, &source, run) {
        undo.restore();
        return Err(e);
    }
    ignore(&repo)?;
    eprintln!(
        "checked: cargo resolves phx-xtask from {}",
        source.describe()
    );
    eprintln!("{}", toolchains_line(&pins));
    if let Some((version, count)) = lint_after::newest(&repo.join(&app)) {
        eprintln!("{}", lint_after::said(version, count));
    }
    eprintln!("next: `cargo xtask ci` (or `nix develop --command cargo xtask ci`)");
    Ok(Exit::Passed)
}

fn write_and_verify(
    repo: &Path,
    files: &[(PathBuf, String)],
    source: &Source,
    run: &Run,
) -> Result<()> {
    for (path, text) in files {
        std::fs::create_dir_all(path.parent().expect("a file in a dir"))?;
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
        eprintln!(
            "wrote {}",
            path.strip_prefix(repo).unwrap_or(path).display()
        );
    }
    let lock = repo.join("Cargo.lock");
    if let (Some(seed), false) = (source.lock_seed(), lock.exists()) {
        std::fs::copy(&seed, &lock).with_context(|| format!("copy {}", seed.display()))?;
        eprintln!("wrote Cargo.lock (the versions the checkout builds with)");
    }
    dependency::verify(repo, source, &run.env)
}

/// What the files `init` writes were before, to put back when the
/// dependency does not resolve: the old text, or nothing (removed, with
/// the directories `init` created for them).
struct Undo {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    dirs: Vec<PathBuf>,
}

impl Undo {
    fn before(repo: &Path, files: &[(PathBuf, String)]) -> Undo {
        let mut paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        // `cargo metadata` writes the lock too.
        paths.push(repo.join("Cargo.lock"));
        let mut dirs: Vec<PathBuf> = paths
            .iter()
            .flat_map(|p| p.ancestors().skip(1).take_while(|d| *d != repo))
            .filter(|d| !d.exists())
            .map(Path::to_path_buf)
            .collect();
        // Deepest first, so each is empty when its turn comes.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        let files = paths.into_iter().map(|p| {
            let old = std::fs::read(&p).ok();
            (p, old)
        });
        Undo {
            files: files.collect(),
            dirs,
        }
    }

    fn restore(self) {
        for (path, old) in self.files {
            let _ = match old {
                Some(bytes) => std::fs::write(&path, bytes),
                None => std::fs::remove_file(&path),
            };
        }
        for dir in self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// What phx-xtask writes that is this machine's, never the repo's: added
/// to .gitignore (created if need be), each line once.
fn ignore(repo: &Path) -> Result<()> {
    let file = repo.join(".gitignore");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let missing: Vec<&str> = ["/target", "/.xtask", "xtask.local.toml"]
        .into_iter()
        .filter(|l| !text.lines().any(|have| have.trim() == *l))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut text = text;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(
        "# phx-xtask: build outputs, the record of images and deploys, machine-local config\n",
    );
    for l in &missing {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&file, text).with_context(|| format!("write {}", file.display()))?;
    eprintln!("added {} to .gitignore", missing.join(", "));
    Ok(())
}

/// The Mix project: the repo itself, or its one subdirectory with a mix.exs.
fn find_app(repo: &Path) -> Result<PathBuf> {
    if repo.join("mix.exs").is_file() {
        return Ok(PathBuf::from("."));
    }
    let found: Vec<PathBuf> = std::fs::read_dir(repo)
        .with_context(|| format!("read {}", repo.display()))?
        .flatten()
        .filter(|e| e.path().join("mix.exs").is_file())
        .map(|e| PathBuf::from(e.file_name()))
        .collect();
    match &found[..] {
        [one] => Ok(one.clone()),
        [] => bail!(
            "{} has no mix.exs, nor a directory with one: run init in the Phoenix repo",
            repo.display()
        ),
        _ => bail!(
            "{} has several Mix projects: run init inside the one to check",
            repo.display()
        ),
    }
}

fn files(
    repo: &Path,
    app: &Path,
    source: &Source,
    pins: &[(&'static str, String)],
    legs: Option<u32>,
) -> Result<Vec<(PathBuf, String)>> {
    let app_dir = app.display().to_string();
    let prefix = if app_dir == "." {
        String::new()
    } else {
        format!("{app_dir}/")
    };
    let migrate = lint_after::newest(&repo.join(app))
        .map(|(version, _)| lint_after::section(version))
        .unwrap_or_default();
    let mut files = vec![
        (
            repo.join("xtask.toml"),
            xtask_toml(&app_dir, pins) + &migrate,
        ),
        (repo.join(".cargo/config.toml"), ALIAS.to_string()),
        (
            repo.join("xtask/Cargo.toml"),
            THIN_MANIFEST.replace("{{dependency}}\n", &source.manifest_lines()),
        ),
        (repo.join("xtask/src/main.rs"), THIN_MAIN.to_string()),
        (repo.join("flake.nix"), FLAKE.to_string()),
        (repo.join(".envrc"), ENVRC.to_string()),
        (
            repo.join(".github/workflows/ci.yml"),
            workflow::text(&prefix, &plt_dir(&repo.join(app)), legs),
        ),
    ];
    if !repo.join("Cargo.toml").exists() {
        files.push((repo.join("Cargo.toml"), WORKSPACE.to_string()));
    }
    Ok(files)
}

/// Where the PLTs (and the key beside them) live, for the CI cache: where
/// dialyxir's settings in mix.exs put them, else our own default.
fn plt_dir(app: &Path) -> String {
    let Ok(project) = crate::mixproj::MixProject::read(app) else {
        return "priv/plts".into();
    };
    if let Some(file) = project.plt_file() {
        return Path::new(&file)
            .parent()
            .map_or("priv/plts".into(), |p| p.display().to_string());
    }
    project
        .string_option("plt_local_path")
        .unwrap_or_else(|| "priv/plts".into())
}

/// `[toolchain]` pins: from `.tool-versions`, else mix.exs's `elixir:`
/// requirement, else what is installed, else the defaults.
fn pins(app: &Path, run: &Run) -> [(&'static str, String); 5] {
    let defaults = &run.config.toolchain;
    let tool_versions = std::fs::read_to_string(app.join(".tool-versions"))
        .or_else(|_| std::fs::read_to_string(app.join("../.tool-versions")))
        .unwrap_or_default();
    let asdf = |tool: &str| {
        tool_versions.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(tool)).then(|| words.next().map(String::from))?
        })
    };
    let installed = beam::installed(&run.env);
    let elixir = asdf("elixir")
        .map(|v| series(&v, 2))
        .or_else(|| mix_elixir(app))
        .or_else(|| installed.as_ref().map(|b| series(&b.elixir, 2)))
        .unwrap_or_else(|| defaults.elixir.clone());
    let otp = asdf("erlang")
        .map(|v| series(&v, 1))
        .or_else(|| installed.as_ref().map(|b| b.otp.clone()))
        .unwrap_or_else(|| defaults.otp.clone());
    let node = asdf("nodejs")
        .map(|v| series(&v, 1))
        .unwrap_or_else(|| defaults.node.clone());
    [
        ("elixir", elixir),
        ("otp", otp),
        ("node", node),
        ("postgres", defaults.postgres.clone()),
        ("redis", defaults.redis.clone()),
    ]
}

/// The first `n` parts of a version (`1.15.7-otp-26` → `1.15`).
fn series(version: &str, n: usize) -> String {
    let v = version.split('-').next().unwrap_or(version);
    v.split('.').take(n).collect::<Vec<_>>().join(".")
}

/// `elixir: "~> 1.15"` in mix.exs → `1.15`.
fn mix_elixir(app: &Path) -> Option<String> {
    let text = std::fs::read_to_string(app.join("mix.exs")).ok()?;
    let rest = &text[text.find("elixir:")? + 7..];
    let quoted = rest.split('"').nth(1)?;
    let v = quoted.trim_start_matches(|c: char| !c.is_ascii_digit());
    Some(series(v, 2)).filter(|s| !s.is_empty())
}

/// The toolchains phx-xtask's CI runs, beside the pins just written.
fn toolchains_line(pins: &[(&str, String)]) -> String {
    let pin = |k: &str| pins.iter().find(|(n, _)| *n == k).map_or("?", |(_, v)| v);
    beam::ci_toolchains_line(pin("elixir"), pin("otp"))
}

fn xtask_toml(app_dir: &str, pins: &[(&str, String)]) -> String {
    let mut s = String::from(
        "# phx-xtask configuration (see its README for every key). flake.nix reads\n\
         # [toolchain] with builtins.fromTOML: this file is the one source of versions.\n",
    );
    s.push_str(&format!("app_dir = \"{app_dir}\"\n\n"));
    s.push_str(&format!("# {}\n[toolchain]\n", toolchains_line(pins)));
    for (k, v) in pins {
        s.push_str(&format!("{k} = \"{v}\"\n"));
    }
    s.push_str(DEPLOY_EXAMPLE);
    s
}

/// Where the app goes, commented out until the team fills it in: the
/// servers form of the docker target (see the README's deploy section).
const DEPLOY_EXAMPLE: &str = "\n# Deploys (`cargo xtask deploy setup staging` once, then `cargo xtask deploy staging`):\n\
# [deploy.staging]\n\
# target = \"docker\"\n\
# url = \"https://staging.example.com\"\n\
# hosts = [\"ssh://deploy@web1\", \"ssh://deploy@web2\"]   # each needs Docker and sshd; we need only SSH keys\n\
# proxy_publish = [\"80:80\"]\n\
# env = [\"DATABASE_URL\", \"SECRET_KEY_BASE\"]       # passed by name; values stay in the environment\n";

const ALIAS: &str = "[alias]\nxtask = \"run --quiet --package xtask --\"\n";

/// The workspace, with debug info trimmed: a first `cargo xtask` compiles
/// all of phx-xtask, and line tables keep backtraces useful for less.
const WORKSPACE: &str = "[workspace]\nmembers = [\"xtask\"]\nresolver = \"2\"\n\n[profile.dev]\ndebug = \"line-tables-only\"\n\n[profile.dev.package.\"*\"]\ndebug = false\n";

const THIN_MANIFEST: &str = "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{{dependency}}\n";

const THIN_MAIN: &str = "//! This repo's `cargo xtask`: the whole CI/CD of the Phoenix app, from phx-xtask.\n\nfn main() -> std::process::ExitCode {\n    phx_xtask::App::new(env!(\"CARGO_MANIFEST_DIR\")).run()\n}\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_caches_where_dialyxir_keeps_its_plts() {
        let dir = tempfile::tempdir().unwrap();
        let mix = "[app: :a, deps: [{:dialyxir, \"~> 1.4\"}], dialyzer: [plt_local_path: \"_build/plts\"]]";
        std::fs::write(dir.path().join("mix.exs"), mix).unwrap();
        assert_eq!(plt_dir(dir.path()), "_build/plts");
        std::fs::write(dir.path().join("mix.exs"), "[app: :a]").unwrap();
        assert_eq!(plt_dir(dir.path()), "priv/plts");
    }

    #[test]
    fn the_deploy_example_is_the_servers_form_and_parses() {
        let text: String = DEPLOY_EXAMPLE
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| !l.starts_with("Deploys"))
            .map(|l| format!("{l}\n"))
            .collect();
        let config = crate::config::parse(&text).unwrap();
        let staging = &config.deploy["staging"];
        assert_eq!(staging.hosts, ["ssh://deploy@web1", "ssh://deploy@web2"]);
        assert_eq!(staging.proxy_publish, ["80:80"]);
    }

    #[test]
    fn versions_become_series() {
        assert_eq!(series("1.15.7-otp-26", 2), "1.15");
        assert_eq!(series("26.2.5", 1), "26");
        assert_eq!(series("20.11.1", 1), "20");
    }

    #[test]
    fn mix_exs_elixir_requirement() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mix.exs"),
            "[app: :a, elixir: \"~> 1.16\", deps: []]",
        )
        .unwrap();
        assert_eq!(mix_elixir(dir.path()).as_deref(), Some("1.16"));
    }
}
