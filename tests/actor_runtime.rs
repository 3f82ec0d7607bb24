//! Actors and the tokio runtime around them: asks from threads outside any
//! runtime, a runtime dropped under a system, and pools large enough that
//! anything quadratic in their size would show.

use std::time::{Duration, Instant};

use stage::actor::{Actor, ActorExit, AskError, Context, Reply};

struct Echo;

impl Actor for Echo {
    type Msg = (u64, Reply<u64>);

    async fn handle(&mut self, (n, reply): Self::Msg, _: &mut Context<Self>) {
        reply.send(n);
    }
}

/// Answers after a while, or never.
struct Slow;

impl Actor for Slow {
    type Msg = (Duration, Reply<()>);

    async fn handle(&mut self, (delay, reply): Self::Msg, _: &mut Context<Self>) {
        tokio::time::sleep(delay).await;
        reply.send(());
    }
}

#[test]
fn asks_with_a_time_limit_work_from_threads_outside_any_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (system, echo, slow) = runtime.block_on(async {
        let system = stage::system();
        let echo = system.spawn(stage::actor("echo", || Echo)).unwrap();
        let slow = system.spawn(stage::actor("slow", || Slow)).unwrap();
        (system, echo, slow)
    });
    // A plain thread, no runtime: the timeouts sleep on the actors' runtime.
    let answers = std::thread::spawn(move || {
        futures_executor_block_on(Box::pin(async move {
            let n = echo.ask(|r| (7, r), Duration::from_secs(5)).await;
            let late = slow
                .ask(|r| (Duration::from_secs(60), r), Duration::from_millis(20))
                .await;
            (n, late)
        }))
    })
    .join()
    .unwrap();
    assert_eq!(answers.0, Ok(7));
    assert_eq!(
        answers.1,
        Err(AskError::TimedOut(Duration::from_millis(20)))
    );
    runtime.block_on(system.shutdown(Duration::ZERO)).unwrap();
}

/// Blocks the calling thread on `future` (a minimal executor: the test must
/// not lean on a runtime of its own).
fn futures_executor_block_on<T>(
    future: std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>,
) -> T {
    use std::sync::{Arc, Condvar, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    struct Signal(Mutex<bool>, Condvar);
    impl Wake for Signal {
        fn wake(self: Arc<Self>) {
            *self.0.lock().unwrap() = true;
            self.1.notify_one();
        }
    }
    let signal = Arc::new(Signal(Mutex::new(false), Condvar::new()));
    let waker = Waker::from(Arc::clone(&signal));
    let mut cx = Context::from_waker(&waker);
    let mut future = future;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        let mut woken = signal.0.lock().unwrap();
        while !*woken {
            woken = signal.1.wait(woken).unwrap();
        }
        *woken = false;
    }
}

#[test]
fn a_runtime_dropped_under_a_system_leaves_no_wait_hanging() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (system, slow) = runtime.block_on(async {
        let system = stage::system();
        let slow = system.spawn(stage::actor("slow", || Slow)).unwrap();
        (system, slow)
    });
    let asker = {
        let slow = slow.clone();
        std::thread::spawn(move || {
            futures_executor_block_on(Box::pin(async move {
                slow.ask(|r| (Duration::from_secs(3600), r), Duration::MAX)
                    .await
            }))
        })
    };
    drop(runtime);
    // In the actor's hands when the runtime went: crashed (aborted); still
    // queued: stopped. Never a hang.
    let answer = asker.join().unwrap();
    assert!(
        matches!(
            answer,
            Err(AskError::Crashed { panic: None, .. } | AskError::Stopped)
        ),
        "{answer:?}"
    );
    assert_eq!(slow.exit(), Some(ActorExit::Shutdown));
    drop(system);
}

// On current_thread: there a task that has ended is released before its
// joiner runs again, so the count of alive tasks is exact (on a
// multi-thread runtime a worker may release it a moment later).
#[tokio::test(flavor = "current_thread")]
async fn a_pool_of_thousands_shuts_down_in_linear_time() {
    const WORKERS: usize = 30_000;
    let system = stage::system();
    let pool = system
        .spawn(stage::actor("pool", || Echo).pool(WORKERS))
        .unwrap();
    assert_eq!(pool.ask(|r| (1, r), Duration::from_secs(30)).await, Ok(1));
    let start = Instant::now();
    let report = system.shutdown(Duration::from_secs(30)).await.unwrap();
    let took = start.elapsed();
    assert_eq!(report.children.len(), 1);
    assert_eq!(report.aborted().count(), 0);
    assert_eq!(pool.exit(), Some(ActorExit::Shutdown));
    // Quadratic bookkeeping took 13 s here; linear takes well under one.
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        0
    );
}

#[test]
fn an_actor_built_on_a_runtime_since_dropped_still_times_its_asks() {
    // Built on runtime A, supervised on runtime B; A goes away.
    let a = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (actor, echo) =
        a.block_on(async { (stage::actor("slow", || Slow), stage::actor("echo", || Echo)) });
    drop(a);
    let b = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    b.block_on(async {
        let system = stage::system();
        let slow = system.spawn(actor).unwrap();
        // Asked from B's tasks: B's timer.
        let late = slow
            .ask(|r| (Duration::from_secs(60), r), Duration::from_millis(20))
            .await;
        assert_eq!(late, Err(AskError::TimedOut(Duration::from_millis(20))));
        let echo = system.spawn(echo).unwrap();
        assert_eq!(echo.ask(|r| (3, r), Duration::from_secs(5)).await, Ok(3));
        system.shutdown(Duration::ZERO).await.unwrap();
    });
}
