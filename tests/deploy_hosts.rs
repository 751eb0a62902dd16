//! `cargo xtask deploy` to servers: two simulated hosts, each its own
//! dockerd behind its own sshd (tests/common/hosts.rs), reached as
//! `ssh://root@127.0.0.1:PORT` with a key made here; the demo's release
//! images pushed to Debian's docker-registry on loopback and pulled by
//! digest on each host; Postgres and Redis on each host's network; a
//! bounded load (one client per host, loopback only) through each host's
//! proxy container during every switch.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::hosts::{Client, Host, Registry};
use common::{eventually, free_port, http_get_at, serial, sh, Done, Load, Repo, IMAGES};

const PROXY_IMAGE: &str = "phx-xtask-local/proxy:bookworm";
const SECRET: &str = "0123456789012345678901234567890123456789012345678901234567890123";

struct Fleet {
    // Dropped in this order: the repo's images, then the hosts, then the
    // registry and the keys.
    repo: Repo,
    hosts: Vec<Host>,
    client: Client,
    registry: Registry,
    port: u16,
}

impl Fleet {
    fn start() -> Fleet {
        let registry = Registry::start();
        let client = Client::new();
        let mut hosts: Vec<Host> = (1..=2).map(|n| Host::start(n, &client.public)).collect();
        client.trust(&hosts.iter().collect::<Vec<_>>());
        for h in &mut hosts {
            for image in [PROXY_IMAGE, IMAGES[0].1, IMAGES[1].1] {
                h.load(image);
            }
            // `deploy setup` keeps a network that exists.
            h.network("demo-staging");
        }
        let repo = Repo::new(&format!("127.0.0.1:{}/demo", registry.port()));
        let port = free_port();
        let urls: Vec<String> = hosts.iter().map(|h| format!("\"{}\"", h.url())).collect();
        repo.config(&format!(
            "[deploy.staging]\ntarget = \"docker\"\nurl = \"http://127.0.0.1:{port}\"\nhosts = [{}]\n\
             env = [\"DATABASE_URL\", \"REDIS_URL\", \"SECRET_KEY_BASE\"]\nproxy_image = \"{PROXY_IMAGE}\"\nproxy_publish = [\"{port}:80\"]\ndrain = 1\ntimeout = 45\n",
            urls.join(", ")
        ));
        sh(repo.dir(), "git add -A && git commit -qm config");
        Fleet {
            repo,
            hosts,
            client,
            registry,
            port,
        }
    }

    /// `xtask ARGS` as the deploying machine: our ssh keys, the secrets.
    fn xtask(&self, args: &[&str]) -> Done {
        self.bare(args)
            .env("DATABASE_URL", "postgres://postgres:pw@db:5432/postgres")
            .env("REDIS_URL", "redis://redis:6379/0")
            .env("SECRET_KEY_BASE", SECRET)
            .run()
    }

    /// Without the release's secrets.
    fn bare(&self, args: &[&str]) -> common::Run {
        let mut run = self.repo.xtask(args).env("PATH", &self.client.path());
        for var in [
            "SSH_AUTH_SOCK",
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY_BASE",
        ] {
            run.cmd.env_remove(var);
        }
        run
    }

    /// Postgres and Redis on each host's network (as `db` and `redis`).
    fn backing(&self) {
        for h in &self.hosts {
            for (alias, args) in [
                ("db", vec!["-e", "POSTGRES_PASSWORD=pw", IMAGES[0].1]),
                ("redis", vec![IMAGES[1].1]),
            ] {
                let mut all = vec![
                    "run",
                    "-d",
                    "--name",
                    alias,
                    "--network",
                    "demo-staging",
                    "--network-alias",
                    alias,
                ];
                all.extend(args);
                let (ok, out) = h.docker(&all);
                assert!(ok, "{out}");
            }
        }
        // The release's health needs the database: wait for it to accept.
        for h in &self.hosts {
            eventually(Duration::from_secs(90), || {
                h.docker(&[
                    "exec",
                    "db",
                    "pg_isready",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                ])
                .0
                .then_some(())
            });
        }
    }

