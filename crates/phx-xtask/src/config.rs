//! `xtask.toml`: where the app is, which steps `ci` runs, each tool's options
//! and the toolchain pins. Every key has a default, so a Phoenix repo with no
//! xtask.toml works, and unknown keys are errors that point at the line.
//! A git-ignored `xtask.local.toml` beside it (written by
//! scripts/local-images.sh, or by hand) is merged over it, key by key, and
//! checked the same way: machine-specific settings stay out of the repo.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde::Deserialize;

mod checks;
pub use checks::{Audit, Xref};

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The Mix project, relative to the config file.
    pub app_dir: PathBuf,
    pub ci: Ci,
    pub credo: Credo,
    pub sobelow: Sobelow,
    pub xref: Xref,
    pub audit: Audit,
    pub dialyzer: Dialyzer,
    pub assets: Assets,
    pub test: Test,
    pub services: Services,
    pub image: Image,
    pub migrate: Migrate,
    /// `[deploy.<env>]`: one table per environment.
    pub deploy: std::collections::BTreeMap<String, DeployEnv>,
    pub toolchain: Toolchain,
}

/// Where a deploy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeployTarget {
    /// Containers on a Docker host behind a reverse proxy (Kamal-style).
    #[default]
    Docker,
    /// Fly.io, through flyctl.
    Fly,
}

/// `[deploy.<env>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeployEnv {
    pub target: DeployTarget,
    /// The public URL, which the gate and the notification use.
    pub url: String,
    /// The health endpoint; `/up` for Kamal-style apps.
    pub health_path: String,
    /// Where the running version is read, to tell the new release from the old.
    pub version_path: String,
    /// The Host header the gate sends (apps that reject an IP's Host).
    pub host: Option<String>,
    /// Seconds the new release has to pass the gate.
    pub timeout: u64,
    /// An environment this image must have passed first (production:
    /// "staging" by default).
    pub after: Option<String>,
    /// Ask before deploying (production: true).
    pub confirm: Option<bool>,
    /// docker: the app's network, the container port, the variables
    /// passed to the container by name (their values stay in the
    /// environment), the proxy's upstream file and reload command, how
    /// long the old release drains, and how many stopped releases to keep.
    pub network: Option<String>,
    pub port: u16,
    pub env: Vec<String>,
    /// The old proxy-on-this-machine settings, refused with the way to the
    /// proxy container (kept so the error can name them).
    pub proxy_upstream: Option<std::path::PathBuf>,
    pub proxy_reload: Vec<String>,
    /// docker: the hosts, `ssh://user@host[:port]` or `unix:///path`
    /// (default: DOCKER_HOST, else the local socket), and how many switch
    /// at once.
    pub hosts: Vec<String>,
    pub max_parallel: usize,
    /// docker: the proxy container's image (nginx's contract: nginx -s
    /// reload, conf.d, and curl for the gate) and its `-p` publishings.
    pub proxy_image: String,
    pub proxy_publish: Vec<String>,
    pub drain: u64,
    pub keep: usize,
    /// fly: the app, the strategy (rolling, immediate, canary, bluegreen),
    /// and how migrations run: "release_command" (fly.toml does) or "ssh".
    pub app: Option<String>,
    pub strategy: Option<String>,
    pub migrate: Option<String>,
}

impl Default for DeployEnv {
    fn default() -> Self {
        DeployEnv {
            target: DeployTarget::Docker,
            url: String::new(),
            health_path: "/health".into(),
            version_path: "/version".into(),
            host: None,
            timeout: 60,
            after: None,
            confirm: None,
            network: None,
            port: 4000,
            env: vec!["DATABASE_URL".into(), "SECRET_KEY_BASE".into()],
            proxy_upstream: None,
            proxy_reload: Vec::new(),
            hosts: Vec::new(),
            max_parallel: 1,
            proxy_image: "nginx:stable".into(),
            proxy_publish: vec!["80:80".into()],
            drain: 30,
            keep: 5,
            app: None,
            strategy: None,
            migrate: None,
        }
    }
}

/// `cargo xtask image`: the app's own Dockerfile, and where the image goes.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Image {
    /// Relative to the app dir. Default `Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    /// The image repository, `host/owner/name`. Default: `ghcr.io/<owner>/<repo>`
    /// from the git remote, else the app's name (local builds only).
    pub registry: Option<String>,
    /// More `--build-arg`s (the local base images, `BUILD_ASSETS`); values
    /// are not secrets, since build args stay in the image's history.
    pub build_args: std::collections::BTreeMap<String, String>,
}

