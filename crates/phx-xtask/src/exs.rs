//! Reading the literal parts of an app's Elixir files without running
//! Elixir: `config :esbuild, shop: [args: ~w(…), cd: Path.expand(…)]` in
//! config/config.exs, an alias's list of tasks in mix.exs. Only literals are
//! read (strings, `~w` sigils, lists, keyword lists, calls with literal
//! arguments); anything else is `Term::Other`, so a caller can say what it
//! could not read instead of guessing.

/// One Elixir expression, as far as its literal shape goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A string without interpolation.
    Str(String),
    /// `~w(a b c)` without interpolation.
    Words(Vec<String>),
    List(Vec<Term>),
    Keyword(Vec<(String, Term)>),
    /// `Path.expand("..", __DIR__)`.
    Call(String, Vec<Term>),
    /// `__DIR__`, `:atom`, `Mix.Project.build_path` without parens.
    Name(String),
    Other,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String, bool),
    Sigil(char, String),
    Atom(String),
    Key(String),
    Ident(String),
    Punct(char),
    Op,
}

/// Every `config :app, key: value, …` statement's keywords, in order: the
/// two-argument form (`config :esbuild, :version, "0.25.4"`) as one pair.
pub fn config(text: &str, app: &str) -> Vec<(String, Term)> {
    let toks = tokens(text);
    let mut out = Vec::new();
    for i in 0..toks.len() {
        let head = toks.get(i..i + 3);
        let Some([Tok::Ident(c), Tok::Atom(a), Tok::Punct(',')]) = head else {
            continue;
        };
        if c != "config" || a != app {
            continue;
        }
        let mut p = Parser {
            toks: &toks,
            at: i + 3,
        };
        match p.toks.get(p.at) {
            Some(Tok::Key(_)) => out.extend(p.keywords()),
            Some(Tok::Atom(k)) => {
                let key = k.clone();
                p.at += 1;
                if p.eat(',') {
                    out.push((key, p.expr()));
                }
            }
            _ => {}
        }
    }
    out
}

/// The value of the first `key: value` (or `"key": value`) in the file.
pub fn keyword_value(text: &str, key: &str) -> Option<Term> {
    let toks = tokens(text);
    let at = toks.iter().position(|t| *t == Tok::Key(key.into()))?;
    Some(
        Parser {
            toks: &toks,
            at: at + 1,
        }
        .expr(),
    )
}

struct Parser<'a> {
    toks: &'a [Tok],
    at: usize,
}

impl Parser<'_> {
    fn eat(&mut self, c: char) -> bool {
        let hit = self.toks.get(self.at) == Some(&Tok::Punct(c));
        self.at += usize::from(hit);
        hit
    }

    /// `k: v, k: v` up to the first pair not followed by a comma and a key.
    fn keywords(&mut self) -> Vec<(String, Term)> {
        let mut pairs = Vec::new();
        while let Some(Tok::Key(k)) = self.toks.get(self.at) {
            self.at += 1;
            pairs.push((k.clone(), self.expr()));
            let more = matches!(self.toks.get(self.at + 1), Some(Tok::Key(_)));
            if !(more && self.eat(',')) {
                break;
            }
        }
        pairs
    }

    /// A primary, and `Other` when an operator joins it to more.
    fn expr(&mut self) -> Term {
        let term = self.primary();
        if self.toks.get(self.at) == Some(&Tok::Op) {
            while self.toks.get(self.at) == Some(&Tok::Op) {
                self.at += 1;
                self.primary();
            }
            return Term::Other;
        }
        term
    }

    fn primary(&mut self) -> Term {
        let Some(tok) = self.toks.get(self.at).cloned() else {
            return Term::Other;
        };
        self.at += 1;
        match tok {
            Tok::Str(s, false) => Term::Str(s),
            Tok::Sigil('w' | 'W', body) if !body.contains("#{") => {
                Term::Words(body.split_whitespace().map(String::from).collect())
            }
            Tok::Atom(a) => Term::Name(format!(":{a}")),
            Tok::Punct('[') if matches!(self.toks.get(self.at), Some(Tok::Key(_))) => {
                let pairs = self.keywords();
                self.eat(',');
                self.close(']')
                    .map_or(Term::Other, |_| Term::Keyword(pairs))
            }
            Tok::Punct('[') => self.items(']').map_or(Term::Other, Term::List),
            Tok::Punct('{') => self.items('}').map_or(Term::Other, |_| Term::Other),
            Tok::Ident(name) if self.eat('(') => self
                .items(')')
                .map_or(Term::Other, |args| Term::Call(name, args)),
            Tok::Ident(name) => Term::Name(name),
            // A map (`%{…}`) or a unary operator: whatever follows is part of it.
            Tok::Op => {
                self.primary();
                Term::Other
            }
            _ => Term::Other,
        }
    }

    /// Comma-separated expressions up to `end` (a trailing comma allowed).
    fn items(&mut self, end: char) -> Option<Vec<Term>> {
        let mut items = Vec::new();
        while !self.eat(end) {
            self.toks.get(self.at)?;
            items.push(self.expr());
            if !self.eat(',') {
                return self.close(end).map(|_| items);
            }
        }
        Some(items)
    }

    /// Skips to the `end` that closes the current bracket.
    fn close(&mut self, end: char) -> Option<()> {
        let mut depth = 0;
        while let Some(t) = self.toks.get(self.at) {
            self.at += 1;
            match t {
                Tok::Punct(c) if *c == end && depth == 0 => return Some(()),
                Tok::Punct('[' | '(' | '{') => depth += 1,
                Tok::Punct(']' | ')' | '}') => depth -= 1,
                _ => {}
            }
        }
        None
    }
}

