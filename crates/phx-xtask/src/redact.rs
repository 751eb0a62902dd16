//! Keeps secrets out of every line we print: passwords inside URLs and in
//! password fields (`PGPASSWORD=…`, `password: "…"`) whatever their value,
//! and any value registered as secret (a token, a password that is not a
//! plain word), whatever the line it turns up in (echoed commands, captured
//! logs, the JSON report).

use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

const MASK: &str = "***";

/// Registers a value that must never be printed. Values under three
/// characters are ignored: masking them would mangle every line.
pub fn secret(value: &str) {
    if value.len() >= 3 {
        let mut s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
        if !s.iter().any(|v| v == value) {
            s.push(value.to_string());
            // Longest first, so a secret that contains another is masked whole.
            s.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }
}

/// Registers a password. One that is a plain word (letters only, like the
/// default `postgres`) also names a URL scheme, a user, a program and the
/// server in prose, so masking it everywhere would hide all of them
/// (`***://***:***@localhost`); it is masked where a password goes, in
/// URLs and password fields, as every password is.
pub fn password(value: &str) {
    if !value.chars().all(|c| c.is_ascii_alphabetic()) {
        secret(value);
    }
}

/// Returns `s` with URL passwords and registered secrets masked.
pub fn line(s: &str) -> String {
    let mut out = field_passwords(&url_passwords(s));
    for v in SECRETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), MASK);
        }
    }
    out
}

/// Masks the password of every `scheme://user:password@host` in `s`.
fn url_passwords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first character that cannot be in it.
        let end = tail
            .find(|c: char| c.is_whitespace() || "/?#'\"".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Masks the value of a password field: `password=VALUE` (a libpq URL's
/// query, a key=value DSN), `PGPASSWORD=VALUE` and other `…PASSWORD=`
/// variables, `password: "VALUE"` (Elixir) and `"password": "VALUE"`
/// (JSON). After a `:`, or a space, only a quoted value counts, so prose
/// ("password: see above") stays as it is.
fn field_passwords(s: &str) -> String {
    const KEY: &str = "password";
    let (lower, b) = (s.to_ascii_lowercase(), s.as_bytes());
    let mut out = String::with_capacity(s.len());
    let (mut done, mut from) = (0, 0);
    while let Some(i) = lower[from..].find(KEY) {
        let mut j = from + i + KEY.len();
        from = j;
        if b.get(j) == Some(&b'"') {
            j += 1;
        }
        let spaced = b.get(j) == Some(&b' ');
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        let quoted_only = match b.get(j) {
            Some(b'=') => spaced,
            Some(b':') => true,
            _ => continue,
        };
        j += 1;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        let (start, end) = match b.get(j) {
            Some(&q @ (b'"' | b'\'')) => match s[j + 1..].find(q as char) {
                Some(n) => (j + 1, j + 1 + n),
                None => continue,
            },
            _ if quoted_only => continue,
            _ => {
                let n = s[j..]
                    .find(|c: char| c.is_whitespace() || "&'\",;".contains(c))
                    .unwrap_or(s.len() - j);
                (j, j + n)
            }
        };
        if end > start {
            out.push_str(&s[done..start]);
            out.push_str(MASK);
            done = end;
        }
        from = end.max(from);
    }
    out.push_str(&s[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_passwords() {
        let cases = [
            (
                "postgres://app:pw@127.0.0.1:5432/db",
                "postgres://app:***@127.0.0.1:5432/db",
            ),
            ("x redis://:tok@h:6379/2 y", "x redis://:***@h:6379/2 y"),
            ("postgres://app@h/db", "postgres://app@h/db"),
            (
                "see https://example.com:8080/a",
                "see https://example.com:8080/a",
            ),
            (
                "a=postgres://u:p%40ss@h/d b=redis://u:q@h",
                "a=postgres://u:***@h/d b=redis://u:***@h",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(url_passwords(input), want, "{input}");
        }
    }

    #[test]
    fn masks_query_passwords() {
        assert_eq!(
            line("postgres://u@h/db?sslmode=disable&password=hunter2 next"),
            "postgres://u@h/db?sslmode=disable&password=*** next"
        );
        assert_eq!(
            line("host=h password=pw dbname=d"),
            "host=h password=*** dbname=d"
        );
    }

    #[test]
    fn masks_password_fields_but_not_prose() {
        let cases = [
            ("PGPASSWORD=pw psql", "PGPASSWORD=*** psql"),
            (
                "-e POSTGRES_PASSWORD='a b' x",
                "-e POSTGRES_PASSWORD='***' x",
            ),
            (
                "[password: \"pw\", user: \"u\"]",
                "[password: \"***\", user: \"u\"]",
            ),
            ("{\"password\":\"pw\"}", "{\"password\":\"***\"}"),
            ("password = \"pw\"", "password = \"***\""),
            (
                "password authentication failed",
                "password authentication failed",
            ),
            ("password: see above", "password: see above"),
            (
                "[services] postgres_password in xtask.toml",
                "[services] postgres_password in xtask.toml",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(field_passwords(input), want, "{input}");
        }
    }

    #[test]
    fn a_plain_word_password_is_masked_only_where_a_password_goes() {
        password("postgres");
        assert_eq!(
            line("export DATABASE_URL=postgres://postgres:postgres@localhost:5432/demo_test"),
            "export DATABASE_URL=postgres://postgres:***@localhost:5432/demo_test"
        );
        assert_eq!(
            line("wait until postgres answers `SELECT 1`"),
            "wait until postgres answers `SELECT 1`"
        );
        password("pa55-word");
        assert_eq!(line("the password is pa55-word."), "the password is ***.");
    }

    #[test]
    fn masks_registered_secrets() {
        secret("s3cr3t-marker");
        assert_eq!(line("password is s3cr3t-marker!"), "password is ***!");
    }
}
