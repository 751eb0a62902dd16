//! The doctor's report for people (a table on stdout, problems on stderr)
//! and for programs (JSON on stdout).

use super::rows::{Level, Report, Row};
use crate::render::github;
use crate::{beam, redact};

/// One line per problem on stderr (`doctor: warning: elixir: …`), then
/// each distinct fix once; under GitHub Actions one annotation per problem,
/// fix included, so that it shows on the run's page.
pub fn problems<'a>(rows: impl Iterator<Item = &'a Row>, github: bool) {
    let mut fixes: Vec<&str> = Vec::new();
    for r in rows.filter(|r| r.level != Level::Ok) {
        let level = if r.level == Level::Error {
            "error"
        } else {
            "warning"
        };
        if github {
            let title = github::property(&format!("doctor: {}", r.check));
            eprintln!(
                "::{level} title={title}::{}",
                github::data(&redact::line(&format!("{}; fix: {}", r.note, r.fix)))
            );
        } else {
            eprintln!("doctor: {level}: {}: {}", r.check, redact::line(&r.note));
        }
        if !fixes.contains(&r.fix.as_str()) {
            fixes.push(&r.fix);
        }
    }
    if !github {
        fixes.iter().for_each(|f| eprintln!("doctor: fix: {f}"));
    }
}

/// The errors as one message for `ci` to stop with: what is wrong, then
/// each distinct fix once.
pub fn errors(report: &Report) -> Option<String> {
    let rows: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.level == Level::Error)
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut msg = String::from("doctor found problems, so nothing ran:");
    let mut fixes: Vec<&str> = Vec::new();
    for r in rows {
        msg.push_str(&format!("\n  {}: {}", r.check, r.note));
        if !fixes.contains(&r.fix.as_str()) {
            fixes.push(&r.fix);
        }
    }
    fixes
        .iter()
        .for_each(|f| msg.push_str(&format!("\nfix: {f}")));
    Some(msg)
}

/// The table on stdout: it is the doctor's data.
pub fn table(report: &Report) -> String {
    let dash = |s: Option<&str>| s.unwrap_or("-").to_string();
    let yes_no = |b: Option<bool>| b.map_or("-", |b| if b { "yes" } else { "no" }).to_string();
    let mut rows = vec![[
        "status", "check", "found", "version", "pin", "match", "where",
    ]
    .map(String::from)];
    for r in &report.rows {
        let status = match r.level {
            Level::Ok => "ok",
            Level::Warning => "warn",
            Level::Error => "error",
        };
        let path = r.path.as_ref().map(|p| p.display().to_string());
        rows.push([
            status.to_string(),
            r.check.to_string(),
            yes_no(Some(r.found)),
            dash(r.version.as_deref()),
            dash(r.pin.as_deref()),
            yes_no(r.matches),
            dash(path.as_deref()),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub fn json(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "status": if report.count(Level::Error) > 0 { "failed" } else { "ok" },
        "in_nix_shell": report.in_nix,
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "checks": report.rows,
        "ci_toolchains": beam::CI_TOOLCHAINS,
    })
}
