//! Supervision trees against Erlang/OTP 25.2's supervisor, on the same kind
//! of machine (2 vCPUs; OTP with 2 schedulers, stage on a multi-thread tokio
//! runtime with 2 workers). Each bench's name and doc comment carry the
//! OTP figure to beat.
//!
//! Set up as OTP's benches are: no backoff between restarts (OTP has none),
//! and a restart intensity no bench reaches (but the one about intensity).
//! Workers are started as OTP's gen_servers are: each says it is ready as
//! soon as it runs (an `init` that returns at once), and the supervisor
//! starts the next child only then. They are stopped by abort, as an OTP
//! worker that does not trap exits dies of its shutdown signal at once.
//!
//! - one_for_one: a worker is killed (`kill_child`: aborted, a failure),
//!   or crashes (a panic on an order, at once; or in the handler of a
//!   message from its mailbox: "raise"), timed until its new incarnation
//!   runs.
//! - one_for_all (10, 100, 1,000 workers) and rest_for_one (100 workers, the
//!   51st crashes): one crash, timed until every worker it stopped runs
//!   again.
//! - tree_10x100 and flat_1000: a tree's start (until every worker is
//!   ready) and its shutdown (until every task has ended).
//! - intensity_3_exceeded: a worker crashes 4 times in a row under a
//!   sub-supervisor that allows 3 restarts; timed from the first crash
//!   until the root has restarted the sub-supervisor and its worker runs.
//! - start_child: a child added to a running supervisor, per child.
//!
//! Run: `cargo bench -p stage-benches --bench supervisor` (filter with e.g.
//! `-- one_for_all`).

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use stage::group::Backoff;
use stage::supervisor::{Builder, Child, StopMode, Strategy};
use tokio::sync::Notify;

mod common;
use common::runtime;

/// A wait takes milliseconds at most; one that takes this long has hung (a
/// lost restart or wakeup in the tree under test), and fails loudly instead.
const HANG: Duration = Duration::from_secs(30);

/// What a bench shares with its workers: their crash orders, and a count of
/// their starts that wakes the bench when it reaches the number it waits
/// for (one wake-up per wait, however many workers start).
struct Probe {
    /// One per worker, by index: `notify_one` orders it to crash. (A
    /// worker not yet waiting when ordered finds the permit.)
    orders: Box<[Notify]>,
    /// How many of the next starts crash at once, before they are ready.
    relapses: AtomicU32,
    /// Starts so far, of all the workers.
    starts: AtomicU64,
    /// The count of starts the bench waits for.
    target: AtomicU64,
    reached: Notify,
}

impl Probe {
    fn new(workers: usize) -> Arc<Self> {
        Arc::new(Self {
            orders: (0..workers).map(|_| Notify::new()).collect(),
            relapses: AtomicU32::new(0),
            starts: AtomicU64::new(0),
            target: AtomicU64::new(0),
            reached: Notify::new(),
        })
    }

