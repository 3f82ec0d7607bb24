//! Group behaviour, written once over any [`Runtime`]: stage-core runs these
//! on its virtual async-task runtime, the `stage` facade on tokio with a
//! paused clock. Time is the runtime's, so nothing sleeps for real.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use futures_util::future::{select, Either};
use stage::group::{Backoff, Builder, Ended, Group, GroupError, Restart, ScaleError, Stats};
use stage::runtime::{Exit, Runtime, Task};

// Included from here (not from `support`), so that the facade's tests,
// which include this file alone, have it too.
#[path = "faulty_runtime.rs"]
mod faulty_runtime;
use faulty_runtime::FailingSpawns;

/// Invokes `$runner!` with the name of every scenario below, so that each
/// executor's test file runs them all from this one list.
macro_rules! all_scenarios {
    ($runner:ident) => {
        $runner!(
            restart_always_restarts_tasks_however_they_end,
            on_failure_leaves_a_returning_task_ended,
            on_failure_restarts_a_panicking_task,
            never_restarts_nothing,
            backoff_delays_restarts_of_a_task_that_keeps_failing,
            backoff_starts_over_after_a_quiet_period,
            stop_aborts_every_task_and_nothing_outlives_it,
            stop_cancels_a_pending_restart,
            scope_runs_the_future_then_stops_the_group,
            a_panicking_factory_does_not_take_the_supervisor_down,
            dropping_the_group_stops_its_tasks,
            exceeding_the_restart_intensity_stops_the_group_with_a_typed_error,
            restarts_spread_wider_than_the_window_never_exceed_it,
            scope_reports_a_group_that_gave_up,
            upscale_and_downscale_change_how_many_tasks_run,
            shutdown_lets_tasks_that_watch_the_signal_finish,
            shutdown_aborts_a_task_that_ignores_the_signal_at_the_deadline,
            shutdown_reports_a_panic_with_its_message,
            shutdown_cancels_pending_restarts,
            tasks_that_cannot_watch_the_signal_are_aborted_at_once,
            a_restart_scheduled_for_a_removed_task_is_dropped,
            release_hands_back_the_running_tasks,
            guarded_consumers_lose_nothing_across_panics_and_restarts,
            a_task_aborted_at_the_shutdown_deadline_puts_its_message_back,
            a_grace_period_too_long_for_the_clock_waits_for_the_tasks,
            a_backoff_too_long_for_the_clock_never_restarts_and_stops_cleanly,
            a_supervisor_that_fails_aborts_its_tasks_and_every_wait_ends,
            an_upscale_beyond_the_limit_is_refused_and_changes_nothing,
            a_huge_upscale_starts_tasks_a_few_at_a_time_and_stops_at_once,
            changed_reports_the_end_of_a_group_that_gave_up,
            changed_reports_the_end_of_a_stopped_group,
            stats_held_across_an_await_block_nothing,
            a_release_dropped_before_it_completes_aborts_the_tasks,
            a_panic_payload_whose_drop_panics_does_not_take_the_supervisor_down,
            dropping_a_shutdown_cuts_its_grace_period_short,
            an_upscale_is_carried_out_while_tasks_churn,
            a_factory_whose_drop_panics_ends_the_group_cleanly,
            an_unread_report_of_payloads_whose_drop_panics_is_dropped_quietly,
            an_upscale_made_before_the_first_poll_is_not_caught_by_a_release,
            the_stop_signal_is_raised_whenever_the_group_ends,
            a_group_dropped_before_its_supervisor_runs_starts_nothing,
            a_handle_scales_watches_and_stops_the_group_from_another_task,
            the_shutdown_report_names_every_task_of_the_group,
            a_pool_drains_its_mailbox_while_healing_crashed_workers,
            a_drain_that_runs_out_of_time_says_what_was_left,
            a_pool_shut_down_without_draining_leaves_the_queue_as_it_is,
            a_task_that_made_progress_restarts_at_once_under_the_default_backoff,
            a_task_that_panics_at_once_restarts_at_most_twice_a_second_by_default,
            a_drain_ends_by_its_deadline_even_during_a_longer_shutdown,
            a_shutdown_of_a_group_that_ended_on_its_own_names_every_task,
            a_drain_cut_short_by_a_stop_still_names_every_worker,
        );
    };
}
pub(crate) use all_scenarios;

/// Counts live tasks: one guard per running task, dropped when it ends.
#[derive(Clone, Default)]
pub(crate) struct Live(Arc<AtomicUsize>);

pub(crate) struct LiveGuard(Arc<AtomicUsize>);

impl Live {
    pub(crate) fn guard(&self) -> LiveGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        LiveGuard(Arc::clone(&self.0))
    }

    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// A factory of tasks that wait forever, each counted while it lives.
    pub(crate) fn idle_tasks(self) -> impl FnMut() -> IdleTask + Send + 'static {
        move || IdleTask {
            _live: self.guard(),
        }
    }
}

/// A task that waits forever, holding a [`LiveGuard`] until it is dropped.
pub(crate) struct IdleTask {
    _live: LiveGuard,
}

impl std::future::Future for IdleTask {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Pending
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until the group's published stats satisfy `done`; returns them.
pub(crate) async fn wait_for<R: Runtime>(
    group: &mut Group<R>,
    done: impl Fn(&Stats) -> bool,
) -> Stats {
    loop {
        let stats = *group.stat_borrow_and_update();
        if done(&stats) {
            return stats;
        }
        group.changed().await.expect("the group ended");
    }
}

/// The time between consecutive starts, in milliseconds.
pub(crate) fn gaps_in_ms(starts: &[Instant]) -> Vec<u128> {
    starts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect()
}

/// Runs `future`, failing the test if it has not completed within an hour
/// of the runtime's (virtual or paused) time: a hang becomes a failure.
pub(crate) async fn within_an_hour<R: Runtime, T>(clock: &R, future: impl Future<Output = T>) -> T {
    let deadline = clock.sleep_until(clock.now() + Duration::from_secs(3600));
    match select(pin!(future), pin!(deadline)).await {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("still waiting after an hour: it hangs"),
    }
}

/// Polls `future` once, as a caller that then gives up on it; it must be
/// pending.
pub(crate) async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) {
    let mut future = Some(future);
    std::future::poll_fn(|cx| {
        let pending = future.take().unwrap().poll(cx).is_pending();
        assert!(pending, "the future completed at once");
        Poll::Ready(())
    })
    .await;
}

