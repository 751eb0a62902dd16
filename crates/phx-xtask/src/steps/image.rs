//! `image`: the release image, built from the app's own Dockerfile (the one
//! `mix phx.gen.release --docker` writes), with the pinned toolchain, tags
//! and OCI labels from git as docker/metadata-action computes them, then
//! recorded under `.xtask/`; with `--push`, pushed to the registry with
//! credentials fed on stdin, and recorded by digest.
//!
//! 1. Plan (files and git, read-only): the Dockerfile exists, its pinned
//!    ARGs (ELIXIR_VERSION, OTP_VERSION) agree with `[toolchain]`, the tags,
//!    the labels, and for `--push` the registry and credentials.
//! 2. Checks: buildx for `--platform`, the registry answers.
//! 3. Run: `docker build`, record; `docker login --password-stdin` into a
//!    throwaway DOCKER_CONFIG, `docker push` each tag, record the digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::ctx::Ctx;
use crate::docker;
use crate::exec::Exec;
use crate::ids::StepId;
use crate::image::dockerfile::{self, Arg};
use crate::image::record::{self, Record};
use crate::image::{git, tags};
use crate::plan::{Action, Check, Cmd, StepPlan};

const HINT: &str =
    "fix the build error above; `docker build` with the same arguments reproduces it";

/// What `[toolchain]` pins, by the ARG name Phoenix's Dockerfile uses.
fn pins(ctx: &Ctx) -> [(&'static str, String, &'static str); 2] {
    let tc = &ctx.config.toolchain;
    [
        ("ELIXIR_VERSION", tc.elixir.clone(), "elixir"),
        ("OTP_VERSION", tc.otp.clone(), "otp"),
    ]
}

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let cfg = &ctx.config.image;
    let rel = cfg
        .dockerfile
        .clone()
        .unwrap_or_else(|| PathBuf::from("Dockerfile"));
    let file = ctx.app.join(&rel);
    let text = std::fs::read_to_string(&file).map_err(|_| {
        anyhow::anyhow!(
            "no Dockerfile at {}: generate one with `mix phx.gen.release --docker`, or set [image] dockerfile in xtask.toml",
            file.display()
        )
    })?;
    let declared = dockerfile::args(&text);
    let (facts, remote) = git::facts(ctx.app)?;
    let facts = tags::from_github_env(&github_vars(ctx), facts);
    let tags = tags::tags(&facts);
    let repository = repository(ctx, remote.as_deref())?;
    let created = record::now_rfc3339();
    let mut build_args = pinned(&declared, &pins(ctx), &cfg.build_args, &rel)?;
    let version = tags::version(&facts);
    for (name, value) in [
        ("APP_VERSION", &version),
        ("GIT_SHA", &facts.sha),
        ("BUILD_TIME", &created),
    ] {
        if declared.iter().any(|a| a.name == name) {
            build_args.push((name.to_string(), value.clone()));
        }
    }
    build_args.extend(cfg.build_args.iter().map(|(k, v)| (k.clone(), v.clone())));
    build_args.sort();
    build_args.dedup_by(|a, b| a.0 == b.0);
    let source = remote.as_deref().and_then(tags::repo_url);
    let labels = tags::labels(&facts, source.as_deref(), &ctx.project.app, &created);
    let refs = tags::image_refs(&repository, &tags);
    let build = build_cmd(ctx, &rel, &build_args, &labels, &refs);
    let pending = Record {
        reference: refs[0].clone(),
        tags: tags.clone(),
        git_sha: facts.sha.clone(),
        created,
        ..Record::default()
    };
    let mut actions = Vec::new();
    if !dockerfile::final_stage_reads(&text, "GIT_SHA") {
        actions.push(git_sha_warning(&rel, dockerfile::final_user_line(&text)));
    }
    actions.push(Action::Run(build));
    actions.push(record_built(ctx.root.to_path_buf(), pending));
    let mut plan_checks = Vec::new();
    if ctx.image.push {
        let (host, login) = login(ctx, &repository)?;
        plan_checks.push(reachable(host.clone()));
        actions.extend(push(ctx, login, &refs, ctx.root.to_path_buf()));
    }
    let mut plan = StepPlan::new(StepId::Image, &[], actions, HINT);
    plan.programs.push("docker".into());
    if ctx.image.platform.is_some() {
        plan.checks.push(buildx(ctx.env.clone()));
    }
    plan.checks.extend(plan_checks);
    Ok(plan)
}

