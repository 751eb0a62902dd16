//! When each phase starts. Steps whose needs are met run at the same time,
//! up to `--jobs`, each phase on its own thread.
//!
//! 1. Steps skipped at planning are settled first.
//! 2. Loop: settle the steps that can never start, then start the phases
//!    whose needs are done, until `jobs` run: light phases (services
//!    starting) at once and without a slot, then the others by the longest
//!    remaining path (`history`), so dialyzer starts before credo.
//! 3. Wait for one phase to end; settle its step (ok, failed, next phase).
//! 4. After a failure (without `--keep-going`) or a signal, start nothing
//!    new, let what runs end, and mark the rest "not run".
//! 5. Record how long each passed step's phases took, for the next run.

use std::collections::VecDeque;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::history::History;
use super::outcome::{Opts, Outcome, Status, Summary, Ui};
use super::phase::{run_phase, PhaseDone};
use crate::ids::StepId;
use crate::plan::{Phase, StepPlan};
use crate::proc;

/// One step as the scheduler tracks it.
struct Slot {
    hint: String,
    running: bool,
    /// The running phase is light: it holds no `--jobs` slot.
    light: bool,
    done: bool,
    phases: VecDeque<Phase>,
    /// How many phases the step was planned with.
    planned: usize,
    /// Each finished phase's time, for the history.
    phase_ms: Vec<u64>,
    notes: Vec<String>,
    /// When the pending phase's waits were first seen done (it may still
    /// wait for a slot).
    ready_ms: Option<u64>,
    outcome: Outcome,
}

struct Scheduler<'a> {
    slots: Vec<Slot>,
    opts: Arc<Opts>,
    ui: &'a mut dyn Ui,
    tx: mpsc::Sender<PhaseDone>,
    running: usize,
    /// Running phases that hold a `--jobs` slot.
    busy: usize,
    first_failure: Option<StepId>,
    history: History,
    /// The run's start, which every phase time counts from.
    t0: Instant,
}

