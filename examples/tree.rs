//! A three-level supervision tree healing itself while failures are
//! injected: a database connection that must be ready before anything else
//! starts, a pipeline (a reader that feeds a mailbox, and a group of
//! writers that consume it) restarted `rest_for_one`, and an API worker.
//! Every second the tree's snapshot is printed; a chaos task kills children
//! and the reader chokes on bad input now and then; at the end the tree is
//! shut down under one deadline, and the report says how every child ended.
//!
//! Run: `cargo run --example tree [-- --seconds 4]`

use std::time::Duration;

use stage::group::Backoff;
use stage::supervisor::{Child, StopMode, Strategy};

#[tokio::main]
async fn main() {
    stage::group::trace_task_panics(); // quiet: panics go to tracing, unheard here
    let seconds = std::env::args().skip_while(|a| a != "--seconds").nth(1);
    let seconds: u64 = seconds.map_or(4, |s| s.parse().expect("--seconds takes a number"));

    // The pipeline's mailbox is ours: it outlives every restart of its
    // reader and writers, with the lines in it.
    let (lines, inbox) = stage::mailbox::Builder::<u64>::new(256)
        .max_attempts(3)
        .dead_letters(|line| println!("  dead letter: line {}", line.message()))
        .build();

    let db = Child::worker_with_ready("db", |stop, ready| async move {
        tokio::time::sleep(Duration::from_millis(300)).await; // connecting
        ready.notify(); // only now does the pipeline start
        stop.requested().await;
    });
    let reader = Child::worker("reader", move |stop| {
        let lines = lines.clone();
        async move {
            for n in 0.. {
                if fastrand::u16(..400) == 0 {
                    panic!("unreadable input at line {n}");
                }
                let read_and_send = async {
                    tokio::time::sleep(Duration::from_millis(2)).await; // reading
                    lines.send(n).await // waits while the mailbox is full
                };
                tokio::select! {
                    () = stop.requested() => return,
                    sent = read_and_send => sent.unwrap(),
                }
            }
        }
    });
    let writers = Child::group("writers", stage::group().tasks(3), {
        let inbox = inbox.clone();
        move |stop| {
            let inbox = inbox.clone();
            async move {
                loop {
                    let line = tokio::select! {
                        () = stop.requested() => return, // between two lines
                        line = inbox.recv_guarded() => line,
                    };
                    tokio::time::sleep(Duration::from_millis(20)).await; // writing
                    if *line % 97 == 13 && line.attempt() == 1 {
                        panic!("write of line {} failed", *line); // redelivered
                    }
                    line.ack();
                }
            }
        }
    })
    .mailbox(&inbox) // its depth shows in the snapshot
    .stop_mode(StopMode::Graceful(Duration::from_secs(1)));
    let pipeline = stage::supervisor()
        .strategy(Strategy::RestForOne) // writers restart with their reader
        .child(reader)
        .child(writers);
    let api = Child::worker("api", |stop| async move { stop.requested().await });

    let tree = stage::supervisor()
        .name("app")
        .intensity(20, Duration::from_secs(10))
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            Duration::from_secs(1),
        ))
        .child(db)
        .child(Child::supervisor("pipeline", pipeline))
        .child(api)
        .spawn();
    tree.ready().await.expect("the tree started");
    println!("started:\n{}\n", tree.snapshot());

    // Chaos: kill a child now and then, anywhere in the tree.
    let chaos = tokio::spawn({
        let tree = tree.handle();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(700)).await;
                let victim = ["api", "db", "pipeline"][fastrand::usize(..3)];
                println!("  chaos: killing app/{victim}");
                if tree.kill_child(victim).await.is_err() {
                    return; // the tree has ended
                }
            }
        }
    });

    for second in 1..=seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!("after {second} s:\n{}\n", tree.snapshot());
    }
    chaos.abort();
    let report = tree
        .shutdown(Duration::from_secs(2))
        .await
        .expect("the tree held up");
    println!("shut down:");
    for child in &report.children {
        println!(
            "  {} (generation {}): {}",
            child.path, child.generation, child.exit
        );
    }
}
