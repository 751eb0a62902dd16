//! When each phase starts. Steps whose needs are met run at the same time,
//! up to `--jobs`, each phase on its own thread.
//!
//! 1. Steps skipped at planning are settled first.
//! 2. Loop: settle the steps that can never start, then start every phase
//!    whose needs are done, until `jobs` run.
//! 3. Wait for one phase to end; settle its step (ok, failed, next phase).
//! 4. After a failure (without `--keep-going`) or a signal, start nothing
//!    new, let what runs end, and mark the rest "not run".

use std::collections::VecDeque;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::outcome::{Opts, Outcome, Status, Summary, Ui};
use super::phase::{run_phase, PhaseDone};
use crate::ids::StepId;
use crate::plan::{Phase, StepPlan};
use crate::proc;

/// One step as the scheduler tracks it.
struct Slot {
    hint: String,
    running: bool,
    done: bool,
    phases: VecDeque<Phase>,
    notes: Vec<String>,
    outcome: Outcome,
}

struct Scheduler<'a> {
    slots: Vec<Slot>,
    opts: Arc<Opts>,
    ui: &'a mut dyn Ui,
    tx: mpsc::Sender<PhaseDone>,
    running: usize,
    first_failure: Option<StepId>,
}

pub fn run(plans: Vec<StepPlan>, opts: Opts, ui: &mut dyn Ui) -> Summary {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let mut s = Scheduler::new(plans, opts, ui, tx);
    loop {
        s.start_ready();
        if s.running == 0 {
            break;
        }
        s.phase_ended(rx.recv().expect("a running phase always reports"));
    }
    s.settle_unstarted();
    let summary = Summary {
        outcomes: s.slots.into_iter().map(|slot| slot.outcome).collect(),
        wall: started.elapsed(),
        interrupted: proc::interrupted(),
    };
    s.ui.summary(&summary);
    summary
}

impl<'a> Scheduler<'a> {
    fn new(
        plans: Vec<StepPlan>,
        opts: Opts,
        ui: &'a mut dyn Ui,
        tx: mpsc::Sender<PhaseDone>,
    ) -> Self {
        let slots = plans
            .into_iter()
            .map(|p| Slot {
                hint: p.hint,
                running: false,
                done: false,
                phases: p.phases.into(),
                notes: Vec::new(),
                outcome: Outcome {
                    id: p.id,
                    status: Status::Skipped,
                    duration: Duration::ZERO,
                    detail: p.skip,
                    log: Vec::new(),
                    facts: Default::default(),
                },
            })
            .collect();
        let mut s = Scheduler {
            slots,
            opts: Arc::new(opts),
            ui,
            tx,
            running: 0,
            first_failure: None,
        };
        for i in 0..s.slots.len() {
            if let Some(why) = s.slots[i].outcome.detail.take() {
                s.settle(i, Status::Skipped, Some(why));
            }
        }
        s
    }

    fn settle(&mut self, i: usize, status: Status, detail: Option<String>) {
        let slot = &mut self.slots[i];
        slot.outcome.status = status;
        slot.outcome.detail = detail.filter(|d| !d.is_empty());
        slot.done = true;
        slot.running = false;
        self.ui.finished(&slot.outcome);
    }

    fn pending(&self, i: usize) -> bool {
        !self.slots[i].done && !self.slots[i].running
    }

    /// The selected steps the next phase of step `i` waits for (a step not
    /// in this run is not waited for).
    fn needs(&self, i: usize) -> Vec<usize> {
        let needs = self.slots[i]
            .phases
            .front()
            .map(|p| p.needs.as_slice())
            .unwrap_or_default();
        needs
            .iter()
            .filter_map(|n| self.slots.iter().position(|s| s.outcome.id == *n))
            .collect()
    }

    /// A need that ended without passing, so step `i` can never start.
    fn blocker(&self, i: usize) -> Option<StepId> {
        self.needs(i)
            .into_iter()
            .map(|j| &self.slots[j])
            .find_map(|s| {
                let passed = matches!(s.outcome.status, Status::Ok | Status::Skipped);
                (s.done && !passed).then_some(s.outcome.id)
            })
    }

    fn stopping(&self) -> bool {
        proc::interrupted() || (self.first_failure.is_some() && !self.opts.keep_going)
    }

    /// Settles what can never start, then starts what is ready, until
    /// nothing changes.
    fn start_ready(&mut self) {
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..self.slots.len() {
                if !self.pending(i) {
                    continue;
                }
                if let Some(b) = self.blocker(i) {
                    self.settle(
                        i,
                        Status::NotRun,
                        Some(format!("needs {b}, which did not pass")),
                    );
                    changed = true;
                } else if self.needs(i).iter().all(|&j| self.slots[j].done)
                    && !self.stopping()
                    && self.running < self.opts.jobs.max(1)
                {
                    self.spawn(i);
                }
            }
        }
    }

    fn spawn(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let phase = slot.phases.pop_front().expect("a pending step has a phase");
        if slot.outcome.log.is_empty() {
            self.ui.started(slot.outcome.id);
        }
        slot.running = true;
        self.running += 1;
        let (tx, opts, id) = (self.tx.clone(), Arc::clone(&self.opts), slot.outcome.id);
        std::thread::spawn(move || {
            let _ = tx.send(run_phase(i, id, phase, &opts));
        });
    }

    fn phase_ended(&mut self, done: PhaseDone) {
        self.running -= 1;
        let i = done.index;
        let slot = &mut self.slots[i];
        slot.running = false;
        slot.outcome.duration += done.duration;
        slot.outcome.log.extend(done.log);
        slot.notes.extend(done.notes);
        slot.outcome.facts.extend(done.facts);
        if !done.ok {
            let status = if proc::interrupted() {
                Status::Interrupted
            } else {
                Status::Failed
            };
            let hint = done.hint.unwrap_or_else(|| std::mem::take(&mut slot.hint));
            self.first_failure.get_or_insert(slot.outcome.id);
            self.settle(i, status, Some(hint));
        } else if slot.phases.is_empty() {
            let note = Some(slot.notes.join("; "));
            self.settle(i, Status::Ok, note);
        }
    }

    /// Steps that never started: why, in their summary row.
    fn settle_unstarted(&mut self) {
        for i in 0..self.slots.len() {
            if !self.pending(i) {
                continue;
            }
            let (status, why) = match (proc::interrupted(), self.first_failure) {
                (true, _) => (
                    Status::Interrupted,
                    format!("not started: interrupted by {}", proc::signal_name()),
                ),
                (false, f) => {
                    let f = f.map(|f| f.to_string()).unwrap_or_default();
                    (
                        Status::NotRun,
                        format!("not started after {f} failed (--keep-going runs it)"),
                    )
                }
            };
            self.settle(i, status, Some(why));
        }
    }
}
