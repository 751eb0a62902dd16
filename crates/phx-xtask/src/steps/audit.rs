//! `audit`: `mix hex.audit` (retired packages and, in newer Hex, security
//! advisories) and, when mix_audit is a dependency, `mix deps.audit` (the
//! advisory database, cloned from GitHub). Both need the network: when it
//! is out of reach the step says so in one line and ends skipped within
//! `[audit] timeout` seconds, unless `--require-all` asks for the audit.
//! `hex.audit` is Hex's own task, so it needs Hex installed (`mix local.hex`).

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::ctx::Ctx;
use crate::env::Env;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, StepPlan};

const HINT: &str = "upgrade the packages listed above (`mix hex.outdated` shows to what), or \
    acknowledge one with `hex: [ignore_retirements: …, ignore_advisories: …]` in mix.exs";
const MIX_AUDIT: &str = r#"{:mix_audit, "~> 2.1", only: [:dev, :test], runtime: false}"#;

pub fn plan(ctx: &Ctx) -> StepPlan {
    let with_mix_audit = ctx.project.has_dep("mix_audit");
    let mut urls = vec![hex_url(ctx.env)];
    if with_mix_audit {
        urls.push("https://github.com".to_string());
    }
    let mut actions = vec![
        online(ctx, urls),
        hex_installed(ctx),
        Action::Run(Cmd::mix(ctx.app, &["hex.audit"]).hint(HINT)),
    ];
    actions.push(match (with_mix_audit, ctx.require_all) {
        (true, _) => Action::Run(Cmd::mix(ctx.app, &["deps.audit"]).hint(HINT)),
        (false, false) => Action::Skip {
            what: "mix deps.audit".into(),
            why: format!("mix_audit is not a dependency: add `{MIX_AUDIT}` to deps in mix.exs"),
        },
        (false, true) => Action::Native {
            describe: "require mix_audit (--require-all)".into(),
            run: Box::new(|exec| {
                exec.hint = Some(format!(
                    "add `{MIX_AUDIT}` to deps in mix.exs, or drop --require-all"
                ));
                bail!("mix_audit is not a dependency, so `mix deps.audit` cannot run")
            }),
        },
    });
    // Both tasks load the deps' paths without compiling; they read mix.lock,
    // which `deps` settles.
    StepPlan::new(StepId::Audit, &[StepId::Deps], actions, HINT)
}

/// Where Hex fetches the registry from: `HEX_MIRROR_URL` (or the older
/// `HEX_MIRROR`), else repo.hex.pm. A proxy (`HTTPS_PROXY`) is curl's to
/// follow, as it is Hex's.
fn hex_url(env: &Env) -> String {
    ["HEX_MIRROR_URL", "HEX_MIRROR"]
        .iter()
        .find_map(|k| env.get(k))
        .unwrap_or("https://repo.hex.pm")
        .to_string()
}

/// `https://user@host:port/path` → `host:port` (443 or 80 by scheme), to
/// name a server without its credentials.
fn host_port(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    match authority.rsplit_once(':') {
        Some((_, p)) if p.parse::<u16>().is_ok() => authority.to_string(),
        _ if scheme == "https" => format!("{authority}:443"),
        _ => format!("{authority}:80"),
    }
}

/// The network check: each server must answer an HTTP request within the
/// bound, or the step ends skipped (failed under `--require-all`). An
/// answer of any status will do: it proves the route, which is the question.
fn online(ctx: &Ctx, urls: Vec<String>) -> Action {
    let limit = Duration::from_secs(ctx.config.audit.timeout.max(1));
    let require = ctx.require_all;
    let names: Vec<String> = urls.iter().map(|u| host_port(u)).collect();
    Action::Native {
        describe: format!(
            "check that {} answers within {}s (the audit needs the network)",
            names.join(" and "),
            limit.as_secs()
        ),
        run: Box::new(move |exec| {
            let curl = exec.env_snapshot().which("curl").is_some();
            let Some(why) = urls.iter().find_map(|u| reach(u, curl, limit).err()) else {
                return Ok(());
            };
            let why = format!("offline: {why}, and the audit needs the network");
            if require {
                exec.hint = Some("run where hex.pm answers, or drop --require-all".into());
                bail!("{why}");
            }
            exec.log(format!("skipped: {why}"));
            exec.skip = Some(why);
            Ok(())
        }),
    }
}

