//! A supervision tree leaks no task, on tokio, with a paused clock.
//!
//! The tree has 1,000 children below its root: workers (graceful, waiting
//! and aborted stop modes), self-healing and linked groups, and child
//! supervisors with children of their own, two levels deep. Some children
//! crash on every start and are waiting out their backoff when the tree
//! stops; some ignore their stop signal, with a graceful stop mode longer
//! than the shutdown's grace.
//!
//! - Shut down under a deadline, the tree leaves no task alive (tokio's
//!   `num_alive_tasks` is back where it was before the tree), the shutdown
//!   takes its deadline and no longer (the children that ignore their stop
//!   signal are cut by it, not by their own, longer, grace), the report
//!   names every child once, in start order, with how it ended, and no
//!   backoff restarts a child after the tree has ended.
//! - Dropped without being awaited, the tree leaves no task alive either,
//!   once the runtime has had a few ticks, and a handle kept to it says
//!   that it ended, as does every request made through it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stage::group::{Backoff, StopSignal};
use stage::supervisor::{Builder, Child, ChildError, ChildExit, StopMode, Supervisor};
use tokio::runtime::Handle;
use tokio::time::{sleep, Instant};

/// Children below the root, groups' tasks included.
const CHILDREN: usize = 1_000;

/// The first wait before restarting a child that crashed (then twice as
/// long each time): a crasher starts at 0 s and 2 s, and would start again
/// at 6 s.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// When the tree is stopped: crashers have started twice, and wait for
/// their third start.
const RUN_FOR: Duration = Duration::from_secs(3);

/// The shutdown's grace: its deadline (5 s) comes before the crashers'
/// next start (6 s).
const GRACE: Duration = Duration::from_secs(2);

/// How much later than its deadline a shutdown may end: the timer's
/// granularity.
const MARGIN: Duration = Duration::from_millis(5);

/// How a child of the tree behaves, and so how it must end.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Returns once asked to stop (stop mode graceful or wait): returned,
    /// unless the deadline had passed when its turn came (aborted).
    Polite,
    /// Stop mode abort: aborted.
    Abortable,
    /// Ignores its stop signal, with a grace longer than the shutdown's:
    /// aborted, at the deadline if the deadline had not passed yet.
    Stubborn,
    /// Panics on every start, with this message: waiting out its backoff
    /// after its second start when the tree stops.
    Crasher(String),
    /// A group or a supervisor: returned, after what is inside it.
    Container,
}

/// One child of the tree, as the report must name it.
struct Expected {
    path: String,
    behaviour: Behaviour,
}

/// The tree, built child by child, with what its report must say.
#[derive(Default)]
struct Plan {
    /// Every child in report order: each after its supervisor's earlier
    /// children, a group's tasks and a child supervisor's children right
    /// after it.
    expected: Vec<Expected>,
    /// Tasks alive while the tree runs (crashers waiting hold none).
    running_tasks: usize,
    /// Starts of the crashers, groups' included.
    crashes: Arc<AtomicU64>,
    /// How many crashers there are, groups' tasks included.
    crashers: u64,
}

/// The backoff of every supervisor and crashing group: no free restart,
/// no jitter, so that crashers wait exactly as long as the constants say.
fn backoff() -> Backoff {
    Backoff::exponential(FIRST_BACKOFF, Duration::from_secs(60))
        .free_restarts(0)
        .without_jitter()
}

/// A supervisor that lets its crashers restart for ever.
fn supervisor(name: &str) -> Builder {
    stage::supervisor()
        .name(name)
        .backoff(backoff())
        .intensity(1_000, Duration::from_secs(60))
}

/// A stop mode for the `n`th worker: abort, graceful for 1 s, wait, and
/// the default (graceful for 5 s), in turn.
fn stop_mode(n: usize) -> StopMode {
    match n % 4 {
        0 => StopMode::Abort,
        1 => StopMode::Graceful(Duration::from_secs(1)),
        2 => StopMode::Wait,
        _ => StopMode::default(),
    }
}

