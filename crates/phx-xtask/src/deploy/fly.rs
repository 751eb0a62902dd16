//! The `fly` target, through flyctl: `flyctl deploy --image`, migrations
//! by fly.toml's release_command or `flyctl ssh console`, the gate on the
//! public URL, and on a failed gate a redeploy of the last stable
//! release's image (from `flyctl releases --json`, whose keys are
//! fly-go's PascalCase: Version, Stable, Status, ImageRef, CreatedAt).
//! FLY_API_TOKEN reaches flyctl through the environment only.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::target::Target;
use crate::proc;

const FLYCTL: Duration = Duration::from_secs(900);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Release {
    pub version: i64,
    #[serde(default)]
    pub stable: bool,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub image_ref: String,
}

/// `flyctl ARGS` in the app dir, its output streamed to the log.
pub fn flyctl(t: &Target, args: &[&str], log: &mut dyn FnMut(String)) -> Result<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    log(format!("$ {} {}", t.flyctl, args.join(" ")));
    let spawn = proc::Spawn {
        program: &t.flyctl,
        args: &args,
        dir: &t.app_dir,
        env: Vec::new(),
        stdin: None,
    };
    let out = proc::output(&spawn, FLYCTL, |_| {})?;
    for line in out.stderr.lines() {
        log(crate::redact::line(line));
    }
    if !out.status.success() {
        bail!("`flyctl {}` failed ({})", args.join(" "), out.status);
    }
    Ok(out.stdout)
}

pub fn deploy(t: &Target, image: &str, strategy: &str, log: &mut dyn FnMut(String)) -> Result<()> {
    let app = t.env.app.as_deref().expect("settings checked it");
    flyctl(
        t,
        &[
            "deploy",
            "--image",
            image,
            "--app",
            app,
            "--strategy",
            strategy,
        ],
        log,
    )
    .map(|_| ())
}

pub fn migrate(t: &Target, command: &str, log: &mut dyn FnMut(String)) -> Result<()> {
    let app = t.env.app.as_deref().expect("settings checked it");
    flyctl(
        t,
        &["ssh", "console", "--app", app, "--command", command],
        log,
    )
    .map(|_| ())
}

/// The newest stable release whose image is not `failed`.
pub fn last_stable(t: &Target, failed: &str, log: &mut dyn FnMut(String)) -> Result<Release> {
    let app = t.env.app.as_deref().expect("settings checked it");
    let out = flyctl(t, &["releases", "--app", app, "--json"], log)?;
    let mut all: Vec<Release> =
        serde_json::from_str(&out).context("read `flyctl releases --json`")?;
    all.sort_by_key(|r| -r.version);
    all.into_iter()
        .find(|r| {
            r.stable && r.status != "failed" && !r.image_ref.is_empty() && r.image_ref != failed
        })
        .context("fly has no earlier stable release to return to")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_json_is_flyctls_pascal_case() {
        let text = r#"[{"ID":"r1","Version":7,"Stable":false,"Status":"failed","ImageRef":"registry.fly.io/demo:v3","CreatedAt":"2026-11-30T10:00:00Z"},
                       {"ID":"r0","Version":6,"Stable":true,"Status":"complete","ImageRef":"registry.fly.io/demo:v2","CreatedAt":"2026-11-29T10:00:00Z"}]"#;
        let all: Vec<Release> = serde_json::from_str(text).unwrap();
        assert_eq!(
            (all[1].version, all[1].stable, all[1].image_ref.as_str()),
            (6, true, "registry.fly.io/demo:v2")
        );
        assert_eq!(all[0].status, "failed");
    }
}