/// Lets the runtime run for a millisecond of its time.
pub(crate) async fn tick<R: Runtime>(clock: &R) {
    clock
        .sleep_until(clock.now() + Duration::from_millis(1))
        .await;
}

/// Lets the runtime's clock run past any restart a scenario's backoff could
/// still have pending (none waits longer than a minute).
pub(crate) async fn outwait_every_backoff<R: Runtime>(clock: &R) {
    clock
        .sleep_until(clock.now() + Duration::from_secs(120))
        .await;
}

pub(crate) async fn restart_always_restarts_tasks_however_they_end<R: Runtime>(rt: R) {
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&starts);
    let mut group = Builder::new(rt).backoff(Backoff::none()).spawn(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n % 2 == 1 {
                panic!("odd start {n}");
            }
        }
    });
    let stats = wait_for(&mut group, |s| s.started >= 6).await;
    assert!(stats.returned >= 2 && stats.panicked >= 2, "{stats:?}");
    assert_eq!(stats.restarted, stats.started - 1);
    group.stop().await.unwrap();
}

pub(crate) async fn on_failure_leaves_a_returning_task_ended<R: Runtime>(rt: R) {
    let mut group = Builder::new(rt)
        .restart(Restart::OnFailure)
        .spawn(|| async {});
    let stats = wait_for(&mut group, |s| s.returned == 1).await;
    assert_eq!((stats.started, stats.restarted, stats.running), (1, 0, 0));
    // The group ended on its own; stopping it now is immediate.
    group.stop().await.unwrap();
}

pub(crate) async fn on_failure_restarts_a_panicking_task<R: Runtime>(rt: R) {
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&starts);
    let mut group = Builder::new(rt).restart(Restart::OnFailure).spawn(move || {
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                panic!("first start crashes");
            }
            std::future::pending::<()>().await;
        }
    });
    let stats = wait_for(&mut group, |s| s.restarted == 1 && s.running == 1).await;
    assert_eq!((stats.panicked, stats.started), (1, 2));
    group.stop().await.unwrap();
}

pub(crate) async fn never_restarts_nothing<R: Runtime>(rt: R) {
    let mut group = Builder::new(rt)
        .restart(Restart::Never)
        .tasks(3)
        .spawn(|| async {
            panic!("gone for good");
        });
    let stats = wait_for(&mut group, |s| s.panicked == 3).await;
    assert_eq!((stats.started, stats.restarted, stats.running), (3, 0, 0));
    group.stop().await.unwrap();
}

pub(crate) async fn backoff_delays_restarts_of_a_task_that_keeps_failing<R: Runtime>(rt: R) {
    let starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let (log, clock) = (Arc::clone(&starts), rt.clone());
    let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_millis(300))
        .without_jitter();
    let mut group = Builder::new(rt).backoff(backoff).spawn(move || {
        log.lock().unwrap().push(clock.now());
        async { panic!("fails at once") }
    });
    wait_for(&mut group, |s| s.started >= 6).await;
    group.stop().await.unwrap();
    let starts = starts.lock().unwrap();
    let gaps = gaps_in_ms(&starts);
    // Immediate, then 100 ms doubling, capped at 300 ms.
    assert_eq!(gaps[..5], [0, 100, 200, 300, 300]);
}

pub(crate) async fn backoff_starts_over_after_a_quiet_period<R: Runtime>(rt: R) {
    let starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let (log, clock) = (Arc::clone(&starts), rt.clone());
    let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10))
        .without_jitter()
        .reset_after(Duration::from_secs(1));
    let mut group = Builder::new(rt.clone()).backoff(backoff).spawn(move || {
        let n = {
            let mut starts = log.lock().unwrap();
            starts.push(clock.now());
            starts.len()
        };
        let clock = clock.clone();
        async move {
            // The fourth start runs well for 5 s before it fails.
            if n == 4 {
                clock
                    .sleep_until(clock.now() + Duration::from_secs(5))
                    .await;
            }
            panic!("start {n} fails");
        }
    });
    wait_for(&mut group, |s| s.started >= 6).await;
    group.stop().await.unwrap();
    let starts = starts.lock().unwrap();
    let gaps = gaps_in_ms(&starts);
    // 0, 100, 200 ms; then 5 s of good running, an immediate restart (within
    // that gap), and the series starts over at 100 ms (not 400 ms).
    assert_eq!(gaps[..5], [0, 100, 200, 5000, 100]);
}

pub(crate) async fn stop_aborts_every_task_and_nothing_outlives_it<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let mut group = Builder::new(rt).tasks(4).spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 4).await;
    assert_eq!(live.count(), 4);
    group.stop().await.unwrap();
    assert_eq!(live.count(), 0, "a task outlived its stopped group");
}

pub(crate) async fn stop_cancels_a_pending_restart<R: Runtime>(rt: R) {
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&starts);
    let backoff =
        Backoff::exponential(Duration::from_secs(60), Duration::from_secs(60)).without_jitter();
    let clock = rt.clone();
    let mut group = Builder::new(rt).backoff(backoff).spawn(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { panic!("fails at once") }
    });
    // Immediate first restart, then a 60 s backoff.
    wait_for(&mut group, |s| s.backing_off == 1).await;
    let before = clock.now();
    group.stop().await.unwrap();
    assert!(
        clock.now() - before < Duration::from_secs(60),
        "stop waited out the backoff"
    );
    outwait_every_backoff(&clock).await;
    assert_eq!(
        starts.load(Ordering::SeqCst),
        2,
        "a restart happened after the stop"
    );
}

pub(crate) async fn scope_runs_the_future_then_stops_the_group<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let group = Builder::new(rt).tasks(2).spawn(tasks.idle_tasks());
    let probe = live.clone();
    let seen = group
        .scope(async move {
            // The group runs while the scoped work does.
            clock
                .sleep_until(clock.now() + Duration::from_millis(1))
                .await;
            probe.count()
        })
        .await
        .unwrap();
    assert_eq!(seen, 2);
    assert_eq!(live.count(), 0, "a task outlived the scope");
}

