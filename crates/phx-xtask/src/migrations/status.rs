//! Each migration file as up or down against what `schema_migrations`
//! holds, plus the versions it holds that have no file (as `mix
//! ecto.migrations` lists them), rendered as a table or as JSON.

use std::path::Path;

use serde::Serialize;

use super::files::Migration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub status: State,
    pub version: i64,
    /// The file's name after the version; None for a version without a file.
    pub name: Option<String>,
    /// The file, relative to the app dir.
    pub file: Option<String>,
}

/// The rows, by version: every file, then the applied versions without one.
pub fn rows(files: &[Migration], applied: &[i64], app: &Path) -> Vec<Row> {
    let mut rows: Vec<Row> = files
        .iter()
        .map(|m| Row {
            status: match applied.contains(&m.version) {
                true => State::Up,
                false => State::Down,
            },
            version: m.version,
            name: Some(m.name.clone()),
            file: Some(
                m.path
                    .strip_prefix(app)
                    .unwrap_or(&m.path)
                    .display()
                    .to_string(),
            ),
        })
        .collect();
    rows.extend(
        applied
            .iter()
            .filter(|v| !files.iter().any(|m| m.version == **v))
            .map(|&version| Row {
                status: State::Up,
                version,
                name: None,
                file: None,
            }),
    );
    rows.sort_by_key(|r| r.version);
    rows
}

/// `up 3, down 1` (and the versions without a file, when there are any).
pub fn summary(rows: &[Row]) -> String {
    let count = |s: State| {
        rows.iter()
            .filter(|r| r.status == s && r.file.is_some())
            .count()
    };
    let orphans = rows.iter().filter(|r| r.file.is_none()).count();
    let mut text = format!("{} up, {} down", count(State::Up), count(State::Down));
    if orphans > 0 {
        text.push_str(&format!(", {orphans} applied without a file"));
    }
    text
}

/// The table `migrate status` prints on stdout.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!("{:<6}  {:<14}  {}\n", "STATUS", "VERSION", "MIGRATION");
    for r in rows {
        let state = match r.status {
            State::Up => "up",
            State::Down => "down",
        };
        let name = r.name.as_deref().unwrap_or("** no file **");
        out.push_str(&format!("{state:<6}  {:<14}  {name}\n", r.version));
    }
    out
}

/// The JSON `migrate status --output json` prints on stdout.
pub fn json(database: &str, rows: &[Row]) -> String {
    let value = serde_json::json!({ "database": database, "migrations": rows });
    serde_json::to_string_pretty(&value).expect("rows serialize") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn m(version: i64, name: &str) -> Migration {
        Migration {
            version,
            name: name.into(),
            path: PathBuf::from(format!("/app/priv/repo/migrations/{version}_{name}.exs")),
        }
    }

    #[test]
    fn files_up_and_down_and_versions_without_a_file() {
        let files = [m(20240101000000, "a"), m(20240201000000, "b")];
        let rows = rows(&files, &[20240101000000, 20230101000000], Path::new("/app"));
        let got: Vec<(State, i64, Option<&str>)> = rows
            .iter()
            .map(|r| (r.status, r.version, r.name.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (State::Up, 20230101000000, None),
                (State::Up, 20240101000000, Some("a")),
                (State::Down, 20240201000000, Some("b")),
            ]
        );
        assert_eq!(
            rows[1].file.as_deref(),
            Some("priv/repo/migrations/20240101000000_a.exs")
        );
        assert_eq!(summary(&rows), "1 up, 1 down, 1 applied without a file");
        assert_eq!(
            table(&rows),
            "STATUS  VERSION         MIGRATION\n\
             up      20230101000000  ** no file **\n\
             up      20240101000000  a\n\
             down    20240201000000  b\n"
        );
        let json: serde_json::Value = serde_json::from_str(&json("app_dev", &rows)).unwrap();
        assert_eq!(json["database"], "app_dev");
        assert_eq!(json["migrations"][2]["status"], "down");
        assert_eq!(json["migrations"][0]["file"], serde_json::Value::Null);
    }
}
