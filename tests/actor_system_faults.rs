//! Spawned actors in the corners a hostile trial found: a backoff that
//! never ends, pools whose workers crash and restart apart, a pool's
//! restart allowance, a spawn asked for from another runtime, and a kept
//! message whose `Drop` panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stage::actor::{Actor, ActorExit, Cause, Context, Reply, Restarted, System};
use stage::group::Backoff;

const LIMIT: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, work)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}

/// Panics on every message.
struct Crashy;

impl Actor for Crashy {
    type Msg = ();

    async fn handle(&mut self, (): (), _: &mut Context<Self>) {
        panic!("crash");
    }
}

#[tokio::test(start_paused = true)]
async fn a_never_ending_backoff_waits_for_the_shutdown() {
    let root = stage::supervisor()
        .name("system")
        .backoff(Backoff::exponential(Duration::MAX, Duration::MAX).free_restarts(0));
    let system = System::new(root);
    let crashy = system.spawn(stage::actor("crashy", || Crashy)).unwrap();
    crashy.tell(()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(crashy.exit(), None, "backing off, not ended");
    assert_eq!(system.spawned(), 1);
    let report = within("the shutdown", system.shutdown(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(report.children.len(), 1);
}

/// Logs its hooks with the worker (the state's number) that ran them.
struct Logged {
    id: usize,
    log: Arc<Mutex<Vec<(usize, String)>>>,
}

impl Actor for Logged {
    type Msg = u32;

    async fn started(&mut self, _: &mut Context<Self>) {
        self.log.lock().unwrap().push((self.id, "started".into()));
    }

    async fn restarted(&mut self, why: &Restarted, _: &mut Context<Self>) {
        let line = format!("restarted after {:?}", why.cause());
        self.log.lock().unwrap().push((self.id, line));
    }

    async fn handle(&mut self, n: u32, _: &mut Context<Self>) {
        panic!("crash {n}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_pools_workers_each_learn_of_their_own_restarts_only() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let root = stage::supervisor().name("system").backoff(
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1))
            .free_restarts(0)
            .without_jitter(),
    );
    let system = System::new(root);
    let next = Arc::new(AtomicUsize::new(0));
    let factory = {
        let log = Arc::clone(&log);
        move || Logged {
            id: next.fetch_add(1, Ordering::SeqCst),
            log: Arc::clone(&log),
        }
    };
    let pool = system.spawn(stage::actor("pool", factory).pool(2)).unwrap();
    pool.tell(1).await.unwrap(); // one worker takes it and crashes
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = log.lock().unwrap().clone();
    let restarts: Vec<_> = log
        .iter()
        .filter(|(_, line)| line.starts_with("restarted"))
        .collect();
    assert_eq!(restarts.len(), 1, "{log:?}");
    assert!(
        restarts[0].1.contains("crash 1"),
        "the worker that crashed learns why: {log:?}"
    );
    // States 0 and 1 are the workers' first starts: neither is a restart.
    assert!(
        log.iter().all(|(id, line)| *id >= 2 || line == "started"),
        "{log:?}"
    );
    within("the shutdown", system.shutdown(Duration::from_secs(1)))
        .await
        .unwrap();
}

/// Counts its starts, and panics in `started`.
struct FailsToStart(Arc<AtomicUsize>);

impl Actor for FailsToStart {
    type Msg = ();

    async fn started(&mut self, _: &mut Context<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("cannot start");
    }

    async fn handle(&mut self, (): (), _: &mut Context<Self>) {}
}

#[tokio::test(start_paused = true)]
async fn a_pool_counts_its_restarts_against_one_allowance() {
    let starts = Arc::new(AtomicUsize::new(0));
    let root = stage::supervisor()
        .name("system")
        .intensity(5, Duration::from_secs(60));
    let system = System::new(root);
    let pool = system
        .spawn(
            stage::actor("pool", {
                let starts = Arc::clone(&starts);
                move || FailsToStart(Arc::clone(&starts))
            })
            .pool(50),
        )
        .unwrap();
    assert!(matches!(
        within("the pool's end", pool.stopped()).await,
        ActorExit::Failed(_)
    ));
    let starts = starts.load(Ordering::SeqCst);
    // At most each worker's first start and the five restarts allowed to
    // the pool as a whole (not five per worker: 300 starts).
    assert!(starts <= 50 + 5, "{starts} starts");
    within("the shutdown", system.shutdown(Duration::from_secs(1)))
        .await
        .unwrap();
}

/// Counts, and answers with the count.
#[derive(Default)]
struct Counter(u64);

impl Actor for Counter {
    type Msg = Reply<u64>;

    async fn handle(&mut self, reply: Reply<u64>, _: &mut Context<Self>) {
        self.0 += 1;
        reply.send(self.0);
    }
}

#[test]
fn an_actor_spawned_from_another_runtime_runs_on_its_systems() {
    let home = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let system = home.block_on(async { stage::system() });
    let handle = system.handle();
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let counter =
        other.block_on(async move { handle.spawn(stage::actor("counter", Counter::default)) });
    drop(other); // its tasks go with it; the actor's are not among them
    home.block_on(async {
        let counter = counter.unwrap();
        assert_eq!(counter.ask(|r| r, Duration::from_secs(5)).await, Ok(1));
        assert_eq!(counter.exit(), None);
        system.shutdown(Duration::from_secs(1)).await.unwrap();
    });
}

/// A message whose `Drop` panics (the copy kept for redelivery is dropped
/// when the handler succeeds).
struct Bomb;

impl Clone for Bomb {
    fn clone(&self) -> Self {
        Bomb
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("bomb dropped");
        }
    }
}

enum Kept {
    Bomb(Bomb),
    Ping(Reply<u32>),
}

impl Clone for Kept {
    fn clone(&self) -> Self {
        match self {
            Self::Bomb(bomb) => Self::Bomb(bomb.clone()),
            Self::Ping(reply) => Self::Ping(reply.clone()),
        }
    }
}

struct Defuser(Arc<Mutex<Vec<Cause>>>);

impl Actor for Defuser {
    type Msg = Kept;

    async fn restarted(&mut self, why: &Restarted, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(why.cause().clone());
    }

    async fn handle(&mut self, msg: Kept, _: &mut Context<Self>) {
        match msg {
            Kept::Bomb(bomb) => std::mem::forget(bomb), // defused: this copy
            Kept::Ping(reply) => reply.send(1),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_kept_message_whose_drop_panics_fails_the_incarnation_as_a_panic() {
    let causes = Arc::new(Mutex::new(Vec::new()));
    let system = stage::system();
    let defuser = system
        .spawn(
            stage::actor("defuser", {
                let causes = Arc::clone(&causes);
                move || Defuser(Arc::clone(&causes))
            })
            .redeliver(3),
        )
        .unwrap();
    defuser.tell(Kept::Bomb(Bomb)).await.unwrap();
    assert_eq!(
        defuser.ask(Kept::Ping, Duration::from_secs(5)).await,
        Ok(1),
        "the actor goes on"
    );
    let causes = causes.lock().unwrap().clone();
    assert_eq!(
        causes,
        [Cause::Panicked(Some("bomb dropped".into()))],
        "a panic, not a kill"
    );
    within("the shutdown", system.shutdown(Duration::from_secs(1)))
        .await
        .unwrap();
}
