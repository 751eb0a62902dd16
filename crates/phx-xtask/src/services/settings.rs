//! What the services will be: the backend, images, ports, user, password
//! and database, computed from the config, the flags and the environment
//! snapshot alone (`resolve`, pure, so `--dry-run` can show it), then
//! checked against the machine (`check`: docker answers, the binaries
//! exist, the ports are free) after planning and before anything starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::ValueEnum;
use url::Url;

use super::binaries::{self, Binaries};
use super::urls;
use crate::config::{Backend, Config, NativeAuth};
use crate::docker;
use crate::env::Env;

/// Postgres settings for a throwaway test database, where durability only
/// costs time; both the container and the native server get them.
pub const THROWAWAY_PG: [&str; 6] = [
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
];

/// Everything needed to start the services.
pub struct Settings {
    pub backend: Backend,
    /// Why `auto` chose the backend it did (set by `check`).
    pub chosen: Option<String>,
    pub project: String,
    pub docker_host: String,
    pub temp_dir: PathBuf,
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
    pub(super) native: Option<Binaries>,
    env: Env,
}

/// The backend named by `--services`, else `XTASK_SERVICES`, else config.
pub fn backend(cli: Option<Backend>, config: &Config, env: &Env) -> Result<Backend> {
    if let Some(b) = cli {
        return Ok(b);
    }
    match env.get("XTASK_SERVICES") {
        Some(v) => Backend::from_str(v, true).map_err(|_| {
            anyhow!("XTASK_SERVICES={v} is not one of docker, native, external, auto")
        }),
        None => Ok(config.services.backend),
    }
}

/// The settings, from files and the environment snapshot only.
pub fn resolve(
    config: &Config,
    env: &Env,
    app: &Path,
    app_name: &str,
    backend: Backend,
    partitions: u32,
) -> Result<Settings> {
    let c = &config.services;
    let image = |var: &str, set: &Option<String>, default: String| {
        env.get(var)
            .map(String::from)
            .or_else(|| set.clone())
            .unwrap_or(default)
    };
    let mut s = Settings {
        backend,
        chosen: None,
        project: docker::project_id(app),
        docker_host: docker::host(env),
        temp_dir: env.temp_dir(),
        postgres_image: image(
            "XTASK_POSTGRES_IMAGE",
            &c.postgres_image,
            format!("postgres:{}-alpine", config.toolchain.postgres),
        ),
        redis_image: image(
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
        env: env.clone(),
    };
    if backend == Backend::External {
        external(&mut s)?;
    }
    urls::valid_database(&s.database)
        .map_err(|e| anyhow!("{e}: fix [services] database in xtask.toml"))?;
    urls::valid_database(&urls::partition_database(&s.database, partitions.max(1)))?;
    if backend == Backend::Native && s.auth == NativeAuth::Scram && s.password.is_empty() {
        bail!("[services] postgres_password is empty, so SCRAM has nothing to check: set one, or native_auth = \"trust\"");
    }
    Ok(s)
}

/// Checks the chosen backend against the machine (and settles `auto`).
pub fn check(s: &mut Settings) -> Result<()> {
    if s.backend == Backend::Auto {
        choose(s)?;
    }
    match s.backend {
        Backend::Docker if s.chosen.is_none() => docker::ping(&s.docker_host).map_err(|e| {
            anyhow!(
                "docker does not answer at {} ({e}): start it (`sudo systemctl start docker`), \
                 or run without docker: `--services native` uses postgres and redis-server from PATH",
                s.docker_host
            )
        }),
        Backend::Native => check_native(s),
        _ => Ok(()),
    }
}

fn choose(s: &mut Settings) -> Result<()> {
    let docker = docker::ping(&s.docker_host);
    let native = binaries::binaries(&s.env);
    (s.backend, s.chosen) = match (&docker, native) {
        (Ok(()), _) => (Backend::Docker, Some("docker answers".to_string())),
        (Err(e), Ok(bins)) => {
            s.native = Some(bins);
            (Backend::Native, Some(format!("docker does not answer ({e}); postgres and redis-server are installed")))
        }
        (Err(d), Err(missing)) => bail!(
            "no way to run Postgres and Redis: docker does not answer at {} ({d}), and {missing} are not installed. \
             Start docker, install PostgreSQL and Redis (or enter `nix develop`), \
             or give your own servers with `--services external` and DATABASE_URL and REDIS_URL",
            s.docker_host
        ),
    };
    Ok(())
}

fn check_native(s: &mut Settings) -> Result<()> {
    let bins = binaries::binaries(&s.env).map_err(|missing| {
        anyhow!(
            "--services native needs {missing}: install PostgreSQL and Redis (`apt-get install postgresql redis-server`) \
             or enter `nix develop`, or use `--services docker`"
        )
    })?;
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
        s.env.get(var).map(String::from).ok_or_else(|| {
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
            "DATABASE_URL names the database `{}`, which the test step would drop and recreate: \
             point DATABASE_URL at a test database (a name with `test` in it, like `{}_test`)",
            s.database,
            s.database
        );
    }
    s.user = pg.username().to_string();
    s.external = Some((pg, redis));
    Ok(())
}

impl Settings {
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Auto => "auto",
            Backend::Docker => "docker",
            Backend::Native => "native",
            Backend::External => "external",
        }
    }

    /// What `start` will do, for the plan.
    /// Whether one Postgres and one Redis can serve both: the same backend,
    /// images, ports and credentials (the steps' own flags may differ).
    pub fn same_servers(&self, other: &Settings) -> bool {
        self.backend == other.backend
            && self.postgres_image == other.postgres_image
            && self.redis_image == other.redis_image
            && self.user == other.user
            && self.password == other.password
            && self.postgres_port == other.postgres_port
            && self.redis_port == other.redis_port
            && self.auth == other.auth
            && self.docker_host == other.docker_host
    }

    pub fn describe(&self) -> String {
        let how = match self.backend {
            Backend::Docker => format!(
                "postgres ({}) and redis ({}) containers",
                self.postgres_image, self.redis_image
            ),
            Backend::Native => {
                "postgres and redis-server as child processes on free ports".to_string()
            }
            Backend::Auto => format!(
                "postgres ({}) and redis ({}) containers when docker answers, else postgres and redis-server as child processes",
                self.postgres_image, self.redis_image
            ),
            Backend::External => "nothing: use the servers in DATABASE_URL and REDIS_URL".to_string(),
        };
        match &self.chosen {
            Some(why) => format!("{how} (auto: {why})"),
            None => how,
        }
    }

    /// The URLs as the plan can show them before anything runs: the real
    /// ones for external servers, else the host and port left open.
    pub fn shown_urls(&self, database: &str, redis_db: u32) -> (String, String) {
        if let Some((pg, redis)) = &self.external {
            let redis = urls::with_redis_db(redis, redis_db);
            return (
                urls::with_database(pg, database).to_string(),
                redis.to_string(),
            );
        }
        let port = |p: Option<u16>| p.map_or("<port>".to_string(), |p| p.to_string());
        let pg = format!(
            "postgres://{}:{}@<host>:{}/{database}",
            self.user,
            self.password,
            port(self.postgres_port)
        );
        (
            pg,
            format!("redis://<host>:{}/{redis_db}", port(self.redis_port)),
        )
    }
}
