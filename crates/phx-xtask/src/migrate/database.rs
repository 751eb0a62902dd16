//! Which database `migrate` works on: the one in DATABASE_URL, checked to
//! answer within `[migrate] connect_timeout` before anything runs, or a
//! throwaway one on services started as `cargo xtask test` starts them
//! (same backends, images and settings), which stop when the command ends.

use std::time::Duration;

use anyhow::{bail, Result};
use url::Url;

use super::Ctx;
use crate::config::Backend;
use crate::migrations::db;
use crate::redact;
use crate::services::{self, urls, Services};

pub struct Database {
    pub url: Url,
    /// REDIS_URL of the throwaway services (a release may need one to boot).
    pub redis: Option<Url>,
    /// Throwaway services, stopped when this drops.
    services: Option<Services>,
}

impl Database {
    pub fn throwaway(&self) -> bool {
        self.services.is_some()
    }

    /// `demo_migrate on postgres at 127.0.0.1:5432`.
    pub fn describe(&self) -> String {
        format!(
            "{} on postgres at {}",
            db::database(&self.url),
            db::host_port(&self.url)
        )
    }

    /// What the app's command gets from us: nothing when the URLs are the
    /// user's own (the child inherits them), else the throwaway ones.
    pub fn env(&self) -> Vec<(String, String)> {
        if !self.throwaway() {
            return Vec::new();
        }
        let mut env = vec![("DATABASE_URL".to_string(), self.url.to_string())];
        if let Some(redis) = &self.redis {
            env.push(("REDIS_URL".to_string(), redis.to_string()));
        }
        env
    }
}

pub fn connect_timeout(ctx: &Ctx) -> Duration {
    Duration::from_secs(ctx.run.config.migrate.connect_timeout)
}

/// DATABASE_URL, parsed, when it is set.
pub fn given(ctx: &Ctx) -> Result<Option<Url>> {
    let Some(text) = ctx.run.env.get("DATABASE_URL") else {
        return Ok(None);
    };
    Ok(Some(urls::parse_postgres("DATABASE_URL", text)?))
}

/// DATABASE_URL, for the commands that only make sense on a database that
/// outlives them (status, rollback).
pub fn required(ctx: &Ctx, what: &str) -> Result<Url> {
    match given(ctx)? {
        Some(url) => Ok(url),
        None => bail!(
            "`migrate {what}` works on the database in DATABASE_URL, and it is not set: \
             export it (`cargo xtask services up` prints one for local services)"
        ),
    }
}

/// The name of the throwaway database.
fn throwaway_name(ctx: &Ctx) -> String {
    format!("{}_migrate", ctx.project.app)
}

/// What `open` will use, for `--dry-run` (which probes nothing).
pub fn planned(ctx: &Ctx) -> Result<String> {
    if let Some(url) = given(ctx)? {
        return Ok(format!(
            "# use DATABASE_URL ({})",
            redact::line(url.as_str())
        ));
    }
    let settings = settings(ctx)?;
    Ok(format!(
        "# start {}; create {}; export DATABASE_URL and REDIS_URL",
        settings.describe(),
        throwaway_name(ctx)
    ))
}

fn settings(ctx: &Ctx) -> Result<services::Settings> {
    let (run, args) = (ctx.run, ctx.args);
    let backend = services::backend(args.services, &run.config, &run.env)?;
    if backend == Backend::External {
        bail!(
            "--services external means the database in DATABASE_URL, and it is not set: export it"
        );
    }
    services::resolve(&run.config, &run.env, ctx.app, &ctx.project.app, backend, 1)
}

/// DATABASE_URL (checked to answer when `reachable`), else throwaway services.
pub fn open(ctx: &Ctx, reachable: bool) -> Result<Database> {
    if let Some(url) = given(ctx)? {
        if reachable {
            db::reachable(&url, connect_timeout(ctx))?;
        }
        return Ok(Database {
            url,
            redis: None,
            services: None,
        });
    }
    let mut settings = settings(ctx)?;
    services::check(&mut settings)?;
    eprintln!("DATABASE_URL is not set: starting {}", settings.describe());
    let started = Services::start(&settings, &mut |line| eprintln!("{}", redact::line(&line)))?;
    started.wait_ready()?;
    let name = throwaway_name(ctx);
    started.recreate_databases(std::slice::from_ref(&name))?;
    let (url, redis) = (started.database_url(&name), started.redis_url().clone());
    eprintln!(
        "{}",
        redact::line(&format!("export DATABASE_URL={url} REDIS_URL={redis}"))
    );
    Ok(Database {
        url,
        redis: Some(redis),
        services: Some(started),
    })
}
