//! The only place that executes plans. `schedule` decides when each phase
//! of each step starts, `phase` runs a phase's actions on its thread, and
//! `outcome` holds what the renderers hear.

mod history;
mod outcome;
mod phase;
mod schedule;

pub use outcome::{Opts, Outcome, PhaseTime, Status, Summary, Ui};
pub use schedule::run;
