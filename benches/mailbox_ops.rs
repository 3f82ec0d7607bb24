//! One channel moving N messages from one producer task to one consumer
//! task (or PAIRS of each) on a current_thread runtime (or WORKERS), for
//! counting instructions under
//! callgrind (`benches/count-mailbox-instructions.sh`): instructions do not
//! vary with the machine's load, where timings do.
//!
//! Usage: `mailbox_ops CHANNEL CAPACITY N [PAIRS]`, where CHANNEL is `stage`,
//! `stage-guarded` (receive under a guard, then acknowledge), `kanal`,
//! `flume`, `tokio` (tokio::sync::mpsc), `ring` (the mailbox's `try_send`
//! and `try_recv` from one thread: its ring and checks, no tasks, no
//! wakeups) or `queue` (concurrent-queue, the queue the mailbox was built
//! on before it had a ring of its own, pushed and popped by one thread).
//! `ring` and `queue` push and pop in turns of `capacity`. With PAIRS
//! (default 1), that many producer tasks send to that many consumer tasks
//! (MPMC; not for `tokio`, whose mpsc has one receiver, nor `ring` and
//! `queue`).
//!
//! It also prints, on stderr, how often the two tasks were polled per
//! message: each poll is a task switch, whose cost is the runtime's, not
//! the channel's. At capacity 1 that, more than the channel's own code,
//! sets the figure: a channel that holds more messages than its capacity
//! while tasks wait (kanal hands them between waiting tasks) switches less.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// Polls of the producer and the consumer task, together.
static POLLS: AtomicU64 = AtomicU64::new(0);

/// A future that counts its polls in [`POLLS`].
struct Counted<F>(F);

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        POLLS.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Moves `0..n` from `pairs` spawned producers to `pairs` consumers (the
/// calling task and `pairs - 1` spawned ones) through the channel `$make`
/// returns, with `$send` and `$recv` (each given the handle and, for a
/// send, the message) and `$clone` (a receiver's clone, for `pairs > 1`);
/// returns the sum received. Producer `p` sends `p, p + pairs, ...`; each
/// consumer takes `n / pairs` messages (`n` is a multiple of `pairs`).
macro_rules! through {
    (
        $make:expr, $n:expr, $pairs:expr,
        |$tx:ident, $i:ident| $send:expr,
        |$rx:ident| $recv:expr,
        |$original:ident| $clone:expr
    ) => {{
        #[allow(unused_mut)] // some receivers need `mut`
        let ($tx, mut $rx) = $make;
        let (n, pairs): (u64, u64) = ($n, $pairs);
        assert!(pairs > 0 && n % pairs == 0, "n a multiple of pairs");
        let producers: Vec<_> = (0..pairs)
            .map(|first| {
                let $tx = $tx.clone();
                tokio::spawn(Counted(Box::pin(async move {
                    for $i in (first..n).step_by(pairs as usize) {
                        $send;
                    }
                })))
            })
            .collect();
        drop($tx);
        // One consumer's loop, made once: `$recv` has one call site, as
        // in a consumer that receives in one place.
        #[allow(unused_mut)] // some receivers need `mut`
        let consume = taking(&$rx, move |mut $rx| {
            Counted(Box::pin(async move {
                let mut sum = 0;
                for _ in 0..n / pairs {
                    sum += $recv;
                }
                sum
            }))
        });
        let consumers: Vec<_> = (1..pairs)
            .map(|_| {
                let $original = &$rx;
                tokio::spawn(consume($clone))
            })
            .collect();
        let mut sum = consume($rx).await;
        for consumer in consumers {
            sum += consumer.await.unwrap();
        }
        for producer in producers {
            producer.await.unwrap();
        }
        sum
    }};
}

async fn stage(capacity: usize, n: u64, pairs: u64, guarded: bool) -> u64 {
    through!(
        stage::mailbox(capacity),
        n,
        pairs,
        |tx, i| tx.send(i).await.unwrap(),
        |rx| {
            if guarded {
                rx.recv_guarded().await.into_inner()
            } else {
                rx.recv().await
            }
        },
        |rx| rx.clone()
    )
}

async fn kanal(capacity: usize, n: u64, pairs: u64) -> u64 {
    through!(
        kanal::bounded_async(capacity),
        n,
        pairs,
        |tx, i| tx.send(i).await.unwrap(),
        |rx| rx.recv().await.unwrap(),
        |rx| rx.clone()
    )
}

async fn flume(capacity: usize, n: u64, pairs: u64) -> u64 {
    through!(
        flume::bounded(capacity),
        n,
        pairs,
        |tx, i| tx.send_async(i).await.unwrap(),
        |rx| rx.recv_async().await.unwrap(),
        |rx| rx.clone()
    )
}

/// `consume`, its argument's type fixed by `_receiver` (a closure's own
/// annotation could not name it).
fn taking<R, F: Fn(R) -> O, O>(_receiver: &R, consume: F) -> F {
    consume
}

/// What a channel with one receiver gives for a receiver's clone.
fn one_receiver<R>(_: &R) -> R {
    panic!("this channel has one receiver: PAIRS must be 1")
}

async fn tokio_mpsc(capacity: usize, n: u64, pairs: u64) -> u64 {
    through!(
        tokio::sync::mpsc::channel(capacity),
        n,
        pairs,
        |tx, i| tx.send(i).await.unwrap(),
        |rx| rx.recv().await.unwrap(),
        |rx| one_receiver(rx)
    )
}

/// Moves `0..n` through a queue on one thread with `push` and `pop`, in
/// turns of `capacity` (no tasks, no wakeups); returns the sum popped.
fn in_turns(
    capacity: usize,
    n: u64,
    mut push: impl FnMut(u64),
    mut pop: impl FnMut() -> u64,
) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while i < n {
        let turn = (n - i).min(capacity as u64);
        for k in 0..turn {
            push(i + k);
        }
        for _ in 0..turn {
            sum += pop();
        }
        i += turn;
    }
    sum
}

