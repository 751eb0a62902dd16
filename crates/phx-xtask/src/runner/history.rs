//! How long each step's phases took the last time they passed on this
//! machine, kept in the app's `_build/xtask/step-times` (one line per step:
//! its name, then each phase's milliseconds), and the order they suggest:
//! the step with the longest remaining path through the steps that wait for
//! it starts first. Without a record (a fresh `_build`), typical times rank
//! the steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ids::StepId;

const FILE: &str = "_build/xtask/step-times";

#[derive(Debug, Default, Clone, PartialEq)]
pub struct History {
    /// Milliseconds per phase, by step name.
    steps: BTreeMap<String, Vec<u64>>,
}

impl History {
    pub fn path(app: &Path) -> PathBuf {
        app.join(FILE)
    }

    pub fn load(app: &Path) -> History {
        let text = std::fs::read_to_string(Self::path(app)).unwrap_or_default();
        let steps = text
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let name = words.next()?.to_string();
                let ms: Option<Vec<u64>> = words.map(|w| w.parse().ok()).collect();
                Some((name, ms?))
            })
            .collect();
        History { steps }
    }

    /// Records a passed step's phase times.
    pub fn record(&mut self, id: StepId, phases: Vec<u64>) {
        self.steps.insert(id.name().to_string(), phases);
    }

    /// Writes the record beside the build it describes; a run that cannot
    /// write it still ran, so failing to is not an error.
    pub fn save(&self, app: &Path) {
        let path = Self::path(app);
        let text: String = self
            .steps
            .iter()
            .map(|(name, ms)| {
                let ms: Vec<String> = ms.iter().map(u64::to_string).collect();
                format!("{name} {}\n", ms.join(" "))
            })
            .collect();
        let tmp = path.with_extension("tmp");
        let _ = std::fs::create_dir_all(path.parent().expect("a file in a dir"))
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &path));
    }

    /// The expected time of phase `k` of a step with `phases` phases.
    pub fn phase_ms(&self, id: StepId, k: usize, phases: usize) -> u64 {
        match self.steps.get(id.name()) {
            Some(ms) if ms.len() == phases => ms[k],
            _ => typical_ms(id, k, phases),
        }
    }
}

/// A first run's guess, from a Phoenix app's usual warm run: dialyzer and
/// the tests are the long ones, the quick checks short.
fn typical_ms(id: StepId, k: usize, phases: usize) -> u64 {
    let total = match id {
        StepId::Deps => 1_000,
        StepId::Format => 1_000,
        StepId::Compile => 3_000,
        StepId::Credo => 3_000,
        StepId::Sobelow => 3_000,
        StepId::Xref => 2_000,
        StepId::Gettext => 3_000,
        StepId::Docs => 4_000,
        StepId::Audit => 2_000,
        StepId::Dialyzer => 8_000,
        StepId::Assets => 4_000,
        StepId::Test => 8_000,
        StepId::Migrations => 3_000,
        StepId::Image => 60_000,
        StepId::Custom(_) => 2_000,
    };
    // The test step's first phase starts the services and takes no core;
    // the rest of a step's time goes to its last phase.
    match (id, k + 1 == phases) {
        (_, true) => total,
        (StepId::Test, false) => 1_500,
        _ => total / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_replaces_the_guess() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::load(dir.path());
        assert_eq!(h, History::default());
        assert_eq!(h.phase_ms(StepId::Dialyzer, 0, 1), 8_000);
        h.record(StepId::Dialyzer, vec![5_700]);
        h.record(StepId::Test, vec![900, 4_200]);
        h.save(dir.path());
        let back = History::load(dir.path());
        assert_eq!(back, h);
        assert_eq!(back.phase_ms(StepId::Test, 1, 2), 4_200);
        // A step planned with another number of phases falls back to the guess.
        assert_eq!(back.phase_ms(StepId::Test, 0, 1), 8_000);
    }
}
