//! What we read from the app's own files without running Mix: the app name,
//! which tools are dependencies, whether there is a mix.lock, which aliases
//! exist. Reading text keeps planning instant and free of side effects.

use std::path::Path;

use anyhow::{bail, Context, Result};

pub struct MixProject {
    pub app: String,
    mix_exs: String,
    pub lock: Option<String>,
}

impl MixProject {
    pub fn read(dir: &Path) -> Result<MixProject> {
        let file = dir.join("mix.exs");
        if !file.is_file() {
            bail!(
                "{} has no mix.exs: point --app-dir (or app_dir in xtask.toml) at the Phoenix app",
                dir.display()
            );
        }
        let text =
            std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let mix_exs = strip_comments(&text);
        if mix_exs.contains("apps_path:") {
            let apps = dir.join("apps");
            let children: Vec<String> = std::fs::read_dir(&apps)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().join("mix.exs").is_file())
                .map(|e| format!("{}/apps/{}", dir.display(), e.file_name().to_string_lossy()))
                .collect();
            bail!(
                "{} is an umbrella project, which phx-xtask does not run at its root yet (sobelow passes \
                 silently there and each child has its own assets): point --app-dir (or app_dir in \
                 xtask.toml) at one child app: {}",
                file.display(),
                children.join(", ")
            );
        }
        let Some(app) = app_name(&mix_exs) else {
            bail!(
                "could not read `app: :name` from {}: a Mix project names its app in `def project`",
                file.display()
            );
        };
        let lock = std::fs::read_to_string(dir.join("mix.lock")).ok();
        Ok(MixProject { app, mix_exs, lock })
    }

    /// True when mix.exs lists `{:name, …}` among its deps.
    pub fn has_dep(&self, name: &str) -> bool {
        let squeezed: String = self
            .mix_exs
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        squeezed.contains(&format!("{{:{name},"))
    }

    /// The `path:` of a path dependency (`{:ex_doc, path: "vendor/ex_doc"}`).
    pub fn dep_path(&self, name: &str) -> Option<String> {
        let i = self.mix_exs.find(&format!("{{:{name},"))?;
        let entry = &self.mix_exs[i..];
        let entry = &entry[..entry.find('}').unwrap_or(entry.len())];
        let rest = entry[entry.find("path:")? + 5..]
            .trim_start()
            .strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    }

    /// A string literal option anywhere in mix.exs (`plt_local_path: "x"`).
    pub fn string_option(&self, key: &str) -> Option<String> {
        let i = self.mix_exs.find(&format!("{key}:"))?;
        let rest = self.mix_exs[i + key.len() + 1..].trim_start();
        let rest = rest.strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    }

    /// A list of string literals (`test_paths: ["test", "spec"]`).
    pub fn list_option(&self, key: &str) -> Option<Vec<String>> {
        let i = self.mix_exs.find(&format!("{key}:"))?;
        let rest = self.mix_exs[i + key.len() + 1..]
            .trim_start()
            .strip_prefix('[')?;
        let inner = &rest[..rest.find(']')?];
        let items: Vec<String> = inner
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        Some(items)
    }

    /// dialyxir's `plt_file: {:no_warn, "path"}` (or the bare string form).
    pub fn plt_file(&self) -> Option<String> {
        let i = self.mix_exs.find("plt_file:")?;
        let rest = &self.mix_exs[i + 9..];
        let end = rest.find(['}', ']']).map_or(rest.len(), |e| e + 1);
        let seg = &rest[..end];
        let start = seg.find('"')? + 1;
        Some(seg[start..start + seg[start..].find('"')?].to_string())
    }

    /// True when the app talks to Postgres or Redis by its deps: a client
    /// (or phoenix_ecto, which `phx.new` puts in an umbrella's web child)
    /// in mix.exs or as `{:hex, :name, …}` in mix.lock, an `"ecto.…"` task
    /// in its aliases (the `test` alias `phx.new` writes with Ecto), or a
    /// sibling in an umbrella, whose repo we cannot see from here.
    pub fn talks_to_services(&self) -> bool {
        const CLIENTS: &[&str] = &[
            "postgrex",
            "ecto_sql",
            "phoenix_ecto",
            "redix",
            "phoenix_pubsub_redis",
        ];
        let locked = |d: &str| {
            self.lock
                .as_deref()
                .is_some_and(|l| l.contains(&format!("{{:hex, :{d},")))
        };
        CLIENTS.iter().any(|d| self.has_dep(d) || locked(d))
            || self.mix_exs.contains("\"ecto.")
            || self.mix_exs.contains("in_umbrella:")
    }

    /// The app's config dir, relative to it: the dir of `config_path:`
    /// (`"../../config/config.exs"` in an umbrella child), else `config`.
    pub fn config_dir(&self) -> std::path::PathBuf {
        let file = self
            .string_option("config_path")
            .unwrap_or_else(|| "config/config.exs".into());
        Path::new(&file)
            .parent()
            .map_or_else(|| "config".into(), Path::to_path_buf)
    }

    /// True when mix.exs defines the alias (`"assets.deploy": …`).
    pub fn has_alias(&self, name: &str) -> bool {
        self.mix_exs.contains(&format!("\"{name}\":")) || self.mix_exs.contains(&format!("{name}:"))
    }
}

