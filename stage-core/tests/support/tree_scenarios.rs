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
use stage::supervisor::{Builder, Child, ChildExit, StopMode, Strategy, SupervisorError};

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
            a_tree_whose_children_all_returned_ends_on_its_own,
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
        // Transient: restarted after a failure, not after a return.
        .child(returning("transient_returns", Restart::OnFailure, false))
        // Temporary: never restarted.
        .child(returning("temporary_fails", Restart::Never, true))
        .spawn();
    // Every child ended for good: the tree ends on its own.
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
    let tree = Builder::new(rt.clone())
        .name("app")
        .child(stubborn)
        .child(quick)
        .spawn();
    tick(&rt).await;
    let start = rt.now();
    let report = tree.shutdown(Duration::from_secs(3)).await.unwrap();
    assert_eq!(rt.now() - start, Duration::from_secs(3), "one deadline");
    assert_eq!(
        log.take(),
        ["stop quick", "stop stubborn"],
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
            ("app/quick", 1, ChildExit::Returned)
        ]
    );
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

pub(crate) async fn a_tree_whose_children_all_returned_ends_on_its_own<R: Runtime>(rt: R) {
    let tree = Builder::new(rt)
        .child(Child::worker("job", |_stop| async {}).restart(Restart::OnFailure))
        .child(Child::worker("other", |_stop| async {}).restart(Restart::Never))
        .spawn();
    assert_eq!(tree.join().await, Ok(()));
}
