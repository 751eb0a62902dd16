//! The renderers, one per output mode: spinners on a terminal (`terminal`),
//! one block per step in plain logs and JSON on stdout (`plain`), groups and
//! annotations under GitHub Actions (`github`). They share `rows`. Progress
//! and logs go to stderr; data (the JSON summary) goes to stdout.

pub mod annotations;
pub mod figures;
pub mod github;
mod plain;
pub mod report_html;
pub mod rows;
mod terminal;
pub mod timeline;

use std::path::Path;

use crate::env::Env;
use crate::run::{Mode, Verbosity};
use crate::runner::Ui;

/// The renderer for `mode`. GitHub's annotations name files relative to the
/// checkout, which it finds from the app dir.
pub fn renderer(mode: Mode, verbosity: Verbosity, app: &Path, env: &Env) -> Box<dyn Ui> {
    match mode {
        Mode::Github => Box::new(github::Github::new(verbosity, app, env)),
        Mode::Json => Box::new(plain::Json {
            plain: plain::Plain { verbosity },
        }),
        Mode::Plain => Box::new(plain::Plain { verbosity }),
        Mode::Terminal => Box::new(terminal::Terminal::new(verbosity)),
    }
}
