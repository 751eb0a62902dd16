//! The throwaway Postgres and Redis a step starts for itself (the test
//! step, the migrations check): the check of the backend before anything
//! runs, start at t=0, wait until they answer and create fresh databases,
//! and stop. The step's later actions reach them through the shared slot.

use std::sync::{Arc, Mutex, MutexGuard};

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
}

pub type Slot = Arc<Mutex<Started>>;

pub fn slot(settings: Settings) -> Slot {
    Arc::new(Mutex::new(Started {
        settings,
        services: None,
    }))
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
            if let Some(why) = &started.settings.chosen {
                ctx.log(format!(
                    "services: {} (auto: {why})",
                    started.settings.backend_name()
                ));
            }
            let services = Services::start(&started.settings, &mut |line| ctx.log(line));
            started.services =
                Some(services.inspect_err(|_| ctx.hint = Some(SERVICES_HINT.into()))?);
            Ok(())
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
            if let Some(s) = lock(&slot).services.take() {
                let what = s.where_();
                drop(s);
                ctx.log(format!("stopped {what}"));
            }
            Ok(())
        }),
    }
}
