//! A group whose supervisor is gone: every wait ends with a typed error,
//! nothing hangs, and no task runs on.

use stage::group::{Builder, Ended, GroupError, ScaleError};
use stage::runtime::Tokio;

#[test]
fn a_group_whose_runtime_shut_down_reports_its_aborted_supervisor() {
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let mut group = Builder::new(Tokio::with_handle(workers.handle().clone()))
        .name("orphaned")
        .spawn(std::future::pending);
    // The runtime the supervisor runs on goes away underneath the group.
    drop(workers); // waits until its tasks are gone

    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    caller.block_on(async {
        // Nothing can be asked of it, and nothing waits for it in vain.
        assert_eq!(group.upscale(1), Err(ScaleError::Ended));
        let changed = tokio::time::timeout(std::time::Duration::from_secs(3600), async {
            while group.changed().await.is_ok() {
                group.stat_borrow_and_update();
            }
            group.changed().await
        });
        assert_eq!(changed.await, Ok(Err(Ended)));
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(3600), group.stop());
        assert_eq!(
            stopped.await,
            Ok(Err(GroupError::SupervisorAborted {
                group: "orphaned".into()
            }))
        );
    });
}
