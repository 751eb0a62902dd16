//! What a step plans: named commands as values (never shell strings), a few
//! native actions, the checks that must pass before anything runs, and the
//! fix hint shown when the step fails. Planning reads files and the `Run`
//! value only; whatever probes the machine (docker, ports, binaries, BEAM
//! versions) is a `Check`, run after planning and skipped by `--dry-run`.
//! The runner is the only place that executes a plan, and `--dry-run`
//! prints it through the same `describe` the runner echoes.

use std::path::Path;

use anyhow::Result;

pub use crate::cmd::Cmd;
use crate::exec::Exec;
pub use crate::exec::Guest;
pub use crate::ids::StepId;

/// Work the runner does in-process, such as checking build outputs.
pub type NativeFn = Box<dyn FnOnce(&mut Exec) -> Result<()> + Send>;
/// Decides at run time whether a guarded command can be skipped, and why.
pub type GuardFn = Box<dyn Fn(&Exec) -> Option<String> + Send>;

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
    /// Mix commands of one env run back to back in one BEAM.
    Chain(Chain),
    /// A Mix command that reads the build env's `_build` (xref, format,
    /// assets.deploy): alone it runs as `Run`; when `compile` is in the run,
    /// `fuse` moves it into compile's `mix do` and leaves a `Take` here.
    /// Only a planner that knows nothing before it in the phase prepares
    /// what it reads plans one.
    Reader(Cmd),
    /// The output and result of a command that ran in another step's
    /// chain, judged here as this step's own.
    Take(Guest),
    /// Runs even when an earlier action of the phase failed (writing the
    /// JUnit report of a failed test run); its own failure fails the phase
    /// when nothing failed before it.
    Always(Box<Action>),
}

/// Mix commands of one env (the same dir and variables) run as one `mix do
/// a + b + c`: the BEAM boots and loads the project and its deps once
/// instead of once per command, and Mix runs a task once per invocation, so
/// a later command's implicit `compile` is free. The plan shows the real
/// `mix do` line; the log is split back per command, and a failure names
/// the command that failed, with its own hint.
pub struct Chain {
    pub parts: Vec<Cmd>,
    /// When this gives a reason (a dep that builds inside `deps/`), the
    /// chain waits until no other chain that says so runs, as such a dep
    /// cannot be built by two envs at once.
    pub exclusive: Option<GuardFn>,
    /// Other steps' commands run after `parts` in the same `mix do`.
    pub guests: Vec<Guest>,
}

impl Action {
    /// One command as `Run`, several as a `Chain`.
    pub fn chain(mut parts: Vec<Cmd>, exclusive: Option<GuardFn>) -> Action {
        match parts.len() {
            1 if exclusive.is_none() => Action::Run(parts.remove(0)),
            _ => Action::Chain(Chain {
                parts,
                exclusive,
                guests: Vec::new(),
            }),
        }
    }

    pub fn describe(&self, base: &Path) -> String {
        match self {
            Action::Run(cmd) | Action::Reader(cmd) => cmd.describe(base),
            Action::Take(g) => format!("{}  [in {}'s `mix do`]", g.cmd.describe(base), g.host),
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
            Action::Always(inner) => format!("{}  [even after a failure]", inner.describe(base)),
            Action::Chain(c) => {
                let mut all = c.parts.clone();
                all.extend(c.guests.iter().map(|g| g.cmd.clone()));
                let line = Cmd::chain(&all).describe(base);
                match c.exclusive {
                    Some(_) => format!("{line}  [alone if a dep builds inside deps/]"),
                    None => line,
                }
            }
        }
    }
}

/// A run of actions that can start once `needs` are done. Most steps have
/// one phase; a step with a later phase (assets: npm, then `mix
/// assets.deploy` after compile) can start its first part earlier.
pub struct Phase {
    /// Steps whose success this phase needs (it reads their outputs).
    pub needs: Vec<StepId>,
    /// Steps this phase only runs after, passed or not: two Mix processes
    /// never write one `_build` at once, yet a failed compile does not keep
    /// credo and sobelow, which read the sources, from telling their part.
    pub after: Vec<StepId>,
    pub actions: Vec<Action>,
    /// Waits on other processes (containers starting up) rather than
    /// computing, so it takes none of `--jobs`' slots and starts as soon as
    /// its needs are met: the services start at t=0.
    pub light: bool,
}

/// A precondition that probes the machine: it runs after every step is
/// planned and before the first side effect, and fails with the fix.
pub struct Check {
    pub describe: String,
    pub run: Box<dyn FnOnce() -> Result<()> + Send>,
}

impl Check {
    pub fn new(
        describe: impl Into<String>,
        run: impl FnOnce() -> Result<()> + Send + 'static,
    ) -> Check {
        Check {
            describe: describe.into(),
            run: Box::new(run),
        }
    }
}

pub struct StepPlan {
    pub id: StepId,
    pub phases: Vec<Phase>,
    pub checks: Vec<Check>,
    /// Programs the plan starts, beyond its commands' (a Native action that
    /// runs docker), so a missing one stops the run before it starts.
    pub programs: Vec<String>,
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
                after: Vec::new(),
                actions,
                light: false,
            }],
            checks: Vec::new(),
            programs: Vec::new(),
            hint: hint.into(),
            skip: None,
        }
    }

    pub fn skipped(id: StepId, why: impl Into<String>) -> StepPlan {
        StepPlan {
            id,
            phases: Vec::new(),
            checks: Vec::new(),
            programs: Vec::new(),
            hint: String::new(),
            skip: Some(why.into()),
        }
    }

    /// Adds a phase that starts once `needs` are done.
    pub fn then(mut self, needs: &[StepId], actions: Vec<Action>) -> StepPlan {
        self.phases.push(Phase {
            needs: needs.to_vec(),
            after: Vec::new(),
            actions,
            light: false,
        });
        self
    }

    /// The first phase also waits for the end (not the success) of `after`.
    pub fn after(mut self, after: &[StepId]) -> StepPlan {
        if let Some(first) = self.phases.first_mut() {
            first.after = after.to_vec();
        }
        self
    }

    pub fn check(mut self, check: Check) -> StepPlan {
        self.checks.push(check);
        self
    }

    /// Every program the plan starts, so a missing one stops us before
    /// anything runs.
    pub fn all_programs(&self) -> Vec<&str> {
        let cmds = self
            .phases
            .iter()
            .flat_map(|p| &p.actions)
            .flat_map(|a| match a {
                Action::Run(c) | Action::RunUnless { cmd: c, .. } | Action::Reader(c) => vec![c],
                Action::Take(g) => vec![&g.cmd],
                Action::Parallel(cmds) => cmds.iter().collect(),
                Action::Chain(c) => c.parts.iter().collect(),
                _ => Vec::new(),
            });
        let mut all: Vec<&str> = cmds.map(|c| c.program.as_str()).collect();
        all.extend(self.programs.iter().map(String::as_str));
        all.sort();
        all.dedup();
        all
    }
}
