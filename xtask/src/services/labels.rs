//! Containers are found again by their labels, never by Ryuk: each carries
//! the project, the run and the owner pid. From those we remove a run's
//! containers (on Ctrl-C, SIGTERM or panic), sweep orphans whose owner was
//! SIGKILLed, and list or remove a project's containers (`services`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use testcontainers::bollard::errors::Error::DockerResponseServerError;
use testcontainers::bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use testcontainers::bollard::{Docker, API_DEFAULT_VERSION};

pub const PROJECT: &str = "dev.phx-xtask.project";
pub const RUN: &str = "dev.phx-xtask.run";
pub const PID: &str = "dev.phx-xtask.pid";
pub const SERVICE: &str = "dev.phx-xtask.service";

/// A stable id for a project directory: FNV-1a of its canonical path, so
/// two checkouts never touch each other's containers.
pub fn project_id(dir: &Path) -> String {
    let path = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    format!(
        "{:016x}",
        crate::steps::fnv(path.as_os_str().as_encoded_bytes())
    )
}

/// This process's run id: start time and pid, unique on this machine.
pub fn run_id() -> &'static str {
    static RUN_ID: OnceLock<String> = OnceLock::new();
    RUN_ID.get_or_init(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("{ms:x}-{}", std::process::id())
    })
}

/// The labels of a container this run starts.
pub fn labels(project: &str, service: &str) -> [(&'static str, String); 4] {
    [
        (PROJECT, project.to_string()),
        (RUN, run_id().to_string()),
        (PID, std::process::id().to_string()),
        (SERVICE, service.to_string()),
    ]
}

/// False only when the pid certainly names no process (ESRCH); a pid we
/// may not signal (EPERM) belongs to someone alive.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    let exists = r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    exists && !zombie(pid)
}

/// A killed process whose parent has not reaped it yet still answers
/// kill(pid, 0), but it is gone for our purposes (Linux; elsewhere false).
fn zombie(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// Where Docker is: `DOCKER_HOST`, else the first socket that exists, in
/// the order testcontainers looks (root, then rootless and Desktop).
pub fn docker_host() -> String {
    if let Some(h) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return h;
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let runtime = std::env::var("XDG_RUNTIME_DIR").unwrap_or_default();
    let candidates = [
        "/var/run/docker.sock".to_string(),
        format!("{runtime}/.docker/run/docker.sock"),
        format!("{home}/.docker/run/docker.sock"),
        format!("{home}/.docker/desktop/docker.sock"),
    ];
    let found = candidates.into_iter().find(|p| Path::new(p).exists());
    format!(
        "unix://{}",
        found.unwrap_or_else(|| "/var/run/docker.sock".into())
    )
}

pub fn client() -> Result<Docker> {
    let host = docker_host();
    let docker = match host.split_once("://") {
        Some(("unix", path)) => Docker::connect_with_unix(path, 60, API_DEFAULT_VERSION),
        Some(("tcp" | "http", _)) => Docker::connect_with_http(&host, 60, API_DEFAULT_VERSION),
        _ => bail!("DOCKER_HOST={host} is not supported: use a unix:// socket or tcp:// address"),
    };
    docker.with_context(|| format!("connect to docker at {host}"))
}

/// Whether the daemon answers, within a few seconds.
pub fn ping() -> Result<()> {
    let docker = client()?;
    let answer = super::rt()
        .block_on(async { tokio::time::timeout(Duration::from_secs(3), docker.ping()).await });
    match answer {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => bail!("{e}"),
        Err(_) => bail!("no answer within 3 s"),
    }
}

/// One of our containers, as `services status` shows it.
pub struct Listed {
    pub id: String,
    pub service: String,
    pub run: String,
    pub pid: Option<i32>,
    pub port: Option<u16>,
    pub image: String,
    pub state: String,
}

pub fn list(label: &str, value: &str) -> Result<Vec<Listed>> {
    let docker = client()?;
    let filters = HashMap::from([("label".to_string(), vec![format!("{label}={value}")])]);
    let options = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    // Not cut short by Ctrl-C: the cleanup after a signal needs this list.
    let found = super::rt()
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(20),
                docker.list_containers(Some(options)),
            )
            .await
        })
        .map_err(|_| anyhow::anyhow!("docker did not list containers within 20 s"))?
        .context("list containers")?;
    Ok(found
        .into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
            Listed {
                id: c.id.unwrap_or_default(),
                service: get(SERVICE),
                run: get(RUN),
                pid: get(PID).parse().ok(),
                port: c
                    .ports
                    .unwrap_or_default()
                    .iter()
                    .find_map(|p| p.public_port),
                image: c.image.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            }
        })
        .collect())
}

