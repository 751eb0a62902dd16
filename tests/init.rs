//! The adoption path, end to end: `cargo xtask init` in a throwaway
//! Phoenix-shaped repo writes the thin xtask crate and its config, with a
//! path dependency on this checkout that cargo resolves offline; exactly
//! that crate builds and runs `cargo xtask ci --dry-run`; a step of the
//! repo's own, added in Rust, is planned, run and reported like the
//! built-in ones. A dependency cargo cannot resolve leaves nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{copy_tree, root, xtask};

/// Where the generated crate builds: its own target dir, since its binary
/// is called `xtask` too and would replace this checkout's own, which the
/// other tests run. It is seeded once from this checkout's build (same
/// lock, same profile), so only the thin crate compiles.
fn target_dir() -> PathBuf {
    let dir = root().join("target").join("init-e2e");
    let seeded = dir.join("debug").join("deps");
    if !seeded.exists() {
        std::fs::create_dir_all(dir.join("debug")).unwrap();
        for part in ["deps", "build", ".fingerprint"] {
            let from = root().join("target/debug").join(part);
            if from.exists() {
                let ok = Command::new("cp")
                    .arg("-a")
                    .arg(&from)
                    .arg(dir.join("debug"))
                    .status()
                    .unwrap();
                assert!(ok.success(), "seed {}", from.display());
            }
        }
    }
    dir
}

/// `cargo ARGS` in `dir`, offline, exactly as a user runs it there.
fn cargo(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("XTASK_ROOT")
        .env_remove("XTASK_CONFIG")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn throwaway_repo() -> tempfile::TempDir {
    let repo = tempfile::Builder::new()
        .prefix("phx-xtask-init-")
        .tempdir()
        .unwrap();
    copy_tree(&root().join("demo"), repo.path());
    repo
}

/// Every file in `dir`, relative, with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            match p.is_dir() {
                true => stack.push(p),
                false => out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                )),
            }
        }
    }
    out.sort();
    out
}

const OWN_STEP: &str = r#"//! A repo's xtask with a step of its own.

use phx_xtask::plan::{Action, Cmd, StepId, StepPlan};

fn licenses(ctx: &phx_xtask::Ctx) -> anyhow::Result<StepPlan> {
    let cmd = Cmd::new("sh", ctx.app).args(["-c", "echo checked > licenses.txt"]);
    Ok(StepPlan::new(StepId::Custom("licenses"), &[StepId::Deps], vec![Action::Run(cmd)],
        "read the licenses above"))
}

fn main() -> std::process::ExitCode {
    phx_xtask::App::new(env!("CARGO_MANIFEST_DIR"))
        .step(phx_xtask::Step { name: "licenses", about: "Check the licenses.", plan: licenses })
        .run()
}
"#;

