//! A small service that heals itself: workers fed through a stage mailbox,
//! kept alive by a stage group, crash now and then (injected panics); the
//! group restarts them and the mailbox keeps every queued request. A live
//! progress line while it runs, a summary at the end.
//!
//! Run: `cargo run --release --example service [-- --seconds 3 --crash-rate 0.01 --workers 4]`
//!
//! Receives are at-most-once: the request a worker was handling when it
//! crashed is lost, and the summary counts it. Nothing else is lost.

use std::io::IsTerminal;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use stage::group::{Backoff, StopSignal};
use stage::mailbox::Receiver;

struct Args {
    seconds: f64,
    crash_rate: f64,
    workers: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 3.0,
        crash_rate: 0.01,
        workers: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--seconds" => args.seconds = value.parse().map_err(|e| bad(&e))?,
            "--crash-rate" => args.crash_rate = value.parse().map_err(|e| bad(&e))?,
            "--workers" => args.workers = value.parse().map_err(|e| bad(&e))?,
            _ => {
                return Err(format!(
                    "unknown flag {flag} (expected --seconds, --crash-rate, --workers)"
                ))
            }
        }
    }
    if !(0.0..1.0).contains(&args.crash_rate) {
        return Err("--crash-rate must be in [0, 1)".into());
    }
    if args.seconds <= 0.0 || args.workers == 0 {
        return Err("--seconds and --workers must be positive".into());
    }
    Ok(args)
}

/// What the service counts.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    handled: AtomicU64,
    crashes: AtomicU64,
}

/// A request: its number, and whether handling it crashes the worker.
struct Request {
    id: u64,
    crash: bool,
}

/// A small deterministic generator (xorshift64*): which requests crash.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A worker: handles requests until the group asks it to stop; a crashing
/// request panics it (the group restarts it).
async fn worker(requests: Receiver<Request>, counters: Arc<Counters>, stop: StopSignal) {
    loop {
        let (request, stopping) = (pin!(requests.recv()), pin!(stop.requested()));
        let Either::Left((request, _)) = select(request, stopping).await else {
            return; // shutting down
        };
        if request.crash {
            counters.crashes.fetch_add(1, Ordering::Relaxed);
            panic!("request {} crashed its worker", request.id);
        }
        // "Handle" it: a little work, and a yield as real I/O would.
        std::hint::black_box(request.id.wrapping_mul(31));
        tokio::task::yield_now().await;
        counters.handled.fetch_add(1, Ordering::Relaxed);
    }
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
    // Injected panics are expected: keep them off the terminal.
    std::panic::set_hook(Box::new(|_| {}));

    let counters = Arc::new(Counters::default());
    let (tx, rx) = stage::mailbox::<Request>(1024);
    let mut group = stage::group()
        .name("workers")
        .tasks(args.workers)
        .backoff(Backoff::none())
        .spawn_graceful({
            let counters = Arc::clone(&counters);
            move |stop| worker(rx.clone(), Arc::clone(&counters), stop)
        });

    println!(
        "serving for {:.1}s with {} workers; {:.1}% of requests crash their worker",
        args.seconds,
        args.workers,
        args.crash_rate * 100.0
    );
    let start = Instant::now();
    let run_for = Duration::from_secs_f64(args.seconds);
    let producer = tokio::spawn({
        let counters = Arc::clone(&counters);
        let tx = tx.clone();
        let crash_rate = args.crash_rate;
        async move {
            let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
            let mut id = 0;
            while start.elapsed() < run_for {
                let crash = dice.roll() < crash_rate;
                tx.send(Request { id, crash })
                    .await
                    .expect("the mailbox stays open");
                counters.sent.fetch_add(1, Ordering::Relaxed);
                id += 1;
            }
        }
    });

    let progress = |group: &stage::group::Group, counters: &Counters, queued: usize| {
        let stats = group.stat_borrow();
        format!(
            "{:>5.1}s  sent {:>9}  handled {:>9}  crashes {:>6}  restarts {:>6}  running {:>2}  queued {:>4}",
            start.elapsed().as_secs_f64(),
            counters.sent.load(Ordering::Relaxed),
            counters.handled.load(Ordering::Relaxed),
            counters.crashes.load(Ordering::Relaxed),
            stats.restarted,
            stats.running,
            queued,
        )
    };
    // One line rewritten in place on a terminal; a line per update elsewhere.
    let (sep, every) = if std::io::stderr().is_terminal() {
        ("\r", Duration::from_millis(250))
    } else {
        ("\n", Duration::from_secs(1))
    };
    while !producer.is_finished() {
        tokio::time::sleep(every).await;
        eprint!("{sep}{}", progress(&group, &counters, tx.len()));
    }
    producer.await.expect("producer");

    // Drain what is queued, then shut the workers down gracefully.
    while !tx.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.close();
    eprintln!("{sep}{}", progress(&group, &counters, tx.len()));
    group.stat_borrow_and_update();
    let restarts = group.stat_borrow().restarted;
    let report = group
        .shutdown(Duration::from_secs(1))
        .await
        .expect("the group does not give up");

    let sent = counters.sent.load(Ordering::Relaxed);
    let handled = counters.handled.load(Ordering::Relaxed);
    let crashes = counters.crashes.load(Ordering::Relaxed);
    let lost = sent - handled;
    println!("summary after {:.2?}:", start.elapsed());
    println!("  requests sent      {sent:>10}");
    println!("  requests handled   {handled:>10}");
    println!("  worker crashes     {crashes:>10}");
    println!("  worker restarts    {restarts:>10}");
    println!(
        "  requests lost      {lost:>10}  (each in a crashed handler: receives are at-most-once)"
    );
    println!(
        "  shutdown           {} workers stopped cleanly, {} aborted",
        report.tasks.len() - report.aborted(),
        report.aborted()
    );
    assert_eq!(
        lost, crashes,
        "a request was lost outside a crashed handler"
    );
}
