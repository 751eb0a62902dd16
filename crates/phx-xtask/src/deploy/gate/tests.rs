//! The gate against a real HTTP server on loopback: health alone when the
//! release names no revision, a quick refusal when it names another.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

const OURS: &str = "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";

/// Answers /health 200 and /version with `version`; records each path.
fn server(version: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten().take(200) {
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let (status, body) = match path.as_str() {
                "/version" if version.is_empty() => (404, "not found"),
                "/version" => (200, version),
                _ => (200, "{\"status\":\"ok\"}"),
            };
            s.lock().unwrap().push(path);
            let _ = write!(
                c,
                "HTTP/1.0 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, seen)
}

fn gate<'a>(base: &str, version: &'a str) -> Gate<'a> {
    Gate {
        base: base.to_string(),
        health: "/health",
        version,
        expect: Some(OURS),
        host: None,
        timeout: Duration::from_secs(60),
        passes: 1,
        via: None,
    }
}

fn count(seen: &Arc<Mutex<Vec<String>>>, path: &str) -> usize {
    seen.lock().unwrap().iter().filter(|p| *p == path).count()
}

#[test]
fn a_release_that_names_no_revision_passes_on_health() {
    let (base, _) =
        server("{\"version\":\"0.1.0\",\"git_sha\":\"unknown\",\"built\":\"20261203101010\"}");
    assert!(gate(&base, "/version").wait(&mut |_| {}).is_ok());
    let (base, _) = server("");
    assert!(
        gate(&base, "/version").wait(&mut |_| {}).is_ok(),
        "a /version that 404s is no check"
    );
}

#[test]
fn a_release_that_names_our_revision_passes() {
    let (base, _) = server("{\"git_sha\":\"4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39\"}");
    assert!(gate(&base, "/version").wait(&mut |_| {}).is_ok());
    let (base, _) = server("demo 4f2a9c1d8e7b");
    assert!(
        gate(&base, "/version").wait(&mut |_| {}).is_ok(),
        "an abbreviated revision"
    );
}

#[test]
fn another_revision_fails_after_a_few_polls_with_the_reason() {
    let (base, seen) = server("{\"git_sha\":\"0123abcd0123abcd0123abcd0123abcd0123abcd\"}");
    let mut lines = Vec::new();
    let err = gate(&base, "/version")
        .wait(&mut |l| lines.push(l))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("names revision 0123abcd0123abcd0123abcd0123abcd0123abcd, not 4f2a9c1d8e7b")
            && err.contains(&format!("on {WRONG_REVISION_POLLS} polls in a row")),
        "{err}"
    );
    assert_eq!(
        count(&seen, "/version"),
        WRONG_REVISION_POLLS as usize,
        "not polled until the timeout"
    );
}

#[test]
fn an_empty_version_path_turns_the_check_off() {
    let (base, seen) = server("{\"git_sha\":\"0123abcd0123abcd0123abcd0123abcd0123abcd\"}");
    assert!(gate(&base, "").wait(&mut |_| {}).is_ok());
    assert_eq!(count(&seen, "/version"), 0);
    assert_eq!(count(&seen, "/health"), 1);
}

#[test]
fn revisions_are_hex_words_with_letters_and_digits() {
    assert_eq!(
        revisions("v0.1.0 built 20261203101010 sha abc1234"),
        ["abc1234"]
    );
    assert!(revisions("{\"git_sha\":\"unknown\",\"version\":\"deadbeef\"}").is_empty());
}
