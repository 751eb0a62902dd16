//! For the library's own tests only: the setup of a throwaway git repo,
//! which several modules' tests build the same way.

use std::path::Path;

/// `sh -c SCRIPT` in `dir` with a git identity (a throwaway repo has no
/// config to take one from), failing the test if it fails.
pub fn git_sh(dir: &Path, script: &str) {
    let ok = std::process::Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .status()
        .unwrap()
        .success();
    assert!(ok, "{script}");
}