/// `cargo xtask migrate`: how the app migrates, as argv lists. `{version}`
/// is replaced by the version at hand.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Migrate {
    /// The migration files, relative to the app dir.
    pub dir: PathBuf,
    /// Applies every pending migration.
    pub up: Vec<String>,
    /// Applies the pending migrations up to and including `{version}`.
    pub up_to: Vec<String>,
    /// Rolls back every migration newer than `{version}`, and `{version}`.
    pub rollback: Vec<String>,
    /// The module `migrate check` drives in one boot, with Ecto.Migrator's
    /// `with_repo/2` and `run/4`: `Ecto.Migrator` when `up` is Ecto's;
    /// unset with commands of your own, which then run one boot each.
    pub migrator: Option<String>,
    /// What runs in a one-off container of the image (`--target image`),
    /// split at spaces (no quoting).
    pub image_command: String,
    /// The container's network (`--target image`): `host` shares this
    /// machine's, so a 127.0.0.1 DATABASE_URL reaches the database here;
    /// a user-defined network (compose's) reaches it by its service name.
    pub image_network: String,
    /// More variables the release reads at boot, passed to the container as
    /// `-e NAME` (values from the environment), beside DATABASE_URL and
    /// SECRET_KEY_BASE.
    pub image_env: Vec<String>,
    /// Seconds to wait for the database to answer before giving up.
    pub connect_timeout: u64,
    /// Migrations at or below this version ran everywhere: the lint skips them.
    pub lint_after: Option<String>,
    /// Lint rules not to check at all.
    pub skip: Vec<String>,
}

