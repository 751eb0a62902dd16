//! The native backend, for Nix shells and machines without Docker:
//! `redis-server` and an `initdb`'d `postgres` (fsync off) as background
//! children on free ports, in a temp dir that is removed afterwards.
//! Postgres refuses to run as root, and CI containers often are root, so
//! as root both run as `nobody` in a directory handed to that user.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use url::Url;

use super::binaries::Binaries;
use super::settings::{Settings, THROWAWAY_PG};
use super::urls;
use crate::config::NativeAuth;
use crate::proc::{self, Background, Spawn};

/// The running servers and their directory; dropping this stops them and
/// removes the directory.
pub struct Procs {
    dir: PathBuf,
    postgres: Option<Background>,
    redis: Option<Background>,
    hook: u64,
}

/// uid and gid to run as: `nobody` when we are root, else ourselves.
fn unprivileged() -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions; getpwnam returns a pointer to
    // static storage that we read at once, before any other call.
    unsafe {
        if libc::geteuid() != 0 {
            return Ok(None);
        }
        let pw = libc::getpwnam(c"nobody".as_ptr());
        if pw.is_null() {
            bail!("running as root, postgres needs an unprivileged user, and this system has no `nobody`: run as a normal user");
        }
        Ok(Some(((*pw).pw_uid, (*pw).pw_gid)))
    }
}

fn make_dir(base: &Path, project: &str, user: Option<(u32, u32)>) -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "phx-xtask-{project}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    );
    let dir = base.join(name);
    std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
    // It will hold the password file: only its owner may look inside.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .with_context(|| format!("hand {} to nobody", dir.display()))?;
    }
    Ok(dir)
}

/// A port that was free a moment ago; the server binds it right after.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs a child as `user`, with stdout and stderr in `log`.
fn setup(
    user: Option<(u32, u32)>,
    log: PathBuf,
) -> impl Fn(&mut std::process::Command) + Send + Sync + 'static {
    move |c| {
        if let Some((uid, gid)) = user {
            c.uid(uid).gid(gid);
        }
        if let Ok(f) = std::fs::File::create(&log) {
            if let Ok(f2) = f.try_clone() {
                c.stdout(f2);
            }
            c.stderr(f);
        }
    }
}

pub fn start(s: &Settings, bins: &Binaries) -> Result<(Procs, Url, Url)> {
    let user = unprivileged()?;
    let dir = make_dir(&s.temp_dir, &s.project, user)?;
    let hook = proc::on_shutdown({
        let dir = dir.clone();
        move || {
            let _ = std::fs::remove_dir_all(&dir);
        }
    });
    let mut procs = Procs {
        dir: dir.clone(),
        postgres: None,
        redis: None,
        hook,
    };
    let pg_port = s.postgres_port.map_or_else(free_port, Ok)?;
    let redis_port = s.redis_port.map_or_else(free_port, Ok)?;

    // Redis first: it is up in milliseconds, while initdb takes a second.
    let redis_args = strings(&[
        "--port",
        &redis_port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--databases",
        &s.redis_dbs.to_string(),
        "--dir",
        &dir.display().to_string(),
    ]);
    procs.redis = Some(Background::start(
        &spawn(&bins.redis, &redis_args, &dir),
        setup(user, dir.join("redis.log")),
    )?);

    initdb(s, bins, &dir, user)?;
    let data = dir.join("data");
    let mut pg_args = strings(&[
        "-D",
        &data.display().to_string(),
        "-p",
        &pg_port.to_string(),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        &format!("unix_socket_directories={}", dir.display()),
    ]);
    pg_args.extend(strings(&THROWAWAY_PG));
    procs.postgres = Some(Background::start(
        &spawn(&bins.postgres, &pg_args, &dir),
        setup(user, dir.join("postgres.log")),
    )?);
    let pg_url = urls::postgres(&s.user, &s.password, "127.0.0.1", pg_port, &s.database);
    Ok((procs, pg_url, urls::redis("127.0.0.1", redis_port, 0)))
}

fn initdb(s: &Settings, bins: &Binaries, dir: &Path, user: Option<(u32, u32)>) -> Result<()> {
    let mut args: Vec<String> = [
        "-D",
        "data",
        "-U",
        &s.user,
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]
    .map(String::from)
    .to_vec();
    match s.auth {
        NativeAuth::Trust => args.push("--auth=trust".into()),
        NativeAuth::Scram => {
            let pwfile = dir.join("pwfile");
            std::fs::write(&pwfile, &s.password).context("write the password file for initdb")?;
            if let Some((uid, gid)) = user {
                std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
            }
            args.extend([
                "--auth-local=trust".into(),
                "--auth-host=scram-sha-256".into(),
            ]);
            args.push(format!("--pwfile={}", pwfile.display()));
        }
    }
    // Bounded: a wedged initdb must not hang the step; Ctrl-C stops it too.
    let out = proc::output(
        &spawn(&bins.initdb, &args, dir),
        Duration::from_secs(120),
        move |c| {
            if let Some((uid, gid)) = user {
                c.uid(uid).gid(gid);
            }
        },
    );
    let _ = std::fs::remove_file(dir.join("pwfile"));
    let out = out.context("initdb")?;
    if !out.status.success() {
        let text = format!("{}{}", out.stdout, out.stderr);
        bail!("initdb failed ({}):\n{}", out.status, text.trim_end());
    }
    Ok(())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn spawn<'a>(program: &'a Path, args: &'a [String], dir: &'a Path) -> Spawn<'a> {
    Spawn {
        program: program.to_str().unwrap_or_default(),
        args,
        dir,
        env: Vec::new(),
        stdin: None,
    }
}

impl Procs {
    /// Fails when a server exited, with the end of its log.
    pub fn alive(&self) -> Result<()> {
        for (name, bg) in [("postgres", &self.postgres), ("redis-server", &self.redis)] {
            if bg.as_ref().is_some_and(|b| !b.running()) {
                let log = std::fs::read_to_string(
                    self.dir
                        .join(format!("{}.log", name.trim_end_matches("-server"))),
                )
                .unwrap_or_default();
                return Err(anyhow!(
                    "{name} exited during start-up; its log ends:\n{}",
                    proc::tail(&log)
                ));
            }
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        // Postgres first: it may still be flushing to the directory.
        if let Some(pg) = self.postgres.take() {
            pg.stop(Duration::from_secs(5));
        }
        if let Some(r) = self.redis.take() {
            r.stop(Duration::from_secs(2));
        }
        if std::fs::remove_dir_all(&self.dir).is_ok() {
            proc::forget(self.hook);
        }
    }
}

/// Stops native servers a SIGKILLed run left behind, and removes their
/// directory: its name holds the project and the owner pid.
pub fn sweep(temp_dir: &Path, project: &str, log: &mut dyn FnMut(String)) {
    let prefix = format!("phx-xtask-{project}-");
    let Ok(entries) = std::fs::read_dir(temp_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() as i32 || proc::pid_alive(owner) {
            continue;
        }
        let dir = entry.path();
        // Every process working in the directory is one of ours (postgres,
        // its backends, redis, or an initdb the kill interrupted): stop their
        // groups, wait for them to go, then remove the directory.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = working_in(&dir);
            if left.is_empty() || std::time::Instant::now() > deadline {
                break;
            }
            left.into_iter().for_each(proc::kill_orphan);
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&dir);
        log(format!(
            "removed orphaned native services in {} (pid {owner} is gone)",
            dir.display()
        ));
    }
}

/// Pids whose working directory is `dir` or below it.
fn working_in(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .collect()
}