pub(crate) async fn a_panicking_factory_does_not_take_the_supervisor_down<R: Runtime>(rt: R) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut group = Builder::new(rt).backoff(Backoff::none()).spawn(move || {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the factory itself crashed");
        }
        std::future::pending::<()>()
    });
    let stats = wait_for(&mut group, |s| s.running == 1 && s.started == 2).await;
    assert_eq!(stats.panicked, 1);
    group.stop().await.unwrap();
}

pub(crate) async fn dropping_the_group_stops_its_tasks<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(3).spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 3).await;
    drop(group);
    // The supervisor stops the tasks right after; give it a moment of the
    // runtime's (virtual or paused) time.
    clock
        .sleep_until(clock.now() + Duration::from_millis(1))
        .await;
    assert_eq!(live.count(), 0);
}

pub(crate) async fn exceeding_the_restart_intensity_stops_the_group_with_a_typed_error<
    R: Runtime,
>(
    rt: R,
) {
    let live = Live::default();
    let tasks = live.clone();
    let mut group = Builder::new(rt)
        .name("ingest")
        .backoff(Backoff::none())
        .intensity(3, Duration::from_secs(1))
        .tasks(2)
        .spawn(move || {
            let guard = tasks.guard();
            async move {
                let _guard = guard;
                panic!("database is down");
            }
        });
    let stats = wait_for(&mut group, |s| {
        s.started >= 4 && s.running == 0 && s.backing_off == 0
    })
    .await;
    // Three restarts were allowed; the fourth was refused.
    assert_eq!(stats.restarted, 3);
    let err = group.stop().await.unwrap_err();
    assert_eq!(
        err,
        GroupError::GaveUp {
            group: "ingest".into(),
            restarts: 3,
            within: Duration::from_secs(1),
            last_exit: "panicked: database is down".into(),
        }
    );
    assert_eq!(live.count(), 0, "a task outlived the group that gave up");
}

pub(crate) async fn restarts_spread_wider_than_the_window_never_exceed_it<R: Runtime>(rt: R) {
    let clock = rt.clone();
    let mut group = Builder::new(rt)
        .backoff(Backoff::none())
        .intensity(1, Duration::from_millis(900))
        .spawn(move || {
            let clock = clock.clone();
            async move {
                clock
                    .sleep_until(clock.now() + Duration::from_secs(1))
                    .await;
                panic!("fails after a second of work");
            }
        });
    // One restart a second: never two within 900 ms.
    let stats = wait_for(&mut group, |s| s.restarted >= 5).await;
    assert_eq!(stats.panicked, 5);
    group.stop().await.unwrap();
}

pub(crate) async fn scope_reports_a_group_that_gave_up<R: Runtime>(rt: R) {
    let group = Builder::new(rt)
        .backoff(Backoff::none())
        .intensity(2, Duration::from_secs(60))
        .spawn(|| async { panic!("always") });
    // The scoped work would never end; the group giving up ends it.
    let result = group.scope(std::future::pending::<()>()).await;
    assert!(
        matches!(result, Err(GroupError::GaveUp { restarts: 2, .. })),
        "{result:?}"
    );
}

pub(crate) async fn upscale_and_downscale_change_how_many_tasks_run<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let mut group = Builder::new(rt).spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 1).await;
    assert_eq!(group.upscale(3), Ok(4));
    let stats = wait_for(&mut group, |s| s.running == 4).await;
    assert_eq!((stats.tasks, stats.started, stats.restarted), (4, 4, 0));
    assert_eq!(live.count(), 4);

    group.downscale(2);
    let stats = wait_for(&mut group, |s| s.running == 2).await;
    assert_eq!(stats.tasks, 2);
    // The removed tasks are aborted, not restarted.
    while live.count() != 2 {
        group.changed().await.expect("the group ended");
    }
    group.downscale(10);
    let stats = wait_for(&mut group, |s| s.tasks == 1).await;
    assert_eq!(stats.running, 1, "downscale keeps at least one task");
    assert_eq!(stats.restarted, 0);
    group.stop().await.unwrap();
    assert_eq!(live.count(), 0);
}

pub(crate) async fn shutdown_lets_tasks_that_watch_the_signal_finish<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(3).spawn_graceful(move |stop| {
        let guard = tasks.guard();
        async move {
            let _guard = guard;
            stop.requested().await;
        }
    });
    wait_for(&mut group, |s| s.running == 3).await;
    let before = clock.now();
    let report = group.shutdown(Duration::from_secs(30)).await.unwrap();
    assert_eq!(clock.now(), before, "no task needed the grace period");
    assert_eq!(report.tasks.len(), 3);
    assert_eq!(report.aborted(), 0);
    for (index, task) in report.tasks.iter().enumerate() {
        assert_eq!((task.index, task.generation), (index, 1));
        assert!(matches!(task.exit, Exit::Returned), "{:?}", task.exit);
    }
    assert_eq!(live.count(), 0);
}

pub(crate) async fn shutdown_aborts_a_task_that_ignores_the_signal_at_the_deadline<R: Runtime>(
    rt: R,
) {
    let live = Live::default();
    let tasks = live.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(2).spawn_graceful(move |stop| {
        let guard = tasks.guard();
        let stubborn = calls.fetch_add(1, Ordering::SeqCst) == 1;
        async move {
            let _guard = guard;
            if stubborn {
                std::future::pending::<()>().await;
            }
            stop.requested().await;
        }
    });
    wait_for(&mut group, |s| s.running == 2).await;
    let before = clock.now();
    let report = group.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        clock.now() - before,
        Duration::from_secs(5),
        "one deadline, not more"
    );
    assert!(matches!(report.tasks[0].exit, Exit::Returned));
    assert!(matches!(report.tasks[1].exit, Exit::Aborted));
    assert_eq!(report.aborted(), 1);
    assert_eq!(live.count(), 0);
}