    /// Whether this start is one of the relapses: it crashes at once.
    fn relapse(&self) -> bool {
        // Relaxed: only the count matters; it is set before the order that
        // leads to these starts, and the order (a `Notify`) carries it.
        self.relapses
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Counts a start; wakes the bench if it is the one it waits for.
    fn started(&self) {
        // Relaxed: the target is stored before the order (or the spawn)
        // that leads to this start, and that hand-off orders the store
        // before this load; the count reaches the bench through `reached`,
        // whose wake-up orders the increment before the bench's load.
        let starts = self.starts.fetch_add(1, Ordering::Relaxed) + 1;
        if starts == self.target.load(Ordering::Relaxed) {
            self.reached.notify_one();
        }
    }

    /// Expects `more` starts from now, while no worker starts: the count to
    /// wait for with [`reach`](Probe::reach).
    fn expect(&self, more: u64) -> u64 {
        // Relaxed: see `started`.
        let target = self.starts.load(Ordering::Relaxed) + more;
        self.target.store(target, Ordering::Relaxed);
        target
    }

    /// Waits until the workers have started `target` times in all.
    async fn reach(&self, target: u64) {
        let reached = async {
            // A permit left by an earlier wait wakes this one early: look again.
            while self.starts.load(Ordering::Relaxed) < target {
                self.reached.notified().await;
            }
        };
        tokio::time::timeout(HANG, reached)
            .await
            .expect("the workers did not all start again");
    }
}

/// A worker: it counts its start and says it is ready at once (an OTP
/// gen_server whose `init` returns at once), then waits for its crash order
/// and panics (OTP's `exit(Pid, kill)`, as near as a task comes to it).
/// Stopped by abort.
///
/// The panic is a good part of a restart here: a `catch_unwind` of a panic
/// takes 2.5 µs on this machine, and tokio alone (spawn, panic, await the
/// `JoinHandle`, spawn again) 4.2 µs; the same worker returning instead of
/// panicking is restarted in 3.3 µs.
fn worker(index: usize, probe: &Arc<Probe>) -> Child {
    let probe = Arc::clone(probe);
    Child::worker_with_ready(format!("w{index}"), move |_stop, ready| {
        let probe = Arc::clone(&probe);
        async move {
            if probe.relapse() {
                panic!("crashed at start");
            }
            probe.started();
            ready.notify();
            probe.orders[index].notified().await;
            panic!("killed");
        }
    })
    .stop_mode(StopMode::Abort)
}

/// A supervisor set up as OTP's benches are: no backoff, and an intensity
/// no bench reaches.
fn supervisor(strategy: Strategy) -> Builder {
    stage::supervisor()
        .strategy(strategy)
        .backoff(Backoff::none())
        .intensity(u32::MAX, Duration::from_secs(1))
}

/// A supervisor of `workers` workers, numbered from `first`.
fn flat(strategy: Strategy, first: usize, workers: usize, probe: &Arc<Probe>) -> Builder {
    (first..first + workers).fold(supervisor(strategy), |tree, index| {
        tree.child(worker(index, probe))
    })
}

/// A root of 10 supervisors of 100 workers each, all one_for_one. The
/// sub-supervisors wait for their children when stopped (OTP's `infinity`
/// shutdown for supervisors).
fn tree_10x100(probe: &Arc<Probe>) -> Builder {
    (0..10).fold(supervisor(Strategy::OneForOne), |root, s| {
        let sub = flat(Strategy::OneForOne, s * 100, 100, probe);
        root.child(Child::supervisor(format!("s{s}"), sub).stop_mode(StopMode::Wait))
    })
}

/// A flat one_for_one supervisor of 1,000 workers.
fn flat_1000(probe: &Arc<Probe>) -> Builder {
    flat(Strategy::OneForOne, 0, 1_000, probe)
}

/// A tree to start and shut down.
type Shape = fn(&Arc<Probe>) -> Builder;

/// Runs `body` as a task of the runtime, so that the bench's own task is on
/// one of the two workers, as the OTP bench's process is on one of the two
/// schedulers (criterion's `block_on` would run it on a third thread: on 2
/// cores, that took one_for_one kill from 6.7 µs to 15.5 µs).
async fn on_runtime(body: impl Future<Output = Duration> + Send + 'static) -> Duration {
    tokio::spawn(body).await.unwrap()
}

/// Starts `tree`, then times `iters` crashes, each caused by `order` and
/// timed until `restarted` workers have started again; stops the tree after.
async fn time_crashes(
    tree: Builder,
    probe: Arc<Probe>,
    restarted: u64,
    order: impl Fn(),
    iters: u64,
) -> Duration {
    let tree = tree.spawn();
    tree.ready().await.unwrap();
    let start = Instant::now();
    for _ in 0..iters {
        let target = probe.expect(restarted);
        order();
        probe.reach(target).await;
    }
    let took = start.elapsed();
    tree.stop().await.unwrap();
    took
}

/// Starts `tree` (one worker, `w0`), then times `iters` kills of its worker
/// through `kill_child`, each until the worker has started again.
async fn time_kills(tree: Builder, probe: Arc<Probe>, iters: u64) -> Duration {
    let tree = tree.spawn();
    tree.ready().await.unwrap();
    let start = Instant::now();
    for _ in 0..iters {
        let target = probe.expect(1);
        tree.kill_child("w0").await.unwrap();
        probe.reach(target).await;
    }
    let took = start.elapsed();
    tree.stop().await.unwrap();
    took
}

/// Times `iters` starts of the trees `build` makes: from `spawn` until
/// every worker is ready, as OTP's `start_link` returns once every child's
/// `init` has. The children are listed, and the tree stopped, outside the
/// timed part.
async fn time_starts(build: impl Fn() -> Builder, iters: u64) -> Duration {
    let mut took = Duration::ZERO;
    for _ in 0..iters {
        let tree = build();
        let start = Instant::now();
        let tree = tree.spawn();
        tree.ready().await.unwrap();
        took += start.elapsed();
        tree.stop().await.unwrap();
    }
    took
}

/// Times `iters` shutdowns of the trees `build` makes, started outside the
/// timed part: until every task of the tree has ended.
async fn time_shutdowns(build: impl Fn() -> Builder, iters: u64) -> Duration {
    let mut took = Duration::ZERO;
    for _ in 0..iters {
        let tree = build().spawn();
        tree.ready().await.unwrap();
        let start = Instant::now();
        tree.shutdown(Duration::from_secs(5)).await.unwrap();
        took += start.elapsed();
    }
    took
}

/// The handler of the `raiser` worker's requests: it raises on each one (OTP:
/// a `handle_call` that raises).
fn handle(request: &str) {
    panic!("handler raised on {request:?}");
}

/// one_for_one, one worker: killed (OTP 5.7 µs; in stage by
/// `kill_child`, or by a panic of its own on an order), or raising in the
/// handler of a message from its mailbox (OTP 7.1 µs); until its new
/// incarnation runs.
fn one_for_one(c: &mut Criterion) {
    // The workers panic on purpose; keep the output quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let rt = runtime("multi_thread_2");
    let mut group = c.benchmark_group("supervisor/one_for_one");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("kill_otp_5.7us", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let probe = Probe::new(1);
            let tree = flat(Strategy::OneForOne, 0, 1, &probe);
            on_runtime(time_kills(tree, probe, iters))
        })
    });
    group.bench_function("panic_on_order_otp_kill_5.7us", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let probe = Probe::new(1);
            let tree = flat(Strategy::OneForOne, 0, 1, &probe);
            let order = Arc::clone(&probe);
            on_runtime(time_crashes(
                tree,
                probe,
                1,
                move || order.orders[0].notify_one(),
                iters,
            ))
        })
    });
    group.bench_function("raise_in_handler_otp_7.1us", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let probe = Probe::new(0);
            let (requests, inbox) = stage::mailbox::<&'static str>(1);
            let raiser = Child::worker_with_ready("raiser", {
                let probe = Arc::clone(&probe);
                move |_stop, ready| {
                    let (probe, inbox) = (Arc::clone(&probe), inbox.clone());
                    async move {
                        probe.started();
                        ready.notify();
                        loop {
                            handle(inbox.recv().await);
                        }
                    }
                }
            })
            .stop_mode(StopMode::Abort);
            let tree = supervisor(Strategy::OneForOne).child(raiser);
            let order = move || requests.try_send("raise").unwrap();
            on_runtime(time_crashes(tree, probe, 1, order, iters))
        })
    });
    group.finish();
    let _ = std::panic::take_hook();
}

