//! Finds `file:line` locations in a failed step's log, so that GitHub can
//! show each failure beside the code: mix compiler diagnostics (the 1.14/1.15
//! two-line shape and the 1.16+ `└─` snippets), the format check, credo,
//! dialyzer, ExUnit failures and eslint. Each parser knows one tool's shape;
//! every failed step's log goes through all of them, because a step may run
//! several tools (`test` compiles before it tests).

mod hit;
mod mix;

use std::path::{Path, PathBuf};

pub use hit::Hit;
use hit::{is_source, location};
use mix::{compile_error, compiler, exunit, format_check};

/// Every location found in `log`, in order, each `(file, line)` once.
pub fn parse(log: &[String]) -> Vec<Hit> {
    let lines: Vec<String> = log.iter().map(|l| clean(l)).collect();
    let mut hits = Vec::new();
    for parser in [
        compiler,
        compile_error,
        format_check,
        credo,
        exunit,
        eslint,
        file_line,
    ] {
        hits.extend(parser(&lines));
    }
    let mut seen = std::collections::HashSet::new();
    hits.retain(|h| seen.insert((h.file.clone(), h.line)));
    // A file-only hit (1.15's "cannot compile module") adds nothing when the
    // same file already has a line.
    let lined: Vec<String> = hits
        .iter()
        .filter(|h| h.line.is_some())
        .map(|h| h.file.clone())
        .collect();
    hits.retain(|h| h.line.is_some() || !lined.contains(&h.file));
    hits
}

/// A log line without colour codes and without the `[N] ` that the runner
/// puts before the output of commands run side by side.
fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, then one final byte in @..~.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    let rest = out
        .strip_prefix('[')
        .and_then(|r| r.split_once("] "))
        .filter(|(n, _)| n.parse::<u32>().is_ok());
    match rest {
        Some((_, r)) => r.to_string(),
        None => out,
    }
}

/// credo's default output: `┃ [W] ↘ message` (wrapped lines follow), then
/// `┃       lib/x.ex:12:5 #(Mod.fun)`.
fn credo(lines: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut pending: Option<String> = None;
    for l in lines {
        let Some(body) = l.trim_start().strip_prefix('┃') else {
            pending = None;
            continue;
        };
        let body = body.trim();
        let tag = body
            .strip_prefix('[')
            .and_then(|b| b.split_once("] "))
            .filter(|(t, _)| t.len() == 1);
        if let Some((tag, rest)) = tag {
            // The arrow after the tag shows the priority.
            let msg = rest.split_once(' ').map_or(rest, |(_, m)| m);
            pending = Some(format!("[{tag}] {msg}"));
        } else if let Some(msg) = pending.as_mut() {
            match location(body).filter(|(loc, _)| loc.line.is_some()) {
                Some((loc, _)) => hits.push(Hit::new(loc, pending.take().unwrap_or_default())),
                None if !body.is_empty() => {
                    msg.push(' ');
                    msg.push_str(body);
                }
                None => {}
            }
        }
    }
    hits
}

/// eslint's default "stylish" output: an absolute FILE line, then
/// `  12:5  error  message  rule` lines.
fn eslint(lines: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut file: Option<&str> = None;
    for l in lines {
        let t = l.trim();
        if t.starts_with('/') && is_source(t) {
            file = Some(t);
            continue;
        }
        let Some(f) = file else { continue };
        let mut words = t.split_whitespace();
        let pos = words.next().and_then(|w| w.split_once(':'));
        let level = words.next();
        let (Some((line, col)), Some("error" | "warning")) = (pos, level) else {
            if !l.starts_with("  ") {
                file = None;
            }
            continue;
        };
        let msg = words.collect::<Vec<_>>().join(" ");
        hits.push(Hit {
            file: f.into(),
            line: line.parse().ok(),
            col: col.parse().ok(),
            message: msg,
        });
    }
    hits
}

/// `FILE:LINE: message` at the start of a line: dialyzer (`--fullpath`),
/// dialyxir's short format, credo's flycheck format, sobelow's flycheck.
fn file_line(lines: &[String]) -> Vec<Hit> {
    lines
        .iter()
        .filter_map(|l| {
            let (loc, rest) = location(l)?;
            (loc.line.is_some() && !rest.is_empty()).then(|| Hit::new(loc, rest))
        })
        .collect()
}

/// Makes a path from the log relative to the repository GitHub checked out,
/// which is what an annotation's `file=` must be.
pub struct Paths {
    /// The app dir, absolute.
    pub app: PathBuf,
    /// The checkout's root when the app is inside one.
    pub root: Option<PathBuf>,
}

impl Paths {
    /// The root is `$GITHUB_WORKSPACE`, else the nearest dir above the app
    /// holding `.git`; outside any checkout, paths stay app-relative.
    pub fn new(app: &Path, workspace: Option<&str>) -> Paths {
        let workspace = workspace
            .map(PathBuf::from)
            .and_then(|w| w.canonicalize().ok());
        let root = workspace.filter(|w| app.starts_with(w)).or_else(|| {
            app.ancestors()
                .find(|d| d.join(".git").exists())
                .map(Path::to_path_buf)
        });
        Paths {
            app: app.to_path_buf(),
            root,
        }
    }

    pub fn relative(&self, file: &str) -> String {
        let path = Path::new(file);
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.app.join(path)
        };
        let base = self.root.as_deref().unwrap_or(&self.app);
        match abs.strip_prefix(base) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => file.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
