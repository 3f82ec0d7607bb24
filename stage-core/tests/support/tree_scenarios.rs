//! Supervision-tree behaviour, written once over any [`Runtime`]: stage-core
//! runs these on its virtual async-task runtime, the `stage` facade on tokio
//! with a paused clock.

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{select, Either};
use stage::group::{Backoff, Restart, StopSignal};
use stage::mailbox::Sender;
use stage::runtime::Runtime;
use stage::supervisor::{
    AutoShutdown, Builder, Child, ChildError, ChildExit, ChildKind, ChildState, StopMode, Strategy,
    SupervisorError,
};

/// Invokes `$runner!` with the name of every scenario below.
macro_rules! all_tree_scenarios {
    ($runner:ident) => {
        $runner!(
            one_for_one_restarts_only_the_child_that_failed,
            one_for_all_stops_the_others_in_reverse_then_starts_all_in_order,
            rest_for_one_restarts_the_failed_child_and_those_after_it,
            restart_types_decide_which_exits_are_restarted,
            giving_up_escalates_through_three_levels_to_a_typed_error_at_the_root,
            shutdown_stops_children_in_reverse_order_under_one_deadline,
            linked_groups_restart_together_and_their_mailbox_keeps_its_messages,
            dropping_the_supervisor_stops_every_child,
            significant_children_end_the_tree_and_others_do_not,
            children_that_cannot_be_children_are_refused_with_a_typed_error,
            children_are_started_stopped_restarted_and_removed_by_name,
            a_restart_pending_for_an_old_generation_is_dropped,
            children_start_in_order_each_once_the_one_before_is_ready,
            a_child_not_ready_in_time_fails_to_start,
            requests_to_a_supervisor_that_ended_say_so,
            the_snapshot_shows_every_child_and_the_stats_follow_the_tree,
            dropping_a_shutdown_midway_cuts_it_short,
            a_tree_dropped_before_it_ran_starts_no_child,
            killing_a_child_fails_it_as_a_crash_would,
            children_of_child_supervisors_are_reached_by_path,
            an_exit_that_came_during_another_stop_is_not_lost,
            a_child_failing_to_start_over_and_over_starves_nothing,
            a_later_shorter_shutdown_cuts_a_longer_one_short,
            a_child_asking_to_stop_itself_gets_its_answer,
            values_whose_drop_panics_do_not_fell_the_tree,
            escalation_errors_stay_small_however_deep_the_tree,
            a_pool_child_serves_its_mailbox_at_least_once,
            a_child_stuck_starting_can_be_killed,
        );
    };
}
pub(crate) use all_tree_scenarios;

/// What the children did, in order: "start a#1", "stop a#1".
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Logs "stop name#n" when a worker's future is dropped: it ended, or it
/// was aborted.
struct Stopped(Log, String);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.push(format!("stop {}", self.1));
    }
}

/// A worker that logs its starts and stops, runs until its stop signal,
/// and panics when told to through the returned sender.
fn worker<R: Runtime>(name: &'static str, log: &Log) -> (Child<R>, Sender<()>) {
    let (kill, orders) = stage::mailbox::<()>(4);
    let (log, starts) = (log.clone(), Arc::new(AtomicU64::new(0)));
    let child = Child::worker(name, move |stop: StopSignal| {
        let n = starts.fetch_add(1, Ordering::SeqCst) + 1;
        let me = format!("{name}#{n}");
        log.push(format!("start {me}"));
        let (stopped, orders) = (Stopped(log.clone(), me), orders.clone());
        async move {
            let _stopped = stopped;
            let (stopping, ordered) = (pin!(stop.requested()), pin!(orders.recv()));
            if let Either::Right(_) = select(stopping, ordered).await {
                panic!("{name} crashed");
            }
        }
    })
    .stop_mode(StopMode::Abort);
    (child, kill)
}

/// Lets the other tasks run once.
async fn yield_now() {
    let mut yielded = false;
    core::future::poll_fn(|cx| {
        if yielded {
            return core::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        core::task::Poll::Pending
    })
    .await;
}

/// Lets the runtime run for a millisecond of its time.
async fn tick<R: Runtime>(clock: &R) {
    clock
        .sleep_until(clock.now() + Duration::from_millis(1))
        .await;
}

/// Workers a, b and c under `strategy`: crashes b, and returns what the
/// children did from then on.
async fn crash_b<R: Runtime>(rt: R, strategy: Strategy) -> Vec<String> {
    let log = Log::default();
    let ((a, _), (b, kill_b), (c, _)) = (worker("a", &log), worker("b", &log), worker("c", &log));
    let tree = Builder::new(rt.clone())
        .strategy(strategy)
        .backoff(Backoff::none())
        .child(a)
        .child(b)
        .child(c)
        .spawn();
    tick(&rt).await;
    assert_eq!(
        log.take(),
        ["start a#1", "start b#1", "start c#1"],
        "started in order"
    );
    kill_b.send(()).await.unwrap();
    tick(&rt).await;
    let after = log.take();
    tree.stop().await.unwrap();
    after
}

pub(crate) async fn one_for_one_restarts_only_the_child_that_failed<R: Runtime>(rt: R) {
    let after = crash_b(rt, Strategy::OneForOne).await;
    assert_eq!(after, ["stop b#1", "start b#2"]);
}

pub(crate) async fn one_for_all_stops_the_others_in_reverse_then_starts_all_in_order<R: Runtime>(
    rt: R,
) {
    let after = crash_b(rt, Strategy::OneForAll).await;
    assert_eq!(
        after,
        [
            "stop b#1",
            "stop c#1",
            "stop a#1",
            "start a#2",
            "start b#2",
            "start c#2"
        ],
        "every old incarnation stopped, in reverse order, before any new one started"
    );
}

pub(crate) async fn rest_for_one_restarts_the_failed_child_and_those_after_it<R: Runtime>(rt: R) {
    let after = crash_b(rt, Strategy::RestForOne).await;
    assert_eq!(after, ["stop b#1", "stop c#1", "start b#2", "start c#2"]);
}

pub(crate) async fn restart_types_decide_which_exits_are_restarted<R: Runtime>(rt: R) {
    let starts: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let returning = |name: &'static str, restart: Restart, panics: bool| {
        let starts = Arc::clone(&starts);
        Child::worker(name, move |_stop| {
            starts.lock().unwrap().push(name);
            async move {
                if panics {
                    panic!("{name} failed");
                }
            }
        })
        .restart(restart)
    };
    let tree = Builder::new(rt.clone())
        .backoff(Backoff::none())
        .intensity(100, Duration::from_secs(60))
        .auto_shutdown(AutoShutdown::AllSignificant)
        // Transient: restarted after a failure, not after a return.
        .child(returning("transient_returns", Restart::OnFailure, false).significant())
        // Temporary: never restarted.
        .child(returning("temporary_fails", Restart::Never, true).significant())
        .spawn();
    // Both ended for good: the tree ends on its own.
    tree.join().await.unwrap();
    let mut starts = starts.lock().unwrap().clone();
    starts.sort_unstable();
    assert_eq!(
        starts,
        ["temporary_fails", "transient_returns"],
        "none restarted"
    );

    // Permanent: restarted even after a return.
    let count = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&count);
    let tree = Builder::new(rt.clone())
        .backoff(Backoff::none())
        .intensity(2, Duration::from_secs(60))
        .child(Child::worker("permanent", move |_stop| {
            counter.fetch_add(1, Ordering::SeqCst);
            async {}
        }))
        .spawn();
    let error = tree.join().await.unwrap_err();
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "two restarts, the third refused"
    );
    assert!(matches!(
        error,
        SupervisorError::GaveUp {
            exit: ChildExit::Returned,
            ..
        }
    ));
}

