//! A small service that heals itself: workers fed through a stage mailbox,
//! kept alive by a stage group, crash now and then (injected panics); the
//! group restarts them and the mailbox keeps every queued request. A live
//! progress line while it runs, a summary at the end.
//!
//! Run: `cargo run --release --example service [-- --seconds 3 --crash-rate 0.01 --workers 4]`
//!
//! Receives are at-least-once: the request a worker was handling when it
//! crashed goes back to the mailbox, ahead of the queue, and the restarted
//! worker handles it again. Most crashes are transient (the retry succeeds);
//! a few requests crash every attempt (poison) and end up as dead letters
//! after 5 attempts. The summary shows that no request is lost.

use std::io::IsTerminal;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use stage::group::{Backoff, StopSignal};
use stage::mailbox::{Builder, DeadLetter, Receiver, Sender};

struct Args {
    seconds: f64,
    crash_rate: f64,
    workers: usize,
}

const USAGE: &str = "\
usage: cargo run --release --example service [-- FLAGS]

  --seconds S       how long to send requests (default 3)
  --crash-rate R    share of requests that crash their worker, in [0, 1)
                    (default 0.01; one in 20 of those crashes every attempt)
  --workers N       how many workers the group runs (default 4)
  --help            print this and exit";

/// The flags, or `None` when asked for help.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        seconds: 3.0,
        crash_rate: 0.01,
        workers: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        if !["--seconds", "--crash-rate", "--workers"].contains(&flag.as_str()) {
            return Err(format!("unknown flag {flag}"));
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--seconds" => args.seconds = value.parse().map_err(|e| bad(&e))?,
            "--crash-rate" => args.crash_rate = value.parse().map_err(|e| bad(&e))?,
            "--workers" => args.workers = value.parse().map_err(|e| bad(&e))?,
            _ => unreachable!("checked above"),
        }
    }
    if !(0.0..1.0).contains(&args.crash_rate) {
        return Err("--crash-rate must be in [0, 1)".into());
    }
    if args.seconds <= 0.0 || args.workers == 0 {
        return Err("--seconds and --workers must be positive".into());
    }
    Ok(Some(args))
}

/// One crashing request in this many crashes every attempt (poison).
const POISON_SHARE: f64 = 1000.0;

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
    fault: Fault,
}

/// What handling a request does to its worker.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Crashes the first attempt only (a flaky dependency, say).
    Transient,
    /// Crashes every attempt (a request the code cannot handle).
    Poison,
}

impl Request {
    fn crashes(&self, attempt: u32) -> bool {
        match self.fault {
            Fault::None => false,
            Fault::Transient => attempt == 1,
            Fault::Poison => true,
        }
    }
}

