//! What git says about the commit being built: branch, tag, sha, whether
//! the tree is dirty, the default branch and the remote. Read-only `git`
//! queries through `proc`, each bounded; planning may read them, as it
//! reads mix.exs, since they change nothing.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};

use super::tags::GitFacts;
use crate::proc;

const GIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The facts, and the `origin` remote's URL when there is one.
pub fn facts(dir: &Path) -> Result<(GitFacts, Option<String>)> {
    let Some(sha) = git(dir, &["rev-parse", "--verify", "HEAD"])? else {
        bail!(
            "{} is not in a git repository with a commit: the image's tags and labels come from git (`git init` and commit, or build from a checkout)",
            dir.display()
        );
    };
    let default_branch = git(
        dir,
        &["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"],
    )?
    .map(|r| r.trim_start_matches("origin/").to_string());
    let branch = git(dir, &["symbolic-ref", "--short", "-q", "HEAD"])?;
    let facts = GitFacts {
        // Without a remote, the branch checked out decides: `main` and
        // `master` are what `git init` and GitHub name the default.
        default_branch: default_branch
            .or_else(|| branch.clone().filter(|b| b == "main" || b == "master")),
        branch,
        tag: git(dir, &["describe", "--tags", "--exact-match", "HEAD"])?,
        sha,
        // Untracked files (build outputs) do not change the image's commit.
        dirty: git(dir, &["status", "--porcelain", "--untracked-files=no"])?.is_some(),
    };
    Ok((facts, git(dir, &["remote", "get-url", "origin"])?))
}

/// Files under `path` that `to` adds or changes since `from` (two
/// revisions), relative to the repository's root; None when git cannot
/// tell (a revision it does not have).
pub fn changed(dir: &Path, from: &str, to: &str, path: &Path) -> Result<Option<Vec<String>>> {
    let path = path.display().to_string();
    let args = [
        "diff",
        "--name-only",
        "--diff-filter=AM",
        from,
        to,
        "--",
        &path,
    ];
    Ok(match git_status(dir, &args)? {
        (true, text) => Some(
            text.lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
        ),
        (false, _) => None,
    })
}

fn git_status(dir: &Path, args: &[&str]) -> Result<(bool, String)> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let spawn = proc::Spawn {
        env: vec![("GIT_TERMINAL_PROMPT", "0")],
        dir,
        ..proc::Spawn::new("git", &args)
    };
    let out = proc::output(&spawn, GIT_TIMEOUT, |_| {})?;
    Ok((out.status.success(), out.stdout))
}

/// `git ARGS` in `dir`: its trimmed stdout, or None when git says no (a
/// query whose answer is "none", like an untagged HEAD).
fn git(dir: &Path, args: &[&str]) -> Result<Option<String>> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let spawn = proc::Spawn {
        program: "git",
        args: &args,
        dir,
        env: vec![("GIT_TERMINAL_PROMPT", "0")],
        stdin: None,
    };
    let out = proc::output(&spawn, GIT_TIMEOUT, |_| {})?;
    let text = out.stdout.trim();
    Ok((out.status.success() && !text.is_empty()).then(|| text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::proc::testing::git_sh as sh;

    #[test]
    fn reads_branch_tag_sha_and_dirt() {
        let dir = tempfile::tempdir().unwrap();
        sh(dir.path(), "git init -q -b main && echo a > f && git add f && git commit -qm one && git tag v1.2.3");
        let (got, remote) = facts(dir.path()).unwrap();
        assert_eq!(got.branch.as_deref(), Some("main"));
        assert_eq!(got.default_branch.as_deref(), Some("main"));
        assert_eq!(got.tag.as_deref(), Some("v1.2.3"));
        assert_eq!((got.sha.len(), got.dirty, remote), (40, false, None));
        sh(dir.path(), "echo b > f && echo c > untracked");
        assert!(facts(dir.path()).unwrap().0.dirty);
    }

    #[test]
    fn outside_a_repository_it_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let err = facts(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not in a git repository"), "{err}");
    }
}