pub(crate) async fn giving_up_escalates_through_three_levels_to_a_typed_error_at_the_root<
    R: Runtime,
>(
    rt: R,
) {
    let writer = Child::worker("writer", |_stop| async { panic!("disk full") });
    let pipeline = Builder::new(rt.clone())
        .backoff(Backoff::none())
        .intensity(1, Duration::from_secs(60))
        .child(writer);
    let services = Builder::new(rt.clone())
        .backoff(Backoff::none())
        .intensity(1, Duration::from_secs(60))
        .child(Child::supervisor("pipeline", pipeline));
    let tree = Builder::new(rt.clone())
        .name("app")
        .backoff(Backoff::none())
        .intensity(0, Duration::from_secs(60))
        .child(Child::supervisor("services", services))
        .spawn();
    let error = tree.join().await.unwrap_err();
    let SupervisorError::GaveUp {
        supervisor, child, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(
        (supervisor.as_str(), child.as_str()),
        ("app", "app/services")
    );
    let (path, exit) = error.root_cause().unwrap();
    assert_eq!(path, "app/services/pipeline/writer");
    assert_eq!(exit, &ChildExit::Panicked(Some("disk full".into())));
    // As an error chain: each supervisor's own message, then its source.
    let mut chain = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        chain.push(inner.to_string());
        source = inner.source();
    }
    assert_eq!(
        chain,
        [
            "supervisor app gave up: more than 0 restarts within 60s, the last for app/services, which gave up",
            "supervisor app/services gave up: more than 1 restarts within 60s, the last for app/services/pipeline, which gave up",
            "supervisor app/services/pipeline gave up: more than 1 restarts within 60s, the last for app/services/pipeline/writer (panicked: disk full)",
        ]
    );
}

pub(crate) async fn shutdown_stops_children_in_reverse_order_under_one_deadline<R: Runtime>(rt: R) {
    let log = Log::default();
    let quick = {
        let log = log.clone();
        Child::worker("quick", move |stop: StopSignal| {
            let stopped = Stopped(log.clone(), "quick".into());
            async move {
                let _stopped = stopped;
                stop.requested().await;
            }
        })
    };
    // Ignores its stop signal: its own grace is 10 s, but the overall
    // deadline of 3 s comes first.
    let stubborn = {
        let log = log.clone();
        Child::worker("stubborn", move |_stop| {
            let stopped = Stopped(log.clone(), "stubborn".into());
            async move {
                let _stopped = stopped;
                std::future::pending::<()>().await;
            }
        })
        .stop_mode(StopMode::Graceful(Duration::from_secs(10)))
    };
    // Waits as long as it takes (1 s, to flush), within the overall
    // deadline.
    let patient = {
        let (log, rt) = (log.clone(), rt.clone());
        Child::worker("patient", move |stop: StopSignal| {
            let (stopped, rt) = (Stopped(log.clone(), "patient".into()), rt.clone());
            async move {
                let _stopped = stopped;
                stop.requested().await;
                rt.sleep_until(rt.now() + Duration::from_secs(1)).await;
            }
        })
        .stop_mode(StopMode::Wait)
    };
    let tree = Builder::new(rt.clone())
        .name("app")
        .child(stubborn)
        .child(patient)
        .child(quick)
        .spawn();
    tick(&rt).await;
    let start = rt.now();
    let report = tree.shutdown(Duration::from_secs(3)).await.unwrap();
    assert_eq!(rt.now() - start, Duration::from_secs(3), "one deadline");
    assert_eq!(
        log.take(),
        ["stop quick", "stop patient", "stop stubborn"],
        "reverse start order"
    );
    let children: Vec<_> = report
        .children
        .iter()
        .map(|c| (c.path.as_str(), c.generation, c.exit.clone()))
        .collect();
    assert_eq!(
        children,
        [
            ("app/stubborn", 1, ChildExit::Aborted),
            ("app/patient", 1, ChildExit::Returned),
            ("app/quick", 1, ChildExit::Returned)
        ]
    );
    assert_eq!(
        report.to_string(),
        "app/stubborn (generation 1): aborted\n\
         app/patient (generation 1): returned\n\
         app/quick (generation 1): returned"
    );
    let aborted: Vec<_> = report.aborted().map(|c| c.path.as_str()).collect();
    assert_eq!(aborted, ["app/stubborn"]);
}

pub(crate) async fn linked_groups_restart_together_and_their_mailbox_keeps_its_messages<
    R: Runtime,
