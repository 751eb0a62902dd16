//! What a step's actions run with: the step's log, the variables an earlier
//! action exported (the test step's `DATABASE_URL`), and the one way a
//! planned command is executed (echoed, run through `proc`, its status
//! judged). The runner makes one per phase; native actions receive it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{anyhow, Result};

use crate::cmd::Cmd;
use crate::env::Env;
use crate::ids::StepId;
use crate::{proc, redact};

mod chain;
mod guest;

pub use guest::Guest;

/// Called for each output line as it arrives (`-vv`).
pub type Live = Arc<dyn Fn(StepId, &str) + Send + Sync>;

/// Held by a build that must not run beside another env's (a dep that
/// builds inside `deps/`).
static ALONE: Mutex<()> = Mutex::new(());

/// Waits until no other such build runs.
pub fn alone() -> MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Exec {
    pub id: StepId,
    /// The app dir, which echoed commands are shown relative to.
    pub base: PathBuf,
    /// Exported to every later command of the step.
    pub env: Vec<(String, String)>,
    /// Values for commands' late env, by key.
    pub vars: BTreeMap<String, String>,
    pub log: Vec<String>,
    /// Set by the action that failed, to replace the step's hint.
    pub hint: Option<String>,
    /// Parts of the step that were skipped, for the summary row.
    pub notes: Vec<String>,
    /// What the step produced, by name (an image's reference and digest),
    /// for the JSON report.
    pub facts: BTreeMap<String, String>,
    /// Set when the step found at run time that it cannot apply (the audit
    /// with hex.pm out of reach): the step ends skipped, with this reason.
    pub skip: Option<String>,
    /// When the step's only work ran as a part of another step's `mix do`
    /// (exec/guest.rs): that part's start and end, which the timeline shows
    /// as the step's own bar instead of the instant the step took it.
    pub ran_in_chain: Option<(std::time::Instant, std::time::Instant)>,
    live: Option<Live>,
    snapshot: Env,
}

impl Exec {
    pub fn new(id: StepId, base: PathBuf, live: Option<Live>, snapshot: Env) -> Exec {
        Exec {
            id,
            base,
            env: Vec::new(),
            vars: BTreeMap::new(),
            log: Vec::new(),
            hint: None,
            notes: Vec::new(),
            facts: BTreeMap::new(),
            skip: None,
            ran_in_chain: None,
            live,
            snapshot,
        }
    }

    /// The environment the run was started with.
    pub fn env_snapshot(&self) -> &Env {
        &self.snapshot
    }

    pub fn log(&mut self, line: impl AsRef<str>) {
        let line = redact::line(line.as_ref());
        if let Some(live) = &self.live {
            live(self.id, &line);
        }
        self.log.push(line);
    }

    /// Echoes `cmd`, runs it with the exported env, and fails on a non-zero exit.
    pub fn run(&mut self, cmd: &Cmd) -> Result<()> {
        let code = self.run_unchecked(cmd)?;
        self.judge(cmd, code, None)
    }

    /// Fails unless `code` is a clean exit; `whole` names the chain that
    /// `cmd` was part of.
    fn judge(&mut self, cmd: &Cmd, code: Option<i32>, whole: Option<&Cmd>) -> Result<()> {
        // The BEAM exits 0 on SIGTERM, so a mix we stopped would look passed.
        if proc::interrupted() {
            return Err(anyhow!(
                "`{}` was stopped by {}",
                cmd.program,
                proc::signal_name()
            ));
        }
        if code == Some(0) || code.is_some_and(|c| cmd.ok_codes.contains(&c)) {
            return Ok(());
        }
        if let Some(h) = cmd.hint_for(code) {
            self.hint = Some(h.clone());
        }
        let shown = |c: &Cmd| {
            let d = c.fill(&self.vars).describe(&self.base);
            d.trim_start_matches("$ ").to_string()
        };
        let what = shown(cmd);
        let within = whole
            .map(|w| format!(", in `{}`", shown(w)))
            .unwrap_or_default();
        Err(match code {
            Some(c) => anyhow!("`{what}` exited with code {c}{within}"),
            None => anyhow!("`{what}` was killed by a signal{within}"),
        })
    }

    /// Echoes and runs `cmd`, returning its exit code without judging it.
    pub fn run_unchecked(&mut self, cmd: &Cmd) -> Result<Option<i32>> {
        self.execute(cmd, &[], |l| Some(l.to_string()))
    }

