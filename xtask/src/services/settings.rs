//! What the services will be: the backend chosen, images, ports, user,
//! password and database, with every precondition checked (docker answers,
//! the binaries exist, the ports are free, the URLs parse) before anything
//! starts.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::ValueEnum;
use serde::Deserialize;
use url::Url;

use super::{labels, native, urls, wait};
use crate::config::Config;
use crate::redact;

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

/// Everything needed to start the services, checked.
pub struct Settings {
    pub backend: Backend,
    /// Why `auto` chose the backend it did.
    pub chosen: Option<String>,
    pub project: String,
    pub postgres_image: String,
    pub redis_image: String,
    pub user: String,
    pub password: String,
    /// The base test database; partition K uses `<database>K`.
    pub database: String,
    pub ready_timeout: Duration,
    pub postgres_port: Option<u16>,
    pub redis_port: Option<u16>,
    pub auth: NativeAuth,
    /// Logical Redis DBs to offer: one per partition, and DB 0.
    pub redis_dbs: u32,
    pub(super) external: Option<(Url, Url)>,
    pub(super) native: Option<native::Binaries>,
}

/// The backend named by `--services`, else `XTASK_SERVICES`, else config.
pub fn backend(cli: Option<Backend>, config: &Config) -> Result<Backend> {
    if let Some(b) = cli {
        return Ok(b);
    }
    match std::env::var("XTASK_SERVICES") {
        Ok(v) if !v.is_empty() => Backend::from_str(&v, true).map_err(|_| {
            anyhow!("XTASK_SERVICES={v} is not one of docker, native, external, auto")
        }),
        _ => Ok(config.services.backend),
    }
}

/// Checks every precondition of the chosen backend, before anything starts.
pub fn resolve(
    config: &Config,
    app: &Path,
    app_name: &str,
    backend: Backend,
    partitions: u32,
) -> Result<Settings> {
    let c = &config.services;
    let env_or = |var: &str, set: &Option<String>, default: String| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| set.clone())
            .unwrap_or(default)
    };
    let mut s = Settings {
        backend,
        chosen: None,
        project: labels::project_id(app),
        postgres_image: env_or(
            "XTASK_POSTGRES_IMAGE",
            &c.postgres_image,
            format!("postgres:{}-alpine", config.toolchain.postgres),
        ),
        redis_image: env_or(
            "XTASK_REDIS_IMAGE",
            &c.redis_image,
            format!("redis:{}-alpine", config.toolchain.redis),
        ),
        user: c.postgres_user.clone(),
        password: c.postgres_password.clone(),
        database: c
            .database
            .clone()
            .unwrap_or_else(|| format!("{app_name}_test")),
        ready_timeout: Duration::from_secs(c.ready_timeout),
        postgres_port: c.postgres_port,
        redis_port: c.redis_port,
        auth: c.native_auth,
        redis_dbs: (partitions + 1).max(16),
        external: None,
        native: None,
    };
    if backend == Backend::Auto {
        choose(&mut s)?;
    }
    match s.backend {
        Backend::Docker if s.chosen.is_none() => labels::ping().map_err(|e| {
            anyhow!(
                "docker does not answer at {} ({e}): start it (`sudo systemctl start docker`), \
                 or run without docker: `--services native` uses postgres and redis-server from PATH",
                labels::docker_host()
            )
        })?,
        Backend::Native => check_native(&mut s)?,
        Backend::External => external(&mut s)?,
        _ => {}
    }
    urls::valid_database(&s.database)
        .map_err(|e| anyhow!("{e}: fix [services] database in xtask.toml"))?;
    urls::valid_database(&urls::partition_database(&s.database, partitions.max(1)))?;
    if s.password != DEFAULT_PASSWORD {
        redact::secret(&s.password);
    }
    Ok(s)
}

fn choose(s: &mut Settings) -> Result<()> {
    let docker = labels::ping();
    let native = native::binaries();
    (s.backend, s.chosen) = match (&docker, &native) {
        (Ok(()), _) => (Backend::Docker, Some("docker answers".to_string())),
        (Err(e), Ok(_)) => (Backend::Native, Some(format!("docker does not answer ({e}); postgres and redis-server are installed"))),
        (Err(d), Err(missing)) => bail!(
            "no way to run Postgres and Redis: docker does not answer at {} ({d}), and {missing} are not installed. \
             Start docker, install PostgreSQL and Redis (or enter `nix develop`), \
             or give your own servers with `--services external` and DATABASE_URL and REDIS_URL",
            labels::docker_host()
        ),
    };
    Ok(())
}

fn check_native(s: &mut Settings) -> Result<()> {
    let bins = native::binaries().map_err(|missing| {
        anyhow!(
            "--services native needs {missing}: install PostgreSQL and Redis (`apt-get install postgresql redis-server`) \
             or enter `nix develop`, or use `--services docker`"
        )
    })?;
    if s.auth == NativeAuth::Scram && s.password.is_empty() {
        bail!("[services] postgres_password is empty, so SCRAM has nothing to check: set one, or native_auth = \"trust\"");
    }
    for (service, port, key) in [
        ("postgres", s.postgres_port, "postgres_port"),
        ("redis", s.redis_port, "redis_port"),
    ] {
        if let Some(port) = port {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!(
                    "port {port} for {service} is already in use: stop what listens there (`ss -ltnp 'sport = :{port}'`), \
                     or set another [services] {key} in xtask.toml (leave it out to use a free port)"
                );
            }
        }
    }
    s.native = Some(bins);
    Ok(())
}

fn external(s: &mut Settings) -> Result<()> {
    let get = |var: &str| {
        std::env::var(var).map_err(|_| {
            anyhow!("--services external needs DATABASE_URL and REDIS_URL, and {var} is not set: set both to your servers")
        })
    };
    let pg = urls::parse_postgres("DATABASE_URL", &get("DATABASE_URL")?)?;
    let redis = urls::parse_redis("REDIS_URL", &get("REDIS_URL")?)?;
    if let Some(db) = urls::database(&pg) {
        s.database = db;
    }
    // The step drops and recreates its database, so it refuses one that is
    // not plainly a test database (Phoenix names it `<app>_test`).
    if !s.database.contains("test") {
        bail!(
            "DATABASE_URL names the database `{}`, which the test step would drop and recreate:              point DATABASE_URL at a test database (a name with `test` in it, like `{}_test`)",
            s.database,
            s.database
        );
    }
    s.user = pg.username().to_string();
    // As written in the URL and as the server sees it (`p%40ss` and `p@ss`).
    for p in pg.password().into_iter().chain(redis.password()) {
        redact::secret(p);
        redact::secret(&wait::decode(p));
    }
    s.external = Some((pg, redis));
    Ok(())
}

impl Settings {
    /// What `start` will do, for the plan.
    pub fn describe(&self) -> String {
        let how = match self.backend {
            Backend::Docker => format!(
                "postgres ({}) and redis ({}) containers",
                self.postgres_image, self.redis_image
            ),
            Backend::Native => {
                "postgres and redis-server as child processes on free ports".to_string()
            }
            _ => "nothing: use the servers in DATABASE_URL and REDIS_URL".to_string(),
        };
        match &self.chosen {
            Some(why) => format!("{how} (auto: {why})"),
            None => how,
        }
    }
}