pub(crate) async fn shutdown_reports_a_panic_with_its_message<R: Runtime>(rt: R) {
    let mut group = Builder::new(rt).spawn_graceful(|stop| async move {
        stop.requested().await;
        panic!("flushing the cache failed");
    });
    wait_for(&mut group, |s| s.running == 1).await;
    let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        report.tasks[0].exit.panic_message(),
        Some("flushing the cache failed")
    );
}

pub(crate) async fn shutdown_cancels_pending_restarts<R: Runtime>(rt: R) {
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&starts);
    let backoff =
        Backoff::exponential(Duration::from_secs(60), Duration::from_secs(60)).without_jitter();
    let clock = rt.clone();
    let mut group = Builder::new(rt)
        .backoff(backoff)
        .spawn_graceful(move |_stop| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { panic!("fails at once") }
        });
    wait_for(&mut group, |s| s.backing_off == 1).await;
    let before = clock.now();
    let report = group.shutdown(Duration::from_secs(10)).await.unwrap();
    // No task was running; the report names the one backing off.
    assert_eq!(report.tasks.len(), 1);
    let task = &report.tasks[0];
    assert_eq!(
        (task.index, task.generation, task.was_running),
        (0, 2, false)
    );
    assert_eq!(task.exit.panic_message(), Some("fails at once"));
    assert_eq!(report.aborted(), 0);
    assert_eq!(clock.now(), before);
    outwait_every_backoff(&clock).await;
    assert_eq!(
        starts.load(Ordering::SeqCst),
        2,
        "a restart happened after the shutdown"
    );
}

pub(crate) async fn tasks_that_cannot_watch_the_signal_are_aborted_at_once<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(2).spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 2).await;
    let before = clock.now();
    let report = group.shutdown(Duration::from_secs(60)).await.unwrap();
    assert_eq!(clock.now(), before, "spawn()'s tasks get no grace period");
    assert_eq!(report.aborted(), 2);
    assert_eq!(live.count(), 0);
}

pub(crate) async fn a_restart_scheduled_for_a_removed_task_is_dropped<R: Runtime>(rt: R) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let backoff =
        Backoff::exponential(Duration::from_secs(60), Duration::from_secs(60)).without_jitter();
    let clock = rt.clone();
    // The first four starts fail at once (each task: its first start and its
    // immediate restart); later starts run.
    let mut group = Builder::new(rt).tasks(2).backoff(backoff).spawn(move || {
        let failing = counter.fetch_add(1, Ordering::SeqCst) < 4;
        async move {
            if failing {
                panic!("not yet");
            }
            std::future::pending::<()>().await;
        }
    });
    wait_for(&mut group, |s| s.backing_off == 2).await;
    group.downscale(1); // task 1 is removed while its restart waits
    outwait_every_backoff(&clock).await;
    let stats = wait_for(&mut group, |s| s.running == 1).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        5,
        "the removed task was restarted"
    );
    assert_eq!((stats.tasks, stats.backing_off), (1, 0));
    group.stop().await.unwrap();
}

pub(crate) async fn release_hands_back_the_running_tasks<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(3).spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 3).await;
    let mut released = group.release().await.unwrap();
    assert_eq!(released.len(), 3);
    assert_eq!(live.count(), 3, "release aborts nothing");

    // The caller is in charge now: an aborted task is not restarted.
    let first = released.remove(0);
    first.abort();
    assert!(matches!(first.await, Exit::Aborted));
    clock
        .sleep_until(clock.now() + Duration::from_secs(60))
        .await;
    assert_eq!(live.count(), 2);
    for task in released {
        task.abort();
        assert!(matches!(task.await, Exit::Aborted));
    }
    assert_eq!(live.count(), 0);
}

pub(crate) async fn guarded_consumers_lose_nothing_across_panics_and_restarts<R: Runtime>(rt: R) {
    let (jobs, inbox) = stage::mailbox::<u32>(8);
    let (done, receipts) = stage::mailbox::<(u32, u32)>(64);
    let clock = rt.clone();
    let mut group = Builder::new(rt)
        .tasks(2)
        .backoff(Backoff::none())
        .spawn(move || {
            let (inbox, done, clock) = (inbox.clone(), done.clone(), clock.clone());
            async move {
                loop {
                    let job = inbox.recv_guarded().await;
                    // Some work mid-message, so the two tasks interleave.
                    clock
                        .sleep_until(clock.now() + Duration::from_millis(1))
                        .await;
                    // Every third job crashes its first attempt.
                    if *job % 3 == 0 && job.attempt() == 1 {
                        panic!("job {} crashed", *job);
                    }
                    done.send((*job, job.attempt())).await.unwrap();
                    job.ack();
                }
            }
        });
    for job in 0..30 {
        jobs.send(job).await.unwrap();
    }
    let mut handled = Vec::new();
    for _ in 0..30 {
        handled.push(receipts.recv().await);
    }
    handled.sort_unstable();
    let expected: Vec<_> = (0..30)
        .map(|job| (job, if job % 3 == 0 { 2 } else { 1 }))
        .collect();
    assert_eq!(
        handled, expected,
        "each job handled once, crashed ones on attempt 2"
    );
    assert_eq!(jobs.stats().redeliveries, 10);
    let stats = wait_for(&mut group, |s| s.panicked == 10).await;
    assert_eq!(stats.restarted, 10);
    group.stop().await.unwrap();
    assert!(jobs.is_empty());
}

pub(crate) async fn a_task_aborted_at_the_shutdown_deadline_puts_its_message_back<R: Runtime>(
    rt: R,
) {
    let (jobs, inbox) = stage::mailbox::<&str>(4);
    let (took, taken) = stage::mailbox::<()>(1);
    let group = Builder::new(rt).spawn_graceful({
        let inbox = inbox.clone();
        move |_stop| {
            let (inbox, took) = (inbox.clone(), took.clone());
            async move {
                let job = inbox.recv_guarded().await;
                took.send(()).await.unwrap();
                std::future::pending::<()>().await; // stuck mid-message
                job.ack();
            }
        }
    });
    jobs.send("stuck").await.unwrap();
    jobs.send("next").await.unwrap();
    taken.recv().await;
    let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
    assert_eq!(report.aborted(), 1);
    let again = inbox.try_recv_guarded().unwrap();
    assert_eq!(
        (*again, again.attempt()),
        ("stuck", 2),
        "back, ahead of the next"
    );
    again.ack();
    assert_eq!(inbox.try_recv(), Ok("next"));
}

