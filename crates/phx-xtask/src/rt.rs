//! The one tokio runtime, for the modules that speak async (bollard, sqlx,
//! testcontainers) behind small synchronous APIs. It is never dropped, so a
//! container's drop can always reach Docker.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, Result};

use crate::proc;

pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("xtask-async")
            .enable_all()
            .build()
            .expect("start the tokio runtime")
    })
}

/// Runs `fut`, giving up promptly when we are interrupted.
pub fn block_on<T>(what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    rt().block_on(async {
        tokio::select! {
            r = fut => r,
            () = until_interrupted() => Err(anyhow!("interrupted while {what}")),
        }
    })
}

/// Runs `fut` to its end or `limit`, whichever comes first; cleanup paths
/// use it, since they must run after an interrupt too.
pub fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    rt().block_on(async { tokio::time::timeout(limit, fut).await.ok() })
}

async fn until_interrupted() {
    while !proc::interrupted() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
