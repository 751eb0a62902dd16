//! The shapes Mix and ExUnit print: compiler diagnostics in the 1.14/1.15
//! two-line form and the 1.16+ snippet form, compile and syntax errors, the
//! format check's file list (1.14) or diffs (1.15+), and test failures.

use super::hit::{is_source, location, Hit};

/// `warning: MSG` / `error: MSG`, then the places it is about: `  FILE:LINE:
/// Mod.fun/1` (1.14, 1.15; several after "Invalid call found at N
/// locations:") or, past the `│` snippet lines, `└─ FILE:LINE:COL` (1.16+).
pub fn compiler(lines: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let head = lines[i].trim();
        let message = head
            .strip_prefix("warning: ")
            .or_else(|| head.strip_prefix("error: "));
        i += 1;
        let Some(message) = message else { continue };
        let mut found = false;
        let mut skipped = 0;
        while i < lines.len() {
            let l = lines[i].trim();
            let at = location(l.trim_start_matches("└─").trim_start())
                .filter(|(loc, _)| loc.line.is_some());
            match at {
                Some((loc, _)) => {
                    hits.push(Hit::new(loc, message));
                    found = true;
                }
                None if l.contains('│') || l.starts_with("Invalid call found at") => {}
                // 1.16+ may wrap a long message before its snippet.
                None if !found
                    && skipped < 8
                    && !l.is_empty()
                    && !l.starts_with("warning: ")
                    && !l.starts_with("error: ") =>
                {
                    skipped += 1;
                }
                None => break,
            }
            i += 1;
        }
    }
    hits
}

/// `** (CompileError) lib/x.ex:3: undefined function …` (1.14), and the
/// 1.15+ summary `** (CompileError) lib/x.ex: cannot compile module X`.
pub fn compile_error(lines: &[String]) -> Vec<Hit> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("** (")?;
            let (kind, text) = rest.split_once(") ")?;
            if !kind.ends_with("Error") {
                return None;
            }
            // 1.14 starts with the place; 1.16+ names it mid-sentence.
            if let Some((loc, rest)) = location(text) {
                return Some(Hit::new(loc, format!("{kind}: {rest}")));
            }
            let (loc, _) = text
                .split_whitespace()
                .find_map(|w| location(w).filter(|(loc, _)| loc.line.is_some()))?;
            Some(Hit::new(loc, format!("{kind}: {text}")))
        })
        .collect()
}

/// After `mix format failed due to --check-formatted.`: 1.14 lists `  * FILE`;
/// 1.15+ prints each FILE (absolute) on its own line, then a diff whose first
/// changed line (`12    -|…`, `   12 +|…`) says where to look.
pub fn format_check(lines: &[String]) -> Vec<Hit> {
    let Some(start) = lines
        .iter()
        .position(|l| l.contains("mix format failed due to --check-formatted"))
    else {
        return Vec::new();
    };
    let msg = "not formatted: run `cargo xtask format --fix`";
    let mut hits: Vec<Hit> = Vec::new();
    let mut diffing = false;
    for l in &lines[start + 1..] {
        let t = l.trim();
        if let Some(file) = t.strip_prefix("* ").filter(|f| is_source(f)) {
            hits.push(Hit {
                file: file.into(),
                line: None,
                col: None,
                message: msg.into(),
            });
        } else if !t.contains('|') && is_source(t) {
            hits.push(Hit {
                file: t.into(),
                line: None,
                col: None,
                message: msg.into(),
            });
            diffing = true;
        } else if let Some((gutter, _)) = t.split_once('|').filter(|_| diffing) {
            let changed = gutter.ends_with('-') || gutter.ends_with('+');
            let line = gutter
                .split_whitespace()
                .find_map(|w| w.parse::<u32>().ok());
            if let (true, Some(n), Some(h)) = (changed, line, hits.last_mut()) {
                h.line = Some(n);
                diffing = false;
            }
        }
    }
    hits
}

/// `  1) test name (Module)`, then `     test/x_test.exs:12` (where the test
/// is defined); the stacktrace's line in the same file is where it failed.
pub fn exunit(lines: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let Some((n, name)) = t.split_once(") ") else {
            continue;
        };
        let is_test = ["test ", "doctest ", "property "]
            .iter()
            .any(|p| name.starts_with(p));
        if n.is_empty()
            || !n.bytes().all(|b| b.is_ascii_digit())
            || !is_test
            || !name.ends_with(')')
        {
            continue;
        }
        let Some((mut loc, _)) = lines.get(i + 1).and_then(|d| location(d.trim())) else {
            continue;
        };
        let mut why = None;
        for b in lines[i + 2..]
            .iter()
            .map(|b| b.trim())
            .take_while(|b| !b.is_empty())
        {
            if let Some((at, _)) = location(b).filter(|(at, _)| at.file == loc.file) {
                loc.line = at.line;
                break;
            }
            if why.is_none() && b != "stacktrace:" && !b.starts_with("code:") {
                why = Some(b.to_string());
            }
        }
        let message = match why {
            Some(w) => format!("{name}: {w}"),
            None => name.to_string(),
        };
        hits.push(Hit::new(loc, message));
    }
    hits
}