pub(crate) async fn a_grace_period_too_long_for_the_clock_waits_for_the_tasks<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(2).spawn_graceful(move |stop| {
        let (guard, clock) = (tasks.guard(), clock.clone());
        async move {
            let _guard = guard;
            stop.requested().await;
            // Finishing takes a while, and the grace period has no end.
            clock
                .sleep_until(clock.now() + Duration::from_secs(600))
                .await;
        }
    });
    wait_for(&mut group, |s| s.running == 2).await;
    let report = group.shutdown(Duration::MAX).await.unwrap();
    assert_eq!(report.aborted(), 0);
    assert!(report
        .tasks
        .iter()
        .all(|t| matches!(t.exit, Exit::Returned)));
    assert_eq!(live.count(), 0);
}

pub(crate) async fn a_backoff_too_long_for_the_clock_never_restarts_and_stops_cleanly<
    R: Runtime,
>(
    rt: R,
) {
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&starts);
    let clock = rt.clone();
    let mut group = Builder::new(rt)
        .backoff(Backoff::exponential(Duration::MAX, Duration::MAX))
        .spawn(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { panic!("fails at once") }
        });
    // Immediate first restart, then a wait that never ends.
    let stats = wait_for(&mut group, |s| s.backing_off == 1).await;
    assert_eq!((stats.started, stats.panicked), (2, 2));
    outwait_every_backoff(&clock).await;
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    within_an_hour(&clock, group.stop()).await.unwrap();
}

pub(crate) async fn a_supervisor_that_fails_aborts_its_tasks_and_every_wait_ends<R: Runtime>(
    rt: R,
) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    // The supervisor and its two tasks spawn; the next spawn fails, inside
    // the supervisor.
    let failing = FailingSpawns::new(rt, 3);
    let mut group = Builder::new(failing)
        .name("doomed")
        .tasks(2)
        .spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 2).await;
    assert_eq!(group.upscale(1), Ok(3));
    // The watcher learns of the end, after the last stats.
    within_an_hour(&clock, async {
        while group.changed().await.is_ok() {
            group.stat_borrow_and_update();
        }
    })
    .await;
    assert_eq!(group.upscale(1), Err(ScaleError::Ended));
    let result = within_an_hour(&clock, group.stop()).await;
    assert_eq!(
        result,
        Err(GroupError::SupervisorPanicked {
            group: "doomed".into(),
            message: Some("the runtime refuses to spawn".into()),
        })
    );
    // The panic was caught: the supervisor waited for its tasks to stop.
    assert_eq!(live.count(), 0, "a task outlived its failed supervisor");
}

pub(crate) async fn an_upscale_beyond_the_limit_is_refused_and_changes_nothing<R: Runtime>(rt: R) {
    let mut group = Builder::new(rt)
        .tasks(2)
        .max_tasks(3)
        .spawn(std::future::pending::<()>);
    assert_eq!(
        group.upscale(usize::MAX),
        Err(ScaleError::TooManyTasks {
            requested: usize::MAX,
            max: 3
        })
    );
    assert_eq!(
        group.upscale(2),
        Err(ScaleError::TooManyTasks {
            requested: 4,
            max: 3
        })
    );
    assert_eq!(group.upscale(1), Ok(3));
    let stats = wait_for(&mut group, |s| s.running == 3).await;
    assert_eq!(stats.tasks, 3);
    assert_eq!(group.downscale(usize::MAX), 1);
    group.stop().await.unwrap();
}

pub(crate) async fn a_huge_upscale_starts_tasks_a_few_at_a_time_and_stops_at_once<R: Runtime>(
    rt: R,
) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt)
        .max_tasks(usize::MAX)
        .spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 1).await;
    assert_eq!(group.upscale(usize::MAX - 1), Ok(usize::MAX));
    // The supervisor starts a few and yields; the stop is seen at once.
    let stats = wait_for(&mut group, |s| s.started > 1).await;
    assert!(stats.started <= 1 + 64, "{stats:?}");
    within_an_hour(&clock, group.stop()).await.unwrap();
    assert_eq!(live.count(), 0);
}

pub(crate) async fn changed_reports_the_end_of_a_group_that_gave_up<R: Runtime>(rt: R) {
    let clock = rt.clone();
    let mut group = Builder::new(rt)
        .backoff(Backoff::none())
        .intensity(3, Duration::from_secs(60))
        .spawn(|| async { panic!("crash") });
    // The README's watch loop: it ends when the group does.
    let mut seen = 0;
    within_an_hour(&clock, async {
        while group.changed().await.is_ok() {
            seen = group.stat_borrow_and_update().panicked;
        }
    })
    .await;
    assert_eq!(seen, 4, "the final stats are reported before the end");
    assert_eq!(group.changed().await, Err(Ended));
    assert!(matches!(group.join().await, Err(GroupError::GaveUp { .. })));
}

pub(crate) async fn changed_reports_the_end_of_a_stopped_group<R: Runtime>(rt: R) {
    let clock = rt.clone();
    let mut group = Builder::new(rt)
        .restart(Restart::Never)
        .tasks(2)
        .spawn(|| async {});
    within_an_hour(&clock, async {
        while group.changed().await.is_ok() {
            group.stat_borrow_and_update();
        }
    })
    .await;
    let stats = *group.stat_borrow();
    assert_eq!((stats.returned, stats.running), (2, 0));
    assert!(!group.has_changed());
    group.join().await.unwrap();
}

