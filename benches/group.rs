//! The cost of supervision, against what people write without it; each
//! comparison is one criterion group, so each figure is a ratio from one run.
//!
//! - spawn_join: start a task and wait until it has returned — supervised
//!   by a group (one task, or a batch of 100) vs `tokio::spawn` + await vs a
//!   `JoinSet`.
//! - restart: a task that panics at once, restarted 1,000 times — by a group
//!   (no backoff) vs a hand-written loop that awaits the `JoinHandle` and
//!   respawns on `JoinError::is_panic`.
//! - downscale: N idle tasks cut down to one, timed until every removed task
//!   has ended — a group's `downscale` vs aborting N - 1 tasks of a
//!   `JoinSet` through their abort handles and joining them. One step per
//!   task on both sides: the figure per task stays flat as N grows.
//!
//! - pool: 4 workers draining 2,000 jobs, one in ten of which crashes its
//!   worker on the first attempt (redelivered, handled on the second) —
//!   the default backoff against `Backoff::none()`: a pool's crashes
//!   between useful work must not be taken for a crash loop.
//!
//! Run: `cargo bench -p stage-benches --bench group`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stage::group::{Backoff, Restart};
mod common;
use common::runtime;

const BATCH: usize = 100;
const RESTARTS: u64 = 1_000;

/// Starts a group of `tasks` that return at once, and waits until it ends.
async fn supervised(tasks: usize) {
    stage::group()
        .tasks(tasks)
        .restart(Restart::Never)
        .spawn(|| async {})
        .join()
        .await
        .unwrap();
}

fn spawn_join(c: &mut Criterion) {
    for flavor in ["current_thread", "multi_thread_2"] {
        let rt = runtime(flavor);
        for tasks in [1, BATCH] {
            let mut group = c.benchmark_group(format!("group/{flavor}/spawn_join_{tasks}"));
            group.throughput(Throughput::Elements(tasks as u64));
            group.measurement_time(Duration::from_secs(3));
            group.bench_function(BenchmarkId::from_parameter("stage_group"), |b| {
                b.to_async(&rt).iter(|| supervised(tasks))
            });
            group.bench_function(BenchmarkId::from_parameter("tokio_spawn"), |b| {
                b.to_async(&rt).iter(|| async move {
                    let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(async {})).collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            });
            group.bench_function(BenchmarkId::from_parameter("joinset"), |b| {
                b.to_async(&rt).iter(|| async move {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..tasks {
                        set.spawn(async {});
                    }
                    while let Some(done) = set.join_next().await {
                        done.unwrap();
                    }
                })
            });
            group.finish();
        }
    }
}

fn restart(c: &mut Criterion) {
    // Both sides panic on purpose; keep the output quiet and the cost equal.
    std::panic::set_hook(Box::new(|_| {}));
    for flavor in ["current_thread", "multi_thread_2"] {
        let rt = runtime(flavor);
        let mut group = c.benchmark_group(format!("group/{flavor}/restart"));
        group.throughput(Throughput::Elements(RESTARTS));
        group.measurement_time(Duration::from_secs(3));
        group.bench_function(BenchmarkId::from_parameter("stage_group"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut group = stage::group()
                    .backoff(Backoff::none())
                    .spawn(|| async { panic!("at once") });
                while group.stat_borrow_and_update().restarted < RESTARTS {
                    group.changed().await.unwrap();
                }
                group.stop().await.unwrap();
            })
        });
        group.bench_function(BenchmarkId::from_parameter("hand_written_loop"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut restarts = 0;
                while restarts < RESTARTS {
                    let task = tokio::spawn(async { panic!("at once") });
                    match task.await {
                        Err(e) if e.is_panic() => restarts += 1,
                        other => unreachable!("{other:?}"),
                    }
                }
            })
        });
        group.finish();
    }
    let _ = std::panic::take_hook();
}

fn downscale(c: &mut Criterion) {
    for flavor in ["current_thread", "multi_thread_2"] {
        let rt = runtime(flavor);
        for tasks in [1_000, 8_000] {
            let mut group = c.benchmark_group(format!("group/{flavor}/downscale_{tasks}"));
            group.throughput(Throughput::Elements(tasks as u64 - 1));
            group.measurement_time(Duration::from_secs(3));
            group.sample_size(20);
            group.bench_function(BenchmarkId::from_parameter("stage_group"), |b| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        let mut group = stage::group()
                            .tasks(tasks)
                            .spawn(std::future::pending::<()>);
                        while group.stat_borrow_and_update().running < tasks {
                            group.changed().await.unwrap();
                        }
                        let start = Instant::now();
                        group.downscale(tasks);
                        loop {
                            let stats = group.stat_borrow_and_update();
                            if stats.tasks == 1 && stats.stopping == 0 {
                                break;
                            }
                            group.changed().await.unwrap();
                        }
                        took += start.elapsed();
                        group.stop().await.unwrap();
                    }
                    took
                })
            });
            group.bench_function(BenchmarkId::from_parameter("joinset_abort"), |b| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        let mut set = tokio::task::JoinSet::new();
                        let handles: Vec<_> = (0..tasks)
                            .map(|_| set.spawn(std::future::pending::<()>()))
                            .collect();
                        tokio::task::yield_now().await;
                        let start = Instant::now();
                        handles[1..].iter().for_each(|h| h.abort());
                        for _ in 1..tasks {
                            set.join_next().await.unwrap().unwrap_err();
                        }
                        took += start.elapsed();
                    }
                    took
                })
            });
            group.finish();
        }
    }
}

/// Drains `JOBS` jobs through a pool of 4 workers; one job in ten crashes
/// its worker on its first attempt.
async fn pool_with_crashes(backoff: Backoff) {
    const JOBS: u32 = 2_000;
    let crashed: Arc<Vec<AtomicBool>> =
        Arc::new((0..JOBS).map(|_| AtomicBool::new(false)).collect());
    let (jobs, inbox) = stage::mailbox::<u32>(JOBS as usize);
    let pool = stage::group()
        .tasks(4)
        .backoff(backoff)
        .consume(inbox, move |worker| {
            let crashed = Arc::clone(&crashed);
            async move {
                worker
                    .serve(async move |job: &mut u32| {
                        tokio::task::yield_now().await; // a little I/O
                        if *job % 10 == 3 && !crashed[*job as usize].swap(true, Ordering::Relaxed) {
                            panic!("job {job} crashed");
                        }
                    })
                    .await
            }
        });
    for job in 0..JOBS {
        jobs.try_send(job).unwrap();
    }
    let drained = pool.drain(Duration::from_secs(60)).await.unwrap();
    assert_eq!(drained.left, 0);
}

fn pool(c: &mut Criterion) {
    std::panic::set_hook(Box::new(|_| {}));
    for flavor in ["current_thread", "multi_thread_2"] {
        let rt = runtime(flavor);
        let mut group = c.benchmark_group(format!("group/{flavor}/pool_10pct_crashes"));
        group.throughput(Throughput::Elements(2_000));
        group.measurement_time(Duration::from_secs(3));
        group.bench_function(BenchmarkId::from_parameter("default_backoff"), |b| {
            b.to_async(&rt)
                .iter(|| pool_with_crashes(Backoff::default()))
        });
        group.bench_function(BenchmarkId::from_parameter("no_backoff"), |b| {
            b.to_async(&rt).iter(|| pool_with_crashes(Backoff::none()))
        });
        group.finish();
    }
    let _ = std::panic::take_hook();
}

criterion_group!(benches, spawn_join, restart, downscale, pool);
criterion_main!(benches);
