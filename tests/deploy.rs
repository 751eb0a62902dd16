//! `cargo xtask deploy` end to end.
//!
//! The docker target, for real: the demo's release images (v1, v2, and a
//! v3 whose /health answers 503), Postgres and Redis containers on a docker
//! network, and the proxy container `deploy setup` starts (nginx, from
//! Debian's packages) on a loopback port. This machine's docker is a
//! `unix://` host: the same code path as the ssh hosts of deploy_hosts.rs. A bounded
//! load (one client thread, loopback only, stopped when the deploy ends)
//! goes through the proxy during each switch: zero failed requests.
//!
//! The fly target, with a recording stand-in for flyctl (it cannot be
//! installed here) and a local HTTP server as the app's public URL: the
//! exact argv sequence, the rollback's included. Slack, with a local HTTP
//! server that records the webhook's request.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{docker, eventually, free_port, http_get, serial, sh, Done, Load, Net, Repo, IMAGES};

const PROXY_IMAGE: &str = "phx-xtask-local/proxy:bookworm";

/// The proxy container `deploy setup` starts on this machine's docker,
/// publishing a loopback port; it, the lock and the network go on drop.
struct Proxy {
    port: u16,
    network: String,
}

impl Proxy {
    fn setup(repo: &Repo, port: u16, network: &str) -> Proxy {
        let proxy = Proxy {
            port,
            network: network.to_string(),
        };
        let done = repo.xtask(&["deploy", "setup", "staging"]).run();
        assert_eq!(done.code, Some(0), "{}", done.all());
        proxy
    }

    fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "demo-staging-proxy", "demo-staging-lock"]);
        let _ = docker(&["network", "rm", &self.network]);
    }
}

/// Postgres and Redis for the releases, on a network of their own; the
/// releases a deploy started go with it.
struct Backing(Net);

impl Backing {
    fn start() -> Backing {
        let mut net = Net::create("phx-xtask-deploy");
        let db = net.run("db", &["-e", "POSTGRES_PASSWORD=pw", IMAGES[0].1]);
        net.run("redis", &[IMAGES[1].1]);
        // The first deploy migrates at once: when the image build is cached,
        // that is before Postgres has finished its first start. Over TCP,
        // so the entrypoint's socket-only init server does not count.
        let ready = [
            "exec",
            &db,
            "pg_isready",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ];
        eventually(Duration::from_secs(60), || docker(&ready).0.then_some(()));
        Backing(net)
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        let (_, ids) = docker(&[
            "ps",
            "-aq",
            "--filter",
            "label=dev.phx-xtask.deploy=demo-staging",
        ]);
        for id in ids.lines() {
            let _ = docker(&["rm", "-f", id]);
        }
    }
}

const SECRET: &str = "0123456789012345678901234567890123456789012345678901234567890123";

/// The staging environment on this machine's docker (a `unix://` host,
/// through the same code path as ssh hosts), behind a proxy container on
/// a loopback port; set up.
fn deploy_config(repo: &Repo, net: &str) -> Proxy {
    let port = free_port();
    repo.config(&format!(
        "[deploy.staging]\ntarget = \"docker\"\nurl = \"http://127.0.0.1:{port}\"\nnetwork = \"{net}\"\nenv = [\"DATABASE_URL\", \"REDIS_URL\", \"SECRET_KEY_BASE\"]\n\
         proxy_image = \"{PROXY_IMAGE}\"\nproxy_publish = [\"127.0.0.1:{port}:80\"]\ndrain = 1\ntimeout = 45\n\
         [deploy.production]\ntarget = \"docker\"\nurl = \"http://127.0.0.1:{port}\"\nproxy_image = \"{PROXY_IMAGE}\"\n",
    ));
    // The config is not part of the release: commit it so the tree is clean.
    sh(
        repo.dir(),
        "git add -A && git commit -qm config --allow-empty",
    );
    Proxy::setup(repo, port, net)
}

fn deploy(repo: &Repo, args: &[&str]) -> Done {
    repo.xtask(args)
        .env("DATABASE_URL", "postgres://postgres:pw@db:5432/postgres")
        .env("REDIS_URL", "redis://redis:6379/0")
        .env("SECRET_KEY_BASE", SECRET)
        .run()
}

