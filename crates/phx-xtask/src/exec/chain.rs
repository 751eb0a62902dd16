//! Reads the output of a `mix do a + b + c` chain back as its commands.
//! With MIX_DEBUG set, Mix prints a mark as each task starts and ends
//! (`-> Running mix compile --warnings-as-errors (inside Demo.MixProject)`,
//! `<- Ran mix compile in 12ms`), in Elixir 1.14 as in main. The tasks the
//! `do` task runs directly are the chain's parts; the marks say which part
//! runs, so a failure is pinned on it. The marks are dropped from the log,
//! and so is the stacktrace MIX_DEBUG adds to a Mix error, so the log reads
//! as plain `mix` output.

const STARTED: &str = "-> Running mix ";
const ENDED: &str = "<- Ran mix ";

/// What one line of output turns into.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// Part N of the chain starts here.
    Part(usize),
    Line(String),
}

pub struct Splitter {
    /// Each part's task name (`deps.compile`, `compile`, `test`).
    tasks: Vec<String>,
    depth: usize,
    /// The depth of the `do` task's own mark; its parts are one below.
    chain: Option<usize>,
    current: Option<usize>,
    /// The current part's own task has ended (an alias may run others first).
    current_ended: bool,
    /// A Mix error was printed: what follows it is its stacktrace.
    after_error: bool,
}

impl Splitter {
    pub fn new(tasks: Vec<String>) -> Splitter {
        Splitter {
            tasks,
            depth: 0,
            chain: None,
            current: None,
            current_ended: false,
            after_error: false,
        }
    }

    /// The part that ran last: the one that failed, when the chain failed.
    pub fn current(&self) -> Option<usize> {
        self.current
    }

    pub fn feed(&mut self, line: &str) -> Option<Out> {
        if let Some(rest) = line.strip_prefix(STARTED) {
            self.depth += 1;
            let task = rest.split_whitespace().next().unwrap_or_default();
            return match self.chain {
                None if task == "do" => {
                    self.chain = Some(self.depth);
                    None
                }
                Some(d) if self.depth == d + 1 => self.child(task).map(Out::Part),
                _ => None,
            };
        }
        if let Some(rest) = line.strip_prefix(ENDED) {
            let task = rest.split_whitespace().next().unwrap_or_default();
            let direct = self.chain.is_some_and(|d| self.depth == d + 1);
            if direct && self.current.is_some_and(|c| self.tasks[c] == task) {
                self.current_ended = true;
            }
            self.depth = self.depth.saturating_sub(1);
            return None;
        }
        // Without MIX_DEBUG Mix prints its own errors as `** (Mix) message`
        // and no stacktrace; with it, it re-raises them.
        if let Some(rest) = line.strip_prefix("** (Mix.") {
            if let Some(i) = rest.find(") ") {
                self.after_error = true;
                return Some(Out::Line(format!("** (Mix) {}", &rest[i + 2..])));
            }
        }
        if self.after_error && stack_entry(line) {
            return None;
        }
        Some(Out::Line(line.to_string()))
    }

    /// A task the `do` task ran directly: the part with that name, or the
    /// next part when an alias's first task has another name.
    fn child(&mut self, task: &str) -> Option<usize> {
        let from = self.current.map_or(0, |c| c + 1);
        let next = match (
            self.tasks[from.min(self.tasks.len())..]
                .iter()
                .position(|t| t == task),
            self.current,
        ) {
            (Some(j), _) => from + j,
            (None, None) => 0,
            (None, Some(c)) if self.current_ended && c + 1 < self.tasks.len() => c + 1,
            // A further task of the current part's alias.
            (None, Some(_)) => return None,
        };
        self.current = Some(next);
        self.current_ended = false;
        Some(next)
    }
}

