//! The health gate: poll `GET <url><health>` with a short backoff, up to
//! once a second, until it answers 2xx and `<url><version>` names the
//! expected revision (so an old instance answering does not pass), or the
//! timeout. No fixed sleeps: a release healthy in 3 s passes in about 3 s.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::http;
use crate::proc;

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
}

impl Gate<'_> {
    /// The time it took to pass, or why it did not.
    pub fn wait(&self, log: &mut dyn FnMut(String)) -> Result<Duration> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut pause = Duration::from_millis(100);
        let mut last = String::from("no answer yet");
        let mut passed = 0;
        loop {
            if proc::interrupted() {
                bail!("interrupted while waiting for {}{}", self.base, self.health);
            }
            match self.probe() {
                Ok(()) if passed + 1 >= self.passes.max(1) => return Ok(started.elapsed()),
                Ok(()) => {
                    passed += 1;
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) if e.to_string().contains("force_ssl") => return Err(e),
                Err(e) => {
                    passed = 0;
                    let now = format!("{e:#}");
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

    /// One look: healthy, and the expected revision.
    fn probe(&self) -> Result<()> {
        let url = format!("{}{}", self.base, self.health);
        let r = http::get(&url, self.host, Duration::from_secs(5))?;
        if matches!(r.status, 301 | 302 | 307 | 308) {
            let to = r.location.unwrap_or_default();
            if to.starts_with("https://") {
                bail!(
                    "{url} redirects to {to}: Phoenix's force_ssl (on in prod since 1.8.2) redirects the health check; exclude it, e.g. `force_ssl: [exclude: [hosts: [\"localhost\"], paths: [\"{}\"]]]` or put the plug after the health route",
                    self.health
                );
            }
            bail!("{url} answered {} (a redirect to {to})", r.status);
        }
        if !(200..300).contains(&r.status) {
            bail!("{url} answered {}: {}", r.status, first_line(&r.body));
        }
        let Some(expect) = self.expect else {
            return Ok(());
        };
        let v = http::get(
            &format!("{}{}", self.base, self.version),
            self.host,
            Duration::from_secs(5),
        )?;
        if !v.body.contains(expect) {
            bail!(
                "healthy, but {} does not name {} yet: {}",
                self.version,
                &expect[..expect.len().min(12)],
                first_line(&v.body)
            );
        }
        Ok(())
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    line.chars().take(200).collect()
}