/// one_for_all of 10 / 100 / 1,000 workers (OTP 51 µs / 0.64 ms / 11.9 ms),
/// and rest_for_one of 100 workers whose 51st crashes, restarting 50 (OTP
/// 354 µs): one crash, until every worker stopped runs again.
fn one_for_all_and_rest_for_one(c: &mut Criterion) {
    std::panic::set_hook(Box::new(|_| {}));
    let rt = runtime("multi_thread_2");
    let mut group = c.benchmark_group("supervisor/crash_restarts");
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    let rows = [
        (Strategy::OneForAll, 10, 0, "one_for_all_10_otp_51us"),
        (Strategy::OneForAll, 100, 0, "one_for_all_100_otp_640us"),
        (Strategy::OneForAll, 1_000, 0, "one_for_all_1000_otp_11.9ms"),
        (
            Strategy::RestForOne,
            100,
            50,
            "rest_for_one_100_51st_otp_354us",
        ),
    ];
    for (strategy, workers, crash, name) in rows {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let probe = Probe::new(workers);
                let tree = flat(strategy, 0, workers, &probe);
                let order = Arc::clone(&probe);
                let restarted = (workers - crash) as u64;
                on_runtime(time_crashes(
                    tree,
                    probe,
                    restarted,
                    move || order.orders[crash].notify_one(),
                    iters,
                ))
            })
        });
    }
    group.finish();
    let _ = std::panic::take_hook();
}