impl Plan {
    fn expect(&mut self, path: String, behaviour: Behaviour) {
        self.expected.push(Expected { path, behaviour });
    }

    /// A worker that returns once asked to stop, stopped by `mode`.
    fn worker(&mut self, parent: &str, name: &str, mode: StopMode) -> Child {
        let behaviour = match mode {
            StopMode::Abort => Behaviour::Abortable,
            _ => Behaviour::Polite,
        };
        self.expect(format!("{parent}/{name}"), behaviour);
        self.running_tasks += 1;
        Child::worker(
            name,
            |stop: StopSignal| async move { stop.requested().await },
        )
        .stop_mode(mode)
    }

    /// A worker that ignores its stop signal, with a grace far longer than
    /// the shutdown's.
    fn stubborn(&mut self, parent: &str, name: &str) -> Child {
        self.expect(format!("{parent}/{name}"), Behaviour::Stubborn);
        self.running_tasks += 1;
        Child::worker(name, |_stop| std::future::pending::<()>())
            .stop_mode(StopMode::Graceful(Duration::from_secs(30)))
    }

    /// A worker that panics on every start.
    fn crasher(&mut self, parent: &str, name: &str) -> Child {
        let path = format!("{parent}/{name}");
        let message = format!("{path} crashed");
        self.expect(path, Behaviour::Crasher(message.clone()));
        self.crashers += 1;
        let crashes = Arc::clone(&self.crashes);
        Child::worker(name, move |_stop| {
            crashes.fetch_add(1, Ordering::SeqCst);
            let message = message.clone();
            async move { panic!("{message}") }
        })
    }

    /// A group of `tasks` tasks that behave as `behaviour` says (polite,
    /// stubborn or crashing).
    fn group(&mut self, parent: &str, name: &str, tasks: usize, behaviour: Behaviour) -> Child {
        let path = format!("{parent}/{name}");
        self.expect(path.clone(), Behaviour::Container);
        self.running_tasks += 1; // the group's own supervisor
        let message = format!("{path} task crashed");
        for index in 0..tasks {
            let behaviour = match behaviour {
                Behaviour::Crasher(_) => Behaviour::Crasher(message.clone()),
                ref other => other.clone(),
            };
            self.expect(format!("{path}/{index}"), behaviour);
        }
        let builder = stage::group().tasks(tasks);
        match behaviour {
            Behaviour::Polite => {
                self.running_tasks += tasks;
                Child::group(name, builder, |stop| async move { stop.requested().await })
            }
            Behaviour::Stubborn => {
                self.running_tasks += tasks;
                Child::group(name, builder, |_stop| std::future::pending::<()>())
                    .stop_mode(StopMode::Graceful(Duration::from_secs(30)))
            }
            Behaviour::Crasher(_) => {
                self.crashers += tasks as u64;
                let crashes = Arc::clone(&self.crashes);
                Child::group(name, builder.backoff(backoff()), move |_stop| {
                    crashes.fetch_add(1, Ordering::SeqCst);
                    let message = message.clone();
                    async move { panic!("{message}") }
                })
            }
            other => unreachable!("no group of {other:?} tasks"),
        }
    }

    /// A linked group of `tasks` tasks that return once asked to stop.
    fn linked_group(&mut self, parent: &str, name: &str, tasks: usize) -> Child {
        let path = format!("{parent}/{name}");
        self.expect(path.clone(), Behaviour::Container);
        for index in 0..tasks {
            self.expect(format!("{path}/{index}"), Behaviour::Polite);
        }
        self.running_tasks += 1 + tasks;
        Child::linked_group(name, stage::group().tasks(tasks), |stop| async move {
            stop.requested().await
        })
    }

