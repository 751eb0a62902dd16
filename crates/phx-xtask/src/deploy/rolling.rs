//! Rolling over the hosts, for a deploy and a rollback alike: on each host
//! (`max_parallel` at a time, one by default) bring the release up beside
//! the serving one, gate it from inside the proxy, switch the proxy and
//! gate it through the proxy. The old releases keep running until every
//! host has switched, so when any host fails, every host already switched
//! goes straight back to its old release and all hosts end on one version.
//! Only then do the old releases drain and stop (kept for a rollback).

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::docker::{self, Kept};
use super::proxy;
use super::target::{show, Target};
use crate::{proc, redact};

/// What to switch every host to.
pub struct Plan<'a> {
    pub revision: &'a str,
    /// Brings the release up on a host; its container's name there.
    pub up: &'a (dyn Fn(&str) -> Result<String> + Sync),
    /// Undoes `up` (removes a new release, stops a kept one).
    pub down: &'a (dyn Fn(&str, &str) + Sync),
}

/// A host that switched: what it served before and what it serves now.
struct Switched {
    host: String,
    old: Option<Kept>,
    new: String,
}

fn host_log(host: &str) -> impl FnMut(String) {
    let h = show(host);
    move |l: String| eprintln!("deploy: {h}: {}", redact::line(&l))
}

/// Switches every host, or none: the time each host took to get healthy.
pub fn roll(
    t: &Target,
    plan: &Plan,
    log: &mut dyn FnMut(String),
) -> Result<Vec<(String, Duration)>> {
    let mut done: Vec<Switched> = Vec::new();
    let mut healthy = Vec::new();
    for batch in t.hosts.chunks(t.env.max_parallel.max(1)) {
        let results: Vec<(String, Result<(Switched, Duration)>)> = std::thread::scope(|s| {
            let running: Vec<_> = batch
                .iter()
                .map(|h| (h.clone(), s.spawn(move || one_host(t, h, plan))))
                .collect();
            running
                .into_iter()
                .map(|(h, j)| {
                    (
                        h,
                        j.join()
                            .unwrap_or_else(|_| Err(anyhow!("the deploy to this host panicked"))),
                    )
                })
                .collect()
        });
        let mut failed = Vec::new();
        for (h, r) in results {
            match r {
                Ok((sw, d)) => {
                    healthy.push((h, d));
                    done.push(sw);
                }
                Err(e) => failed.push((h, e)),
            }
        }
        if let Some((host, err)) = failed.into_iter().next() {
            back_out(t, &done, plan, log);
            let back = match done.is_empty() {
                true => "no other host had switched".to_string(),
                false => format!(
                    "{} host(s) that had switched went back to their previous release",
                    done.len()
                ),
            };
            return Err(err.context(format!(
                "{} failed; {back}, so every host serves what it served before",
                show(&host)
            )));
        }
    }
    drain_and_stop(t, &done, log);
    for sw in &done {
        let mut hl = host_log(&sw.host);
        if let Err(e) = docker::prune(t, &sw.host, &mut hl) {
            hl(format!("warning: could not prune old releases: {e:#}"));
        }
    }
    Ok(healthy)
}

/// Up, gate, switch on one host; on failure that host is as it was.
fn one_host(t: &Target, host: &str, plan: &Plan) -> Result<(Switched, Duration)> {
    let mut log = host_log(host);
    let old = docker::serving(t, host)?;
    let started = Instant::now();
    let name = (plan.up)(host)?;
    log(format!("started {name}"));
    if let Err(e) = docker::gate(t, host, &name, plan.revision, &mut log) {
        let logs = docker::last_logs(host, &name);
        (plan.down)(host, &name);
        let keeps = old.as_ref().map_or("nothing was serving".into(), |o| {
            format!("{} ({}) keeps serving", o.name, o.version)
        });
        return Err(e.context(format!("{name} never passed the gate on {}, so it was removed and {keeps}; its last output:\n{logs}", show(host))));
    }
    let healthy = started.elapsed();
    log(format!(
        "{name} passed the gate {:.1} s after it started",
        healthy.as_secs_f64()
    ));
    if let Err(e) = proxy::switch(
        t,
        host,
        &docker::upstream(t, &name),
        plan.revision,
        &mut log,
    ) {
        if let Some(o) = &old {
            let back = proxy::point(t, host, &docker::upstream(t, &o.name));
            log(format!(
                "switched the proxy back to {}: {}",
                o.name,
                back.map_or_else(|e| format!("{e:#}"), |_| "ok".into())
            ));
        }
        (plan.down)(host, &name);
        return Err(e.context(format!("on {}", show(host))));
    }
    let sw = Switched {
        host: host.to_string(),
        old,
        new: name,
    };
    Ok((sw, healthy))
}

/// Every switched host back to its old release (still running), newest
/// switch first; the new release goes.
fn back_out(t: &Target, done: &[Switched], plan: &Plan, log: &mut dyn FnMut(String)) {
    for sw in done.iter().rev() {
        let mut hl = host_log(&sw.host);
        match &sw.old {
            Some(o) => {
                let back = proxy::point(t, &sw.host, &docker::upstream(t, &o.name));
                hl(format!(
                    "back to {} ({}): {}",
                    o.name,
                    o.version,
                    back.map_or_else(|e| format!("FAILED: {e:#}"), |_| "ok".into())
                ));
            }
            None => hl("nothing served here before: the new release is removed too".into()),
        }
        (plan.down)(&sw.host, &sw.new);
    }
    log(format!("{} switched host(s) rolled back", done.len()));
}

/// Lets the old releases finish their requests, then stops them (kept).
fn drain_and_stop(t: &Target, done: &[Switched], log: &mut dyn FnMut(String)) {
    if done.iter().all(|sw| sw.old.is_none()) {
        return;
    }
    log(format!("draining the old releases for {} s", t.env.drain));
    let until = Instant::now() + Duration::from_secs(t.env.drain);
    while Instant::now() < until && !proc::interrupted() {
        std::thread::sleep(Duration::from_millis(100));
    }
    for sw in done {
        let Some(o) = &sw.old else { continue };
        let mut hl = host_log(&sw.host);
        match docker::stop(&sw.host, &o.name) {
            Ok(()) => hl(format!(
                "stopped {} after draining {} s (kept for rollback)",
                o.name, t.env.drain
            )),
            Err(e) => hl(format!("warning: could not stop {}: {e:#}", o.name)),
        }
    }
}