/// Commits a change, builds it with `cargo xtask image`; its revision.
fn build(repo: &Repo, change: &str) -> String {
    if !change.is_empty() {
        let health = repo.dir().join("demo/lib/demo/http.ex");
        let text = std::fs::read_to_string(&health).unwrap();
        let text = match change {
            "broken" => {
                let gate =
                    "gate when gate in [\"/health\", \"/ready\"] -> health_response(health.())";
                assert!(text.contains(gate), "the demo's health route moved");
                text.replace(gate, "gate when gate in [\"/health\", \"/ready\"] -> {503, [status: \"broken on purpose\"]}")
            }
            other => format!("{text}\n# {other}\n"),
        };
        std::fs::write(&health, text).unwrap();
        sh(repo.dir(), &format!("git commit -qam '{change}'"));
    }
    let done = repo.xtask(&["image"]).run();
    assert_eq!(done.code, Some(0), "{}", done.all());
    sh(repo.dir(), "git rev-parse HEAD")
}

/// For scripts/bench-deploy.sh (with --nocapture): what the load saw, and
/// the deploy's own timing lines. Nothing is asserted on them.
fn figures(what: &str, served: usize, done: &Done) {
    let timing: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| {
            l.contains("passed the gate") || l.contains(" in ") && l.contains("healthy after")
        })
        .collect();
    eprintln!(
        "FIGURE {what}: {served} requests served, 0 failed; {}",
        timing.join(" | ")
    );
}

