//! Reads a Dockerfile's ARG defaults and stage names, to check them against the toolchain pins.
//!
//! This follows BuildKit's Dockerfile frontend where it matters here: instructions are
//! case-insensitive, `\` (or the `# escape=` directive's character) continues a line, comment
//! and blank lines inside a continuation are dropped, heredoc bodies are not instructions, ARG
//! values are shell words (quotes removed, `$VAR`/`${VAR}` expanded from earlier ARGs), ARGs
//! before the first FROM are global and a stage sees one only by redeclaring it, and stage names
//! are lower-cased. ENV is not tracked, so an ARG default that reads an ENV expands it as unset.

use std::collections::BTreeMap;

/// One name declared by an ARG instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: String,
    /// The default with quotes removed and earlier ARGs expanded; `None` for `ARG NAME`.
    pub default: Option<String>,
    /// The 1-based line the ARG instruction starts on.
    pub line: usize,
}

/// An instruction after line continuations are joined.
struct Instruction {
    line: usize,
    keyword: String,
    rest: String,
}

/// Every ARG in file order, global ones and those inside stages. Each name sees the ones
/// declared before it, even in the same instruction, as BuildKit expands them; Docker's legacy
/// builder (DOCKER_BUILDKIT=0) expands a whole instruction before declaring any of its names.
pub fn args(text: &str) -> Vec<Arg> {
    let escape = escape_char(text);
    let mut globals: BTreeMap<String, String> = BTreeMap::new();
    let mut stage: Option<BTreeMap<String, String>> = None;
    let mut out = Vec::new();
    for ins in instructions(text) {
        match ins.keyword.as_str() {
            // Each stage starts with no ARG in scope: BuildKit resets them at FROM.
            "FROM" => stage = Some(BTreeMap::new()),
            "ARG" => {
                for word in split_words(&ins.rest, escape) {
                    let arg = declare(&word, ins.line, escape, &globals, &mut stage);
                    if stage.is_none() {
                        if let Some(value) = &arg.default {
                            globals.insert(arg.name.clone(), value.clone());
                        }
                    }
                    out.push(arg);
                }
            }
            _ => {}
        }
    }
    out
}

/// One `NAME[=value]` word of an ARG: expands the value in the current scope and records it
/// there. A stage's `ARG NAME` without a value takes the global default, as BuildKit does.
fn declare(
    word: &str,
    line: usize,
    escape: char,
    globals: &BTreeMap<String, String>,
    stage: &mut Option<BTreeMap<String, String>>,
) -> Arg {
    let (name, raw) = match word.split_once('=') {
        Some((name, raw)) => (name, Some(raw)),
        None => (word, None),
    };
    let scope = stage.as_ref().unwrap_or(globals);
    let default = raw.map(|raw| expand(raw, scope, escape));
    if let Some(scope) = stage.as_mut() {
        if let Some(value) = default.as_ref().or_else(|| globals.get(name)) {
            scope.insert(name.to_string(), value.clone());
        }
    }
    Arg {
        name: name.to_string(),
        default,
        line,
    }
}

/// Whether the last stage (the image that ships) declares `ARG name` and a
/// later instruction of it reads `$name` or `${name…}` (an `ENV`, say): a
/// build arg the final stage does not consume never reaches the container.
pub fn final_stage_reads(text: &str, name: &str) -> bool {
    let all = instructions(text);
    let start = all
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .map_or(0, |i| i + 1);
    let mut declared = false;
    for ins in &all[start..] {
        if declared && reads(&ins.rest, name) {
            return true;
        }
        if ins.keyword == "ARG" {
            declared |= ins
                .rest
                .split_whitespace()
                .any(|w| w.split('=').next() == Some(name));
        }
    }
    false
}