/// Asks `url` over HTTP with curl, which follows the proxy variables as Hex
/// does; without curl, a TCP connection to its host has to do.
fn reach(url: &str, curl: bool, limit: Duration) -> Result<(), String> {
    let server = host_port(url);
    if !curl {
        return connect(&server, limit);
    }
    match crate::http::get(url, None, limit) {
        Ok(_) => Ok(()),
        Err(e) => {
            let cause = format!("{e:#}");
            let cause = cause.lines().last().unwrap_or_default().trim().to_string();
            Err(format!(
                "{server} did not answer within {}s ({cause})",
                limit.as_secs()
            ))
        }
    }
}

/// Connects to `host:port` within `limit`; the name lookup runs on a thread
/// of its own so a resolver that hangs cannot hold the step past the bound.
fn connect(server: &str, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let owned = server.to_string();
    std::thread::spawn(move || {
        let result = match owned.to_socket_addrs() {
            Ok(addrs) => {
                let addrs: Vec<_> = addrs.collect();
                let left = limit
                    .saturating_sub(started.elapsed())
                    .max(Duration::from_millis(1));
                match addrs
                    .iter()
                    .find_map(|a| TcpStream::connect_timeout(a, left).ok())
                {
                    Some(_) => Ok(()),
                    None => Err(format!("{owned} does not answer")),
                }
            }
            Err(e) => Err(format!("{owned} cannot be resolved ({e})")),
        };
        let _ = tx.send(result);
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{server} did not answer within {}s",
            limit.as_secs()
        )),
    }
}

/// Hex is an archive in Mix's archives dir: `MIX_ARCHIVES`, else
/// `<MIX_HOME>/archives` (MIX_HOME, else the XDG data dir under MIX_XDG,
/// else ~/.mix), as `Mix.path_for(:archives)` finds it.
fn hex_installed(ctx: &Ctx) -> Action {
    let dir = archives_dir(ctx.env);
    let require = ctx.require_all;
    Action::Native {
        describe: "check that Hex is installed (`mix hex.audit` is Hex's task)".into(),
        run: Box::new(move |exec| {
            let found = dir
                .as_ref()
                .and_then(|d| std::fs::read_dir(d).ok())
                .is_some_and(|rd| {
                    rd.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("hex-"))
                });
            if found {
                return Ok(());
            }
            let why = "Hex is not installed, and `mix hex.audit` is its task: run `mix local.hex --force`";
            if require {
                exec.hint = Some("run `mix local.hex --force`, or drop --require-all".into());
                bail!("{why}");
            }
            exec.log(format!("skipped: {why}"));
            exec.skip = Some(why.to_string());
            Ok(())
        }),
    }
}

fn archives_dir(env: &Env) -> Option<PathBuf> {
    if let Some(dir) = env.get("MIX_ARCHIVES") {
        return Some(PathBuf::from(dir));
    }
    let home = env.get("HOME").map(PathBuf::from);
    let mix_home = match (env.get("MIX_HOME"), env.get("MIX_XDG")) {
        (Some(h), _) => PathBuf::from(h),
        (None, Some(_)) => match env.get("XDG_DATA_HOME") {
            Some(d) => PathBuf::from(d).join("mix"),
            None => home?.join(".local/share/mix"),
        },
        (None, None) => home?.join(".mix"),
    };
    Some(mix_home.join("archives"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_follows_the_mirror_and_is_named_without_credentials() {
        assert_eq!(hex_url(&Env::default()), "https://repo.hex.pm");
        let mirror = Env::from_pairs(&[("HEX_MIRROR", "http://10.0.0.9:8080/repo")]);
        assert_eq!(hex_url(&mirror), "http://10.0.0.9:8080/repo");
        assert_eq!(host_port("http://10.0.0.9:8080/repo"), "10.0.0.9:8080");
        assert_eq!(
            host_port("https://u:pw@mirror.example/x"),
            "mirror.example:443"
        );
    }

    #[test]
    fn archives_follow_mix_home_and_xdg() {
        let env = Env::from_pairs(&[("HOME", "/h")]);
        assert_eq!(archives_dir(&env), Some(PathBuf::from("/h/.mix/archives")));
        let env = Env::from_pairs(&[("HOME", "/h"), ("MIX_XDG", "1")]);
        assert_eq!(
            archives_dir(&env),
            Some(PathBuf::from("/h/.local/share/mix/archives"))
        );
        let env = Env::from_pairs(&[("MIX_HOME", "/m"), ("MIX_ARCHIVES", "/a")]);
        assert_eq!(archives_dir(&env), Some(PathBuf::from("/a")));
    }

    #[test]
    fn a_closed_port_is_out_of_reach_within_the_bound() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = format!("127.0.0.1:{port}");
        assert_eq!(connect(&server, Duration::from_secs(2)), Ok(()));
        drop(listener);
        let err = connect(&server, Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("does not answer"), "{err}");
    }
}
