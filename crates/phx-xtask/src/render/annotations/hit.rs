//! A place in the code and what was wrong there, and how a log line names
//! one (`lib/x.ex:12:5: message`): what every tool's parser shares.

/// One problem at a place in the code. `file` is as the tool printed it:
/// relative to the app dir, or absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub file: String,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub message: String,
}

impl Hit {
    pub fn new(loc: Loc, message: impl Into<String>) -> Hit {
        Hit {
            file: loc.file,
            line: loc.line,
            col: loc.col,
            message: message.into(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub line: Option<u32>,
    pub col: Option<u32>,
}

const SOURCE_EXTS: [&str; 14] = [
    ".ex", ".exs", ".eex", ".heex", ".leex", ".erl", ".hrl", ".js", ".jsx", ".ts", ".tsx", ".mjs",
    ".cjs", ".css",
];

pub fn is_source(file: &str) -> bool {
    !file.is_empty()
        && !file.contains(char::is_whitespace)
        && SOURCE_EXTS.iter().any(|e| file.ends_with(e))
}

/// `lib/x.ex:12:5: rest`, `lib/x.ex:12 rest`, `lib/x.ex:12` or `lib/x.ex: rest`
/// at the start of `s`: the location and what follows it.
pub fn location(s: &str) -> Option<(Loc, &str)> {
    let colon = s.find(':')?;
    let file = &s[..colon];
    if !is_source(file) {
        return None;
    }
    let rest = &s[colon + 1..];
    let (line, rest) = number(rest);
    let (col, rest) = match (line, rest.strip_prefix(':')) {
        (Some(_), Some(r)) => match number(r) {
            (Some(c), r) => (Some(c), r),
            (None, _) => (None, rest),
        },
        _ => (None, rest),
    };
    let ends = rest.is_empty() || rest.starts_with(':') || rest.starts_with(' ');
    ends.then(|| {
        (
            Loc {
                file: file.to_string(),
                line,
                col,
            },
            rest.trim_start_matches(':').trim_start(),
        )
    })
}

pub fn number(s: &str) -> (Option<u32>, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    match s[..end].parse() {
        Ok(n) => (Some(n), &s[end..]),
        Err(_) => (None, s),
    }
}