pub fn run(plans: Vec<StepPlan>, opts: Opts, ui: &mut dyn Ui) -> Summary {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let history = History::load(&opts.base);
    let mut s = Scheduler::new(plans, opts, ui, tx, history);
    s.t0 = started;
    loop {
        s.start_ready();
        if s.running == 0 {
            break;
        }
        s.phase_ended(rx.recv().expect("a running phase always reports"));
    }
    s.settle_unstarted();
    s.record_history();
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
        history: History,
    ) -> Self {
        let slots = plans
            .into_iter()
            .map(|p| Slot {
                hint: p.hint,
                running: false,
                light: false,
                done: false,
                planned: p.phases.len(),
                phase_ms: Vec::new(),
                phases: p.phases.into(),
                notes: Vec::new(),
                ready_ms: None,
                outcome: Outcome {
                    id: p.id,
                    status: Status::Skipped,
                    duration: Duration::ZERO,
                    detail: p.skip,
                    log: Vec::new(),
                    facts: Default::default(),
                    phases: Vec::new(),
                },
            })
            .collect();
        let mut s = Scheduler {
            slots,
            opts: Arc::new(opts),
            ui,
            tx,
            running: 0,
            busy: 0,
            first_failure: None,
            history,
            t0: Instant::now(),
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

    /// Everything the next phase of step `i` waits for the end of: what it
    /// needs, and what it only runs after.
    fn waits(&self, i: usize) -> Vec<usize> {
        let after = self.slots[i]
            .phases
            .front()
            .map(|p| p.after.as_slice())
            .unwrap_or_default();
        let mut all = self.needs(i);
        all.extend(
            after
                .iter()
                .filter_map(|n| self.slots.iter().position(|s| s.outcome.id == *n)),
        );
        all
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

    /// Settles what can never start (until nothing changes), then starts
    /// what is ready: light phases at once, then the rest by priority.
    fn start_ready(&mut self) {
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..self.slots.len() {
                if let Some(b) = self.pending(i).then(|| self.blocker(i)).flatten() {
                    self.settle(
                        i,
                        Status::NotRun,
                        Some(format!("needs {b}, which did not pass")),
                    );
                    changed = true;
                }
            }
        }
        if self.stopping() {
            return;
        }
        let mut ready: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.pending(i) && self.waits(i).iter().all(|&j| self.slots[j].done))
            .collect();
        let now = self.now_ms();
        for &i in &ready {
            self.slots[i].ready_ms.get_or_insert(now);
        }
        for &i in &ready {
            if self.front_is_light(i) {
                self.spawn(i);
            }
        }
        ready.retain(|&i| !self.slots[i].running);
        // A stable sort: steps with equal paths keep the plan's order.
        ready.sort_by_key(|&i| std::cmp::Reverse(self.priority(i)));
        for i in ready {
            if self.busy >= self.opts.jobs.max(1) {
                break;
            }
            self.spawn(i);
        }
    }

    fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn front_is_light(&self, i: usize) -> bool {
        self.slots[i].phases.front().is_some_and(|p| p.light)
    }

    /// The expected time of step `i`'s phases from its `k`-th remaining one.
    fn remaining_ms(&self, i: usize, k: usize) -> u64 {
        let slot = &self.slots[i];
        let first = slot.planned - slot.phases.len();
        (first + k..slot.planned)
            .map(|n| self.history.phase_ms(slot.outcome.id, n, slot.planned))
            .sum()
    }

    /// The longest expected path from now through step `i` to the end of
    /// the run: its own phases still to run, then the steps that wait for it.
    fn priority(&self, i: usize) -> u64 {
        self.remaining_ms(i, 0) + self.tail_ms(i, 0)
    }

    /// The longest expected path through the steps that wait for step `i`.
    fn tail_ms(&self, i: usize, depth: usize) -> u64 {
        let id = self.slots[i].outcome.id;
        // Needs form no cycle; the bound keeps a bad plan from looping.
        if depth > self.slots.len() {
            return 0;
        }
        (0..self.slots.len())
            .filter(|&j| j != i && !self.slots[j].done)
            .filter_map(|j| {
                let k = self.slots[j]
                    .phases
                    .iter()
                    .position(|p| p.needs.contains(&id))?;
                Some(self.remaining_ms(j, k) + self.tail_ms(j, depth + 1))
            })
            .max()
            .unwrap_or(0)
    }

    fn spawn(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let phase = slot.phases.pop_front().expect("a pending step has a phase");
        if slot.outcome.log.is_empty() {
            self.ui.started(slot.outcome.id);
        }
        slot.running = true;
        slot.light = phase.light;
        let start_ms = self.t0.elapsed().as_millis() as u64;
        let ready_ms = slot.ready_ms.take().unwrap_or(start_ms).min(start_ms);
        slot.outcome.phases.push(super::PhaseTime {
            ready_ms,
            start_ms,
            end_ms: start_ms,
        });
        self.running += 1;
        if !phase.light {
            self.busy += 1;
        }
        let (tx, opts, id) = (self.tx.clone(), Arc::clone(&self.opts), slot.outcome.id);
        std::thread::spawn(move || {
            let _ = tx.send(run_phase(i, id, phase, &opts));
        });
    }

    fn phase_ended(&mut self, done: PhaseDone) {
        self.running -= 1;
        let i = done.index;
        let slot = &mut self.slots[i];
        if !slot.light {
            self.busy -= 1;
        }
        slot.running = false;
        let end_ms = self.t0.elapsed().as_millis() as u64;
        if let Some(last) = slot.outcome.phases.last_mut() {
            last.end_ms = end_ms;
            // A step whose work ran in compile's `mix do` shows that part's
            // span, inside compile's bar, not the instant it took the result.
            if let Some((start, end)) = done.ran_in_chain {
                let ms = |i: Instant| i.saturating_duration_since(self.t0).as_millis() as u64;
                last.start_ms = ms(start);
                last.end_ms = ms(end);
                last.ready_ms = last.ready_ms.min(last.start_ms);
            }
        }
        slot.outcome.duration += done.duration;
        slot.phase_ms.push(done.duration.as_millis() as u64);
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
        } else if let Some(why) = done.skip {
            slot.phases.clear();
            self.settle(i, Status::Skipped, Some(why));
        } else if slot.phases.is_empty() {
            let note = Some(slot.notes.join("; "));
            self.settle(i, Status::Ok, note);
        }
    }

    /// Keeps the phase times of every step that passed, for the next run.
    fn record_history(&mut self) {
        let mut passed = false;
        for slot in &self.slots {
            if slot.outcome.status == Status::Ok && slot.phase_ms.len() == slot.planned {
                self.history.record(slot.outcome.id, slot.phase_ms.clone());
                passed = true;
            }
        }
        if passed {
            self.history.save(&self.opts.base);
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use super::*;
    use crate::env::Env;
    use crate::plan::Action;

    struct Quiet;

    impl Ui for Quiet {
        fn finished(&mut self, _: &Outcome) {}
        fn summary(&mut self, _: &Summary) {}
    }

    type Started = Arc<Mutex<Vec<&'static str>>>;

    /// A step that notes when it starts.
    fn step(id: StepId, needs: &[StepId], started: &Started) -> StepPlan {
        let started = Arc::clone(started);
        let act = Action::Native {
            describe: id.name().into(),
            run: Box::new(move |_| {
                started.lock().unwrap().push(id.name());
                Ok(())
            }),
        };
        StepPlan::new(id, needs, vec![act], "")
    }

    /// The quality steps of `ci`, run one at a time; the order they start in.
    fn start_order(app: &Path) -> Vec<&'static str> {
        let started: Started = Arc::default();
        let d = [StepId::Deps];
        let c = [StepId::Compile];
        let plans = vec![
            step(StepId::Deps, &[], &started),
            step(StepId::Format, &d, &started),
            step(StepId::Compile, &d, &started),
            step(StepId::Credo, &c, &started),
            step(StepId::Sobelow, &c, &started),
            step(StepId::Dialyzer, &c, &started),
        ];
        let opts = Opts {
            env: Env::default(),
            jobs: 1,
            keep_going: false,
            base: app.to_path_buf(),
            live: None,
        };
        let summary = run(plans, opts, &mut Quiet);
        assert!(!summary.failed());
        let order = started.lock().unwrap().clone();
        order
    }

    #[test]
    fn the_longest_recorded_path_starts_first() {
        let app = tempfile::tempdir().unwrap();
        let mut h = History::default();
        for (id, ms) in [
            (StepId::Deps, 100),
            (StepId::Format, 300),
            (StepId::Compile, 1_000),
            (StepId::Credo, 2_000),
            (StepId::Sobelow, 2_500),
            (StepId::Dialyzer, 5_000),
        ] {
            h.record(id, vec![ms]);
        }
        h.save(app.path());
        assert_eq!(
            start_order(app.path()),
            ["deps", "compile", "dialyzer", "sobelow", "credo", "format"]
        );
        // The run recorded its own times (a few ms) over the ones it read.
        let after = History::load(app.path());
        assert!(after.phase_ms(StepId::Dialyzer, 0, 1) < 5_000);
    }

    #[test]
    fn a_first_run_ranks_by_typical_times() {
        let app = tempfile::tempdir().unwrap();
        // Dialyzer's typical time is the longest; credo and sobelow tie and
        // keep the plan's order; format waits on nothing long.
        assert_eq!(
            start_order(app.path()),
            ["deps", "compile", "dialyzer", "credo", "sobelow", "format"]
        );
    }

    #[test]
    fn a_light_phase_starts_at_once_without_a_slot() {
        let app = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        // With one job, deps holds the only slot until the services phase
        // has started beside it.
        let deps = StepPlan::new(
            StepId::Deps,
            &[],
            vec![Action::Native {
                describe: "wait for the services phase".into(),
                run: Box::new(move |_| {
                    rx.recv_timeout(Duration::from_secs(60))
                        .map_err(|_| anyhow::anyhow!("the light phase never started"))
                }),
            }],
            "",
        );
        let services = Action::Native {
            describe: "start the services".into(),
            run: Box::new(move |_| {
                tx.send(()).unwrap();
                Ok(())
            }),
        };
        let mut test = StepPlan::new(StepId::Test, &[], vec![services], "");
        test.phases[0].light = true;
        let opts = Opts {
            env: Env::default(),
            jobs: 1,
            keep_going: false,
            base: app.path().to_path_buf(),
            live: None,
        };
        let summary = run(vec![deps, test], opts, &mut Quiet);
        assert!(!summary.failed(), "{:?}", summary.outcomes[0].log);
    }

    #[test]
    fn after_a_failed_compile_what_reads_sources_runs_and_what_needs_beams_says_why() {
        let app = tempfile::tempdir().unwrap();
        let started: Started = Arc::default();
        let fail = Action::Native {
            describe: "compile".into(),
            run: Box::new(|_| anyhow::bail!("a warning")),
        };
        let (d, c) = ([StepId::Deps], [StepId::Compile]);
        let plans = vec![
            step(StepId::Deps, &[], &started),
            StepPlan::new(StepId::Compile, &d, vec![fail], "fix it"),
            step(StepId::Credo, &d, &started).after(&c),
            step(StepId::Sobelow, &d, &started).after(&c),
            step(StepId::Dialyzer, &c, &started),
        ];
        let opts = Opts {
            env: Env::default(),
            jobs: 2,
            keep_going: true,
            base: app.path().to_path_buf(),
            live: None,
        };
        let summary = run(plans, opts, &mut Quiet);
        let status = |id: StepId| {
            summary
                .outcomes
                .iter()
                .find(|o| o.id == id)
                .map(|o| (o.status, o.detail.clone()))
                .unwrap()
        };
        assert_eq!(status(StepId::Credo).0, Status::Ok);
        assert_eq!(status(StepId::Sobelow).0, Status::Ok);
        assert_eq!(
            status(StepId::Dialyzer),
            (
                Status::NotRun,
                Some("needs compile, which did not pass".into())
            )
        );
        // Ordering still holds: they started only once compile had ended.
        assert_eq!(started.lock().unwrap()[0], "deps");
    }
}