impl Default for Migrate {
    fn default() -> Self {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect();
        Migrate {
            dir: PathBuf::from("priv/repo/migrations"),
            up: argv(&["mix", "ecto.migrate"]),
            up_to: argv(&["mix", "ecto.migrate", "--to", "{version}"]),
            rollback: argv(&["mix", "ecto.rollback", "--to", "{version}"]),
            migrator: None,
            image_command: "/app/bin/migrate".into(),
            image_network: "host".into(),
            image_env: Vec::new(),
            connect_timeout: 10,
            lint_after: None,
            skip: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ci {
    /// The steps `cargo xtask ci` runs, by name; the order does not matter,
    /// each step's own needs decide it. Unset: every built-in step and every
    /// step the repo's own xtask adds.
    pub steps: Option<Vec<String>>,
    /// Fail instead of skipping a step whose tool is not a dependency.
    pub require_all: bool,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Credo {
    pub strict: bool,
    /// Extra arguments, appended as they are.
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sobelow {
    /// Pass `--config`, so sobelow reads the app's `.sobelow-conf`.
    pub config: bool,
    /// The lowest confidence that fails the step (`--exit`) when the app
    /// has no .sobelow-conf of its own.
    pub exit: Confidence,
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dialyzer {
    /// Where the cached PLT lives, relative to the app dir.
    pub plt_dir: PathBuf,
    /// The OTP and Elixir apps the PLT holds when dialyxir is absent
    /// (with dialyxir, its own `dialyzer:` settings in mix.exs apply).
    pub plt_apps: Vec<String>,
    pub args: Vec<String>,
    /// The Mix env dialyzer analyses, whatever MIX_ENV the shell exports:
    /// the one dialyxir's users set their PLT up for.
    pub env: String,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Assets {
    /// The npm project, relative to the app dir.
    pub dir: PathBuf,
    /// npm scripts run after `npm ci`, in order; a script the package.json
    /// does not define is reported as skipped.
    pub scripts: Vec<String>,
    /// Run those scripts at the same time. Off by default, since one script
    /// may rely on another's output; turn it on when they are independent
    /// (eslint, `node --test` and esbuild only read the sources).
    pub parallel: bool,
    /// The Mix alias that builds the deployable assets.
    pub deploy: String,
    /// Files that must exist and be non-empty afterwards, relative to the
    /// app dir, beside the ones its esbuild and tailwind profiles write.
    pub outputs: Vec<PathBuf>,
}

/// Where Postgres and Redis come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// docker when the daemon answers, else native when the binaries exist.
    Auto,
    /// Containers through testcontainers (the default).
    #[default]
    Docker,
    /// `postgres` and `redis-server` as child processes.
    Native,
    /// The servers in DATABASE_URL and REDIS_URL; nothing is started.
    External,
}

/// How native Postgres checks passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum NativeAuth {
    #[default]
    #[serde(rename = "scram-sha-256")]
    Scram,
    #[serde(rename = "trust")]
    Trust,
}

/// The password `[services]` uses unless told otherwise. It is public, so
/// it is not registered as a secret (that would mask every "postgres").
pub const DEFAULT_PASSWORD: &str = "postgres";

/// Sobelow's confidence levels, as its `--exit` flag takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Versions the flake, the Dockerfile and `doctor` agree on.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toolchain {
    pub elixir: String,
    pub otp: String,
    pub node: String,
    pub postgres: String,
    pub redis: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_dir: PathBuf::from("."),
            ci: Ci::default(),
            credo: Credo::default(),
            sobelow: Sobelow::default(),
            xref: Xref::default(),
            audit: Audit::default(),
            dialyzer: Dialyzer::default(),
            assets: Assets::default(),
            test: Test::default(),
            services: Services::default(),
            image: Image::default(),
            migrate: Migrate::default(),
            deploy: Default::default(),
            toolchain: Toolchain::default(),
        }
    }
}

impl Default for Credo {
    fn default() -> Self {
        Credo {
            strict: true,
            args: Vec::new(),
        }
    }
}

impl Default for Sobelow {
    fn default() -> Self {
        Sobelow {
            config: true,
            exit: Confidence::Low,
            args: Vec::new(),
        }
    }
}

impl Default for Dialyzer {
    fn default() -> Self {
        Dialyzer {
            plt_dir: PathBuf::from("priv/plts"),
            plt_apps: [
                "erts", "kernel", "stdlib", "crypto", "elixir", "logger", "mix",
            ]
            .map(String::from)
            .to_vec(),
            args: Vec::new(),
            env: "dev".into(),
        }
    }
}

impl Default for Assets {
    fn default() -> Self {
        Assets {
            dir: PathBuf::from("assets"),
            scripts: ["lint", "test", "build"].map(String::from).to_vec(),
            parallel: false,
            deploy: "assets.deploy".to_string(),
            outputs: Vec::new(),
        }
    }
}

impl Default for Toolchain {
    fn default() -> Self {
        Toolchain {
            elixir: "1.15".into(),
            otp: "26".into(),
            node: "20".into(),
            postgres: "16".into(),
            redis: "7".into(),
        }
    }
}

/// `cargo xtask test`: partitions, coverage, and when the services start.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Test {
    /// How many `mix test --partitions` processes run at once when
    /// `--partitions` is not given; 1 runs the suite as one process.
    pub partitions: u32,
    /// Run with `--cover`, write cover/lcov.info and check the threshold.
    pub cover: bool,
    /// Where the JUnit XML of the run goes, relative to the app dir; empty
    /// writes none.
    pub junit: String,
    /// The minimum total coverage in percent. Unset: the app's own
    /// `test_coverage: [summary: [threshold: N]]` (90 when mix.exs sets none).
    pub coverage_threshold: Option<f64>,
    /// Start the services while deps and the test build compile, so their
    /// start-up is off the critical path; false starts them after compiling.
    pub overlap: bool,
    /// Start Postgres and Redis for the suite: unset decides from the app
    /// (a repo, a database or Redis URL in config/, a client dep); false
    /// never, true always.
    pub services: Option<bool>,
    /// How many of the slowest tests the summary lists (from the JUnit times).
    pub slowest: usize,
    /// A test slower than this many milliseconds is flagged.
    pub slow_ms: u64,
    /// A flagged slow test fails the step instead of warning.
    pub slow_fail: bool,
}

/// Postgres and Redis for the tests, and for `cargo xtask services`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Services {
    /// docker, native, external or auto; `--services` and XTASK_SERVICES win.
    pub backend: Backend,
    /// Default `postgres:<toolchain.postgres>-alpine`; XTASK_POSTGRES_IMAGE wins.
    pub postgres_image: Option<String>,
    /// Default `redis:<toolchain.redis>-alpine`; XTASK_REDIS_IMAGE wins.
    pub redis_image: Option<String>,
    pub postgres_user: String,
    /// Never printed: every URL shows it as `***`.
    pub postgres_password: String,
    /// The test database, created fresh on each run; partition K gets
    /// `<database>K`. Default `<app>_test`, as Phoenix names it.
    pub database: Option<String>,
    /// Seconds to wait for Postgres and Redis to answer before failing.
    pub ready_timeout: u64,
    /// native: fixed ports instead of free ones.
    pub postgres_port: Option<u16>,
    pub redis_port: Option<u16>,
    /// native: "scram-sha-256" (passwords checked, like production) or "trust".
    pub native_auth: NativeAuth,
}

impl Default for Test {
    fn default() -> Self {
        Test {
            junit: "_build/test/junit.xml".into(),
            partitions: 1,
            cover: true,
            coverage_threshold: None,
            overlap: true,
            services: None,
            slowest: 10,
            slow_ms: 100,
            slow_fail: false,
        }
    }
}

