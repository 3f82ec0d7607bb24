//! A group whose supervisor is gone: every wait ends with a typed error,
//! nothing hangs, and no task runs on.

use std::time::{Duration, Instant};

use stage::group::{Backoff, Builder, Ended, GroupError, ScaleError};
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
        let changed = tokio::time::timeout(Duration::from_secs(3600), async {
            while group.changed().await.is_ok() {
                group.stat_borrow_and_update();
            }
            group.changed().await
        });
        assert_eq!(changed.await, Ok(Err(Ended)));
        let stopped = tokio::time::timeout(Duration::from_secs(3600), group.stop());
        assert_eq!(
            stopped.await,
            Ok(Err(GroupError::SupervisorAborted {
                group: "orphaned".into()
            }))
        );
    });
}

#[test]
fn a_group_whose_supervisor_never_ran_ends_every_wait() {
    let workers = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Spawned on a runtime that is dropped before it ever polls it.
    let mut group = workers.block_on(async { stage::group().spawn(std::future::pending::<()>) });
    drop(workers);

    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    caller.block_on(async {
        assert_eq!(group.upscale(1), Err(ScaleError::Ended));
        let changed = tokio::time::timeout(Duration::from_secs(3600), group.changed());
        assert_eq!(changed.await, Ok(Err(Ended)));
        let stopped = tokio::time::timeout(Duration::from_secs(3600), group.stop());
        assert!(matches!(
            stopped.await,
            Ok(Err(GroupError::SupervisorAborted { .. }))
        ));
    });
}

/// The largest `span` for which `now + span` is still an `Instant`.
fn longest_span_from(now: Instant) -> Duration {
    let nanos = |n: u128| Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32);
    let (mut lo, mut hi) = (0u128, Duration::MAX.as_nanos());
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let span = nanos(mid);
        if now.checked_add(span).is_some() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    nanos(lo)
}

#[tokio::test(start_paused = true)]
async fn a_grace_period_at_the_end_of_the_clock_is_a_deadline_that_never_comes() {
    let group = stage::group()
        .tasks(2)
        .spawn_graceful(|stop| async move { stop.requested().await });
    tokio::task::yield_now().await;
    let grace =
        longest_span_from(tokio::time::Instant::now().into_std()) - Duration::from_micros(500);
    let report = group.shutdown(grace).await.unwrap();
    assert_eq!((report.tasks.len(), report.aborted()), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_backoff_at_the_end_of_the_clock_waits_and_stops_cleanly() {
    let span =
        longest_span_from(tokio::time::Instant::now().into_std()) - Duration::from_micros(500);
    let mut group = stage::group()
        .backoff(Backoff::exponential(span, span).without_jitter())
        .spawn(|| async { panic!("crash") });
    while group.stat_borrow_and_update().backing_off == 0 {
        group.changed().await.unwrap();
    }
    assert_eq!(group.stop().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_far_deadline_on_a_paused_clock_passes_without_spinning() {
    // A task that ignores the signal is aborted when the (capped) deadline
    // comes; the paused clock jumps there at once.
    let group = stage::group().spawn_graceful(|_stop| std::future::pending::<()>());
    tokio::task::yield_now().await;
    let report = group
        .shutdown(Duration::from_secs(u64::MAX / 4))
        .await
        .unwrap();
    assert_eq!(report.aborted(), 1);
}