/// Whether `text` has `$name` or `${name` not followed by more of a name.
fn reads(text: &str, name: &str) -> bool {
    ["$", "${"].iter().any(|open| {
        let needle = format!("{open}{name}");
        text.match_indices(&needle).any(|(i, _)| {
            let next = text[i + needle.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// The 1-based line of the last stage's last `USER` instruction, where
/// Phoenix's generated Dockerfile drops root just before `CMD`.
pub fn final_user_line(text: &str) -> Option<usize> {
    let all = instructions(text);
    let start = all.iter().rposition(|i| i.keyword == "FROM")?;
    all[start..]
        .iter()
        .rev()
        .find(|i| i.keyword == "USER")
        .map(|i| i.line)
}

/// The names given with `FROM image AS name`, lower-cased as BuildKit stores them.
#[cfg(test)]
pub fn stages(text: &str) -> Vec<String> {
    let escape = escape_char(text);
    let mut names = Vec::new();
    for ins in instructions(text)
        .into_iter()
        .filter(|i| i.keyword == "FROM")
    {
        // Flags such as `--platform=$BUILDPLATFORM` come before the image.
        let words: Vec<String> = split_words(&ins.rest, escape)
            .into_iter()
            .filter(|w| !w.starts_with("--"))
            .collect();
        if let [_, as_, name] = &words[..] {
            if as_.eq_ignore_ascii_case("as") {
                names.push(name.to_lowercase());
            }
        }
    }
    names
}

/// `1.15.7` and `1.15` are releases of the pin `1.15`; `1.150` is not. The pin must end at a
/// version-component boundary: the end, or a separator before the next component or suffix.
pub fn matches_pin(value: &str, pin: &str) -> bool {
    match value.strip_prefix(pin) {
        Some(rest) => rest.is_empty() || rest.starts_with(['.', '-', '+', '_']),
        None => false,
    }
}

/// The escape character: `\` unless a `# escape=` parser directive at the very top says otherwise.
/// Directives end at the first line that is not one, as Docker reads them.
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        if key.trim().eq_ignore_ascii_case("escape") {
            return value.trim().chars().next().unwrap_or('\\');
        }
    }
    '\\'
}

/// Joins continuation lines into instructions, skipping comments, blank lines and heredoc bodies.
fn instructions(text: &str) -> Vec<Instruction> {
    let escape = escape_char(text);
    let mut out: Vec<Instruction> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut heredocs: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(end) = heredocs.first() {
            if line.trim() == end {
                heredocs.remove(0);
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (start, mut joined) = current.take().unwrap_or((index + 1, String::new()));
        let trimmed_end = line.trim_end();
        if let Some(head) = trimmed_end.strip_suffix(escape) {
            joined.push_str(head);
            current = Some((start, joined));
            continue;
        }
        joined.push_str(line);
        if let Some(ins) = instruction(start, &joined) {
            heredocs = heredoc_ends(&ins);
            out.push(ins);
        }
    }
    out.extend(current.and_then(|(start, joined)| instruction(start, &joined)));
    out
}

/// Splits a joined line into its keyword, upper-cased because instructions are case-insensitive,
/// and the rest.
fn instruction(line: usize, joined: &str) -> Option<Instruction> {
    let joined = joined.trim();
    let (keyword, rest) = joined
        .split_once(char::is_whitespace)
        .unwrap_or((joined, ""));
    (!keyword.is_empty()).then(|| Instruction {
        line,
        keyword: keyword.to_ascii_uppercase(),
        rest: rest.trim().to_string(),
    })
}

/// The end words of the heredocs a RUN, COPY or ADD opens (`<<EOF`, `<<-"EOF"`, `3<<EOF`), so
/// their bodies are not read as instructions. Like BuildKit, only a word that starts with `<<`
/// counts, so `$((1<<2))` and `<<<` do not.
fn heredoc_ends(ins: &Instruction) -> Vec<String> {
    if !matches!(ins.keyword.as_str(), "RUN" | "COPY" | "ADD") {
        return Vec::new();
    }
    let end_word = |word: &str| {
        let name = word
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .strip_prefix("<<")?;
        let name = name
            .strip_prefix('-')
            .unwrap_or(name)
            .trim_matches(['"', '\'']);
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        valid.then(|| name.to_string())
    };
    ins.rest.split_whitespace().filter_map(end_word).collect()
}

/// Splits an instruction's arguments on unquoted whitespace, keeping quotes and escapes for
/// `expand`, the way BuildKit's parseWords feeds its shell lexer.
fn split_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            (_, c) if c == escape && quote != Some('\'') => {
                word.push(c);
                word.extend(chars.next());
                continue;
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Removes quotes and escapes and expands `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`,
/// `${NAME:+word}`, `${NAME+word}` and `${NAME:?}` from `vars`; single quotes keep `$` literal
/// and an unset name expands to nothing, as in BuildKit's shell lexer.
fn expand(raw: &str, vars: &BTreeMap<String, String>, escape: char) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut in_double = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '"' => in_double = !in_double,
            '\'' if !in_double => {
                while i < chars.len() && chars[i] != '\'' {
                    out.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            // An escape at the very end of a word is dropped, as BuildKit does.
            c if c == escape && i == chars.len() => {}
            c if c == escape => {
                // Inside double quotes only `"`, `$` and the escape itself are escapable.
                if in_double && !matches!(chars[i], '"' | '$') && chars[i] != escape {
                    out.push(c);
                }
                out.push(chars[i]);
                i += 1;
            }
            '$' => i = expand_var(&chars, i, vars, escape, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// Expands the variable after a `$` at `chars[i - 1]`; returns the index after it.
fn expand_var(
    chars: &[char],
    i: usize,
    vars: &BTreeMap<String, String>,
    escape: char,
    out: &mut String,
) -> usize {
    let is_name = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
    if chars.get(i) != Some(&'{') {
        let name: String = chars[i..].iter().take_while(|c| is_name(c)).collect();
        if name.is_empty() {
            out.push('$');
        }
        out.push_str(vars.get(&name).map_or("", String::as_str));
        return i + name.len();
    }
    // BuildKit rejects an unclosed `${`; keeping the text shows the mistake in the message.
    let Some(close) = closing_brace(chars, i) else {
        out.extend(std::iter::once('$').chain(chars[i..].iter().copied()));
        return chars.len();
    };
    let inner: String = chars[i + 1..close].iter().collect();
    let name: String = inner.chars().take_while(is_name).collect();
    let rest = &inner[name.len()..];
    // With a colon, an empty value counts as unset, as in the shell.
    let (colon, rest) = rest.strip_prefix(':').map_or((false, rest), |r| (true, r));
    let value = vars.get(&name);
    let set = value.is_some_and(|v| !colon || !v.is_empty());
    let word = || expand(&rest[1..], vars, escape);
    let text = match rest.chars().next() {
        None => value.cloned().unwrap_or_default(),
        Some('-') if set => value.cloned().unwrap_or_default(),
        Some('-') => word(),
        Some('+') if set => word(),
        // BuildKit fails the build on `?` when unset; a default then reads as empty.
        Some('?') => value.filter(|_| set).cloned().unwrap_or_default(),
        // `+` when unset, and the `#`, `%` and `/` pattern forms this reader does not model.
        _ => String::new(),
    };
    out.push_str(&text);
    close + 1
}

/// The index of the `}` closing the `{` at `open`, counting nested `${…}`.
fn closing_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (at, c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return Some(at),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// phoenixframework/phoenix priv/templates/phx.gen.release/Dockerfile.eex, rendered by hand
    /// with elixir_vsn 1.15.7, otp_vsn 26.2.5, debian bookworm-20240130, otp_app demo and an
    /// assets dir (each EEx tag line left blank, as EEx leaves it).
    pub const PHX_GEN_RELEASE: &str = r#"# Find eligible builder and runner images on Docker Hub. We use Ubuntu/Debian instead of
# Alpine to avoid DNS resolution issues in production.
#
# https://hub.docker.com/r/hexpm/elixir/tags?page=1&name=ubuntu
# https://hub.docker.com/_/ubuntu?tab=tags
#
#
# This file is based on these images:
#
#   - https://hub.docker.com/r/hexpm/elixir/tags - for the build image
#   - https://hub.docker.com/_/debian?tab=tags&page=1&name=bookworm-20240130-slim - for the release image
#   - https://pkgs.org/ - resource for finding needed packages
#   - Ex: hexpm/elixir:1.15.7-erlang-26.2.5-debian-bookworm-20240130-slim
#
ARG ELIXIR_VERSION=1.15.7
ARG OTP_VERSION=26.2.5
ARG DEBIAN_VERSION=bookworm-20240130-slim

ARG BUILDER_IMAGE="hexpm/elixir:${ELIXIR_VERSION}-erlang-${OTP_VERSION}-debian-${DEBIAN_VERSION}"
ARG RUNNER_IMAGE="debian:${DEBIAN_VERSION}"

FROM ${BUILDER_IMAGE} as builder

# install build dependencies
RUN apt-get update -y && apt-get install -y build-essential git \
    && apt-get clean && rm -f /var/lib/apt/lists/*_*

# prepare build dir
WORKDIR /app

# install hex + rebar
RUN mix local.hex --force && \
    mix local.rebar --force

# set build ENV
ENV MIX_ENV="prod"

# install mix dependencies
COPY mix.exs mix.lock ./
RUN mix deps.get --only $MIX_ENV
RUN mkdir config

# copy compile-time config files before we compile dependencies
# to ensure any relevant config change will trigger the dependencies
# to be re-compiled.
COPY config/config.exs config/${MIX_ENV}.exs config/
RUN mix deps.compile

COPY priv priv

COPY lib lib

COPY assets assets

# compile assets
RUN mix assets.deploy

# Compile the release
RUN mix compile

# Changes to config/runtime.exs don't require recompiling the code
COPY config/runtime.exs config/

COPY rel rel
RUN mix release

# start a new build stage so that the final image will only contain
# the compiled release and other runtime necessities
FROM ${RUNNER_IMAGE}

RUN apt-get update -y && apt-get install -y libstdc++6 openssl libncurses5 locales \
  && apt-get clean && rm -f /var/lib/apt/lists/*_*

# Set the locale
RUN sed -i '/en_US.UTF-8/s/^# //g' /etc/locale.gen && locale-gen

ENV LANG en_US.UTF-8
ENV LANGUAGE en_US:en
ENV LC_ALL en_US.UTF-8

WORKDIR "/app"
RUN chown nobody /app

# set runner ENV
ENV MIX_ENV="prod"

# Only copy the final release from the build stage
COPY --from=builder --chown=nobody:root /app/_build/${MIX_ENV}/rel/demo ./

USER nobody

CMD ["/app/bin/server"]"#;

    fn arg(name: &str, default: Option<&str>, line: usize) -> Arg {
        Arg {
            name: name.to_string(),
            default: default.map(str::to_string),
            line,
        }
    }

    #[test]
    fn reads_the_phoenix_release_dockerfile() {
        assert_eq!(
            args(PHX_GEN_RELEASE),
            [
                arg("ELIXIR_VERSION", Some("1.15.7"), 15),
                arg("OTP_VERSION", Some("26.2.5"), 16),
                arg("DEBIAN_VERSION", Some("bookworm-20240130-slim"), 17),
                arg(
                    "BUILDER_IMAGE",
                    Some("hexpm/elixir:1.15.7-erlang-26.2.5-debian-bookworm-20240130-slim"),
                    19
                ),
                arg("RUNNER_IMAGE", Some("debian:bookworm-20240130-slim"), 20),
            ]
        );
        assert_eq!(stages(PHX_GEN_RELEASE), ["builder"]);
    }

    #[test]
    fn the_final_stage_must_read_the_arg() {
        let generated = "FROM b AS builder\nARG GIT_SHA\nRUN echo $GIT_SHA\nFROM r\nENV MIX_ENV=\"prod\"\nCOPY --from=builder /app ./\nUSER nobody\nCMD [\"/app/bin/server\"]\n";
        // Read in the builder only: it never reaches the image.
        assert!(!final_stage_reads(generated, "GIT_SHA"));
        assert_eq!(final_user_line(generated), Some(7));
        let fixed = generated.replace(
            "USER nobody",
            "ARG GIT_SHA\nENV GIT_SHA=${GIT_SHA}\nUSER nobody",
        );
        assert!(final_stage_reads(&fixed, "GIT_SHA"));
        let plain = fixed.replace("${GIT_SHA}", "$GIT_SHA");
        assert!(final_stage_reads(&plain, "GIT_SHA"));
        // Declared but unread, or another name that starts the same.
        let unread =
            generated.replace("USER nobody", "ARG GIT_SHA\nENV X=${GIT_SHAX}\nUSER nobody");
        assert!(!final_stage_reads(&unread, "GIT_SHA"));
    }

    #[test]
    fn pins_match_at_component_boundaries() {
        let cases = [
            ("1.15.7", "1.15", true),
            ("1.15", "1.15", true),
            ("1.150", "1.15", false),
            ("1.1", "1.15", false),
            ("26.2.5", "26", true),
            ("261.0", "26", false),
            ("1.15-otp-26", "1.15", true),
            ("", "26", false),
        ];
        for (value, pin, want) in cases {
            assert_eq!(matches_pin(value, pin), want, "{value} vs {pin}");
        }
    }

    #[test]
    fn quotes_variables_and_continuations() {
        let text = r#"arg A=1 \
  # a comment inside the continuation is dropped

    B="two \"words\"" C='$A stays' D=${A}.0 E=${UNSET:-fallback} E2="${UNSET:-fall back}" F=${A:+set} G=$A$A H=\$A \
    I="${A}" J="a\b" EMPTY= K=${EMPTY:-x} L=${EMPTY-x} M
Arg N=${A:-${UNSET}} O=pre${UNSET}post P=${UNSET+x} Q=${A+y} R=${A?} S=${EMPTY:?}
FROM scratch
"#;
        let got: Vec<(String, Option<String>, usize)> = args(text)
            .into_iter()
            .map(|a| (a.name, a.default, a.line))
            .collect();
        let want = [
            ("A", Some("1"), 1),
            ("B", Some("two \"words\""), 1),
            ("C", Some("$A stays"), 1),
            ("D", Some("1.0"), 1),
            ("E", Some("fallback"), 1),
            // Words split on unquoted spaces even inside `${…}`, as BuildKit's parseWords does.
            ("E2", Some("fall back"), 1),
            ("F", Some("set"), 1),
            ("G", Some("11"), 1),
            ("H", Some("$A"), 1),
            ("I", Some("1"), 1),
            ("J", Some("a\\b"), 1),
            ("EMPTY", Some(""), 1),
            ("K", Some("x"), 1),
            ("L", Some(""), 1),
            ("M", None, 1),
            ("N", Some("1"), 6),
            ("O", Some("prepost"), 6),
            ("P", Some(""), 6),
            ("Q", Some("y"), 6),
            ("R", Some("1"), 6),
            ("S", Some(""), 6),
        ];
        let want: Vec<(String, Option<String>, usize)> = want
            .iter()
            .map(|(n, d, l)| (n.to_string(), d.map(str::to_string), *l))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn stage_scope_follows_buildkit() {
        let text = "ARG V=1\nARG BASE=debian\nFROM --platform=$BUILDPLATFORM ${BASE} AS Build\nARG V\nARG W=${V}.0\n\
                    from build as Runtime\nARG X=${V}\nFROM scratch\n";
        assert_eq!(
            args(text),
            [
                arg("V", Some("1"), 1),
                arg("BASE", Some("debian"), 2),
                arg("V", None, 4),
                arg("W", Some("1.0"), 5),
                // V was not redeclared in this stage, so it is not in scope.
                arg("X", Some(""), 7),
            ]
        );
        assert_eq!(stages(text), ["build", "runtime"]);
    }

    #[test]
    fn heredocs_and_the_escape_directive() {
        let heredoc = "FROM a AS one\nRUN <<EOF\nARG FAKE=1\nFROM fake AS fake\nEOF\nRUN echo $((1<<2))\nARG REAL=2\n";
        assert_eq!(args(heredoc), [arg("REAL", Some("2"), 7)]);
        assert_eq!(stages(heredoc), ["one"]);

        let backtick = "# escape=`\n\nARG PATHS=\"C:\\dir\" `\n  NEXT=`$x\nFROM windows AS Win\n";
        assert_eq!(
            args(backtick),
            [arg("PATHS", Some("C:\\dir"), 3), arg("NEXT", Some("$x"), 3)]
        );
        assert_eq!(stages(backtick), ["win"]);
    }
}
