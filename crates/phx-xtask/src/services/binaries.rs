//! Where the native backend's programs are: PATH first, then Debian's and
//! Ubuntu's versioned directory for the Postgres server binaries.

use std::path::{Path, PathBuf};

use crate::env::Env;

pub struct Binaries {
    pub initdb: PathBuf,
    pub postgres: PathBuf,
    pub redis: PathBuf,
}

/// A Postgres server program (`postgres`, `initdb`), as the native backend
/// starts it: from PATH, else from the newest Debian/Ubuntu
/// `/usr/lib/postgresql/<v>/bin`, which Debian keeps off PATH. The doctor
/// asks here too, so that it reports the one the backend would use.
pub fn postgres_program(env: &Env, name: &str) -> Option<PathBuf> {
    env.which(name).or_else(|| {
        newest_dir(Path::new("/usr/lib/postgresql"))
            .map(|d| d.join("bin").join(name))
            .filter(|p| p.is_file())
    })
}

/// The subdirectory with the highest number for a name (17 over 15; a
/// name that is not a number sorts first).
fn newest_dir(parent: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort_by_key(|d| {
        d.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
    });
    dirs.pop()
}

/// The programs, from PATH, else (for initdb and postgres) the newest
/// Debian/Ubuntu `/usr/lib/postgresql/<v>/bin`. Err lists what is missing.
pub fn binaries(env: &Env) -> std::result::Result<Binaries, String> {
    let (initdb, postgres, redis) = (
        postgres_program(env, "initdb"),
        postgres_program(env, "postgres"),
        env.which("redis-server"),
    );
    let missing: Vec<&str> = [
        ("initdb", &initdb),
        ("postgres", &postgres),
        ("redis-server", &redis),
    ]
    .iter()
    .filter(|(_, p)| p.is_none())
    .map(|(n, _)| *n)
    .collect();
    match (initdb, postgres, redis) {
        (Some(initdb), Some(postgres), Some(redis)) => Ok(Binaries {
            initdb,
            postgres,
            redis,
        }),
        _ => Err(missing.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_version_dir_wins() {
        let dir = tempfile::tempdir().unwrap();
        for v in ["9", "15", "17", "main"] {
            std::fs::create_dir(dir.path().join(v)).unwrap();
        }
        assert_eq!(newest_dir(dir.path()), Some(dir.path().join("17")));
        assert_eq!(newest_dir(&dir.path().join("none")), None);
    }
}
