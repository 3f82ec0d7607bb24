//! The service of `examples/pool.rs`, written on plain tokio for comparison:
//! a JoinSet of four workers sharing an mpsc receiver, each job run in a
//! task of its own so that its panic is caught and retried by hand (up to 3
//! attempts, then given up on), a span per worker, stats every second, and
//! a drain on Ctrl-C (or the end of `--seconds`) under a deadline. A job a
//! worker holds when the deadline aborts it is lost.
//!
//! Run: `cargo run --release --example pool_plain_tokio [-- --seconds 3]`

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};
use tracing::Instrument;

#[derive(Clone, Copy)]
struct Job(u64);

#[derive(Default)]
struct Counters {
    handled: AtomicU64,
    redelivered: AtomicU64,
    dead_letters: AtomicU64,
    running: AtomicUsize,
}

async fn handle(job: Job) {
    tokio::time::sleep(Duration::from_micros(200)).await; // the work
    if fastrand::u8(..100) < 5 {
        panic!("job {} failed", job.0);
    }
    tracing::debug!(job = job.0, "done");
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    std::panic::set_hook(Box::new(|info| tracing::error!(%info, "task panicked")));
    let seconds = std::env::args().skip_while(|a| a != "--seconds").nth(1);
    let seconds = seconds.map_or(3, |s| s.parse().expect("--seconds takes a number"));

    let (tx, rx) = mpsc::channel::<Job>(1024);
    let rx = Arc::new(Mutex::new(rx));
    let counters = Arc::new(Counters::default());
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..4 {
        let (rx, counters) = (rx.clone(), counters.clone());
        let worker = async move {
            counters.running.fetch_add(1, Relaxed);
            // Ends when the channel is closed and drained.
            while let Some(job) = async { rx.lock().await.recv().await }.await {
                for attempt in 1..=3 {
                    match tokio::spawn(handle(job).in_current_span()).await {
                        Ok(()) => {
                            counters.handled.fetch_add(1, Relaxed);
                            break;
                        }
                        Err(_) if attempt < 3 => _ = counters.redelivered.fetch_add(1, Relaxed),
                        Err(_) => {
                            tracing::error!(job = job.0, "gave up on a job");
                            counters.dead_letters.fetch_add(1, Relaxed);
                        }
                    }
                }
            }
            counters.running.fetch_sub(1, Relaxed);
            index
        };
        workers.spawn(worker.instrument(tracing::info_span!("worker", index)));
    }

    let (watch, queue) = (counters.clone(), tx.downgrade());
    let stats = tokio::spawn(async move {
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        loop {
            every_second.tick().await;
            let Some(queue) = queue.upgrade() else { return };
            let (running, queued) = (
                watch.running.load(Relaxed),
                queue.max_capacity() - queue.capacity(),
            );
            tracing::info!(
                running,
                redelivered = watch.redelivered.load(Relaxed),
                queued,
                "pool"
            );
        }
    });
    let producer = tokio::spawn(async move {
        for id in 0.. {
            tx.send(Job(id)).await.unwrap();
        }
    });

    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
    }
    producer.abort(); // its sender goes: once drained, the channel ends
    let _ = producer.await;
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(deadline);
    let mut ended = Vec::new();
    loop {
        tokio::select! {
            next = workers.join_next() => match next {
                Some(Ok(index)) => ended.push((index, "returned".to_string())),
                Some(Err(e)) => ended.push((usize::MAX, e.to_string())),
                None => break,
            },
            _ = &mut deadline => {
                workers.abort_all(); // the jobs they held are lost
                while let Some(next) = workers.join_next().await {
                    ended.push((usize::MAX, format!("{:?}", next.err())));
                }
                break;
            }
        }
    }
    stats.abort();
    let left = rx.lock().await.len();
    tracing::info!(
        handled = counters.handled.load(Relaxed),
        redelivered = counters.redelivered.load(Relaxed),
        dead_letters = counters.dead_letters.load(Relaxed),
        left,
        "drained"
    );
    ended.sort();
    for (index, exit) in ended {
        tracing::info!(worker = index, exit, "worker");
    }
}
