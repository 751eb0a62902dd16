//! A terminal: one spinner per running step, a line per finished step, and
//! a failed step's output in full.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::rows::{row_text, secs, shows_log};
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
            let detail = row_text(o).map(|d| format!("  {d}")).unwrap_or_default();
            let row = format!(
                "{mark} {:<10} {:<11} {}{detail}",
                o.id.name(),
                o.status.label(),
                secs(o.duration)
            );
            // On a terminal a row is cut to its width (plain, JSON and -v
            // keep the whole text).
            let row = match self.verbosity {
                Verbosity::Normal | Verbosity::Quiet => cut(&row, width()),
                _ => row,
            };
            text.push_str(&row);
            text.push('\n');
        }
        self.print(text);
    }

    /// The rows are on screen already: one totals line, then each
    /// failure's fix, never a second copy of every row.
    fn summary(&mut self, s: &Summary) {
        let mut counts: Vec<String> = Vec::new();
        for status in [
            Status::Ok,
            Status::Failed,
            Status::Skipped,
            Status::NotRun,
            Status::Interrupted,
        ] {
            let n = s.outcomes.iter().filter(|o| o.status == status).count();
            if n > 0 {
                counts.push(format!("{n} {}", status.label()));
            }
        }
        let mut text = format!(
            "\n{}: {} in {} (steps {})\n",
            s.result(),
            counts.join(", "),
            secs(s.wall),
            secs(s.step_time())
        );
        for o in s.outcomes.iter().filter(|o| o.status == Status::Failed) {
            let fix = o.detail.as_deref().unwrap_or("see its output above");
            text.push_str(&format!("  fix {}: {fix}\n", o.id.name()));
        }
        text.push_str(&super::timeline::slowest_text(s));
        self.print(text);
    }

    /// Streamed lines go above the spinners, never through them.
    fn live(&self) -> Live {
        let mp = self.mp.clone();
        std::sync::Arc::new(move |id: StepId, line: &str| mp.suspend(|| eprintln!("[{id}] {line}")))
    }
}

/// The terminal's width in columns (stderr's), when it has one.
fn width() -> Option<usize> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass.
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// `text` cut to `width` characters, ending in `…` when it was longer.
fn cut(text: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if text.chars().count() > w && w > 1 => {
            let mut s: String = text.chars().take(w - 1).collect();
            s.push('…');
            s
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_to_the_width_with_an_ellipsis() {
        assert_eq!(cut("abcdef", Some(4)), "abc…");
        assert_eq!(cut("abc", Some(4)), "abc");
        assert_eq!(cut("abcdef", None), "abcdef");
    }
}