/// Warns (in the log and the summary row) that the release cannot say
/// which revision it runs, with the two lines that fix it: the deploy
/// gate's version check and `/version` read GIT_SHA from the container.
/// They go last in the final stage, before `USER`, so a new commit
/// rebuilds only those layers.
fn git_sha_warning(rel: &Path, user_line: Option<usize>) -> Action {
    let file = rel.display().to_string();
    let place = match user_line {
        Some(n) => format!("to its final stage, before `USER` ({file}:{n})"),
        None => "at the end of its final stage".to_string(),
    };
    let text = format!(
        "{file} does not pass the GIT_SHA build arg into the image, so the release cannot say \
         which revision it runs: add `ARG GIT_SHA` and `ENV GIT_SHA=${{GIT_SHA}}` {place}"
    );
    Action::Native {
        describe: format!("warn: {text}"),
        run: Box::new(move |ctx| {
            ctx.log(format!("warning: {text}:"));
            ctx.log("    ARG GIT_SHA");
            ctx.log("    ENV GIT_SHA=${GIT_SHA}");
            ctx.notes.push(format!("warning: {text}"));
            Ok(())
        }),
    }
}

/// The values the pinned ARGs build with ([image.build_args], else the
/// Dockerfile's default), each checked against its pin.
fn pinned(
    declared: &[Arg],
    pins: &[(&'static str, String, &'static str)],
    set: &BTreeMap<String, String>,
    rel: &Path,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (name, pin, key) in pins {
        let Some(arg) = declared.iter().find(|a| a.name == *name) else {
            continue;
        };
        let (value, whence) = match (set.get(*name), &arg.default) {
            (Some(v), _) => (v.clone(), format!("[image.build_args] sets {name} = \"{v}\"")),
            (None, Some(d)) => (d.clone(), format!("{}:{}: ARG {name} defaults to \"{d}\"", rel.display(), arg.line)),
            (None, None) => bail!(
                "{}:{}: ARG {name} has no default: give it a {pin} version, or set [image.build_args] {name}",
                rel.display(),
                arg.line
            ),
        };
        if !dockerfile::matches_pin(&value, pin) {
            bail!(
                "{whence}, which is not a release of the pinned {pin} ([toolchain] {key} in xtask.toml): \
                 update it to a {pin}.x version, so the image is built with the pinned toolchain"
            );
        }
        out.push((name.to_string(), value));
    }
    Ok(out)
}

fn github_vars(ctx: &Ctx) -> Vec<(String, String)> {
    ["GITHUB_REF_NAME", "GITHUB_REF_TYPE", "GITHUB_SHA"]
        .iter()
        .filter_map(|k| Some((k.to_string(), ctx.env.get(k)?.to_string())))
        .collect()
}

/// `[image] registry`, else `ghcr.io/<owner>/<repo>` from the remote, else
/// the app's name (a local image, which cannot be pushed).
fn repository(ctx: &Ctx, remote: Option<&str>) -> Result<String> {
    let repo = ctx
        .config
        .image
        .registry
        .clone()
        .or_else(|| remote.and_then(tags::default_registry))
        .unwrap_or_else(|| ctx.project.app.clone());
    if repo.contains(char::is_whitespace) || repo.is_empty() || repo.contains("://") {
        bail!("[image] registry = \"{repo}\" is not an image repository: write it as host/owner/name, like ghcr.io/acme/shop");
    }
    Ok(repo)
}

fn build_cmd(
    ctx: &Ctx,
    rel: &Path,
    args: &[(String, String)],
    labels: &[(String, String)],
    refs: &[String],
) -> Cmd {
    let mut cmd = match &ctx.image.platform {
        Some(p) => Cmd::new("docker", ctx.app).args(["buildx", "build", "--platform", p]),
        None => Cmd::new("docker", ctx.app).arg("build"),
    };
    cmd = cmd.args(["-f", &rel.display().to_string()]);
    for (k, v) in args {
        cmd = cmd.args(["--build-arg".to_string(), format!("{k}={v}")]);
    }
    for (k, v) in labels {
        cmd = cmd.args(["--label".to_string(), format!("{k}={v}")]);
    }
    for r in refs {
        cmd = cmd.args(["-t", r]);
    }
    if ctx.image.platform.is_some() {
        // buildx keeps a multi-platform image in its own store: it can
        // only be pushed from there, or loaded when it has one platform.
        cmd = cmd.arg(if ctx.image.push { "--push" } else { "--load" });
    }
    cmd.arg(".")
}