/// The tokens of `text`, with comments dropped.
fn tokens(text: &str) -> Vec<Tok> {
    let s: Vec<char> = text.chars().collect();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied().unwrap_or(' ');
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            let (body, interp, end) = string(&s, i);
            i = end;
            if s.get(i) == Some(&':') && s.get(i + 1).is_none_or(|c| c.is_whitespace()) {
                out.push(Tok::Key(body));
                i += 1;
            } else {
                out.push(Tok::Str(body, interp));
            }
        } else if c == '~' && next.is_ascii_alphabetic() {
            let (body, end) = sigil(&s, i + 2);
            out.push(Tok::Sigil(next, body));
            i = end;
        } else if c == ':' && (next.is_alphanumeric() || next == '_') {
            let end = word_end(&s, i + 1);
            out.push(Tok::Atom(s[i + 1..end].iter().collect()));
            i = end;
        } else if c.is_alphanumeric() || c == '_' {
            let end = word_end(&s, i);
            let word: String = s[i..end].iter().collect();
            let key = s.get(end) == Some(&':') && s.get(end + 1).is_none_or(|c| c.is_whitespace());
            out.push(if key {
                Tok::Key(word)
            } else {
                Tok::Ident(word)
            });
            i = end + usize::from(key);
        } else if "[](){},".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            out.push(Tok::Op);
            i += 1;
            while i < s.len() && "=<>|+-*/\\&!^.%".contains(s[i]) {
                i += 1;
            }
        }
    }
    out
}

/// An identifier with dots (`Mix.Project.build_path`), `?` and `!`.
fn word_end(s: &[char], mut i: usize) -> usize {
    while i < s.len() && (s[i].is_alphanumeric() || "_.?!".contains(s[i])) {
        i += 1;
    }
    i
}

/// A string from its opening quote (a heredoc too): its text, whether it
/// interpolates, and the index after it.
fn string(s: &[char], start: usize) -> (String, bool, usize) {
    let heredoc = s.get(start..start + 3) == Some(&['"'; 3]);
    let (mut i, mut body, mut interp) = (start + if heredoc { 3 } else { 1 }, String::new(), false);
    while i < s.len() {
        if heredoc && s.get(i..i + 3) == Some(&['"'; 3]) {
            return (body, interp, i + 3);
        }
        match s[i] {
            '\\' if i + 1 < s.len() => {
                body.push(s[i + 1]);
                i += 2;
                continue;
            }
            '"' if !heredoc => return (body, interp, i + 1),
            '#' if s.get(i + 1) == Some(&'{') => interp = true,
            c => body.push(c),
        }
        i += 1;
    }
    (body, interp, i)
}

/// A sigil's body from its opening delimiter, and the index after its
/// closing one and modifiers.
fn sigil(s: &[char], open: usize) -> (String, usize) {
    let Some(&d) = s.get(open) else {
        return (String::new(), open);
    };
    let close = match d {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        c => c,
    };
    let mut i = open + 1;
    let mut body = String::new();
    while i < s.len() && s[i] != close {
        body.push(s[i]);
        i += 1;
    }
    i += 1;
    while i < s.len() && s[i].is_ascii_alphabetic() {
        i += 1;
    }
    (body, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_profiles_as_keyword_lists() {
        let text = r#"import Config
# config :esbuild, old: [args: ~w(x)]
config :esbuild, :version, "0.17.11"
config :esbuild,
  shop: [
    args:
      ~w(js/app.js --bundle --outdir=../priv/static/assets/js --external:/fonts/*),
    cd: Path.expand("../assets", __DIR__),
    env: %{"NODE_PATH" => [Path.expand("../deps", __DIR__), Mix.Project.build_path()]}
  ],
  other: [args: ["a.js", "--outfile=" <> "x"], cd: Path.expand("..", __DIR__),]
config :tailwind, version: "4.1.12"
"#;
        let got = config(text, "esbuild");
        assert_eq!(got[0], ("version".into(), Term::Str("0.17.11".into())));
        let Term::Keyword(shop) = &got[1].1 else {
            panic!("{got:?}")
        };
        assert_eq!(got[1].0, "shop");
        assert_eq!(
            shop[0].1,
            Term::Words(
                [
                    "js/app.js",
                    "--bundle",
                    "--outdir=../priv/static/assets/js",
                    "--external:/fonts/*"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(
            shop[1].1,
            Term::Call(
                "Path.expand".into(),
                vec![Term::Str("../assets".into()), Term::Name("__DIR__".into())]
            )
        );
        assert_eq!(shop[2].1, Term::Other);
        let Term::Keyword(other) = &got[2].1 else {
            panic!("{got:?}")
        };
        assert_eq!(
            other[0].1,
            Term::List(vec![Term::Str("a.js".into()), Term::Other])
        );
        assert_eq!(other.len(), 2);
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn quoted_keys_and_interpolation() {
        let text = "defp aliases do\n  [\"assets.deploy\": [\"tailwind shop --minify\", \"phx.digest\"], x: \"#{a}\"]\nend";
        assert_eq!(
            keyword_value(text, "assets.deploy"),
            Some(Term::List(vec![
                Term::Str("tailwind shop --minify".into()),
                Term::Str("phx.digest".into())
            ]))
        );
        assert_eq!(keyword_value(text, "x"), Some(Term::Other));
        assert_eq!(keyword_value(text, "nope"), None);
    }
}
