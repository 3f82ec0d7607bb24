//! What the benches share.

use tokio::runtime::{Builder, Runtime};

/// The runtimes every bench measures on: `"current_thread"`, or a
/// multi-thread runtime with two workers (this machine's cores). Time is
/// enabled for timeouts and hang guards.
pub(crate) fn runtime(flavor: &str) -> Runtime {
    match flavor {
        "current_thread" => Builder::new_current_thread().enable_time().build(),
        _ => Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build(),
    }
    .unwrap()
}
