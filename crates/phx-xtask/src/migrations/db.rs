//! The database side of migrations, through sqlx behind a synchronous API:
//! whether the server answers, the versions in Ecto's `schema_migrations`
//! (`version bigint`, `inserted_at`), and schema snapshots. Every connection
//! is bounded by a timeout, so an unreachable server fails in time instead
//! of hanging, and errors name the host, never the URL (it holds the
//! password).

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use url::Url;

use super::schema::{self, Schema};
use crate::rt::block_on;

/// One connection's work, whatever the catalog holds, never takes longer.
const WORK: Duration = Duration::from_secs(120);

/// `host:port` of a Postgres URL, for messages.
pub fn host_port(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or("?"),
        url.port_or_known_default().unwrap_or(5432)
    )
}

/// The database a URL names (`demo_dev`), for messages.
pub fn database(url: &Url) -> String {
    url.path().trim_start_matches('/').to_string()
}

/// Connects within `connect`, runs `work` within `WORK`, and closes.
fn with_conn<T>(
    url: &Url,
    connect: Duration,
    what: &str,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    let at = host_port(url);
    block_on(what, async {
        let mut conn = open(url, connect).await?;
        let result = tokio::time::timeout(WORK, work(&mut conn))
            .await
            .unwrap_or_else(|_| Err(anyhow!("postgres at {at} took over {} s", WORK.as_secs())));
        let _ = conn.close().await;
        result
    })
}

/// A connection within `connect`, with errors that name the host only.
async fn open(url: &Url, connect: Duration) -> Result<PgConnection> {
    let options = PgConnectOptions::from_url(url)
        .map_err(|e| anyhow!("the postgres URL is not usable ({e}): expected postgres://USER:PASSWORD@HOST:5432/DATABASE"))?;
    let at = host_port(url);
    match tokio::time::timeout(connect, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(anyhow!(
            "cannot connect to postgres at {at} ({e}): check that the server runs and that the URL's user, password and database are right"
        )),
        Err(_) => Err(anyhow!(
            "postgres at {at} did not answer within {} s: check that the server runs and that the host and port are right",
            connect.as_secs()
        )),
    }
}

/// One connection kept for many snapshots: the migrations check takes two
/// per migration, and a connection's start-up (SCRAM) costs more than the
/// catalog queries.
pub struct Snapshots {
    conn: Option<PgConnection>,
    at: String,
}

impl Snapshots {
    pub fn open(url: &Url, connect: Duration) -> Result<Snapshots> {
        let conn = block_on("connecting to postgres", open(url, connect))?;
        Ok(Snapshots {
            conn: Some(conn),
            at: host_port(url),
        })
    }

    /// The schema now.
    pub fn take(&mut self) -> Result<Schema> {
        let conn = self.conn.as_mut().expect("open until dropped");
        let at = &self.at;
        block_on("reading the schema", async {
            tokio::time::timeout(WORK, schema::snapshot(conn))
                .await
                .unwrap_or_else(|_| Err(anyhow!("postgres at {at} took over {} s", WORK.as_secs())))
        })
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            crate::rt::within(Duration::from_secs(5), conn.close());
        }
    }
}

/// Fails unless the server answers and lets us in, within `connect`.
pub fn reachable(url: &Url, connect: Duration) -> Result<()> {
    with_conn(url, connect, "connecting to postgres", async |conn| {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&mut *conn)
            .await
            .context("run `SELECT 1`")?;
        Ok(())
    })
}

/// The versions in `schema_migrations`, oldest first; none when the table
/// does not exist yet (nothing was ever migrated).
pub fn applied(url: &Url, connect: Duration) -> Result<Vec<i64>> {
    with_conn(url, connect, "reading schema_migrations", async |conn| {
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
                .fetch_one(&mut *conn)
                .await
                .context("look for the schema_migrations table")?;
        if !exists {
            return Ok(Vec::new());
        }
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .context("read schema_migrations")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_messages() {
        let url = Url::parse("postgres://u:secret@db.example:6543/app_dev").unwrap();
        assert_eq!(host_port(&url), "db.example:6543");
        assert_eq!(database(&url), "app_dev");
        let url = Url::parse("postgres://u@localhost/app").unwrap();
        assert_eq!(host_port(&url), "localhost:5432");
    }

    #[test]
    fn a_server_that_never_answers_fails_within_the_bound() {
        // Accepted by the kernel, never answered: the startup message hangs.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let url = Url::parse(&format!("postgres://u:secret@127.0.0.1:{port}/db")).unwrap();
        let started = std::time::Instant::now();
        let err = applied(&url, Duration::from_millis(500))
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert!(
            err.contains(&format!(
                "postgres at 127.0.0.1:{port} did not answer within"
            )),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn a_closed_port_is_refused_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("postgres://u:pw@127.0.0.1:{port}/db")).unwrap();
        let err = reachable(&url, Duration::from_secs(30))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot connect to postgres at 127.0.0.1"),
            "{err}"
        );
    }
}