>(
    rt: R,
) {
    let (jobs, inbox) = stage::mailbox::<u32>(64);
    let (done, receipts) = stage::mailbox::<u32>(64);
    let starts = Log::default();
    let producers = {
        let starts = starts.clone();
        Child::linked_group(
            "producers",
            stage::group::Builder::new(rt.clone()),
            move |_stop| {
                starts.push("producers".into());
                std::future::pending::<()>()
            },
        )
        .stop_mode(StopMode::Abort)
    };
    let consumers = {
        let starts = starts.clone();
        Child::linked_group(
            "consumers",
            stage::group::Builder::new(rt.clone()).tasks(2),
            move |_stop| {
                starts.push("consumers".into());
                let (inbox, done) = (inbox.clone(), done.clone());
                async move {
                    loop {
                        let job = inbox.recv_guarded().await;
                        if *job == 3 && job.attempt() == 1 {
                            panic!("job 3 crashed its consumer");
                        }
                        done.send(*job).await.unwrap();
                        job.ack();
                    }
                }
            },
        )
        .stop_mode(StopMode::Abort)
    };
    let tree = Builder::new(rt.clone())
        .strategy(Strategy::OneForAll)
        .backoff(Backoff::none())
        .child(producers)
        .child(consumers)
        .spawn();
    for job in 0..10 {
        jobs.send(job).await.unwrap();
    }
    let mut handled: Vec<u32> = Vec::new();
    for _ in 0..10 {
        handled.push(receipts.recv().await);
    }
    handled.sort_unstable();
    assert_eq!(
        handled,
        (0..10).collect::<Vec<_>>(),
        "no job lost across the restart"
    );
    // One crash in the consumers restarts both groups.
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.extend(starts.take());
        if seen.len() >= 6 {
            break;
        }
        tick(&rt).await;
    }
    let count = |name: &str| seen.iter().filter(|s| *s == name).count();
    assert_eq!((count("producers"), count("consumers")), (2, 4), "{seen:?}");
    tree.stop().await.unwrap();
}

pub(crate) async fn dropping_the_supervisor_stops_every_child<R: Runtime>(rt: R) {
    let log = Log::default();
    let (a, _) = worker::<R>("a", &log);
    let inner = Builder::new(rt.clone()).child(worker("b", &log).0);
    let tree = Builder::new(rt.clone())
        .child(a)
        .child(Child::supervisor("inner", inner))
        .child(Child::group(
            "group",
            stage::group::Builder::new(rt.clone()).tasks(2),
            {
                let log = log.clone();
                move |_stop| {
                    let stopped = Stopped(log.clone(), "task".into());
                    async move {
                        let _stopped = stopped;
                        std::future::pending::<()>().await;
                    }
                }
            },
        ))
        .spawn();
    tick(&rt).await;
    log.take();
    drop(tree);
    tick(&rt).await;
    tick(&rt).await;
    let mut stopped = log.take();
    stopped.sort();
    assert_eq!(stopped, ["stop a#1", "stop b#1", "stop task", "stop task"]);
}

/// A worker that runs until stopped, logging its starts and stops, and
/// says it is ready after `after` (never, if `None`).
fn slow_starter<R: Runtime>(
    name: &'static str,
    log: &Log,
    rt: &R,
    after: Option<Duration>,
) -> Child<R> {
    let (log, rt, starts) = (log.clone(), rt.clone(), Arc::new(AtomicU64::new(0)));
    Child::worker_with_ready(name, move |stop: StopSignal, ready| {
        let n = starts.fetch_add(1, Ordering::SeqCst) + 1;
        let me = format!("{name}#{n}");
        log.push(format!("start {me}"));
        let (stopped, rt, log) = (Stopped(log.clone(), me.clone()), rt.clone(), log.clone());
        async move {
            let _stopped = stopped;
            if let Some(after) = after {
                rt.sleep_until(rt.now() + after).await;
                log.push(format!("ready {me}"));
                ready.notify();
            }
            stop.requested().await;
        }
    })
    .stop_mode(StopMode::Abort)
}

pub(crate) async fn significant_children_end_the_tree_and_others_do_not<R: Runtime>(rt: R) {
    let log = Log::default();
    let job = |name: &'static str, secs: u64| {
        let (log, rt) = (log.clone(), rt.clone());
        Child::worker(name, move |_stop| {
            let (log, rt) = (log.clone(), rt.clone());
            async move {
                rt.sleep_until(rt.now() + Duration::from_secs(secs)).await;
                log.push(format!("done {name}"));
            }
        })
        .restart(Restart::OnFailure)
        .stop_mode(StopMode::Abort)
    };
    // Any: the first significant child to end ends the tree, and stops
    // the others.
    let (server, _) = worker("server", &log);
    let tree = Builder::new(rt.clone())
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(server)
        .child(job("job", 1).significant())
        .spawn();
    tree.join().await.unwrap();
    assert_eq!(log.take(), ["start server#1", "done job", "stop server#1"]);

    // All: the tree runs until the last significant child has ended.
    let tree = Builder::new(rt.clone())
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(job("short", 1).significant())
        .child(job("long", 5).significant())
        .child(job("unimportant", 7))
        .spawn();
    let handle = tree.handle();
    rt.sleep_until(rt.now() + Duration::from_secs(2)).await;
    assert!(!handle.is_ended(), "one significant child still runs");
    tree.join().await.unwrap();
    assert_eq!(log.take(), ["done short", "done long"]);

    // Never (the default): a tree whose children all ended goes on, and
    // takes new children.
    let tree = Builder::new(rt.clone()).child(job("once", 1)).spawn();
    rt.sleep_until(rt.now() + Duration::from_secs(10)).await;
    assert_eq!(log.take(), ["done once"]);
    assert!(!tree.is_ended());
    let (later, _) = worker("later", &log);
    assert_eq!(tree.start_child(later).await, Ok(1));
    tree.stop().await.unwrap();
    assert_eq!(log.take(), ["start later#1", "stop later#1"]);
}

