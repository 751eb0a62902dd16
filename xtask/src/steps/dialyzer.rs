//! `dialyzer`: `mix dialyzer` when dialyxir is a dependency, else OTP's own
//! dialyzer on the app's compiled beams with Elixir on the code path. Either
//! way the PLT is built only when its key (OTP, Elixir, a hash of mix.lock,
//! the PLT's apps) changes; the key is stored next to the PLT.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{Ctx, StepId};
use crate::plan::{Action, Cmd, StepPlan};

const HINT: &str = "correct the code or its @spec at the file:line dialyzer names";

/// Elixir's apps live beside `elixir` in Elixir's lib dir, not in OTP's.
const ELIXIR_APPS: [&str; 6] = ["elixir", "logger", "mix", "ex_unit", "eex", "iex"];

/// The versions and paths the PLT depends on.
struct Beam {
    otp: String,
    /// OTP's full version (26.2.5), which also fixes the ERTS version.
    otp_full: String,
    elixir: String,
    /// Elixir's lib dir, holding `elixir/ebin`, `logger/ebin`, ….
    elixir_lib: PathBuf,
}

/// Read from the installation's files when the programs on PATH lead to
/// one, as the doctor does: starting the BEAM would put ~0.4 s in front of
/// every step. Version managers' shims fall back to asking `elixir`.
fn beam_facts(app: &Path) -> Result<Beam> {
    if let Some((otp_full, elixir, elixir_lib)) = crate::doctor::beam_install() {
        let otp = otp_full.split('.').next().unwrap_or(&otp_full).to_string();
        return Ok(Beam {
            otp,
            otp_full,
            elixir,
            elixir_lib,
        });
    }
    let sh = xshell::Shell::new()?;
    sh.change_dir(app);
    let script = r#"otp = System.otp_release(); full = case File.read(Path.join([:code.root_dir(), "releases", otp, "OTP_VERSION"])) do {:ok, v} -> String.trim(v); _ -> otp end; IO.write(Enum.join([otp, full, System.version(), Path.dirname(:code.lib_dir(:elixir))], "|"))"#;
    let out = xshell::cmd!(sh, "elixir -e {script}")
        .quiet()
        .read()
        .context("ask elixir for its versions")?;
    let parts: Vec<&str> = out.trim().split('|').collect();
    let [otp, otp_full, elixir, lib] = parts[..] else {
        bail!("unexpected answer from elixir: {out}")
    };
    // Debian's elixir reports `/usr/lib/elixir/bin/../lib`; resolve it so
    // the echoed commands stay readable.
    let elixir_lib = Path::new(lib).canonicalize().unwrap_or_else(|_| lib.into());
    Ok(Beam {
        otp: otp.into(),
        otp_full: otp_full.into(),
        elixir: elixir.into(),
        elixir_lib,
    })
}

fn key(beam: &Beam, lock: Option<&str>, apps: &[String]) -> String {
    let lock = lock.map_or("none".to_string(), |l| {
        format!("{:016x}", super::fnv(l.as_bytes()))
    });
    format!(
        "otp={} elixir={} mix.lock={lock} apps={}\n",
        beam.otp_full,
        beam.elixir,
        apps.join(",")
    )
}

/// The guard: the PLT may be reused when it exists and its key matches.
fn fresh(
    app: &Path,
    plt: PathBuf,
    key_file: PathBuf,
    key: String,
) -> Box<dyn Fn() -> Option<String> + Send> {
    let (shown, plt, key_file) = (plt.clone(), app.join(plt), app.join(key_file));
    Box::new(move || {
        let stored = std::fs::read_to_string(&key_file).ok()?;
        (plt.is_file() && stored == key).then(|| format!("PLT cache hit, {}", shown.display()))
    })
}

/// Writes the key once the PLT is built, so the next run reuses it.
fn record_key(key_file: PathBuf, key: String) -> Action {
    Action::Native {
        describe: format!("record the PLT key in {}", key_file.display()),
        run: Box::new(move |ctx| {
            std::fs::write(ctx.base.join(&key_file), &key).context("write the PLT key")
        }),
    }
}

