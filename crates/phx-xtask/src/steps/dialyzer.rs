//! `dialyzer`: `mix dialyzer` when dialyxir is a dependency, else OTP's own
//! dialyzer on the app's compiled beams with Elixir on the code path. Either
//! way the PLT is built only when its key (OTP, Elixir, a hash of mix.lock,
//! the PLT's apps) changes; the key is stored next to the PLT.
//!
//! The plan does not ask which OTP and Elixir are installed (that probes
//! the machine): its first action finds out at run time and exports them,
//! and the commands name them as `{otp}`, `{elixir}` and `{elixir_lib}`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::ctx::Ctx;
use super::deps;
use crate::beam::{self, Beam};
use crate::exec::Exec;
use crate::ids::{fnv, StepId};
use crate::plan::{Action, Cmd, GuardFn, StepPlan};

const HINT: &str = "correct the code or its @spec at the file:line dialyzer names";

/// Elixir's apps live beside `elixir` in Elixir's lib dir, not in OTP's.
const ELIXIR_APPS: [&str; 6] = ["elixir", "logger", "mix", "ex_unit", "eex", "iex"];

fn key(beam: &Beam, env: &str, lock: Option<&str>, apps: &[String]) -> String {
    let lock = lock.map_or("none".to_string(), |l| {
        format!("{:016x}", fnv(l.as_bytes()))
    });
    format!(
        "otp={} elixir={} env={env} mix.lock={lock} apps={}\n",
        beam.otp_full,
        beam.elixir,
        apps.join(",")
    )
}

/// Finds OTP and Elixir, exports them for the commands, and records the
/// PLT key they make; then creates the PLT dir.
fn find_beam(plt_dir: PathBuf, env: String, lock: Option<String>, apps: Vec<String>) -> Action {
    Action::Native {
        describe: format!(
            "find OTP and Elixir, the PLT key; create {}",
            plt_dir.display()
        ),
        run: Box::new(move |ctx| {
            let beam = beam::facts(ctx.env_snapshot())?;
            ctx.log(format!(
                "OTP {}, Elixir {}, MIX_ENV={env}",
                beam.otp_full, beam.elixir
            ));
            ctx.notes.push(format!("analysed MIX_ENV={env}"));
            let k = key(&beam, &env, lock.as_deref(), &apps);
            let lib = beam.elixir_lib.display().to_string();
            for (name, value) in [
                ("otp", beam.otp),
                ("elixir", beam.elixir),
                ("elixir_lib", lib),
                ("plt_key", k),
            ] {
                ctx.vars.insert(name.into(), value);
            }
            std::fs::create_dir_all(ctx.base.join(&plt_dir)).context("create the PLT dir")
        }),
    }
}

/// The guard: the PLT may be reused when it exists and its key matches.
fn fresh(plt: PathBuf, key_file: PathBuf) -> GuardFn {
    Box::new(move |ctx| {
        let (plt, key_file) = (fill(&plt, ctx), fill(&key_file, ctx));
        let stored = std::fs::read_to_string(ctx.base.join(&key_file)).ok()?;
        let key = ctx.vars.get("plt_key")?;
        (ctx.base.join(&plt).is_file() && stored == *key)
            .then(|| format!("PLT cache hit, {}", plt.display()))
    })
}

fn fill(path: &Path, ctx: &Exec) -> PathBuf {
    let c = Cmd::new("", Path::new(""))
        .arg(path.display().to_string())
        .templated();
    PathBuf::from(&c.fill(&ctx.vars).args[0])
}

/// Writes the key once the PLT is built, so the next run reuses it.
fn record_key(key_file: PathBuf) -> Action {
    Action::Native {
        describe: format!("record the PLT key in {}", key_file.display()),
        run: Box::new(move |ctx| {
            let key = ctx.vars.get("plt_key").cloned().unwrap_or_default();
            std::fs::write(ctx.base.join(fill(&key_file, ctx)), key).context("write the PLT key")
        }),
    }
}