    /// Echoes `cmd` and starts it as a session we talk to over its stdin
    /// and stdout (`proc::Interactive`), with the step's exported env.
    pub fn start_session(&mut self, cmd: &Cmd) -> Result<proc::Interactive> {
        if proc::interrupted() {
            return Err(anyhow!("interrupted before `{}`", cmd.program));
        }
        let cmd = &cmd.fill(&self.vars);
        self.log(cmd.describe(&self.base));
        let env: Vec<(&str, &str)> = cmd
            .env
            .iter()
            .chain(&self.env)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let spawn = proc::Spawn {
            program: &cmd.program,
            args: &cmd.args,
            dir: &cmd.dir,
            env,
            stdin: None,
        };
        proc::Interactive::start(&spawn)
    }

    /// Echoes `cmd`, runs it with `hidden` added to its variables (they
    /// change how it reports, not what it does, so the echo leaves them
    /// out), and logs each output line `keep` returns.
    fn execute(
        &mut self,
        cmd: &Cmd,
        hidden: &[(&str, &str)],
        mut keep: impl FnMut(&str) -> Option<String>,
    ) -> Result<Option<i32>> {
        if proc::interrupted() {
            return Err(anyhow!("interrupted before `{}`", cmd.program));
        }
        let cmd = &cmd.fill(&self.vars);
        let mut env: Vec<(&str, &str)> = Vec::new();
        for late in &cmd.late_env {
            let value = self.vars.get(&late.key).ok_or_else(|| {
                anyhow!(
                    "`{}` needs {}, which no earlier action set",
                    cmd.program,
                    late.var
                )
            })?;
            env.push((&late.var, value));
        }
        env.extend(
            cmd.env
                .iter()
                .chain(&self.env)
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        env.extend(hidden.iter().copied());
        let stdin = match &cmd.stdin_env {
            Some(var) => Some(self.snapshot.get(var).ok_or_else(|| {
                anyhow!(
                    "`{}` reads {var} on stdin, and {var} is not set",
                    cmd.program
                )
            })?),
            None => None,
        };
        let spawn = proc::Spawn {
            program: &cmd.program,
            args: &cmd.args,
            dir: &cmd.dir,
            env,
            stdin: stdin.map(str::as_bytes),
        };
        let echo = cmd.describe(&self.base);
        let (live, id) = (self.live.clone(), self.id);
        let mut lines = vec![echo.clone()];
        if let Some(live) = &live {
            live(id, &echo);
        }
        let code = proc::run(&spawn, |l| {
            let Some(l) = keep(l) else { return };
            let l = redact::line(&l);
            if let Some(live) = &live {
                live(id, &l);
            }
            lines.push(l);
        });
        self.log.extend(lines);
        code
    }

    /// Runs `cmds` at the same time, each echoed; their output is kept in
    /// blocks, one per command in order, each line prefixed with `[N]`.
    pub fn run_all(&mut self, cmds: &[Cmd]) -> Result<()> {
        let results: Vec<(Vec<String>, Result<()>)> = std::thread::scope(|s| {
            let handles: Vec<_> = cmds
                .iter()
                .map(|cmd| {
                    let mut sub = Exec::new(
                        self.id,
                        self.base.clone(),
                        self.live.clone(),
                        self.snapshot.clone(),
                    );
                    sub.env = self.env.clone();
                    sub.vars = self.vars.clone();
                    s.spawn(move || {
                        let r = sub.run(cmd);
                        (sub.log, r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a command thread does not panic"))
                .collect()
        });
        let mut errors = Vec::new();
        for (i, (log, r)) in results.into_iter().enumerate() {
            self.log
                .extend(log.into_iter().map(|l| format!("[{}] {l}", i + 1)));
            if let Err(e) = r {
                errors.push(format!("[{}] {e}", i + 1));
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        if let Some(h) = cmds.iter().find_map(|c| c.hint.clone()) {
            self.hint = Some(h);
        }
        Err(anyhow!("{}", errors.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn an_exit_code_the_command_accepts_passes_and_the_hint_follows_the_code() {
        let mut exec = Exec::new(StepId::Dialyzer, PathBuf::from("."), None, Env::default());
        let two = Cmd::new("sh", Path::new(".")).args(["-c", "exit 2"]);
        assert!(exec.run(&two.clone().ok_on(2)).is_ok());
        let err = exec.run(&two.hint("any").hint_on(2, "two")).unwrap_err();
        assert!(err.to_string().contains("exited with code 2"), "{err}");
        assert_eq!(exec.hint.as_deref(), Some("two"));
    }
}