    /// Commits a change, builds and pushes it; its revision.
    fn release(&self, change: &str) -> String {
        let file = self.repo.dir().join("demo/lib/demo/http.ex");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{text}\n# {change}\n")).unwrap();
        sh(self.repo.dir(), &format!("git commit -qam '{change}'"));
        let done = self
            .repo
            .xtask(&["image", "--push"])
            .env("REGISTRY_USER", "ci")
            .env("REGISTRY_PASSWORD", "unused")
            .run();
        assert_eq!(done.code, Some(0), "{}", done.all());
        sh(self.repo.dir(), "git rev-parse HEAD")
    }

    /// What each host's proxy serves at /version.
    fn versions(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|h| {
                http_get_at(&h.ip, self.port, "/version")
                    .map(|(_, b)| b)
                    .unwrap_or_default()
            })
            .collect()
    }

    fn all_serve(&self, revision: &str) -> bool {
        self.versions().iter().all(|v| v.contains(revision))
    }

    /// Runs `args` under load on every host's proxy: (served, failed) each.
    fn under_load(&self, args: &[&str]) -> (Done, Vec<(usize, Vec<String>)>) {
        let loads: Vec<Load> = self
            .hosts
            .iter()
            .map(|h| Load::start_at(&h.ip, self.port))
            .collect();
        let done = self.xtask(args);
        (done, loads.into_iter().map(Load::finish).collect())
    }

    fn locked(&self) -> bool {
        self.hosts[0].docker(&["inspect", "demo-staging-lock"]).0
    }

    fn containers(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|h| {
                h.docker(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
                    .1
            })
            .collect()
    }
}

fn zero_failed(what: &str, loads: &[(usize, Vec<String>)], done: &Done) {
    for (i, (served, failed)) in loads.iter().enumerate() {
        assert!(
            failed.is_empty() && *served > 0,
            "{what}, host {}: {} of {} failed: {:?}\n{}",
            i + 1,
            failed.len(),
            served + failed.len(),
            &failed[..failed.len().min(5)],
            done.stderr
        );
        eprintln!(
            "FIGURE {what} host{}: {served} requests served, 0 failed",
            i + 1
        );
    }
    let timing: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.contains("healthy") || l.contains(" in "))
        .collect();
    eprintln!("FIGURE {what}: {}", timing.join(" | "));
}

