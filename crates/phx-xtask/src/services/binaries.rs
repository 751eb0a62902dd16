//! Where the native backend's programs are: PATH first, then Debian's and
//! Ubuntu's versioned directory for the Postgres server binaries.

use std::path::PathBuf;

use crate::env::Env;

pub struct Binaries {
    pub initdb: PathBuf,
    pub postgres: PathBuf,
    pub redis: PathBuf,
}

/// The programs, from PATH, else (for initdb and postgres) the newest
/// Debian/Ubuntu `/usr/lib/postgresql/<v>/bin`. Err lists what is missing.
pub fn binaries(env: &Env) -> std::result::Result<Binaries, String> {
    let pg_lib = || -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.sort_by_key(|d| {
            d.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<u32>().ok())
        });
        dirs.pop().map(|d| d.join("bin"))
    };
    let find = |name: &str| {
        env.which(name)
            .or_else(|| pg_lib().map(|d| d.join(name)).filter(|p| p.is_file()))
    };
    let (initdb, postgres, redis) = (find("initdb"), find("postgres"), env.which("redis-server"));
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
