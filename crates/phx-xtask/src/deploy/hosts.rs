//! Each host of a docker environment, before anything changes: reachable
//! (ssh answers, our key is accepted, docker runs there), its proxy in
//! place, and the image there (pulled from the registry by digest). The
//! first failure names the host and the fix; nothing has changed yet.

use std::time::Duration;

use anyhow::{bail, Result};

use super::target::{show, Target};
use super::{docker, proxy};
use crate::run::Exit;

const REACH: Duration = Duration::from_secs(40);
const PULL: Duration = Duration::from_secs(600);

/// The host answers through its Docker API, or an error naming the fix.
pub fn reachable(host: &str) -> Result<()> {
    let Err(e) = crate::docker::cli(host, &["version", "--format", "{{.Server.Version}}"], REACH)
    else {
        return Ok(());
    };
    let said = format!("{e:#}");
    let h = show(host);
    let fix = if said.contains("Connection refused")
        || said.contains("Connection timed out")
        || said.contains("No route")
        || said.contains("Could not resolve")
    {
        format!(
            "ssh to {h} failed ({}): check the host and port in `hosts`, and that sshd runs there",
            last_line(&said)
        )
    } else if said.contains("Permission denied") {
        format!("{h} refused our SSH key: add the deploying key's public half to the user's ~/.ssh/authorized_keys there, or load the right key into ssh-agent (SSH_AUTH_SOCK)")
    } else if said.contains("Host key verification failed") {
        format!("{h}'s host key is not known here: add it to ~/.ssh/known_hosts (`ssh-keyscan` it once, and check its fingerprint)")
    } else if said.contains("command not found")
        || said.contains("dial-stdio")
        || said.contains("Cannot connect to the Docker daemon")
    {
        format!("docker does not answer on {h}: install Docker there and start it, and add the ssh user to the docker group ({})", last_line(&said))
    } else {
        format!("{h} does not answer: {}", last_line(&said))
    };
    bail!("{fix}; nothing was changed on any host")
}

fn last_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Every host reachable: checked first, so the error comes before the
/// lock and before any change.
pub fn reachable_all(t: &Target) -> Result<()> {
    t.hosts.iter().try_for_each(|h| reachable(h))
}

/// Every host has its proxy running.
pub fn proxies(t: &Target) -> Result<()> {
    t.hosts.iter().try_for_each(|h| proxy::check(t, h))
}

/// The image on every host: present, or pulled now. A host that cannot
/// pull stops the deploy before any host switches.
pub fn pull(t: &Target, image: &str, log: &mut dyn FnMut(String)) -> Result<()> {
    for h in &t.hosts {
        if crate::docker::cli(
            h,
            &["image", "inspect", "--format", "{{.Id}}", image],
            REACH,
        )
        .is_ok()
        {
            continue;
        }
        log(format!("{}: pulling {image}", show(h)));
        if let Err(e) = crate::docker::cli(h, &["pull", "--quiet", image], PULL) {
            bail!("{} cannot pull {image}: {}. Push it with `cargo xtask image --push` (the hosts pull the recorded digest), and check that the host can reach the registry (`docker login` there for a private one); no host was switched", show(h), last_line(&format!("{e:#}")));
        }
    }
    Ok(())
}

/// `deploy setup <env>`: the network and the proxy on each host.
pub fn setup(t: &Target) -> Result<Exit> {
    for h in &t.hosts {
        reachable(h)?;
    }
    for h in &t.hosts {
        let name = show(h);
        let mut log = |l: String| eprintln!("setup: {name}: {l}");
        proxy::setup(t, h, &mut log)?;
    }
    eprintln!(
        "setup: {}: the proxy runs on {} host(s); `cargo xtask deploy {}` deploys behind it",
        t.name,
        t.hosts.len(),
        t.name
    );
    Ok(Exit::Passed)
}

/// The plan's lines for each host: what serves there, what would happen.
pub fn plan_lines(t: &Target, version: &str) -> Vec<String> {
    t.hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let order = if i == 0 { "first".to_string() } else { format!("then ({} at a time)", t.env.max_parallel) };
            let now = match reachable(h).and_then(|_| proxy::check(t, h)).and_then(|_| docker::serving(t, h)) {
                Ok(Some(k)) => format!("serving {} ({})", k.version, k.name),
                Ok(None) => "serving nothing yet".into(),
                Err(e) => format!("NOT READY: {}", format!("{e:#}").lines().next().unwrap_or_default()),
            };
            format!("{:<24} {order}: {now}; pull {version} if missing, start it beside, gate it, switch {}", show(h), t.proxy())
        })
        .collect()
}
