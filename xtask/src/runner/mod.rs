//! The only place that executes plans. `schedule` decides when each phase
//! of each step starts; this file runs a phase's actions on its thread with
//! the output captured, and holds what the renderers hear.

mod schedule;

pub use schedule::run;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::plan::{Action, Cmd, Phase};
use crate::steps::StepId;
use crate::{proc, redact};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
    Skipped,
    NotRun,
    Interrupted,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotRun => "not run",
            Status::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: StepId,
    pub status: Status,
    pub duration: Duration,
    /// The fix hint for a failure, or why the step was skipped or not run.
    pub detail: Option<String>,
    /// Everything the step printed, echoed commands included (redacted).
    pub log: Vec<String>,
}

pub struct Summary {
    pub outcomes: Vec<Outcome>,
    pub wall: Duration,
    pub interrupted: bool,
}

impl Summary {
    pub fn step_time(&self) -> Duration {
        self.outcomes.iter().map(|o| o.duration).sum()
    }

    pub fn failed(&self) -> bool {
        self.interrupted || self.outcomes.iter().any(|o| o.status == Status::Failed)
    }

    /// One phrase for the whole run: `ok`, `failed (format, assets)` or
    /// `interrupted by SIGINT`.
    pub fn result(&self) -> String {
        let failed: Vec<&str> = self
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Failed)
            .map(|o| o.id.name())
            .collect();
        match (self.interrupted, failed.is_empty()) {
            (true, _) => format!("interrupted by {}", proc::signal_name()),
            (false, false) => format!("failed ({})", failed.join(", ")),
            (false, true) => "ok".to_string(),
        }
    }
}

/// Hears about the run as it goes; one implementation per output mode.
pub trait Ui {
    fn started(&mut self, _id: StepId) {}
    fn finished(&mut self, outcome: &Outcome);
    fn summary(&mut self, summary: &Summary);
}

/// Called for each output line as it arrives (`-vv`).
pub type Live = Arc<dyn Fn(StepId, &str) + Send + Sync>;

pub struct Opts {
    pub jobs: usize,
    pub keep_going: bool,
    /// The app dir, which echoed commands are shown relative to.
    pub base: PathBuf,
    pub live: Option<Live>,
}

/// What a phase's actions work with: the log, env exported by an earlier
/// action (the test step's `DATABASE_URL`), and a way to run commands.
pub struct StepCtx {
    pub id: StepId,
    pub base: PathBuf,
    pub env: Vec<(String, String)>,
    pub log: Vec<String>,
    /// Set by the action that failed, to replace the step's hint.
    pub hint: Option<String>,
    /// Parts of the step that were skipped, for the summary row.
    pub notes: Vec<String>,
    live: Option<Live>,
}

impl StepCtx {
    fn new(id: StepId, base: PathBuf, live: Option<Live>) -> StepCtx {
        StepCtx {
            id,
            base,
            env: Vec::new(),
            log: Vec::new(),
            hint: None,
            notes: Vec::new(),
            live,
        }
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
        // The BEAM exits 0 on SIGTERM, so a mix we stopped would look passed.
        if proc::interrupted() {
            return Err(anyhow!(
                "`{}` was stopped by {}",
                cmd.program,
                proc::signal_name()
            ));
        }
        if code == Some(0) {
            return Ok(());
        }
        if cmd.hint.is_some() {
            self.hint.clone_from(&cmd.hint);
        }
        let what = cmd.describe(&self.base);
        Err(match code {
            Some(c) => anyhow!("`{}` exited with code {c}", what.trim_start_matches("$ ")),
            None => anyhow!("`{}` was killed by a signal", what.trim_start_matches("$ ")),
        })
    }

    /// Echoes and runs `cmd`, returning its exit code without judging it.
    pub fn run_unchecked(&mut self, cmd: &Cmd) -> Result<Option<i32>> {
        if proc::interrupted() {
            return Err(anyhow!("interrupted before `{}`", cmd.program));
        }
        self.log(cmd.describe(&self.base));
        let env = self.env.clone();
        let mut lines = Vec::new();
        let live = self.live.clone();
        let id = self.id;
        let code = proc::run(cmd, &env, |l| {
            let l = redact::line(l);
            if let Some(live) = &live {
                live(id, &l);
            }
            lines.push(l);
        })?;
        self.log.extend(lines);
        Ok(code)
    }

    /// Runs `cmds` at the same time, each echoed; their output is kept in
    /// blocks, one per command in order, each line prefixed with `[N]`.
    pub fn run_all(&mut self, cmds: &[Cmd]) -> Result<()> {
        let results: Vec<(Vec<String>, Result<()>)> = std::thread::scope(|s| {
            let handles: Vec<_> = cmds
                .iter()
                .map(|cmd| {
                    let mut sub = StepCtx::new(self.id, self.base.clone(), self.live.clone());
                    sub.env = self.env.clone();
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

    fn act(&mut self, action: Action) -> Result<()> {
        match action {
            Action::Run(cmd) => self.run(&cmd),
            Action::Parallel(cmds) => self.run_all(&cmds),
            Action::RunUnless { cmd, fresh, .. } => match fresh() {
                Some(why) => {
                    let line = format!("{}  (skipped: {why})", cmd.describe(&self.base));
                    self.log(line);
                    Ok(())
                }
                None => self.run(&cmd),
            },
            Action::Native { describe, run } => {
                self.log(format!("# {describe}"));
                run(self)
            }
            Action::Skip { what, why } => {
                self.log(format!("# skip {what}: {why}"));
                self.notes.push(format!("skipped `{what}`: {why}"));
                Ok(())
            }
        }
    }
}

pub(crate) struct PhaseDone {
    index: usize,
    ok: bool,
    duration: Duration,
    log: Vec<String>,
    hint: Option<String>,
    notes: Vec<String>,
}

pub(crate) fn run_phase(index: usize, id: StepId, phase: Phase, opts: &Opts) -> PhaseDone {
    let started = Instant::now();
    let mut ctx = StepCtx::new(id, opts.base.clone(), opts.live.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        phase.actions.into_iter().try_for_each(|a| ctx.act(a))
    }));
    let ok = match result {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            ctx.log(format!("error: {e:#}"));
            false
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            ctx.log(format!(
                "error: the step panicked: {}",
                msg.unwrap_or_default()
            ));
            false
        }
    };
    PhaseDone {
        index,
        ok,
        duration: started.elapsed(),
        log: ctx.log,
        hint: ctx.hint,
        notes: ctx.notes,
    }
}
