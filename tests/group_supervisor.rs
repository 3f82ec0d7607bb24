//! A group never reports success for work its supervisor could not finish.

use stage::group::GroupError;
use stage_tokio::Tokio;

#[test]
fn a_group_whose_runtime_shut_down_reports_its_aborted_supervisor() {
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let group = stage_core::group::Builder::new(Tokio::with_handle(workers.handle().clone()))
        .name("orphaned")
        .spawn(std::future::pending);
    // The runtime the supervisor runs on goes away underneath the group.
    drop(workers); // waits until its tasks are gone

    let caller = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = caller.block_on(group.stop());
    assert_eq!(
        result,
        Err(GroupError::SupervisorAborted {
            group: "orphaned".into()
        })
    );
}
