//! Which fetched deps build inside `deps/<app>` rather than into
//! `_build/<env>`, so that two envs compiling at once would share a build
//! tree. `mix deps.compile` (Elixir 1.14 to main) builds Mix and rebar3
//! deps into `_build/<env>/lib/<dep>` (rebar3 through
//! REBAR_BARE_COMPILER_OUTPUT_DIR), but runs `make` deps, a dep's own
//! `compile:` command, elixir_make's Makefile and rebar3's hooks and port
//! compiler with `deps/<app>` as their working directory. The manager is
//! chosen as Mix does (`Mix.Dep.Loader.load/3`): mix, rebar3 or gleam from
//! the lock's managers, else from the files in the dep.
//!
//! rebar3 also keeps its source DAG, a cache, under
//! `deps/<dep>/_build/prod/lib/.rebar3`: both envs share it already when
//! they compile one after the other, and rebar3 discards one it cannot read
//! (`rebar_compiler_dag:init/4`), so it does not make a dep unsafe.

use std::path::{Path, PathBuf};

use super::sync::path_deps;
use super::terms::{parse, Term};

/// The fetched deps that build inside `deps/`, each with why.
pub fn deps_building_in_place(app: &Path, deps: &Path) -> Vec<String> {
    let managers = lock_managers(app);
    let app_mix_exs = std::fs::read_to_string(app.join("mix.exs")).unwrap_or_default();
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(deps)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    // A path dep builds where it lives.
    dirs.extend(path_deps(&app_mix_exs).into_iter().map(|p| app.join(p)));
    for dir in dirs {
        let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let locked = managers.iter().find(|(n, _)| *n == name).map(|(_, m)| m);
        if let Some(why) = why_in_place(&name, &dir, locked, &app_mix_exs) {
            found.push(format!("{name} ({why})"));
        }
    }
    found
}

fn why_in_place(
    name: &str,
    dir: &Path,
    locked: Option<&Vec<String>>,
    app_mix_exs: &str,
) -> Option<&'static str> {
    if custom_compile(app_mix_exs, name) {
        return Some("its `compile:` command runs in deps/");
    }
    let has = |f: &str| dir.join(f).is_file();
    let chosen = locked.and_then(|ms| {
        ["mix", "rebar3", "gleam"]
            .into_iter()
            .find(|m| ms.iter().any(|x| x == m))
    });
    let manager = chosen.or_else(|| {
        if has("mix.exs") {
            Some("mix")
        } else if ["rebar", "rebar.config", "rebar.config.script", "rebar.lock"]
            .iter()
            .any(|f| has(f))
        {
            Some("rebar3")
        } else if has("Makefile") || has("Makefile.win") {
            Some("make")
        } else {
            None
        }
    });
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    match manager? {
        "make" => Some("make"),
        "mix" if read("mix.exs").contains("elixir_make") => Some("elixir_make runs make in deps/"),
        "rebar3" => {
            let config = read("rebar.config") + &read("rebar.config.script");
            let hooks = [
                "pre_hooks",
                "post_hooks",
                "port_specs",
                "{pc,",
                "provider_hooks",
            ];
            hooks
                .iter()
                .any(|h| config.contains(h))
                .then_some("rebar3 hooks or a port compiler run in deps/")
        }
        _ => None,
    }
}

/// `{:name, …, compile: "…"}` in the app's mix.exs.
fn custom_compile(mix_exs: &str, name: &str) -> bool {
    let Some(i) = mix_exs.find(&format!("{{:{name},")) else {
        return false;
    };
    let entry = &mix_exs[i..];
    let end = entry.find('}').unwrap_or(entry.len());
    entry[..end].contains("compile:")
}

/// Each hex entry's managers in mix.lock (`[:make, :rebar3]`).
fn lock_managers(app: &Path) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(app.join("mix.lock")).unwrap_or_default();
    let Some(Term::Map(entries)) = parse(&text) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|(k, v)| {
            let (Term::Atom(name) | Term::Str(name)) = k else {
                return None;
            };
            let Term::Tuple(items) = v else { return None };
            let Some(Term::List(ms)) = items.get(4) else {
                return None;
            };
            let ms = ms
                .iter()
                .filter_map(|m| match m {
                    Term::Atom(a) => Some(a.clone()),
                    _ => None,
                })
                .collect();
            Some((name, ms))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deps_that_build_in_their_own_dir_are_named() {
        let app = tempfile::tempdir().unwrap();
        let a = app.path();
        let write = |rel: &str, text: &str| {
            let p = a.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "mix.exs",
            "deps: [{:nif, path: \"x\", compile: \"make\"}, {:plug, \"~> 1.0\"}]",
        );
        write(
            "mix.lock",
            "%{\n  \"cowboy\": {:hex, :cowboy, \"2.10.0\", \"ff\", [:make, :rebar3], [], \"hexpm\", \"ee\"},\n  \
             \"legacy\": {:hex, :legacy, \"1.0.0\", \"ff\", [:make], [], \"hexpm\", \"ee\"},\n}\n",
        );
        // cowboy ships a Makefile and a rebar.config: Mix picks rebar3.
        write("deps/cowboy/Makefile", "");
        write("deps/cowboy/rebar.config", "{deps, []}.\n");
        write("deps/legacy/Makefile", "");
        write(
            "deps/bcrypt_elixir/mix.exs",
            "compilers: [:elixir_make] ++ Mix.compilers()",
        );
        write("deps/plug/mix.exs", "defmodule Plug.MixProject do end");
        write(
            "deps/jiffy/rebar.config",
            "{port_specs, [{\"priv/jiffy.so\", [\"c_src/*.c\"]}]}.\n",
        );
        write("deps/telemetry/rebar.config", "{erl_opts, [debug_info]}.\n");
        write("deps/nif/Makefile", "");
        write("deps/nif/mix.exs", "");
        assert_eq!(
            deps_building_in_place(a, &a.join("deps")),
            [
                "bcrypt_elixir (elixir_make runs make in deps/)",
                "jiffy (rebar3 hooks or a port compiler run in deps/)",
                "legacy (make)",
                "nif (its `compile:` command runs in deps/)",
            ]
        );
    }
}
