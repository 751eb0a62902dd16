//! The docker backend: Postgres and Redis containers through testcontainers,
//! started at once, published on random host ports, labelled so that any
//! path out of the program (drop, panic, signal, SIGKILL and the next run's
//! sweep) removes them. No wait strategy is set: readiness is checked over
//! the wire (`wait.rs`), which needs no log parsing and can be interrupted.

use std::time::Duration;

use anyhow::{anyhow, Result};
use testcontainers::core::IntoContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};
use url::Url;

use super::settings::{Settings, THROWAWAY_PG};
use super::urls;
use crate::docker as labels;
use crate::proc;
use crate::rt::{block_on, rt};

const PG_PORT: u16 = 5432;
const REDIS_PORT: u16 = 6379;

/// The running containers; dropping this removes them.
pub struct Containers {
    postgres: Option<ContainerAsync<GenericImage>>,
    redis: Option<ContainerAsync<GenericImage>>,
    hook: u64,
    host: String,
}

/// `name:tag` → (name, tag); a registry port (`host:5000/img`) is not a tag.
pub fn split_image(image: &str) -> (&str, &str) {
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (&image[..name_start + i], &image[name_start + i + 1..]),
        None => (image, "latest"),
    }
}

fn request(image: &str, port: u16, s: &Settings, service: &str) -> ContainerRequest<GenericImage> {
    let (name, tag) = split_image(image);
    let mut req: ContainerRequest<GenericImage> = GenericImage::new(name, tag)
        .with_exposed_port(port.tcp())
        .into();
    for (k, v) in labels::labels(&s.project, service) {
        req = req.with_label(k, v);
    }
    req
}

pub fn start(s: &Settings) -> Result<(Containers, Url, Url)> {
    // Registered before the first create, so a container whose start we
    // abandon half-way (Ctrl-C) is still found by its run label.
    let host = s.docker_host.clone();
    let hook = proc::on_shutdown(move || labels::remove_run(&host));
    let (postgres, redis) = (postgres_request(s), redis_request(s));
    let (pg, rd) = block_on("starting the containers", async {
        Ok(tokio::join!(postgres.start(), redis.start()))
    })
    .inspect_err(|_| labels::remove_run(&s.docker_host))?;
    let failed = pg
        .as_ref()
        .err()
        .map(|e| {
            explain(
                e,
                "postgres",
                &s.postgres_image,
                "XTASK_POSTGRES_IMAGE",
                "postgres_image",
            )
        })
        .or_else(|| {
            rd.as_ref().err().map(|e| {
                explain(
                    e,
                    "redis",
                    &s.redis_image,
                    "XTASK_REDIS_IMAGE",
                    "redis_image",
                )
            })
        });
    let containers = Containers {
        postgres: pg.ok(),
        redis: rd.ok(),
        hook,
        host: s.docker_host.clone(),
    };
    if let Some(e) = failed {
        drop(containers);
        // testcontainers leaves a container whose start failed in `Created`.
        labels::remove_run(&s.docker_host);
        return Err(e);
    }
    let (pg_url, redis_url) = urls_of(&containers, s)?;
    Ok((containers, pg_url, redis_url))
}

fn postgres_request(s: &Settings) -> ContainerRequest<GenericImage> {
    let postgres = request(&s.postgres_image, PG_PORT, s, "postgres")
        .with_env_var("POSTGRES_USER", &s.user)
        .with_env_var("POSTGRES_PASSWORD", &s.password)
        // The official image passes these to initdb; skipping its final
        // fsync saves a few hundred ms of start-up on a throwaway database.
        .with_env_var("POSTGRES_INITDB_ARGS", "--no-sync")
        // Throwaway data: durability only costs time here.
        .with_cmd(std::iter::once("postgres").chain(THROWAWAY_PG));
    match s.password.is_empty() {
        true => postgres.with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust"),
        false => postgres,
    }
}

fn redis_request(s: &Settings) -> ContainerRequest<GenericImage> {
    let dbs = s.redis_dbs.to_string();
    let args = [
        "redis-server",
        "--save",
        "",
        "--appendonly",
        "no",
        "--databases",
        &dbs,
    ];
    request(&s.redis_image, REDIS_PORT, s, "redis").with_cmd(args.map(String::from))
}