pub(crate) async fn children_that_cannot_be_children_are_refused_with_a_typed_error<R: Runtime>(
    rt: R,
) {
    let log = Log::default();
    let refused = |builder: Builder<R>| async {
        match builder.name("app").spawn().join().await {
            Err(SupervisorError::InvalidChild { child, reason, .. }) => (child, reason),
            other => panic!("{other:?}"),
        }
    };
    let (a, _) = worker::<R>("a", &log);
    let (child, reason) = refused(Builder::new(rt.clone()).child(a.clone()).child(a.clone())).await;
    assert_eq!(
        (child.as_str(), reason),
        ("a", "two children have this name")
    );
    let permanent = a.clone().significant();
    let auto = Builder::new(rt.clone()).auto_shutdown(AutoShutdown::AnySignificant);
    let (child, reason) = refused(auto.clone().child(permanent)).await;
    assert_eq!(child, "a");
    assert!(reason.contains("must not be restarted"), "{reason}");
    let (t, _) = worker::<R>("t", &log);
    let transient = t.restart(Restart::OnFailure).significant();
    let (_, reason) = refused(Builder::new(rt.clone()).child(transient.clone())).await;
    assert!(reason.contains("auto_shutdown"), "{reason}");
    let empty = Child::group(
        "empty",
        stage::group::Builder::new(rt.clone()).tasks(0),
        |_stop: StopSignal| async {},
    );
    let (_, reason) = refused(Builder::new(rt.clone()).child(empty)).await;
    assert_eq!(reason, "a group needs at least one task");
    assert!(log.take().is_empty(), "no child was started");

    // The same checks for a child started later.
    let tree = Builder::new(rt.clone())
        .name("app")
        .child(a.clone())
        .spawn();
    let taken = tree.start_child(a).await.unwrap_err();
    assert!(
        matches!(taken, ChildError::NameTaken { ref name, .. } if name == "a"),
        "{taken}"
    );
    let invalid = tree.start_child(transient).await.unwrap_err();
    assert!(matches!(invalid, ChildError::Invalid { .. }), "{invalid}");
    tree.stop().await.unwrap();
}

pub(crate) async fn children_are_started_stopped_restarted_and_removed_by_name<R: Runtime>(rt: R) {
    let log = Log::default();
    let (a, _) = worker("a", &log);
    let (b, kill_b) = worker("b", &log);
    let tree = Builder::new(rt.clone())
        .name("app")
        .strategy(Strategy::OneForAll)
        .backoff(Backoff::none())
        .child(a)
        .spawn();
    assert_eq!(tree.start_child(b).await, Ok(1), "the first generation");
    assert_eq!(
        log.take(),
        ["start a#1", "start b#1"],
        "added after the others"
    );

    // Stopped on purpose: stays stopped, also when a strategy restarts the
    // others.
    tree.stop_child("a").await.unwrap();
    assert_eq!(log.take(), ["stop a#1"]);
    kill_b.send(()).await.unwrap();
    tick(&rt).await;
    assert_eq!(log.take(), ["stop b#1", "start b#2"], "a is not restarted");
    tree.stop_child("a").await.unwrap(); // stopping it again does nothing
    assert!(log.take().is_empty());

    // Restarted on purpose: this child alone, whatever the strategy.
    assert_eq!(tree.restart_child("a").await, Ok(2));
    assert_eq!(tree.restart_child("b").await, Ok(3));
    assert_eq!(log.take(), ["start a#2", "stop b#2", "start b#3"]);

    // Removed: stopped, and its name is free.
    tree.remove_child("a").await.unwrap();
    assert_eq!(log.take(), ["stop a#2"]);
    let missing = tree.stop_child("a").await.unwrap_err();
    assert_eq!(
        missing,
        ChildError::NotFound {
            supervisor: "app".into(),
            name: "a".into()
        }
    );
    assert!(tree.restart_child("a").await.is_err());
    assert!(tree.remove_child("a").await.is_err());
    let (a, _) = worker("a", &log);
    assert_eq!(
        tree.start_child(a).await,
        Ok(1),
        "a new child, by the old name"
    );
    let report = tree.shutdown(Duration::from_secs(1)).await.unwrap();
    let paths: Vec<_> = report.children.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["app/b", "app/a"], "in start order");
}

pub(crate) async fn a_restart_pending_for_an_old_generation_is_dropped<R: Runtime>(rt: R) {
    let log = Log::default();
    let (a, kill_a) = worker("a", &log);
    let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(1))
        .free_restarts(0)
        .without_jitter();
    let tree = Builder::new(rt.clone())
        .backoff(backoff)
        .intensity(100, Duration::from_secs(60))
        .child(a)
        .spawn();
    let second = || rt.sleep_until(rt.now() + Duration::from_millis(1_500));
    tick(&rt).await;
    // Stopped on purpose during its backoff: the restart is dropped.
    kill_a.send(()).await.unwrap();
    tick(&rt).await;
    tree.stop_child("a").await.unwrap();
    second().await;
    assert_eq!(log.take(), ["start a#1", "stop a#1"], "not restarted");

    // Restarted on purpose during its backoff: the old restart does not
    // start a second incarnation.
    assert_eq!(tree.restart_child("a").await, Ok(2));
    kill_a.send(()).await.unwrap();
    tick(&rt).await;
    assert_eq!(
        tree.restart_child("a").await,
        Ok(3),
        "at once, not after the backoff"
    );
    second().await;
    assert_eq!(log.take(), ["start a#2", "stop a#2", "start a#3"]);

    // Removed during its backoff: nothing starts.
    kill_a.send(()).await.unwrap();
    tick(&rt).await;
    tree.remove_child("a").await.unwrap();
    second().await;
    assert_eq!(log.take(), ["stop a#3"]);
    tree.stop().await.unwrap();
}

pub(crate) async fn children_start_in_order_each_once_the_one_before_is_ready<R: Runtime>(rt: R) {
    let log = Log::default();
    let inner = Builder::new(rt.clone()).child(slow_starter(
        "cache",
        &log,
        &rt,
        Some(Duration::from_secs(2)),
    ));
    let tree = Builder::new(rt.clone())
        .child(slow_starter("db", &log, &rt, Some(Duration::from_secs(1))))
        .child(Child::supervisor("inner", inner))
        .child(worker("api", &log).0)
        .spawn();
    let start = rt.now();
    tree.ready().await.unwrap();
    assert_eq!(
        rt.now() - start,
        Duration::from_secs(3),
        "one after the other"
    );
    assert_eq!(
        log.take(),
        [
            "start db#1",
            "ready db#1",
            "start cache#1",
            "ready cache#1",
            "start api#1"
        ],
        "a child supervisor is ready once its children are"
    );
    tree.stop().await.unwrap();
}

