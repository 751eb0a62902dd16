//! The proxy container on each host (nginx's contract: `conf.d`, `nginx -s
//! reload`, and curl for the gate): `deploy setup` creates it and the
//! environment's network, idempotently; a switch rewrites its upstream
//! inside the container and reloads it there, gracefully (the old workers
//! finish the requests in flight), then gates the release through it.

use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::gate::Gate;
use super::target::{show, Target};
use crate::docker;

const DOCKER: Duration = Duration::from_secs(120);
pub const PROXY_LABEL: &str = "dev.phx-xtask.proxy";
const CONF: &str = "/etc/nginx/conf.d/default.conf";
const UPSTREAM: &str = "/etc/nginx/conf.d/phx-xtask-upstream.inc";

/// The server block: every request to the release in the upstream file.
fn conf(t: &Target) -> String {
    format!(
        "# Managed by phx-xtask (`cargo xtask deploy setup {env}`): proxies to the live release of {label}.\n\
         upstream app {{\n  include {UPSTREAM};\n  keepalive 16;\n}}\n\
         server {{\n  listen 80 default_server;\n  location / {{\n    proxy_pass http://app;\n    proxy_http_version 1.1;\n    proxy_set_header Connection \"\";\n\
         \x20   proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n  }}\n}}\n",
        env = t.name,
        label = t.label
    )
}

/// `sh -c SCRIPT sh ARGS…` in the proxy: the script is a constant and the
/// values come in as its arguments, never spliced into it.
fn exec_sh(host: &str, container: &str, script: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["exec", container, "sh", "-c", script, "sh"];
    all.extend(args);
    docker::cli(host, &all, DOCKER)
}

/// Points the proxy at `upstream` and reloads it; the previous file comes
/// back when nginx rejects the new one. Not cut short by Ctrl-C: this is
/// also how a host goes back to its old release.
pub fn point(t: &Target, host: &str, upstream: &str) -> Result<()> {
    let script = "cp \"$1\" \"$1.prev\"; printf 'server %s;\\n' \"$2\" > \"$1\" && nginx -t -q && nginx -s reload || { mv \"$1.prev\" \"$1\"; exit 1; }";
    let proxy = t.proxy();
    let args = ["exec", &proxy, "sh", "-c", script, "sh", UPSTREAM, upstream];
    docker::cli_cleanup(host, &args, DOCKER).context("the proxy rejected the new upstream")?;
    Ok(())
}

/// Creates the network and the proxy on `host` when missing, (re)writes its
/// configuration and reloads it; leaves a live upstream alone.
pub fn setup(t: &Target, host: &str, log: &mut dyn FnMut(String)) -> Result<()> {
    if docker::cli(host, &["network", "inspect", &t.network], DOCKER).is_err() {
        docker::cli(host, &["network", "create", &t.network], DOCKER)?;
        log(format!("created the network {}", t.network));
    }
    let proxy = t.proxy();
    match state(host, &proxy)? {
        Some(true) => log(format!("{proxy} is running")),
        Some(false) => {
            docker::cli(host, &["start", &proxy], DOCKER)?;
            log(format!("started {proxy}"));
        }
        None => {
            let label = format!("{PROXY_LABEL}={}", t.label);
            let mut args = vec!["run", "-d", "--name", &proxy, "--network", &t.network];
            args.extend(["--restart", "unless-stopped", "--label", &label]);
            for p in &t.env.proxy_publish {
                args.extend(["-p", p]);
            }
            args.push(&t.env.proxy_image);
            docker::cli(host, &args, DOCKER).with_context(|| {
                format!("start the proxy {} on {}", t.env.proxy_image, show(host))
            })?;
            log(format!(
                "started {proxy} ({}, publishing {})",
                t.env.proxy_image,
                t.env.proxy_publish.join(", ")
            ));
        }
    }
    let script = "[ -s \"$2\" ] || printf 'server 127.0.0.1:9 down;\\n' > \"$2\"; printf '%s' \"$3\" > \"$1\" && nginx -t -q && nginx -s reload";
    exec_sh(host, &proxy, script, &[CONF, UPSTREAM, &conf(t)]).with_context(|| {
        format!(
            "configure {proxy} on {}: does {} follow nginx's image (conf.d, `nginx -s reload`)?",
            show(host),
            t.env.proxy_image
        )
    })?;
    let curl = docker::cli(host, &["exec", &proxy, "curl", "--version"], DOCKER);
    if curl.is_err() {
        bail!("{} has no curl, which the gate runs inside the proxy: use an image with it (phx-xtask-local/proxy, or nginx:stable)", t.env.proxy_image);
    }
    log(format!("{proxy} configured and reloaded"));
    Ok(())
}

/// Some(running) for an existing container, None when there is none.
fn state(host: &str, name: &str) -> Result<Option<bool>> {
    match docker::cli(
        host,
        &["inspect", "--format", "{{.State.Running}}", name],
        DOCKER,
    ) {
        Ok(out) => Ok(Some(out.trim() == "true")),
        Err(e) if format!("{e:#}").contains("No such") => Ok(None),
        Err(e) => Err(e),
    }
}

/// A deploy needs the proxy running on every host.
pub fn check(t: &Target, host: &str) -> Result<()> {
    match state(host, &t.proxy())? {
        Some(true) => Ok(()),
        Some(false) => bail!("the proxy {} on {} is stopped: run `cargo xtask deploy setup {}` (it starts it again)", t.proxy(), show(host), t.name),
        None => bail!("{} has no proxy for {}: run `cargo xtask deploy setup {}` once (it creates the proxy container and its network there)", show(host), t.name, t.name),
    }
}

/// What the proxy on `host` sends traffic to now (`name:port`).
pub fn current(t: &Target, host: &str) -> Result<String> {
    let out = exec_sh(host, &t.proxy(), "cat \"$1\"", &[UPSTREAM])?;
    Ok(out
        .trim()
        .strip_prefix("server ")
        .map(|s| s.trim_end_matches(';').to_string())
        .unwrap_or_default())
}

/// Points the proxy at `upstream`, then checks through it that the
/// release answers there.
pub fn switch(
    t: &Target,
    host: &str,
    upstream: &str,
    revision: &str,
    log: &mut dyn FnMut(String),
) -> Result<()> {
    point(t, host, upstream)?;
    log(format!("proxy: upstream {upstream}, reloaded"));
    let proxy = t.proxy();
    Gate {
        base: "http://127.0.0.1:80".into(),
        health: &t.env.health_path,
        version: &t.env.version_path,
        expect: Some(revision).filter(|r| !r.is_empty()),
        host: t.env.host.as_deref(),
        // As long as the release itself had: over SSH each look is a few
        // round trips, and a loaded host answers slowly.
        timeout: Duration::from_secs(t.env.timeout.max(15)),
        passes: 3,
        via: Some((host, &proxy)),
    }
    .wait(log)
    .map(|_| ())
    .context("the proxy does not serve the new release")
}
