//! phx-xtask: a Phoenix app's whole CI as `cargo xtask <step>`, as a
//! library. A repo's own thin `xtask` crate calls it:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     phx_xtask::App::new(env!("CARGO_MANIFEST_DIR")).run()
//! }
//! ```
//! Its layers, each importing only from those below: docs/architecture.md.

mod beam;
mod cli;
mod cmd;
mod config;
mod deploy;
mod docker;
mod doctor;
mod engines;
mod env;
mod exec;
mod exs;
mod http;
mod ids;
mod image;
mod init;
mod last_run;
mod merge;
mod migrate;
mod migrations;
mod mixproj;
mod pipeline;
pub mod plan;
mod proc;
mod redact;
mod render;
mod rt;
mod run;
mod runner;
mod services;
mod steps;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;

pub use exec::Exec;
pub use steps::{Ctx, Step};

/// The tool, as a repo's xtask binary runs it, with the repo's own steps.
pub struct App {
    manifest_dir: PathBuf,
    steps: Vec<Step>,
}

impl App {
    /// `manifest_dir` is the thin crate's `env!("CARGO_MANIFEST_DIR")`: the
    /// project root (holding xtask.toml) is its parent.
    pub fn new(manifest_dir: &str) -> App {
        App {
            manifest_dir: PathBuf::from(manifest_dir),
            steps: Vec::new(),
        }
    }

    /// Adds a step of the repo's own, planned by a function.
    pub fn step(mut self, step: Step) -> App {
        self.steps.push(step);
        self
    }

    /// Runs the command line. Exit codes: 0 passed, 1 a step failed, 2 bad
    /// input (nothing ran), 101 a panic, 130 interrupted.
    pub fn run(self) -> ExitCode {
        let root = self.root();
        pipeline::guarded(cli::Cli::parse(), root, &self.steps)
    }

    /// Where xtask.toml is: `XTASK_ROOT`, else the thin crate's parent.
    fn root(&self) -> PathBuf {
        if let Some(root) = std::env::var_os("XTASK_ROOT") {
            return PathBuf::from(root);
        }
        let dir = &self.manifest_dir;
        dir.parent().map_or_else(|| dir.clone(), PathBuf::from)
    }
}
