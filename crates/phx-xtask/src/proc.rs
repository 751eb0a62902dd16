//! Every child we start runs in its own process group, registered here, so
//! that Ctrl-C or SIGTERM can stop whole trees (mix, the BEAM, npm, esbuild)
//! rather than only the direct child. The signal thread sets the interrupt
//! flag and signals every group; the runner then reports and exits 130.
//! This is the only module that spawns or signals a process: a child
//! started anywhere else would be invisible to Ctrl-C.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

pub use interactive::Interactive;

mod interactive;

static GROUPS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);
/// The signal that interrupted us, or 0.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Cleanup for things that are not process groups (containers), run once
/// by `shutdown`.
type Hook = Box<dyn FnOnce() + Send>;
static HOOKS: Mutex<Vec<(u64, Hook)>> = Mutex::new(Vec::new());

pub fn interrupted() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// The exit code for the signal that interrupted us (130, as for Ctrl-C).
pub fn interrupt_code() -> u8 {
    130
}

pub fn signal_name() -> &'static str {
    match SIGNAL.load(Ordering::SeqCst) {
        libc::SIGTERM => "SIGTERM",
        _ => "SIGINT",
    }
}

/// Starts the thread that turns SIGINT and SIGTERM into an orderly stop.
/// A second signal kills every group at once.
pub fn handle_signals() -> Result<()> {
    // Installed once: a second handler thread would take every first signal
    // for a second one and kill at once.
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| result = install());
    result
}

fn install() -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM])
        .context("install signal handlers")?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let first = SIGNAL.swap(sig, Ordering::SeqCst) == 0;
            signal_groups(if first { libc::SIGTERM } else { libc::SIGKILL });
            if first {
                // Children get a moment to exit cleanly, then are killed.
                std::thread::spawn(|| {
                    std::thread::sleep(Duration::from_secs(5));
                    signal_groups(libc::SIGKILL);
                });
            }
        }
    });
    Ok(())
}

fn signal_groups(sig: i32) {
    if let Some(groups) = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        for &pgid in groups {
            kill_group(pgid, sig);
        }
    }
}

fn register(pgid: i32) {
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(pgid);
    // A signal that arrived while this child was being spawned must reach it too.
    if interrupted() {
        kill_group(pgid, libc::SIGTERM);
    }
}

fn unregister(pgid: i32) {
    if let Some(g) = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        g.remove(&pgid);
    }
}

/// Registers cleanup to run on `shutdown`; returns a key for `forget`.
pub fn on_shutdown(hook: impl FnOnce() + Send + 'static) -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let key = NEXT.fetch_add(1, Ordering::SeqCst);
    HOOKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((key, Box::new(hook)));
    key
}

/// Drops a hook whose cleanup already happened the normal way.
pub fn forget(key: u64) {
    HOOKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(k, _)| *k != key);
}

/// Stops every registered group and runs the remaining cleanup hooks.
pub fn shutdown() {
    signal_groups(libc::SIGKILL);
    let hooks: Vec<_> = std::mem::take(&mut *HOOKS.lock().unwrap_or_else(|e| e.into_inner()));
    for (_, h) in hooks.into_iter().rev() {
        h();
    }
}

/// What to start: the program, its arguments, where, and extra env
/// (earlier pairs win over later ones with the same name).
pub struct Spawn<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub dir: &'a Path,
    pub env: Vec<(&'a str, &'a str)>,
    /// Fed on stdin (then closed); None gives the child no stdin at all.
    pub stdin: Option<&'a [u8]>,
}

impl<'a> Spawn<'a> {
    /// `program args…` in `/`, with nothing added to its environment.
    pub fn new(program: &'a str, args: &'a [String]) -> Spawn<'a> {
        Spawn {
            program,
            args,
            dir: Path::new("/"),
            env: Vec::new(),
            stdin: None,
        }
    }
}

/// A short command's stdout when it succeeds; otherwise an error with
/// its status and what it said on stderr.
pub fn read(s: &Spawn, timeout: Duration) -> Result<String> {
    let out = output(s, timeout, |_| {})?;
    if !out.status.success() {
        bail!(
            "`{}` exited with {}: {}",
            s.program,
            out.status,
            out.stderr.trim()
        );
    }
    Ok(out.stdout)
}

