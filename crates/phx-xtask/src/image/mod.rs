//! The release image's inputs: the app's Dockerfile (its ARGs and stages),
//! the tags and OCI labels git metadata gives, and the record of what
//! `cargo xtask image` built, for `migrate --target image` and deploys.

pub mod dockerfile;
pub mod git;
pub mod record;
pub mod tags;