pub(crate) async fn a_child_not_ready_in_time_fails_to_start<R: Runtime>(rt: R) {
    let log = Log::default();
    let never = slow_starter("db", &log, &rt, None).start_timeout(Duration::from_secs(2));
    let tree = Builder::new(rt.clone())
        .name("app")
        .backoff(Backoff::none())
        .intensity(1, Duration::from_secs(60))
        .child(never.clone())
        .child(worker("api", &log).0)
        .spawn();
    let start = rt.now();
    let error = tree.join().await.unwrap_err();
    assert_eq!(
        rt.now() - start,
        Duration::from_secs(4),
        "two starts, two timeouts"
    );
    let (path, exit) = error.root_cause().unwrap();
    assert_eq!(
        (path, exit),
        ("app/db", &ChildExit::StartTimedOut(Duration::from_secs(2)))
    );
    assert_eq!(
        log.take(),
        ["start db#1", "stop db#1", "start db#2", "stop db#2"],
        "aborted at its timeout; the next child never started"
    );

    // Started later: the caller gets the failure, and the child is gone.
    let tree = Builder::new(rt.clone()).name("app").spawn();
    let failed = tree.start_child(never).await.unwrap_err();
    assert_eq!(
        failed,
        ChildError::StartFailed {
            path: "app/db".into(),
            exit: ChildExit::StartTimedOut(Duration::from_secs(2))
        }
    );
    assert_eq!(log.take(), ["start db#3", "stop db#3"]);
    assert!(matches!(
        tree.stop_child("db").await,
        Err(ChildError::NotFound { .. })
    ));
    // A child that panics before it is ready fails its start too.
    let crashing =
        Child::worker_with_ready("crashing", |_stop, _ready| async { panic!("no config") });
    let failed = tree.start_child(crashing).await.unwrap_err();
    assert_eq!(
        failed.to_string(),
        "app/crashing failed to start: panicked: no config"
    );
    tree.stop().await.unwrap();
}

pub(crate) async fn requests_to_a_supervisor_that_ended_say_so<R: Runtime>(rt: R) {
    let log = Log::default();
    let tree = Builder::new(rt.clone())
        .name("app")
        .child(slow_starter("db", &log, &rt, None).start_timeout(Duration::MAX))
        .spawn();
    let handle = tree.handle();
    tick(&rt).await;
    tree.stop().await.unwrap();
    assert_eq!(log.take(), ["start db#1", "stop db#1"]);
    let ended = ChildError::SupervisorEnded {
        supervisor: "app".into(),
    };
    assert_eq!(
        handle.start_child(worker("a", &log).0).await,
        Err(ended.clone())
    );
    assert_eq!(handle.stop_child("a").await, Err(ended.clone()));
    assert_eq!(handle.ready().await, Err(stage::group::Ended));
    assert!(handle.is_ended());
    assert!(log.take().is_empty(), "nothing started");

    // A request in flight when the tree is dropped is answered too.
    let tree = Builder::new(rt.clone())
        .name("app")
        .child(slow_starter("db", &log, &rt, None).start_timeout(Duration::MAX))
        .spawn();
    let handle = tree.handle();
    let mut ready = std::pin::pin!(handle.ready());
    let polled = futures_util::FutureExt::now_or_never(ready.as_mut());
    assert!(polled.is_none(), "db is never ready");
    let waiting = handle.start_child(worker("late", &log).0);
    let dropping = async move {
        tick(&rt).await;
        drop(tree);
    };
    let (answer, ()) = futures_util::future::join(waiting, dropping).await;
    assert_eq!(answer, Err(ended));
    assert_eq!(ready.await, Err(stage::group::Ended), "nor is the tree");
}

pub(crate) async fn the_snapshot_shows_every_child_and_the_stats_follow_the_tree<R: Runtime>(
    rt: R,
) {
    let log = Log::default();
    let (jobs, inbox) = stage::mailbox::<u32>(8);
    for job in 0..3 {
        jobs.try_send(job).unwrap();
    }
    let pipeline = Builder::new(rt.clone())
        .child(worker("reader", &log).0.mailbox(&inbox))
        .child(Child::group(
            "writers",
            stage::group::Builder::new(rt.clone()).tasks(2),
            |stop: StopSignal| async move { stop.requested().await },
        ));
    let (api, kill_api) = worker("api", &log);
    let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(1))
        .free_restarts(0)
        .without_jitter();
    let mut tree = Builder::new(rt.clone())
        .name("app")
        .backoff(backoff)
        .child(worker("db", &log).0)
        .child(Child::supervisor("pipeline", pipeline))
        .child(api)
        .spawn();
    tree.ready().await.unwrap();
    tick(&rt).await;
    let stats = tree.stat_borrow_and_update();
    assert_eq!((stats.children, stats.running, stats.started), (3, 3, 3));

    kill_api.send(()).await.unwrap();
    tree.changed().await.unwrap();
    while tree.stat_borrow_and_update().backing_off == 0 {
        tree.changed().await.unwrap();
    }
    let stats = tree.stat_borrow_and_update();
    assert_eq!(
        (
            stats.running,
            stats.backing_off,
            stats.restarts,
            stats.failures
        ),
        (2, 1, 1, 1)
    );
    let snapshot = tree.snapshot();
    assert_eq!(
        (
            snapshot.path.as_str(),
            snapshot.restarts,
            snapshot.max_restarts
        ),
        ("app", 1, 5)
    );
    let api = snapshot.find("app/api").unwrap();
    assert_eq!(api.kind, ChildKind::Worker);
    assert_eq!(
        api.state,
        ChildState::BackingOff(Some(snapshot.at + Duration::from_secs(1)))
    );
    assert_eq!((api.generation, api.restarts, api.running_tasks), (1, 1, 0));
    assert_eq!(
        api.last_exit,
        Some(ChildExit::Panicked(Some("api crashed".into())))
    );
    assert_eq!(
        snapshot.find("app/pipeline/reader").unwrap().mailbox,
        Some(3)
    );
    assert_eq!(
        snapshot.find("app/pipeline/writers").unwrap().running_tasks,
        2
    );
    assert_eq!(snapshot.find("app/pipeline").unwrap().running_tasks, 3);
    let depths: Vec<_> = snapshot
        .walk()
        .map(|(depth, c)| (depth, c.name.as_str()))
        .collect();
    assert_eq!(
        depths,
        [
            (0, "db"),
            (0, "pipeline"),
            (1, "reader"),
            (1, "writers"),
            (0, "api")
        ]
    );
    assert_eq!(
        snapshot.to_string(),
        "app  one_for_one  restarts 1/5 in 10s\n\
         ├─ db        worker        running      gen 1\n\
         ├─ pipeline  supervisor    running      gen 1\n\
         │  ├─ reader   worker        running      gen 1  mailbox 3\n\
         │  └─ writers  group         running      gen 1  tasks 2\n\
         └─ api       worker        backing off  gen 1  restarts 1  in 1.0s  last: panicked: api crashed"
    );

    // The backoff passes: api runs again.
    rt.sleep_until(rt.now() + Duration::from_millis(1_100))
        .await;
    let stats = tree.stat_borrow_and_update();
    assert_eq!((stats.running, stats.backing_off, stats.started), (3, 0, 4));
    let mut watcher = tree.handle();
    tree.stop().await.unwrap();
    while watcher.changed().await.is_ok() {
        watcher.stat_borrow_and_update();
    }
    let stats = watcher.stat_borrow();
    assert_eq!(
        (stats.running, stats.ended),
        (0, 3),
        "nothing runs after the end"
    );
    assert!(watcher.snapshot().ended);
}

