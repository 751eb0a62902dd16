//! HTTP for the deploy: the health gate's GETs and the Slack webhook's
//! POST, through curl (which speaks TLS, follows nothing by itself, and is
//! on every machine that deploys). A URL that is a secret (a webhook) goes
//! to curl on stdin as its config, never on the command line.

use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::proc;

/// What a GET answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// Where a redirect points.
    pub location: Option<String>,
}

/// The status and the redirect target come after the body, on a line of
/// their own that no body can fake (it is the last line).
const TRAILER: &str = "\n%{http_code} %{redirect_url}";

/// `GET url`, with a Host header when given, within `limit`.
pub fn get(url: &str, host: Option<&str>, limit: Duration) -> Result<Response> {
    let out = curl(
        &get_args(url, host, limit),
        None,
        limit + Duration::from_secs(5),
    )?;
    parse(&out)
}

/// curl's arguments for `get`, so a curl elsewhere (inside a container on
/// a docker host) asks the same way and its output parses the same.
pub fn get_args(url: &str, host: Option<&str>, limit: Duration) -> Vec<String> {
    let secs = format!("{:.1}", limit.as_secs_f64().max(0.1));
    let mut args: Vec<String> = [
        "--silent",
        "--show-error",
        "--max-time",
        &secs,
        "--output",
        "-",
        "--write-out",
        TRAILER,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(h) = host {
        args.extend(["--header".to_string(), format!("Host: {h}")]);
    }
    args.push(url.to_string());
    args
}

/// What curl printed with `get_args`: the body, then the trailer line.
pub fn parse(out: &str) -> Result<Response> {
    let (body, trailer) = out.rsplit_once('\n').unwrap_or(("", out));
    let mut parts = trailer.splitn(2, ' ');
    let status: u16 = parts
        .next()
        .unwrap_or_default()
        .trim()
        .parse()
        .context("curl gave no status")?;
    let location = parts
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from);
    Ok(Response {
        status,
        body: body.to_string(),
        location,
    })
}

/// POSTs `json` to a secret URL: the URL reaches curl on stdin.
pub fn post_secret(url: &str, json: &str, limit: Duration) -> Result<u16> {
    let secs = format!("{:.1}", limit.as_secs_f64());
    let config = format!(
        "url = \"{}\"\nrequest = \"POST\"\nheader = \"Content-Type: application/json\"\ndata-binary = \"{}\"\nsilent\nshow-error\nmax-time = {secs}\noutput = \"/dev/null\"\nwrite-out = \"%{{http_code}}\"\n",
        escape(url),
        escape(json)
    );
    let args = ["--config".to_string(), "-".to_string()];
    let out = curl(
        &args,
        Some(config.as_bytes()),
        limit + Duration::from_secs(5),
    )?;
    out.trim().parse().context("curl gave no status")
}

/// curl's config files quote like C strings.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn curl(args: &[String], stdin: Option<&[u8]>, limit: Duration) -> Result<String> {
    let spawn = proc::Spawn {
        stdin,
        ..proc::Spawn::new("curl", args)
    };
    let out = proc::output(&spawn, limit, |_| {})?;
    if !out.status.success() {
        // curl names the host and the reason (refused, timed out, TLS).
        bail!("{}", crate::redact::line(out.stderr.trim()));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One canned answer on a loopback port; returns what was asked.
    fn serve(answer: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            s.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (port, t)
    }

    #[test]
    fn get_reads_status_body_and_sends_the_host() {
        let (port, t) =
            serve("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}");
        let r = get(
            &format!("http://127.0.0.1:{port}/health"),
            Some("app.test"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            (r.status, r.body.as_str(), r.location),
            (503, "{\"a\":\"b\"}", None)
        );
        assert!(t.join().unwrap().contains("Host: app.test"));
    }

    #[test]
    fn a_redirect_names_its_target() {
        let (port, _t) = serve(
            "HTTP/1.0 301 Moved\r\nLocation: https://app.test/health\r\nContent-Length: 0\r\n\r\n",
        );
        let r = get(
            &format!("http://127.0.0.1:{port}/health"),
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            (r.status, r.location.as_deref()),
            (301, Some("https://app.test/health"))
        );
    }

    #[test]
    fn post_sends_json_and_keeps_the_url_off_the_command_line() {
        let (port, t) = serve("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let status = post_secret(
            &format!("http://127.0.0.1:{port}/hook/T0/SECRET"),
            "{\"text\":\"hi \\\"x\\\"\"}",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(status, 200);
        let req = t.join().unwrap();
        assert!(req.starts_with("POST /hook/T0/SECRET"), "{req}");
        assert!(req.ends_with("{\"text\":\"hi \\\"x\\\"\"}"), "{req}");
    }
}
