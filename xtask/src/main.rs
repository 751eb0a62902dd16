//! This repository's `cargo xtask`: exactly the thin crate that `cargo xtask
//! init` writes into a Phoenix repo, so the demo proves the adoption path.

fn main() -> std::process::ExitCode {
    phx_xtask::App::new(env!("CARGO_MANIFEST_DIR")).run()
}
