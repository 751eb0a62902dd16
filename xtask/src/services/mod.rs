//! Postgres and Redis for the test suite, behind a small synchronous API:
//! `resolve` turns config, flags and environment into `Settings` (and
//! checks every precondition), `Services::start` starts both at once,
//! `wait_ready` waits until they answer, and dropping `Services` stops them.
//! Async (sqlx, testcontainers) stays inside this module, on one runtime.
//!
//! Backends: `docker` (testcontainers), `native` (child processes),
//! `external` (URLs from the environment), `auto` (docker when the daemon
//! answers, else native when the binaries exist).

pub mod cmd;
mod docker;
mod labels;
mod native;
mod settings;
pub mod urls;
mod wait;

pub use settings::{backend, resolve, Backend, NativeAuth, Settings, DEFAULT_PASSWORD};

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use url::Url;

use crate::proc;

/// Running (or given) services. Dropping this stops what we started.
pub struct Services {
    postgres: Url,
    redis: Url,
    pub database: String,
    timeout: Duration,
    started: Instant,
    inner: Inner,
}

enum Inner {
    Docker(Box<docker::Containers>),
    Native(Box<native::Procs>),
    External,
}

impl Services {
    /// Sweeps orphans of this project, then starts both services; does not
    /// wait for them to answer.
    pub fn start(s: &Settings, log: &mut dyn FnMut(String)) -> Result<Services> {
        let started = Instant::now();
        let (inner, postgres, redis) = match s.backend {
            Backend::Docker => {
                labels::sweep(&s.project, log)?;
                let (c, pg, r) = docker::start(s)?;
                log(format!(
                    "started containers {}",
                    c.ids()
                        .iter()
                        .map(|i| labels::short(i))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                (Inner::Docker(Box::new(c)), pg, r)
            }
            Backend::Native => {
                native::sweep(&s.project, log);
                let bins = s.native.as_ref().expect("resolve found the binaries");
                let (p, pg, r) = native::start(s, bins)?;
                log(format!(
                    "started postgres and redis-server in {}",
                    p.dir().display()
                ));
                (Inner::Native(Box::new(p)), pg, r)
            }
            _ => {
                let (pg, r) = s.external.clone().expect("resolve read the URLs");
                (Inner::External, pg, r)
            }
        };
        Ok(Services {
            postgres,
            redis,
            database: s.database.clone(),
            timeout: s.ready_timeout,
            started,
            inner,
        })
    }

    /// Waits until Postgres answers `SELECT 1` and Redis `PING`; returns the
    /// time since `start` began.
    pub fn wait_ready(&self) -> Result<Duration> {
        wait::until_ready(&self.postgres, &self.redis, self.timeout, || self.alive())?;
        Ok(self.started.elapsed())
    }

    /// Fails when a service we started has stopped (or was removed).
    pub fn alive(&self) -> Result<()> {
        match &self.inner {
            Inner::Docker(c) => c.alive(),
            Inner::Native(p) => p.alive(),
            Inner::External => Ok(()),
        }
    }

    /// True when the services are containers and none of this run's is
    /// left: `cargo xtask services down` removed them, which is an order to
    /// stop, not a crash.
    pub fn removed_by_down(&self) -> bool {
        matches!(self.inner, Inner::Docker(_))
            && labels::list(labels::RUN, labels::run_id()).is_ok_and(|l| l.is_empty())
    }

    pub fn recreate_databases(&self, names: &[String]) -> Result<()> {
        wait::recreate_databases(&self.postgres, names)
    }

    /// The URL of `database` on this server (password included: env only).
    pub fn database_url(&self, database: &str) -> Url {
        urls::with_database(&self.postgres, database)
    }

    /// The Redis URL as started or given (logical DB 0 unless given).
    pub fn redis_url(&self) -> &Url {
        &self.redis
    }

    pub fn redis_db_url(&self, db: u32) -> Url {
        urls::with_redis_db(&self.redis, db)
    }

    pub fn where_(&self) -> String {
        format!(
            "postgres at {}, redis at {}",
            wait::host_port(&self.postgres),
            wait::host_port(&self.redis)
        )
    }
}

/// Postgres settings for a throwaway test database, where durability only
/// costs time; both the container and the native server get them.
const THROWAWAY_PG: [&str; 6] = [
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
];

/// The last lines of a service's output: enough to show why it stopped.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// The one runtime for sqlx and testcontainers; never dropped, so a
/// container's drop can always reach Docker.
pub(crate) fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("xtask-services")
            .enable_all()
            .build()
            .expect("start the tokio runtime")
    })
}

/// Runs `fut`, giving up promptly when we are interrupted.
pub(crate) fn block_on<T>(what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    rt().block_on(async {
        tokio::select! {
            r = fut => r,
            () = until_interrupted() => Err(anyhow!("interrupted while {what}")),
        }
    })
}

async fn until_interrupted() {
    while !proc::interrupted() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sections_parse_with_defaults() {
        let text = "[test]\npartitions = 2\ncoverage_threshold = 80\n\
                    [services]\nbackend = \"native\"\nnative_auth = \"trust\"\n";
        let c = crate::config::parse(text).unwrap();
        assert_eq!(
            (c.test.partitions, c.test.coverage_threshold),
            (2, Some(80.0))
        );
        assert!(c.test.overlap && c.test.cover);
        assert_eq!(
            (c.services.backend, c.services.native_auth),
            (Backend::Native, NativeAuth::Trust)
        );
        assert_eq!(
            (
                c.services.ready_timeout,
                c.services.postgres_image.as_deref()
            ),
            (30, None)
        );
        let err = crate::config::parse("[services]\nbackend = \"podman\"\n").unwrap_err();
        assert!(err.starts_with("2:11:") && err.contains("podman"), "{err}");
    }
}
