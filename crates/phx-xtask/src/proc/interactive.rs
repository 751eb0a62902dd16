//! A child we talk to line by line over its stdin and stdout (the
//! migrations check's one-boot session): started in its own registered
//! group like every other child, so Ctrl-C reaches it, and stopped with
//! its group when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{interrupted, kill_group, register, signal_name, unregister, Spawn};

pub struct Interactive {
    child: Child,
    stdin: Option<ChildStdin>,
    /// stdout and stderr lines, in the order they arrive.
    lines: Receiver<String>,
    pgid: i32,
}

impl Interactive {
    /// Starts `s` with piped stdin, stdout and stderr (`s.stdin` is unused:
    /// `send` feeds it).
    pub fn start(s: &Spawn) -> Result<Interactive> {
        let mut cmd = std::process::Command::new(s.program);
        cmd.args(s.args)
            .current_dir(s.dir)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Earlier pairs win, and a later `env` call overwrites: set them last to first.
        for (k, v) in s.env.iter().rev() {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("start `{}` in {}", s.program, s.dir.display()))?;
        let pgid = child.id() as i32;
        register(pgid);
        let (tx, lines) = mpsc::channel();
        let outs: [Option<Box<dyn Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn Read + Send>),
        ];
        for out in outs.into_iter().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Ok(Interactive {
            child,
            stdin,
            lines,
            pgid,
        })
    }

    /// Writes one line to the child's stdin.
    pub fn send(&mut self, line: &str) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .context("the session's stdin is closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .context("the session stopped reading its commands (it exited: see its output above)")
    }

    /// The next line of output; None once the child closed both outputs.
    /// Fails past `deadline` or on Ctrl-C.
    pub fn next_line(&mut self, deadline: Instant) -> Result<Option<String>> {
        loop {
            if interrupted() {
                bail!("the session was stopped by {}", signal_name());
            }
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => return Ok(Some(line)),
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
                Err(RecvTimeoutError::Timeout) if Instant::now() > deadline => {
                    bail!("the session gave no answer in time")
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Closes stdin (the child's cue to exit) and waits up to `grace` for
    /// its exit code; past that, its group is killed.
    pub fn finish(mut self, grace: Duration) -> Option<i32> {
        self.stdin = None;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        self.stdin = None;
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            kill_group(self.pgid, libc::SIGKILL);
            let _ = self.child.wait();
        }
        unregister(self.pgid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn answers_line_by_line_and_stops_at_the_end_of_stdin() {
        let args = [
            "-c".to_string(),
            "while read l; do echo \"got $l\"; echo err >&2; done; exit 3".to_string(),
        ];
        let mut s = Interactive::start(&Spawn {
            dir: Path::new("/"),
            ..Spawn::new("sh", &args)
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        s.send("one").unwrap();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            seen.push(s.next_line(deadline).unwrap().unwrap());
        }
        seen.sort();
        assert_eq!(seen, ["err", "got one"]);
        assert_eq!(s.finish(Duration::from_secs(10)), Some(3));
    }

    #[test]
    fn a_silent_child_fails_at_the_deadline_and_is_killed_on_drop() {
        let args = ["-c".to_string(), "echo $$; sleep 600".to_string()];
        let mut s = Interactive::start(&Spawn::new("sh", &args)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid: i32 = s.next_line(deadline).unwrap().unwrap().parse().unwrap();
        let err = s.next_line(Instant::now()).unwrap_err().to_string();
        assert!(err.contains("no answer in time"), "{err}");
        drop(s);
        assert!(!crate::proc::pid_alive(pid));
    }
}