/// `FROM` the image the serving release runs, plus `lines`: tagged
/// `<repository>:<tag>` (removed with the repo's images).
fn derived(repo: &Repo, tag: &str, lines: &str) -> String {
    let (_, name) = docker(&[
        "ps",
        "--filter",
        "label=dev.phx-xtask.deploy=demo-staging",
        "--format",
        "{{.Names}}",
    ]);
    let (ok, id) = docker(&["inspect", "--format", "{{.Image}}", name.trim()]);
    assert!(ok, "{id}");
    let image = format!("{}:{tag}", repo.repository);
    let mut build = std::process::Command::new("docker")
        .args(["build", "--quiet", "-t", &image, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dockerfile = format!("FROM {}\n{lines}", id.trim());
    build
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(build.wait().unwrap().success(), "docker build {image}");
    image
}

fn version_through(port: u16) -> String {
    http_get(port, "/version")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

#[test]
fn docker_deploys_switch_with_zero_failed_requests_and_roll_back_by_themselves() {
    let _s = serial();
    let repo = Repo::new(&format!("phx-xtask-e2e/demo-deploy-{}", std::process::id()));
    let backing = Backing::start();
    let proxy = deploy_config(&repo, &backing.0.name);

    // v1: the first deploy (migrations in a one-off container first).
    let v1 = build(&repo, "");
    let done = deploy(&repo, &["deploy", "staging"]);
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        done.stderr
            .contains("migrating: /app/bin/migrate in a one-off container"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("passed the gate"), "{}", done.stderr);
    let through = version_through(proxy.port());
    assert!(
        through.contains(&v1),
        "{through} lacks {v1}:\n{}",
        done.stderr
    );
    assert!(!done.all().contains(SECRET), "a secret was printed");

    // v2 under load: zero failed requests, and v2 serves afterwards.
    let v2 = build(&repo, "v2");
    let load = Load::start(proxy.port());
    let done = deploy(&repo, &["deploy", "staging"]);
    let (served, failed) = load.finish();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        served + failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(served > 0);
    figures("deploy v2", served, &done);
    assert!(version_through(proxy.port()).contains(&v2));

    // v3's health answers 503: the gate holds, v2 keeps serving, v3 is gone.
    let _v3 = build(&repo, "broken");
    let load = Load::start(proxy.port());
    let done = deploy(&repo, &["deploy", "staging"]);
    let (served, failed) = load.finish();
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(failed.is_empty() && served > 0, "{failed:?}");
    figures("broken v3", served, &done);
    assert!(
        done.stderr
            .contains("never passed the gate on unix:///var/run/docker.sock, so it was removed"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("answered 503"), "{}", done.stderr);
    assert!(version_through(proxy.port()).contains(&v2));
    let (_, running) = docker(&[
        "ps",
        "--filter",
        "label=dev.phx-xtask.deploy=demo-staging",
        "--format",
        "{{.Label \"dev.phx-xtask.revision\"}}",
    ]);
    assert_eq!(running.trim(), v2, "only v2 runs");
    let (_, all) = docker(&[
        "ps",
        "-a",
        "--filter",
        "label=dev.phx-xtask.deploy=demo-staging",
        "--format",
        "{{.Label \"dev.phx-xtask.revision\"}}",
    ]);
    assert!(!all.contains(&_v3), "no v3 container is left: {all}");

    // Back to v1, under load.
    let load = Load::start(proxy.port());
    let done = deploy(&repo, &["deploy", "rollback", "staging", "--to", &v1[..12]]);
    let (served, failed) = load.finish();
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(failed.is_empty() && served > 0, "{failed:?}");
    figures("rollback to v1", served, &done);
    assert!(version_through(proxy.port()).contains(&v1));

    // Issue 17: a release whose /version names no revision (a stock
    // phx.gen.release Dockerfile passes no GIT_SHA in) passes on health
    // alone; one that names another revision than its image's label fails
    // after a few polls with the reason, and v1 keeps serving.
    let stock = derived(&repo, "stock", "ENV GIT_SHA=unknown\n");
    let done = deploy(&repo, &["deploy", "staging", "--image", &stock]);
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(version_through(proxy.port()).contains("\"git_sha\":\"unknown\""));
    // Labelled v2 (git knows it), while its /version names v1.
    let fake = &v2;
    let other = derived(
        &repo,
        "other",
        &format!("LABEL org.opencontainers.image.revision={fake}\nENV GIT_SHA={v1}\n"),
    );
    let before = version_through(proxy.port());
    let done = deploy(&repo, &["deploy", "staging", "--image", &other]);
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr
            .contains(&format!("names revision {}", &v1[..7]))
            && done.stderr.contains(&format!(", not {}", &v2[..12]))
            && done.stderr.contains("on 3 polls in a row"),
        "{}",
        done.stderr
    );
    assert_eq!(
        version_through(proxy.port()),
        before,
        "the stock release keeps serving"
    );

    // A migration that removes a column would break v1, still serving
    // while the new release starts: the plan shows it, the deploy refuses.
    std::fs::write(
        repo.dir().join("demo/priv/repo/migrations/20990101000000_remove_products_slug.exs"),
        "defmodule Demo.Repo.Migrations.RemoveProductsSlug do\n  use Ecto.Migration\n\n  def change do\n    alter table(:products) do\n      remove :slug\n    end\n  end\nend\n",
    )
    .unwrap();
    sh(
        repo.dir(),
        "git add demo/priv && git commit -qm 'remove slug'",
    );
    build(&repo, "");
    let plan = deploy(&repo, &["deploy", "staging", "--plan"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
    assert!(
        plan.stdout.contains("1 pending since")
            && plan
                .stdout
                .contains("20990101000000_remove_products_slug.exs"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("column_removed"), "{}", plan.stdout);
    let refused = deploy(&repo, &["deploy", "staging"]);
    assert_eq!(refused.code, Some(2), "{}", refused.all());
    assert!(
        refused
            .stderr
            .contains("would break the release still serving")
            && refused.stderr.contains("--allow-breaking-migrations"),
        "{}",
        refused.stderr
    );
    assert_eq!(version_through(proxy.port()), before, "nothing changed");

    let status = deploy(&repo, &["deploy", "status", "staging"]);
    assert_eq!(status.code, Some(0), "{}", status.all());
    assert!(
        status.stdout.contains(&v1[..12]) && status.stdout.contains("serving"),
        "{}",
        status.stdout
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let _s = serial();
    let repo = Repo::new("phx-xtask-e2e/demo-deploy-bad");
    let _proxy = deploy_config(&repo, &format!("phx-xtask-nonet-{}", std::process::id()));
    let unknown = deploy(&repo, &["deploy", "qa"]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.all());
    assert!(
        unknown
            .stderr
            .contains("the known ones are production, staging"),
        "{}",
        unknown.stderr
    );

    let missing = deploy(
        &repo,
        &["deploy", "staging", "--image", "phx-xtask-e2e/nope:1"],
    );
    assert_eq!(missing.code, Some(2), "{}", missing.all());
    assert!(
        missing.stderr.contains("does not exist on the docker host"),
        "{}",
        missing.stderr
    );

    build(&repo, "");
    std::fs::write(repo.dir().join("demo/README"), "dirty").unwrap();
    sh(repo.dir(), "git add demo/README");
    let dirty = deploy(&repo, &["deploy", "staging"]);
    assert_eq!(dirty.code, Some(2), "{}", dirty.all());
    assert!(
        dirty.stderr.contains("uncommitted changes"),
        "{}",
        dirty.stderr
    );
    sh(repo.dir(), "git commit -qm readme");

    let prod = deploy(&repo, &["deploy", "production", "--yes"]);
    assert_eq!(prod.code, Some(2), "{}", prod.all());
    assert!(
        prod.stderr.contains("has not passed staging")
            && prod.stderr.contains("--skip-staging-check"),
        "{}",
        prod.stderr
    );
    let ask = deploy(
        &repo,
        &["deploy", "production", "--skip-staging-check", "hotfix"],
    );
    assert_eq!(ask.code, Some(2), "{}", ask.all());
    assert!(ask.stderr.contains("pass --yes"), "{}", ask.stderr);

    // Another deploy holds the lock on the host: refused, nothing changed.
    let holder = format!(
        "dev.phx-xtask.lock=runner=ci-7 host={} pid={} since=2026-12-03T09:00:00Z",
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        std::process::id()
    );
    let (ok, out) = docker(&[
        "create",
        "--name",
        "demo-staging-lock",
        "--label",
        &holder,
        PROXY_IMAGE,
    ]);
    assert!(ok, "{out}");
    let locked = deploy(&repo, &["deploy", "staging"]);
    assert_eq!(locked.code, Some(2), "{}", locked.all());
    assert!(
        locked
            .stderr
            .contains("another deploy to staging holds the lock on")
            && locked.stderr.contains("runner=ci-7")
            && locked.stderr.contains("cargo xtask deploy unlock staging"),
        "{}",
        locked.stderr
    );
    let (_, running) = docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=dev.phx-xtask.deploy=demo-staging",
    ]);
    assert!(running.is_empty(), "nothing was started");
    let unlock = deploy(&repo, &["deploy", "unlock", "staging"]);
    assert_eq!(unlock.code, Some(0), "{}", unlock.all());
    assert!(unlock.stderr.contains("runner=ci-7"), "{}", unlock.stderr);
    assert!(
        !docker(&["inspect", "demo-staging-lock"]).0,
        "the lock is gone"
    );
}

/// A recording flyctl on PATH: appends each argv (and whether
/// FLY_API_TOKEN was set, never its value) to a log; answers `releases
/// --json` like flyctl, from fly-go's PascalCase release struct.
fn fly_stand_in(dir: &Path) -> PathBuf {
    let log = dir.join("flyctl.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s token=%s\\n' \"$*\" \"${{FLY_API_TOKEN:+set}}\" >> {log}\n\
         case \"$1\" in releases) cat <<'EOF'\n[{{\"ID\":\"r7\",\"Version\":7,\"Stable\":false,\"Status\":\"failed\",\"ImageRef\":\"registry.fly.io/demo:v3\",\"CreatedAt\":\"2026-11-30T10:00:00Z\"}},\n {{\"ID\":\"r6\",\"Version\":6,\"Stable\":true,\"Status\":\"complete\",\"ImageRef\":\"registry.fly.io/demo:v2\",\"CreatedAt\":\"2026-11-29T10:00:00Z\"}}]\nEOF\n;; esac\n",
        log = log.display()
    );
    let bin = dir.join("flyctl");
    std::fs::write(&bin, script).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&bin).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    log
}

/// The app's public URL: /health answers `health`; records the Slack
/// webhook's request body when one comes.
fn fake_app(health: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten().take(10_000) {
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = vec![0u8; 65536];
            let n = conn.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let status = if req.starts_with("POST") {
                200
            } else if req.contains("/health") {
                health
            } else {
                200
            };
            s.lock().unwrap().push(req);
            let _ = write!(conn, "HTTP/1.0 {status} X\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    (port, seen)
}

fn fly_repo(url_port: u16) -> (Repo, tempfile::TempDir, PathBuf) {
    let repo = Repo::new("phx-xtask-e2e/demo-fly");
    repo.config(&format!(
        "[deploy.staging]\ntarget = \"fly\"\napp = \"demo-staging\"\nurl = \"http://127.0.0.1:{url_port}\"\nstrategy = \"rolling\"\nmigrate = \"ssh\"\ntimeout = 3\n\
         [deploy.production]\ntarget = \"fly\"\napp = \"demo-prod\"\nurl = \"http://127.0.0.1:{url_port}\"\nstrategy = \"bluegreen\"\nmigrate = \"ssh\"\ntimeout = 3\n"
    ));
    sh(repo.dir(), "git add -A && git commit -qm fly");
    let bin = tempfile::tempdir().unwrap();
    let log = fly_stand_in(bin.path());
    (repo, bin, log)
}

fn fly(repo: &Repo, bin: &Path, args: &[&str], extra: &[(&str, &str)]) -> Done {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut run = repo
        .xtask(args)
        .env("PATH", &path)
        .env("FLY_API_TOKEN", "fly-token-secret");
    for (k, v) in extra {
        run = run.env(k, v);
    }
    run.run()
}

const IMAGE: &str = "registry.fly.io/demo:deployment-01";

#[test]
fn fly_deploys_staging_then_production_and_notifies_slack() {
    let (port, seen) = fake_app(200);
    let (repo, bin, log) = fly_repo(port);
    let hook = format!("http://127.0.0.1:{port}/services/T0/B0/hook-secret");
    let done = fly(
        &repo,
        bin.path(),
        &["deploy", "staging", "--image", IMAGE],
        &[("SLACK_WEBHOOK_URL", &hook)],
    );
    assert_eq!(done.code, Some(0), "{}", done.all());
    let prod = fly(
        &repo,
        bin.path(),
        &["deploy", "production", "--image", IMAGE, "--yes"],
        &[],
    );
    assert_eq!(prod.code, Some(0), "{}", prod.all());
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            format!("deploy --image {IMAGE} --app demo-staging --strategy rolling token=set"),
            "ssh console --app demo-staging --command /app/bin/migrate token=set".to_string(),
            format!("deploy --image {IMAGE} --app demo-prod --strategy bluegreen token=set"),
            "ssh console --app demo-prod --command /app/bin/migrate token=set".to_string(),
        ]
    );
    for out in [&done, &prod] {
        assert!(
            !out.all().contains("fly-token-secret") && !out.all().contains("hook-secret"),
            "a secret was printed"
        );
    }
    let posts: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .cloned()
        .collect();
    assert_eq!(posts.len(), 1, "one notification, for staging");
    assert!(
        posts[0].starts_with("POST /services/T0/B0/hook-secret"),
        "{}",
        posts[0]
    );
    let body: serde_json::Value =
        serde_json::from_str(posts[0].split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let fields: Vec<&str> = body["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(fields[0], "*Environment*\nstaging");
    assert_eq!(fields[2], "*Status*\ndeployed");
    assert_eq!(fields[5], format!("*Link*\nhttp://127.0.0.1:{port}"));
    assert!(
        fields[1].starts_with("*Version*\n")
            && fields[3].starts_with("*Duration*\n")
            && fields[4].starts_with("*Healthy after*\n")
    );
}

#[test]
fn a_failed_fly_gate_redeploys_the_last_stable_release() {
    let (port, _seen) = fake_app(503);
    let (repo, bin, log) = fly_repo(port);
    let done = fly(
        &repo,
        bin.path(),
        &["deploy", "staging", "--image", "registry.fly.io/demo:v3"],
        &[("SLACK_WEBHOOK_URL", "http://127.0.0.1:1/closed")],
    );
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr
            .contains("rolled back to v6 (registry.fly.io/demo:v2)"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("warning: could not notify Slack"),
        "a failed notification is a warning: {}",
        done.stderr
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "deploy --image registry.fly.io/demo:v3 --app demo-staging --strategy rolling token=set",
            "ssh console --app demo-staging --command /app/bin/migrate token=set",
            "releases --app demo-staging --json token=set",
            "deploy --image registry.fly.io/demo:v2 --app demo-staging --strategy immediate token=set",
        ]
    );
    // Without the token, nothing is called at all.
    std::fs::remove_file(&log).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let no_token = repo
        .xtask(&["deploy", "staging", "--image", "x"])
        .env("PATH", &path)
        .run();
    assert_eq!(no_token.code, Some(2), "{}", no_token.all());
    assert!(
        no_token.stderr.contains("needs FLY_API_TOKEN"),
        "{}",
        no_token.stderr
    );
    assert!(!log.exists());
}

#[test]
fn a_health_path_that_redirects_to_https_names_force_ssl() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten().take(100) {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(c, "HTTP/1.0 301 Moved\r\nLocation: https://app.example.com/health\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let (repo, bin, _log) = fly_repo(port);
    let done = fly(
        &repo,
        bin.path(),
        &["deploy", "staging", "--image", IMAGE],
        &[],
    );
    assert_eq!(done.code, Some(1), "{}", done.all());
    assert!(
        done.stderr.contains("force_ssl") && done.stderr.contains("exclude"),
        "{}",
        done.stderr
    );
}