/// `MIX_ENV=<env> mix compile` first, unless `compile` builds that env.
/// It compiles that env's deps too, so like the other envs' builds it runs
/// alone when a dep builds inside `deps/`.
fn compile_first(ctx: &Ctx, env: &str) -> Option<Action> {
    let built = ctx.selected.contains(&StepId::Compile) && ctx.env.mix_env() == env;
    let cmd = Cmd::mix(ctx.app, &["compile"]).env("MIX_ENV", env);
    (!built).then(|| Action::chain(vec![cmd], Some(deps::build_alone(ctx.app))))
}

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    // Relative to the app dir, where every command runs (an absolute
    // plt_dir, shared between checkouts, stays absolute).
    let plt_dir = ctx.config.dialyzer.plt_dir.clone();
    let lock = ctx.project.lock.clone();
    let env = ctx.config.dialyzer.env.clone();
    if ctx.project.has_dep("dialyxir") {
        return Ok(dialyxir(ctx, env, lock));
    }
    let apps = ctx.config.dialyzer.plt_apps.clone();
    let plt = plt_dir.join("otp-{otp}_elixir-{elixir}.plt");
    let key_file = plt.with_extension("plt.key");
    let app_paths: Vec<String> = apps
        .iter()
        .map(|a| match ELIXIR_APPS.contains(&a.as_str()) {
            true => format!("{{elixir_lib}}/{a}/ebin"),
            false => a.clone(),
        })
        .collect();
    // Dialyzer reads the beams of its env: compiled once, by one process.
    let mut actions: Vec<Action> = compile_first(ctx, &env).into_iter().collect();
    actions.push(find_beam(plt_dir, env.clone(), lock, apps));
    // Elixir's beams need Elixir on the code path (`-pa`), else dialyzer
    // fails on `elixir_erl:debug_info`.
    let build = Cmd::new("dialyzer", ctx.app)
        .args([
            "--build_plt",
            "-pa",
            "{elixir_lib}/elixir/ebin",
            "--output_plt",
        ])
        .arg(plt.display().to_string())
        .arg("--apps")
        .args(app_paths)
        .templated()
        // Dialyzer exits 2 when it printed warnings. Building a PLT prints
        // the functions and types its apps call outside it; OTP 25 exits 0
        // with them, OTP 27 exits 2, and either way the PLT is written whole.
        .ok_on(2);
    actions.push(Action::RunUnless {
        cmd: build,
        when: "when the PLT key changed",
        fresh: fresh(plt.clone(), key_file.clone()),
    });
    actions.push(record_key(key_file));
    let ebin = Path::new("_build")
        .join(&env)
        .join("lib")
        .join(&ctx.project.app)
        .join("ebin");
    // `--fullpath` makes warnings name `lib/…/file.ex:LINE`, relative to
    // the app, and `--no_indentation` keeps each warning on one line.
    let check = Cmd::new("dialyzer", ctx.app)
        .args(["--no_check_plt", "--fullpath", "--no_indentation"])
        .args(["-pa", "{elixir_lib}/elixir/ebin", "--plt"])
        .arg(plt.display().to_string())
        .args(ctx.config.dialyzer.args.iter().cloned())
        .arg(ebin.display().to_string())
        .templated();
    actions.push(Action::Run(check));
    Ok(StepPlan::new(
        StepId::Dialyzer,
        &[StepId::Compile],
        actions,
        HINT,
    ))
}