pub(crate) async fn dropping_a_shutdown_midway_cuts_it_short<R: Runtime>(rt: R) {
    let log = Log::default();
    let stubborn = |name: &'static str| {
        let log = log.clone();
        Child::worker(name, move |_stop| {
            let stopped = Stopped(log.clone(), name.into());
            async move {
                let _stopped = stopped;
                std::future::pending::<()>().await;
            }
        })
        .stop_mode(StopMode::Graceful(Duration::from_secs(30)))
    };
    let tree = Builder::new(rt.clone())
        .child(worker("first", &log).0)
        .child(stubborn("middle"))
        .child(stubborn("last"))
        .spawn();
    tick(&rt).await;
    log.take();
    let handle = tree.handle();
    let start = rt.now();
    {
        let shutdown = pin!(tree.shutdown(Duration::from_secs(10)));
        let timeout = pin!(rt.sleep_until(start + Duration::from_secs(1)));
        let first = select(shutdown, timeout).await;
        assert!(matches!(first, Either::Right(_)), "still shutting down");
    } // the shutdown's future, and the tree with it, dropped here
    handle.ended().await;
    assert_eq!(
        rt.now() - start,
        Duration::from_secs(1),
        "not at the shutdown's deadline"
    );
    assert_eq!(log.take(), ["stop last", "stop middle", "stop first#1"]);
}

pub(crate) async fn a_tree_dropped_before_it_ran_starts_no_child<R: Runtime>(rt: R) {
    let log = Log::default();
    let mut builder = Builder::new(rt.clone());
    for name in ["a", "b", "c"] {
        builder = builder.child(worker(name, &log).0);
    }
    let tree = builder.spawn();
    let handle = tree.handle();
    drop(tree);
    handle.ended().await;
    assert!(log.take().is_empty(), "nobody owns it: nothing started");
}

pub(crate) async fn killing_a_child_fails_it_as_a_crash_would<R: Runtime>(rt: R) {
    let log = Log::default();
    let group = Child::group(
        "workers",
        stage::group::Builder::new(rt.clone()).tasks(2),
        |stop: StopSignal| async move { stop.requested().await },
    )
    .restart(Restart::OnFailure);
    let tree = Builder::new(rt.clone())
        .name("app")
        .strategy(Strategy::OneForAll)
        .backoff(Backoff::none())
        .child(worker("a", &log).0)
        .child(worker("b", &log).0)
        .child(group)
        .spawn();
    tree.ready().await.unwrap();
    log.take();
    tree.kill_child("b").await.unwrap();
    tick(&rt).await;
    assert_eq!(
        log.take(),
        ["stop b#1", "stop a#1", "start a#2", "start b#2"],
        "killed, then the strategy restarts all"
    );
    let snapshot = tree.snapshot();
    let b = snapshot.find("app/b").unwrap();
    assert_eq!(
        (b.generation, b.last_exit.clone()),
        (2, Some(ChildExit::Killed))
    );
    assert_eq!(snapshot.find("app/workers").unwrap().generation, 2);

    // A killed group fails too (it would have returned if stopped): its
    // restart type restarts it.
    tree.kill_child("workers").await.unwrap();
    tick(&rt).await;
    let workers = tree.snapshot().find("app/workers").unwrap().clone();
    assert_eq!(
        (workers.generation, workers.last_exit, workers.running_tasks),
        (3, Some(ChildExit::Killed), 2)
    );
    assert!(tree.kill_child("nobody").await.is_err());
    tree.stop_child("a").await.unwrap();
    tree.kill_child("a").await.unwrap(); // not running: nothing to kill
    tick(&rt).await;
    assert_eq!(
        tree.snapshot().find("app/a").unwrap().state,
        ChildState::Stopped
    );
    tree.stop().await.unwrap();
}

pub(crate) async fn children_of_child_supervisors_are_reached_by_path<R: Runtime>(rt: R) {
    let log = Log::default();
    let pipeline = Builder::new(rt.clone()).child(worker("reader", &log).0);
    let tree = Builder::new(rt.clone())
        .name("app")
        .backoff(Backoff::none())
        .child(Child::supervisor("pipeline", pipeline))
        .spawn();
    tree.ready().await.unwrap();
    tree.stop_child("pipeline/reader").await.unwrap();
    assert_eq!(tree.restart_child("pipeline/reader").await, Ok(2));
    let inner = tree.child_supervisor("pipeline").unwrap();
    assert_eq!(inner.path(), "app/pipeline");
    assert_eq!(inner.start_child(worker("extra", &log).0).await, Ok(1));
    tree.remove_child("pipeline/extra").await.unwrap();
    assert_eq!(
        log.take(),
        [
            "start reader#1",
            "stop reader#1",
            "start reader#2",
            "start extra#1",
            "stop extra#1"
        ]
    );
    let missing = tree.stop_child("nope/reader").await.unwrap_err();
    assert_eq!(
        missing,
        ChildError::NotFound {
            supervisor: "app".into(),
            name: "nope".into()
        }
    );
    assert!(
        tree.child_supervisor("pipeline/reader").is_none(),
        "a worker"
    );

    // Names are parts of paths.
    for name in ["a/b", ""] {
        let child = Child::worker(
            name,
            |stop: StopSignal| async move { stop.requested().await },
        );
        let refused = tree.start_child(child).await;
        assert!(
            matches!(refused, Err(ChildError::Invalid { .. })),
            "{name:?}: {refused:?}"
        );
    }

    // A handle is to one incarnation: after a restart, look it up again.
    tree.kill_child("pipeline").await.unwrap();
    tick(&rt).await;
    let stale = inner.start_child(worker("late", &log).0).await;
    assert!(
        matches!(stale, Err(ChildError::SupervisorEnded { .. })),
        "{stale:?}"
    );
    let again = tree.child_supervisor("pipeline").unwrap();
    assert_eq!(again.start_child(worker("late", &log).0).await, Ok(1));
    tree.stop().await.unwrap();
}

