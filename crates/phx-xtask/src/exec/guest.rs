//! Another step's Mix command run inside the build env's `mix do` (xref,
//! format, assets.deploy after `compile`): one BEAM instead of one each,
//! and on Elixir 1.18 no process waiting on another's build lock. The
//! host chain runs the part and hands over its output and exit code; the
//! guest step takes them and judges them as its own, so its row, figures,
//! failure and hint are the same as when it runs alone. A part the chain
//! never reached (an earlier part failed) runs on its own instead.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;

use super::{chain, Exec};
use crate::cmd::Cmd;
use crate::ids::StepId;
use crate::proc;

/// What the host chain leaves for a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handed {
    /// The part ran: its output (Mix's marks dropped), exit code, and
    /// when it started and ended.
    Ran {
        log: Vec<String>,
        code: Option<i32>,
        span: (Instant, Instant),
    },
    /// The chain stopped before the part, and why.
    Stopped(String),
}

/// A command of step `owner` that runs as a part of `host`'s chain.
#[derive(Clone)]
pub struct Guest {
    pub owner: StepId,
    pub host: StepId,
    pub cmd: Cmd,
    pub handoff: Arc<Mutex<Option<Handed>>>,
}

impl Guest {
    pub fn new(owner: StepId, host: StepId, cmd: Cmd) -> Guest {
        Guest {
            owner,
            host,
            cmd,
            handoff: Arc::default(),
        }
    }

    fn hand(&self, handed: Handed) {
        *self.handoff.lock().unwrap_or_else(|e| e.into_inner()) = Some(handed);
    }
}

/// The output of a chain, split per part as it arrives.
struct Parts {
    /// How many parts are the host's own; the guests' come after.
    own: usize,
    guest_logs: Vec<Vec<String>>,
    starts: Vec<Option<Instant>>,
}

impl Exec {
    /// Runs the host's `parts` and then the `guests`' commands as one `mix
    /// do`. A failing own part fails the host; a failing guest part is the
    /// guest's, and the host passes (its own parts all ran before it).
    /// Each part's output follows a `+ mix …` line; Mix marks where each
    /// task starts only with MIX_DEBUG set (`chain` turns the marks back
    /// into plain output).
    pub fn run_chain(&mut self, parts: &[Cmd], guests: &[Guest]) -> Result<()> {
        if let ([one], []) = (parts, guests) {
            return self.run(one);
        }
        let mut all = parts.to_vec();
        all.extend(guests.iter().map(|g| g.cmd.clone()));
        let whole = Cmd::chain(&all);
        let tasks = all
            .iter()
            .map(|p| p.args.first().cloned().unwrap_or_default())
            .collect();
        let mut shown: Vec<String> = all.iter().map(|p| p.describe_part(&self.base)).collect();
        for (j, g) in guests.iter().enumerate() {
            shown[parts.len() + j] += &format!("  (output in the {} row)", g.owner);
        }
        let mut split = chain::Splitter::new(tasks);
        let mut out = Parts {
            own: parts.len(),
            guest_logs: vec![Vec::new(); guests.len()],
            starts: vec![None; all.len()],
        };
        let code = self.execute(&whole, &[("MIX_DEBUG", "1")], |line| {
            match split.feed(line)? {
                chain::Out::Part(k) => {
                    out.starts[k] = Some(Instant::now());
                    Some(shown[k].clone())
                }
                chain::Out::Line(l) => match split.current() {
                    Some(k) if k >= out.own => {
                        out.guest_logs[k - out.own].push(l);
                        None
                    }
                    _ => Some(l),
                },
            }
        })?;
        let failed = split.current().filter(|_| code != Some(0));
        hand_over(guests, &all, &mut out, failed, code, self.id);
        match failed {
            _ if proc::interrupted() => self.judge(&whole, code, None),
            Some(k) if k < parts.len() => self.judge(&parts[k], code, Some(&whole)),
            Some(_) => Ok(()),
            None => self.judge(&whole, code, None),
        }
    }

