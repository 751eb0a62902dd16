//! The one place that talks to Docker: where the daemon is (one answer for
//! `doctor` and `test`, rootless included), the client, ping and info, and
//! our containers. Containers are found again by their labels, never by
//! Ryuk: each carries the project, the run and the owner pid. From those we
//! remove a run's containers (on Ctrl-C, SIGTERM or panic), sweep orphans
//! whose owner was SIGKILLed, and list or remove a project's containers.
//! testcontainers, which starts the service containers, uses the same host.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use testcontainers::bollard::errors::Error::DockerResponseServerError;
use testcontainers::bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use testcontainers::bollard::{Docker, API_DEFAULT_VERSION};

use crate::env::Env;
use crate::ids::fnv;
use crate::proc;
use crate::rt::{rt, within};

mod sweep;
pub use sweep::sweep;

pub const PROJECT: &str = "dev.phx-xtask.project";
pub const RUN: &str = "dev.phx-xtask.run";
pub const PID: &str = "dev.phx-xtask.pid";
pub const SERVICE: &str = "dev.phx-xtask.service";

/// A stable id for a project directory: FNV-1a of its canonical path, so
/// two checkouts never touch each other's containers.
pub fn project_id(dir: &Path) -> String {
    let path = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    format!("{:016x}", fnv(path.as_os_str().as_encoded_bytes()))
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

/// Where Docker is: `DOCKER_HOST`, else the first socket that exists, in
/// the order testcontainers looks (root, then rootless and Desktop).
pub fn host(env: &Env) -> String {
    if let Some(h) = env.get("DOCKER_HOST") {
        return h.to_string();
    }
    let home = env.get("HOME").unwrap_or_default();
    let runtime = env.get("XDG_RUNTIME_DIR").unwrap_or_default();
    let candidates = [
        "/var/run/docker.sock".to_string(),
        // Rootless docker: its own socket, and the one Docker's rootless
        // installer documents under the runtime dir.
        format!("{runtime}/docker.sock"),
        format!("{runtime}/.docker/run/docker.sock"),
        format!("{home}/.docker/run/docker.sock"),
        format!("{home}/.docker/desktop/docker.sock"),
    ];
    let found = candidates
        .into_iter()
        .filter(|p| !p.starts_with("/docker.sock") && !p.starts_with("/.docker"))
        .find(|p| Path::new(p).exists());
    format!(
        "unix://{}",
        found.unwrap_or_else(|| "/var/run/docker.sock".into())
    )
}

/// The client for `host`; it is not connected until the first call.
pub fn client(host: &str) -> Result<Docker> {
    let docker = match host.split_once("://") {
        Some(("unix", path)) => Docker::connect_with_unix(path, 60, API_DEFAULT_VERSION),
        Some(("tcp" | "http", _)) => Docker::connect_with_http(host, 60, API_DEFAULT_VERSION),
        _ => bail!("DOCKER_HOST={host} is not supported: use a unix:// socket or tcp:// address"),
    };
    docker.with_context(|| format!("connect to docker at {host}"))
}

/// What the daemon says about itself.
#[derive(Debug, Clone)]
pub struct Info {
    pub version: String,
    /// Where it keeps images, for the disk check (local daemons only).
    pub root_dir: Option<PathBuf>,
}

/// The daemon's version and data dir, within `limit`.
pub fn info(host: &str, limit: Duration) -> Result<Info> {
    let docker = client(host)?;
    let answer = within(limit, docker.info())
        .ok_or_else(|| anyhow::anyhow!("no answer within {} s", limit.as_secs()))??;
    let version = answer.server_version.unwrap_or_else(|| "unknown".into());
    // The data dir is on this machine only for a local socket.
    let root_dir = answer
        .docker_root_dir
        .filter(|_| host.starts_with("unix://"))
        .map(PathBuf::from);
    Ok(Info { version, root_dir })
}

/// Runs the docker CLI against `host` (DOCKER_HOST, so `ssh://` hosts work
/// too), bounded by `limit`; stdout on success, else an error with what
/// docker said.
pub fn cli(host: &str, args: &[&str], limit: Duration) -> Result<String> {
    cli_as(host, args, limit, true)
}

/// As `cli`, for cleanup that must happen after Ctrl-C too (see
/// `proc::output_cleanup`).
pub fn cli_cleanup(host: &str, args: &[&str], limit: Duration) -> Result<String> {
    cli_as(host, args, limit, false)
}

fn cli_as(host: &str, args: &[&str], limit: Duration, guarded: bool) -> Result<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let spawn = proc::Spawn {
        env: vec![("DOCKER_HOST", host)],
        ..proc::Spawn::new("docker", &args)
    };
    let out = match guarded {
        true => proc::output(&spawn, limit, |_| {})?,
        false => proc::output_cleanup(&spawn, limit)?,
    };
    if !out.status.success() {
        bail!(
            "`docker {}` failed: {}",
            args.join(" "),
            crate::redact::line(out.stderr.trim())
        );
    }
    Ok(out.stdout.trim().to_string())
}

