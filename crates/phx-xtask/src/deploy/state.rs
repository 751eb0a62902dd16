//! What was deployed where, under `.xtask/deploy/` at the project root:
//! each environment's releases (image, digest, revision, when, outcome),
//! which production reads to require a staging pass, and the fly target's
//! lock (the docker target's lives on its first host: lock.rs).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::proc;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The image's version label (its first tag).
    pub version: String,
    /// The git revision the image was built from.
    pub revision: String,
    pub image: String,
    /// The image id, or the registry digest once pushed.
    pub digest: String,
    /// docker: the container that serves (or served) it.
    pub container: Option<String>,
    pub at: String,
    /// "live", "replaced", "rolled back", or "failed".
    pub status: String,
    /// Seconds from start to healthy.
    pub healthy_after: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    pub releases: Vec<Release>,
}

fn dir(root: &Path) -> PathBuf {
    root.join(".xtask").join("deploy")
}

pub fn read(root: &Path, env: &str) -> Result<History> {
    let file = dir(root).join(format!("{env}.json"));
    match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is not a deploy history: move it away", file.display())),
        Err(_) => Ok(History::default()),
    }
}

pub fn write(root: &Path, env: &str, history: &History) -> Result<()> {
    let file = dir(root).join(format!("{env}.json"));
    std::fs::create_dir_all(dir(root))?;
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(history)? + "\n")?;
    std::fs::rename(&tmp, &file).with_context(|| format!("write {}", file.display()))
}

impl History {
    /// The release serving now.
    pub fn live(&self) -> Option<&Release> {
        self.releases.iter().rev().find(|r| r.status == "live")
    }

    /// Whether this image (by digest) went live here at some point.
    pub fn passed(&self, digest: &str) -> bool {
        self.releases
            .iter()
            .any(|r| r.digest == digest && r.status != "failed")
    }

    /// Marks the live release replaced and appends `new`.
    pub fn push_live(&mut self, new: Release) {
        for r in self.releases.iter_mut().filter(|r| r.status == "live") {
            r.status = "replaced".into();
        }
        self.releases.push(new);
    }
}

/// One deploy per environment: a file created exclusively, holding the
/// holder's pid and host; removed when dropped (and on Ctrl-C).
pub struct Lock {
    file: PathBuf,
    hook: u64,
}

impl Lock {
    pub fn take(root: &Path, env: &str) -> Result<Lock> {
        std::fs::create_dir_all(dir(root))?;
        let file = dir(root).join(format!("{env}.lock"));
        let me = format!("pid={} host={}\n", std::process::id(), hostname());
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file)
            {
                Ok(mut f) => {
                    f.write_all(me.as_bytes())?;
                    let gone = file.clone();
                    let hook = proc::on_shutdown(move || {
                        let _ = std::fs::remove_file(&gone);
                    });
                    return Ok(Lock { file, hook });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&file).unwrap_or_default();
                    if stale(&holder) {
                        eprintln!(
                            "deploy: removing a stale lock ({}): its holder is gone",
                            holder.trim()
                        );
                        let _ = std::fs::remove_file(&file);
                        continue;
                    }
                    bail!(
                        "another deploy to {env} is running ({}): wait for it, or remove {} if that deploy is really gone",
                        holder.trim(),
                        file.display()
                    );
                }
                Err(e) => return Err(e).with_context(|| format!("create {}", file.display())),
            }
        }
        bail!("could not take the lock {}", file.display())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        proc::forget(self.hook);
    }
}

/// A lock whose holder ran on this machine and whose pid is gone: the
/// local file lock (Fly) and the hosts' lock container (docker) both say so.
pub(super) fn stale(holder: &str) -> bool {
    let field = |k: &str| {
        holder
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .map(String::from)
    };
    let pid = field("pid=").and_then(|p| p.parse::<i32>().ok());
    field("host=").as_deref() == Some(hostname().as_str())
        && pid.is_some_and(|p| !proc::pid_alive(p))
}

pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or("unknown".into(), |h| h.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_per_env_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::take(dir.path(), "staging").unwrap();
        let err = Lock::take(dir.path(), "staging").err().unwrap().to_string();
        assert!(
            err.contains("another deploy to staging is running")
                && err.contains(&format!("pid={}", std::process::id())),
            "{err}"
        );
        assert!(Lock::take(dir.path(), "production").is_ok());
        drop(lock);
        let file = super::dir(dir.path()).join("staging.lock");
        std::fs::write(&file, format!("pid={} host={}\n", i32::MAX - 1, hostname())).unwrap();
        assert!(
            Lock::take(dir.path(), "staging").is_ok(),
            "a dead holder's lock is stale"
        );
        std::fs::write(&file, "pid=1 host=elsewhere\n").unwrap();
        assert!(
            Lock::take(dir.path(), "staging").is_err(),
            "another host's lock is not ours to judge"
        );
    }

    #[test]
    fn history_tracks_the_live_release_and_passes() {
        let mut h = History::default();
        let r = |v: &str, d: &str| Release {
            version: v.into(),
            digest: d.into(),
            status: "live".into(),
            ..Release::default()
        };
        h.push_live(r("v1", "sha256:1"));
        h.push_live(r("v2", "sha256:2"));
        assert_eq!(h.live().unwrap().version, "v2");
        assert_eq!(h.releases[0].status, "replaced");
        assert!(h.passed("sha256:1") && !h.passed("sha256:3"));
    }
}
