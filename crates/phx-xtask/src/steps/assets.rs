//! `assets`: follows what the app really has.
//!
//! - `assets/package.json`: `npm ci` and the configured npm scripts (lint,
//!   test, build), then the Mix part.
//! - No package.json, but esbuild/tailwind hex packages behind
//!   `assets.setup`/`assets.deploy` aliases (what `mix phx.new` generates):
//!   `mix assets.setup` when their binaries (`_build/esbuild-*`,
//!   `_build/tailwind-*`) are not installed yet, then the Mix part.
//! - Neither: skipped, with the reason.
//!
//! `npm ci` is skipped while node_modules holds the locked tree
//! (`npm_sync`), as `mix deps.get` is while deps are in sync.
//!
//! The Mix part is `mix assets.deploy`, then a check that every bundle the
//! app's esbuild and tailwind profiles write (`outputs`: read from
//! config/config.exs, plus `[assets] outputs`) exists and is not empty,
//! and that every file `phx.digest`'s `cache_manifest.json` names exists. It waits for `compile`, which owns
//! `_build`, and nothing else writes priv/static. The npm part needs at
//! most the deps (Phoenix's package.json points into deps/), so it starts
//! early.

mod npm_sync;
mod outputs;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::ctx::Ctx;
use crate::exec::Exec;
use crate::ids::StepId;
use crate::plan::{Action, Cmd, GuardFn, StepPlan};
use outputs::{Found, Output};

const HINT: &str = "run the failing command above in the assets dir and correct what it reports";

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let cfg = &ctx.config.assets;
    let package = ctx.app.join(&cfg.dir).join("package.json");
    let deploy_alias = ctx.project.has_alias(&cfg.deploy);
    if package.is_file() {
        return npm(ctx, &package);
    }
    if deploy_alias {
        return Ok(StepPlan::new(
            StepId::Assets,
            &[StepId::Compile],
            hex(ctx)?,
            HINT,
        ));
    }
    let rel = package
        .strip_prefix(ctx.app)
        .unwrap_or(&package)
        .display()
        .to_string();
    Ok(StepPlan::skipped(
        StepId::Assets,
        format!("no {rel} and no `{}` alias in mix.exs: set [assets] dir in xtask.toml, or drop the step from [ci] steps", cfg.deploy),
    ))
}