    /// Takes what the host chain left for `guest`, as if it had run here;
    /// runs the command itself when the chain did not reach it.
    pub fn take(&mut self, guest: &Guest) -> Result<()> {
        let handed = guest
            .handoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match handed {
            Some(Handed::Ran { log, code, span }) => {
                let echo = guest.cmd.fill(&self.vars).describe(&self.base);
                self.log(echo);
                self.ran_in_chain = Some(span);
                let secs = span.1.duration_since(span.0).as_secs_f64();
                self.log(format!(
                    "# ran in {}'s `mix do` ({secs:.2}s): the build env boots once",
                    guest.host
                ));
                for line in log {
                    self.log(line);
                }
                self.judge(&guest.cmd, code, None)
            }
            Some(Handed::Stopped(why)) => {
                self.log(format!(
                    "# not run in {}'s `mix do`: {why}; running it on its own",
                    guest.host
                ));
                self.notes.push(format!("ran on its own: {why}"));
                self.run(&guest.cmd)
            }
            None => self.run(&guest.cmd),
        }
    }
}

/// Gives each guest its part's output and code, or why it did not run.
fn hand_over(
    guests: &[Guest],
    all: &[Cmd],
    out: &mut Parts,
    failed: Option<usize>,
    code: Option<i32>,
    host: StepId,
) {
    let end = Instant::now();
    for (j, g) in guests.iter().enumerate() {
        let k = out.own + j;
        let span = out.starts[k].map(|s| {
            let next = out.starts[k + 1..].iter().flatten().next().copied();
            (s, next.unwrap_or(end))
        });
        let log = std::mem::take(&mut out.guest_logs[j]);
        let handed = match (failed, span) {
            (Some(f), _) if f < k => {
                let name = all[f].args.first().cloned().unwrap_or_default();
                Handed::Stopped(format!(
                    "`mix {name}` failed before it in {host}'s `mix do`"
                ))
            }
            (Some(f), Some(span)) if f == k => Handed::Ran { log, code, span },
            // It ran and passed; a later part failed the chain.
            (Some(_), Some(span)) => Handed::Ran {
                log,
                code: Some(0),
                span,
            },
            (None, Some(span)) if code == Some(0) => Handed::Ran { log, code, span },
            _ => Handed::Stopped(format!("{host}'s `mix do` ended before it")),
        };
        g.hand(handed);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// What each of two guests is handed when part `failed` of a chain of
    /// two own parts and the two guests failed (None: the chain passed).
    /// The output and code each guest was handed, or why it did not run.
    type Got = Result<(Vec<String>, Option<i32>), String>;

    fn handed(failed: Option<usize>) -> Vec<Got> {
        let mix = |t: &str| Cmd::mix(Path::new("."), &[t]);
        let all = [
            mix("deps.compile"),
            mix("compile"),
            mix("xref"),
            mix("format"),
        ];
        let guests = [
            Guest::new(StepId::Xref, StepId::Compile, all[2].clone()),
            Guest::new(StepId::Format, StepId::Compile, all[3].clone()),
        ];
        let started = Instant::now();
        let mut out = Parts {
            own: 2,
            guest_logs: vec![vec!["x".into()], vec!["f".into()]],
            starts: (0..4)
                .map(|k| (failed.unwrap_or(3) >= k).then_some(started))
                .collect(),
        };
        let code = Some(if failed.is_some() { 1 } else { 0 });
        hand_over(&guests, &all, &mut out, failed, code, StepId::Compile);
        guests
            .iter()
            .map(|g| match g.handoff.lock().unwrap().take().unwrap() {
                Handed::Ran { log, code, span } => {
                    assert!(span.0 <= span.1);
                    Ok((log, code))
                }
                Handed::Stopped(why) => Err(why),
            })
            .collect()
    }

    fn ran(line: &str, code: i32) -> Got {
        Ok((vec![line.into()], Some(code)))
    }

    #[test]
    fn each_guest_gets_its_own_result_or_why_it_did_not_run() {
        assert_eq!(handed(None), [ran("x", 0), ran("f", 0)]);
        assert_eq!(handed(Some(3)), [ran("x", 0), ran("f", 1)]);
        let stopped = Err("`mix xref` failed before it in compile's `mix do`".into());
        assert_eq!(handed(Some(2)), [ran("x", 1), stopped]);
        let both: Got = Err("`mix compile` failed before it in compile's `mix do`".into());
        assert_eq!(handed(Some(1)), [both.clone(), both]);
    }
}
