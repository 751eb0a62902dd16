//! The renderers: spinners on a terminal, one block per step in plain logs,
//! groups and annotations under GitHub Actions, and JSON on stdout. Progress
//! and logs go to stderr; data (the JSON summary) goes to stdout.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::Output;
use crate::github;
use crate::runner::{Outcome, Status, Summary, Ui};
use crate::steps::StepId;

/// How much of the steps' output to show.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Picks the renderer: `auto` means GitHub's under GitHub Actions, spinners
/// on a terminal, plain blocks anywhere else. GitHub's annotations name
/// files relative to the checkout, which it finds from the app dir.
pub fn renderer(mode: Output, verbosity: Verbosity, app: &std::path::Path) -> Box<dyn Ui> {
    let mode = resolve(mode);
    match mode {
        Output::Github => Box::new(github::Github::new(verbosity, app)),
        Output::Json => Box::new(Json {
            plain: Plain { verbosity },
        }),
        Output::Plain => Box::new(Plain { verbosity }),
        Output::Auto => Box::new(Terminal::new(verbosity)),
    }
}

/// `auto` resolved to a concrete mode (`Auto` stands for the terminal).
pub fn resolve(mode: Output) -> Output {
    match mode {
        Output::Auto if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") => Output::Github,
        Output::Auto if std::io::stderr().is_terminal() => Output::Auto,
        Output::Auto => Output::Plain,
        m => m,
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Whether a finished step's output is worth showing at this verbosity.
fn shows_log(o: &Outcome, verbosity: Verbosity, always_ok: bool) -> bool {
    match o.status {
        Status::Failed | Status::Interrupted => true,
        Status::Ok => {
            verbosity == Verbosity::Verbose || (always_ok && verbosity == Verbosity::Normal)
        }
        Status::Skipped | Status::NotRun => false,
    }
}

/// The closing table: one row per step, then the times and the result.
pub fn summary_text(s: &Summary) -> String {
    let mut out = String::from("\nsummary\n");
    let width = s
        .outcomes
        .iter()
        .map(|o| o.id.name().len())
        .max()
        .unwrap_or(4);
    for o in &s.outcomes {
        let dur = if o.duration.is_zero() {
            "-".to_string()
        } else {
            secs(o.duration)
        };
        let mut row = format!(
            "  {:<11} {:<width$}  {:>7}",
            o.status.label(),
            o.id.name(),
            dur
        );
        if let Some(d) = &o.detail {
            let lead = if o.status == Status::Failed {
                "fix: "
            } else {
                ""
            };
            row.push_str(&format!("  {lead}{d}"));
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    let result = s.result();
    out.push_str(&format!(
        "wall {}, steps {}, result: {result}\n",
        secs(s.wall),
        secs(s.step_time())
    ));
    out
}

pub fn summary_json(s: &Summary) -> serde_json::Value {
    let steps: Vec<_> = s
        .outcomes
        .iter()
        .map(|o| {
            json!({
                "step": o.id.name(),
                "status": o.status,
                "duration_ms": o.duration.as_millis() as u64,
                "detail": o.detail.as_deref().map(crate::redact::line),
            })
        })
        .collect();
    let status = if s.interrupted {
        "interrupted"
    } else if s.failed() {
        "failed"
    } else {
        "ok"
    };
    json!({
        "status": status,
        "wall_ms": s.wall.as_millis() as u64,
        "steps_ms": s.step_time().as_millis() as u64,
        "steps": steps,
    })
}

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
            let detail = o
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
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
struct Json {
    plain: Plain,
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

/// A terminal: one spinner per running step; a failed step's output in full.
struct Terminal {
    verbosity: Verbosity,
    mp: MultiProgress,
    bars: HashMap<StepId, ProgressBar>,
    style: ProgressStyle,
}

impl Terminal {
    fn new(verbosity: Verbosity) -> Terminal {
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

    fn print(&self, text: String) {
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
}
