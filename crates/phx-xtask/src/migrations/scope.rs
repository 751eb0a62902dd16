//! Which migrations the check looks at one by one: by default those added
//! or changed since the merge base with the default branch (the others ran
//! in production already and can no longer change), `--all` for every one.
//! Read-only `git` queries through `proc`, each bounded; planning may run
//! them, as it reads mix.exs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proc;

const GIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations to check one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every migration: `--all`, or git cannot tell (the reason).
    All(String),
    /// The files (absolute) added or changed since `base` (a short sha)
    /// on `branch`, uncommitted and untracked ones included.
    Since {
        base: String,
        branch: String,
        changed: BTreeSet<PathBuf>,
    },
}

impl Scope {
    pub fn includes(&self, path: &Path) -> bool {
        match self {
            Scope::All(_) => true,
            // git names files by their real path; the app's may go through a symlink.
            Scope::Since { changed, .. } => {
                let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
                changed.contains(&real)
            }
        }
    }

    /// What was selected and why, for the step's log.
    pub fn describe(&self) -> String {
        match self {
            Scope::All(why) => format!("every migration ({why})"),
            Scope::Since { base, branch, .. } => format!(
                "the migrations added or changed since {base}, the merge base with {branch} \
                 (`cargo xtask migrate check --all` checks every one)"
            ),
        }
    }
}

/// The scope for the migrations in `dir` (absolute), from the repository
/// `app` is in.
pub fn since_default_branch(app: &Path, dir: &Path) -> Scope {
    let Some(root) = git(app, &["rev-parse", "--show-toplevel"]) else {
        return Scope::All("the app is not in a git repository".into());
    };
    let Some(branch) = default_branch(app) else {
        return Scope::All("no default branch: no origin/HEAD, main or master".into());
    };
    let Some(base) = merge_base(app, &branch) else {
        return Scope::All(format!("no merge base with {branch}"));
    };
    let dir = dir.display().to_string();
    let diff = [
        "diff",
        "--name-only",
        "--diff-filter=AMR",
        &base,
        "--",
        &dir,
    ];
    let untracked = [
        "ls-files",
        "--others",
        "--exclude-standard",
        "--full-name",
        "--",
        &dir,
    ];
    let (Some(diff), Some(untracked)) = (git_list(app, &diff), git_list(app, &untracked)) else {
        return Scope::All(format!("git could not diff against {base}"));
    };
    let root = PathBuf::from(root);
    Scope::Since {
        base: base[..base.len().min(12)].to_string(),
        branch,
        changed: diff
            .iter()
            .chain(&untracked)
            .map(|f| root.join(f))
            .collect(),
    }
}

/// origin's default branch (`origin/main`), else a local `main` or `master`.
fn default_branch(app: &Path) -> Option<String> {
    git(
        app,
        &["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"],
    )
    .or_else(|| {
        ["main", "master"]
            .into_iter()
            .find(|b| {
                git(
                    app,
                    &["rev-parse", "--verify", "-q", &format!("refs/heads/{b}")],
                )
                .is_some()
            })
            .map(String::from)
    })
}

/// The merge base of HEAD with `branch`; on the default branch itself
/// (HEAD is the base), the commit before HEAD, so a push there checks
/// what it brings.
fn merge_base(app: &Path, branch: &str) -> Option<String> {
    let base = git(app, &["merge-base", "HEAD", branch])?;
    let head = git(app, &["rev-parse", "HEAD"])?;
    let current = git(app, &["symbolic-ref", "--short", "-q", "HEAD"]);
    let on_default = current.as_deref() == Some(branch.trim_start_matches("origin/"));
    if base != head || !on_default {
        return Some(base);
    }
    git(app, &["rev-parse", "--verify", "-q", "HEAD^"])
}

fn git_list(dir: &Path, args: &[&str]) -> Option<Vec<String>> {
    let out = run(dir, args)?;
    Some(
        out.lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    )
}

/// `git ARGS`' trimmed stdout, or None when git says no or says nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let text = run(dir, args)?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn run(dir: &Path, args: &[&str]) -> Option<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let spawn = proc::Spawn {
        env: vec![("GIT_TERMINAL_PROMPT", "0")],
        dir,
        ..proc::Spawn::new("git", &args)
    };
    let out = proc::output(&spawn, GIT_TIMEOUT, |_| {}).ok()?;
    out.status.success().then_some(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::proc::testing::git_sh as sh;

    #[test]
    fn branch_migrations_changed_ones_and_untracked_ones_are_in_scope() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let dir = root.join("app/priv/repo/migrations");
        std::fs::create_dir_all(&dir).unwrap();
        let app = root.join("app");
        assert!(
            matches!(since_default_branch(&app, &dir), Scope::All(w) if w.contains("not in a git"))
        );
        sh(&root, "git init -q -b main && touch app/priv/repo/migrations/1_a.exs app/priv/repo/migrations/2_b.exs && git add . && git commit -qm one");
        sh(
            &root,
            "touch app/priv/repo/migrations/3_c.exs && git add . && git commit -qm two",
        );
        // On main: the last commit's migrations.
        let on_main = since_default_branch(&app, &dir);
        assert!(
            on_main.includes(&dir.join("3_c.exs")) && !on_main.includes(&dir.join("1_a.exs")),
            "{on_main:?}"
        );
        // A new branch with nothing committed yet: what is not committed.
        sh(&root, "git checkout -q -b feature");
        assert!(
            matches!(since_default_branch(&app, &dir), Scope::Since { changed, .. } if changed.is_empty())
        );
        sh(
            &root,
            "touch app/priv/repo/migrations/4_d.exs && git add . && git commit -qm three",
        );
        sh(
            &root,
            "echo x >> app/priv/repo/migrations/2_b.exs && touch app/priv/repo/migrations/5_e.exs",
        );
        let got = since_default_branch(&app, &dir);
        let Scope::Since {
            branch, changed, ..
        } = &got
        else {
            panic!("{got:?}")
        };
        assert_eq!(branch, "main");
        let names: Vec<_> = changed
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["2_b.exs", "4_d.exs", "5_e.exs"]);
        assert!(
            got.describe().contains("merge base with main"),
            "{}",
            got.describe()
        );
    }
}
