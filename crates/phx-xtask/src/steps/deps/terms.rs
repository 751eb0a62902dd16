//! The two term formats the deps check reads without starting the BEAM:
//! Elixir literals (mix.lock) and Erlang's external term format (the
//! `.hex` manifest Hex writes into each fetched package).

/// An Elixir literal as mix.lock writes it. A keyword pair (`key: v` in a
/// list or map) reads as the two-element tuple it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Atom(String),
    Str(String),
    List(Vec<Term>),
    Tuple(Vec<Term>),
    Map(Vec<(Term, Term)>),
    /// Numbers and anything else we only need to skip.
    Other(String),
}

pub fn parse(text: &str) -> Option<Term> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let t = p.value()?;
    p.ws();
    (p.i == p.s.len()).then_some(t)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'#' => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                c if c.is_ascii_whitespace() => self.i += 1,
                _ => break,
            }
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.ws();
        let ok = self.s[self.i..].starts_with(token.as_bytes());
        if ok {
            self.i += token.len();
        }
        ok
    }

    fn value(&mut self) -> Option<Term> {
        self.ws();
        match self.peek()? {
            b'%' => {
                self.i += 1;
                self.eat("{").then_some(())?;
                let items = self.items(b'}', true)?;
                let pairs = items
                    .into_iter()
                    .map(|t| match t {
                        Term::Tuple(mut kv) if kv.len() == 2 => {
                            let v = kv.pop()?;
                            Some((kv.pop()?, v))
                        }
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Term::Map(pairs))
            }
            b'{' => {
                self.i += 1;
                Some(Term::Tuple(self.items(b'}', false)?))
            }
            b'[' => {
                self.i += 1;
                Some(Term::List(self.items(b']', false)?))
            }
            b'"' => Some(Term::Str(self.string()?)),
            b':' => {
                self.i += 1;
                match self.peek()? {
                    b'"' => Some(Term::Atom(self.string()?)),
                    _ => Some(Term::Atom(self.word())),
                }
            }
            _ => {
                let w = self.word();
                match w.as_str() {
                    "" => None,
                    "true" | "false" | "nil" => Some(Term::Atom(w)),
                    _ => Some(Term::Other(w)),
                }
            }
        }
    }

    /// Items up to `close`; `key: value` and (in a map) `k => v` are pairs.
    fn items(&mut self, close: u8, map: bool) -> Option<Vec<Term>> {
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.peek()? == close {
                self.i += 1;
                return Some(out);
            }
            let item = match self.keyword_key() {
                Some(k) => Term::Tuple(vec![Term::Atom(k), self.value()?]),
                None => {
                    let v = self.value()?;
                    if map && self.eat("=>") {
                        Term::Tuple(vec![v, self.value()?])
                    } else {
                        v
                    }
                }
            };
            out.push(item);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {}
                _ => return None,
            }
        }
    }

    /// `name:` or `"name":` followed by a space, else nothing is consumed.
    fn keyword_key(&mut self) -> Option<String> {
        let start = self.i;
        let key = match self.peek()? {
            b'"' => self.string(),
            c if c.is_ascii_alphabetic() || c == b'_' => Some(self.word()),
            _ => None,
        };
        let spaced = self
            .s
            .get(self.i + 1)
            .is_some_and(|c| c.is_ascii_whitespace());
        match key {
            Some(k) if self.peek() == Some(b':') && spaced => {
                self.i += 1;
                Some(k)
            }
            _ => {
                self.i = start;
                None
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"_.@?!-+".contains(&c))
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    out.push(*self.s.get(self.i + 1)?);
                    self.i += 2;
                }
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

/// A term in Erlang's external format, the few kinds a `.hex` file holds.
#[derive(Debug, PartialEq)]
pub enum Etf {
    Atom(String),
    Bin(Vec<u8>),
    Int(i64),
    List(Vec<Etf>),
    Tuple(Vec<Etf>),
    Map(Vec<(Etf, Etf)>),
}

impl Etf {
    /// A binary or an atom as text (`nil` stays the word `nil`).
    pub fn text(&self) -> Option<String> {
        match self {
            Etf::Bin(b) => String::from_utf8(b.clone()).ok(),
            Etf::Atom(a) => Some(a.clone()),
            _ => None,
        }
    }
}

pub struct EtfReader<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

impl EtfReader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.i..self.i + n)?;
        self.i += n;
        Some(s)
    }

    fn uint(&mut self, n: usize) -> Option<usize> {
        Some(
            self.take(n)?
                .iter()
                .fold(0, |a, b| (a << 8) | usize::from(*b)),
        )
    }

    pub fn term(&mut self) -> Option<Etf> {
        let tag = self.take(1)?[0];
        Some(match tag {
            97 => Etf::Int(self.uint(1)? as i64),
            98 => Etf::Int(i64::from(self.uint(4)? as u32 as i32)),
            100 | 118 => {
                let n = self.uint(2)?;
                Etf::Atom(String::from_utf8_lossy(self.take(n)?).into_owned())
            }
            115 | 119 => {
                let n = self.uint(1)?;
                Etf::Atom(String::from_utf8_lossy(self.take(n)?).into_owned())
            }
            104 | 105 => {
                let n = if tag == 104 {
                    self.uint(1)?
                } else {
                    self.uint(4)?
                };
                Etf::Tuple((0..n).map(|_| self.term()).collect::<Option<_>>()?)
            }
            116 => {
                let n = self.uint(4)?;
                let pairs = (0..n)
                    .map(|_| Some((self.term()?, self.term()?)))
                    .collect::<Option<_>>()?;
                Etf::Map(pairs)
            }
            106 => Etf::List(Vec::new()),
            107 => {
                let n = self.uint(2)?;
                Etf::List(
                    self.take(n)?
                        .iter()
                        .map(|b| Etf::Int(i64::from(*b)))
                        .collect(),
                )
            }
            108 => {
                let n = self.uint(4)?;
                let items = (0..n).map(|_| self.term()).collect::<Option<_>>()?;
                // The tail of a proper list is NIL.
                self.term()?;
                Etf::List(items)
            }
            109 => {
                let n = self.uint(4)?;
                Etf::Bin(self.take(n)?.to_vec())
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(a: &str) -> Term {
        Term::Atom(a.into())
    }

    fn s(a: &str) -> Term {
        Term::Str(a.into())
    }

    #[test]
    fn reads_a_mix_lock() {
        let lock = r#"%{
  "cowboy": {:hex, :cowboy, "2.10.0", "ff", [:make, :rebar3], [{:cowlib, "2.12.1", [hex: :cowlib, repo: "hexpm", optional: false]}], "hexpm", "3a"},
  "dep": {:git, "https://x/dep.git", "abc", [branch: "main"]},
}
"#;
        let Some(Term::Map(entries)) = parse(lock) else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0, atom("cowboy"));
        let Term::Tuple(items) = &entries[0].1 else {
            panic!()
        };
        assert_eq!(items[..3], [atom("hex"), atom("cowboy"), s("2.10.0")]);
        assert_eq!(items[4], Term::List(vec![atom("make"), atom("rebar3")]));
        assert_eq!(items[7], s("3a"));
        let Term::Tuple(git) = &entries[1].1 else {
            panic!()
        };
        assert_eq!(
            git[3],
            Term::List(vec![Term::Tuple(vec![atom("branch"), s("main")])])
        );
        assert_eq!(parse("%{} junk"), None);
    }

    #[test]
    fn reads_the_external_term_format() {
        // term_to_binary({:ok, [1, <<"a">>], %{k: :v}}) with a UTF-8 atom.
        let b = [
            131, 104, 3, 119, 2, b'o', b'k', 108, 0, 0, 0, 2, 97, 1, 109, 0, 0, 0, 1, b'a', 106,
            116, 0, 0, 0, 1, 100, 0, 1, b'k', 100, 0, 1, b'v',
        ];
        let mut r = EtfReader { b: &b, i: 1 };
        assert_eq!(
            r.term(),
            Some(Etf::Tuple(vec![
                Etf::Atom("ok".into()),
                Etf::List(vec![Etf::Int(1), Etf::Bin(b"a".to_vec())]),
                Etf::Map(vec![(Etf::Atom("k".into()), Etf::Atom("v".into()))]),
            ]))
        );
    }
}