pub(crate) async fn stats_held_across_an_await_block_nothing<R: Runtime>(rt: R) {
    let clock = rt.clone();
    let (started, starts) = stage::mailbox::<()>(16);
    let group = Builder::new(rt).backoff(Backoff::none()).spawn(move || {
        let started = started.clone();
        async move {
            started.send(()).await.unwrap();
            panic!("restart me");
        }
    });
    let held = group.stat_borrow();
    // The supervisor restarts and publishes meanwhile; the borrow, held
    // across these awaits, must not stop it.
    within_an_hour(&clock, async {
        for _ in 0..4 {
            starts.recv().await;
        }
    })
    .await;
    assert_eq!(held.started, 0, "a borrow is a snapshot");
    assert!(group.stat_borrow().started >= 4);
    group.stop().await.unwrap();
}

pub(crate) async fn a_release_dropped_before_it_completes_aborts_the_tasks<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(3).spawn(tasks.idle_tasks());
    wait_for(&mut group, |s| s.running == 3).await;
    {
        let mut release = pin!(group.release());
        // One poll: the release is asked for...
        poll_once(release.as_mut()).await;
        // ... and carried out by the supervisor, which hands the tasks over
        // to a future that is then dropped before it takes them.
        tick(&clock).await;
    }
    tick(&clock).await;
    assert_eq!(live.count(), 0, "released tasks nobody took ran on");
}

/// A panic payload whose destructor panics too.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the payload's drop panicked");
    }
}

pub(crate) async fn a_panic_payload_whose_drop_panics_does_not_take_the_supervisor_down<
    R: Runtime,
>(
    rt: R,
) {
    let live = Live::default();
    let tasks = live.clone();
    let mut group = Builder::new(rt)
        .backoff(Backoff::none())
        .tasks(2)
        .spawn(move || {
            let guard = tasks.guard();
            async move {
                let _guard = guard;
                std::panic::panic_any(PanicsWhenDropped);
            }
        });
    let stats = wait_for(&mut group, |s| s.panicked >= 6).await;
    assert!(stats.restarted >= 4, "{stats:?}");
    group.stop().await.unwrap();
    assert_eq!(live.count(), 0);
}

pub(crate) async fn dropping_a_shutdown_cuts_its_grace_period_short<R: Runtime>(rt: R) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(2).spawn_graceful(move |_stop| {
        // Ignores the signal: only an abort ends it.
        let guard = tasks.guard();
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }
    });
    wait_for(&mut group, |s| s.running == 2).await;
    let start = clock.now();
    {
        let mut shutdown = pin!(group.shutdown(Duration::MAX));
        poll_once(shutdown.as_mut()).await;
        tick(&clock).await;
    }
    tick(&clock).await;
    tick(&clock).await;
    assert_eq!(live.count(), 0, "tasks outlived a dropped shutdown");
    assert!(clock.now() - start < Duration::from_secs(1));
}

pub(crate) async fn an_upscale_is_carried_out_while_tasks_churn<R: Runtime>(rt: R) {
    // Tasks that return at once and restart at once keep the supervisor
    // busy every turn: the upscale must still happen.
    let mut group = Builder::new(rt)
        .tasks(40)
        .backoff(Backoff::none())
        .spawn(|| async {});
    wait_for(&mut group, |s| s.restarted >= 40).await;
    assert_eq!(group.upscale(2), Ok(42));
    // Starts minus restarts: how many tasks have ever started.
    let mut grown = false;
    for _ in 0..10_000 {
        let stats = *group.stat_borrow_and_update();
        if stats.started - stats.restarted == 42 {
            grown = true;
            break;
        }
        group.changed().await.expect("the group runs");
    }
    assert!(grown, "the upscale starved: {:?}", *group.stat_borrow());
    let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
    assert!(report.tasks.len() <= 42);
}

pub(crate) async fn a_factory_whose_drop_panics_ends_the_group_cleanly<R: Runtime>(rt: R) {
    let bomb = PanicsWhenDropped;
    let mut group = Builder::new(rt).spawn(move || {
        let _captured = &bomb;
        std::future::pending::<()>()
    });
    wait_for(&mut group, |s| s.running == 1).await;
    assert_eq!(
        group.stop().await,
        Ok(()),
        "the user's panic is not stage's"
    );
}

pub(crate) async fn an_unread_report_of_payloads_whose_drop_panics_is_dropped_quietly<
    R: Runtime,
>(
    rt: R,
) {
    let live = Live::default();
    let tasks = live.clone();
    let clock = rt.clone();
    let mut group = Builder::new(rt).tasks(2).spawn_graceful(move |stop| {
        let guard = tasks.guard();
        async move {
            let _guard = guard;
            stop.requested().await;
            std::panic::panic_any(PanicsWhenDropped);
        }
    });
    wait_for(&mut group, |s| s.running == 2).await;
    {
        let mut shutdown = pin!(group.shutdown(Duration::from_secs(60)));
        poll_once(shutdown.as_mut()).await;
        // The supervisor shuts down and leaves its report, which the
        // dropped future never takes: two payloads that panic if dropped.
        tick(&clock).await;
        tick(&clock).await;
        assert_eq!(live.count(), 0);
    }
}

pub(crate) async fn an_upscale_made_before_the_first_poll_is_not_caught_by_a_release<R: Runtime>(
    rt: R,
) {
    let group = Builder::new(rt)
        .max_tasks(usize::MAX)
        .spawn(std::future::pending::<()>);
    // Before the supervisor has run at all.
    assert_eq!(group.upscale(999_999), Ok(1_000_000));
    let tasks = group.release().await.unwrap();
    assert_eq!(tasks.len(), 1, "only the task the group was built with");
    for task in tasks {
        task.abort();
        task.await;
    }
}

/// A group whose tasks hand out a clone of their stop signal.
fn signal_keeping_group<R: Runtime>(
    builder: Builder<R>,
) -> (Group<R>, stage::mailbox::Receiver<stage::group::StopSignal>) {
    let (keep, kept) = stage::mailbox(16);
    let group = builder.spawn_graceful(move |stop| {
        keep.try_send(stop.clone()).unwrap();
        async { panic!("crash") }
    });
    (group, kept)
}