fn expression(s: &Spawn) -> duct::Expression {
    let mut e = duct::cmd(s.program, s.args).dir(s.dir);
    // duct keeps the first value it is given for a name.
    for (k, v) in &s.env {
        e = e.env(k, v);
    }
    e.before_spawn(|c| {
        c.process_group(0);
        Ok(())
    })
}

/// Runs a command to completion with stdout and stderr merged, calling
/// `line` for each line of output. Returns the exit code (None when killed).
pub fn run(s: &Spawn, mut line: impl FnMut(&str)) -> Result<Option<i32>> {
    let e = expression(s).stderr_to_stdout().unchecked();
    let e = match s.stdin {
        Some(bytes) => e.stdin_bytes(bytes.to_vec()),
        None => e.stdin_null(),
    };
    let reader = e
        .reader()
        .with_context(|| format!("start `{}` in {}", s.program, s.dir.display()))?;
    let pids = reader.pids();
    pids.iter().for_each(|&p| register(p as i32));
    let mut buf = Vec::new();
    let mut r = BufReader::new(&reader);
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => line(String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r'])),
            Err(e) => {
                pids.iter().for_each(|&p| unregister(p as i32));
                return Err(e).context("read command output");
            }
        }
    }
    let status = reader.try_wait()?.map(|o| o.status);
    pids.iter().for_each(|&p| unregister(p as i32));
    Ok(status.and_then(|s| s.code()))
}

