//! The URLs the test suite gets, and the checks on what users give us:
//! `DATABASE_URL` and `REDIS_URL` in external mode, database names, and the
//! per-partition variants (`<db>K`, Redis logical DB K). Pure functions, so
//! they are table-tested below.

use anyhow::{bail, Result};
use url::Url;

/// The longest identifier Postgres keeps (NAMEDATALEN - 1).
const MAX_NAME: usize = 63;

/// `postgres://user:password@host:port/database`, with the user info
/// percent-encoded, so a password with `@` or `/` survives.
pub fn postgres(user: &str, password: &str, host: &str, port: u16, database: &str) -> Url {
    let mut url = Url::parse("postgres://localhost/").expect("a constant URL parses");
    set_host(&mut url, host);
    let _ = url.set_port(Some(port));
    let _ = url.set_username(user);
    if !password.is_empty() {
        let _ = url.set_password(Some(password));
    }
    url.set_path(&format!("/{database}"));
    url
}

/// `redis://host:port/db`.
pub fn redis(host: &str, port: u16, db: u32) -> Url {
    let mut url = Url::parse("redis://localhost/").expect("a constant URL parses");
    set_host(&mut url, host);
    let _ = url.set_port(Some(port));
    url.set_path(&format!("/{db}"));
    url
}

fn set_host(url: &mut Url, host: &str) {
    // An IPv6 address must be bracketed to be a URL host.
    let host = match host.parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("[{host}]"),
        Err(_) => host.to_string(),
    };
    url.set_host(Some(&host))
        .expect("a host name or address is a valid URL host");
}

/// The same server, another database (partition K uses `<db>K`).
pub fn with_database(url: &Url, database: &str) -> Url {
    let mut url = url.clone();
    url.set_path(&format!("/{database}"));
    url
}

/// The same server, another logical Redis DB (partition K uses DB K).
pub fn with_redis_db(url: &Url, db: u32) -> Url {
    let mut url = url.clone();
    url.set_path(&format!("/{db}"));
    url
}

/// A Postgres URL as given in `DATABASE_URL`: host required, port 5432 by
/// default. Errors never repeat the URL, which may hold a password.
pub fn parse_postgres(var: &str, text: &str) -> Result<Url> {
    let example = "postgres://USER:PASSWORD@HOST:5432/DATABASE";
    let url = Url::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("{var} is not a valid URL ({e}): expected {example}"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        bail!(
            "{var} has the scheme `{}`, not postgres: expected {example}",
            url.scheme()
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("{var} names no host: expected {example}");
    }
    if let Some(db) = database(&url) {
        valid_database(&db).map_err(|e| anyhow::anyhow!("{var}: {e}"))?;
    }
    Ok(url)
}

/// A Redis URL as given in `REDIS_URL`: `redis://[[user]:password@]host[:port][/db]`.
pub fn parse_redis(var: &str, text: &str) -> Result<Url> {
    let example = "redis://HOST:6379/0";
    let url = Url::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("{var} is not a valid URL ({e}): expected {example}"))?;
    match url.scheme() {
        "redis" => {}
        "rediss" => bail!(
            "{var} asks for TLS (rediss://), which xtask does not speak: use a plain redis:// URL"
        ),
        other => bail!("{var} has the scheme `{other}`, not redis: expected {example}"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("{var} names no host: expected {example}");
    }
    redis_db(&url).map_err(|e| anyhow::anyhow!("{var}: {e}"))?;
    Ok(url)
}

/// The database a Postgres URL names, if any.
pub fn database(url: &Url) -> Option<String> {
    let path = url.path().trim_start_matches('/');
    (!path.is_empty()).then(|| path.to_string())
}

/// The logical DB a Redis URL selects (0 when the path is empty).
pub fn redis_db(url: &Url) -> Result<u32> {
    let path = url.path().trim_start_matches('/');
    if path.is_empty() {
        return Ok(0);
    }
    path.parse()
        .map_err(|_| anyhow::anyhow!("the path `/{path}` is not a logical DB number (like /0)"))
}

/// Names we create and drop: lower-case letters, digits and `_`, starting
/// with a letter or `_`, so they never need quoting tricks and match what
/// Phoenix generates (`my_app_test2`).
pub fn valid_database(name: &str) -> Result<()> {
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok_start || !ok_chars {
        bail!("`{name}` is not a usable database name: use lower-case letters, digits and `_`, starting with a letter");
    }
    if name.len() > MAX_NAME {
        bail!("`{name}` is longer than Postgres' {MAX_NAME}-byte limit for names");
    }
    Ok(())
}

/// The database of partition `k`, Phoenix-style: `my_app_test` → `my_app_test2`.
pub fn partition_database(base: &str, k: u32) -> String {
    format!("{base}{k}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls_with_encoded_passwords() {
        let cases = [
            (
                "postgres",
                "postgres",
                "127.0.0.1",
                5432,
                "demo_test",
                "postgres://postgres:postgres@127.0.0.1:5432/demo_test",
            ),
            (
                "app",
                "p@ss/w:rd",
                "db.local",
                6000,
                "x",
                "postgres://app:p%40ss%2Fw%3Ard@db.local:6000/x",
            ),
            ("app", "", "::1", 5432, "x", "postgres://app@[::1]:5432/x"),
        ];
        for (user, pw, host, port, db, want) in cases {
            assert_eq!(postgres(user, pw, host, port, db).as_str(), want);
        }
        assert_eq!(
            redis("127.0.0.1", 6379, 2).as_str(),
            "redis://127.0.0.1:6379/2"
        );
    }

    #[test]
    fn partition_variants_keep_the_server() {
        let base = parse_postgres(
            "DATABASE_URL",
            "postgres://u:pw@h:5433/demo_test?sslmode=disable",
        )
        .unwrap();
        let p2 = with_database(&base, &partition_database("demo_test", 2));
        assert_eq!(
            p2.as_str(),
            "postgres://u:pw@h:5433/demo_test2?sslmode=disable"
        );
        let r = parse_redis("REDIS_URL", "redis://:tok@h:6380/0").unwrap();
        assert_eq!(with_redis_db(&r, 3).as_str(), "redis://:tok@h:6380/3");
    }

    #[test]
    fn rejects_bad_external_urls_without_echoing_them() {
        let bad = [
            ("not a url", "is not a valid URL"),
            ("mysql://u:secretpw@h/db", "scheme `mysql`"),
            ("postgres:///db", "names no host"),
            (
                "postgres://u:secretpw@h/Bad-Name",
                "not a usable database name",
            ),
        ];
        for (text, want) in bad {
            let err = parse_postgres("DATABASE_URL", text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains("secretpw"), "{err}");
        }
        assert!(parse_redis("REDIS_URL", "redis://h/x")
            .unwrap_err()
            .to_string()
            .contains("logical DB"));
        assert!(parse_redis("REDIS_URL", "rediss://h/0")
            .unwrap_err()
            .to_string()
            .contains("TLS"));
        assert_eq!(
            redis_db(&parse_redis("REDIS_URL", "redis://h").unwrap()).unwrap(),
            0
        );
        assert_eq!(
            database(&parse_postgres("DATABASE_URL", "postgresql://h").unwrap()),
            None
        );
    }

    #[test]
    fn database_names() {
        for ok in ["demo_test", "demo_test12", "_x", &"a".repeat(63)] {
            assert!(valid_database(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Demo",
            "1demo",
            "demo-test",
            "demo test",
            "d\"; DROP",
            &"a".repeat(64),
        ] {
            assert!(valid_database(bad).is_err(), "{bad}");
        }
    }
}