pub(crate) async fn the_stop_signal_is_raised_whenever_the_group_ends<R: Runtime>(rt: R) {
    let clock = rt.clone();
    // Stopped.
    let builder = Builder::new(rt.clone()).backoff(Backoff::exponential(
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    ));
    let (group, kept) = signal_keeping_group(builder);
    let signal = kept.recv().await;
    assert!(!signal.is_requested());
    group.stop().await.unwrap();
    within_an_hour(&clock, signal.requested()).await;
    // Given up.
    let builder = Builder::new(rt.clone())
        .backoff(Backoff::none())
        .intensity(1, Duration::from_secs(60));
    let (group, kept) = signal_keeping_group(builder);
    let signal = kept.recv().await;
    assert!(group.join().await.is_err());
    within_an_hour(&clock, signal.requested()).await;
    // Released: the tasks are the caller's, signal and all.
    let group = Builder::new(rt).spawn_graceful(|stop| async move { stop.requested().await });
    let (keep, kept) = stage::mailbox(1);
    let tasks = group.release().await.unwrap();
    keep.try_send(tasks).unwrap();
    let tasks = kept.recv().await;
    tick(&clock).await;
    for task in tasks {
        let exit = within_an_hour(&clock, async {
            task.abort();
            task.await
        })
        .await;
        assert!(
            matches!(exit, Exit::Aborted),
            "{exit:?}: the signal was raised"
        );
    }
}

pub(crate) async fn a_group_dropped_before_its_supervisor_runs_starts_nothing<R: Runtime>(rt: R) {
    let calls = Arc::new(AtomicUsize::new(0));
    let clock = rt.clone();
    let group = Builder::new(rt).tasks(100).spawn({
        let calls = Arc::clone(&calls);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>()
        }
    });
    drop(group);
    tick(&clock).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "tasks were made only to be aborted"
    );
}

pub(crate) async fn a_handle_scales_watches_and_stops_the_group_from_another_task<R: Runtime>(
    rt: R,
) {
    let live = Live::default();
    let tasks = live.clone();
    let group = Builder::new(rt.clone()).spawn(tasks.idle_tasks());
    let mut handle = group.handle();
    drop(group.handle()); // dropping a handle changes nothing
    let controller = rt.spawn(async move {
        assert_eq!(handle.upscale(2), Ok(3));
        while handle.stat_borrow_and_update().running < 3 {
            handle.changed().await.expect("the group runs");
        }
        handle.request_stop();
        handle.ended().await;
        assert!(handle.is_ended());
        assert_eq!(handle.upscale(1), Err(ScaleError::Ended));
    });
    assert_eq!(group.join().await, Ok(()), "stopped from the other task");
    assert!(matches!(controller.await, Exit::Returned));
    assert_eq!(live.count(), 0);
}

pub(crate) async fn the_shutdown_report_names_every_task_of_the_group<R: Runtime>(rt: R) {
    // Task 0 runs until the shutdown; task 1 crashes and waits out a long
    // backoff; task 2 returns for good.
    let backoff =
        Backoff::exponential(Duration::from_secs(60), Duration::from_secs(60)).without_jitter();
    let mut group = Builder::new(rt)
        .tasks(3)
        .restart(Restart::OnFailure)
        .backoff(backoff)
        .spawn_graceful(|stop| async move {
            match stage::group::current().unwrap().index() {
                0 => stop.requested().await,
                1 => panic!("task 1 crashed"),
                _ => {}
            }
        });
    wait_for(&mut group, |s| s.returned == 1 && s.backing_off == 1).await;
    let report = group.shutdown(Duration::from_secs(5)).await.unwrap();
    let summary: Vec<_> = report
        .tasks
        .iter()
        .map(|t| (t.index, t.generation, t.was_running, t.exit.to_string()))
        .collect();
    assert_eq!(
        summary,
        [
            (0, 1, true, "returned".to_owned()),
            (1, 2, false, "panicked: task 1 crashed".to_owned()),
            (2, 1, false, "returned".to_owned()),
        ]
    );
    assert_eq!(report.aborted(), 0);
}