/// A worker that ignores its stop signal, logging when it is dropped.
fn stubborn<R: Runtime>(name: &'static str, log: &Log, stop: StopMode) -> Child<R> {
    let log = log.clone();
    Child::worker(name, move |_stop| {
        let stopped = Stopped(log.clone(), name.into());
        async move {
            let _stopped = stopped;
            std::future::pending::<()>().await;
        }
    })
    .stop_mode(stop)
}

pub(crate) async fn an_exit_that_came_during_another_stop_is_not_lost<R: Runtime>(rt: R) {
    let log = Log::default();
    let returns = {
        let rt = rt.clone();
        Child::worker("returns", move |_stop| {
            let rt = rt.clone();
            async move { rt.sleep_until(rt.now() + Duration::from_secs(1)).await }
        })
        .restart(Restart::Never)
    };
    let tree = Builder::new(rt.clone())
        .name("app")
        .child(worker("first", &log).0)
        .child(returns)
        .child(stubborn(
            "last",
            &log,
            StopMode::Graceful(Duration::from_secs(5)),
        ))
        .spawn();
    tree.ready().await.unwrap();
    let start = rt.now();
    // While `last` is given its 5 s, `returns` ends (at 1 s): its exit
    // waits, and is found when its turn to stop comes.
    let report = tree.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(rt.now() - start, Duration::from_secs(5));
    assert_eq!(
        report.to_string(),
        "app/first (generation 1): aborted\n\
         app/returns (generation 1): returned\n\
         app/last (generation 1): aborted"
    );
}

pub(crate) async fn a_child_failing_to_start_over_and_over_starves_nothing<R: Runtime>(rt: R) {
    let log = Log::default();
    let (other, kill_other) = worker("other", &log);
    let never_ready = Child::worker_with_ready("db", |_stop, _ready| async { panic!("no config") });
    let tree = Builder::new(rt.clone())
        .backoff(Backoff::none())
        .intensity(u32::MAX, Duration::from_secs(1))
        .child(other)
        .child(never_ready)
        .spawn();
    // Between two starts of db, the supervisor handles what came: the
    // other child's crash, and requests. (The crash loop keeps the runtime
    // busy, so its clock does not move: no ticks here.)
    kill_other.send(()).await.unwrap();
    while !log.0.lock().unwrap().contains(&"start other#2".to_string()) {
        yield_now().await;
    }
    tree.stop_child("db").await.unwrap();
    let stats = tree.stat_borrow();
    assert!(stats.restarts >= 1, "db was restarted meanwhile: {stats:?}");
    assert_eq!((stats.running, stats.stopped), (1, 1));
    tree.stop().await.unwrap();

    // A worker not ready in time, after its start timeout, is not given a
    // quiet period that restarts it at once: it backs off.
    let never_ready = slow_starter("db", &log, &rt, None).start_timeout(Duration::from_secs(10));
    let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(1))
        .free_restarts(0)
        .without_jitter();
    let tree = Builder::new(rt.clone())
        .backoff(backoff)
        .child(never_ready)
        .spawn();
    rt.sleep_until(rt.now() + Duration::from_millis(10_500))
        .await;
    let db = tree.snapshot().children[0].clone();
    assert!(
        matches!(db.state, ChildState::BackingOff(Some(_))),
        "{db:?}"
    );
    tree.stop().await.unwrap();
}

pub(crate) async fn a_later_shorter_shutdown_cuts_a_longer_one_short<R: Runtime>(rt: R) {
    let log = Log::default();
    let tree = Builder::new(rt.clone())
        .child(stubborn("waits", &log, StopMode::Wait))
        .child(stubborn(
            "graceful",
            &log,
            StopMode::Graceful(Duration::from_secs(3600)),
        ))
        .spawn();
    tree.ready().await.unwrap();
    let handle = tree.handle();
    let start = rt.now();
    handle.request_shutdown(Duration::from_secs(3600));
    let shorter = async {
        rt.sleep_until(start + Duration::from_secs(1)).await;
        handle.request_shutdown(Duration::from_secs(1));
    };
    let (report, ()) = futures_util::future::join(tree.join(), shorter).await;
    report.unwrap();
    assert_eq!(
        rt.now() - start,
        Duration::from_secs(2),
        "at the shorter deadline"
    );
    assert_eq!(log.take(), ["stop graceful", "stop waits"]);

    // The same while a strategy stops a child that waits.
    let (a, kill_a) = worker("a", &log);
    let tree = Builder::new(rt.clone())
        .strategy(Strategy::OneForAll)
        .child(stubborn("waits", &log, StopMode::Wait))
        .child(a)
        .spawn();
    tree.ready().await.unwrap();
    kill_a.send(()).await.unwrap();
    tick(&rt).await; // the strategy now waits for `waits`, which never ends
    let start = rt.now();
    tree.shutdown(Duration::from_secs(1)).await.unwrap();
    assert_eq!(rt.now() - start, Duration::from_secs(1));
}

