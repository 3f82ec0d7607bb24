//! One actor operation, `N` times, on a current_thread runtime: for
//! counting instructions, which do not vary with the machine's load (see
//! `count-instructions.sh` beside this file, which runs it under
//! callgrind at two counts and divides the difference).
//!
//! `cargo run --release -p stage-benches --example actor_ops -- OP N`, OP one
//! of: `tell`, `ask` (no time limit), `ask-timeout`, `restart` (a tree's
//! actor), `restart-spawned` (a system's), `spawn-stop`, and the
//! hand-written tokio actor's `hand-tell`, `hand-ask`, `hand-ask-timeout`,
//! `hand-spawn-stop` for the same work without stage.

use std::time::Duration;

use stage::actor::{Actor, Context, Reply};
use stage::runtime::Tokio;
use tokio::sync::{mpsc, oneshot};

struct Counter(u64);

enum Msg {
    Add(u64),
    Get(Reply<u64>),
    Crash,
}

impl Actor for Counter {
    type Msg = Msg;

    async fn handle(&mut self, msg: Msg, _: &mut Context<Self>) {
        match msg {
            Msg::Add(n) => self.0 += n,
            Msg::Get(reply) => reply.send(self.0),
            Msg::Crash => panic!("crash"),
        }
    }
}

/// The hand-written actor's messages.
enum Hand {
    Add(u64),
    Get(oneshot::Sender<u64>),
}

fn hand_actor() -> (mpsc::Sender<Hand>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(async move {
        let mut total = 0;
        while let Some(msg) = rx.recv().await {
            match msg {
                Hand::Add(n) => total += n,
                Hand::Get(reply) => {
                    let _ = reply.send(total);
                }
            }
        }
    });
    (tx, task)
}

async fn hand_get(tx: &mpsc::Sender<Hand>) -> u64 {
    let (reply, answer) = oneshot::channel();
    tx.send(Hand::Get(reply)).await.unwrap();
    answer.await.unwrap()
}

fn tree() -> stage::supervisor::Builder {
    stage::supervisor::Builder::new(Tokio::current())
        .backoff(stage::group::Backoff::none())
        .intensity(u32::MAX, Duration::from_secs(1))
}

async fn run(op: String, n: u64) {
    let second = Duration::from_secs(5);
    match op.as_str() {
        "tell" | "ask" | "ask-timeout" | "restart" => {
            let (counter, child) = stage::actor("counter", || Counter(0)).child();
            let tree = tree().child(child).spawn();
            for _ in 0..n {
                match op.as_str() {
                    "tell" => counter.tell(Msg::Add(1)).await.unwrap(),
                    "ask" => drop(counter.ask(Msg::Get, Duration::MAX).await),
                    "ask-timeout" => drop(counter.ask(Msg::Get, second).await),
                    _ => {
                        assert!(counter.tell(Msg::Crash).await.is_ok());
                        assert_eq!(counter.ask(Msg::Get, second).await, Ok(0));
                    }
                }
            }
            assert!(counter.ask(Msg::Get, second).await.is_ok());
            tree.stop().await.unwrap();
        }
        "restart-spawned" => {
            let system = stage::actor::System::new(tree());
            let counter = system
                .spawn(stage::actor("counter", || Counter(0)))
                .unwrap();
            for _ in 0..n {
                assert!(counter.tell(Msg::Crash).await.is_ok());
                assert_eq!(counter.ask(Msg::Get, second).await, Ok(0));
            }
            system.shutdown(second).await.unwrap();
        }
        "spawn-stop" => {
            let system = stage::actor::System::new(tree());
            let actors: Vec<_> = (0..n)
                .map(|i| {
                    system
                        .spawn(stage::actor(format!("a{i}"), || Counter(0)))
                        .unwrap()
                })
                .collect();
            for actor in &actors {
                actor.stop();
            }
            for actor in &actors {
                actor.stopped().await;
            }
            system.shutdown(second).await.unwrap();
        }
        "hand-tell" | "hand-ask" | "hand-ask-timeout" => {
            let (tx, task) = hand_actor();
            for _ in 0..n {
                match op.as_str() {
                    "hand-tell" => tx.send(Hand::Add(1)).await.unwrap(),
                    "hand-ask" => drop(hand_get(&tx).await),
                    _ => drop(tokio::time::timeout(second, hand_get(&tx)).await),
                }
            }
            hand_get(&tx).await;
            drop(tx);
            task.await.unwrap();
        }
        "hand-spawn-stop" => {
            let actors: Vec<_> = (0..n).map(|_| hand_actor()).collect();
            for (tx, task) in actors {
                drop(tx);
                task.await.unwrap();
            }
        }
        other => panic!("unknown operation {other:?}"),
    }
}

fn main() {
    std::panic::set_hook(Box::new(|_| {})); // `restart` panics on purpose
    let mut args = std::env::args().skip(1);
    let op = args.next().expect("an operation: see the module's docs");
    let n: u64 = args.next().map_or(10_000, |n| n.parse().expect("a count"));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        // In a task of its own, as the criterion benches run (an ask from
        // a task finds its runtime more cheaply than one from `block_on`).
        .block_on(async { tokio::spawn(run(op, n)).await.unwrap() });
}
