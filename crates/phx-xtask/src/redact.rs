//! Keeps secrets out of every line we print: passwords inside URLs, and any
//! value registered as secret (a database password, a token), whatever the
//! line it turns up in (echoed commands, captured logs, the JSON report).

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

/// Returns `s` with URL passwords and registered secrets masked.
pub fn line(s: &str) -> String {
    let mut out = query_passwords(&url_passwords(s));
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

/// Masks `password=VALUE` (a libpq URL's query, a key=value DSN).
fn query_passwords(s: &str) -> String {
    const KEY: &str = "password=";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(KEY) {
        let (head, tail) = rest.split_at(i + KEY.len());
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || "&'\"".contains(c))
            .unwrap_or(tail.len());
        if end > 0 {
            out.push_str(MASK);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
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
    fn masks_registered_secrets() {
        secret("s3cr3t-marker");
        assert_eq!(line("password is s3cr3t-marker!"), "password is ***!");
    }
}
