//! A group whose supervisor is gone: every wait ends with a typed error,
//! nothing hangs, and no task runs on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stage::group::{Backoff, Builder, Ended, GroupError, ScaleError};
use stage::runtime::Tokio;

/// Runs `test` on a runtime of its own, with a paused clock, so that a wait
/// that would hang fails at once.
fn on_another_runtime(test: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(test);
}

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

    on_another_runtime(async {
        // Nothing can be asked of it, and nothing waits for it in vain.
        assert_eq!(group.upscale(1), Err(ScaleError::Ended));
        assert_eq!(group.stat_borrow().running, 0, "its tasks are gone");
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

    on_another_runtime(async {
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
async fn a_grace_period_of_aeons_never_ends_and_costs_no_wakeups() {
    // A task that ignores the signal: the shutdown waits for it, with no
    // timer to jump to (a paused clock would otherwise spin through the
    // aeons 30 years at a time). Only giving up on the shutdown ends it.
    let alive = Arc::new(AtomicBool::new(true));
    let group = stage::group().spawn_graceful({
        let alive = Arc::clone(&alive);
        move |_stop| {
            let alive = Alive(Arc::clone(&alive));
            async move {
                let _alive = alive;
                std::future::pending::<()>().await
            }
        }
    });
    tokio::task::yield_now().await;
    let shutdown = group.shutdown(Duration::from_secs(u64::MAX / 4));
    assert!(tokio::time::timeout(YEAR, shutdown).await.is_err());
    // Dropping the shutdown cut the grace period short.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(!alive.load(Ordering::SeqCst));
}

/// Clears its flag when the task holding it is dropped.
struct Alive(Arc<AtomicBool>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

const YEAR: Duration = Duration::from_secs(86_400 * 365);

#[tokio::test(start_paused = true)]
async fn a_backoff_of_centuries_waits_that_long_though_tokio_sleeps_thirty_years_at_most() {
    let start = tokio::time::Instant::now();
    let mut group = stage::group()
        .backoff(Backoff::exponential(YEAR * 200, YEAR * 200).without_jitter())
        .spawn(|| async { panic!("crash") });
    // First start, immediate restart, then 200 years.
    while group.stat_borrow_and_update().started < 3 {
        group.changed().await.unwrap();
    }
    assert!(
        start.elapsed() >= YEAR * 200,
        "restarted after {:?}",
        start.elapsed()
    );
    group.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_grace_period_of_a_century_is_granted_in_full() {
    let group = stage::group().spawn_graceful(|stop| async move {
        stop.requested().await;
        tokio::time::sleep(YEAR * 50).await; // a very slow flush
    });
    tokio::task::yield_now().await;
    let report = group.shutdown(YEAR * 100).await.unwrap();
    assert!(matches!(
        report.tasks[0].exit,
        stage::runtime::Exit::Returned
    ));
}

/// Runs `future` on this thread with no runtime around it: another executor.
fn block_on_plain_thread<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn a_pool_on_a_given_runtime_drains_from_another_executor() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (jobs, inbox) = stage::mailbox::<u32>(8);
    let pool = Builder::new(Tokio::with_handle(runtime.handle().clone()))
        .consume(inbox, |worker| async move {
            worker.serve(async |_job: &mut u32| {}).await
        });
    jobs.send_blocking(1).unwrap();
    // The drain's deadline sleeps on the pool's runtime, not the caller's.
    let drained = block_on_plain_thread(pool.drain(Duration::from_secs(10))).unwrap();
    assert_eq!(drained.left, 0);
}
