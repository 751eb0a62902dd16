//! Whether the suite needs Postgres and Redis at all. A `phx.new --no-ecto`
//! app has no repo and reads no database URL: starting containers for it
//! costs seconds and a docker daemon for nothing. The app's own files say
//! so: Phoenix's generator writes `config :app, ecto_repos: [App.Repo]`, the
//! postgrex and ecto_sql deps and the `ecto.*` test alias only with Ecto,
//! and an app that talks to Redis has redix (or phoenix_pubsub_redis) or
//! reads REDIS_URL. When in doubt, they start.

use std::path::Path;

use crate::mixproj::MixProject;

/// What in the app's config/*.exs says it uses a database or Redis.
const CONFIG_MARKS: &[&str] = &["ecto_repos", "DATABASE_URL", "REDIS_URL"];

/// Why nothing is started for the suite, or None when it needs the
/// services. `forced` is `[test] services` from xtask.toml; `asked` is
/// `--services` on the command line, which wins.
pub fn unused(
    app: &Path,
    project: &MixProject,
    forced: Option<bool>,
    asked: bool,
) -> Option<String> {
    match (asked, forced) {
        (true, _) | (false, Some(true)) => return None,
        (false, Some(false)) => return Some("[test] services = false in xtask.toml".into()),
        (false, None) => {}
    }
    let uses = project.talks_to_services() || config_mentions(&app.join(project.config_dir()));
    (!uses).then(|| {
        "the app has no `ecto_repos`, DATABASE_URL or REDIS_URL in its config and no postgrex, \
         ecto_sql, phoenix_ecto or redix dep (set [test] services = true in xtask.toml to start \
         them anyway)"
            .into()
    })
}

/// A config file of the app (`config/*.exs`) names a repo or a URL.
fn config_mentions(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "exs"))
        .any(|p| {
            std::fs::read_to_string(p)
                .is_ok_and(|text| CONFIG_MARKS.iter().any(|m| text.contains(m)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        dir
    }

    fn unused_in(dir: &Path, forced: Option<bool>, asked: bool) -> Option<String> {
        let project = MixProject::read(dir).unwrap();
        unused(dir, &project, forced, asked)
    }

    const MIX_EXS: &str =
        "defmodule Shop.MixProject do\n  def project, do: [app: :shop, deps: deps()]\n  \
                           defp deps, do: [{:phoenix, \"~> 1.8\"}, {:bandit, \"~> 1.5\"}]\nend\n";

    /// What `phx.new shop --no-ecto` writes, in short.
    fn no_ecto() -> Vec<(&'static str, String)> {
        vec![
            ("mix.exs", MIX_EXS.to_string()),
            (
                "config/config.exs",
                "config :shop, generators: [timestamp_type: :utc_datetime]".into(),
            ),
            (
                "config/runtime.exs",
                "config :shop, ShopWeb.Endpoint, server: true".into(),
            ),
            (
                "mix.lock",
                "%{\"bandit\": {:hex, :bandit, \"1.5.7\", \"ab\", [:mix], [], \"hexpm\", \"cd\"}}"
                    .into(),
            ),
        ]
    }

    fn with(extra: &[(&'static str, String)]) -> tempfile::TempDir {
        let mut files = no_ecto();
        for (path, text) in extra {
            files.retain(|(p, _)| p != path);
            files.push((path, text.clone()));
        }
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        app(&refs)
    }

    #[test]
    fn a_no_ecto_app_needs_nothing_unless_told() {
        let dir = with(&[]);
        assert!(unused_in(dir.path(), None, false)
            .unwrap()
            .contains("no `ecto_repos`"));
        assert_eq!(unused_in(dir.path(), Some(true), false), None);
        assert_eq!(
            unused_in(dir.path(), None, true),
            None,
            "--services asks for them"
        );
        assert_eq!(
            unused_in(dir.path(), Some(false), true),
            None,
            "--services wins"
        );
    }

    #[test]
    fn a_repo_a_url_a_client_dep_or_an_umbrella_needs_them() {
        let dep =
            |d: &str| MIX_EXS.replace("{:bandit,", &format!("{{:{d}, \">= 0.0.0\"}}, {{:bandit,"));
        let cases: Vec<(&'static str, String)> = vec![
            (
                "config/config.exs",
                "config :shop, ecto_repos: [Shop.Repo]".into(),
            ),
            (
                "config/runtime.exs",
                "url = System.get_env(\"REDIS_URL\")".into(),
            ),
            ("mix.exs", dep("ecto_sql")),
            ("mix.exs", dep("phoenix_ecto")),
            (
                "mix.exs",
                MIX_EXS.replace(
                    "deps: deps()",
                    "deps: deps(), aliases: [test: [\"ecto.create --quiet\", \"test\"]]",
                ),
            ),
            (
                "mix.exs",
                MIX_EXS.replace("{:bandit, \"~> 1.5\"}", "{:shop, in_umbrella: true}"),
            ),
            (
                "mix.lock",
                "%{\"redix\": {:hex, :redix, \"1.5.2\", \"ab\", [:mix], [], \"hexpm\", \"cd\"}}"
                    .into(),
            ),
        ];
        for (path, text) in cases {
            let dir = with(&[(path, text.clone())]);
            assert_eq!(unused_in(dir.path(), None, false), None, "{path}: {text}");
            assert_eq!(
                unused_in(dir.path(), Some(false), false).unwrap(),
                "[test] services = false in xtask.toml"
            );
        }
    }

    #[test]
    fn an_umbrella_childs_config_is_read_where_its_config_path_says() {
        let child = MIX_EXS.replace(
            "deps: deps()",
            "deps: deps(), config_path: \"../../config/config.exs\"",
        );
        let dir = app(&[
            ("apps/shop/mix.exs", &child),
            ("config/config.exs", "config :shop, ecto_repos: [Shop.Repo]"),
        ]);
        assert_eq!(unused_in(&dir.path().join("apps/shop"), None, false), None);
        std::fs::write(dir.path().join("config/config.exs"), "import Config\n").unwrap();
        assert!(unused_in(&dir.path().join("apps/shop"), None, false).is_some());
    }
}
