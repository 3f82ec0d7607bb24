//! The worker pool a tokio service runs, on stage: four workers consume
//! jobs from a mailbox, a job panics now and then (its worker is restarted
//! and the job handled again; one that keeps failing becomes a dead
//! letter), `tracing` logs carry each worker's identity, stats are logged
//! every second, and Ctrl-C (or the end of `--seconds`) drains the queue
//! under a deadline and reports.
//!
//! Run: `cargo run --release --example pool [-- --seconds 3]`
//! Its plain-tokio twin, for comparison: `examples/pool_plain_tokio.rs`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

struct Job(u64);

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    stage::group::trace_task_panics(); // panics of workers go to tracing
    let seconds = std::env::args().skip_while(|a| a != "--seconds").nth(1);
    let seconds = seconds.map_or(3, |s| s.parse().expect("--seconds takes a number"));

    let (jobs, inbox) = stage::mailbox::Builder::<Job>::new(1024)
        .max_attempts(3)
        .dead_letters(|job| tracing::error!(job = job.message().0, "gave up on a job"))
        .build();
    let handled = Arc::new(AtomicU64::new(0));
    let pool = stage::group().name("jobs").tasks(4).consume(inbox, {
        let handled = Arc::clone(&handled);
        move |worker| {
            let handled = Arc::clone(&handled);
            async move {
                worker
                    .serve(async move |job: &mut Job| {
                        tokio::time::sleep(Duration::from_micros(200)).await; // the work
                        if fastrand::u8(..100) < 5 {
                            panic!("job {} failed", job.0);
                        }
                        tracing::debug!(job = job.0, "done"); // in span task{group, task, generation}
                        handled.fetch_add(1, Relaxed);
                    })
                    .await
            }
        }
    });

    let watch = pool.handle();
    let queue = pool.inbox().clone();
    tokio::spawn(async move {
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        while !watch.is_ended() {
            every_second.tick().await;
            let stats = watch.stat_borrow();
            let (running, restarted) = (stats.running, stats.restarted);
            tracing::info!(running, restarted, queued = queue.len(), "pool");
        }
    });
    let producer = tokio::spawn(async move {
        for id in 0.. {
            if jobs.send(Job(id)).await.is_err() {
                return jobs.stats(); // closed: the pool is draining
            }
        }
        unreachable!()
    });

    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
    }
    let drained = pool
        .drain(Duration::from_secs(5))
        .await
        .expect("the pool gave up");
    let mailbox = producer.await.unwrap();
    tracing::info!(
        handled = handled.load(Relaxed),
        redelivered = mailbox.redeliveries,
        dead_letters = mailbox.dead_letters,
        left = drained.left,
        "drained"
    );
    for task in &drained.tasks {
        tracing::info!(task = task.index, generation = task.generation, exit = %task.exit, "worker");
    }
}