/// The mailbox without tasks: `try_send` and `try_recv` (its own ring,
/// checks and flags).
fn ring(capacity: usize, n: u64) -> u64 {
    let (tx, rx) = stage::mailbox(capacity);
    in_turns(
        capacity,
        n,
        |m| tx.try_send(m).unwrap(),
        || rx.try_recv().unwrap(),
    )
}

/// concurrent-queue alone.
fn queue(capacity: usize, n: u64) -> u64 {
    let queue = concurrent_queue::ConcurrentQueue::bounded(capacity);
    in_turns(
        capacity,
        n,
        |m| queue.push(m).unwrap(),
        || queue.pop().unwrap(),
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let channel = args.next().expect("a channel: see the module's docs");
    let capacity: usize = args.next().map_or(1024, |c| c.parse().expect("a capacity"));
    let n: u64 = args.next().map_or(100_000, |n| n.parse().expect("a count"));
    let pairs: u64 = args
        .next()
        .map_or(1, |p| p.parse().expect("a number of pairs"));
    // WORKERS=N: a multi-thread runtime of N workers instead (to look at
    // wakeups across threads, with strace or perf; not for callgrind, whose
    // threads run one at a time).
    let runtime = match std::env::var("WORKERS")
        .ok()
        .map(|w| w.parse().expect("a number of workers"))
    {
        Some(workers) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap(),
        None => tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
    };
    // In a task of its own, as the criterion benches run: the consumer is
    // a spawned task as the producer is (`block_on`'s own future is woken
    // through the driver, which costs more).
    let sum = runtime.block_on(async {
        tokio::spawn(async move {
            match channel.as_str() {
                "stage" => stage(capacity, n, pairs, false).await,
                "stage-guarded" => stage(capacity, n, pairs, true).await,
                "kanal" => kanal(capacity, n, pairs).await,
                "flume" => flume(capacity, n, pairs).await,
                "tokio" => tokio_mpsc(capacity, n, pairs).await,
                "queue" => queue(capacity, n),
                "ring" => ring(capacity, n),
                other => panic!("unknown channel {other:?}"),
            }
        })
        .await
        .unwrap()
    });
    assert_eq!(
        black_box(sum),
        n * n.saturating_sub(1) / 2,
        "every message, once"
    );
    eprintln!(
        "task polls per message: {:.2}",
        POLLS.load(Ordering::Relaxed) as f64 / n.max(1) as f64
    );
}
