//! A supervision tree whose tokio runtime is dropped while it runs: nothing
//! hangs or panics, its handle says it ended, and its snapshot and stats
//! say nothing of it runs any more.

use std::time::Duration;

use stage::supervisor::{Child, ChildError, ChildState, SupervisorError};

#[test]
fn a_tree_whose_runtime_is_dropped_says_it_ended_and_that_nothing_runs() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tree, handle) = runtime.block_on(async {
        let inner = stage::supervisor().child(Child::worker("leaf", |stop| async move {
            stop.requested().await
        }));
        let tree = stage::supervisor()
            .name("app")
            .child(Child::worker(
                "db",
                |stop| async move { stop.requested().await },
            ))
            .child(Child::supervisor("inner", inner))
            .child(Child::group(
                "workers",
                stage::group().tasks(2),
                |stop| async move { stop.requested().await },
            ))
            .spawn();
        tree.ready().await.unwrap();
        let handle = tree.handle();
        (tree, handle)
    });
    drop(runtime);

    assert!(handle.is_ended());
    let snapshot = handle.snapshot();
    assert!(snapshot.ended);
    for (_, child) in snapshot.walk() {
        assert_eq!(child.state, ChildState::Ended, "{}", child.path);
        assert_eq!(child.running_tasks, 0, "{}", child.path);
    }
    let stats = handle.stat_borrow();
    assert_eq!((stats.running, stats.ended), (0, 3));

    // Its requests and its owner are answered, on another runtime.
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    other.block_on(async {
        let asked = tokio::time::timeout(Duration::from_secs(5), handle.stop_child("db"));
        let ended = ChildError::SupervisorEnded {
            supervisor: "app".into(),
        };
        assert_eq!(asked.await.unwrap(), Err(ended));
        let joined = tokio::time::timeout(Duration::from_secs(5), tree.join());
        let aborted = SupervisorError::SupervisorAborted {
            supervisor: "app".into(),
        };
        assert_eq!(joined.await.unwrap(), Err(aborted));
    });
}
