//! The library's layers, as tests (like rust-analyzer's tidy tests): no
//! module imports from a module that imports it, the thin binary stays
//! thin, and the library's entry stays short. A cycle is reported with the
//! modules in it and the line that makes each edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/phx-xtask/src")
}

/// `a/b.rs` and `a/b/mod.rs` → `a::b`; `lib.rs` → `crate`.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    if parts.is_empty() {
        "crate".into()
    } else {
        parts.join("::")
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && p.file_name().unwrap() != "tests.rs" {
            out.push(p);
        }
    }
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = path.find('{') else {
        return vec![path];
    };
    let (head, inner) = (&path[..open], &path[open + 1..path.len() - 1]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{head}{p}")))
        .collect()
}

/// Every `crate::…` and `super::…` path a file names outside its tests.
fn paths(text: &str) -> Vec<(usize, String)> {
    let body = text.split("\n#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    let mut stmt = String::new();
    for (n, line) in body.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("//") {
            continue;
        }
        let t = t.strip_prefix("pub ").unwrap_or(t);
        if stmt.is_empty() && t.starts_with("use ") {
            stmt.push_str(&t[4..]);
        } else if !stmt.is_empty() {
            stmt.push_str(t);
        } else {
            for start in ["crate::", "super::"] {
                let mut rest = line;
                while let Some(i) = rest.find(start) {
                    let tail = &rest[i..];
                    let end = tail
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .unwrap_or(tail.len());
                    out.push((n + 1, tail[..end].trim_end_matches(':').to_string()));
                    rest = &tail[end..];
                }
            }
        }
        if !stmt.is_empty() && stmt.ends_with(';') {
            let s = stmt.trim_end_matches(';').replace(" as ", "@");
            for p in expand(&s) {
                let p = p.split('@').next().unwrap().to_string();
                if p.starts_with("crate::") || p.starts_with("super::") {
                    out.push((n + 1, p));
                }
            }
            stmt.clear();
        }
    }
    out
}

/// The module a path names: its longest prefix that is a module.
fn resolve(from: &str, is_mod_rs: bool, path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<String> = match parts[0] {
        "crate" => Vec::new(),
        _ => {
            let mut b: Vec<String> = if from == "crate" {
                Vec::new()
            } else {
                from.split("::").map(String::from).collect()
            };
            // `super` in a mod.rs is the parent of its module.
            b.pop();
            let _ = is_mod_rs;
            b
        }
    };
    parts.remove(0);
    while parts.first() == Some(&"super") {
        base.pop();
        parts.remove(0);
    }
    let mut found = if base.is_empty() {
        "crate".to_string()
    } else {
        base.join("::")
    };
    for p in parts {
        let next = if found == "crate" {
            p.to_string()
        } else {
            format!("{found}::{p}")
        };
        if !modules.contains(&next) {
            break;
        }
        found = next;
    }
    Some(found)
}

#[test]
fn no_module_imports_from_a_module_that_imports_it() {
    let root = src();
    let mut all = Vec::new();
    files(&root, &mut all);
    let modules: BTreeSet<String> = all
        .iter()
        .map(|f| module_of(f.strip_prefix(&root).unwrap()))
        .collect();
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in &all {
        let rel = f.strip_prefix(&root).unwrap();
        let from = module_of(rel);
        let is_mod_rs = rel.file_name().unwrap() == "mod.rs";
        // `super` from `a/b.rs` is `a`; from `a/mod.rs` it is a's parent.
        let here = if is_mod_rs {
            format!("{from}::mod")
        } else {
            from.clone()
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (line, path) in paths(&text) {
            let here = if path.starts_with("super") {
                here.as_str()
            } else {
                from.as_str()
            };
            let Some(to) = resolve(here, is_mod_rs, &path, &modules) else {
                continue;
            };
            if to != from && to != "crate" {
                let at = format!("{}:{line} `{path}`", rel.display());
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert(at);
            }
        }
    }
    // Any cycle shows as a module that reaches itself.
    let mut cycles = Vec::new();
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((m, trail)) = stack.pop() {
            for (next, _) in edges.get(&m).into_iter().flatten() {
                if next == start {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    let lines: Vec<String> = t
                        .windows(2)
                        .map(|w| format!("  {} -> {} ({})", w[0], w[1], edges[&w[0]][&w[1]]))
                        .collect();
                    cycles.push(lines.join("\n"));
                } else if seen.insert(next.clone()) {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
        if cycles.len() > 5 {
            break;
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles (move the shared item into a module below both):\n{}",
        cycles.join("\n\n")
    );
}

#[test]
fn the_cycle_finder_sees_paths_in_use_groups_and_code() {
    let text = "use crate::{a::B, c};\nuse super::d::{E, f as g};\nfn x() { crate::h::i(); }\n#[cfg(test)]\nmod tests { use crate::z; }\n";
    let got: Vec<String> = paths(text).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        got,
        [
            "crate::a::B",
            "crate::c",
            "super::d::E",
            "super::d::f",
            "crate::h::i"
        ]
    );
}

#[test]
fn the_binary_is_thin_and_the_entry_short() {
    let main =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs")).unwrap();
    assert!(
        main.lines().count() < 30,
        "xtask/src/main.rs has {} lines",
        main.lines().count()
    );
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    assert!(
        lib.lines().count() < 100,
        "lib.rs has {} lines",
        lib.lines().count()
    );
}
