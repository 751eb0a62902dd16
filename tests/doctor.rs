//! End-to-end tests of `cargo xtask doctor` on this machine: the real tools
//! on PATH, the real docker socket. Pins that nothing can match stand in for
//! a drifted machine, so the tests hold on any machine; a PATH without node
//! and a DOCKER_HOST that goes nowhere stand in for a missing tool and a
//! stopped daemon.

mod common;

use std::path::{Path, PathBuf};

use common::{root, xtask, Done, Run};

const CHECKS: [&str; 14] = [
    "erlang/OTP",
    "elixir",
    "node",
    "npm",
    "docker",
    "docker daemon",
    "postgres",
    "redis",
    "git",
    "flyctl",
    "disk space",
    "app dir",
    "nix",
    "flake pins",
];

/// A config for the real demo whose pins no installed Elixir or OTP has.
fn drifted() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let text = format!(
        "app_dir = \"{}\"\n[toolchain]\nelixir = \"0.1\"\notp = \"1\"\n",
        root().join("demo").display()
    );
    std::fs::write(file.path(), text).unwrap();
    file
}

fn doctor(config: Option<&Path>) -> Run {
    let run = xtask(&["doctor"]);
    match config {
        Some(c) => run.env("XTASK_CONFIG", c.to_str().unwrap()),
        None => run,
    }
}

/// The table's row for `check`, split into its columns: status, check,
/// found, version, pin, match, where.
fn row(done: &Done, check: &str) -> Vec<String> {
    let line = done
        .stdout
        .lines()
        .find(|l| l.split("  ").map(str::trim).any(|c| c == check))
        .unwrap_or_else(|| panic!("no row for {check}:\n{}", done.all()));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn every_check_has_a_row_and_this_machine_passes_outside_nix() {
    let done = doctor(None).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    for check in CHECKS {
        row(&done, check);
    }
    // Whatever differs from the pins (on Debian: Elixir 1.14, OTP 25,
    // Postgres 15) is a warning that names the way out.
    for check in ["erlang/OTP", "elixir", "postgres", "redis"] {
        let r = row(&done, check);
        if r[5] == "no" {
            assert_eq!(r[0], "warn", "{r:?}");
            assert!(done.stderr.contains("nix develop"), "{}", done.stderr);
        }
    }
    assert_eq!(row(&done, "app dir")[3], ":demo");
}

#[test]
fn outside_nix_a_mismatch_warns_and_passes() {
    let config = drifted();
    let done = doctor(Some(config.path())).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let elixir = row(&done, "elixir");
    assert_eq!(
        (elixir[0].as_str(), elixir[4].as_str(), elixir[5].as_str()),
        ("warn", "0.1", "no"),
        "{elixir:?}"
    );
    assert!(
        done.stderr.contains("doctor: warning: elixir:"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("nix develop"), "{}", done.stderr);
}

#[test]
fn inside_nix_a_mismatch_is_an_error() {
    let config = drifted();
    let done = doctor(Some(config.path()))
        .env("IN_NIX_SHELL", "impure")
        .run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(row(&done, "elixir")[0], "error");
    assert_eq!(row(&done, "erlang/OTP")[0], "error");
    assert!(
        done.stderr.contains("inside the Nix shell"),
        "{}",
        done.stderr
    );
}

#[test]
fn the_repo_pins_inside_nix_fail_exactly_when_a_version_differs() {
    let outside = doctor(None).run();
    let differs = ["erlang/OTP", "elixir", "node", "postgres", "redis"]
        .iter()
        .any(|c| row(&outside, c)[5] == "no");
    let inside = doctor(None).env("IN_NIX_SHELL", "1").run();
    assert_eq!(
        inside.code,
        Some(if differs { 1 } else { 0 }),
        "{}",
        inside.all()
    );
}

#[test]
fn ci_stops_before_any_step_when_the_doctor_finds_an_error() {
    let config = drifted();
    let done = xtask(&["ci"])
        .env("XTASK_CONFIG", config.path().to_str().unwrap())
        .env("IN_NIX_SHELL", "impure")
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr
            .contains("doctor found problems, so nothing ran"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("elixir: "), "{}", done.stderr);
    assert!(done.stderr.contains("\nfix: "), "{}", done.stderr);
    assert!(
        !done.stderr.contains("summary"),
        "no step ran:\n{}",
        done.stderr
    );
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A dir of links to every program on PATH but `left_out`, to stand for a
/// machine without them.
fn path_without(left_out: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap();
    for d in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let link: PathBuf = dir.path().join(&name);
            if left_out.iter().any(|l| name == *l) || link.symlink_metadata().is_ok() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), link);
        }
    }
    let p = dir.path().display().to_string();
    (dir, p)
}

