//! What a step plans: named commands as values (never shell strings), a few
//! native actions, and the fix hint shown when the step fails. Planning has
//! no side effects; the runner is the only place that executes a plan, and
//! `--dry-run` prints a plan through the same `describe` the runner echoes.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::redact;
use crate::steps::StepId;

/// One external command: program, arguments, working directory, extra env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    /// Overrides the step's hint when this command is the one that failed.
    pub hint: Option<String>,
}

impl Cmd {
    pub fn new(program: &str, dir: &Path) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: dir.to_path_buf(),
            env: Vec::new(),
            hint: None,
        }
    }

    /// `mix <args…>` in `dir`, the common case.
    pub fn mix(dir: &Path, args: &[&str]) -> Cmd {
        Cmd::new("mix", dir).args(args.iter().copied())
    }

    pub fn arg(mut self, a: impl Into<String>) -> Cmd {
        self.args.push(a.into());
        self
    }

    pub fn args<S: Into<String>>(mut self, a: impl IntoIterator<Item = S>) -> Cmd {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Cmd {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Cmd {
        self.hint = Some(h.into());
        self
    }

    /// The echo line: `$ MIX_ENV=test mix test` with `(in assets)` when the
    /// command runs below the app dir; secrets are redacted.
    pub fn describe(&self, base: &Path) -> String {
        let mut s = String::from("$ ");
        for (k, v) in &self.env {
            s.push_str(&format!("{k}={} ", quote(v)));
        }
        s.push_str(&quote(&self.program));
        for a in &self.args {
            s.push(' ');
            s.push_str(&quote(a));
        }
        if let Ok(rel) = self.dir.strip_prefix(base) {
            if !rel.as_os_str().is_empty() {
                s.push_str(&format!("  (in {})", rel.display()));
            }
        }
        redact::line(&s)
    }
}

/// Shell-style quoting for display only: commands are never run through a shell.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,*".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Work the runner does in-process, such as checking build outputs.
pub type NativeFn = Box<dyn FnOnce(&mut crate::runner::StepCtx) -> anyhow::Result<()> + Send>;
/// Decides at run time whether a guarded command can be skipped, and why.
pub type GuardFn = Box<dyn Fn() -> Option<String> + Send>;

pub enum Action {
    Run(Cmd),
    /// Commands that run at the same time; all of them finish, and every
    /// failure is reported.
    Parallel(Vec<Cmd>),
    /// Runs `cmd` unless `fresh` gives a reason not to (a cache hit).
    RunUnless {
        cmd: Cmd,
        when: &'static str,
        fresh: GuardFn,
    },
    /// Work done in-process; `describe` is what the plan shows.
    Native {
        describe: String,
        run: NativeFn,
    },
    /// A part of the step that has nothing to do here, and why.
    Skip {
        what: String,
        why: String,
    },
}

impl Action {
    pub fn describe(&self, base: &Path) -> String {
        match self {
            Action::Run(cmd) => cmd.describe(base),
            Action::Parallel(cmds) => {
                let lines: Vec<String> = cmds
                    .iter()
                    .map(|c| format!("{}  &", c.describe(base)))
                    .collect();
                lines.join("\n  ")
            }
            Action::RunUnless { cmd, when, .. } => format!("{}  [{when}]", cmd.describe(base)),
            Action::Native { describe, .. } => format!("# {describe}"),
            Action::Skip { what, why } => format!("# skip {what}: {why}"),
        }
    }
}

/// A run of actions that can start once `needs` are done. Most steps have
/// one phase; a step with a later phase (assets: npm, then `mix
/// assets.deploy` after compile) can start its first part earlier.
pub struct Phase {
    pub needs: Vec<StepId>,
    pub actions: Vec<Action>,
}

pub struct StepPlan {
    pub id: StepId,
    pub phases: Vec<Phase>,
    /// One line telling how to fix a failure of this step.
    pub hint: String,
    /// Set when the whole step does not apply: the reason and the fix.
    pub skip: Option<String>,
}

impl StepPlan {
    pub fn new(
        id: StepId,
        needs: &[StepId],
        actions: Vec<Action>,
        hint: impl Into<String>,
    ) -> StepPlan {
        StepPlan {
            id,
            phases: vec![Phase {
                needs: needs.to_vec(),
                actions,
            }],
            hint: hint.into(),
            skip: None,
        }
    }

    pub fn skipped(id: StepId, why: impl Into<String>) -> StepPlan {
        StepPlan {
            id,
            phases: Vec::new(),
            hint: String::new(),
            skip: Some(why.into()),
        }
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_and_names_subdir() {
        let base = Path::new("/app");
        let c = Cmd::new("npm", Path::new("/app/assets")).args(["run", "lint"]);
        assert_eq!(c.describe(base), "$ npm run lint  (in assets)");
        let c = Cmd::mix(base, &["test", "--only", "a b"]).env("MIX_ENV", "test");
        assert_eq!(c.describe(base), "$ MIX_ENV=test mix test --only 'a b'");
    }

    #[test]
    fn describe_redacts_url_passwords() {
        let c = Cmd::mix(Path::new("/app"), &["run"])
            .env("DATABASE_URL", "postgres://u:hunter2@h:5432/db");
        let d = c.describe(Path::new("/app"));
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("postgres://u:***@h:5432/db"), "{d}");
    }
}
