//! The doctor's measurements, each bounded in time: a tool's version from
//! its own `--version`, the docker daemon from its API socket, free disk
//! space from statvfs(3). A hung tool or daemon costs its timeout, never a
//! hang.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proc;

/// A version query is fast (starting the BEAM, the slowest, takes ~0.4 s);
/// the bound is for a machine that is busy, not for a tool that works.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
const DAEMON_TIMEOUT: Duration = Duration::from_secs(2);

/// What we learned about one program.
#[derive(Debug, Default, Clone)]
pub struct Probe {
    /// Where it is on PATH; `None` when it is not.
    pub path: Option<PathBuf>,
    pub version: Option<String>,
    /// Why the version is unknown although the program was found.
    pub error: Option<String>,
}

/// `program args…` → the first version number in what it prints.
pub fn tool(names: &[&str], args: &[&str]) -> Probe {
    let Some(path) = names.iter().find_map(|n| proc::which(n)) else {
        return Probe::default();
    };
    match output(&path, args) {
        Ok(text) => match version_in(&text) {
            Some(v) => Probe {
                path: Some(path),
                version: Some(v),
                error: None,
            },
            None => Probe {
                path: Some(path),
                version: None,
                error: Some(first_line(&text)),
            },
        },
        Err(e) => Probe {
            path: Some(path),
            version: None,
            error: Some(e),
        },
    }
}

/// OTP's full version and Elixir's. Both are read from the installation's
/// files when the programs on PATH lead to one (Debian, Nix, the official
/// builds): starting the BEAM to ask would take most of the doctor's time.
/// Otherwise (a version manager's shims) one `elixir` start tells both.
pub fn beam() -> (Probe, Probe) {
    const ELIXIR: &str = r#"otp = System.otp_release(); file = Path.join([:code.root_dir(), "releases", otp, "OTP_VERSION"]); full = case File.read(file) do {:ok, v} -> String.trim(v); _ -> otp end; IO.write(System.version() <> " " <> full)"#;
    const ERL: &str = r#"R = erlang:system_info(otp_release), F = filename:join([code:root_dir(), "releases", R, "OTP_VERSION"]), V = case file:read_file(F) of {ok, B} -> string:trim(B); _ -> R end, io:put_chars(V), halt()."#;
    let from_files = |name: &str, read: fn(&Path) -> Option<String>| {
        let path = proc::which(name);
        let version = path
            .as_deref()
            .and_then(|p| p.canonicalize().ok())
            .and_then(|p| read(&p));
        Probe {
            path,
            version,
            error: None,
        }
    };
    let mut otp = from_files("erl", otp_installed);
    let mut elixir = from_files("elixir", elixir_installed);
    let unknown = |p: &Probe| p.path.is_some() && p.version.is_none();
    if let (Some(path), true) = (elixir.path.clone(), unknown(&elixir) || unknown(&otp)) {
        match output(&path, &["-e", ELIXIR]) {
            Ok(text) => match text.split_whitespace().collect::<Vec<_>>()[..] {
                [ex, full] => {
                    elixir.version.get_or_insert_with(|| ex.to_string());
                    otp.version.get_or_insert_with(|| full.to_string());
                }
                _ => elixir.error = Some(first_line(&text)),
            },
            Err(e) => elixir.error = Some(e),
        }
    }
    if let (Some(path), true) = (otp.path.clone(), unknown(&otp)) {
        match output(&path, &["-noshell", "-eval", ERL]) {
            Ok(text) => otp.version = version_in(&text).or(Some(text.trim().to_string())),
            Err(e) => otp.error = Some(e),
        }
    }
    (otp, elixir)
}

/// OTP's full version, Elixir's version and Elixir's lib dir (holding
/// `elixir/ebin`, `logger/ebin`, …) from the files of the installation that
/// `erl` and `elixir` on PATH lead to; None for a version manager's shims.
pub fn beam_install() -> Option<(String, String, PathBuf)> {
    let erl = proc::which("erl")?.canonicalize().ok()?;
    let elixir = proc::which("elixir")?.canonicalize().ok()?;
    let root = elixir.parent()?.parent()?;
    let lib = ["lib", "lib/elixir/lib"]
        .iter()
        .map(|rel| root.join(rel))
        .find(|lib| lib.join("elixir/ebin").is_dir())?;
    Some((otp_installed(&erl)?, elixir_installed(&elixir)?, lib))
}