    /// A child supervisor, its children added by `fill`.
    fn supervisor(
        &mut self,
        parent: &str,
        name: &str,
        fill: impl FnOnce(&mut Self, &str, Builder) -> Builder,
    ) -> Child {
        let path = format!("{parent}/{name}");
        self.expect(path.clone(), Behaviour::Container);
        self.running_tasks += 1;
        let builder = fill(self, &path, supervisor(name));
        Child::supervisor(name, builder)
    }

    /// `count` workers named `w<first>`.., with the stop modes in turn.
    fn workers(&mut self, parent: &str, first: usize, count: usize, mut to: Builder) -> Builder {
        for n in first..first + count {
            to = to.child(self.worker(parent, &format!("w{n}"), stop_mode(n)));
        }
        to
    }

    /// A child supervisor of 92 children: one that ignores its stop signal
    /// first if `stubborn`, a supervisor of 10 workers, 69 workers, two
    /// crashers and a group of 8 tasks.
    fn branch(&mut self, parent: &str, name: &str, stubborn: bool) -> Child {
        self.supervisor(parent, name, |plan, path, mut to| {
            to = to.child(if stubborn {
                plan.stubborn(path, "x")
            } else {
                plan.worker(path, "first", StopMode::default())
            });
            to = to.child(plan.supervisor(path, "inner", |plan, path, to| {
                plan.workers(path, 0, 10, to)
            }));
            to = plan.workers(path, 0, 69, to);
            to = to.child(plan.crasher(path, "c0"));
            to = to.child(plan.crasher(path, "c1"));
            to.child(plan.group(path, "g", 8, Behaviour::Polite))
        })
    }

    /// The root, `app`, and its 1,000 children. Stopped in reverse start
    /// order, its children stop gracefully until `app/s5/x`, which ignores
    /// its stop signal, takes the rest of the deadline; all those stopped
    /// after it are aborted.
    fn tree() -> (Self, Builder) {
        let mut plan = Self::default();
        let root = "app";
        let mut to = supervisor(root);
        for n in 0..3 {
            to = to.child(plan.stubborn(root, &format!("x{n}")));
        }
        for n in 0..4 {
            to = to.child(plan.branch(root, &format!("s{n}"), n == 1));
        }
        to = to.child(plan.group(root, "gx", 4, Behaviour::Stubborn));
        to = plan.workers(root, 0, 100, to);
        for n in 0..10 {
            to = to.child(plan.crasher(root, &format!("c{n}")));
        }
        for n in 4..8 {
            to = to.child(plan.branch(root, &format!("s{n}"), n == 5));
        }
        to = plan.workers(root, 100, 97, to);
        for n in 0..4 {
            to = to.child(plan.group(root, &format!("g{n}"), 6, Behaviour::Polite));
        }
        let crashing = Behaviour::Crasher(String::new());
        to = to.child(plan.group(root, "gc", 4, crashing));
        to = to.child(plan.linked_group(root, "lg0", 3));
        to = to.child(plan.linked_group(root, "lg1", 3));
        assert_eq!(plan.expected.len(), CHILDREN, "the plan's own count");
        plan.running_tasks += 1; // the root's task
        (plan, to)
    }

    /// What the report must say, in its order: path, generation, exit.
    ///
    /// The children stop in the reverse of the report's order (a
    /// supervisor's children in reverse, each one's insides before it
    /// ends); the first that ignores its stop signal takes what is left of
    /// the deadline, and every child stopped after it is aborted.
    fn report(&self) -> Vec<(String, u64, ChildExit)> {
        let mut deadline_passed = false;
        let mut report: Vec<_> = self
            .expected
            .iter()
            .rev()
            .map(|child| {
                let (generation, exit) = match &child.behaviour {
                    Behaviour::Polite if !deadline_passed => (1, ChildExit::Returned),
                    Behaviour::Polite | Behaviour::Abortable => (1, ChildExit::Aborted),
                    Behaviour::Stubborn => {
                        deadline_passed = true;
                        (1, ChildExit::Aborted)
                    }
                    Behaviour::Crasher(message) => (2, ChildExit::Panicked(Some(message.clone()))),
                    Behaviour::Container => (1, ChildExit::Returned),
                };
                (child.path.clone(), generation, exit)
            })
            .collect();
        report.reverse();
        report
    }
}

