//! Runs one phase of one step on its thread: its actions in order, with
//! the output captured, a panic turned into a failure.

use std::time::{Duration, Instant};

use super::outcome::Opts;
use crate::exec::{self, Exec};
use crate::ids::StepId;
use crate::plan::{Action, Phase};

/// Carries out one action of a phase.
fn act(ctx: &mut Exec, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Run(cmd) | Action::Reader(cmd) => ctx.run(&cmd),
        Action::Take(guest) => ctx.take(&guest),
        Action::Parallel(cmds) => ctx.run_all(&cmds),
        Action::RunUnless { cmd, fresh, .. } => match fresh(ctx) {
            Some(why) => {
                let line = format!(
                    "{}  (skipped: {why})",
                    cmd.fill(&ctx.vars).describe(&ctx.base)
                );
                ctx.log(line);
                Ok(())
            }
            None => ctx.run(&cmd),
        },
        Action::Chain(chain) => {
            let why = chain.exclusive.as_ref().and_then(|alone| alone(ctx));
            let _alone = why.map(|why| {
                ctx.log(format!("# one env builds at a time: {why}"));
                exec::alone()
            });
            ctx.run_chain(&chain.parts, &chain.guests)
        }
        Action::Native { describe, run } => {
            ctx.log(format!("# {describe}"));
            run(ctx)
        }
        Action::Skip { what, why } => {
            ctx.log(format!("# skip {what}: {why}"));
            ctx.notes.push(format!("skipped `{what}`: {why}"));
            Ok(())
        }
        Action::Always(inner) => act(ctx, *inner),
    }
}

pub(crate) struct PhaseDone {
    pub index: usize,
    pub ok: bool,
    pub duration: Duration,
    pub log: Vec<String>,
    pub hint: Option<String>,
    pub notes: Vec<String>,
    pub facts: std::collections::BTreeMap<String, String>,
    pub skip: Option<String>,
    /// The span of the part of another step's `mix do` that did this
    /// phase's work (exec/guest.rs).
    pub ran_in_chain: Option<(Instant, Instant)>,
}

pub(crate) fn run_phase(index: usize, id: StepId, phase: Phase, opts: &Opts) -> PhaseDone {
    let started = Instant::now();
    let mut ctx = Exec::new(id, opts.base.clone(), opts.live.clone(), opts.env.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // After a failure only `Always` actions run; the first error stands.
        let mut first: anyhow::Result<()> = Ok(());
        for a in phase.actions {
            // A step that found it does not apply here ends at once.
            if ctx.skip.is_some() {
                break;
            }
            match (a, first.is_ok()) {
                // An `Always` action's own error fails the phase when
                // nothing failed before it (a leg whose results could not be
                // written must not pass); after a failure it is only logged.
                (Action::Always(inner), ok) => {
                    if let Err(e) = act(&mut ctx, *inner) {
                        match ok {
                            true => first = Err(e),
                            false => ctx.log(format!("error: {e:#}")),
                        }
                    }
                }
                (a, true) => first = act(&mut ctx, a),
                (_, false) => {}
            }
        }
        first
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
    let duration = match ctx.ran_in_chain {
        Some((start, end)) => end.saturating_duration_since(start),
        None => started.elapsed(),
    };
    PhaseDone {
        index,
        ok,
        duration,
        ran_in_chain: ctx.ran_in_chain,
        log: ctx.log,
        hint: ctx.hint,
        notes: ctx.notes,
        facts: ctx.facts,
        skip: ctx.skip,
    }
}
