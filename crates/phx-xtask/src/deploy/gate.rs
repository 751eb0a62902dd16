//! The health gate: poll `GET <url><health>` with a short backoff, up to
//! once a second, until it answers 2xx, or the timeout. Health is the gate
//! (as Kamal's `/up`); the revision check runs only when `<version>`
//! answers and names a revision, so a stock `phx.gen.release` image that
//! carries none passes on health alone, and `version_path = ""` turns it
//! off. A release that names another revision on every poll cannot pass:
//! that fails after a few polls with the reason, not at the timeout. No
//! fixed sleeps: a release healthy in 3 s passes in about 3 s.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::http::{self, Response};
use crate::proc;

/// Polls in a row that named another revision before the gate gives up.
pub const WRONG_REVISION_POLLS: u32 = 3;

pub struct Gate<'a> {
    /// `http://host:port`, without a trailing slash.
    pub base: String,
    pub health: &'a str,
    pub version: &'a str,
    /// The revision `/version` must name; None checks health only.
    pub expect: Option<&'a str>,
    pub host: Option<&'a str>,
    pub timeout: Duration,
    /// Consecutive passing looks needed: more than one through a proxy
    /// that was just reloaded, whose old workers may still answer once.
    pub passes: u32,
    /// `(DOCKER_HOST, container)`: ask from inside that container (the
    /// proxy, beside the release on its network), else from here.
    pub via: Option<(&'a str, &'a str)>,
}

/// One look's verdict.
enum Look {
    Pass,
    NotYet(String),
    /// Healthy, but the release names another revision.
    Wrong(String),
}

impl Gate<'_> {
    /// The time it took to pass, or why it did not.
    pub fn wait(&self, log: &mut dyn FnMut(String)) -> Result<Duration> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut pause = Duration::from_millis(100);
        let mut last = String::from("no answer yet");
        let (mut passed, mut wrong) = (0, 0);
        loop {
            if proc::interrupted() {
                bail!("interrupted while waiting for {}{}", self.base, self.health);
            }
            match self.look() {
                Ok(Look::Pass) if passed + 1 >= self.passes.max(1) => return Ok(started.elapsed()),
                Ok(Look::Pass) => {
                    passed += 1;
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Ok(Look::Wrong(why)) if wrong + 1 >= WRONG_REVISION_POLLS => {
                    bail!("{why} on {WRONG_REVISION_POLLS} polls in a row: this release cannot pass the gate (was the image built from this commit? `version_path = \"\"` gates on health alone)")
                }
                Err(e) if e.to_string().contains("force_ssl") => return Err(e),
                other => {
                    passed = 0;
                    let now = match other {
                        Ok(Look::Wrong(why)) => {
                            wrong += 1;
                            why
                        }
                        Ok(Look::NotYet(why)) => {
                            wrong = 0;
                            why
                        }
                        Err(e) => {
                            wrong = 0;
                            format!("{e:#}")
                        }
                        Ok(Look::Pass) => unreachable!("handled above"),
                    };
                    if now != last {
                        log(format!("gate: {now}"));
                    }
                    last = now;
                }
            }
            if Instant::now() + pause > deadline {
                bail!(
                    "{}{} did not pass the gate within {} s (last: {last})",
                    self.base,
                    self.health,
                    self.timeout.as_secs()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    fn get(&self, path: &str) -> Result<Response> {
        let url = format!("{}{}", self.base, path);
        let limit = Duration::from_secs(5);
        match self.via {
            None => http::get(&url, self.host, limit),
            Some((docker_host, container)) => {
                let mut args = vec!["exec".to_string(), container.to_string(), "curl".into()];
                args.extend(http::get_args(&url, self.host, limit));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = crate::docker::cli(docker_host, &args, limit * 3)?;
                http::parse(&out)
            }
        }
    }

    /// One look: healthy, and then the revision when the release names one.
    fn look(&self) -> Result<Look> {
        let url = format!("{}{}", self.base, self.health);
        let r = self.get(self.health)?;
        if matches!(r.status, 301 | 302 | 307 | 308) {
            let to = r.location.unwrap_or_default();
            if to.starts_with("https://") {
                bail!(
                    "{url} redirects to {to}: Phoenix's force_ssl (on in prod since 1.8.2) redirects the health check; exclude it, e.g. `force_ssl: [exclude: [hosts: [\"localhost\"], paths: [\"{}\"]]]` or put the plug after the health route",
                    self.health
                );
            }
            return Ok(Look::NotYet(format!(
                "{url} answered {} (a redirect to {to})",
                r.status
            )));
        }
        if !(200..300).contains(&r.status) {
            return Ok(Look::NotYet(format!(
                "{url} answered {}: {}",
                r.status,
                first_line(&r.body)
            )));
        }
        let Some(expect) = self.expect.filter(|_| !self.version.is_empty()) else {
            return Ok(Look::Pass);
        };
        let v = self.get(self.version)?;
        let named = match (200..300).contains(&v.status) {
            true => revisions(&v.body),
            false => Vec::new(),
        };
        if named.is_empty() || named.iter().any(|r| same_revision(r, expect)) {
            return Ok(Look::Pass);
        }
        Ok(Look::Wrong(format!(
            "healthy, but {} names revision {}, not {}",
            self.version,
            named[0],
            &expect[..expect.len().min(12)]
        )))
    }
}

/// The git revisions a `/version` body names: hex words of 7 to 40
/// characters with a letter and a digit (so a build time or a semver is
/// not one).
fn revisions(body: &str) -> Vec<String> {
    body.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| (7..=40).contains(&w.len()) && w.chars().all(|c| c.is_ascii_hexdigit()))
        .filter(|w| {
            w.chars().any(|c| c.is_ascii_digit()) && w.chars().any(|c| c.is_ascii_alphabetic())
        })
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Abbreviated or full, one is a prefix of the other.
fn same_revision(named: &str, expect: &str) -> bool {
    let expect = expect.to_ascii_lowercase();
    expect.starts_with(named) || named.starts_with(&expect)
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests;
