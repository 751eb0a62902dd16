//! phx-xtask: a Phoenix app's whole CI as `cargo xtask <step>`. This file
//! parses the command line, finds the project, and hands over to the
//! pipeline; exit codes are decided here and nowhere else.

mod annotations;
mod cli;
mod config;
mod doctor;
mod github;
mod mixproj;
mod pipeline;
mod plan;
mod proc;
mod redact;
mod report;
mod runner;
mod services;
mod steps;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Exit codes: 0 all passed, 1 a step failed, 2 bad input or a missing
/// precondition (nothing ran), 130 interrupted.
pub enum Exit {
    Passed,
    Failed,
    Interrupted,
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // A panic message may hold a URL from a driver's error: redact it. A
    // panic that reaches main still stops every child and container.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: phx-xtask panicked: {}",
            redact::line(&info.to_string())
        );
    }));
    if let Err(e) = proc::handle_signals() {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let run = std::panic::catch_unwind(|| pipeline::main(cli, project_root()));
    let Ok(result) = run else {
        proc::shutdown();
        return ExitCode::from(101);
    };
    match result {
        Ok(Exit::Passed) => ExitCode::SUCCESS,
        Ok(Exit::Failed) => ExitCode::from(1),
        Ok(Exit::Interrupted) => ExitCode::from(proc::interrupt_code()),
        Err(e) => {
            proc::shutdown();
            eprintln!("error: {}", redact::line(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// The directory holding xtask.toml: `XTASK_ROOT`, else the workspace this
/// binary was built from (like rust-analyzer's xtask).
fn project_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        return PathBuf::from(root);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
