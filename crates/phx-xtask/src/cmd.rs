//! One external command as a value (never a shell string): program,
//! arguments, working directory, extra environment and its own fix hint.
//! `describe` is the one way a command is shown, in `--dry-run` and in the
//! runner's echo alike, with secrets redacted.

use std::path::{Path, PathBuf};

use crate::redact;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    /// Variables whose value exists only at run time (a URL with a random
    /// port): an earlier action of the step exports it under `key`.
    pub late_env: Vec<Late>,
    /// Overrides the step's hint when this command is the one that failed.
    pub hint: Option<String>,
    /// A hint for one exit code, over `hint`: a tool that tells its
    /// failures apart by code (our coverage script exits 3 below the
    /// threshold, as `mix test.coverage` does, and 1 when it crashed).
    pub code_hints: Vec<(i32, String)>,
    /// Exit codes besides 0 that mean success (dialyzer's 2, "warnings
    /// were emitted", when what it built is complete anyway).
    pub ok_codes: Vec<i32>,
    /// Arguments name values known only at run time as `{key}` (dialyzer's
    /// `-pa {elixir_lib}/elixir/ebin`), filled from what an earlier action
    /// exported; the plan shows the keys.
    pub templated: bool,
    /// An environment variable whose value is fed on stdin (a password
    /// for `docker login --password-stdin`): never on the command line,
    /// never echoed.
    pub stdin_env: Option<String>,
}

/// `var` takes the value exported under `key`; the plan shows `shown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Late {
    pub var: String,
    pub key: String,
    pub shown: String,
}

impl Cmd {
    pub fn new(program: &str, dir: &Path) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: dir.to_path_buf(),
            env: Vec::new(),
            late_env: Vec::new(),
            hint: None,
            code_hints: Vec::new(),
            ok_codes: Vec::new(),
            templated: false,
            stdin_env: None,
        }
    }

    /// Feeds the value of the environment variable `var` on stdin.
    pub fn stdin_env(mut self, var: &str) -> Cmd {
        self.stdin_env = Some(var.into());
        self
    }

    /// Marks `{key}` in the arguments as filled in at run time.
    pub fn templated(mut self) -> Cmd {
        self.templated = true;
        self
    }

    /// The command with `{key}` replaced by `vars[key]` where templated.
    pub fn fill(&self, vars: &std::collections::BTreeMap<String, String>) -> Cmd {
        let mut c = self.clone();
        if c.templated {
            for a in &mut c.args {
                for (k, v) in vars {
                    *a = a.replace(&format!("{{{k}}}"), v);
                }
            }
        }
        c
    }

    /// `mix <args…>` in `dir`, the common case.
    pub fn mix(dir: &Path, args: &[&str]) -> Cmd {
        Cmd::new("mix", dir).args(args.iter().copied())
    }

    /// `mix do a + b + c` from Mix commands that share a dir and variables
    /// (the first part's are used): one invocation instead of several. One
    /// part is that command itself.
    pub fn chain(parts: &[Cmd]) -> Cmd {
        let first = &parts[0];
        if parts.len() == 1 {
            return first.clone();
        }
        let mut whole = Cmd::new(&first.program, &first.dir).arg("do");
        whole.templated = parts.iter().any(|p| p.templated);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                whole.args.push("+".into());
            }
            whole.args.extend(part.args.iter().cloned());
            // One BEAM runs every part: it gets each part's variables (the
            // first value of a name wins, as in the parts' order).
            for (k, v) in &part.env {
                if !whole.env.iter().any(|(have, _)| have == k) {
                    whole.env.push((k.clone(), v.clone()));
                }
            }
            for late in &part.late_env {
                if !whole.late_env.iter().any(|have| have.var == late.var) {
                    whole.late_env.push(late.clone());
                }
            }
        }
        whole
    }

    /// How a part of a chain is shown where its output starts in the log:
    /// `+ mix compile --warnings-as-errors` (its variables are the chain's).
    pub fn describe_part(&self, base: &Path) -> String {
        let mut bare = self.clone();
        bare.env.clear();
        bare.late_env.clear();
        let line = bare.describe(base);
        format!("+ {}", line.trim_start_matches("$ "))
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

    /// `var` set at run time from what an earlier action exported as `key`.
    pub fn late_env(mut self, var: &str, key: impl Into<String>, shown: impl Into<String>) -> Cmd {
        self.late_env.push(Late {
            var: var.into(),
            key: key.into(),
            shown: shown.into(),
        });
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Cmd {
        self.hint = Some(h.into());
        self
    }

    /// The hint when the command exits with `code`.
    pub fn hint_on(mut self, code: i32, h: impl Into<String>) -> Cmd {
        self.code_hints.push((code, h.into()));
        self
    }

    /// `code` counts as success too.
    pub fn ok_on(mut self, code: i32) -> Cmd {
        self.ok_codes.push(code);
        self
    }

    /// The hint for a failure with `code`: the code's own, else the general one.
    pub fn hint_for(&self, code: Option<i32>) -> Option<&String> {
        let own = self.code_hints.iter().find(|(c, _)| Some(*c) == code);
        own.map(|(_, h)| h).or(self.hint.as_ref())
    }

    /// The echo line: `$ MIX_ENV=test mix test` with `(in assets)` when the
    /// command runs below the app dir; secrets are redacted.
    pub fn describe(&self, base: &Path) -> String {
        let mut s = String::from("$ ");
        let late = self.late_env.iter().map(|l| (&l.var, &l.shown));
        for (k, v) in late.chain(self.env.iter().map(|(k, v)| (k, v))) {
            s.push_str(&format!("{k}={} ", quote(v)));
        }
        s.push_str(&quote(&self.program));
        for a in &self.args {
            s.push(' ');
            s.push_str(&quote(a));
        }
        if let Some(var) = &self.stdin_env {
            s.push_str(&format!(" < ${var}"));
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

    #[test]
    fn a_chain_is_one_mix_do_with_each_part_shown_on_its_own() {
        let base = Path::new("/app");
        let parts = [
            Cmd::mix(base, &["deps.compile"]).env("MIX_ENV", "test"),
            Cmd::mix(base, &["compile", "--warnings-as-errors"]).env("MIX_ENV", "test"),
            Cmd::mix(base, &["test", "--cover"]).env("MIX_ENV", "test"),
        ];
        assert_eq!(
            Cmd::chain(&parts).describe(base),
            "$ MIX_ENV=test mix do deps.compile + compile --warnings-as-errors + test --cover"
        );
        assert_eq!(
            parts[1].describe_part(base),
            "+ mix compile --warnings-as-errors"
        );
    }

    #[test]
    fn late_env_shows_what_the_plan_knows() {
        let c = Cmd::mix(Path::new("/app"), &["test"])
            .late_env("DATABASE_URL", "db1", "postgres://u:pw@<host>:<port>/d1")
            .env("MIX_ENV", "test");
        assert_eq!(
            c.describe(Path::new("/app")),
            "$ DATABASE_URL='postgres://u:***@<host>:<port>/d1' MIX_ENV=test mix test"
        );
    }
}
