//! The figures of xref, gettext, docs and audit, read from what each tool
//! printed: xref's plain tree (roots, then `` `-- file (compile)`` children)
//! and its `Too many references (found: N, …)`; gettext's list of POT files
//! out of date; ex_doc's `warning:` lines; Hex's verdict line; the
//! migrations check's `linted N files`, `FILE: reversible` and finding lines.

use super::{strip, Figures};

/// The compile-connected references and the files with the most of them.
pub fn xref(log: &[&str]) -> Figures {
    let mut roots: Vec<(String, u64)> = Vec::new();
    for line in log.iter().map(|l| strip(l)) {
        let is_file = |s: &str| s.ends_with(".ex") || s.ends_with(".exs");
        if let Some(child) = line.split("-- ").nth(1) {
            if child.ends_with("(compile)") {
                if let Some(last) = roots.last_mut() {
                    last.1 += 1;
                }
            }
        } else if is_file(line) && !line.contains(' ') {
            roots.push((line.to_string(), 0));
        }
    }
    let mut f = Figures::default();
    let counted: u64 = roots.iter().map(|r| r.1).sum();
    // The tool's own count wins when it printed one.
    let found = log
        .iter()
        .find_map(|l| {
            let rest = l.split("(found: ").nth(1)?;
            rest.split(',').next()?.parse::<u64>().ok()
        })
        .unwrap_or(counted);
    f.push("compile_connected", found);
    roots.retain(|r| r.1 > 0);
    // Most references first; a stable sort keeps the tree's order on ties.
    roots.sort_by_key(|r| std::cmp::Reverse(r.1));
    if !roots.is_empty() {
        let worst: Vec<String> = roots
            .iter()
            .take(3)
            .map(|(f, n)| format!("{f} ({n})"))
            .collect();
        f.push("worst", worst.join(", "));
    }
    f
}

/// The POT files `--check-up-to-date` listed.
pub fn gettext(log: &[&str]) -> Figures {
    let stale: Vec<&str> = log
        .iter()
        .map(|l| strip(l))
        .filter_map(|l| l.strip_prefix("* ").filter(|p| p.ends_with(".pot")))
        .collect();
    let mut f = Figures::default();
    match stale.is_empty() {
        true => f.push("pot", "up to date"),
        false => f.push("pot", format!("out of date: {}", stale.join(", "))),
    }
    f
}

pub fn docs(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    let n = log
        .iter()
        .filter(|l| strip(l).starts_with("warning:"))
        .count();
    f.push("warnings", n as u64);
    f
}

pub fn audit(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    if log.iter().any(|l| l.contains("No retired")) {
        f.push("hex", "no retired packages");
    } else if log.iter().any(|l| l.contains("Found retired packages")) {
        f.push("hex", "retired packages found");
    }
    f
}

/// Migrations linted and proven reversible, the lint's findings, and the
/// findings allowed by `# xtask:allow` when the check reports them.
pub fn migrations(log: &[&str]) -> Figures {
    let mut f = Figures::default();
    let lines: Vec<&str> = log.iter().map(|l| strip(l)).collect();
    let Some(linted) = lines.iter().find_map(|l| {
        l.strip_prefix("linted ")?
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
    }) else {
        return f;
    };
    // The migrations checked one by one (`# check 12 of 40 migrations: …`),
    // or, when the lint stopped the step before, those it read.
    let checked = lines.iter().find_map(|l| {
        l.strip_prefix("# check ")?
            .split_once(" of ")?
            .0
            .parse::<u64>()
            .ok()
    });
    f.push("migrations", checked.unwrap_or(linted));
    let reversible = lines.iter().filter(|l| l.contains(": reversible")).count();
    f.push("reversible", reversible as u64);
    let findings = lines.iter().filter(|l| super::warning(l)).count();
    f.push("findings", findings as u64);
    let allowed = lines.iter().find_map(|l| {
        let (n, _) = l.split_once(" allowed")?;
        n.rsplit([' ', '(']).next()?.parse::<u64>().ok()
    });
    if let Some(n) = allowed {
        f.push("allowed", n);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xref_counts_references_and_names_the_worst_files() {
        let log = "$ mix xref graph --label compile-connected --format plain --fail-above 0\n\
            lib/a/router.ex\n`-- lib/a/paths.ex (compile)\nlib/a/view.ex\n|-- lib/a/paths.ex (compile)\n\
            `-- lib/a/slug.ex (compile)\n** (Mix) Too many references (found: 3, permitted: 0)";
        let log: Vec<&str> = log.lines().collect();
        assert_eq!(
            xref(&log).json(),
            json!({"compile_connected": 3, "worst": "lib/a/view.ex (2), lib/a/router.ex (1)"})
        );
        assert_eq!(
            xref(&["$ mix xref graph"]).json(),
            json!({"compile_connected": 0})
        );
    }

    #[test]
    fn migrations_count_checked_reversible_and_findings() {
        let log = "# lint 3 files in priv/repo/migrations: elixir lint.exs …\n\
            priv/repo/migrations/20240102_add_index.exs:7: index_not_concurrently: create the index concurrently\n\
            linted 3 files\npriv/repo/migrations/20240103_c.exs: reversible\n\
            priv/repo/migrations/20240102_b.exs: reversible (it only validates constraints, which no down undoes)";
        let log: Vec<&str> = log.lines().collect();
        assert_eq!(
            migrations(&log).json(),
            json!({"migrations": 3, "reversible": 2, "findings": 1})
        );
        assert_eq!(
            migrations(&log).text(),
            "3 migrations, 2 reversible, 1 finding"
        );
        let allowed = [
            "linted 4 files (2 allowed, 1 at or before [migrate] lint_after skipped)",
            "# check 5 of 9 migrations: up one by one, down one by one, snapshots between, in one boot: $ mix run",
            "priv/repo/migrations/20240103_c.exs: reversible",
        ];
        assert_eq!(
            migrations(&allowed).text(),
            "5 migrations, 1 reversible, 0 findings, 2 allowed"
        );
        assert_eq!(migrations(&["$ mix run"]).json(), json!({}));
    }

    #[test]
    fn gettext_lists_the_stale_pot_files() {
        let log = [
            "** (Mix) mix gettext.extract failed due to --check-up-to-date.",
            "  * priv/gettext/default.pot",
        ];
        assert_eq!(
            gettext(&log).json(),
            json!({"pot": "out of date: priv/gettext/default.pot"})
        );
        assert_eq!(
            gettext(&["$ mix gettext.extract --check-up-to-date"]).json(),
            json!({"pot": "up to date"})
        );
    }
}