/// A tree of 10 supervisors x 100 workers (OTP: start 5.2 ms, shutdown
/// 5.3 ms), and a flat one_for_one supervisor of 1,000 workers (OTP: start
/// 5.7 ms, shutdown 5.4 ms).
fn start_and_shutdown(c: &mut Criterion) {
    let rt = runtime("multi_thread_2");
    let mut group = c.benchmark_group("supervisor/start_shutdown");
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    let probe = Probe::new(1_000);
    let rows: [(&str, Shape, &str, &str); 2] = [
        ("tree_10x100", tree_10x100, "5.2ms", "5.3ms"),
        ("flat_1000", flat_1000, "5.7ms", "5.4ms"),
    ];
    for (shape, build, otp_start, otp_shutdown) in rows {
        group.bench_function(format!("{shape}_start_otp_{otp_start}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let probe = Arc::clone(&probe);
                on_runtime(time_starts(move || build(&probe), iters))
            })
        });
        group.bench_function(format!("{shape}_shutdown_otp_{otp_shutdown}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let probe = Arc::clone(&probe);
                on_runtime(time_shutdowns(move || build(&probe), iters))
            })
        });
    }
    group.finish();
}

/// A root over a sub-supervisor that allows 3 restarts (within an hour),
/// over one worker; the worker is ordered to crash, and crashes again at
/// each of its next 3 starts: the 4th crash exceeds the sub-supervisor's
/// intensity, it gives up, and the root restarts it. Timed from the order
/// until the restarted sub-supervisor's worker runs (OTP 47 µs).
fn intensity(c: &mut Criterion) {
    std::panic::set_hook(Box::new(|_| {}));
    let rt = runtime("multi_thread_2");
    let mut group = c.benchmark_group("supervisor/intensity_3_exceeded");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("escalate_otp_47us", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let probe = Probe::new(1);
            let sub =
                flat(Strategy::OneForOne, 0, 1, &probe).intensity(3, Duration::from_secs(3600));
            let tree = supervisor(Strategy::OneForOne).child(Child::supervisor("sub", sub));
            let order = Arc::clone(&probe);
            let crash = move || {
                order.relapses.store(3, Ordering::Relaxed); // carried by the order
                order.orders[0].notify_one();
            };
            on_runtime(time_crashes(tree, probe, 1, crash, iters))
        })
    });
    group.finish();
    let _ = std::panic::take_hook();
}

/// How many children a `start_child` bench adds to one supervisor before
/// it starts again with a fresh one.
const DYNAMIC_CHILDREN: u64 = 1_000;

/// `start_child` of a worker into a running one_for_one supervisor, until it
/// is ready, per child; up to `DYNAMIC_CHILDREN` in one supervisor (OTP
/// 8.1 µs).
async fn time_start_child(iters: u64) -> Duration {
    let probe = Probe::new(DYNAMIC_CHILDREN as usize);
    let mut took = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let batch = left.min(DYNAMIC_CHILDREN);
        let tree = supervisor(Strategy::OneForOne).spawn();
        let start = Instant::now();
        for index in 0..batch as usize {
            tree.start_child(worker(index, &probe)).await.unwrap();
        }
        took += start.elapsed();
        tree.stop().await.unwrap();
        left -= batch;
    }
    took
}

fn start_child(c: &mut Criterion) {
    let rt = runtime("multi_thread_2");
    let mut group = c.benchmark_group("supervisor/start_child");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("per_child_otp_8.1us", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| on_runtime(time_start_child(iters)))
    });
    group.finish();
}

criterion_group!(
    benches,
    one_for_one,
    one_for_all_and_rest_for_one,
    start_and_shutdown,
    intensity,
    start_child
);
criterion_main!(benches);