/// The URLs of the started containers' published ports.
fn urls_of(containers: &Containers, s: &Settings) -> Result<(Url, Url)> {
    block_on("reading the container ports", async {
        let (pg, rd) = (
            containers.postgres.as_ref().expect("started"),
            containers.redis.as_ref().expect("started"),
        );
        let host = match pg.get_host().await? {
            url::Host::Domain(d) if d == "localhost" => "127.0.0.1".to_string(),
            h => h.to_string(),
        };
        let pg_port = pg.get_host_port_ipv4(PG_PORT).await?;
        let pg_url = urls::postgres(&s.user, &s.password, &host, pg_port, &s.database);
        Ok((
            pg_url,
            urls::redis(&host, rd.get_host_port_ipv4(REDIS_PORT).await?, 0),
        ))
    })
}

/// A missing image is the common failure where no registry is reachable,
/// so it gets its own message with the override.
fn explain(
    e: &testcontainers::TestcontainersError,
    service: &str,
    image: &str,
    env: &str,
    key: &str,
) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("pull") || text.contains("No such image") {
        return anyhow!(
            "the {service} image `{image}` is not on this machine and pulling it failed ({text}): \
             pull it with `docker pull {image}`, or use an image you have (`docker images`) \
             by setting {env} or [services] {key} in xtask.toml"
        );
    }
    anyhow!("start the {service} container from `{image}`: {text}")
}

impl Containers {
    pub fn ids(&self) -> Vec<String> {
        [&self.postgres, &self.redis]
            .into_iter()
            .flatten()
            .map(|c| c.id().to_string())
            .collect()
    }

    /// Fails when a container stopped, with the end of its output.
    pub fn alive(&self) -> Result<()> {
        for (service, c) in [("postgres", &self.postgres), ("redis", &self.redis)] {
            let Some(c) = c else { continue };
            // Bounded: when Docker does not answer in time, this check is
            // skipped (the readiness deadline still applies).
            let running =
                rt().block_on(async { tokio::time::timeout(CHECK_WITHIN, c.is_running()).await });
            if matches!(running, Ok(Err(_)) | Ok(Ok(false))) {
                let out = rt().block_on(async {
                    let mut out = logs(c.stdout_to_vec()).await;
                    out.extend(logs(c.stderr_to_vec()).await);
                    out
                });
                return Err(anyhow!(
                    "the {service} container {} stopped; its last output:\n{}",
                    labels::short(c.id()),
                    proc::tail(&String::from_utf8_lossy(&out))
                ));
            }
        }
        Ok(())
    }
}

/// How long a check on a running container may take.
const CHECK_WITHIN: Duration = Duration::from_secs(5);

async fn logs(
    f: impl std::future::Future<Output = testcontainers::core::error::Result<Vec<u8>>>,
) -> Vec<u8> {
    tokio::time::timeout(CHECK_WITHIN, f)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default()
}

impl Drop for Containers {
    fn drop(&mut self) {
        let removed = labels::remove(&self.host, &self.ids()).is_ok();
        // Removed by id above, with bounded waits. testcontainers' own drop
        // would ask Docker again and could block for its two-minute client
        // timeout when Docker stalls, so the handles are forgotten instead
        // (a few hundred bytes, once per run). If the removal failed, the
        // shutdown hook tries again by label.
        for c in [self.postgres.take(), self.redis.take()]
            .into_iter()
            .flatten()
        {
            std::mem::forget(c);
        }
        if removed {
            proc::forget(self.hook);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_image_references() {
        let cases = [
            ("postgres:16-alpine", ("postgres", "16-alpine")),
            ("phx-xtask-local/redis:7", ("phx-xtask-local/redis", "7")),
            ("localhost:5000/pg", ("localhost:5000/pg", "latest")),
            ("localhost:5000/pg:15", ("localhost:5000/pg", "15")),
            ("redis", ("redis", "latest")),
        ];
        for (image, want) in cases {
            assert_eq!(split_image(image), want, "{image}");
        }
    }
}
