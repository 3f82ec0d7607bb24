//! A consumer crashes in the middle of a stream of work: with a tokio mpsc
//! channel the crash closes the channel and every queued job is lost; with a
//! stage mailbox the queue outlives the consumer and a new one carries on,
//! and with guarded receives not even the job it crashed on is lost.
//!
//! Run: `cargo run --release --example mailbox [-- --jobs N --crash-at K]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Jobs to send, and the job on which the first consumer crashes.
struct Args {
    jobs: u64,
    crash_at: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        jobs: 100_000,
        crash_at: 25_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let n: u64 = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?;
        match flag.as_str() {
            "--jobs" => args.jobs = n,
            "--crash-at" => args.crash_at = n,
            _ => return Err(format!("unknown flag {flag} (expected --jobs, --crash-at)")),
        }
    }
    if args.crash_at >= args.jobs {
        return Err("--crash-at must be below --jobs".into());
    }
    Ok(args)
}

/// Sends every job through a tokio channel whose only consumer panics on job
/// `crash_at`; returns how many jobs were handled.
async fn with_tokio_mpsc(args: &Args) -> u64 {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1024);
    let crash_at = args.crash_at;
    let handled = Arc::new(AtomicU64::new(0));
    let consumer = tokio::spawn({
        let handled = Arc::clone(&handled);
        async move {
            while let Some(job) = rx.recv().await {
                if job == crash_at {
                    panic!("consumer crashed on job {job}");
                }
                handled.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let mut refused = 0;
    for job in 0..args.jobs {
        if tx.send(job).await.is_err() {
            refused += 1; // the channel died with its consumer
        }
    }
    drop(tx);
    let handled = handled.load(Ordering::Relaxed);
    if consumer.await.is_err() {
        // Every job not handled is lost: the one the consumer crashed on,
        // those queued behind it (dropped with the channel), and those sent
        // after (refused: the channel had closed).
        let dropped = args.jobs - handled - refused - 1;
        println!(
            "  tokio mpsc: the consumer panicked on job {crash_at}; that job and the \
             {dropped} queued behind it went down with the channel, and the {refused} \
             sends after it were refused"
        );
    }
    handled
}

/// The same through a stage mailbox; when the consumer panics, a new one is
/// started on the same mailbox (by hand here: task groups do this for you).
/// `guarded`: receive at-least-once, acknowledging each job once handled.
async fn with_stage_mailbox(args: &Args, guarded: bool) -> u64 {
    let (tx, rx) = stage::mailbox::<u64>(1024);
    let producer = {
        let jobs = args.jobs;
        tokio::spawn(async move {
            for job in 0..jobs {
                tx.send(job)
                    .await
                    .expect("the mailbox is never closed here");
            }
            tx.close(); // explicit shutdown: consumers drain, then stop
        })
    };
    let handled = Arc::new(AtomicU64::new(0));
    let mut crash_at = Some(args.crash_at);
    loop {
        let consumer = tokio::spawn({
            let rx = rx.clone();
            let handled = Arc::clone(&handled);
            let handle = move |job: u64| {
                if Some(job) == crash_at {
                    panic!("consumer crashed on job {job}");
                }
                handled.fetch_add(1, Ordering::Relaxed);
            };
            async move {
                if guarded {
                    while let Ok(delivery) = rx.recv_guarded_or_closed().await {
                        handle(*delivery);
                        delivery.ack();
                    }
                } else {
                    while let Ok(job) = rx.recv_or_closed().await {
                        handle(job);
                    }
                }
            }
        });
        match consumer.await {
            Ok(()) => break,
            Err(e) if e.is_panic() => {
                println!(
                    "  stage mailbox{}: the consumer panicked; {} jobs still queued, starting a new one",
                    if guarded { " (guarded)" } else { "" },
                    rx.len()
                );
                crash_at = None;
            }
            Err(e) => panic!("consumer failed: {e}"),
        }
    }
    producer.await.expect("producer");
    handled.load(Ordering::Relaxed)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // Keep the demo's own panics to one line each.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(non-string payload)");
        eprintln!("  panic: {msg}");
    }));

    println!(
        "sending {} jobs; the first consumer crashes on job {}",
        args.jobs, args.crash_at
    );
    let start = Instant::now();
    let tokio_handled = with_tokio_mpsc(&args).await;
    let stage_handled = with_stage_mailbox(&args, false).await;
    let guarded_handled = with_stage_mailbox(&args, true).await;

    // A plain receive takes the job out of the mailbox, so the one that
    // crashed its handler is lost; a guarded one puts it back.
    let report = |name: &str, handled: u64| {
        println!(
            "{name:>24}: handled {handled:>7} of {} jobs, lost {}",
            args.jobs,
            args.jobs - handled
        )
    };
    println!("summary ({:.2?}):", start.elapsed());
    report("tokio mpsc", tokio_handled);
    report("stage mailbox, recv", stage_handled);
    report("stage mailbox, guarded", guarded_handled);
    assert_eq!(
        stage_handled,
        args.jobs - 1,
        "the mailbox lost more than the crashed job"
    );
    assert_eq!(guarded_handled, args.jobs, "a guarded receive lost a job");
}
