//! Plain logs, for CI systems other than GitHub: each step's output as one
//! block, every line prefixed with the step's name, printed when the step
//! ends; and JSON mode, which adds the summary as JSON on stdout.

use std::io::Write;

use super::rows::{row_text, secs, shows_log, summary_json, summary_text};
use crate::run::Verbosity;
use crate::runner::{Outcome, Status, Summary, Ui};

/// Plain logs: each step's output as one block, every line prefixed with
/// the step's name, printed when the step ends.
pub struct Plain {
    pub verbosity: Verbosity,
}

impl Ui for Plain {
    fn finished(&mut self, o: &Outcome) {
        let mut err = std::io::stderr().lock();
        let name = o.id.name();
        if shows_log(o, self.verbosity, true) {
            for line in &o.log {
                let _ = writeln!(err, "[{name}] {line}");
            }
        }
        if self.verbosity > Verbosity::Quiet || o.status == Status::Failed {
            let detail = row_text(o).map(|d| format!(": {d}")).unwrap_or_default();
            let _ = writeln!(
                err,
                "[{name}] {} in {}{detail}",
                o.status.label(),
                secs(o.duration)
            );
        }
    }

    fn summary(&mut self, s: &Summary) {
        eprint!("{}", summary_text(s));
    }
}

/// JSON mode: the plain blocks on stderr, the summary as JSON on stdout.
pub struct Json {
    pub plain: Plain,
}

impl Ui for Json {
    fn finished(&mut self, o: &Outcome) {
        self.plain.finished(o);
    }

    fn summary(&mut self, s: &Summary) {
        self.plain.summary(s);
        let text = crate::redact::line(&summary_json(s).to_string());
        println!("{text}");
    }
}
