//! The throwaway Postgres and Redis a step starts for itself (the test
//! step, the migrations check): the check of the backend before anything
//! runs, start at t=0, wait until they answer and create fresh databases,
//! and stop. The step's later actions reach them through the shared slot.
//!
//! Steps of one run that ask for the same servers share one slot (`ci`
//! starts one Postgres and one Redis for test and migrations): the first
//! start starts them, each step creates its own databases, and the last
//! step to stop stops them. Whatever a failed step leaves behind goes when
//! the run drops its plans.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use anyhow::Context;

use crate::config::Backend;
use crate::plan::{Action, Check};
use crate::services::{self, Services, Settings};

pub const SERVICES_HINT: &str = "the services did not come up: fix the error above (`cargo xtask \
                                 services up` starts them the same way), or pick another --services";

/// The settings (which the check completes) and, once started, the services.
pub struct Started {
    pub settings: Settings,
    pub services: Option<Services>,
    /// The steps that use these services and have not stopped yet.
    users: usize,
    /// Why the first start failed, so a second user fails the same way.
    failed: Option<String>,
}

pub type Slot = Arc<Mutex<Started>>;

/// The slots of one run's planning, one per kind of servers asked for.
/// Weak: the plans own the slots, so the services go when the runner drops
/// the last plan that uses them, not when planning's context goes.
#[derive(Default)]
pub struct Shared(Mutex<Vec<Weak<Mutex<Started>>>>);

/// The slot for `settings`: one that a step of this run already asked for
/// the same servers (it then offers as many Redis DBs as either needs), or
/// a new one.
pub fn slot(shared: &Shared, settings: Settings) -> Slot {
    let mut slots = shared.0.lock().unwrap_or_else(|e| e.into_inner());
    for slot in slots.iter().filter_map(Weak::upgrade) {
        let mut started = lock(&slot);
        if started.settings.same_servers(&settings) {
            started.settings.redis_dbs = started.settings.redis_dbs.max(settings.redis_dbs);
            started.users += 1;
            drop(started);
            return slot;
        }
    }
    let slot = Arc::new(Mutex::new(Started {
        settings,
        services: None,
        users: 1,
        failed: None,
    }));
    slots.push(Arc::downgrade(&slot));
    slot
}

pub fn lock(slot: &Slot) -> MutexGuard<'_, Started> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// The backend's preconditions, probed after planning.
pub fn check(slot: &Slot, what_for: &str) -> Check {
    let what = match lock(slot).settings.backend {
        Backend::Docker => "docker answers",
        Backend::Native => "postgres and redis-server are installed, the ports are free",
        Backend::Auto => "docker answers, else postgres and redis-server are installed",
        Backend::External => "DATABASE_URL and REDIS_URL are given",
    };
    let slot = Arc::clone(slot);
    Check::new(format!("{what_for} services: {what}"), move || {
        services::check(&mut lock(&slot).settings)
    })
}

pub fn start(slot: &Slot) -> Action {
    let describe = lock(slot).settings.describe();
    let slot = Arc::clone(slot);
    Action::Native {
        describe: format!("start {describe}"),
        run: Box::new(move |ctx| {
            let mut started = lock(&slot);
            if let Some(s) = &started.services {
                ctx.log(format!("{} already started for another step", s.where_()));
                return Ok(());
            }
            if let Some(why) = &started.failed {
                ctx.hint = Some(SERVICES_HINT.into());
                anyhow::bail!("{why}");
            }
            if let Some(why) = &started.settings.chosen {
                ctx.log(format!(
                    "services: {} (auto: {why})",
                    started.settings.backend_name()
                ));
            }
            match Services::start(&started.settings, &mut |line| ctx.log(line)) {
                Ok(services) => {
                    started.services = Some(services);
                    Ok(())
                }
                Err(e) => {
                    started.failed = Some(format!("{e:#}"));
                    ctx.hint = Some(SERVICES_HINT.into());
                    Err(e)
                }
            }
        }),
    }
}

/// Waits until the services answer, then creates the databases afresh.
pub fn ready(slot: &Slot, names: Vec<String>) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: format!(
            "wait until postgres answers `SELECT 1` and redis `PING`; create {}",
            names.join(", ")
        ),
        run: Box::new(move |ctx| {
            let started = lock(&slot);
            let s = started
                .services
                .as_ref()
                .context("the services were not started")?;
            let took = s
                .wait_ready()
                .inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?;
            ctx.log(format!(
                "{} answer ({} ms after start-up began)",
                s.where_(),
                took.as_millis()
            ));
            s.recreate_databases(&names)
                .inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?;
            ctx.log(format!("created {}", names.join(", ")));
            Ok(())
        }),
    }
}

pub fn stop(slot: &Slot) -> Action {
    let slot = Arc::clone(slot);
    Action::Native {
        describe: "stop the services".into(),
        run: Box::new(move |ctx| {
            let mut started = lock(&slot);
            started.users = started.users.saturating_sub(1);
            if started.users > 0 {
                if let Some(s) = &started.services {
                    ctx.log(format!("{} stay up for another step", s.where_()));
                }
                return Ok(());
            }
            if let Some(s) = started.services.take() {
                let what = s.where_();
                drop(s);
                ctx.log(format!("stopped {what}"));
            }
            Ok(())
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::env::Env;

    fn settings(backend: Backend, partitions: u32) -> Settings {
        let config = Config::default();
        services::resolve(
            &config,
            &Env::default(),
            Path::new("/app"),
            "app",
            backend,
            partitions,
        )
        .unwrap()
    }

    #[test]
    fn steps_that_ask_for_the_same_servers_share_one_slot() {
        let shared = Shared::default();
        let test = slot(&shared, settings(Backend::Docker, 20));
        let migrations = slot(&shared, settings(Backend::Docker, 1));
        assert!(Arc::ptr_eq(&test, &migrations));
        let started = lock(&test);
        assert_eq!((started.users, started.settings.redis_dbs), (2, 21));
        drop(started);
        let native = slot(&shared, settings(Backend::Native, 1));
        assert!(!Arc::ptr_eq(&test, &native));
        assert_eq!(lock(&native).users, 1);

        // Planning's context does not keep them: once the plans drop the
        // slot, its services can go.
        let weak = Arc::downgrade(&test);
        drop((test, migrations));
        assert!(weak.upgrade().is_none());
    }
}
