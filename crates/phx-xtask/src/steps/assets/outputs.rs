//! Which bundles `mix assets.deploy` must leave behind, read from the app
//! itself: the `--outdir`/`--outfile` of each esbuild profile and the
//! `--output` of each tailwind profile in config/config.exs that the deploy
//! alias runs (as phx.new 1.7 writes them, `priv/static/assets/app.js`, and
//! 1.8, `priv/static/assets/js/app.js`), plus `[assets] outputs`. Each
//! output knows which profile writes it, so a missing one is named with its
//! writer.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Result};

use crate::exs::{self, Term};

/// A file the deploy must write, relative to the app dir when inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub path: PathBuf,
    /// Who writes it: `the esbuild profile `shop` (--outdir=… in assets/)`.
    pub from: String,
}

/// The outputs, and the profiles whose outputs could not be read, with why.
#[derive(Debug, Default, PartialEq)]
pub struct Found {
    pub outputs: Vec<Output>,
    pub unread: Vec<String>,
}

/// `[assets] outputs` must name files inside the app.
pub fn validate(configured: &[PathBuf]) -> Result<()> {
    for o in configured {
        let inside = o.components().all(|c| matches!(c, Component::Normal(_)));
        if o.as_os_str().is_empty() || !inside {
            bail!(
                "[assets] outputs: \"{}\" must be a file path relative to the app dir, without `..`, \
                 such as \"priv/static/assets/js/app.js\": fix it in xtask.toml",
                o.display()
            );
        }
    }
    Ok(())
}

/// The profiles' outputs, then the configured ones not already among them.
/// A profile counts when the deploy alias runs it; when the alias runs no
/// profile of a tool at all, the tool's default profile (named after the
/// app, or `default` before phx.new 1.7) still counts, so a deploy that
/// forgot tailwind is caught rather than excused.
pub fn find(app: &Path, app_name: &str, configured: &[PathBuf], deploy: &str) -> Found {
    let mut found = Found::default();
    let config_dir = app.join("config");
    let text = std::fs::read_to_string(config_dir.join("config.exs")).unwrap_or_default();
    let used = used_profiles(app, deploy);
    for tool in ["esbuild", "tailwind"] {
        for (profile, term) in exs::config(&text, tool) {
            let Term::Keyword(opts) = term else { continue };
            if !counts(used.as_ref(), tool, &profile, app_name) {
                continue;
            }
            match profile_outputs(tool, &opts, app, &config_dir) {
                Ok((dir, files, flag)) => found.outputs.extend(files.into_iter().map(|f| Output {
                    path: relative(app, &normalize(&dir.join(f))),
                    from: format!(
                        "the {tool} profile `{profile}` in config/config.exs ({flag}, run in {})",
                        shown_dir(app, &dir)
                    ),
                })),
                Err(why) => found
                    .unread
                    .push(format!("the {tool} profile `{profile}` ({why})")),
            }
        }
    }
    for o in configured {
        if !found.outputs.iter().any(|f| f.path == *o) {
            found.outputs.push(Output {
                path: o.clone(),
                from: "[assets] outputs in xtask.toml".into(),
            });
        }
    }
    found
}

/// Whether the deploy owes this profile's outputs (see `find`).
fn counts(used: Option<&Profiles>, tool: &'static str, profile: &str, app_name: &str) -> bool {
    let Some(used) = used else { return true };
    match used.iter().any(|(t, _)| *t == tool) {
        true => used.contains(&(tool, profile.to_string())),
        false => profile == app_name || profile == "default",
    }
}