/// dialyxir puts its PLTs where mix.exs says (plt_file, plt_local_path,
/// else `_build/<env>`); the key lives beside them, so a CI cache of that
/// directory holds both, and names the env, as dialyxir's PLT names do.
fn dialyxir(ctx: &Ctx, env: String, lock: Option<String>) -> StepPlan {
    let plt_dir = match (
        ctx.project.plt_file(),
        ctx.project.string_option("plt_local_path"),
    ) {
        (Some(file), _) => Path::new(&file)
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        (None, Some(dir)) => PathBuf::from(dir),
        (None, None) => Path::new("_build").join(&env),
    };
    let key_file = plt_dir.join(format!("xtask-dialyxir-{env}.key"));
    let mix = |args: &[&str]| Cmd::mix(ctx.app, args).env("MIX_ENV", &env);
    let mut actions: Vec<Action> = compile_first(ctx, &env).into_iter().collect();
    actions.extend([
        find_beam(plt_dir, env.clone(), lock, Vec::new()),
        Action::RunUnless {
            cmd: mix(&["dialyzer", "--plt"]),
            when: "when the PLT key changed",
            fresh: fresh(key_file.clone(), key_file.clone()),
        },
        record_key(key_file),
        Action::Run(
            mix(&["dialyzer", "--format", "short"]).args(ctx.config.dialyzer.args.iter().cloned()),
        ),
    ]);
    StepPlan::new(StepId::Dialyzer, &[StepId::Compile], actions, HINT)
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

    fn lines(mix_exs: &str) -> Vec<String> {
        crate::steps::ctx::with_ctx(mix_exs, &[], false, |ctx| {
            plan(ctx).unwrap().phases[0]
                .actions
                .iter()
                .map(|a| a.describe(ctx.app))
                .collect()
        })
    }

    #[test]
    fn with_dialyxir_the_plt_and_the_check_go_through_mix() {
        let mix_exs = "def project, do: [app: :a, deps: [{:dialyxir, \"~> 1.4\", runtime: false}]]";
        assert_eq!(
            lines(mix_exs),
            [
                "$ MIX_ENV=dev mix compile  [alone if a dep builds inside deps/]",
                "# find OTP and Elixir, the PLT key; create _build/dev",
                "$ MIX_ENV=dev mix dialyzer --plt  [when the PLT key changed]",
                "# record the PLT key in _build/dev/xtask-dialyxir-dev.key",
                "$ MIX_ENV=dev mix dialyzer --format short",
            ]
        );
    }

    #[test]
    fn the_key_lives_beside_the_plts_mix_exs_names() {
        let dep = "deps: [{:dialyxir, \"~> 1.4\"}]";
        let local = format!(
            "def project, do: [app: :a, {dep}, dialyzer: [plt_local_path: \"_build/plts\"]]"
        );
        assert_eq!(
            lines(&local)[3],
            "# record the PLT key in _build/plts/xtask-dialyxir-dev.key"
        );
        let file = format!("def project, do: [app: :a, {dep}, dialyzer: [plt_file: {{:no_warn, \"priv/plts/dialyzer.plt\"}}]]");
        assert_eq!(
            lines(&file)[3],
            "# record the PLT key in priv/plts/xtask-dialyxir-dev.key"
        );
    }

    #[test]
    fn without_dialyxir_the_plan_names_what_it_learns_at_run_time() {
        let lines = lines("def project, do: [app: :a]");
        assert_eq!(
            lines[0],
            "$ MIX_ENV=dev mix compile  [alone if a dep builds inside deps/]"
        );
        assert!(lines[2].starts_with("$ dialyzer --build_plt -pa '{elixir_lib}/elixir/ebin' --output_plt 'priv/plts/otp-{otp}_elixir-{elixir}.plt'"), "{}", lines[2]);
        let mut vars = std::collections::BTreeMap::new();
        vars.insert("elixir_lib".to_string(), "/usr/lib/elixir/lib".to_string());
        let cmd = Cmd::new("dialyzer", Path::new("/a"))
            .arg("{elixir_lib}/elixir/ebin")
            .templated();
        assert_eq!(cmd.fill(&vars).args, ["/usr/lib/elixir/lib/elixir/ebin"]);
    }

    #[test]
    fn key_changes_with_otp_elixir_lock_and_apps() {
        let apps = vec!["erts".to_string()];
        let base = key(&beam("25", "1.14.0"), "dev", None, &apps);
        assert_eq!(
            base,
            key(&beam("25", "1.14.0"), "dev", None, &apps),
            "the key is stable"
        );
        assert_ne!(base, key(&beam("26", "1.14.0"), "dev", None, &apps));
        assert_ne!(base, key(&beam("25", "1.14.0"), "test", None, &apps));
        assert_ne!(base, key(&beam("25", "1.15.7"), "dev", None, &apps));
        assert_ne!(base, key(&beam("25", "1.14.0"), "dev", Some("%{}"), &apps));
        let two = ["erts".to_string(), "kernel".to_string()];
        assert_ne!(base, key(&beam("25", "1.14.0"), "dev", None, &two));
    }
}