/// Records the built image (id) under `.xtask/image.json`.
fn record_built(root: PathBuf, pending: Record) -> Action {
    Action::Native {
        describe: format!("record {} in .xtask/image.json", pending.reference),
        run: Box::new(move |ctx| {
            let host = docker::host(ctx.env_snapshot());
            let facts = docker::inspect_image(&host, &pending.reference)?
                .with_context(|| format!("{} was not built", pending.reference))?;
            let record = Record {
                id: facts.id,
                ..pending
            };
            record::write(&root, &record)?;
            ctx.log(format!("built {} ({})", record.reference, record.id));
            ctx.facts
                .insert("reference".into(), record.reference.clone());
            ctx.facts.insert("id".into(), record.id.clone());
            Ok(())
        }),
    }
}

/// Who logs in, and the variable whose value is the password.
struct Login {
    host: String,
    user: String,
    password_var: &'static str,
}

/// The registry host and the credentials, from the environment: bad input
/// (exit 2, nothing built) when they are missing.
fn login(ctx: &Ctx, repository: &str) -> Result<(String, Login)> {
    let host = repository.split('/').next().unwrap_or_default().to_string();
    let has_host = repository.contains('/')
        && (host.contains('.') || host.contains(':') || host == "localhost");
    if !has_host {
        bail!("--push needs a registry: set [image] registry in xtask.toml (like ghcr.io/acme/shop), or add a GitHub remote for the ghcr.io default");
    }
    let env = ctx.env;
    let login = match (env.get("REGISTRY_USER"), env.get("REGISTRY_PASSWORD"), env.get("GITHUB_TOKEN")) {
        (Some(user), Some(_), _) => Login { host: host.clone(), user: user.into(), password_var: "REGISTRY_PASSWORD" },
        (_, _, Some(_)) if host == "ghcr.io" => Login {
            host: host.clone(),
            user: env.get("GITHUB_ACTOR").unwrap_or("github").into(),
            password_var: "GITHUB_TOKEN",
        },
        _ => bail!(
            "--push to {host} needs credentials: set REGISTRY_USER and REGISTRY_PASSWORD{} in the environment (they are passed to `docker login --password-stdin`, never on a command line)",
            if host == "ghcr.io" { " (or GITHUB_TOKEN)" } else { "" }
        ),
    };
    Ok((host, login))
}

/// Log in with a throwaway DOCKER_CONFIG (so no credential outlives the
/// run), push every tag, record the digest, and remove the config.
fn push(ctx: &Ctx, login: Login, refs: &[String], root: PathBuf) -> Vec<Action> {
    let config_dir = ctx
        .env
        .temp_dir()
        .join(format!("phx-xtask-docker-{}", std::process::id()));
    let mut actions = vec![docker_config(config_dir.clone())];
    actions.push(Action::Run(
        Cmd::new("docker", ctx.app)
            .args(["login", &login.host, "-u", &login.user, "--password-stdin"])
            .stdin_env(login.password_var)
            .hint("the registry refused the login: check the credentials in the environment"),
    ));
    for r in refs {
        actions.push(Action::Run(Cmd::new("docker", ctx.app).args(["push", r])));
    }
    let first = refs[0].clone();
    actions.push(Action::Native {
        describe: format!("record the pushed digest of {first}; remove the login"),
        run: Box::new(move |ctx| {
            let _ = std::fs::remove_dir_all(&config_dir);
            let host = docker::host(ctx.env_snapshot());
            let facts =
                docker::inspect_image(&host, &first)?.context("the pushed image is gone")?;
            let repo = first.rsplit_once(':').map_or(first.as_str(), |(r, _)| r);
            let digest = facts
                .repo_digests
                .into_iter()
                .find(|d| d.starts_with(&format!("{repo}@")));
            let digest = digest.context("the registry gave the image no digest")?;
            let mut rec = record::read(&root)?;
            rec.digest = Some(digest.clone());
            record::write(&root, &rec)?;
            ctx.log(format!("pushed {digest}"));
            ctx.facts.insert("digest".into(), digest);
            Ok(())
        }),
    });
    actions
}

