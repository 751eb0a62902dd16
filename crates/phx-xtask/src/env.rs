//! The environment variables phx-xtask reads, taken once at the entry point
//! and handed down inside `Run`: nothing below the entry reads `std::env`,
//! so a test can build any environment it likes, and two layers can never
//! disagree about one variable.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// Every variable we act on. Children still inherit the real environment.
pub const READ: [&str; 50] = [
    "PATH",
    "HOME",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "DOCKER_HOST",
    "MIX_ENV",
    "ELIXIR_ERL_OPTIONS",
    "IN_NIX_SHELL",
    "XTASK_SERVICES",
    "XTASK_POSTGRES_IMAGE",
    "XTASK_REDIS_IMAGE",
    "DATABASE_URL",
    "REDIS_URL",
    "GITHUB_ACTIONS",
    "GITHUB_WORKSPACE",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_REF_NAME",
    "GITHUB_REF_TYPE",
    "GITHUB_SHA",
    "GITHUB_TOKEN",
    "GITHUB_ACTOR",
    "REGISTRY_USER",
    "REGISTRY_PASSWORD",
    "FLY_API_TOKEN",
    "SECRET_KEY_BASE",
    "SLACK_WEBHOOK_URL",
    "XTASK_ROOT",
    // Where the audit's registry is, and whether Hex is installed.
    "HEX_MIRROR_URL",
    "HEX_MIRROR",
    "HTTPS_PROXY",
    "https_proxy",
    "MIX_HOME",
    "MIX_ARCHIVES",
    "MIX_XDG",
    "XDG_DATA_HOME",
    // Which leg of a CI matrix this is (engines.rs).
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
    // What changes the tree `npm ci` installs (the npm-ci stamp records them).
    "NODE_ENV",
    "npm_config_omit",
    "npm_config_include",
    "npm_config_production",
    // `ci` keeps going by default where CI=true (GitHub, GitLab, others).
    "CI",
    // Which cargo and rustc `init` checks its dependency with, and where.
    "CARGO",
    "CARGO_HOME",
    "CARGO_NET_OFFLINE",
    "RUSTC",
];

/// A snapshot of `READ`; unset and empty variables are both absent.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<&'static str, String>,
}

impl Env {
    /// The process environment, now.
    pub fn capture() -> Env {
        let vars = READ
            .iter()
            .filter_map(|&k| Some((k, std::env::var(k).ok().filter(|v| !v.is_empty())?)))
            .collect();
        Env { vars }
    }

    /// Adds the variables the config names (those a deploy passes on to a
    /// release), read now, like the rest.
    pub fn with_named(mut self, names: impl IntoIterator<Item = String>) -> Env {
        for name in names {
            if let Some(v) = std::env::var(&name).ok().filter(|v| !v.is_empty()) {
                let name: &'static str = Box::leak(name.into_boxed_str());
                self.vars.insert(name, v);
            }
        }
        self
    }

    /// An environment made of `pairs` alone (tests).
    pub fn from_pairs(pairs: &[(&'static str, &str)]) -> Env {
        let vars = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        Env { vars }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn is(&self, name: &str, value: &str) -> bool {
        self.get(name) == Some(value)
    }

    /// `MIX_ENV` as Mix reads it: `dev` when unset.
    pub fn mix_env(&self) -> &str {
        self.get("MIX_ENV").unwrap_or("dev")
    }

    pub fn in_nix_shell(&self) -> bool {
        self.get("IN_NIX_SHELL").is_some()
    }

    pub fn temp_dir(&self) -> PathBuf {
        PathBuf::from(self.get("TMPDIR").unwrap_or("/tmp"))
    }

    /// The first `name` on PATH that is an executable file: the one lookup
    /// every layer uses, so the doctor and the runner always agree.
    pub fn which(&self, name: &str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = OsString::from(self.get("PATH")?);
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| {
                p.metadata()
                    .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_pairs(&[("MIX_ENV", ""), ("IN_NIX_SHELL", "impure")]);
        assert_eq!(env.mix_env(), "dev");
        assert!(env.in_nix_shell());
        let env = Env::from_pairs(&[("MIX_ENV", "test")]);
        assert_eq!(env.mix_env(), "test");
    }

    #[test]
    fn which_searches_the_snapshot_path_only() {
        let env = Env::from_pairs(&[("PATH", "/nonexistent:/bin")]);
        assert!(env.which("sh").is_some());
        assert!(Env::default().which("sh").is_none());
    }
}
