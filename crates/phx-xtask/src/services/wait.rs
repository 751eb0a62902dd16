//! Readiness and set-up over the wire: Postgres is ready when sqlx gets an
//! answer to `SELECT 1`, Redis when `PING` gets `+PONG`. Every wait is
//! bounded by a deadline and gives up at once on Ctrl-C or SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use url::Url;

use super::urls;
use crate::proc;
use crate::rt::{block_on, within};

/// How often a service that is not up yet is asked again.
const POLL: Duration = Duration::from_millis(50);
/// One connection attempt never takes longer than this, so a host that
/// drops packets still lets us check the deadline and the interrupt flag.
const ATTEMPT: Duration = Duration::from_secs(2);
/// How often a service we started is checked for having exited.
const ALIVE_EVERY: Duration = Duration::from_millis(500);

/// Waits until both answer, or fails once `timeout` has passed. `alive`
/// says why a service we started can no longer come up (it exited).
pub fn until_ready(
    postgres: &Url,
    redis: &Url,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_alive = Instant::now();
    let admin = admin_options(postgres)?;
    let (mut pg_err, mut redis_err) = (
        Some(String::from("not tried")),
        Some(String::from("not tried")),
    );
    loop {
        if proc::interrupted() {
            bail!("interrupted while waiting for postgres and redis");
        }
        // Asking Docker whether a container still runs costs more than a
        // connection attempt, so it is asked only now and then.
        if last_alive.elapsed() >= ALIVE_EVERY {
            alive()?;
            last_alive = Instant::now();
        }
        if pg_err.is_some() {
            let attempt = attempt_time(deadline);
            pg_err = within(attempt, select_1(&admin)).map_or_else(
                || Some(format!("no answer within {} ms", attempt.as_millis())),
                |r| r.err().map(|e| e.to_string()),
            );
        }
        if redis_err.is_some() {
            redis_err = ping(redis, attempt_time(deadline))
                .err()
                .map(|e| format!("{e:#}"));
        }
        if pg_err.is_none() && redis_err.is_none() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut why = Vec::new();
            if let Some(e) = pg_err {
                why.push(format!(
                    "postgres at {} did not answer `SELECT 1` ({e})",
                    host_port(postgres)
                ));
            }
            if let Some(e) = redis_err {
                why.push(format!(
                    "redis at {} did not answer PING ({e})",
                    host_port(redis)
                ));
            }
            bail!(
                "{} within {} s: check that the server runs and the URL is right, or raise [services] ready_timeout in xtask.toml",
                why.join("; "),
                timeout.as_secs()
            );
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

fn attempt_time(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .clamp(Duration::from_millis(100), ATTEMPT)
}

pub fn host_port(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or("?"),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// The server's maintenance database, `postgres`, which always exists and
/// is never one we drop.
fn admin_options(url: &Url) -> Result<PgConnectOptions> {
    let mut url = url.clone();
    url.set_path("/postgres");
    Ok(PgConnectOptions::from_url(&url)
        .context("read the postgres URL")?
        .database("postgres"))
}

async fn select_1(options: &PgConnectOptions) -> std::result::Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(options).await?;
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await?;
    conn.close().await?;
    if one != 1 {
        return Err(sqlx::Error::Protocol(format!("SELECT 1 returned {one}")));
    }
    Ok(())
}

/// Drops (if present) and creates each database, so a rerun starts clean.
/// `WITH (FORCE)` ends sessions a killed run left behind (Postgres 13+).
pub fn recreate_databases(postgres: &Url, names: &[String]) -> Result<()> {
    for name in names {
        urls::valid_database(name)?;
    }
    let admin = admin_options(postgres)?;
    let work = async {
        let mut conn = PgConnection::connect_with(&admin).await?;
        for name in names {
            // The names were validated above, so quoting them is enough.
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .await?;
            sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await
    };
    block_on("creating the test databases", async {
        work.await.with_context(|| {
            format!(
                "create {} on {}: the user needs the CREATEDB privilege",
                names.join(", "),
                host_port(postgres)
            )
        })
    })
}

/// One `PING`, after `AUTH` when the URL carries a password.
pub fn ping(url: &Url, timeout: Duration) -> Result<()> {
    let host = url
        .host_str()
        .context("the redis URL has no host")?
        .trim_matches(['[', ']']);
    let port = url.port().unwrap_or(6379);
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .context("the redis host resolves to no address")?;
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    if let Some(password) = url.password() {
        let password = decode(password);
        let user = decode(url.username());
        let auth: Vec<&str> = match user.is_empty() {
            true => vec!["AUTH", &password],
            false => vec!["AUTH", &user, &password],
        };
        stream.write_all(&resp(&auth))?;
        let reply = read_line(&mut reader)?;
        if reply != "+OK" {
            // The reply may quote the command, so it is not repeated here.
            bail!("AUTH was refused: check the password in REDIS_URL");
        }
    }
    stream.write_all(&resp(&["PING"]))?;
    match read_line(&mut reader)?.as_str() {
        "+PONG" => Ok(()),
        other => bail!("PING got `{other}`"),
    }
}

/// A command as a RESP array of bulk strings.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

fn read_line(reader: &mut impl BufRead) -> Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        bail!("the connection closed without a reply");
    }
    Ok(line.trim_end().to_string())
}

/// Percent-decoding for URL user info (`p%40ss` → `p@ss`).
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_and_decoding() {
        assert_eq!(resp(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(resp(&["AUTH", "pw"]), b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
        assert_eq!(decode("p%40ss%2Fx"), "p@ss/x");
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn closed_port_fails_fast() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("redis://127.0.0.1:{port}/0")).unwrap();
        // Refused, not timed out: the error is the connection's own.
        let err = format!("{:#}", ping(&url, Duration::from_secs(30)).unwrap_err());
        assert!(err.contains("refused"), "{err}");
    }
}