/// A DOCKER_CONFIG of this run's own, removed after the push and on any
/// way out (its credentials must not outlive the run).
fn docker_config(dir: PathBuf) -> Action {
    Action::Native {
        describe: "use a throwaway DOCKER_CONFIG for the login".into(),
        run: Box::new(move |ctx: &mut Exec| {
            std::fs::create_dir_all(&dir).context("create the throwaway DOCKER_CONFIG")?;
            std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
            let gone = dir.clone();
            crate::proc::on_shutdown(move || {
                let _ = std::fs::remove_dir_all(&gone);
            });
            ctx.env
                .push(("DOCKER_CONFIG".into(), dir.display().to_string()));
            Ok(())
        }),
    }
}

/// `--platform` goes through buildx, which a plain docker.io lacks.
fn buildx(env: crate::env::Env) -> Check {
    Check::new("docker buildx is installed (--platform)", move || {
        let args = ["buildx".to_string(), "version".into()];
        let spawn = crate::proc::Spawn::new("docker", &args);
        let ok = crate::proc::output(&spawn, Duration::from_secs(10), |_| {})
            .is_ok_and(|o| o.status.success());
        let _ = env;
        if !ok {
            bail!("--platform builds through docker buildx, which is not installed: install the buildx plugin (`apt-get install docker-buildx` or docker-buildx-plugin), or build for this machine's platform without --platform");
        }
        Ok(())
    })
}

/// The registry answers on its port, so a push does not fail half-way.
fn reachable(host: String) -> Check {
    Check::new(format!("the registry {host} answers"), move || {
        use std::net::ToSocketAddrs;
        let addr = if host.contains(':') {
            host.clone()
        } else {
            format!("{host}:443")
        };
        let resolved = addr.to_socket_addrs().with_context(|| {
            format!("the registry {host} does not resolve: check [image] registry")
        })?;
        let mut last = None;
        for a in resolved {
            match std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        bail!(
            "the registry {host} does not answer ({}): check [image] registry in xtask.toml and that the registry runs",
            last.map_or("no address".to_string(), |e| e.to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::dockerfile::tests::PHX_GEN_RELEASE;

    fn pins() -> Vec<(&'static str, String, &'static str)> {
        vec![
            ("ELIXIR_VERSION", "1.15".into(), "elixir"),
            ("OTP_VERSION", "26".into(), "otp"),
        ]
    }

    #[test]
    fn the_generators_defaults_agree_with_the_pins_and_are_passed() {
        let got = pinned(
            &dockerfile::args(PHX_GEN_RELEASE),
            &pins(),
            &BTreeMap::new(),
            Path::new("Dockerfile"),
        )
        .unwrap();
        assert_eq!(
            got,
            [
                ("ELIXIR_VERSION".to_string(), "1.15.7".to_string()),
                ("OTP_VERSION".into(), "26.2.5".into())
            ]
        );
    }

    #[test]
    fn a_default_that_drifts_from_a_pin_is_named_with_its_line() {
        let old = PHX_GEN_RELEASE.replace("ARG ELIXIR_VERSION=1.15.7", "ARG ELIXIR_VERSION=1.14.5");
        let err = pinned(
            &dockerfile::args(&old),
            &pins(),
            &BTreeMap::new(),
            Path::new("Dockerfile"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("Dockerfile:15: ARG ELIXIR_VERSION defaults to \"1.14.5\", which is not a release of the pinned 1.15 ([toolchain] elixir"), "{err}");
        let set = BTreeMap::from([("OTP_VERSION".to_string(), "25.3".to_string())]);
        let err = pinned(
            &dockerfile::args(PHX_GEN_RELEASE),
            &pins(),
            &set,
            Path::new("Dockerfile"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("[image.build_args] sets OTP_VERSION = \"25.3\""),
            "{err}"
        );
    }

    #[test]
    fn a_dockerfile_without_the_args_passes_none() {
        let got = pinned(
            &dockerfile::args(
                "FROM hexpm/elixir:1.15.7-erlang-26.2.5-debian-bookworm-20240130-slim",
            ),
            &pins(),
            &BTreeMap::new(),
            Path::new("Dockerfile"),
        )
        .unwrap();
        assert!(got.is_empty());
    }
}