pub(crate) async fn a_child_asking_to_stop_itself_gets_its_answer<R: Runtime>(rt: R) {
    let log = Log::default();
    let (answers, answered) = stage::mailbox::<String>(8);
    let tree = Builder::new(rt.clone()).name("app").spawn();
    let handle = tree.handle();
    let quitter = Child::worker("quitter", move |stop: StopSignal| {
        let (handle, answers) = (handle.clone(), answers.clone());
        async move {
            let answer = handle.stop_child("quitter").await;
            answers.send(format!("{answer:?}")).await.unwrap();
            stop.requested().await;
        }
    })
    .stop_mode(StopMode::Wait);
    tree.start_child(quitter).await.unwrap();
    assert_eq!(answered.recv().await, "Ok(())");
    tick(&rt).await;
    let quitter = tree.snapshot().children[0].clone();
    assert_eq!(quitter.state, ChildState::Stopped);
    // The supervisor goes on serving.
    assert_eq!(tree.start_child(worker("next", &log).0).await, Ok(1));

    // Both tasks of one group restart it at once: both are answered, and
    // the group restarts (once: the second request finds it waiting to
    // start).
    let (handle, calls) = (tree.handle(), Arc::new(AtomicU64::new(0)));
    let group = Child::group(
        "g",
        stage::group::Builder::new(rt.clone()).tasks(2),
        move |stop: StopSignal| {
            let (handle, calls) = (handle.clone(), Arc::clone(&calls));
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    handle.restart_child("g").await.unwrap();
                }
                stop.requested().await;
            }
        },
    )
    .stop_mode(StopMode::Wait);
    tree.start_child(group).await.unwrap();
    while tree.snapshot().children[2].generation < 2 {
        tick(&rt).await;
    }
    assert_eq!(tree.start_child(worker("after", &log).0).await, Ok(1));
    tree.stop().await.unwrap();
}

/// Panics when dropped.
struct Grenade;

impl Drop for Grenade {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("dropped a grenade");
        }
    }
}

pub(crate) async fn values_whose_drop_panics_do_not_fell_the_tree<R: Runtime>(rt: R) {
    let log = Log::default();
    let armed = || {
        let grenade = Arc::new(Grenade);
        Child::worker("armed", move |stop: StopSignal| {
            let _grenade = Arc::clone(&grenade);
            async move { stop.requested().await }
        })
    };
    let tree = Builder::new(rt.clone()).name("app").child(armed()).spawn();
    tree.ready().await.unwrap();
    // Refused, and dropped by the supervisor: quietly.
    let refused = tree.start_child(armed()).await.unwrap_err();
    assert!(matches!(refused, ChildError::NameTaken { .. }));
    assert_eq!(tree.start_child(worker("next", &log).0).await, Ok(1));
    // The factory is dropped with the tree: the report survives it.
    let report = tree.shutdown(Duration::from_secs(1)).await.unwrap();
    assert_eq!(report.children.len(), 2);
}

pub(crate) async fn escalation_errors_stay_small_however_deep_the_tree<R: Runtime>(rt: R) {
    /// Restart records in an error, nested ones included.
    fn records(error: &SupervisorError) -> usize {
        let SupervisorError::GaveUp { exit, history, .. } = error else {
            return 0;
        };
        let nested = |exit: &ChildExit| match exit {
            ChildExit::Failed(inner) => records(inner),
            _ => 0,
        };
        1 + nested(exit) + history.iter().map(|r| 1 + nested(&r.exit)).sum::<usize>()
    }
    let mut sizes = Vec::new();
    for depth in 1..=5 {
        // Two restarts allowed at each level: 3^depth crashes of the leaf.
        let level = || {
            Builder::new(rt.clone())
                .backoff(Backoff::none())
                .intensity(2, Duration::from_secs(60))
        };
        let mut builder = level().child(Child::worker("leaf", |_stop| async { panic!("leaf") }));
        for depth in 0..depth {
            builder = level().child(Child::supervisor(format!("l{depth}"), builder));
        }
        let error = builder.spawn().join().await.unwrap_err();
        sizes.push(records(&error));
    }
    // Each level keeps its own restarts (2), each with the chain of errors
    // below it, but not their histories: the size grows with the square
    // of the depth, not as a power of it (which made 48,000 records at
    // depth 5 with the default intensity).
    let second: Vec<_> = sizes
        .windows(3)
        .map(|w| (w[2] - w[1]) as i64 - (w[1] - w[0]) as i64)
        .collect();
    assert!(second.iter().all(|&d| d <= 6), "{sizes:?}");
    assert!(sizes[4] < 60, "{sizes:?}");
}

pub(crate) async fn a_pool_child_serves_its_mailbox_at_least_once<R: Runtime>(rt: R) {
    let (jobs, inbox) = stage::mailbox::<u32>(64);
    let (done, finished) = stage::mailbox::<u32>(64);
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pool = Child::pool(
        "jobs",
        stage::group::Builder::new(rt.clone())
            .tasks(2)
            .backoff(Backoff::none()),
        &inbox,
        move |worker| {
            let (done, failed) = (done.clone(), Arc::clone(&failed));
            async move {
                worker
                    .serve(async move |job: &mut u32| {
                        if *job == 7 && !failed.swap(true, Ordering::SeqCst) {
                            panic!("job 7 failed"); // once
                        }
                        done.send(*job).await.unwrap();
                    })
                    .await
            }
        },
    );
    let tree = Builder::new(rt.clone()).name("app").child(pool).spawn();
    for job in 0..20 {
        jobs.send(job).await.unwrap();
    }
    let mut handled = Vec::new();
    while handled.len() < 20 {
        handled.push(finished.recv().await);
    }
    handled.sort_unstable();
    assert_eq!(
        handled,
        (0..20).collect::<Vec<_>>(),
        "each job once, job 7 after its retry"
    );
    let snapshot = tree.snapshot();
    let jobs = snapshot.find("app/jobs").unwrap();
    assert_eq!((jobs.mailbox, jobs.running_tasks), (Some(0), 2));
    assert_eq!(jobs.group.unwrap().panicked, 1);
    tree.shutdown(Duration::from_secs(1)).await.unwrap();
}

pub(crate) async fn a_child_stuck_starting_can_be_killed<R: Runtime>(rt: R) {
    let log = Log::default();
    let stuck = slow_starter("stuck", &log, &rt, None).start_timeout(Duration::MAX);
    let tree = Builder::new(rt.clone())
        .backoff(
            Backoff::exponential(Duration::from_secs(60), Duration::from_secs(60)).free_restarts(0),
        )
        .child(stuck)
        .spawn();
    tick(&rt).await;
    tree.kill_child("stuck").await.unwrap();
    tick(&rt).await;
    let stuck = tree.snapshot().children[0].clone();
    assert_eq!(stuck.last_exit, Some(ChildExit::Killed));
    assert!(
        matches!(stuck.state, ChildState::BackingOff(_)),
        "{stuck:?}"
    );
    assert_eq!(log.take(), ["start stuck#1", "stop stuck#1"]);
    tree.stop().await.unwrap();
}
