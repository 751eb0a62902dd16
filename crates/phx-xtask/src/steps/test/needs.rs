//! Whether the suite needs Postgres and Redis at all. A `phx.new --no-ecto`
//! app has no repo and reads no database URL: starting containers for it
//! costs seconds and a docker daemon for nothing. The app's own files say
//! so: Phoenix's generator writes `config :app, ecto_repos: [App.Repo]` and
//! the postgrex and ecto_sql deps only with Ecto, and an app that talks to
//! Redis has redix (or phoenix_pubsub_redis) or reads REDIS_URL.

use std::path::Path;

/// What in config/*.exs says the app uses a database or Redis.
const CONFIG_MARKS: &[&str] = &["ecto_repos", "DATABASE_URL", "REDIS_URL"];
/// Deps that talk to Postgres or Redis, as mix.exs (`{:postgrex, …}`) and
/// mix.lock (`{:hex, :postgrex, …}`) name them.
const DEPS: &[&str] = &[":postgrex", ":ecto_sql", ":redix", ":phoenix_pubsub_redis"];

/// Why nothing is started for the suite, or None when it needs the
/// services. `forced` is `[test] services` from xtask.toml.
pub fn unused(app: &Path, forced: Option<bool>, asked: bool) -> Option<String> {
    match forced {
        Some(true) => return None,
        Some(false) => return Some("[test] services = false in xtask.toml".into()),
        None if asked => return None,
        None => {}
    }
    (!uses_services(app)).then(|| {
        "the app has no `ecto_repos`, DATABASE_URL or REDIS_URL in config/ and no postgrex, \
         ecto_sql or redix dep (set [test] services = true in xtask.toml to start them anyway)"
            .into()
    })
}

/// The app's config (each umbrella child's too), mix.exs files and mix.lock
/// name a repo, a URL or a client dep.
fn uses_services(app: &Path) -> bool {
    let mut roots = vec![app.to_path_buf()];
    if let Ok(children) = std::fs::read_dir(app.join("apps")) {
        roots.extend(children.flatten().map(|c| c.path()));
    }
    roots.iter().any(|root| {
        let configs = std::fs::read_dir(root.join("config"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "exs"));
        configs.into_iter().any(|p| mentions(&p, CONFIG_MARKS))
            || ["mix.exs", "mix.lock"]
                .iter()
                .any(|f| mentions(&root.join(f), DEPS))
    })
}

fn mentions(file: &Path, marks: &[&str]) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| marks.iter().any(|m| text.contains(m)))
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

    const NO_ECTO: &[(&str, &str)] = &[
        (
            "mix.exs",
            "defp deps, do: [{:phoenix, \"~> 1.8\"}, {:bandit, \"~> 1.5\"}]",
        ),
        (
            "config/config.exs",
            "config :shop, generators: [timestamp_type: :utc_datetime]",
        ),
        (
            "config/runtime.exs",
            "config :shop, ShopWeb.Endpoint, server: true",
        ),
    ];

    #[test]
    fn a_no_ecto_app_needs_nothing_unless_told() {
        let dir = app(NO_ECTO);
        assert!(unused(dir.path(), None, false)
            .unwrap()
            .contains("no `ecto_repos`"));
        assert_eq!(unused(dir.path(), Some(true), false), None);
        assert_eq!(
            unused(dir.path(), None, true),
            None,
            "--services asks for them"
        );
    }

    #[test]
    fn a_repo_a_url_or_a_client_dep_needs_them() {
        for (path, text) in [
            ("config/config.exs", "config :shop, ecto_repos: [Shop.Repo]"),
            ("config/runtime.exs", "url = System.get_env(\"REDIS_URL\")"),
            ("mix.exs", "{:ecto_sql, \"~> 3.10\"},"),
            (
                "mix.lock",
                "\"redix\": {:hex, :redix, \"1.5.2\", \"ab\", [:mix], [], \"hexpm\", \"cd\"},",
            ),
            (
                "apps/shop/config/config.exs",
                "config :shop, ecto_repos: [Shop.Repo]",
            ),
            ("apps/shop/mix.exs", "{:postgrex, \">= 0.0.0\"}"),
        ] {
            let mut files = NO_ECTO.to_vec();
            files.push((path, text));
            let dir = app(&files);
            assert_eq!(unused(dir.path(), None, false), None, "{path}: {text}");
            assert_eq!(
                unused(dir.path(), Some(false), false).unwrap(),
                "[test] services = false in xtask.toml"
            );
        }
    }
}