/// Tasks alive on this runtime.
fn alive() -> usize {
    Handle::current().metrics().num_alive_tasks()
}

/// Starts the planned tree and lets it run until its crashers wait out
/// their backoff after their second start.
async fn run(plan: &Plan, builder: Builder) -> Supervisor {
    let tree = builder.spawn();
    tree.ready().await.expect("the tree started");
    sleep(RUN_FOR).await;
    assert_eq!(
        plan.crashes.load(Ordering::SeqCst),
        2 * plan.crashers,
        "every crasher started twice, and waits to start again"
    );
    tree
}

#[tokio::test(start_paused = true)]
async fn a_tree_shut_down_under_a_deadline_leaves_no_task_alive() {
    let before = alive();
    let (plan, builder) = Plan::tree();
    let tree = run(&plan, builder).await;
    assert_eq!(
        alive() - before,
        plan.running_tasks,
        "the metric counts the tree's tasks"
    );

    let start = Instant::now();
    let report = tree.shutdown(GRACE).await.expect("a report");
    let took = start.elapsed();
    assert!(
        took >= GRACE,
        "children that ignore their stop signal are waited for until the deadline; took {took:?}"
    );
    assert!(
        took <= GRACE + MARGIN,
        "the deadline cuts the 30 s grace of those that ignore their stop signal; took {took:?}"
    );
    assert_eq!(alive(), before, "no task of the tree is alive");

    let paths: Vec<&str> = report.children.iter().map(|c| c.path.as_str()).collect();
    let planned: Vec<&str> = plan.expected.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, planned, "every child named once, in start order");
    let children: Vec<_> = report
        .children
        .iter()
        .map(|c| (c.path.clone(), c.generation, c.exit.clone()))
        .collect();
    let expected = plan.report();
    for (got, want) in children.iter().zip(&expected) {
        assert_eq!(got, want, "how a child ended");
    }

    // Well past the crashers' next start: no backoff of the ended tree
    // starts anything.
    sleep(Duration::from_secs(60)).await;
    assert_eq!(plan.crashes.load(Ordering::SeqCst), 2 * plan.crashers);
    assert_eq!(alive(), before, "still no task of the tree alive");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_tree_leaves_no_task_alive_and_its_handle_says_it_ended() {
    let before = alive();
    let (plan, builder) = Plan::tree();
    let tree = run(&plan, builder).await;
    assert_eq!(alive() - before, plan.running_tasks);
    let handle = tree.handle();
    assert!(!handle.is_ended());

    drop(tree);
    for _ in 0..3 {
        tokio::task::yield_now().await;
        sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(alive(), before, "no task of the tree is alive");
    assert!(handle.is_ended(), "the handle says the tree ended");
    handle.ended().await;

    let ended = ChildError::SupervisorEnded {
        supervisor: "app".to_owned(),
    };
    let late = Child::worker(
        "late",
        |stop: StopSignal| async move { stop.requested().await },
    );
    assert_eq!(handle.start_child(late).await, Err(ended.clone()));
    assert_eq!(handle.stop_child("w0").await, Err(ended.clone()));
    assert_eq!(handle.restart_child("w0").await, Err(ended.clone()));
    assert_eq!(handle.remove_child("s0").await, Err(ended.clone()));
    assert_eq!(handle.stop_child("no such child").await, Err(ended));

    // Well past the crashers' next start: no backoff of the dropped tree
    // starts anything.
    sleep(Duration::from_secs(60)).await;
    assert_eq!(plan.crashes.load(Ordering::SeqCst), 2 * plan.crashers);
    assert_eq!(alive(), before, "still no task of the tree alive");
}
