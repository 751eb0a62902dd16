//! One deploy per environment, whoever runs it: the lock is a named
//! container on the environment's first host (creating a name is atomic in
//! Docker), labelled with who holds it (runner, machine, pid, since when).
//! Removed on success, failure and Ctrl-C; a stale one is reported with
//! `deploy unlock <env>`, and one left by a dead process of this machine is
//! broken by itself.

use std::time::Duration;

use anyhow::{bail, Result};

use super::state::{hostname, stale};
use super::target::{show, Target};
use crate::docker;
use crate::image::record;
use crate::proc;
use crate::run::Exit;

const DOCKER: Duration = Duration::from_secs(60);
pub const LOCK_LABEL: &str = "dev.phx-xtask.lock";

pub struct Lock {
    host: String,
    name: String,
    hook: u64,
}

fn name(t: &Target) -> String {
    format!("{}-lock", t.label)
}

/// Who we are, as the lock records it.
fn holder(runner: Option<&str>) -> String {
    format!(
        "runner={} host={} pid={} since={}",
        runner.unwrap_or("local"),
        hostname(),
        std::process::id(),
        record::now_rfc3339()
    )
}

impl Lock {
    /// Takes the lock, creating its container from `image` (one the host
    /// has: the container never runs). `runner` names a CI runner.
    pub fn take(t: &Target, image: &str, runner: Option<&str>) -> Result<Lock> {
        let host = t.hosts[0].clone();
        let name = name(t);
        let label = format!("{LOCK_LABEL}={}", holder(runner));
        for _ in 0..2 {
            let args = [
                "create",
                "--name",
                &name,
                "--label",
                &label,
                "--network",
                "none",
                image,
            ];
            match docker::cli(&host, &args, DOCKER) {
                Ok(_) => {
                    let (h, n) = (host.clone(), name.clone());
                    let hook = proc::on_shutdown(move || {
                        let _ = docker::cli_cleanup(&h, &["rm", "-f", &n], DOCKER);
                    });
                    return Ok(Lock { host, name, hook });
                }
                Err(e) if format!("{e:#}").contains("is already in use") => {
                    let held = held_by(&host, &name).unwrap_or_default();
                    if stale(&held) {
                        eprintln!(
                            "deploy: breaking a stale lock on {} ({held}): its holder is gone",
                            show(&host)
                        );
                        let _ = docker::cli(&host, &["rm", "-f", &name], DOCKER);
                        continue;
                    }
                    bail!("another deploy to {} holds the lock on {} ({held}): wait for it to finish; if it is gone, `cargo xtask deploy unlock {}` breaks the lock", t.name, show(&host), t.name);
                }
                Err(e) => return Err(e.context(format!("take the deploy lock on {}", show(&host)))),
            }
        }
        bail!("could not take the lock {name} on {}", show(&host))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = docker::cli_cleanup(&self.host, &["rm", "-f", &self.name], DOCKER);
        proc::forget(self.hook);
    }
}

fn held_by(host: &str, name: &str) -> Result<String> {
    let format = format!("{{{{index .Config.Labels \"{LOCK_LABEL}\"}}}}");
    docker::cli(host, &["inspect", "--format", &format, name], DOCKER)
}

/// `deploy unlock <env>`: removes the lock, saying whose it was.
pub fn unlock(t: &Target) -> Result<Exit> {
    let host = &t.hosts[0];
    let name = name(t);
    match held_by(host, &name) {
        Ok(held) => {
            docker::cli(host, &["rm", "-f", &name], DOCKER)?;
            eprintln!("deploy: removed the lock on {} ({held})", show(host));
        }
        Err(e) if format!("{e:#}").contains("No such") => {
            eprintln!("deploy: {} is not locked", t.name);
        }
        Err(e) => return Err(e),
    }
    Ok(Exit::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_holder_of_this_machine_is_stale() {
        let me = hostname();
        assert!(stale(&format!(
            "runner=local host={me} pid={} since=x",
            i32::MAX - 1
        )));
        assert!(!stale(&format!(
            "runner=local host={me} pid={} since=x",
            std::process::id()
        )));
        assert!(
            !stale("runner=ci host=elsewhere pid=1 since=x"),
            "another machine's lock is not ours to judge"
        );
        assert!(holder(Some("gh-runner-3")).starts_with("runner=gh-runner-3 host="));
    }
}