fn mkdir(dir: PathBuf) -> Action {
    Action::Native {
        describe: format!("create {}", dir.display()),
        run: Box::new(move |ctx| {
            std::fs::create_dir_all(ctx.base.join(&dir)).context("create the PLT dir")
        }),
    }
}

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let beam = beam_facts(ctx.app)?;
    // Relative to the app dir, where every command runs (an absolute
    // plt_dir, shared between checkouts, stays absolute).
    let plt_dir = ctx.config.dialyzer.plt_dir.clone();
    let mut actions = Vec::new();
    if ctx.project.has_dep("dialyxir") {
        let key_file = plt_dir.join("dialyxir.key");
        let key = key(&beam, ctx.project.lock.as_deref(), &[]);
        actions.push(mkdir(plt_dir.clone()));
        let cmd = Cmd::mix(ctx.app, &["dialyzer", "--plt"]);
        // dialyxir puts its PLTs where mix.exs says (plt_local_path,
        // plt_core_path); the key only decides when to rebuild them.
        let fresh = fresh(ctx.app, key_file.clone(), key_file.clone(), key.clone());
        actions.push(Action::RunUnless {
            cmd,
            when: "when the PLT key changed",
            fresh,
        });
        actions.push(record_key(key_file, key));
        let check = Cmd::mix(ctx.app, &["dialyzer", "--format", "short"])
            .args(ctx.config.dialyzer.args.iter().cloned());
        actions.push(Action::Run(check));
        return Ok(StepPlan::new(
            StepId::Dialyzer,
            &[StepId::Compile],
            actions,
            HINT,
        ));
    }

    let apps = &ctx.config.dialyzer.plt_apps;
    let plt = plt_dir.join(format!("otp-{}_elixir-{}.plt", beam.otp, beam.elixir));
    let key_file = plt.with_extension("plt.key");
    let key = key(&beam, ctx.project.lock.as_deref(), apps);
    let app_paths: Vec<String> = apps
        .iter()
        .map(|a| match ELIXIR_APPS.contains(&a.as_str()) {
            true => beam.elixir_lib.join(a).join("ebin").display().to_string(),
            false => a.clone(),
        })
        .collect();
    if !ctx.selected.contains(&StepId::Compile) {
        // Run alone, the step compiles first: dialyzer reads the beams.
        actions.push(Action::Run(Cmd::mix(ctx.app, &["compile"])));
    }
    actions.push(mkdir(plt_dir.clone()));
    // Elixir's beams need Elixir on the code path (`-pa`), else dialyzer
    // fails on `elixir_erl:debug_info`.
    let elixir_ebin = beam
        .elixir_lib
        .join("elixir")
        .join("ebin")
        .display()
        .to_string();
    let build = Cmd::new("dialyzer", ctx.app)
        .args(["--build_plt", "-pa", &elixir_ebin, "--output_plt"])
        .arg(plt.display().to_string())
        .arg("--apps")
        .args(app_paths);
    actions.push(Action::RunUnless {
        cmd: build,
        when: "when the PLT key changed",
        fresh: fresh(ctx.app, plt.clone(), key_file.clone(), key.clone()),
    });
    actions.push(record_key(key_file, key));
    let env = std::env::var("MIX_ENV").unwrap_or_else(|_| "dev".into());
    let ebin = Path::new("_build")
        .join(env)
        .join("lib")
        .join(&ctx.project.app)
        .join("ebin");
    // `--fullpath` makes warnings name `lib/…/file.ex:LINE`, relative to
    // the app, and `--no_indentation` keeps each warning on one line.
    let check = Cmd::new("dialyzer", ctx.app)
        .args([
            "--no_check_plt",
            "--fullpath",
            "--no_indentation",
            "-pa",
            &elixir_ebin,
            "--plt",
        ])
        .arg(plt.display().to_string())
        .args(ctx.config.dialyzer.args.iter().cloned())
        .arg(ebin.display().to_string());
    actions.push(Action::Run(check));
    Ok(StepPlan::new(
        StepId::Dialyzer,
        &[StepId::Compile],
        actions,
        HINT,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beam(otp: &str, elixir: &str) -> Beam {
        Beam {
            otp: otp.into(),
            otp_full: format!("{otp}.2.3"),
            elixir: elixir.into(),
            elixir_lib: "/x".into(),
        }
    }

    #[test]
    fn with_dialyxir_the_plt_and_the_check_go_through_mix() {
        let mix_exs = "def project, do: [app: :a, deps: [{:dialyxir, \"~> 1.4\", runtime: false}]]";
        let lines: Vec<String> = crate::steps::with_ctx(mix_exs, &[], false, |ctx| {
            plan(ctx).unwrap().phases[0]
                .actions
                .iter()
                .map(|a| a.describe(ctx.app))
                .collect()
        });
        assert_eq!(
            lines,
            [
                "# create priv/plts",
                "$ mix dialyzer --plt  [when the PLT key changed]",
                "# record the PLT key in priv/plts/dialyxir.key",
                "$ mix dialyzer --format short",
            ]
        );
    }

    #[test]
    fn key_changes_with_otp_elixir_lock_and_apps() {
        let apps = vec!["erts".to_string()];
        let base = key(&beam("25", "1.14.0"), None, &apps);
        assert_eq!(
            base,
            key(&beam("25", "1.14.0"), None, &apps),
            "the key is stable"
        );
        assert_ne!(base, key(&beam("26", "1.14.0"), None, &apps));
        assert_ne!(base, key(&beam("25", "1.15.7"), None, &apps));
        assert_ne!(base, key(&beam("25", "1.14.0"), Some("%{}"), &apps));
        assert_ne!(
            base,
            key(
                &beam("25", "1.14.0"),
                None,
                &["erts".into(), "kernel".into()]
            )
        );
    }

    #[test]
    fn fnv_is_the_published_function() {
        assert_eq!(super::super::fnv(b""), 0xcbf29ce484222325);
        assert_eq!(super::super::fnv(b"a"), 0xaf63dc4c8601ec8c);
    }
}