/// `    (mix 1.14.0) lib/mix.ex:513: Mix.raise/2` or `    mix.exs:5: …`.
fn stack_entry(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("    ") else {
        return false;
    };
    if rest.starts_with('(') {
        return rest.contains(") ");
    }
    let head = rest.split(": ").next().unwrap_or_default();
    head.rsplit_once(':').is_some_and(|(file, line)| {
        !file.is_empty() && !file.contains(' ') && line.chars().all(|c| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tasks: &[&str], out: &str) -> (Vec<String>, Option<usize>) {
        let mut s = Splitter::new(tasks.iter().map(|t| t.to_string()).collect());
        let shown = out
            .lines()
            .filter_map(|l| match s.feed(l)? {
                Out::Part(k) => Some(format!("+ {}", tasks[k])),
                Out::Line(l) => Some(l),
            })
            .collect();
        (shown, s.current())
    }

    /// What Elixir 1.14 prints for `MIX_DEBUG=1 mix do deps.compile +
    /// compile --warnings-as-errors` with a path dep and a warning.
    const BUILD: &str = "\
-> Running mix loadconfig (inside Demo.MixProject)
<- Ran mix loadconfig in 4ms
-> Running mix do deps.compile + compile --warnings-as-errors (inside Demo.MixProject)
-> Running mix deps.compile (inside Demo.MixProject)
-> Running mix compile --from-mix-deps-compile (inside Helper.MixProject)
==> helper
Compiling 1 file (.ex)
<- Ran mix compile in 80ms
<- Ran mix deps.compile in 90ms
-> Running mix compile --warnings-as-errors (inside Demo.MixProject)
-> Running mix loadpaths --warnings-as-errors (inside Demo.MixProject)
<- Ran mix loadpaths in 3ms
Compiling 12 files (.ex)
warning: variable \"unused\" is unused
Compilation failed due to warnings while using the --warnings-as-errors option
";

    #[test]
    fn marks_become_part_lines_and_name_the_part_that_failed() {
        let (shown, failed) = run(&["deps.compile", "compile"], BUILD);
        assert_eq!(
            shown,
            [
                "+ deps.compile",
                "==> helper",
                "Compiling 1 file (.ex)",
                "+ compile",
                "Compiling 12 files (.ex)",
                "warning: variable \"unused\" is unused",
                "Compilation failed due to warnings while using the --warnings-as-errors option",
            ]
        );
        assert_eq!(failed, Some(1), "the dep's own `compile` is not the part");
    }

    #[test]
    fn a_mix_error_reads_as_plain_mix_prints_it() {
        let out = "\
-> Running mix do deps.compile + deps.unlock --check-unused + compile (inside A.MixProject)
-> Running mix deps.compile (inside A.MixProject)
<- Ran mix deps.compile in 8ms
-> Running mix deps.unlock --check-unused (inside A.MixProject)
** (Mix.Error) Unused dependencies in mix.lock file:

  * :jason

    (mix 1.14.0) lib/mix.ex:513: Mix.raise/2
    (stdlib 4.2) timer.erl:235: :timer.tc/1
    mix.exs:5: A.MixProject.project/0
";
        let (shown, failed) = run(&["deps.compile", "deps.unlock", "compile"], out);
        assert_eq!(
            shown,
            [
                "+ deps.compile",
                "+ deps.unlock",
                "** (Mix) Unused dependencies in mix.lock file:",
                "",
                "  * :jason",
                "",
            ]
        );
        assert_eq!(failed, Some(1));
    }

    #[test]
    fn an_alias_part_runs_its_own_tasks() {
        // Phoenix's `test` alias: ecto.create, ecto.migrate, then test.
        let out = "\
-> Running mix do compile + test (inside A.MixProject)
-> Running mix compile (inside A.MixProject)
<- Ran mix compile in 8ms
-> Running mix ecto.create --quiet (inside A.MixProject)
<- Ran mix ecto.create in 8ms
-> Running mix ecto.migrate --quiet (inside A.MixProject)
could not migrate
";
        let (shown, failed) = run(&["compile", "test"], out);
        assert_eq!(shown, ["+ compile", "+ test", "could not migrate"]);
        assert_eq!(failed, Some(1), "ecto.migrate belongs to the test part");
    }

    #[test]
    fn without_marks_no_part_is_named() {
        let (shown, failed) = run(&["compile", "test"], "plain output\n");
        assert_eq!(shown, ["plain output"]);
        assert_eq!(failed, None);
    }
}
