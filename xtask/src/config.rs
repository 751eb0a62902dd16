//! `xtask.toml`: where the app is, which steps `ci` runs, each tool's options
//! and the toolchain pins. Every key has a default, so a Phoenix repo with no
//! xtask.toml works, and unknown keys are errors that point at the line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::steps::StepId;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The Mix project, relative to the config file.
    pub app_dir: PathBuf,
    pub ci: Ci,
    pub credo: Credo,
    pub sobelow: Sobelow,
    pub dialyzer: Dialyzer,
    pub assets: Assets,
    pub test: Test,
    pub services: Services,
    pub toolchain: Toolchain,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ci {
    /// The steps `cargo xtask ci` runs; the order does not matter, each
    /// step's own needs decide it.
    pub steps: Vec<StepId>,
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
    /// Files that must exist and be non-empty afterwards, relative to the app dir.
    pub outputs: Vec<PathBuf>,
}

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
            dialyzer: Dialyzer::default(),
            assets: Assets::default(),
            test: Test::default(),
            services: Services::default(),
            toolchain: Toolchain::default(),
        }
    }
}

impl Default for Ci {
    fn default() -> Self {
        Ci {
            steps: StepId::ALL.to_vec(),
            require_all: false,
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
            outputs: ["priv/static/assets/app.css", "priv/static/assets/app.js"]
                .map(PathBuf::from)
                .to_vec(),
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
    /// The minimum total coverage in percent. Unset: the app's own
    /// `test_coverage: [summary: [threshold: N]]` (90 when mix.exs sets none).
    pub coverage_threshold: Option<f64>,
    /// Start the services while deps and the test build compile, so their
    /// start-up is off the critical path; false starts them after compiling.
    pub overlap: bool,
}

/// Postgres and Redis for the tests, and for `cargo xtask services`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Services {
    /// docker, native, external or auto; `--services` and XTASK_SERVICES win.
    pub backend: crate::services::Backend,
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
    pub native_auth: crate::services::NativeAuth,
}

impl Default for Test {
    fn default() -> Self {
        Test {
            partitions: 1,
            cover: true,
            coverage_threshold: None,
            overlap: true,
        }
    }
}

impl Default for Services {
    fn default() -> Self {
        Services {
            backend: crate::services::Backend::Docker,
            postgres_image: None,
            redis_image: None,
            postgres_user: "postgres".into(),
            postgres_password: crate::services::DEFAULT_PASSWORD.into(),
            database: None,
            ready_timeout: 30,
            postgres_port: None,
            redis_port: None,
            native_auth: crate::services::NativeAuth::Scram,
        }
    }
}

/// A loaded config and the directory its relative paths start from.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub root: PathBuf,
}

/// Reads `path` when given (it must exist), else `xtask.toml` in `root` when
/// present, else the defaults.
pub fn load(explicit: Option<&Path>, root: &Path) -> Result<Loaded> {
    let path = match explicit {
        Some(p) if !p.is_file() => {
            bail!(
                "config file {} does not exist: fix the --config path or XTASK_CONFIG",
                p.display()
            )
        }
        Some(p) => p.to_path_buf(),
        None => root.join("xtask.toml"),
    };
    if !path.is_file() {
        return Ok(Loaded {
            config: Config::default(),
            root: root.to_path_buf(),
        });
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let config = parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))?;
    let root = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Ok(Loaded { config, root })
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
        assert_eq!(c.ci.steps, StepId::ALL.to_vec());
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
    fn unknown_step_is_rejected() {
        let err = parse("[ci]\nsteps = [\"format\", \"lint\"]\n").unwrap_err();
        assert!(err.contains("lint"), "{err}");
    }
}
