//! What `cargo xtask image` built and pushed, recorded under `.xtask/` at
//! the project root, so that `migrate --target image` and deploys use that
//! exact image (by digest once pushed) without being told.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `repository:version`, the first tag.
    #[serde(rename = "ref")]
    pub reference: String,
    pub tags: Vec<String>,
    /// The local image id (`sha256:…`).
    pub id: String,
    /// `repository@sha256:…`, once pushed.
    pub digest: Option<String>,
    pub git_sha: String,
    pub created: String,
}

pub fn path(root: &Path) -> PathBuf {
    root.join(".xtask").join("image.json")
}

pub fn read(root: &Path) -> Result<Record> {
    let file = path(root);
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "no image recorded at {}: run `cargo xtask image` first, or pass --image REF",
            file.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an image record: run `cargo xtask image` again",
            file.display()
        )
    })
}

/// Written whole to a temporary file, then renamed: a reader never sees half.
pub fn write(root: &Path, record: &Record) -> Result<()> {
    let file = path(root);
    std::fs::create_dir_all(file.parent().expect("a file in a dir"))?;
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(record)? + "\n")?;
    std::fs::rename(&tmp, &file).with_context(|| format!("write {}", file.display()))
}

/// Now as RFC 3339 in UTC (`2026-11-30T10:04:22Z`), as OCI's `created` wants.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Days since 1970 to a civil date (Howard Hinnant's algorithm).
fn rfc3339(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_033_062), "2026-11-30T10:04:22Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let r = Record {
            reference: "r/demo:main".into(),
            tags: vec!["main".into()],
            id: "sha256:1".into(),
            digest: Some("r/demo@sha256:2".into()),
            git_sha: "abc".into(),
            created: "2026-11-30T10:00:00Z".into(),
        };
        write(dir.path(), &r).unwrap();
        assert_eq!(read(dir.path()).unwrap(), r);
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(text.contains("\"ref\": \"r/demo:main\""), "{text}");
        let err = format!(
            "{:#}",
            read(tempfile::tempdir().unwrap().path()).unwrap_err()
        );
        assert!(err.contains("run `cargo xtask image` first"), "{err}");
    }
}