/// How long one removal may take. Docker can stall a removal that races
/// another (`services down` while `up` notices), so each is bounded and
/// tried twice rather than waiting for the client's two-minute timeout.
const REMOVE_WITHIN: Duration = Duration::from_secs(10);

/// Force-removes containers with their anonymous volumes, all at once.
pub fn remove(ids: &[String]) -> Result<()> {
    let docker = client()?;
    super::rt().block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            set.spawn(remove_one(docker.clone(), id.clone()));
        }
        let mut result = Ok(());
        while let Some(done) = set.join_next().await {
            result = result.and(done.context("a removal task failed")?);
        }
        result
    })
}

async fn remove_one(docker: Docker, id: String) -> Result<()> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        link: false,
    };
    for _ in 0..2 {
        let call = docker.remove_container(&id, Some(options.clone()));
        match tokio::time::timeout(REMOVE_WITHIN, call).await {
            Ok(Ok(())) => return Ok(()),
            // Gone already, or being removed by someone else (another
            // `down`): either way it is what we want.
            Ok(Err(DockerResponseServerError {
                status_code: 404 | 409,
                ..
            })) => return Ok(()),
            Ok(Err(e)) => {
                return Err(e).with_context(|| format!("remove container {}", short(&id)))
            }
            Err(_) => continue,
        }
    }
    bail!(
        "docker did not remove container {} within {} s, twice",
        short(&id),
        REMOVE_WITHIN.as_secs()
    )
}

/// Removes every container of this run; the Ctrl-C, SIGTERM and panic path.
pub fn remove_run() {
    // A create request that was in flight when we gave up can still land
    // just after the first listing, so look again until a listing is empty
    // (a few rounds at most).
    for round in 0..4 {
        let Ok(found) = list(RUN, run_id()) else {
            return;
        };
        if found.is_empty() {
            return;
        }
        let ids: Vec<String> = found.into_iter().map(|c| c.id).collect();
        if let Err(e) = remove(&ids) {
            let e = crate::redact::line(&format!("{e:#}"));
            eprintln!("warning: {e}: remove them with `cargo xtask services down`");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200 * (round + 1)));
    }
}

/// Removes this project's containers whose owner process is gone (it was
/// SIGKILLed, or the machine rebooted), saying so for each.
pub fn sweep(project: &str, log: &mut dyn FnMut(String)) -> Result<()> {
    let me = std::process::id() as i32;
    let orphans: Vec<Listed> = list(PROJECT, project)?
        .into_iter()
        .filter(|c| c.pid.is_some_and(|p| p != me && !pid_alive(p)))
        .collect();
    for c in &orphans {
        remove(std::slice::from_ref(&c.id))?;
        log(format!(
            "removed orphaned container {} ({}) from run {} (pid {} is gone)",
            short(&c.id),
            c.service,
            c.run,
            c.pid.unwrap_or_default()
        ));
    }
    Ok(())
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_are_stable_and_distinct() {
        let a = project_id(Path::new("/nonexistent/a"));
        assert_eq!(a, project_id(Path::new("/nonexistent/a")));
        assert_ne!(a, project_id(Path::new("/nonexistent/b")));
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn liveness() {
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(0));
        // Pids wrap far below i32::MAX, so this one is free.
        assert!(!pid_alive(i32::MAX - 1));
    }

    #[test]
    fn labels_name_run_and_owner() {
        let l = labels("p1", "postgres");
        assert_eq!(l[0], (PROJECT, "p1".to_string()));
        assert_eq!(l[2], (PID, std::process::id().to_string()));
        assert!(l[1].1.ends_with(&format!("-{}", std::process::id())));
    }
}