/// `(tool, profile)` pairs: `("tailwind", "shop")`.
type Profiles = BTreeSet<(&'static str, String)>;

/// The `(tool, profile)` pairs the deploy alias runs (`tailwind shop
/// --minify`), following aliases it names; None when it cannot be read,
/// and then every profile counts.
fn used_profiles(app: &Path, deploy: &str) -> Option<Profiles> {
    let mix_exs = std::fs::read_to_string(app.join("mix.exs")).ok()?;
    let mut used = BTreeSet::new();
    let mut todo = vec![(deploy.to_string(), 0)];
    while let Some((alias, depth)) = todo.pop() {
        let Some(Term::List(tasks)) = exs::keyword_value(&mix_exs, &alias) else {
            return None;
        };
        for task in tasks {
            let Term::Str(task) = task else { return None };
            let mut words = task.split_whitespace();
            match (words.next(), words.next()) {
                (Some("esbuild"), Some(p)) => used.insert(("esbuild", p.to_string())),
                (Some("tailwind"), Some(p)) => used.insert(("tailwind", p.to_string())),
                (Some(other), _) if depth < 3 && exs::keyword_value(&mix_exs, other).is_some() => {
                    todo.push((other.to_string(), depth + 1));
                    true
                }
                _ => false,
            };
        }
    }
    Some(used)
}

/// The dir a profile runs in, the files it writes there, and the flag
/// that says so; or why that cannot be read.
fn profile_outputs(
    tool: &str,
    opts: &[(String, Term)],
    app: &Path,
    config_dir: &Path,
) -> Result<(PathBuf, Vec<String>, String), String> {
    let get = |k: &str| opts.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let args: Vec<String> = match get("args") {
        Some(Term::Words(w)) => w.clone(),
        Some(Term::List(items)) => items
            .iter()
            .map(|t| match t {
                Term::Str(s) => Ok(s.clone()),
                _ => Err("its args are not all literal strings".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("its args are not a literal list".into()),
    };
    // The packages run the binary in `cd`, the project's dir by default.
    let dir = match get("cd") {
        None => app.to_path_buf(),
        Some(Term::Str(s)) => app.join(s),
        Some(Term::Call(f, a)) if f == "Path.expand" => match a.as_slice() {
            [Term::Str(rel), Term::Name(d)] if d == "__DIR__" => config_dir.join(rel),
            _ => return Err("its cd is not Path.expand(\"…\", __DIR__)".into()),
        },
        Some(_) => return Err("its cd is not a literal path".into()),
    };
    let (files, flag) = match tool {
        "esbuild" => esbuild(&args)?,
        _ => tailwind(&args)?,
    };
    Ok((normalize(&dir), files, flag))
}

/// tailwind writes `--output` (or `-o`).
fn tailwind(args: &[String]) -> Result<(Vec<String>, String), String> {
    for (i, a) in args.iter().enumerate() {
        if let Some(f) = a.strip_prefix("--output=").or(a.strip_prefix("-o=")) {
            return Ok((vec![f.to_string()], a.clone()));
        }
        if (a == "--output" || a == "-o") && i + 1 < args.len() {
            return Ok((vec![args[i + 1].clone()], format!("{a} {}", args[i + 1])));
        }
    }
    Err("it has no --output, so it writes to stdout".into())
}

/// esbuild writes `--outfile`, or each entry point under `--outdir` at its
/// path below the entries' common dir (`--outbase`), with `.js` for
/// scripts and `.css` for stylesheets; `out=in` entries name their output.
fn esbuild(args: &[String]) -> Result<(Vec<String>, String), String> {
    let opt = |k: &str| args.iter().find_map(|a| a.strip_prefix(&format!("--{k}=")));
    if let Some(f) = opt("outfile") {
        return Ok((vec![f.to_string()], format!("--outfile={f}")));
    }
    let Some(outdir) = opt("outdir") else {
        return Err("it has no --outdir or --outfile, so it writes to stdout".into());
    };
    let flat = match opt("entry-names") {
        None | Some("[dir]/[name]") => false,
        Some("[name]") => true,
        Some(other) => {
            return Err(format!(
                "--entry-names={other} names files we cannot foresee"
            ))
        }
    };
    let entries: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let plain: Vec<&Path> = entries
        .iter()
        .filter(|e| !e.contains('='))
        .map(|e| Path::new(e.as_str()))
        .collect();
    let base = opt("outbase")
        .map(PathBuf::from)
        .unwrap_or_else(|| common_dir(&plain));
    let mut files = Vec::new();
    for e in entries {
        let (name, input) = match e.split_once('=') {
            Some((out, input)) => (PathBuf::from(out), input),
            None if flat => (
                PathBuf::from(Path::new(e).file_stem().unwrap_or_default()),
                e.as_str(),
            ),
            None => (
                Path::new(e)
                    .strip_prefix(&base)
                    .unwrap_or(Path::new(e))
                    .with_extension(""),
                e.as_str(),
            ),
        };
        let ext = match Path::new(input).extension().and_then(|x| x.to_str()) {
            Some("js" | "jsx" | "ts" | "tsx" | "mjs" | "cjs") => out_ext(args, "js"),
            Some("css") => out_ext(args, "css"),
            _ => {
                return Err(format!(
                    "its entry point {input} is not a script or a stylesheet"
                ))
            }
        };
        files.push(
            Path::new(outdir)
                .join(name.with_extension(ext))
                .display()
                .to_string(),
        );
    }
    if files.is_empty() {
        return Err("it has no entry point".into());
    }
    Ok((files, format!("--outdir={outdir}")))
}

/// `--out-extension:.js=.mjs` changes an extension.
fn out_ext(args: &[String], ext: &str) -> String {
    let flag = format!("--out-extension:.{ext}=.");
    args.iter()
        .find_map(|a| a.strip_prefix(&flag))
        .unwrap_or(ext)
        .to_string()
}

/// The lowest dir holding every entry point, as esbuild's default outbase.
fn common_dir(entries: &[&Path]) -> PathBuf {
    let dirs: Vec<Vec<Component>> = entries
        .iter()
        .map(|e| e.parent().unwrap_or(Path::new("")).components().collect())
        .collect();
    let Some(first) = dirs.first() else {
        return PathBuf::new();
    };
    let n = (0..first.len())
        .take_while(|&i| dirs.iter().all(|d| d.get(i) == first.get(i)))
        .count();
    first[..n].iter().collect()
}

/// `a/b/../c` as `a/c`, without touching the disk.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

fn shown_dir(app: &Path, dir: &Path) -> String {
    match relative(app, dir) {
        r if r == Path::new(".") => "the app dir".into(),
        r => format!("{}/", r.display()),
    }
}

fn relative(app: &Path, p: &Path) -> PathBuf {
    let app = normalize(app);
    match p.strip_prefix(&app) {
        Ok(r) if r.as_os_str().is_empty() => PathBuf::from("."),
        Ok(r) => r.to_path_buf(),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests;
