//! The app's migration files and its database's record of them: file
//! names and versions (`files`), Ecto's `schema_migrations` and schema
//! snapshots through sqlx (`db`, `schema`), the up/down table (`status`),
//! the static lint of the files' Elixir (`lint`), and the app's own
//! migrate commands as `Cmd`s.

pub mod db;
pub mod files;
pub mod lint;
pub mod schema;
pub mod scope;
pub mod session;
pub mod status;

use std::path::Path;

use anyhow::{bail, Result};

use crate::cmd::Cmd;

/// A configured argv (`[migrate] up`, `rollback`…) as a command in the app
/// dir, with `{version}` filled in.
pub fn command(key: &str, argv: &[String], app: &Path, version: Option<i64>) -> Result<Cmd> {
    let Some((program, rest)) = argv.split_first() else {
        bail!("[migrate] {key} is empty: give the command as a list, like [\"mix\", \"ecto.migrate\"]");
    };
    let fill = |a: &String| match version {
        Some(v) => a.replace("{version}", &v.to_string()),
        None => a.clone(),
    };
    Ok(Cmd::new(&fill(program), app).args(rest.iter().map(fill)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_commands_fill_the_version() {
        let argv: Vec<String> = ["mix", "ecto.rollback", "--to", "{version}"]
            .map(String::from)
            .to_vec();
        let cmd = command("rollback", &argv, Path::new("/app"), Some(20240101120000)).unwrap();
        assert_eq!(
            cmd.describe(Path::new("/app")),
            "$ mix ecto.rollback --to 20240101120000"
        );
        let err = command("up", &[], Path::new("/app"), None).unwrap_err();
        assert!(err.to_string().contains("[migrate] up is empty"), "{err}");
    }
}