#[test]
fn a_missing_tool_is_reported_and_only_warned_about() {
    let (_dir, path) = path_without(&["node", "npm", "npx"]);
    let done = doctor(None).env("PATH", &path).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let node = row(&done, "node");
    assert_eq!(
        (node[0].as_str(), node[2].as_str()),
        ("warn", "no"),
        "{node:?}"
    );
    assert_eq!(row(&done, "npm")[2], "no");
    assert!(
        done.stderr.contains("doctor: warning: node: not on PATH"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_missing_elixir_is_an_error_everywhere() {
    let (_dir, path) = path_without(&["elixir", "mix", "iex", "elixirc"]);
    let done = doctor(None).env("PATH", &path).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    let elixir = row(&done, "elixir");
    assert_eq!(
        (elixir[0].as_str(), elixir[2].as_str()),
        ("error", "no"),
        "{elixir:?}"
    );
}

#[test]
fn docker_down_is_a_warning() {
    let done = doctor(None)
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let daemon = row(&done, "docker daemon");
    assert_eq!(
        (daemon[0].as_str(), daemon[2].as_str()),
        ("warn", "no"),
        "{daemon:?}"
    );
    assert!(
        done.stderr
            .contains("docker daemon: unreachable at unix:///nonexistent.sock"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_bad_app_dir_is_an_error() {
    let done = xtask(&["doctor", "--app-dir", "/nonexistent/app"]).run();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert_eq!(row(&done, "app dir")[0], "error");
    assert!(
        done.stderr.contains("/nonexistent/app does not exist"),
        "{}",
        done.stderr
    );
}

#[test]
fn json_has_every_check_and_its_time() {
    let done = xtask(&["doctor", "--output", "json"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let json: serde_json::Value = serde_json::from_str(&done.stdout).expect("stdout is JSON");
    let checks: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, CHECKS);
    assert_eq!(json["in_nix_shell"], false);
    // Its speed is measured by the benchmarks, not asserted here.
    assert!(json["elapsed_ms"].is_u64(), "{json}");
}

#[test]
fn version_manager_shims_are_asked_for_their_versions() {
    // asdf and the like put scripts on PATH, with no installation beside
    // them to read the versions from, so the doctor has to start the BEAM.
    let plain = doctor(None).run();
    let shims = tempfile::tempdir().unwrap();
    for tool in ["elixir", "erl"] {
        let real = which(tool).expect("elixir and erl are installed");
        let shim = shims.path().join(tool);
        std::fs::write(
            &shim,
            format!("#!/bin/sh\nexec {} \"$@\"\n", real.display()),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&shim).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&shim, perms).unwrap();
    }
    let path = format!(
        "{}:{}",
        shims.path().display(),
        std::env::var("PATH").unwrap()
    );
    let done = doctor(None).env("PATH", &path).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    for check in ["erlang/OTP", "elixir"] {
        let (shimmed, direct) = (row(&done, check), row(&plain, check));
        assert_eq!(shimmed[3], direct[3], "{check}: {shimmed:?} vs {direct:?}");
        assert!(
            shimmed[6].starts_with(&shims.path().display().to_string()),
            "{shimmed:?}"
        );
    }
}

/// The toolchains CI runs are named beside the flake's pins, in the table's
/// stderr and in the JSON, and the README's table says the same.
#[test]
fn the_toolchains_ci_runs_are_named_beside_the_pins_and_match_the_readme() {
    let done = doctor(None).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let pins = format!(
        "Elixir {} / OTP {}",
        row(&done, "elixir")[4],
        row(&done, "erlang/OTP")[4]
    );
    let line = format!(
        "doctor: phx-xtask's CI runs Elixir 1.14 / OTP 25 (Debian 12 bookworm) and \
         Elixir 1.18 / OTP 27 (Debian 13 trixie); the flake pins {pins} (xtask.toml [toolchain])"
    );
    assert!(done.stderr.contains(&line), "{}", done.stderr);
    let config = drifted();
    let drifted = doctor(Some(config.path())).run();
    assert!(
        drifted
            .stderr
            .contains("the flake pins Elixir 0.1 / OTP 1 "),
        "the pins are read, not written in: {}",
        drifted.stderr
    );

    let json = xtask(&["doctor", "--output", "json"]).run();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("stdout is JSON");
    let toolchains = json["ci_toolchains"].as_array().expect("ci_toolchains");
    assert_eq!(toolchains.len(), 2, "{json}");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for t in toolchains {
        let (debian, elixir, otp) = (
            t["debian"].as_str().unwrap(),
            t["elixir"].as_str().unwrap(),
            t["otp"].as_str().unwrap(),
        );
        let row = format!("| {debian} | {elixir}.");
        let found = readme
            .lines()
            .find(|l| l.starts_with(&row) && l.contains(&format!(" / {otp}.")));
        assert!(found.is_some(), "README has no row `{row}… / {otp}.…`");
    }
    assert!(
        readme.contains(&format!("Beside the flake's pins ({pins})")),
        "the README's toolchain section names the pins the doctor reads: {pins}"
    );
}

/// Debian keeps the Postgres server off PATH, in /usr/lib/postgresql/<v>/bin
/// (the trixie image has it only there): the doctor reports the one the
/// native services backend starts, the newest, not "not on PATH".
#[test]
fn postgres_off_path_is_found_where_the_native_backend_finds_it() {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| Some((d.file_name()?.to_str()?.parse().ok()?, d)))
        .filter(|(_, d)| d.join("bin/postgres").is_file())
        .collect();
    dirs.sort();
    let Some((major, newest)) = dirs.pop() else {
        eprintln!("skipped: no /usr/lib/postgresql/<v>/bin/postgres on this machine");
        return;
    };
    let (_dir, path) = path_without(&["postgres", "initdb"]);
    let done = doctor(None).env("PATH", &path).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let pg = row(&done, "postgres");
    let want = newest.join("bin/postgres").display().to_string();
    assert_eq!(
        (pg[2].as_str(), pg[6].as_str()),
        ("yes", want.as_str()),
        "{pg:?}"
    );
    assert!(pg[3].starts_with(&format!("{major}.")), "{pg:?}");
    assert!(
        !done.stderr.contains("postgres: not on PATH"),
        "{}",
        done.stderr
    );
}
