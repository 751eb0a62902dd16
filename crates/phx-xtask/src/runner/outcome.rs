//! What the runner tells the renderers: each step's status, time, fix hint
//! and log, the run's summary, and the `Ui` trait they implement.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::exec::Live;
use crate::ids::StepId;
use crate::proc;

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
    /// What the step produced, by name (an image's reference and digest).
    pub facts: std::collections::BTreeMap<String, String>,
    /// When each phase that ran could start, started and ended.
    pub phases: Vec<PhaseTime>,
}

/// One phase's times, in milliseconds from the start of the run: `ready`
/// when what it waits for was done, `start` when it got a slot and began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PhaseTime {
    pub ready_ms: u64,
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Outcome {
    /// The step's first start and last end, when it ran.
    pub fn span(&self) -> Option<(u64, u64)> {
        Some((self.phases.first()?.start_ms, self.phases.last()?.end_ms))
    }
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
    /// Where `-vv` sends each line as it comes, from the steps' threads.
    fn live(&self) -> Live {
        std::sync::Arc::new(|id: StepId, line: &str| eprintln!("[{id}] {line}"))
    }
}

pub struct Opts {
    pub env: crate::env::Env,
    pub jobs: usize,
    pub keep_going: bool,
    /// The app dir, which echoed commands are shown relative to.
    pub base: PathBuf,
    pub live: Option<Live>,
}