/// What a short command printed (stdout and stderr apart) and its status.
#[derive(Debug)]
pub struct Captured {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a short command (a version query, initdb, git) with its output
/// captured, in its own registered group, bounded by `timeout`: past it, or
/// on Ctrl-C, the whole group is killed and this fails.
pub fn output(
    s: &Spawn,
    timeout: Duration,
    setup: impl Fn(&mut std::process::Command) + Send + Sync + 'static,
) -> Result<Captured> {
    captured(s, timeout, setup, true)
}

/// As `output`, for the cleanup that must still happen after Ctrl-C
/// (releasing a deploy lock on a host, putting a proxy back): a signal
/// neither kills it nor cuts it short; `timeout` still bounds it.
pub fn output_cleanup(s: &Spawn, timeout: Duration) -> Result<Captured> {
    captured(s, timeout, |_| {}, false)
}

fn captured(
    s: &Spawn,
    timeout: Duration,
    setup: impl Fn(&mut std::process::Command) + Send + Sync + 'static,
    guarded: bool,
) -> Result<Captured> {
    let e = expression(s).before_spawn(move |c| {
        setup(c);
        Ok(())
    });
    let e = match s.stdin {
        Some(bytes) => e.stdin_bytes(bytes.to_vec()),
        None => e.stdin_null(),
    };
    let handle = e
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .with_context(|| format!("start `{}`", s.program))?;
    let pgid = handle.pids()[0] as i32;
    if guarded {
        register(pgid);
    }
    let deadline = Instant::now() + timeout;
    let out = loop {
        if let Some(out) = handle.try_wait()? {
            break out.clone();
        }
        if (guarded && interrupted()) || Instant::now() > deadline {
            kill_group(pgid, libc::SIGKILL);
            let _ = handle.wait();
            unregister(pgid);
            match guarded && interrupted() {
                true => bail!("`{}` was stopped by {}", s.program, signal_name()),
                false => bail!(
                    "`{}` gave no answer within {} s",
                    s.program,
                    timeout.as_secs_f64()
                ),
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    unregister(pgid);
    Ok(Captured {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// A long-running child (a native postgres) in its own registered group.
pub struct Background {
    handle: duct::Handle,
    pgid: i32,
}

impl Background {
    pub fn start(
        s: &Spawn,
        setup: impl Fn(&mut std::process::Command) + Send + Sync + 'static,
    ) -> Result<Background> {
        let handle = expression(s)
            .before_spawn(move |c| {
                setup(c);
                Ok(())
            })
            .stdin_null()
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()
            .with_context(|| format!("start `{}`", s.program))?;
        let pgid = handle.pids()[0] as i32;
        register(pgid);
        Ok(Background { handle, pgid })
    }

    /// True while the child has not exited.
    pub fn running(&self) -> bool {
        matches!(self.handle.try_wait(), Ok(None))
    }

    /// SIGTERM to the group, then SIGKILL if it lingers past `grace`.
    pub fn stop(&self, grace: Duration) {
        kill_group(self.pgid, libc::SIGTERM);
        if !matches!(self.handle.wait_timeout(grace), Ok(Some(_))) {
            kill_group(self.pgid, libc::SIGKILL);
            let _ = self.handle.wait();
        }
        unregister(self.pgid);
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.running() {
            self.stop(Duration::from_secs(5));
        }
    }
}

/// Signals a whole process group (a child we started and everything it
/// started). Our own group is never signalled.
pub fn kill_group(pgid: i32, sig: i32) {
    // SAFETY: getpgid and kill(2) touch no memory of ours.
    unsafe {
        if pgid > 0 && pgid != libc::getpgid(0) {
            libc::kill(-pgid, sig);
        }
    }
}

/// SIGKILL to `pid` and to its group: for the orphans of a run that was
/// itself SIGKILLed (found by a sweep), whose groups we never registered.
pub fn kill_orphan(pid: i32) {
    // SAFETY: getpgid and kill(2) on a process found in /proc.
    let group = unsafe { libc::getpgid(pid) };
    kill_group(group, libc::SIGKILL);
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// False only when the pid certainly names no process (ESRCH); a pid we
/// may not signal (EPERM) belongs to someone alive.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    let exists = r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    exists && !zombie(pid)
}

/// A killed process whose parent has not reaped it yet still answers
/// kill(pid, 0), but it is gone for our purposes (Linux; elsewhere false).
fn zombie(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// When `pid` started, in milliseconds since the Unix epoch (Linux: its
/// start in clock ticks after boot, plus the boot time). The boot time has
/// whole seconds, so this is at most a second early, never late.
pub fn started_ms(pid: i32) -> Option<u128> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name start at the third (the state); the
    // start time is the 22nd.
    let (_, rest) = stat.rsplit_once(')')?;
    let ticks: u128 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: u128 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u128::try_from(hz).ok().filter(|&h| h > 0)?;
    Some(btime * 1000 + ticks * 1000 / hz)
}

/// The last lines of a service's output: enough to show why it stopped.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn<'a>(program: &'a str, args: &'a [String]) -> Spawn<'a> {
        Spawn {
            program,
            args,
            dir: Path::new("/"),
            env: vec![("PHX_XTASK_PROBE", "1")],
            stdin: None,
        }
    }

    #[test]
    fn liveness() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let me = started_ms(std::process::id() as i32).expect("a start time");
        assert!(me <= now && now - me < 3_600_000, "{me} vs {now}");
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(0));
        // Pids wrap far below i32::MAX, so this one is free.
        assert!(!pid_alive(i32::MAX - 1));
    }

    #[test]
    fn output_captures_both_streams_and_the_env() {
        let args = [
            "-c".to_string(),
            "echo $PHX_XTASK_PROBE; echo e >&2; exit 3".into(),
        ];
        let out = output(&spawn("sh", &args), Duration::from_secs(30), |_| {}).unwrap();
        let got = (out.status.code(), out.stdout.as_str(), out.stderr.as_str());
        assert_eq!(got, (Some(3), "1\n", "e\n"));
    }

    #[test]
    fn output_kills_the_whole_group_past_its_bound() {
        // The grandchild holds the pipe: only a group kill ends the wait.
        let args = ["-c".to_string(), "sleep 600 & sleep 600".into()];
        let err = output(&spawn("sh", &args), Duration::from_millis(300), |_| {}).unwrap_err();
        assert!(err.to_string().contains("no answer within"), "{err}");
    }
}

#[cfg(test)]
pub mod testing;