/// `<root>/bin/erl` → `<root>/releases/<major>/OTP_VERSION` (the newest
/// release when there are several).
fn otp_installed(erl: &Path) -> Option<String> {
    let releases = erl.parent()?.parent()?.join("releases");
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(releases)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            Some((
                e.file_name().to_str()?.parse().ok()?,
                e.path().join("OTP_VERSION"),
            ))
        })
        .collect();
    majors.sort();
    let text = std::fs::read_to_string(&majors.last()?.1).ok()?;
    Some(text.trim().to_string()).filter(|v| !v.is_empty())
}

/// `<root>/bin/elixir` → the `vsn` in elixir.app: `<root>/lib/elixir/ebin`
/// (Debian, the official zip) or `<root>/lib/elixir/lib/elixir/ebin` (Nix,
/// whose bin/elixir is a wrapper outside the install prefix's lib).
fn elixir_installed(elixir: &Path) -> Option<String> {
    let root = elixir.parent()?.parent()?;
    [
        "lib/elixir/ebin/elixir.app",
        "lib/elixir/lib/elixir/ebin/elixir.app",
    ]
    .iter()
    .find_map(|rel| {
        let text = std::fs::read_to_string(root.join(rel)).ok()?;
        // `{vsn,"1.14.0"}`, however it is spaced or quoted.
        let rest = text[text.find("{vsn")? + 4..].trim_start_matches([',', ' ']);
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let rest = &rest[1..];
        Some(rest[..rest.find(quote)?].to_string())
    })
}

/// npm, from the package.json beside the `npm-cli.js` that `npm` links to:
/// starting Node to ask takes longer than every other check together.
pub fn npm() -> Probe {
    let installed = proc::which("npm")
        .and_then(|p| p.canonicalize().ok())
        .and_then(|cli| {
            let text =
                std::fs::read_to_string(cli.parent()?.parent()?.join("package.json")).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            (json["name"] == "npm").then(|| json["version"].as_str().map(String::from))?
        });
    match installed {
        Some(v) => Probe {
            path: proc::which("npm"),
            version: Some(v),
            error: None,
        },
        None => tool(&["npm"], &["--version"]),
    }
}

/// Runs a program with stdin closed and both outputs captured, in its own
/// process group so that a timeout can kill whatever it started.
fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let handle = duct::cmd(program, args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .before_spawn(|c| {
            std::os::unix::process::CommandExt::process_group(c, 0);
            Ok(())
        })
        .start()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    match handle.wait_timeout(VERSION_TIMEOUT) {
        Ok(Some(out)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            match out.status.success() {
                true => Ok(text),
                false => Err(format!("exited with {}: {}", out.status, first_line(&text))),
            }
        }
        Ok(None) => {
            if let Some(&pid) = handle.pids().first() {
                // SAFETY: kill(2) on the child's own process group.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
            let _ = handle.wait();
            Err(format!("no answer within {}s", VERSION_TIMEOUT.as_secs()))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_string()
}

/// The first `N.N[.N…]` in `text` that starts a word (`v20.1.0`, `v=7.0.15`
/// and `15.18` count; `sha=00000000` does not).
pub fn version_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'v');
        if starts {
            let end = text[i..]
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(text.len(), |e| i + e);
            let v = text[i..end].trim_end_matches('.');
            if v.contains('.') {
                return Some(v.to_string());
            }
            i = end;
        }
        i += 1;
    }
    None
}

/// Where the docker daemon listens, from `DOCKER_HOST` like the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
    Other(String),
}

