//! The one place that learns which OTP and Elixir are installed, for the
//! doctor and for dialyzer's PLT. Read from the installation's files when
//! the programs on PATH lead to one (Debian, Nix, the official builds):
//! starting the BEAM to ask would put ~0.4 s in front of every use. A
//! version manager's shims lead nowhere, so then one bounded `elixir -e`
//! tells all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::env::Env;
use crate::proc;

/// Bounded for a busy machine, not for a BEAM that works (~0.4 s).
const ASK_TIMEOUT: Duration = Duration::from_secs(20);

/// A toolchain phx-xtask's own CI runs the end-to-end suite on (`.ci/run`),
/// from Debian's packages. The doctor and `init` name them beside the
/// flake's pins, from here only; a test holds the README's table to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CiToolchain {
    pub debian: &'static str,
    /// Elixir's series (1.14), as a `[toolchain]` pin is written.
    pub elixir: &'static str,
    /// OTP's major release (25).
    pub otp: &'static str,
}

pub const CI_TOOLCHAINS: [CiToolchain; 2] = [
    CiToolchain {
        debian: "Debian 12 bookworm",
        elixir: "1.14",
        otp: "25",
    },
    CiToolchain {
        debian: "Debian 13 trixie",
        elixir: "1.18",
        otp: "27",
    },
];

/// One sentence: the toolchains CI runs, then the flake's pins beside
/// them (`[toolchain] elixir` and `otp`), so that a team knows both what
/// it is meant to run and what phx-xtask is tested on.
pub fn ci_toolchains_line(pin_elixir: &str, pin_otp: &str) -> String {
    let runs: Vec<String> = CI_TOOLCHAINS
        .iter()
        .map(|t| format!("Elixir {} / OTP {} ({})", t.elixir, t.otp, t.debian))
        .collect();
    format!(
        "phx-xtask's CI runs {}; the flake pins Elixir {pin_elixir} / OTP {pin_otp} (xtask.toml [toolchain])",
        runs.join(" and ")
    )
}

/// OTP and Elixir as the PLT and the doctor need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beam {
    /// OTP's major release (26).
    pub otp: String,
    /// OTP's full version (26.2.5), which also fixes the ERTS version.
    pub otp_full: String,
    pub elixir: String,
    /// Elixir's lib dir, holding `elixir/ebin`, `logger/ebin`, ….
    pub elixir_lib: PathBuf,
}

impl Beam {
    fn new(otp_full: String, elixir: String, elixir_lib: PathBuf) -> Beam {
        let otp = otp_full.split('.').next().unwrap_or(&otp_full).to_string();
        Beam {
            otp,
            otp_full,
            elixir,
            elixir_lib,
        }
    }
}

/// The installation's facts, from its files or, failing that, from Elixir.
pub fn facts(env: &Env) -> Result<Beam> {
    if let Some(beam) = installed(env) {
        return Ok(beam);
    }
    let elixir = env
        .which("elixir")
        .context("`elixir` is not on PATH: install Elixir, or enter `nix develop`")?;
    ask_elixir(&elixir)
}

/// From the files of the installation that `erl` and `elixir` on PATH lead
/// to; None for a version manager's shims.
pub fn installed(env: &Env) -> Option<Beam> {
    let erl = env.which("erl")?.canonicalize().ok()?;
    let elixir = env.which("elixir")?.canonicalize().ok()?;
    let root = elixir.parent()?.parent()?;
    let lib = ["lib", "lib/elixir/lib"]
        .iter()
        .map(|rel| root.join(rel))
        .find(|lib| lib.join("elixir/ebin").is_dir())?;
    Some(Beam::new(
        otp_installed(&erl)?,
        elixir_installed(&elixir)?,
        lib,
    ))
}

/// One `elixir -e` that prints OTP's full version, Elixir's and its lib dir.
pub fn ask_elixir(elixir: &Path) -> Result<Beam> {
    const SCRIPT: &str = r#"otp = System.otp_release(); full = case File.read(Path.join([:code.root_dir(), "releases", otp, "OTP_VERSION"])) do {:ok, v} -> String.trim(v); _ -> otp end; IO.write(Enum.join([full, System.version(), Path.dirname(:code.lib_dir(:elixir))], "|"))"#;
    let out = ask(elixir, &["-e", SCRIPT])?;
    let [full, version, lib] = out.trim().split('|').collect::<Vec<_>>()[..] else {
        bail!("unexpected answer from {}: {out}", elixir.display())
    };
    // Debian's elixir reports `/usr/lib/elixir/bin/../lib`; resolve it so
    // the echoed commands stay readable.
    let lib = Path::new(lib).canonicalize().unwrap_or_else(|_| lib.into());
    Ok(Beam::new(full.into(), version.into(), lib))
}

/// OTP's full version from `erl` itself, for a machine without Elixir.
pub fn ask_erl(erl: &Path) -> Result<String> {
    const ERL: &str = r#"R = erlang:system_info(otp_release), F = filename:join([code:root_dir(), "releases", R, "OTP_VERSION"]), V = case file:read_file(F) of {ok, B} -> string:trim(B); _ -> R end, io:put_chars(V), halt()."#;
    Ok(ask(erl, &["-noshell", "-eval", ERL])?.trim().to_string())
}

fn ask(program: &Path, args: &[&str]) -> Result<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let program = program.display().to_string();
    proc::read(&proc::Spawn::new(&program, &args), ASK_TIMEOUT)
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
pub fn elixir_installed(elixir: &Path) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_and_elixir_itself_agree() {
        let env = Env::capture();
        let (Some(files), Some(elixir)) = (installed(&env), env.which("elixir")) else {
            return; // no Elixir installation here to compare
        };
        let asked = ask_elixir(&elixir).unwrap();
        assert_eq!(files, asked);
        assert_eq!(files.otp, files.otp_full.split('.').next().unwrap());
    }
}
