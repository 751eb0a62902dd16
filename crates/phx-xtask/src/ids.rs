//! Step names: the built-in steps in the order `ci` lists them, and the
//! steps a repo's own xtask adds in Rust. Every layer names steps with this
//! one type, so it sits at the bottom.

use std::fmt;

/// A step. Built-in steps sort in `ci` order; a repo's own steps come after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepId {
    Deps,
    Format,
    Compile,
    Credo,
    Sobelow,
    /// `mix xref graph --label compile-connected --fail-above N`.
    Xref,
    /// `mix gettext.extract --check-up-to-date`, when gettext is a dep.
    Gettext,
    /// `mix docs` with warnings as errors, when ex_doc is a dep.
    Docs,
    /// `mix hex.audit` and, with mix_audit, `mix deps.audit`.
    Audit,
    Dialyzer,
    Assets,
    Test,
    /// `migrate check`: the migrations are reversible and lint-clean.
    Migrations,
    /// The release image (`cargo xtask image`); not in `ci` by default.
    Image,
    /// A step the repo's own xtask registered with `App::step`.
    Custom(&'static str),
}

impl StepId {
    pub const BUILT_IN: [StepId; 14] = [
        StepId::Deps,
        StepId::Format,
        StepId::Compile,
        StepId::Credo,
        StepId::Sobelow,
        StepId::Xref,
        StepId::Gettext,
        StepId::Docs,
        StepId::Audit,
        StepId::Dialyzer,
        StepId::Assets,
        StepId::Test,
        StepId::Migrations,
        StepId::Image,
    ];

    /// Whether `ci` runs the step when `[ci] steps` does not say: the
    /// release image is built on its own (`cargo xtask image`).
    pub fn in_ci_by_default(self) -> bool {
        self != StepId::Image
    }

    pub fn name(self) -> &'static str {
        match self {
            StepId::Deps => "deps",
            StepId::Format => "format",
            StepId::Compile => "compile",
            StepId::Credo => "credo",
            StepId::Sobelow => "sobelow",
            StepId::Xref => "xref",
            StepId::Gettext => "gettext",
            StepId::Docs => "docs",
            StepId::Audit => "audit",
            StepId::Dialyzer => "dialyzer",
            StepId::Assets => "assets",
            StepId::Test => "test",
            StepId::Migrations => "migrations",
            StepId::Image => "image",
            StepId::Custom(name) => name,
        }
    }

    /// The built-in step called `name`.
    pub fn built_in(name: &str) -> Option<StepId> {
        StepId::BUILT_IN.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// FNV-1a: a stable hash for cache keys and project ids (std's hasher may
/// change between Rust releases, which would invalidate every cache for
/// nothing).
pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_steps_sort_after_the_built_in_ones() {
        let mut ids = vec![StepId::Custom("licenses"), StepId::Test, StepId::Deps];
        ids.sort();
        assert_eq!(
            ids,
            [StepId::Deps, StepId::Test, StepId::Custom("licenses")]
        );
        assert_eq!(StepId::built_in("credo"), Some(StepId::Credo));
        assert_eq!(StepId::built_in("audit"), Some(StepId::Audit));
        assert_eq!(StepId::built_in("licenses"), None);
    }

    #[test]
    fn fnv_is_the_published_function() {
        assert_eq!(fnv(b""), 0xcbf29ce484222325);
        assert_eq!(fnv(b"a"), 0xaf63dc4c8601ec8c);
    }
}