impl Default for Services {
    fn default() -> Self {
        Services {
            backend: Backend::Docker,
            postgres_image: None,
            redis_image: None,
            postgres_user: "postgres".into(),
            postgres_password: DEFAULT_PASSWORD.into(),
            database: None,
            ready_timeout: 30,
            postgres_port: None,
            redis_port: None,
            native_auth: NativeAuth::Scram,
        }
    }
}

/// A loaded config and the directory its relative paths start from.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub root: PathBuf,
    /// The files read, main first: what `doctor` and errors name.
    pub files: Vec<PathBuf>,
}

/// The name of the machine-local override beside the config file.
pub const LOCAL: &str = "xtask.local.toml";

/// Reads `path` when given (it must be a file), else `xtask.toml` in `root`
/// when present, else the defaults; then merges `xtask.local.toml` from the
/// same directory over it.
pub fn load(explicit: Option<&Path>, root: &Path) -> Result<Loaded> {
    let path = match explicit {
        Some(p) if !p.exists() => bail!(
            "config file {} does not exist: fix the --config path or XTASK_CONFIG",
            p.display()
        ),
        Some(p) => p.to_path_buf(),
        None => root.join("xtask.toml"),
    };
    if path.exists() && !path.is_file() {
        bail!(
            "{} is not a file: xtask.toml must be a TOML file (remove or rename what is there)",
            path.display()
        );
    }
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let local = dir.join(LOCAL);
    let mut merged = toml::Table::new();
    let mut files = Vec::new();
    for file in [&path, &local] {
        if file.exists() && !file.is_file() {
            bail!("{} is not a file: remove or rename it", file.display());
        }
        if !file.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
        // Each file is checked on its own, so an error names its line.
        parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", file.display()))?;
        let table: toml::Table = toml::from_str(&text).context("re-read the config")?;
        merge(&mut merged, table);
        files.push(file.clone());
    }
    let config: Config = toml::Value::Table(merged)
        .try_into()
        .map_err(|e| anyhow::anyhow!("{} merged over {}: {e}", local.display(), path.display()))?;
    let root = if files.is_empty() {
        root.to_path_buf()
    } else {
        dir
    };
    Ok(Loaded {
        config,
        root,
        files,
    })
}

/// Deep merge: tables merge key by key, anything else is replaced.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Parses config text; the error reads `LINE:COL: message (fix hint)`.
pub fn parse(text: &str) -> std::result::Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        let msg = e.message().trim().replace('\n', " ");
        format!("{line}:{col}: {msg} (see the xtask.toml reference in README.md)")
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.app_dir, PathBuf::from("."));
        assert_eq!(c.ci.steps, None);
        assert_eq!(c.dialyzer.plt_dir, PathBuf::from("priv/plts"));
        assert_eq!(c.toolchain.otp, "26");
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let err = parse("app_dir = \"demo\"\n[credo]\nstrictt = true\n").unwrap_err();
        assert!(err.starts_with("3:1: unknown field `strictt`"), "{err}");
    }

    #[test]
    fn wrong_type_names_line_and_column() {
        let err = parse("[ci]\nsteps = \"format\"\n").unwrap_err();
        assert!(err.starts_with("2:9:"), "{err}");
    }

    #[test]
    fn sobelow_exit_is_a_confidence_level() {
        assert_eq!(
            parse("[sobelow]\nexit = \"medium\"\n")
                .unwrap()
                .sobelow
                .exit,
            Confidence::Medium
        );
        let err = parse("[sobelow]\nexit = \"loud\"\n").unwrap_err();
        assert!(err.starts_with("2:8:") && err.contains("loud"), "{err}");
    }

    #[test]
    fn a_local_file_merges_over_the_main_one_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let main = "app_dir = \"demo\"\n[services]\nready_timeout = 9\n";
        std::fs::write(dir.path().join("xtask.toml"), main).unwrap();
        let local = "[services]\npostgres_image = \"local/pg:15\"\n";
        std::fs::write(dir.path().join(LOCAL), local).unwrap();
        let loaded = load(None, dir.path()).unwrap();
        let s = &loaded.config.services;
        assert_eq!(
            (s.ready_timeout, s.postgres_image.as_deref()),
            (9, Some("local/pg:15"))
        );
        assert_eq!(loaded.config.app_dir, PathBuf::from("demo"));
        assert_eq!(loaded.files.len(), 2);
        std::fs::write(dir.path().join(LOCAL), "[services]\nbogus = 1\n").unwrap();
        let err = format!("{:#}", load(None, dir.path()).unwrap_err());
        assert!(
            err.contains("xtask.local.toml:2:1: unknown field `bogus`"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_named_xtask_toml_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("xtask.toml")).unwrap();
        let err = format!("{:#}", load(None, dir.path()).unwrap_err());
        assert!(err.contains("xtask.toml is not a file"), "{err}");
    }
}