#[test]
fn init_writes_a_thin_xtask_that_builds_and_plans_with_a_step_of_its_own() {
    if !common::cargo_here("init_writes_a_thin_xtask_that_builds_and_plans_with_a_step_of_its_own")
    {
        return;
    }
    let repo = throwaway_repo();
    std::fs::write(
        repo.path().join(".tool-versions"),
        "elixir 1.16.2-otp-26\nerlang 26.2.5\nnodejs 20.11.1\n",
    )
    .unwrap();
    let repo_s = repo.path().to_str().unwrap();
    let done = xtask(&["init", "--repo", repo_s])
        .env("CARGO_NET_OFFLINE", "true")
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    for file in [
        "xtask.toml",
        ".cargo/config.toml",
        "xtask/Cargo.toml",
        "xtask/src/main.rs",
        "flake.nix",
        ".envrc",
        ".github/workflows/ci.yml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        assert!(
            done.stderr.contains(&format!("wrote {file}")),
            "{file}: {}",
            done.stderr
        );
    }
    let lib = root().join("crates/phx-xtask").canonicalize().unwrap();
    assert!(
        done.stderr.contains(&format!(
            "checked: cargo resolves phx-xtask from path {}",
            lib.display()
        )) && done.stderr.contains("next: `cargo xtask ci`"),
        "{}",
        done.stderr
    );
    let manifest = std::fs::read_to_string(repo.path().join("xtask/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("# phx-xtask from the checkout `cargo xtask init` ran from.")
            && manifest.contains(&format!("phx-xtask = {{ path = \"{}\" }}\n", lib.display())),
        "{manifest}"
    );
    // The toolchains phx-xtask's CI runs, beside the pins init wrote: said
    // once, and kept above [toolchain] for whoever moves the pins later.
    let toolchains = "phx-xtask's CI runs Elixir 1.14 / OTP 25 (Debian 12 bookworm) and \
        Elixir 1.18 / OTP 27 (Debian 13 trixie); the flake pins Elixir 1.16 / OTP 26 \
        (xtask.toml [toolchain])";
    assert!(
        done.stderr.contains(&format!("\n{toolchains}\n")),
        "{}",
        done.stderr
    );
    let toml = std::fs::read_to_string(repo.path().join("xtask.toml")).unwrap();
    assert!(
        toml.contains(&format!("# {toolchains}\n[toolchain]\n")),
        "{toml}"
    );
    assert!(
        toml.contains("app_dir = \".\"")
            && toml.contains("elixir = \"1.16\"")
            && toml.contains("otp = \"26\""),
        "{toml}"
    );

    // A second init refuses, names the files, and writes nothing.
    std::fs::write(repo.path().join("xtask.toml"), "# mine\n").unwrap();
    let again = xtask(&["init", "--repo", repo_s]).run();
    assert_eq!(again.code, Some(2), "{}", again.all());
    assert!(
        again.stderr.contains("xtask.toml") && again.stderr.contains("--force"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("xtask.toml")).unwrap(),
        "# mine\n"
    );
    std::fs::write(repo.path().join("xtask.toml"), &toml).unwrap();

    // Exactly what init wrote builds and plans, offline.
    let (code, out, err) = cargo(repo.path(), &["xtask", "ci", "--dry-run"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("deps:\n  $ mix deps.get") && out.contains("\ntest:"),
        "{out}"
    );

    std::fs::write(repo.path().join("xtask/src/main.rs"), OWN_STEP).unwrap();
    let manifest = repo.path().join("xtask/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap() + "anyhow = \"1\"\n";
    std::fs::write(&manifest, text).unwrap();
    let (code, out, err) = cargo(repo.path(), &["xtask", "ci", "--dry-run"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("licenses (after deps):\n  $ sh -c 'echo checked > licenses.txt'\n"),
        "{out}"
    );
    let (code, out, _) = cargo(repo.path(), &["xtask", "list"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("licenses   ci  Check the licenses."), "{out}");
    let (code, out, err) = cargo(
        repo.path(),
        &["xtask", "step", "licenses", "--output", "json"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("licenses.txt")).unwrap(),
        "checked\n"
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let steps: Vec<(&str, &str)> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("licenses", "ok")]);
}

#[test]
fn a_dependency_cargo_cannot_resolve_leaves_the_repo_as_it_was() {
    if !common::cargo_here("a_dependency_cargo_cannot_resolve_leaves_the_repo_as_it_was") {
        return;
    }
    let repo = throwaway_repo();
    std::fs::write(repo.path().join(".gitignore"), "/deps\n").unwrap();
    std::fs::create_dir_all(repo.path().join(".github")).unwrap();
    std::fs::write(repo.path().join(".github/dependabot.yml"), "version: 2\n").unwrap();
    let before = snapshot(repo.path());
    let repo_s = repo.path().to_str().unwrap();
    let done = xtask(&["init", "--repo", repo_s, "--version", "99.0.0"])
        .env("CARGO_NET_OFFLINE", "true")
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr
            .contains("cargo cannot resolve phx-xtask from crates.io version 99.0.0")
            && done.stderr.contains("nothing was kept")
            && done.stderr.contains("--git URL"),
        "{}",
        done.stderr
    );
    assert_eq!(snapshot(repo.path()), before, "init left files behind");
    assert!(!repo.path().join("xtask").exists() && !repo.path().join(".cargo").exists());
}