#[test]
fn deploys_roll_over_two_ssh_hosts_and_roll_back_together() {
    // The simulated hosts are daemons of this machine (dockerd, sshd, a
    // bridge, a FORWARD rule): the trixie container has none of them.
    if common::on_trixie() {
        eprintln!("skipped on the trixie toolchain: the simulated hosts run on the host machine");
        return;
    }
    let _s = serial();
    let fleet = Fleet::start();

    // A host without the proxy is refused, naming setup; setup is idempotent.
    let v1 = fleet.release("v1");
    let bare = fleet.xtask(&["deploy", "staging"]);
    assert_eq!(bare.code, Some(2), "{}", bare.all());
    assert!(
        bare.stderr.contains("has no proxy for staging")
            && bare.stderr.contains("cargo xtask deploy setup staging"),
        "{}",
        bare.stderr
    );
    for _ in 0..2 {
        let setup = fleet.bare(&["deploy", "setup", "staging"]).run();
        assert_eq!(setup.code, Some(0), "{}", setup.all());
    }
    fleet.backing();

    // v1, then v2 under load on both hosts: zero failed, both serve v2.
    let before = sh(fleet.repo.dir(), "git status --porcelain --ignored");
    let done = fleet.xtask(&["deploy", "staging"]);
    assert_eq!(done.code, Some(0), "{}", done.all());
    assert!(
        fleet.all_serve(&v1),
        "{:?}\n{}",
        fleet.versions(),
        done.stderr
    );
    assert!(!done.all().contains(SECRET));
    let v2 = fleet.release("v2");
    let (done, loads) = fleet.under_load(&["deploy", "staging"]);
    assert_eq!(done.code, Some(0), "{}", done.all());
    zero_failed("deploy v2", &loads, &done);
    assert!(fleet.all_serve(&v2), "{:?}", fleet.versions());
    assert!(!fleet.locked(), "the lock goes after a success");
    let after = sh(fleet.repo.dir(), "git status --porcelain --ignored");
    let new: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    assert!(
        new.iter().all(|l| l.ends_with(".xtask/")),
        "written here besides .xtask/: {new:?}"
    );

    // status and --plan need no secrets, and show each host.
    let status = fleet.bare(&["deploy", "status", "staging"]).run();
    assert_eq!(status.code, Some(0), "{}", status.all());
    for h in &fleet.hosts {
        let line = status
            .stdout
            .lines()
            .find(|l| l.starts_with(&h.url()["ssh://".len()..]))
            .unwrap_or_default();
        assert!(
            line.contains(&format!("(revision {})", &v2[..12])),
            "{}",
            status.stdout
        );
    }
    let plan = fleet.bare(&["deploy", "staging", "--plan"]).run();
    assert_eq!(plan.code, Some(0), "{}", plan.all());
    assert!(
        plan.stdout.contains("hosts:       2 (1 at a time")
            && plan.stdout.matches("serving ").count() >= 2,
        "{}",
        plan.stdout
    );

    // v3 cannot pass its gate on the second host (its Redis is down): the
    // first goes back to v2, both serve v2, no request fails.
    let v3 = fleet.release("v3");
    let (ok, out) = fleet.hosts[1].docker(&["stop", "redis"]);
    assert!(ok, "{out}");
    let (done, loads) = fleet.under_load(&["deploy", "staging"]);
    assert_eq!(done.code, Some(1), "{}", done.all());
    zero_failed("failed v3", &loads, &done);
    let second = &fleet.hosts[1].url()["ssh://".len()..];
    assert!(
        done.stderr.contains(&format!(
            "{second} failed; 1 host(s) that had switched went back"
        )),
        "{}",
        done.stderr
    );
    assert!(fleet.all_serve(&v2), "{:?}", fleet.versions());
    assert!(!fleet.locked(), "the lock goes after a failure");
    let (ok, out) = fleet.hosts[1].docker(&["start", "redis"]);
    assert!(ok, "{out}");

    // Back to v1 on both hosts, under load.
    let (done, loads) = fleet.under_load(&["deploy", "rollback", "staging", "--to", &v1[..12]]);
    assert_eq!(done.code, Some(0), "{}", done.all());
    zero_failed("rollback to v1", &loads, &done);
    assert!(fleet.all_serve(&v1), "{:?}", fleet.versions());

    lock_is_held_on_the_host_and_released_on_ctrl_c(&fleet, &v3);
    bad_hosts_are_found_before_any_change(fleet);
}

