//! `migrate --target image` and `--target fly`: the release's own
//! `bin/migrate` (`[migrate] image_command`), in a one-off container of the
//! built image or over `flyctl ssh console` on a Fly app. Secrets reach
//! them through the environment only: the container gets `-e NAME`, whose
//! value docker reads from ours, and flyctl reads FLY_API_TOKEN itself.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::database;
use super::local::report;
use super::{dry_run, exec, finish, Ctx};
use crate::cmd::Cmd;
use crate::config::Migrate;
use crate::run::Exit;
use crate::{docker, proc, redact};

const IMAGE_HINT: &str = "the container's output above says why: a migration failed, or the \
                          release could not boot (a missing variable: add it to [migrate] image_env)";

/// The image to run: `--image`, else the one `cargo xtask image` recorded.
fn reference(ctx: &Ctx) -> Result<String> {
    match &ctx.args.image {
        Some(r) => Ok(r.clone()),
        None => Ok(crate::image::record::read(&ctx.run.root)?.reference),
    }
}

/// `docker run --rm --network NET --label … -e DATABASE_URL -e
/// SECRET_KEY_BASE [-e NAME…] IMAGE COMMAND…`. The labels let Ctrl-C, and
/// the next run's sweep, find the container.
fn docker_run(cfg: &Migrate, app: &Path, image: &str) -> Cmd {
    let mut cmd = Cmd::new("docker", app).args(["run", "--rm", "--network", &cfg.image_network]);
    for (k, v) in docker::labels(&docker::project_id(app), "migrate") {
        cmd = cmd.args(["--label".to_string(), format!("{k}={v}")]);
    }
    let names = ["DATABASE_URL", "SECRET_KEY_BASE"].map(String::from);
    for name in names.iter().chain(&cfg.image_env) {
        cmd = cmd.args(["-e", name]);
    }
    cmd.arg(image).args(cfg.image_command.split_whitespace())
}

/// Fails unless docker answers and has the image.
fn check_image(ctx: &Ctx, image: &str) -> Result<()> {
    if ctx.run.env.which("docker").is_none() {
        bail!("`docker` is not on PATH: install docker (`apt-get install docker.io`), or enter `nix develop`");
    }
    let host = docker::host(&ctx.run.env);
    docker::ping(&host).map_err(|e| {
        anyhow!("docker does not answer at {host} ({e}): start it (`sudo systemctl start docker`)")
    })?;
    if docker::inspect_image(&host, image)?.is_none() {
        bail!(
            "the image {image} does not exist here: build it with `cargo xtask image`, \
             or pass --image with one that `docker image ls` lists"
        );
    }
    Ok(())
}

/// SECRET_KEY_BASE from the environment, else a throwaway one: the release
/// refuses to boot without it, and migrating signs nothing.
fn secret_key_base(ctx: &Ctx) -> Result<Option<(String, String)>> {
    if ctx.run.env.get("SECRET_KEY_BASE").is_some() {
        return Ok(None);
    }
    let mut bytes = [0u8; 48];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("read /dev/urandom for a throwaway SECRET_KEY_BASE")?;
    let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    redact::secret(&value);
    eprintln!(
        "SECRET_KEY_BASE is not set: the container gets a throwaway one (migrating signs nothing)"
    );
    Ok(Some(("SECRET_KEY_BASE".into(), value)))
}

pub fn image(ctx: &Ctx) -> Result<Exit> {
    let image = reference(ctx)?;
    let cmd = docker_run(&ctx.run.config.migrate, ctx.app, &image);
    let host_network = ctx.run.config.migrate.image_network == "host";
    if ctx.run.dry_run {
        return Ok(dry_run(&[database::planned(ctx)?, cmd.describe(ctx.app)]));
    }
    check_image(ctx, &image)?;
    if !host_network && database::given(ctx)?.is_none() {
        bail!(
            "with [migrate] image_network = \"{}\", the container cannot reach services started here: \
             set DATABASE_URL to a database that network reaches",
            ctx.run.config.migrate.image_network
        );
    }
    // Only on the host's network does the database answer us as it
    // answers the container, so only then is it checked (and read) here.
    let db = database::open(ctx, host_network)?;
    let mut exec = exec(ctx);
    exec.env = db.env();
    exec.env.extend(secret_key_base(ctx)?);
    let host = docker::host(&ctx.run.env);
    let hook = proc::on_shutdown(move || docker::remove_run(&host));
    let result = exec.run(&cmd);
    proc::forget(hook);
    let result = result.and_then(|()| match host_network {
        true => report(ctx, &db, true),
        false => Ok(()),
    });
    Ok(finish(result, IMAGE_HINT))
}

/// `flyctl ssh console --app NAME --command COMMAND`.
fn flyctl(cfg: &Migrate, dir: &Path, app: &str) -> Cmd {
    let command = &cfg.image_command;
    Cmd::new("flyctl", dir).args(["ssh", "console", "--app", app, "--command", command])
}

pub fn fly(ctx: &Ctx) -> Result<Exit> {
    let Some(app) = &ctx.args.app else {
        bail!("--target fly needs --app NAME: the Fly app to migrate (`app` in its fly.toml)");
    };
    let cmd = flyctl(&ctx.run.config.migrate, ctx.app, app);
    if ctx.run.dry_run {
        return Ok(dry_run(&[cmd.describe(ctx.app)]));
    }
    if ctx.run.env.which("flyctl").is_none() {
        bail!(
            "`flyctl` is not on PATH: install it (`curl -L https://fly.io/install.sh | sh`), \
             or enter `nix develop`"
        );
    }
    if ctx.run.env.get("FLY_API_TOKEN").is_none() {
        bail!(
            "FLY_API_TOKEN is not set: create a token with `fly tokens create deploy --app {app}` \
             and export it (in CI, from a secret); it is passed through the environment, never printed"
        );
    }
    let result = exec(ctx).run(&cmd);
    Ok(finish(
        result,
        "flyctl's output above says why: the app's machine must be running (`fly status`), \
         and its release must have the migrate command ([migrate] image_command)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_passed_by_name_and_the_command_split() {
        let cfg = Migrate {
            image_env: vec!["REDIS_URL".into()],
            image_command: "/app/bin/demo eval Demo.Release.migrate".into(),
            ..Migrate::default()
        };
        let cmd = docker_run(&cfg, Path::new("/app"), "demo:1");
        let args = cmd.args.join(" ");
        assert!(
            args.starts_with("run --rm --network host --label dev.phx-xtask.project="),
            "{args}"
        );
        assert!(
            args.ends_with("-e DATABASE_URL -e SECRET_KEY_BASE -e REDIS_URL demo:1 /app/bin/demo eval Demo.Release.migrate"),
            "{args}"
        );
        let fly = flyctl(&Migrate::default(), Path::new("/app"), "demo-prod");
        assert_eq!(
            fly.describe(Path::new("/app")),
            "$ flyctl ssh console --app demo-prod --command /app/bin/migrate"
        );
    }
}