pub(crate) async fn a_pool_drains_its_mailbox_while_healing_crashed_workers<R: Runtime>(rt: R) {
    let (jobs, inbox) = stage::mailbox::<u32>(256);
    let (done, receipts) = stage::mailbox::<(u32, u32)>(256);
    let clock = rt.clone();
    let crashed: Arc<Mutex<std::collections::HashSet<u32>>> = Arc::default();
    let pool = Builder::new(rt)
        .tasks(4)
        .backoff(Backoff::none())
        .consume(inbox, move |worker| {
            let (done, clock, crashed) = (done.clone(), clock.clone(), Arc::clone(&crashed));
            async move {
                worker
                    .serve(async move |job: &mut u32| {
                        tick(&clock).await; // work, so that workers interleave
                                            // One job in ten crashes its worker, the first time.
                        if *job % 10 == 3 && crashed.lock().unwrap().insert(*job) {
                            panic!("job {job} crashed");
                        }
                        let me = stage::group::current().unwrap();
                        done.send((*job, me.index() as u32)).await.unwrap();
                    })
                    .await
            }
        });
    for job in 0..200 {
        jobs.send(job).await.unwrap();
    }
    let drained = pool.drain(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(drained.left, 0);
    assert!(jobs.send(200).await.is_err(), "draining closed the mailbox");
    let mut handled: Vec<u32> = std::iter::from_fn(|| receipts.try_recv().ok())
        .map(|(job, _)| job)
        .collect();
    handled.sort_unstable();
    assert_eq!(
        handled,
        (0..200).collect::<Vec<_>>(),
        "each job once, none lost"
    );
    assert_eq!(drained.tasks.len(), 4, "{:?}", drained.tasks);
    assert!(
        drained
            .tasks
            .iter()
            .all(|t| t.was_running && matches!(t.exit, Exit::Returned)),
        "every worker was running when the drain began, and returned: {:?}",
        drained.tasks
    );
    assert_eq!(jobs.stats().redeliveries, 20);
}

pub(crate) async fn a_drain_that_runs_out_of_time_says_what_was_left<R: Runtime>(rt: R) {
    let (jobs, inbox) = stage::mailbox::<u32>(16);
    let (clock, now) = (rt.clone(), rt.clone());
    let start = clock.now();
    let pool = Builder::new(rt).tasks(2).consume(inbox, move |worker| {
        let clock = clock.clone();
        async move {
            worker
                .serve(async move |_job: &mut u32| {
                    clock
                        .sleep_until(clock.now() + Duration::from_secs(1))
                        .await;
                })
                .await
        }
    });
    for job in 0..10 {
        jobs.send(job).await.unwrap();
    }
    let drained = pool.drain(Duration::from_millis(2500)).await.unwrap();
    // Two workers, a second a job: four done by the deadline, two aborted
    // mid-job (their jobs went back), four never started.
    assert_eq!(drained.left, 6);
    assert_eq!(drained.aborted(), 2);
    assert_eq!(
        now.now() - start,
        Duration::from_millis(2500),
        "one deadline"
    );
}

pub(crate) async fn a_pool_shut_down_without_draining_leaves_the_queue_as_it_is<R: Runtime>(rt: R) {
    let (jobs, inbox) = stage::mailbox::<u32>(16);
    let (took, taken) = stage::mailbox::<u32>(16);
    let clock = rt.clone();
    let pool = Builder::new(rt).consume(inbox, move |worker| {
        let (took, clock) = (took.clone(), clock.clone());
        async move {
            worker
                .serve(async move |job: &mut u32| {
                    took.send(*job).await.unwrap();
                    clock
                        .sleep_until(clock.now() + Duration::from_secs(1))
                        .await;
                })
                .await
        }
    });
    for job in 0..10 {
        jobs.send(job).await.unwrap();
    }
    assert_eq!(taken.recv().await, 0);
    // The worker finishes the job it holds, then stops at the signal: a
    // shutdown does not work through the backlog.
    let report = pool
        .into_group()
        .shutdown(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.aborted(), 0);
    assert!(taken.try_recv().is_err(), "a second job was started");
    assert_eq!(jobs.len(), 9, "the rest stays queued");
    jobs.send(10).await.unwrap(); // and the mailbox open
}

pub(crate) async fn a_task_that_made_progress_restarts_at_once_under_the_default_backoff<
    R: Runtime,
>(
    rt: R,
) {
    let starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let (log, clock) = (Arc::clone(&starts), rt.clone());
    let mut group = Builder::new(rt)
        .backoff(Backoff::default().without_jitter())
        .spawn(move || {
            let n = {
                let mut starts = log.lock().unwrap();
                starts.push(clock.now());
                starts.len()
            };
            async move {
                // The first five starts crash at once; the next ones after
                // some useful work.
                if n > 5 {
                    stage::group::made_progress();
                }
                panic!("start {n} crashes");
            }
        });
    wait_for(&mut group, |s| s.started >= 9).await;
    group.stop().await.unwrap();
    let starts = starts.lock().unwrap();
    let gaps = gaps_in_ms(&starts);
    // Three immediate restarts, then 10 ms, 20 ms while crash-looping;
    // then, after progress, immediate every time.
    assert_eq!(gaps[..8], [0, 0, 0, 10, 20, 0, 0, 0]);
}

pub(crate) async fn a_task_that_panics_at_once_restarts_at_most_twice_a_second_by_default<
    R: Runtime,
>(
    rt: R,
) {
    let clock = rt.clone();
    let group = Builder::new(rt).spawn(|| async { panic!("crash loop") });
    clock
        .sleep_until(clock.now() + Duration::from_secs(600))
        .await;
    let started = group.stat_borrow().started;
    group.stop().await.unwrap();
    // Three immediate restarts, seven waits from 10 ms doubling to 640 ms
    // (jittered, about 0.9 s in all), then 0.5 to 1 s each: in ten minutes,
    // between 600 and 1,200 starts plus the ramp.
    assert!(
        (600..=1_212).contains(&started),
        "{started} starts in ten minutes"
    );
}

pub(crate) async fn a_drain_ends_by_its_deadline_even_during_a_longer_shutdown<R: Runtime>(rt: R) {
    let (jobs, inbox) = stage::mailbox::<u32>(4);
    let clock = rt.clone();
    let pool = Builder::new(rt).consume(inbox, |worker| async move {
        worker
            .serve(async |_job: &mut u32| std::future::pending::<()>().await)
            .await
    });
    jobs.send(1).await.unwrap();
    tick(&clock).await;
    pool.handle().request_shutdown(Duration::from_secs(3600));
    let start = clock.now();
    let drained = pool.drain(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        clock.now() - start,
        Duration::from_secs(1),
        "the drain's deadline holds"
    );
    assert_eq!((drained.left, drained.aborted()), (1, 1));
}

pub(crate) async fn a_shutdown_of_a_group_that_ended_on_its_own_names_every_task<R: Runtime>(
    rt: R,
) {
    let mut group = Builder::new(rt)
        .tasks(3)
        .restart(Restart::Never)
        .spawn(|| async {});
    wait_for(&mut group, |s| s.returned == 3).await;
    let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
    let tasks: Vec<_> = report
        .tasks
        .iter()
        .map(|t| (t.index, t.was_running))
        .collect();
    assert_eq!(tasks, [(0, false), (1, false), (2, false)]);
    assert!(report
        .tasks
        .iter()
        .all(|t| matches!(t.exit, Exit::Returned)));
}

pub(crate) async fn a_drain_cut_short_by_a_stop_still_names_every_worker<R: Runtime>(rt: R) {
    let (jobs, inbox) = stage::mailbox::<u32>(4);
    let clock = rt.clone();
    let pool = Builder::new(rt)
        .tasks(2)
        .consume(inbox, |worker| async move {
            worker
                .serve(async |_job: &mut u32| std::future::pending::<()>().await)
                .await
        });
    jobs.send(1).await.unwrap();
    tick(&clock).await;
    let handle = pool.handle();
    let stopper = async {
        tick(&clock).await;
        handle.request_stop();
    };
    let (drained, ()) =
        futures_util::future::join(pool.drain(Duration::from_secs(3600)), stopper).await;
    let drained = drained.unwrap();
    assert_eq!(drained.left, 1, "the job held went back");
    let tasks: Vec<_> = drained.tasks.iter().map(|t| t.index).collect();
    assert_eq!(tasks, [0, 1]);
}
