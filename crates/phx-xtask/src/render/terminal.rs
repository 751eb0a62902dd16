//! A terminal: one spinner per running step, a line per finished step, and
//! a failed step's output in full.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::rows::{secs, shows_log, summary_text};
use crate::exec::Live;
use crate::ids::StepId;
use crate::run::Verbosity;
use crate::runner::{Outcome, Status, Summary, Ui};

/// A terminal: one spinner per running step; a failed step's output in full.
pub struct Terminal {
    verbosity: Verbosity,
    mp: MultiProgress,
    bars: HashMap<StepId, ProgressBar>,
    style: ProgressStyle,
}

impl Terminal {
    pub fn new(verbosity: Verbosity) -> Terminal {
        let style = ProgressStyle::with_template("{spinner} {prefix:<10} {wide_msg} {elapsed:>4}")
            .expect("the template is valid")
            .tick_chars("⠁⠂⠄⡀⢀⠠⠐⠈ ");
        Terminal {
            verbosity,
            mp: MultiProgress::new(),
            bars: HashMap::new(),
            style,
        }
    }

    /// Prints above the spinners, which are redrawn after.
    pub fn print(&self, text: String) {
        self.mp.suspend(|| eprint!("{text}"));
    }
}

impl Ui for Terminal {
    fn started(&mut self, id: StepId) {
        let bar = self.mp.add(
            ProgressBar::new_spinner()
                .with_style(self.style.clone())
                .with_prefix(id.name()),
        );
        bar.set_message("running");
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bars.insert(id, bar);
    }

    fn finished(&mut self, o: &Outcome) {
        if let Some(bar) = self.bars.remove(&o.id) {
            bar.finish_and_clear();
        }
        let mark = match o.status {
            Status::Ok => "✓",
            Status::Failed | Status::Interrupted => "✗",
            Status::Skipped | Status::NotRun => "-",
        };
        let mut text = String::new();
        if shows_log(o, self.verbosity, false) {
            text.push_str(&format!("── {} ──\n", o.id.name()));
            for line in &o.log {
                text.push_str(line);
                text.push('\n');
            }
        }
        if self.verbosity > Verbosity::Quiet || o.status == Status::Failed {
            let detail = o
                .detail
                .as_deref()
                .map(|d| format!("  {d}"))
                .unwrap_or_default();
            text.push_str(&format!(
                "{mark} {:<10} {:<11} {}{detail}\n",
                o.id.name(),
                o.status.label(),
                secs(o.duration)
            ));
        }
        self.print(text);
    }

    fn summary(&mut self, s: &Summary) {
        self.print(summary_text(s));
    }

    /// Streamed lines go above the spinners, never through them.
    fn live(&self) -> Live {
        let mp = self.mp.clone();
        std::sync::Arc::new(move |id: StepId, line: &str| mp.suspend(|| eprintln!("[{id}] {line}")))
    }
}