/// While a deploy runs, another machine's deploy (another `.xtask/`) is
/// refused; Ctrl-C releases the lock and leaves every host on one version.
fn lock_is_held_on_the_host_and_released_on_ctrl_c(fleet: &Fleet, v3: &str) {
    let mut first = fleet
        .bare(&["deploy", "staging"])
        .env("DATABASE_URL", "postgres://postgres:pw@db:5432/postgres")
        .env("REDIS_URL", "redis://redis:6379/0")
        .env("SECRET_KEY_BASE", SECRET)
        .spawn();
    eventually(Duration::from_secs(120), || fleet.locked().then_some(()));
    let other = tempfile::tempdir().unwrap();
    copy_repo(fleet.repo.dir(), other.path());
    let second = fleet
        .bare(&["deploy", "staging"])
        .env("XTASK_ROOT", other.path().to_str().unwrap())
        .env(
            "XTASK_CONFIG",
            other.path().join("xtask.toml").to_str().unwrap(),
        );
    let refused = second
        .env("DATABASE_URL", "x")
        .env("REDIS_URL", "x")
        .env("SECRET_KEY_BASE", SECRET)
        .run();
    assert_eq!(refused.code, Some(2), "{}", refused.all());
    assert!(
        refused
            .stderr
            .contains("another deploy to staging holds the lock on")
            && refused.stderr.contains("deploy unlock staging"),
        "{}",
        refused.stderr
    );
    // The first deploy is changing the hosts meanwhile, so "nothing
    // changed" is read from what the refused one did: it never got past
    // the lock.
    assert!(
        !refused.stderr.contains("pulling") && !refused.stderr.contains("migrating"),
        "{}",
        refused.stderr
    );
    // SAFETY: kill(2) on the pid of a child we started and not yet reaped.
    unsafe { libc::kill(first.id() as i32, libc::SIGINT) };
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted");
    assert!(!fleet.locked(), "the lock goes after Ctrl-C");
    let versions = fleet.versions();
    assert!(
        versions.iter().all(|v| v == &versions[0]),
        "one version on every host: {versions:?}"
    );
    let _ = v3;
}

/// `cp -a` of the deploying repo: another machine with its own `.xtask/`.
fn copy_repo(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A digest the registry lacks, a wrong key, a host whose sshd is down, a
/// host without its proxy: each one error naming it, exit 2, no change.
fn bad_hosts_are_found_before_any_change(mut fleet: Fleet) {
    let unchanged =
        |f: &Fleet, before: &[String]| assert_eq!(f.containers(), before, "nothing changed");
    let before = fleet.containers();
    let missing = format!(
        "127.0.0.1:{}/demo@sha256:{}",
        fleet.registry.port(),
        "0".repeat(64)
    );
    let done = fleet.xtask(&["deploy", "staging", "--image", &missing]);
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains("cannot pull") && done.stderr.contains("no host was switched"),
        "{}",
        done.stderr
    );
    unchanged(&fleet, &before);

    let stranger = Client::new();
    stranger.trust(&fleet.hosts.iter().collect::<Vec<_>>());
    let done = fleet
        .bare(&["deploy", "staging"])
        .env("PATH", &stranger.path())
        .env("DATABASE_URL", "x")
        .env("REDIS_URL", "x")
        .env("SECRET_KEY_BASE", SECRET)
        .run();
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr.contains("refused our SSH key") && done.stderr.contains("authorized_keys"),
        "{}",
        done.stderr
    );

    let (ok, out) = fleet.hosts[1].docker(&["rm", "-f", "demo-staging-proxy"]);
    assert!(ok, "{out}");
    let before = fleet.containers();
    let done = fleet.xtask(&["deploy", "staging"]);
    assert_eq!(done.code, Some(2), "{}", done.all());
    assert!(
        done.stderr
            .contains("has no proxy for staging: run `cargo xtask deploy setup staging`"),
        "{}",
        done.stderr
    );
    unchanged(&fleet, &before);

    fleet.hosts[1].stop_sshd();
    let done = fleet.xtask(&["deploy", "staging"]);
    assert_eq!(done.code, Some(2), "{}", done.all());
    let second = &fleet.hosts[1].url()["ssh://root@".len()..];
    assert!(
        done.stderr
            .contains(&format!("ssh to root@{second} failed"))
            && done.stderr.contains("nothing was changed on any host"),
        "{}",
        done.stderr
    );
    let status = fleet.bare(&["deploy", "status", "staging"]).run();
    assert_eq!(status.code, Some(1), "{}", status.all());
    assert!(status.stdout.contains("UNREACHABLE"), "{}", status.stdout);
    fleet.hosts[1].restart_sshd(&fleet.client.public);
    drop(fleet);
}
