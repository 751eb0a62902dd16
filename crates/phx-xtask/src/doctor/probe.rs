//! The doctor's measurements, each bounded in time: a tool's version from
//! its own `--version`, free disk space from statvfs(3). A hung tool costs
//! its timeout, never a hang. (The BEAM's versions come from `beam`, the
//! daemon's from `docker`.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::Env;
use crate::{beam, proc};

/// A version query is fast (starting the BEAM, the slowest, takes ~0.4 s);
/// the bound is for a machine that is busy, not for a tool that works.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

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
pub fn tool(env: &Env, names: &[&str], args: &[&str]) -> Probe {
    at(names.iter().find_map(|n| env.which(n)), args)
}

/// `path args…`, for a program found some other way than PATH alone.
pub fn at(path: Option<PathBuf>, args: &[&str]) -> Probe {
    let Some(path) = path else {
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

/// OTP's full version and Elixir's: from the installation's files, else
/// from `elixir` (or `erl`, without Elixir) asked once, within a bound.
pub fn beam(env: &Env) -> (Probe, Probe) {
    let mut otp = Probe {
        path: env.which("erl"),
        ..Probe::default()
    };
    let mut elixir = Probe {
        path: env.which("elixir"),
        ..Probe::default()
    };
    if let Some(b) = beam::installed(env) {
        otp.version = Some(b.otp_full);
        elixir.version = Some(b.elixir);
        return (otp, elixir);
    }
    if let Some(path) = elixir.path.clone() {
        match beam::ask_elixir(&path) {
            Ok(b) => {
                otp.version = Some(b.otp_full);
                elixir.version = Some(b.elixir);
            }
            Err(e) => elixir.error = Some(first_line(&format!("{e:#}"))),
        }
    }
    if let (Some(path), None) = (otp.path.clone(), &otp.version) {
        match beam::ask_erl(&path) {
            Ok(v) => otp.version = version_in(&v).or(Some(v)),
            Err(e) => otp.error = Some(first_line(&format!("{e:#}"))),
        }
    }
    (otp, elixir)
}

/// npm, from the package.json beside the `npm-cli.js` that `npm` links to:
/// starting Node to ask takes longer than every other check together.
pub fn npm(env: &Env) -> Probe {
    let installed = env
        .which("npm")
        .and_then(|p| p.canonicalize().ok())
        .and_then(|cli| {
            let text =
                std::fs::read_to_string(cli.parent()?.parent()?.join("package.json")).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            (json["name"] == "npm").then(|| json["version"].as_str().map(String::from))?
        });
    match installed {
        Some(v) => Probe {
            path: env.which("npm"),
            version: Some(v),
            error: None,
        },
        None => tool(env, &["npm"], &["--version"]),
    }
}

/// Runs a program with both outputs captured, within the bound.
fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let program = program.display().to_string();
    let spawn = proc::Spawn::new(&program, &args);
    let out = proc::output(&spawn, VERSION_TIMEOUT, |_| {}).map_err(|e| format!("{e:#}"))?;
    let text = format!("{}{}", out.stdout, out.stderr);
    match out.status.success() {
        true => Ok(text),
        false => Err(format!("exited with {}: {}", out.status, first_line(&text))),
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
}