/// A local image: its id and, once pushed, the digests registries gave it.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub id: String,
    pub repo_digests: Vec<String>,
}

/// Inspects a local image; Ok(None) when there is no such image.
pub fn inspect_image(host: &str, reference: &str) -> Result<Option<ImageFacts>> {
    let docker = client(host)?;
    let answer = within(Duration::from_secs(20), docker.inspect_image(reference))
        .ok_or_else(|| anyhow::anyhow!("docker did not inspect {reference} within 20 s"))?;
    match answer {
        Ok(i) => Ok(Some(ImageFacts {
            id: i.id.unwrap_or_default(),
            repo_digests: i.repo_digests.unwrap_or_default(),
        })),
        Err(DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("inspect the image {reference}")),
    }
}

/// Whether the daemon answers, within a few seconds.
pub fn ping(host: &str) -> Result<()> {
    let docker = client(host)?;
    match within(Duration::from_secs(3), docker.ping()) {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => bail!("{e}"),
        None => bail!("no answer within 3 s"),
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

pub fn list(host: &str, label: &str, value: &str) -> Result<Vec<Listed>> {
    let docker = client(host)?;
    let filters = HashMap::from([("label".to_string(), vec![format!("{label}={value}")])]);
    let options = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    // Not cut short by Ctrl-C: the cleanup after a signal needs this list.
    let found = within(
        Duration::from_secs(20),
        docker.list_containers(Some(options)),
    )
    .ok_or_else(|| anyhow::anyhow!("docker did not list containers within 20 s"))?
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
pub fn remove(host: &str, ids: &[String]) -> Result<()> {
    let docker = client(host)?;
    rt().block_on(async {
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
pub fn remove_run(host: &str) {
    // A create request that was in flight when we gave up can still land
    // just after the first listing, so look again until a listing is empty
    // (a few rounds at most).
    for round in 0..4 {
        let Ok(found) = list(host, RUN, run_id()) else {
            return;
        };
        if found.is_empty() {
            return;
        }
        let ids: Vec<String> = found.into_iter().map(|c| c.id).collect();
        if let Err(e) = remove(host, &ids) {
            let e = crate::redact::line(&format!("{e:#}"));
            eprintln!("warning: {e}: remove them with `cargo xtask services down`");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200 * (round + 1)));
    }
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
    fn host_prefers_docker_host_then_the_rootless_socket() {
        let env = Env::from_pairs(&[("DOCKER_HOST", "tcp://127.0.0.1:2375")]);
        assert_eq!(host(&env), "tcp://127.0.0.1:2375");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker.sock"), "").unwrap();
        let runtime = dir.path().to_str().unwrap();
        let env = Env::from_pairs(&[("XDG_RUNTIME_DIR", runtime)]);
        let want = match Path::new("/var/run/docker.sock").exists() {
            true => "unix:///var/run/docker.sock".to_string(),
            false => format!("unix://{runtime}/docker.sock"),
        };
        assert_eq!(host(&env), want);
    }

    #[test]
    fn labels_name_run_and_owner() {
        let l = labels("p1", "postgres");
        assert_eq!(l[0], (PROJECT, "p1".to_string()));
        assert_eq!(l[2], (PID, std::process::id().to_string()));
        assert!(l[1].1.ends_with(&format!("-{}", std::process::id())));
    }
}