/// Drops `#` comments so a commented-out dep does not count. Strings that
/// contain `#` are rare in mix.exs; `"#{...}"` interpolation is kept.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            let mut in_str = false;
            for (i, c) in l.char_indices() {
                match c {
                    '"' => in_str = !in_str,
                    '#' if !in_str => return &l[..i],
                    _ => {}
                }
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn app_name(mix_exs: &str) -> Option<String> {
    let i = mix_exs.find("app:")?;
    let rest = mix_exs[i + 4..].trim_start().strip_prefix(':')?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(mix_exs: &str) -> MixProject {
        let mix_exs = strip_comments(mix_exs);
        MixProject {
            app: app_name(&mix_exs).unwrap_or_default(),
            mix_exs,
            lock: None,
        }
    }

    #[test]
    fn reads_app_and_deps() {
        let p = project(
            "def project, do: [app: :my_app, deps: deps()]\n\
             defp deps do\n [\n {:credo, \"~> 1.7\", only: [:dev, :test]},\n\
             # {:sobelow, \"~> 0.13\"},\n { :dialyxir , \"~> 1.4\"}\n ]\nend\n",
        );
        assert_eq!(p.app, "my_app");
        assert!(p.has_dep("credo"));
        assert!(p.has_dep("dialyxir"));
        assert!(!p.has_dep("sobelow"), "a commented-out dep does not count");
        assert!(!p.has_dep("cred"));
    }

    #[test]
    fn reads_dialyxir_plt_options() {
        let p =
            project("dialyzer: [plt_local_path: \"_build/plts\", plt_core_path: \"_build/core\"]");
        assert_eq!(
            p.string_option("plt_local_path").as_deref(),
            Some("_build/plts")
        );
        assert_eq!(
            p.string_option("plt_core_path").as_deref(),
            Some("_build/core")
        );
        let p = project("dialyzer: [plt_file: {:no_warn, \"priv/plts/dialyzer.plt\"}]");
        assert_eq!(p.plt_file().as_deref(), Some("priv/plts/dialyzer.plt"));
        assert_eq!(project("dialyzer: []").plt_file(), None);
    }

    #[test]
    fn an_umbrella_names_its_children() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mix.exs"),
            "[apps_path: \"apps\", deps: []]",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("apps/web")).unwrap();
        std::fs::write(dir.path().join("apps/web/mix.exs"), "[app: :web]").unwrap();
        let err = MixProject::read(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("is an umbrella project") && err.contains("/apps/web"),
            "{err}"
        );
    }

    #[test]
    fn reads_aliases() {
        let p = project("defp aliases do\n [\"assets.deploy\": [\"esbuild default\"], setup: [\"deps.get\"]]\nend");
        assert!(p.has_alias("assets.deploy"));
        assert!(p.has_alias("setup"));
        assert!(!p.has_alias("assets.build"));
    }
}
