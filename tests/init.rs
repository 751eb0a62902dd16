//! The adoption path, end to end: `cargo xtask init` in a throwaway
//! Phoenix-shaped repo writes the thin xtask crate and its config; that
//! crate builds against this checkout's library (a path dependency) and
//! runs `cargo xtask ci --dry-run`; a step of the repo's own, added in Rust,
//! is planned, run and reported like the built-in ones.

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_tree, root, xtask};

/// `cargo ARGS` in `dir`, offline, building into this checkout's target/:
/// the generated workspace has the same profile and lock, so every
/// dependency the workspace built is reused.
fn cargo(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", root().join("target"))
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("XTASK_ROOT")
        .env_remove("XTASK_CONFIG")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn rename(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains(from),
        "{} lacks {from}: {text}",
        file.display()
    );
    std::fs::write(file, text.replace(from, to)).unwrap();
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
    let repo = tempfile::Builder::new()
        .prefix("phx-xtask-init-")
        .tempdir()
        .unwrap();
    copy_tree(&root().join("demo"), repo.path());
    std::fs::write(
        repo.path().join(".tool-versions"),
        "elixir 1.16.2-otp-26\nerlang 26.2.5\nnodejs 20.11.1\n",
    )
    .unwrap();
    let lib = root().join("crates/phx-xtask");
    let dep = format!("path = \"{}\"", lib.display());
    let repo_s = repo.path().to_str().unwrap();
    let done = xtask(&["init", "--repo", repo_s, "--dependency", &dep]).run();
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
    ] {
        assert!(
            done.stderr.contains(&format!("wrote {file}")),
            "{file}: {}",
            done.stderr
        );
    }
    assert!(
        done.stderr.contains("next: `cargo xtask ci`"),
        "{}",
        done.stderr
    );
    let toml = std::fs::read_to_string(repo.path().join("xtask.toml")).unwrap();
    assert!(
        toml.contains("app_dir = \".\"")
            && toml.contains("elixir = \"1.16\"")
            && toml.contains("otp = \"26\""),
        "{toml}"
    );

    // A second init refuses, names the files, and writes nothing.
    std::fs::write(repo.path().join("xtask.toml"), "# mine\n").unwrap();
    let again = xtask(&["init", "--repo", repo_s, "--dependency", &dep]).run();
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

    // The same lock as this checkout: the build needs no registry.
    std::fs::copy(root().join("Cargo.lock"), repo.path().join("Cargo.lock")).unwrap();
    // Built into this checkout's target/ (so every dependency is reused),
    // the generated crate must not be called `xtask` there: its binary would
    // replace this checkout's own, which the other tests run.
    rename(
        &repo.path().join("xtask/Cargo.toml"),
        "name = \"xtask\"",
        "name = \"xtask-e2e\"",
    );
    rename(
        &repo.path().join(".cargo/config.toml"),
        "--package xtask ",
        "--package xtask-e2e ",
    );
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