impl Endpoint {
    pub fn from_env() -> Endpoint {
        match std::env::var("DOCKER_HOST") {
            Ok(h) if !h.is_empty() => Endpoint::parse(&h),
            _ => {
                let system = PathBuf::from("/var/run/docker.sock");
                // Rootless docker listens in the user's runtime dir.
                let rootless = std::env::var_os("XDG_RUNTIME_DIR")
                    .map(|d| PathBuf::from(d).join("docker.sock"));
                match rootless.filter(|r| !system.exists() && r.exists()) {
                    Some(r) => Endpoint::Unix(r),
                    None => Endpoint::Unix(system),
                }
            }
        }
    }

    fn parse(host: &str) -> Endpoint {
        if let Some(path) = host.strip_prefix("unix://") {
            return Endpoint::Unix(PathBuf::from(path));
        }
        match host.strip_prefix("tcp://") {
            Some(addr) => Endpoint::Tcp(addr.trim_end_matches('/').to_string()),
            None => Endpoint::Other(host.to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Endpoint::Unix(p) => p.display().to_string(),
            Endpoint::Tcp(a) => format!("tcp://{a}"),
            Endpoint::Other(h) => h.clone(),
        }
    }
}

/// What the daemon said about itself.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub version: String,
    /// Where it keeps images, for the disk check (local daemons only).
    pub root_dir: Option<PathBuf>,
}

/// `GET /info` on the daemon's socket, bounded by a short timeout.
pub fn docker_daemon(endpoint: &Endpoint) -> Result<Daemon, String> {
    let request = b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n";
    let response = match endpoint {
        Endpoint::Unix(path) => {
            let mut s = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(DAEMON_TIMEOUT))
                .and_then(|_| s.set_write_timeout(Some(DAEMON_TIMEOUT)))
                .map_err(|e| e.to_string())?;
            exchange(&mut s, request)?
        }
        Endpoint::Tcp(addr) => {
            use std::net::ToSocketAddrs;
            let sock = addr
                .to_socket_addrs()
                .map_err(|e| e.to_string())?
                .next()
                .ok_or("no address")?;
            let mut s = std::net::TcpStream::connect_timeout(&sock, DAEMON_TIMEOUT)
                .map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(DAEMON_TIMEOUT))
                .and_then(|_| s.set_write_timeout(Some(DAEMON_TIMEOUT)))
                .map_err(|e| e.to_string())?;
            exchange(&mut s, request)?
        }
        Endpoint::Other(h) => {
            return Err(format!(
                "DOCKER_HOST={h} is not a unix:// or tcp:// address doctor can check"
            ))
        }
    };
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("not an HTTP answer")?;
    if !head.starts_with("HTTP/1.") || head.split_whitespace().nth(1) != Some("200") {
        return Err(format!("answered {}", first_line(head)));
    }
    let info: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("unreadable /info: {e}"))?;
    let version = info["ServerVersion"]
        .as_str()
        .unwrap_or("unknown")
        .to_string();
    let root_dir = match endpoint {
        Endpoint::Unix(_) => info["DockerRootDir"].as_str().map(PathBuf::from),
        _ => None,
    };
    Ok(Daemon { version, root_dir })
}

fn exchange(stream: &mut (impl Read + Write), request: &[u8]) -> Result<String, String> {
    stream.write_all(request).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Bytes an unprivileged user may still write on the filesystem of `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_tool_output() {
        let cases = [
            ("v20.20.2", Some("20.20.2")),
            ("11.19.1\n", Some("11.19.1")),
            ("Docker version 28.2.2, build e6534b4", Some("28.2.2")),
            (
                "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)",
                Some("15.18"),
            ),
            (
                "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64",
                Some("7.0.15"),
            ),
            ("git version 2.47.3", Some("2.47.3")),
            (
                "flyctl v0.3.45 linux/amd64 Commit: abc BuildDate: 2024-11-26",
                Some("0.3.45"),
            ),
            ("x86_64 build", None),
        ];
        for (text, want) in cases {
            assert_eq!(version_in(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            Endpoint::parse("unix:///run/d.sock"),
            Endpoint::Unix("/run/d.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375/"),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            Endpoint::parse("ssh://me@box"),
            Endpoint::Other("ssh://me@box".into())
        );
    }
}
