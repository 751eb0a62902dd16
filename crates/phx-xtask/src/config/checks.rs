//! `[xref]` and `[audit]`: the settings of the checks that gate what the
//! compiler and the package registry can tell about the app.

use serde::Deserialize;

/// `[xref]`: the compile-time dependency gate.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Xref {
    /// `mix xref graph --label compile-connected --fail-above N`: how many
    /// compile-connected references may stand (each one makes a change to a
    /// file recompile others). 0, the default, allows none.
    pub compile_connected_max: u32,
}

/// `[audit]`: `mix hex.audit` and `mix deps.audit`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// Seconds to wait for hex.pm (and GitHub, for mix_audit's advisories)
    /// to answer before the step is skipped as offline.
    pub timeout: u64,
}

impl Default for Audit {
    fn default() -> Self {
        Audit { timeout: 5 }
    }
}
