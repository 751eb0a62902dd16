//! Postgres and Redis for the test suite, behind a small synchronous API:
//! `resolve` turns config, flags and environment into `Settings` without
//! touching the machine, `check` probes it (docker, binaries, ports)
//! before anything starts, `Services::start` starts both at once,
//! `wait_ready` waits until they answer, and dropping `Services` stops them.
//! Async (sqlx, testcontainers) stays inside this module, on one runtime.
//!
//! Backends: `docker` (testcontainers), `native` (child processes),
//! `external` (URLs from the environment), `auto` (docker when the daemon
//! answers, else native when the binaries exist).

mod binaries;
pub mod cmd;
mod containers;
mod native;
mod settings;
pub mod urls;
mod wait;

pub use binaries::postgres_program;
pub use settings::{backend, check, resolve, Settings};

use std::time::{Duration, Instant};

use anyhow::Result;
use url::Url;

use crate::config::{Backend, Config};
use crate::env::Env;
use crate::{docker, redact};

/// Registers every secret the run may meet: the configured password and
/// the passwords in DATABASE_URL and REDIS_URL, as written and as the
/// server sees them (`p%40ss` and `p@ss`). `redact::password` keeps a
/// plain word (the default `postgres`) masked only where a password goes.
pub fn register_secrets(config: &Config, env: &Env) {
    redact::password(&config.services.postgres_password);
    for var in ["DATABASE_URL", "REDIS_URL"] {
        let url = env.get(var).and_then(|u| Url::parse(u).ok());
        if let Some(p) = url.as_ref().and_then(|u| u.password()) {
            redact::password(p);
            redact::password(&wait::decode(p));
        }
    }
    for var in [
        "GITHUB_TOKEN",
        "REGISTRY_PASSWORD",
        "FLY_API_TOKEN",
        "SLACK_WEBHOOK_URL",
    ] {
        if let Some(v) = env.get(var) {
            redact::secret(v);
        }
    }
}

/// How long a killed container may stay listed before it is removed, when
/// `services down` is removing it; past this, a stopped container crashed.
const DOWN_GRACE: Duration = Duration::from_secs(5);

/// Running (or given) services. Dropping this stops what we started.
pub struct Services {
    postgres: Url,
    redis: Url,
    pub database: String,
    timeout: Duration,
    started: Instant,
    docker_host: String,
    inner: Inner,
}

enum Inner {
    Docker(Box<containers::Containers>),
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
                docker::sweep(&s.docker_host, &s.project, log);
                let (c, pg, r) = containers::start(s)?;
                log(format!(
                    "started containers {}",
                    c.ids()
                        .iter()
                        .map(|i| docker::short(i))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                (Inner::Docker(Box::new(c)), pg, r)
            }
            Backend::Native => {
                native::sweep(&s.temp_dir, &s.project, log);
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
            docker_host: s.docker_host.clone(),
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

    /// True when the services are containers and one of this run's is
    /// gone: `cargo xtask services down` removed it, which is an order to
    /// stop, not a crash (a container that crashed stays listed, stopped;
    /// ours are never auto-removed). `down` removes with `rm -f`, which
    /// kills before it removes, so a check can land while the killed one is
    /// still listed: it gets `DOWN_GRACE` to go.
    pub fn removed_by_down(&self) -> bool {
        let Inner::Docker(c) = &self.inner else {
            return false;
        };
        let ours = c.ids();
        let deadline = Instant::now() + DOWN_GRACE;
        loop {
            match docker::list(&self.docker_host, docker::RUN, docker::run_id()) {
                Ok(listed) if ours.iter().any(|id| !listed.iter().any(|l| &l.id == id)) => {
                    return true
                }
                Err(_) => return false,
                Ok(_) if Instant::now() >= deadline => return false,
                Ok(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_postgres_is_masked_in_urls_only() {
        let env = Env::from_pairs(&[
            (
                "DATABASE_URL",
                "postgres://postgres:postgres@localhost:5432/app_test",
            ),
            ("REDIS_URL", "redis://:postgres@localhost:6379/0"),
        ]);
        register_secrets(&Config::default(), &env);
        let line = "DATABASE_URL=postgres://postgres:postgres@localhost:5432/app_test: \
                    wait until postgres answers";
        assert_eq!(
            redact::line(line),
            "DATABASE_URL=postgres://postgres:***@localhost:5432/app_test: wait until postgres answers"
        );
        assert_eq!(
            redact::line("REDIS_URL=redis://:postgres@localhost:6379/0"),
            "REDIS_URL=redis://:***@localhost:6379/0"
        );
    }

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
            (Backend::Native, crate::config::NativeAuth::Trust)
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
