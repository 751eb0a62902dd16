//! Every child we start runs in its own process group, registered here, so
//! that Ctrl-C or SIGTERM can stop whole trees (mix, the BEAM, npm, esbuild)
//! rather than only the direct child. The signal thread sets the interrupt
//! flag and signals every group; the runner then reports and exits 130.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::plan::Cmd;

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
            // SAFETY: kill(2) with a negative pid signals a process group; it
            // touches no memory of ours.
            unsafe { libc::kill(-pgid, sig) };
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
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
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

fn expression(cmd: &Cmd, extra_env: &[(String, String)]) -> duct::Expression {
    let mut e = duct::cmd(&cmd.program, &cmd.args).dir(&cmd.dir);
    // duct keeps the first value it is given for a name, so the command's
    // own env comes first and wins over what the step exported.
    for (k, v) in cmd.env.iter().chain(extra_env) {
        e = e.env(k, v);
    }
    e.before_spawn(|c| {
        c.process_group(0);
        Ok(())
    })
}

/// Runs `cmd` to completion with stdout and stderr merged, calling `line`
/// for each line of output. Returns the exit code (None when killed).
pub fn run(
    cmd: &Cmd,
    extra_env: &[(String, String)],
    mut line: impl FnMut(&str),
) -> Result<Option<i32>> {
    let reader = expression(cmd, extra_env)
        .stderr_to_stdout()
        .stdin_null()
        .unchecked()
        .reader()
        .with_context(|| format!("start `{}` in {}", cmd.program, cmd.dir.display()))?;
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

/// A long-running child (a native postgres) in its own registered group.
pub struct Background {
    handle: duct::Handle,
    pgid: i32,
}

impl Background {
    pub fn start(
        cmd: &Cmd,
        setup: impl Fn(&mut std::process::Command) + Send + Sync + 'static,
    ) -> Result<Background> {
        let handle = expression(cmd, &[])
            .before_spawn(move |c| {
                setup(c);
                Ok(())
            })
            .stdin_null()
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()
            .with_context(|| format!("start `{}`", cmd.program))?;
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
        unsafe { libc::kill(-self.pgid, libc::SIGTERM) };
        if !matches!(self.handle.wait_timeout(grace), Ok(Some(_))) {
            unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
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

/// The first `name` on PATH that is an executable file.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}