/// A worker: handles requests until the group asks it to stop; a crashing
/// request panics it (the group restarts it, and the request is delivered
/// again).
async fn worker(requests: Receiver<Request>, counters: Arc<Counters>, stop: StopSignal) {
    loop {
        let (delivery, stopping) = (pin!(requests.recv_guarded()), pin!(stop.requested()));
        let Either::Left((delivery, _)) = select(delivery, stopping).await else {
            return; // shutting down
        };
        let attempt = delivery.attempt();
        // Acknowledged when the handler returns; put back if it panics.
        delivery
            .process(async |request| {
                if request.crashes(attempt) {
                    counters.crashes.fetch_add(1, Ordering::Relaxed);
                    panic!("request {} crashed its worker", request.id);
                }
                // "Handle" it: a little work, and a yield as real I/O would.
                std::hint::black_box(request.id.wrapping_mul(31));
                tokio::task::yield_now().await;
                counters.handled.fetch_add(1, Ordering::Relaxed);
            })
            .await;
    }
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    // Injected panics are expected: keep them off the terminal.
    std::panic::set_hook(Box::new(|_| {}));

    let counters = Arc::new(Counters::default());
    // Poison requests end up here; a real service would park them for a
    // human to look at.
    let dead_letters = Arc::new(Mutex::new(Vec::<DeadLetter<Request>>::new()));
    let (tx, rx) = Builder::new(1024)
        .dead_letters({
            let dead_letters = Arc::clone(&dead_letters);
            move |letter| dead_letters.lock().unwrap().push(letter)
        })
        .build();
    let mut group = stage::group()
        .name("workers")
        .tasks(args.workers)
        .backoff(Backoff::none())
        .spawn_graceful({
            let counters = Arc::clone(&counters);
            move |stop| worker(rx.clone(), Arc::clone(&counters), stop)
        });

    println!(
        "serving for {:.1}s with {} workers; {:.2}% of requests crash their worker once, \
         {:.4}% every time",
        args.seconds,
        args.workers,
        args.crash_rate * 100.0,
        args.crash_rate * 100.0 / POISON_SHARE,
    );
    let start = Instant::now();
    let run_for = Duration::from_secs_f64(args.seconds);
    let producer = tokio::spawn({
        let counters = Arc::clone(&counters);
        let tx = tx.clone();
        let crash_rate = args.crash_rate;
        async move {
            // Seeded: the same requests crash on every run.
            let mut dice = fastrand::Rng::with_seed(0x9E37_79B9_7F4A_7C15);
            let mut id = 0;
            while start.elapsed() < run_for {
                let roll = dice.f64();
                let fault = if roll < crash_rate / POISON_SHARE {
                    Fault::Poison
                } else if roll < crash_rate {
                    Fault::Transient
                } else {
                    Fault::None
                };
                tx.send(Request { id, fault })
                    .await
                    .expect("the mailbox stays open");
                counters.sent.fetch_add(1, Ordering::Relaxed);
                id += 1;
            }
        }
    });

    let progress = |group: &stage::group::Group, counters: &Counters, mailbox: &Sender<Request>| {
        let stats = group.stat_borrow();
        format!(
            "{:>5.1}s  sent {:>9}  handled {:>9}  crashes {:>6}  restarts {:>6}  redelivered {:>6}  \
             dead {:>3}  running {:>2}  queued {:>4}",
            start.elapsed().as_secs_f64(),
            counters.sent.load(Ordering::Relaxed),
            counters.handled.load(Ordering::Relaxed),
            counters.crashes.load(Ordering::Relaxed),
            stats.restarted,
            mailbox.stats().redeliveries,
            mailbox.stats().dead_letters,
            stats.running,
            mailbox.len(),
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
        eprint!("{sep}{}", progress(&group, &counters, &tx));
    }
    producer.await.expect("producer");

    // Drain what is queued, then shut the workers down gracefully.
    while !tx.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.close();
    eprintln!("{sep}{}", progress(&group, &counters, &tx));
    group.stat_borrow_and_update();
    let restarts = group.stat_borrow().restarted;
    let report = group
        .shutdown(Duration::from_secs(1))
        .await
        .expect("the group does not give up");

    let sent = counters.sent.load(Ordering::Relaxed);
    let handled = counters.handled.load(Ordering::Relaxed);
    let crashes = counters.crashes.load(Ordering::Relaxed);
    let mailbox = tx.stats();
    let lost = sent - handled - mailbox.dead_letters - tx.len() as u64;
    println!("summary after {:.2?}:", start.elapsed());
    println!("  requests sent      {sent:>10}");
    println!("  requests handled   {handled:>10}");
    println!("  worker crashes     {crashes:>10}");
    println!("  worker restarts    {restarts:>10}");
    println!(
        "  redeliveries       {:>10}  (a crashed request, handed to the restarted worker)",
        mailbox.redeliveries
    );
    println!(
        "  dead letters       {:>10}  (poison requests, given up on after {} attempts)",
        mailbox.dead_letters,
        stage::mailbox::DEFAULT_MAX_ATTEMPTS
    );
    if let Some(letter) = dead_letters.lock().unwrap().first() {
        println!(
            "                                e.g. request {}: {} attempts, the last panicked with \"{}\"",
            letter.message().id,
            letter.attempts(),
            letter.last_panic().unwrap_or("?"),
        );
    }
    println!("  requests lost      {lost:>10}");
    println!(
        "  shutdown           {} workers stopped cleanly, {} aborted",
        report.tasks.len() - report.aborted(),
        report.aborted()
    );
    assert_eq!(lost, 0, "a request was lost");
    assert_eq!(
        mailbox.redeliveries, crashes,
        "every crashed request was put back"
    );
}