/// The npm layout: npm first (early), then the Mix part after compile.
fn npm(ctx: &Ctx, package: &Path) -> Result<StepPlan> {
    let cfg = &ctx.config.assets;
    let dir = package.parent().expect("a file in a dir").to_path_buf();
    let stamp = npm_sync::stamp_file(ctx.root, &dir);
    let text =
        std::fs::read_to_string(package).with_context(|| format!("read {}", package.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", package.display()))?;
    let scripts = json.get("scripts").and_then(|s| s.as_object());
    let mut npm = vec![
        note("layout: npm (assets/package.json), then Mix"),
        Action::RunUnless {
            cmd: Cmd::new("npm", &dir).arg("ci").hint(format!(
                "`npm ci` needs a package-lock.json in sync: run `npm install` in {} and commit it",
                cfg.dir.display()
            )),
            when: "unless node_modules in sync",
            fresh: npm_sync::fresh(dir.clone(), stamp.clone()),
        },
        npm_sync::record(dir.clone(), stamp),
    ];
    let mut runs = Vec::new();
    for script in &cfg.scripts {
        match scripts.is_some_and(|s| s.contains_key(script)) {
            // `npm test` is npm's own shorthand; other scripts need `run`.
            true if script == "test" => runs.push(Cmd::new("npm", &dir).arg("test")),
            true => runs.push(Cmd::new("npm", &dir).args(["run", script])),
            false => npm.push(Action::Skip {
                what: format!("npm run {script}"),
                why: "package.json has no such script".into(),
            }),
        }
    }
    if cfg.parallel && runs.len() > 1 {
        npm.push(Action::Parallel(runs));
    } else {
        npm.extend(runs.into_iter().map(Action::Run));
    }
    // Phoenix's package.json installs `phoenix` and friends from ../deps,
    // so npm waits for `deps` only when the package refers to them.
    let needs: &[StepId] = if text.contains("deps/") {
        &[StepId::Deps]
    } else {
        &[]
    };
    let mix = mix_part(ctx, ctx.project.has_alias(&cfg.deploy), false)?;
    Ok(StepPlan::new(StepId::Assets, needs, npm, HINT).then(&[StepId::Compile], mix))
}

/// The hex layout: install the binaries once, then the Mix part.
fn hex(ctx: &Ctx) -> Result<Vec<Action>> {
    let mut actions = vec![note(
        "layout: esbuild/tailwind hex packages (no package.json)",
    )];
    // With the binaries already installed nothing runs before `mix
    // assets.deploy`, so it may join the build env's `mix do` (a Reader).
    let mut reader = true;
    if ctx.project.has_alias("assets.setup") {
        let tools: Vec<&str> = ["esbuild", "tailwind"]
            .into_iter()
            .filter(|t| ctx.project.has_dep(t))
            .collect();
        let fresh = installed(ctx.app.join("_build"), tools);
        reader = fresh_now(&fresh);
        actions.push(Action::RunUnless {
            cmd: Cmd::mix(ctx.app, &["assets.setup"]),
            when: "when a binary is not installed in _build",
            fresh,
        });
    }
    actions.extend(mix_part(ctx, true, reader)?);
    Ok(actions)
}

/// The esbuild and tailwind packages install `_build/<tool>-<target>`
/// (tailwind 0.5 adds `-<version>`), so any such file counts.
fn installed(build: PathBuf, tools: Vec<&'static str>) -> GuardFn {
    Box::new(move |_| {
        let names: Vec<String> = std::fs::read_dir(&build)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let all = tools
            .iter()
            .all(|t| names.iter().any(|n| n.starts_with(&format!("{t}-"))));
        (all && !tools.is_empty()).then(|| format!("{} installed in _build", tools.join(" and ")))
    })
}

/// What the guard says now, at planning (it reads files only).
fn fresh_now(fresh: &GuardFn) -> bool {
    let probe = Exec::new(StepId::Assets, PathBuf::new(), None, Default::default());
    fresh(&probe).is_some()
}

fn note(text: &'static str) -> Action {
    Action::Native {
        describe: text.to_string(),
        run: Box::new(move |ctx| {
            ctx.notes.push(text.to_string());
            Ok(())
        }),
    }
}

/// `mix assets.deploy`, then the output checks.
/// `reader`: nothing runs before it in its phase, so it may join compile's
/// `mix do` (`fuse`).
fn mix_part(ctx: &Ctx, has_alias: bool, reader: bool) -> Result<Vec<Action>> {
    let cfg = &ctx.config.assets;
    outputs::validate(&cfg.outputs)?;
    let cmd = Cmd::mix(ctx.app, &[cfg.deploy.as_str()]);
    let deploy = match has_alias {
        true if reader => Action::Reader(cmd),
        true => Action::Run(cmd),
        false => Action::Skip {
            what: format!("mix {}", cfg.deploy),
            why: "mix.exs defines no such alias".into(),
        },
    };
    let found = outputs::find(ctx.app, &ctx.project.app, &cfg.outputs, &cfg.deploy);
    let names: Vec<String> = found
        .outputs
        .iter()
        .map(|o| o.path.display().to_string())
        .collect();
    let what = match names.is_empty() {
        true => format!("the bundles in {STATIC_ASSETS} (no esbuild or tailwind profile in config/config.exs names them)"),
        false => names.join(", "),
    };
    let (app, manifest) = (ctx.app.to_path_buf(), ctx.app.join(MANIFEST));
    let check = Action::Native {
        describe: format!("check {what} exist and are not empty, and every file {MANIFEST} names"),
        run: Box::new(move |ctx| check_outputs(&app, found, &manifest, ctx)),
    };
    Ok(vec![deploy, check])
}

const STATIC_ASSETS: &str = "priv/static/assets";
const MANIFEST: &str = "priv/static/cache_manifest.json";

/// Each bundle as `path (N bytes)` (the row's figures), the manifest's
/// files in one line; every problem named with who should have written it.
fn check_outputs(app: &Path, found: Found, manifest: &Path, ctx: &mut Exec) -> Result<()> {
    for u in &found.unread {
        ctx.notes.push(format!(
            "could not read the output of {u} from config/config.exs: name it in [assets] outputs to check it"
        ));
    }
    let mut bad = Vec::new();
    let outputs = match found.outputs.is_empty() {
        true => bundles_in(app, &mut bad),
        false => found.outputs,
    };
    for o in &outputs {
        match std::fs::metadata(app.join(&o.path)) {
            Ok(m) if m.is_file() && m.len() > 0 => {
                ctx.log(format!("{} ({} bytes)", o.path.display(), m.len()))
            }
            Ok(m) if m.is_dir() => bad.push(format!(
                "{} is a directory: name the files in it",
                o.path.display()
            )),
            Ok(_) => bad.push(format!(
                "{} is empty: {} writes it",
                o.path.display(),
                o.from
            )),
            Err(_) => bad.push(format!(
                "{} is missing: {} should have written it",
                o.path.display(),
                o.from
            )),
        }
    }
    if manifest.is_file() {
        let digested = digested(manifest)?;
        let missing: Vec<&PathBuf> = digested
            .iter()
            .filter(|f| std::fs::metadata(f).map_or(true, |m| m.len() == 0))
            .collect();
        ctx.log(format!(
            "{MANIFEST} names {} files; {} missing or empty",
            digested.len(),
            missing.len()
        ));
        bad.extend(missing.iter().map(|f| {
            let rel = f.strip_prefix(app).unwrap_or(f);
            format!(
                "{} is missing or empty, though {MANIFEST} names it",
                rel.display()
            )
        }));
    }
    if !bad.is_empty() {
        ctx.hint = Some("make the deploy alias write what its esbuild and tailwind profiles name (or fix --outdir/--output in config/config.exs, or [assets] outputs in xtask.toml), and `mix phx.digest` after them".into());
        bail!("{}", bad.join("; "));
    }
    Ok(())
}

/// Without a profile to read, the bundles the deploy left in
/// priv/static/assets: every file but digested copies, gzips and maps.
fn bundles_in(app: &Path, bad: &mut Vec<String>) -> Vec<Output> {
    let mut found = Vec::new();
    let mut dirs = vec![app.join(STATIC_ASSETS)];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
            if path.is_dir() {
                dirs.push(path);
            } else if !is_digest_copy(&name) {
                let rel = path.strip_prefix(app).unwrap_or(&path).to_path_buf();
                let from = format!("found in {STATIC_ASSETS}");
                found.push(Output { path: rel, from });
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    if found.is_empty() {
        bad.push(format!("{STATIC_ASSETS} holds no bundle after the deploy: make the deploy alias build the assets there, or name its outputs in [assets] outputs"));
    }
    found
}

/// `app-<32 hex>.js`, a `.gz` or a source map: phx.digest's and the
/// bundlers' by-products, not bundles.
fn is_digest_copy(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name);
    let digested = stem.len() > 33
        && stem.as_bytes()[stem.len() - 33] == b'-'
        && stem[stem.len() - 32..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit());
    digested || name.ends_with(".gz") || name.ends_with(".map")
}

/// Every file `phx.digest`'s manifest names: the logical and the digested
/// path of each `latest` entry (Phoenix.Digester's format, version 1).
fn digested(manifest: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("read {}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid JSON: run `mix phx.digest` again",
            manifest.display()
        )
    })?;
    let dir = manifest.parent().expect("a file in a dir");
    let latest = json["latest"].as_object().with_context(|| {
        format!(
            "{} has no `latest` map: it is not phx.digest's manifest",
            manifest.display()
        )
    })?;
    Ok(latest
        .iter()
        .flat_map(|(logical, digested)| [Some(logical.as_str()), digested.as_str()])
        .flatten()
        .map(|f| dir.join(f))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_MIX: &str = r#"def project, do: [app: :a, aliases: aliases(), deps: [{:esbuild, "~> 0.8"}, {:tailwind, "~> 0.2"}]]
defp aliases, do: ["assets.setup": ["tailwind.install --if-missing", "esbuild.install --if-missing"], "assets.deploy": ["tailwind a --minify", "esbuild a --minify", "phx.digest"]]"#;

    fn lines(mix_exs: &str, files: &[(&str, &str)]) -> (Option<String>, Vec<String>) {
        crate::steps::ctx::with_ctx(mix_exs, files, false, |ctx| {
            let plan = plan(ctx).unwrap();
            let lines = plan
                .phases
                .iter()
                .flat_map(|p| &p.actions)
                .map(|a| a.describe(ctx.app))
                .collect();
            (plan.skip, lines)
        })
    }

    #[test]
    fn the_hex_layout_sets_up_deploys_and_checks_the_digest() {
        let (skip, lines) = lines(HEX_MIX, &[]);
        assert_eq!(skip, None);
        assert_eq!(
            lines[0],
            "# layout: esbuild/tailwind hex packages (no package.json)"
        );
        assert_eq!(
            lines[1],
            "$ mix assets.setup  [when a binary is not installed in _build]"
        );
        assert_eq!(lines[2], "$ mix assets.deploy");
        assert!(lines[3].contains("cache_manifest.json"), "{}", lines[3]);
    }

    #[test]
    fn neither_layout_is_a_skip_with_the_reason() {
        let (skip, lines) = lines("def project, do: [app: :a]", &[]);
        assert!(skip
            .unwrap()
            .contains("no assets/package.json and no `assets.deploy` alias"));
        assert!(lines.is_empty());
    }

    #[test]
    fn the_npm_layout_runs_npm_then_mix() {
        let (_, lines) = lines(
            HEX_MIX,
            &[("assets/package.json", r#"{"scripts": {"build": "x"}}"#)],
        );
        assert_eq!(
            lines[1],
            "$ npm ci  (in assets)  [unless node_modules in sync]"
        );
        assert_eq!(lines.last().map(|l| l.starts_with("# check")), Some(true));
    }

    #[test]
    fn the_manifest_names_logical_and_digested_files() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("cache_manifest.json");
        std::fs::write(
            &m,
            r#"{"latest": {"assets/app.js": "assets/app-abc.js"}, "version": 1, "digests": {}}"#,
        )
        .unwrap();
        let files = digested(&m).unwrap();
        assert_eq!(
            files,
            [
                dir.path().join("assets/app.js"),
                dir.path().join("assets/app-abc.js")
            ]
        );
        std::fs::write(&m, "{}").unwrap();
        assert!(format!("{:#}", digested(&m).unwrap_err()).contains("no `latest` map"));
    }
}
