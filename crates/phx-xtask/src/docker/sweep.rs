//! The orphan sweep: this project's containers whose owner is gone (its
//! pid is free, or names a process that started after the run began, so it
//! was reused) are removed before new ones start; a sweep that cannot list
//! or remove them warns and lets the run go on.

use super::{list, remove, run_id, short, Listed, PROJECT};
use crate::proc;

/// Removes this project's containers whose owner process is gone (it was
/// SIGKILLed, or the machine rebooted), saying so for each. A sweep that
/// cannot list or remove them says so as a warning and lets the run go on:
/// the leftovers cost a little memory, never a wrong result.
pub fn sweep(host: &str, project: &str, log: &mut dyn FnMut(String)) {
    let found = match list(host, PROJECT, project) {
        Ok(found) => found,
        Err(e) => {
            log(format!(
                "warning: could not look for orphaned containers of this project: {}; \
                 remove any with `cargo xtask services down`",
                crate::redact::line(&format!("{e:#}"))
            ));
            return;
        }
    };
    for c in &found {
        let Some(why) = orphaned(c) else { continue };
        match remove(host, std::slice::from_ref(&c.id)) {
            Ok(()) => log(format!(
                "removed orphaned container {} ({}) from run {} ({why})",
                short(&c.id),
                c.service,
                c.run
            )),
            Err(e) => log(format!(
                "warning: could not remove orphaned container {} ({why}): {}; \
                 remove it with `cargo xtask services down`",
                short(&c.id),
                crate::redact::line(&format!("{e:#}"))
            )),
        }
    }
}

/// How much earlier than its run label an owner may seem to start: the
/// boot time is read in whole seconds, and the clock may be stepped a
/// little while a run lasts. A pid reused this soon after its run began
/// is rare; reaping a live run's services would not be.
const START_SLACK_MS: u128 = 5_000;

/// Why `c`'s owner is gone, if it is: its pid is free, or it names a
/// process that started after the run (the pid was reused). This run's
/// own containers are never orphans.
fn orphaned(c: &Listed) -> Option<String> {
    let pid = c.pid?;
    if c.run == run_id() {
        return None;
    }
    if !proc::pid_alive(pid) {
        return Some(format!("pid {pid} is gone"));
    }
    let began = c
        .run
        .split_once('-')
        .and_then(|(ms, _)| u128::from_str_radix(ms, 16).ok())?;
    let started = proc::started_ms(pid)?;
    (started > began + START_SLACK_MS)
        .then(|| format!("pid {pid} is another process now: it started after the run began"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_its_pid_and_its_start_time() {
        let me = std::process::id() as i32;
        let listed = |run: String, pid: i32| Listed {
            id: "c".into(),
            service: "postgres".into(),
            run,
            pid: Some(pid),
            port: None,
            image: String::new(),
            state: String::new(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        // This run's own containers, and a live run that began after its
        // process started, are kept.
        assert_eq!(orphaned(&listed(run_id().to_string(), me)), None);
        assert_eq!(orphaned(&listed(format!("{now:x}-{me}"), me)), None);
        // A run that began an hour before its pid's process started: the
        // pid was reused.
        let old = format!("{:x}-{me}", now - 3_600_000);
        assert!(orphaned(&listed(old, me))
            .unwrap()
            .contains("is another process now"));
        let gone = format!("{now:x}-{}", i32::MAX - 1);
        assert_eq!(
            orphaned(&listed(gone, i32::MAX - 1)).as_deref(),
            Some(format!("pid {} is gone", i32::MAX - 1).as_str())
        );
    }

    #[test]
    fn a_sweep_that_cannot_list_says_so() {
        let mut said = Vec::new();
        sweep("unix:///nonexistent/docker.sock", "p1", &mut |l| {
            said.push(l)
        });
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("warning: could not look for orphaned containers")
                && said[0].ends_with("remove any with `cargo xtask services down`"),
            "{said:?}"
        );
    }
}
