//! Actor behaviour, written once over any [`Runtime`]: stage-core runs
//! these on its virtual async-task runtime, the `stage` facade on tokio
//! with a paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stage::actor::{
    Actor, ActorExit, AskError, Builder, Context, LookupError, Reply, Restarted, SpawnError, System,
};
use stage::group::{Backoff, Restart};
use stage::mailbox::{DeadLetter, Receiver, Sender};
use stage::runtime::Runtime;
use stage::supervisor::{
    self, Child, ChildError, ChildExit, ChildKind, ChildState, StopMode, SupervisorError,
};

/// Invokes `$runner!` with the name of every scenario below.
macro_rules! all_actor_scenarios {
    ($runner:ident) => {
        $runner!(
            tells_and_asks_are_handled_in_order,
            an_ask_runs_out_of_time_with_a_typed_error,
            a_request_the_actor_crashes_on_fails_with_the_panic_and_the_rest_survive,
            a_redelivered_request_succeeds_or_is_dead_lettered_after_its_attempts,
            a_restart_resets_the_state_and_keeps_the_address_and_the_queue,
            hooks_run_in_order_and_a_restart_learns_why,
            stop_and_kill_do_not_queue_behind_a_full_mailbox,
            stopping_for_good_fails_the_queued_asks_and_later_tells,
            watchers_learn_how_an_actor_ended,
            an_actor_restarted_always_is_refused,
            an_abort_mid_request_fails_its_ask_and_a_dropped_port_says_so,
            the_snapshot_shows_an_actor_and_its_mailbox,
            a_panic_in_started_or_stopped_is_handled,
            spawned_actors_are_found_by_name_and_type,
            a_spawned_actor_restarts_itself_and_gives_up_past_its_intensity,
            system_shutdown_stops_spawned_actors_then_the_tree_under_one_deadline,
            dropping_the_system_aborts_its_spawned_actors,
            a_pool_shares_one_mailbox_among_its_workers,
            timers_and_streams_belong_to_their_incarnation,
            names_are_free_once_an_actor_has_ended_and_stay_their_owners,
            a_panic_in_a_redelivered_message_clone_is_a_panic,
            a_stop_with_no_incarnation_survives_a_message_whose_drop_panics,
            an_actor_that_panics_before_it_is_ready_fails_to_start,
            a_panic_while_stopping_is_reported_as_a_panic,
            a_kill_cuts_a_stuck_stopped_hook_short,
            a_spawned_actors_restarts_are_new_generations_restarted_at_once_after_work,
            a_request_put_back_when_its_actor_gives_up_fails_as_crashed,
            an_actor_watches_another_once_per_incarnation,
        );
    };
}
pub(crate) use all_actor_scenarios;

/// What the actor's hooks and handler did, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A counter that logs, and misbehaves when asked to.
struct Probe {
    count: u64,
    log: Log,
}

#[derive(Clone)]
enum Msg {
    Add(u64),
    Get(Reply<u64>),
    /// Panics on its first `n` deliveries, then answers the count.
    PanicTimes(u32, Reply<u64>),
    /// Waits for a message on the gate, then answers the count.
    Wait(Receiver<()>, Reply<u64>),
    /// Waits for a message on the gate.
    Block(Receiver<()>),
    /// Panics.
    Crash,
    /// Drops its reply unanswered.
    Ignore(Reply<u64>),
    /// Stops the actor for good from inside.
    StopMe,
    /// Answers the task it runs as (`stage::group::current()`).
    Me(Reply<Option<stage::group::TaskId>>),
}

impl Actor for Probe {
    type Msg = Msg;

    async fn started(&mut self, _ctx: &mut Context<Self>) {
        self.log.push("started");
    }

    async fn restarted(&mut self, why: &Restarted, _ctx: &mut Context<Self>) {
        self.log.push(format!(
            "restarted after {} on attempt {:?} (restart {})",
            why.cause(),
            why.attempt(),
            why.restarts()
        ));
    }

    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.log.push(format!("stopped at {}", self.count));
    }

    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Add(n) => self.count += n,
            Msg::Get(reply) => reply.send(self.count),
            Msg::PanicTimes(n, reply) => {
                if ctx.attempt() <= n {
                    panic!("attempt {} of {}", ctx.attempt(), n);
                }
                reply.send(self.count);
            }
            Msg::Wait(gate, reply) => {
                let _ = gate.recv().await;
                reply.send(self.count);
            }
            Msg::Block(gate) => {
                let _ = gate.recv().await;
            }
            Msg::Crash => panic!("crash"),
            Msg::Ignore(reply) => drop(reply),
            Msg::StopMe => ctx.stop(),
            Msg::Me(reply) => reply.send(stage::group::current()),
        }
    }
}

fn probe<R: Runtime>(rt: &R, name: &str, log: &Log) -> Builder<Probe, R> {
    let log = log.clone();
    Builder::new(rt.clone(), name, move || Probe {
        count: 0,
        log: log.clone(),
    })
}

/// A tree of one actor that restarts at once, as often as it fails.
fn tree_of<R: Runtime>(rt: &R, child: Child<R>) -> stage::supervisor::Supervisor<R> {
    supervisor::Builder::new(rt.clone())
        .name("app")
        .backoff(Backoff::none())
        .intensity(1_000, Duration::from_secs(1))
        .child(child)
        .spawn()
}

const SECOND: Duration = Duration::from_secs(1);

/// Lets the runtime run for a millisecond of its time.
async fn tick<R: Runtime>(clock: &R) {
    clock
        .sleep_until(clock.now() + Duration::from_millis(1))
        .await;
}

/// Sends `n` unit messages through a gate, waking that many `Wait`s.
fn open(gate: &Sender<()>, n: usize) {
    for _ in 0..n {
        gate.try_send(()).unwrap();
    }
}

pub(crate) async fn tells_and_asks_are_handled_in_order<R: Runtime>(rt: R) {
    let log = Log::default();
    let (probe, child) = probe(&rt, "probe", &log).child();
    let tree = tree_of(&rt, child);
    for n in 1..=100 {
        probe.tell(Msg::Add(n)).await.unwrap();
    }
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Ok(5050));
    probe.try_tell(Msg::Add(1)).unwrap();
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Ok(5051));

    // Many askers at once, each answered.
    let asks = (0..8).map(|_| {
        let probe = probe.clone();
        async move { probe.ask(Msg::Get, SECOND).await }
    });
    for answer in futures_util::future::join_all(asks).await {
        assert_eq!(answer, Ok(5051));
    }
    assert_eq!(probe.name(), "probe");
    tree.shutdown(SECOND).await.unwrap();
    assert_eq!(log.take(), ["started", "stopped at 5051"]);
}

pub(crate) async fn an_ask_runs_out_of_time_with_a_typed_error<R: Runtime>(rt: R) {
    let log = Log::default();
    let (probe, child) = probe(&rt, "probe", &log).child();
    let tree = tree_of(&rt, child);
    let (gate, waiting) = stage::mailbox::<()>(8);
    let start = rt.now();
    let late = probe
        .ask(
            |r| Msg::Wait(waiting.clone(), r),
            Duration::from_millis(250),
        )
        .await;
    assert_eq!(late, Err(AskError::TimedOut(Duration::from_millis(250))));
    assert_eq!(rt.now() - start, Duration::from_millis(250));
    assert_eq!(late.unwrap_err().to_string(), "no answer within 250ms");
    // The request is still handled; its answer goes nowhere. The actor
    // carries on.
    open(&gate, 1);
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Ok(0));

    // A full mailbox counts against the time too.
    let (stuck, child) = self::probe(&rt, "stuck", &log).capacity(1).child();
    tree.start_child(child).await.unwrap();
    stuck.tell(Msg::Block(waiting.clone())).await.unwrap();
    stuck.tell(Msg::Add(1)).await.unwrap(); // fills the mailbox
    let start = rt.now();
    let full = stuck.ask(Msg::Get, Duration::from_millis(100)).await;
    assert_eq!(full, Err(AskError::TimedOut(Duration::from_millis(100))));
    assert_eq!(rt.now() - start, Duration::from_millis(100));
    // Duration::MAX waits as long as it takes.
    let patient = stuck.ask(Msg::Get, Duration::MAX);
    let opener = async {
        tick(&rt).await;
        open(&gate, 1);
    };
    let (answer, ()) = futures_util::future::join(patient, opener).await;
    assert_eq!(answer, Ok(1));
    tree.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn a_request_the_actor_crashes_on_fails_with_the_panic_and_the_rest_survive<
    R: Runtime,
>(
    rt: R,
) {
    let log = Log::default();
    let (probe, child) = probe(&rt, "probe", &log).child();
    let tree = tree_of(&rt, child);
    let (gate, waiting) = stage::mailbox::<()>(8);
    probe.tell(Msg::Add(5)).await.unwrap();
    // Queue: a request that waits, one that crashes, and behind them
    // messages sent to the incarnation that will crash.
    let first = probe.ask(|r| Msg::Wait(waiting.clone(), r), SECOND);
    let crash = probe.ask(|r| Msg::PanicTimes(1, r), SECOND);
    let behind = async {
        tick(&rt).await; // the others are queued first
        probe.tell(Msg::Add(1)).await.unwrap();
        let after = probe.ask(Msg::Get, SECOND).await;
        (after, ())
    };
    let opener = async {
        tick(&rt).await;
        tick(&rt).await;
        open(&gate, 1);
    };
    let (first, crash, (after, ()), ()) =
        futures_util::future::join4(first, crash, behind, opener).await;
    assert_eq!(first, Ok(5));
    assert_eq!(
        crash,
        Err(AskError::Crashed {
            panic: Some("attempt 1 of 1".into()),
            attempts: 1
        })
    );
    // The next incarnation, fresh, handled what was queued behind.
    assert_eq!(after, Ok(1));
    let snapshot = tree.snapshot();
    let child = snapshot.find("app/probe").unwrap();
    assert_eq!(
        child.last_exit,
        Some(ChildExit::Panicked(Some("attempt 1 of 1".into())))
    );
    assert_eq!(child.restarts, 1);
    tree.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn a_redelivered_request_succeeds_or_is_dead_lettered_after_its_attempts<
    R: Runtime,
>(
    rt: R,
) {
    let log = Log::default();
    let dead = Arc::new(Mutex::new(Vec::<(u32, Option<String>)>::new()));
    let (probe, child) = probe(&rt, "probe", &log)
        .redeliver(3)
        .dead_letters({
            let dead = Arc::clone(&dead);
            move |letter: DeadLetter<Msg>| {
                let seen = (letter.attempts(), letter.last_panic().map(str::to_owned));
                dead.lock().unwrap().push(seen);
            }
        })
        .child();
    let tree = tree_of(&rt, child);
    probe.tell(Msg::Add(7)).await.unwrap();
    // Fails twice, then the third delivery answers: the asker sees only
    // the success. The state was reset by each restart.
    assert_eq!(probe.ask(|r| Msg::PanicTimes(2, r), SECOND).await, Ok(0));
    assert!(dead.lock().unwrap().is_empty());
    // Fails every attempt: dead-lettered, with its attempts and last panic.
    let gave_up = probe.ask(|r| Msg::PanicTimes(3, r), SECOND).await;
    assert_eq!(
        gave_up,
        Err(AskError::DeadLettered {
            attempts: 3,
            last_panic: Some("attempt 3 of 3".into())
        })
    );
    assert_eq!(
        *dead.lock().unwrap(),
        [(3, Some("attempt 3 of 3".to_owned()))]
    );
    assert_eq!(probe.mailbox_stats().dead_letters, 1);
    assert_eq!(probe.mailbox_stats().redeliveries, 5);
    // A kill mid-request counts as an attempt too, and the request is
    // handled again.
    let (gate, waiting) = stage::mailbox::<()>(8);
    let waited = probe.ask(|r| Msg::Wait(waiting.clone(), r), SECOND);
    let killer = async {
        tick(&rt).await;
        assert!(probe.kill());
        tick(&rt).await;
        open(&gate, 1);
    };
    let (waited, ()) = futures_util::future::join(waited, killer).await;
    assert_eq!(waited, Ok(0));
    assert_eq!(probe.mailbox_stats().redeliveries, 6);
    tree.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn a_restart_resets_the_state_and_keeps_the_address_and_the_queue<R: Runtime>(
    rt: R,
) {
    let log = Log::default();
    // Restarts after a backoff: messages sent meanwhile wait.
    let (probe, child) = probe(&rt, "probe", &log).child();
    let tree = supervisor::Builder::new(rt.clone())
        .backoff(
            Backoff::exponential(Duration::from_millis(100), Duration::from_millis(100))
                .free_restarts(0)
                .without_jitter(),
        )
        .child(child)
        .spawn();
    probe.tell(Msg::Add(3)).await.unwrap();
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Ok(3));
    probe.tell(Msg::Crash).await.unwrap();
    // Sent to the crashed actor while it waits to restart: kept.
    for _ in 0..10 {
        probe.tell(Msg::Add(1)).await.unwrap();
    }
    let start = rt.now();
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Ok(10));
    assert!(rt.now() - start >= Duration::from_millis(100));
    tree.shutdown(SECOND).await.unwrap();
    assert_eq!(
        log.take(),
        [
            "started",
            "stopped at 3",
            "restarted after panicked: crash on attempt Some(1) (restart 1)",
            "started",
            "stopped at 10"
        ]
    );
}

pub(crate) async fn hooks_run_in_order_and_a_restart_learns_why<R: Runtime>(rt: R) {
    let log = Log::default();
    let (probe, probe_child) = probe(&rt, "probe", &log).child();
    let (other, other_child) = self::probe(&rt, "other", &log).child();
    let tree = supervisor::Builder::new(rt.clone())
        .name("app")
        .strategy(supervisor::Strategy::OneForAll)
        .backoff(Backoff::none())
        .child(probe_child)
        .child(other_child)
        .spawn();
    tree.ready().await.unwrap();
    assert_eq!(log.take(), ["started", "started"]);
    // Killed: no `stopped`; the sibling is stopped by its supervisor.
    other.tell(Msg::Add(2)).await.unwrap();
    assert_eq!(other.ask(Msg::Get, SECOND).await, Ok(2));
    assert!(probe.kill());
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Ok(0));
    // The sibling was restarted too, with a fresh state.
    assert_eq!(other.ask(Msg::Get, SECOND).await, Ok(0));
    assert_eq!(
        log.take(),
        [
            "stopped at 2", // other, stopped by the supervisor
            "restarted after killed on attempt None (restart 1)",
            "started",
            "restarted after stopped by its supervisor on attempt None (restart 1)",
            "started",
        ]
    );
    let killed = tree.snapshot().find("app/probe").unwrap().last_exit.clone();
    assert_eq!(killed, Some(ChildExit::Killed));
    tree.shutdown(SECOND).await.unwrap();
    assert_eq!(log.take(), ["stopped at 0", "stopped at 0"]);
}

pub(crate) async fn stop_and_kill_do_not_queue_behind_a_full_mailbox<R: Runtime>(rt: R) {
    let log = Log::default();
    let (probe, child) = probe(&rt, "probe", &log).capacity(2).child();
    let tree = tree_of(&rt, child);
    let (gate, waiting) = stage::mailbox::<()>(8);
    tree.ready().await.unwrap();
    log.take();
    // Busy on a request, with a full mailbox behind it.
    let busy = probe.ask(|r| Msg::Wait(waiting.clone(), r), SECOND);
    let filler = async {
        tick(&rt).await;
        probe.try_tell(Msg::Add(1)).unwrap();
        probe.try_tell(Msg::Add(1)).unwrap();
        assert!(probe.try_tell(Msg::Add(1)).unwrap_err().is_full());
        assert!(probe.kill()); // not queued: the busy request is abandoned
    };
    let (busy, ()) = futures_util::future::join(busy, filler).await;
    assert_eq!(
        busy,
        Err(AskError::Crashed {
            panic: None,
            attempts: 1
        })
    );
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Ok(2));
    assert_eq!(
        log.take(),
        [
            "restarted after killed on attempt Some(1) (restart 1)",
            "started"
        ]
    );

    // Stopped with a full mailbox: the request in hand is finished, those
    // queued fail, and the stop did not wait for room.
    let busy = probe.ask(|r| Msg::Wait(waiting.clone(), r), SECOND);
    let queued = async {
        tick(&rt).await;
        let (second, third) =
            futures_util::future::join(probe.ask(Msg::Get, SECOND), probe.ask(Msg::Get, SECOND))
                .await;
        (second, third)
    };
    let stopper = async {
        tick(&rt).await;
        tick(&rt).await;
        assert_eq!(probe.len(), 2, "two asks wait behind the request in hand");
        probe.stop();
        open(&gate, 1);
    };
    let (busy, (second, third), ()) = futures_util::future::join3(busy, queued, stopper).await;
    assert_eq!(busy, Ok(2));
    assert_eq!(
        (second, third),
        (Err(AskError::Stopped), Err(AskError::Stopped))
    );
    assert_eq!(probe.stopped().await, ActorExit::Stopped);
    assert_eq!(log.take(), ["stopped at 2"]);
    tree.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn stopping_for_good_fails_the_queued_asks_and_later_tells<R: Runtime>(rt: R) {
    let log = Log::default();
    let (probe, child) = probe(&rt, "probe", &log).child();
    let tree = tree_of(&rt, child);
    probe.tell(Msg::Add(1)).await.unwrap();
    probe.tell(Msg::StopMe).await.unwrap();
    let after = probe.ask(Msg::Get, SECOND).await;
    assert_eq!(after, Err(AskError::Stopped));
    assert_eq!(probe.stopped().await, ActorExit::Stopped);
    assert!(probe.tell(Msg::Add(1)).await.unwrap_err().0.is_add());
    assert!(probe.try_tell(Msg::Add(1)).unwrap_err().is_closed());
    assert!(!probe.kill());
    let snapshot = tree.snapshot();
    let child = snapshot.find("app/probe").unwrap();
    assert_eq!(child.state, ChildState::Ended);
    assert_eq!(child.last_exit, Some(ChildExit::Returned));
    // Stopped for good stays stopped, even restarted by name.
    tree.restart_child("probe").await.unwrap();
    assert_eq!(probe.ask(Msg::Get, SECOND).await, Err(AskError::Stopped));
    tree.shutdown(SECOND).await.unwrap();
    assert_eq!(log.take(), ["started", "stopped at 1"]);

    // Stopped while no incarnation runs: it ends at once.
    let (idle, _child) = self::probe(&rt, "idle", &log).child();
    idle.try_tell(Msg::Add(1)).unwrap();
    let queued = idle.ask(Msg::Get, SECOND);
    let stopper = async {
        tick(&rt).await;
        idle.stop();
    };
    let (queued, ()) = futures_util::future::join(queued, stopper).await;
    assert_eq!(queued, Err(AskError::Stopped));
    assert_eq!(idle.exit(), Some(ActorExit::Stopped));
    assert!(idle.is_empty());
}

impl Msg {
    fn is_add(&self) -> bool {
        matches!(self, Msg::Add(_))
    }
}

pub(crate) async fn watchers_learn_how_an_actor_ended<R: Runtime>(rt: R) {
    let log = Log::default();
    let (temporary, child) = probe(&rt, "temporary", &log).child();
    let tree = tree_of(&rt, child.restart(Restart::Never));
    let watcher = {
        let temporary = temporary.clone();
        async move { temporary.stopped().await }
    };
    temporary.tell(Msg::Crash).await.unwrap();
    assert_eq!(watcher.await, ActorExit::Failed(Some("crash".into())));
    assert!(temporary.exit().unwrap().is_failure());
    assert_eq!(
        temporary.ask(Msg::Get, SECOND).await,
        Err(AskError::Stopped)
    );

    // Its supervisor ended: shut down.
    let (server, child) = self::probe(&rt, "server", &log).child();
    tree.start_child(child).await.unwrap();
    assert_eq!(server.exit(), None);
    tree.shutdown(SECOND).await.unwrap();
    assert_eq!(server.stopped().await, ActorExit::Shutdown);

    // Removed from its supervisor: shut down too; its queued asks fail.
    let (removed, child) = self::probe(&rt, "removed", &log).child();
    let tree = tree_of(&rt, child);
    tree.remove_child("removed").await.unwrap();
    assert_eq!(removed.stopped().await, ActorExit::Shutdown);
    assert_eq!(removed.ask(Msg::Get, SECOND).await, Err(AskError::Stopped));

    // Its supervisor gave up on it: failed.
    let (fragile, child) = self::probe(&rt, "fragile", &log).child();
    let tree = supervisor::Builder::new(rt.clone())
        .backoff(Backoff::none())
        .intensity(1, SECOND)
        .child(child)
        .spawn();
    for _ in 0..2 {
        fragile.tell(Msg::Crash).await.unwrap();
    }
    assert!(matches!(
        tree.join().await,
        Err(SupervisorError::GaveUp { .. })
    ));
    assert_eq!(
        fragile.stopped().await,
        ActorExit::Failed(Some("crash".into()))
    );
}

pub(crate) async fn an_actor_restarted_always_is_refused<R: Runtime>(rt: R) {
    let log = Log::default();
    let (_probe, child) = probe(&rt, "probe", &log).child();
    let refused = supervisor::Builder::new(rt.clone())
        .child(child.restart(Restart::Always))
        .spawn()
        .join()
        .await;
    match refused {
        Err(SupervisorError::InvalidChild { child, reason, .. }) => {
            assert_eq!(child, "probe");
            assert!(reason.contains("Restart::OnFailure"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(log.take().is_empty());
}

pub(crate) async fn an_abort_mid_request_fails_its_ask_and_a_dropped_port_says_so<R: Runtime>(
    rt: R,
) {
    let log = Log::default();
    let (probe, child) = probe(&rt, "probe", &log).child();
    let tree = tree_of(&rt, child.stop_mode(StopMode::Abort));
    assert_eq!(
        probe.ask(Msg::Ignore, SECOND).await,
        Err(AskError::Unanswered)
    );
    let (_gate, waiting) = stage::mailbox::<()>(8);
    let busy = probe.ask(|r| Msg::Wait(waiting.clone(), r), SECOND);
    let queued = async {
        tick(&rt).await;
        probe.ask(Msg::Get, SECOND).await
    };
    let stopper = async {
        tick(&rt).await;
        tick(&rt).await;
        tree.shutdown(SECOND).await.unwrap()
    };
    let (busy, queued, report) = futures_util::future::join3(busy, queued, stopper).await;
    assert_eq!(
        busy,
        Err(AskError::Crashed {
            panic: None,
            attempts: 1
        })
    );
    assert_eq!(queued, Err(AskError::Stopped));
    assert_eq!(report.children.len(), 1);
    assert_eq!(probe.exit(), Some(ActorExit::Shutdown));
}

pub(crate) async fn the_snapshot_shows_an_actor_and_its_mailbox<R: Runtime>(rt: R) {
    let log = Log::default();
    let (probe, child) = probe(&rt, "probe", &log).child();
    let tree = tree_of(&rt, child);
    let (gate, waiting) = stage::mailbox::<()>(8);
    let busy = probe.ask(|r| Msg::Wait(waiting.clone(), r), SECOND);
    let look = async {
        tick(&rt).await;
        for _ in 0..3 {
            probe.tell(Msg::Add(1)).await.unwrap();
        }
        let snapshot = tree.snapshot();
        let child = snapshot.find("app/probe").unwrap().clone();
        open(&gate, 1);
        child
    };
    let (_, child) = futures_util::future::join(busy, look).await;
    assert_eq!(child.kind, ChildKind::Actor);
    assert_eq!(child.mailbox, Some(3));
    assert_eq!(child.state, ChildState::Running);
    assert!(tree.snapshot().to_string().contains("probe"));
    tree.shutdown(SECOND).await.unwrap();
}

/// An actor whose hooks panic when told to.
struct Fragile {
    panic_in_started: bool,
    log: Log,
}

impl Actor for Fragile {
    type Msg = Reply<()>;

    async fn started(&mut self, _: &mut Context<Self>) {
        self.log.push("started");
        if self.panic_in_started {
            panic!("cannot start");
        }
    }

    async fn stopped(&mut self, _: &mut Context<Self>) {
        self.log.push("stopped");
        panic!("cannot stop cleanly");
    }

    async fn handle(&mut self, reply: Reply<()>, _: &mut Context<Self>) {
        reply.send(());
    }
}

pub(crate) async fn a_panic_in_started_or_stopped_is_handled<R: Runtime>(rt: R) {
    let log = Log::default();
    let starts = Arc::new(Mutex::new(0));
    let (fragile, child) = Builder::new(rt.clone(), "fragile", {
        let (log, starts) = (log.clone(), Arc::clone(&starts));
        move || {
            let mut starts = starts.lock().unwrap();
            *starts += 1;
            Fragile {
                panic_in_started: *starts == 1,
                log: log.clone(),
            }
        }
    })
    .child();
    let tree = tree_of(&rt, child);
    // The first start panicked (and `stopped` ran, and panicked: logged);
    // the second serves.
    assert_eq!(fragile.ask(|r| r, SECOND).await, Ok(()));
    assert_eq!(*starts.lock().unwrap(), 2);
    tree.shutdown(SECOND).await.unwrap();
    assert_eq!(log.take(), ["started", "stopped", "started", "stopped"]);
    assert_eq!(fragile.stopped().await, ActorExit::Shutdown);
}

/// A system whose root is named "system", restarting at once, allowing
/// `restarts` within a second.
fn system_of<R: Runtime>(rt: &R, restarts: u32) -> System<R> {
    System::new(
        supervisor::Builder::new(rt.clone())
            .name("system")
            .backoff(Backoff::none())
            .intensity(restarts, SECOND),
    )
}

pub(crate) async fn spawned_actors_are_found_by_name_and_type<R: Runtime>(rt: R) {
    let log = Log::default();
    let system = system_of(&rt, 5);
    let counter = system.spawn(probe(&rt, "counter", &log)).unwrap();
    counter.tell(Msg::Add(4)).await.unwrap();
    let found = system.lookup::<Probe>("counter").unwrap();
    assert_eq!(found.ask(Msg::Get, SECOND).await, Ok(4));
    assert_eq!(system.spawned(), 1);
    assert_eq!(found, counter);
    let snapshot = system.snapshot();
    let shown = snapshot.find("system/counter").unwrap();
    assert_eq!(
        (shown.kind, shown.state, shown.generation, shown.mailbox),
        (ChildKind::Actor, ChildState::Running, 1, Some(0))
    );
    assert!(snapshot.to_string().contains("counter"), "{snapshot}");

    let wrong = system.lookup::<Fragile>("counter").unwrap_err();
    assert!(matches!(&wrong, LookupError::WrongType { name, .. } if name == "counter"));
    assert!(wrong.to_string().contains("Probe"), "{wrong}");
    assert_eq!(
        system.lookup::<Probe>("nobody").unwrap_err(),
        LookupError::NotFound("nobody".into())
    );
    assert_eq!(
        system.spawn(probe(&rt, "counter", &log)).unwrap_err(),
        SpawnError::NameTaken("counter".into())
    );
    for bad in ["", "a/b"] {
        assert_eq!(
            system.spawn(probe(&rt, bad, &log)).unwrap_err(),
            SpawnError::InvalidName(bad.into())
        );
    }
    assert!(matches!(
        system.spawn(probe(&rt, "huge", &log).capacity(usize::MAX)),
        Err(SpawnError::Capacity(_))
    ));

    // Stopped for good: its name is free again.
    counter.stop();
    assert_eq!(counter.stopped().await, ActorExit::Stopped);
    assert_eq!(
        system.lookup::<Probe>("counter").unwrap_err(),
        LookupError::NotFound("counter".into())
    );
    assert_eq!(system.spawned(), 0);
    let again = system.spawn(probe(&rt, "counter", &log)).unwrap();
    assert_eq!(again.ask(Msg::Get, SECOND).await, Ok(0));

    // A tree's actor, registered, is found too, until it ends.
    let (db, child) = probe(&rt, "db", &log).child();
    system.start_child(child).await.unwrap();
    system.register(&db).unwrap();
    assert_eq!(
        system.register(&db).unwrap_err(),
        SpawnError::NameTaken("db".into())
    );
    assert!(system.lookup::<Probe>("db").is_ok());
    db.stop();
    db.stopped().await;
    assert!(system.lookup::<Probe>("db").is_err());
    system.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn a_spawned_actor_restarts_itself_and_gives_up_past_its_intensity<R: Runtime>(
    rt: R,
) {
    let log = Log::default();
    let system = system_of(&rt, 2);
    let fragile = system.spawn(probe(&rt, "fragile", &log)).unwrap();
    let steady = system.spawn(probe(&rt, "steady", &log)).unwrap();
    steady.tell(Msg::Add(1)).await.unwrap();
    fragile.tell(Msg::Add(5)).await.unwrap();
    let crashed = fragile.ask(|r| Msg::PanicTimes(1, r), SECOND).await;
    assert!(matches!(crashed, Err(AskError::Crashed { .. })));
    // Restarted, fresh, at the same address.
    assert_eq!(fragile.ask(Msg::Get, SECOND).await, Ok(0));
    fragile.tell(Msg::Crash).await.unwrap();
    fragile.tell(Msg::Crash).await.unwrap();
    // The third failure within a second is one too many: it gives up
    // alone; its queue is dropped, the others run on.
    assert_eq!(
        fragile.stopped().await,
        ActorExit::Failed(Some("crash".into()))
    );
    assert_eq!(fragile.ask(Msg::Get, SECOND).await, Err(AskError::Stopped));
    assert!(system.lookup::<Probe>("fragile").is_err());
    assert_eq!(steady.ask(Msg::Get, SECOND).await, Ok(1));
    assert_eq!(system.spawned(), 1);
    assert!(!system.root().is_ended());
    system.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn system_shutdown_stops_spawned_actors_then_the_tree_under_one_deadline<
    R: Runtime,
>(
    rt: R,
) {
    let log = Log::default();
    let (first, child) = probe(&rt, "first", &log).child();
    let system = System::new(
        supervisor::Builder::new(rt.clone())
            .name("system")
            .child(child),
    );
    let handle = system.handle();
    first.tell(Msg::Add(1)).await.unwrap();
    let second = system.spawn(probe(&rt, "second", &log)).unwrap();
    second.tell(Msg::Add(2)).await.unwrap();
    let third = system.spawn(probe(&rt, "third", &log)).unwrap();
    third.tell(Msg::Add(3)).await.unwrap();
    assert_eq!(third.ask(Msg::Get, SECOND).await, Ok(3));
    assert_eq!(second.ask(Msg::Get, SECOND).await, Ok(2));
    log.take();

    let report = system.shutdown(SECOND).await.unwrap();
    assert_eq!(log.take(), ["stopped at 3", "stopped at 2", "stopped at 1"]);
    let paths: Vec<_> = report.children.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["system/first", "system/second", "system/third"]);
    assert_eq!(report.aborted().count(), 0);
    assert_eq!(second.exit(), Some(ActorExit::Shutdown));
    assert_eq!(first.exit(), Some(ActorExit::Shutdown));
    assert_eq!(
        handle.spawn(probe(&rt, "late", &log)).unwrap_err(),
        SpawnError::Shutdown
    );

    // An actor stuck in a message is aborted at the deadline; its ask
    // fails.
    let system = system_of(&rt, 5);
    let stuck = system.spawn(probe(&rt, "stuck", &log)).unwrap();
    let (_gate, waiting) = stage::mailbox::<()>(1);
    let asked = stuck.ask(|r| Msg::Wait(waiting.clone(), r), Duration::MAX);
    let stopper = async {
        tick(&rt).await;
        let start = rt.now();
        let report = system.shutdown(Duration::from_millis(100)).await.unwrap();
        (report, rt.now() - start)
    };
    let (asked, (report, took)) = futures_util::future::join(asked, stopper).await;
    assert_eq!(
        asked,
        Err(AskError::Crashed {
            panic: None,
            attempts: 1
        })
    );
    assert_eq!(took, Duration::from_millis(100));
    assert_eq!(report.aborted().count(), 1);
    assert_eq!(stuck.exit(), Some(ActorExit::Shutdown));
}

pub(crate) async fn dropping_the_system_aborts_its_spawned_actors<R: Runtime>(rt: R) {
    let log = Log::default();
    let system = system_of(&rt, 5);
    let handle = system.handle();
    let (_gate, waiting) = stage::mailbox::<()>(1);
    let actor = system.spawn(probe(&rt, "actor", &log)).unwrap();
    actor.tell(Msg::Block(waiting)).await.unwrap();
    tick(&rt).await;
    drop(system);
    assert_eq!(actor.stopped().await, ActorExit::Shutdown);
    assert_eq!(handle.spawned(), 0);
    assert_eq!(
        handle.spawn(probe(&rt, "late", &log)).unwrap_err(),
        SpawnError::Shutdown
    );
    assert!(handle.lookup::<Probe>("actor").is_err());
}

pub(crate) async fn a_pool_shares_one_mailbox_among_its_workers<R: Runtime>(rt: R) {
    let log = Log::default();
    let (pool, child) = probe(&rt, "pool", &log).pool(3).child();
    let tree = tree_of(&rt, child);
    let (gate, waiting) = stage::mailbox::<()>(8);
    // Three requests in hand at once, one per worker; a fourth waits.
    let busy = (0..3).map(|_| pool.ask(|r| Msg::Wait(waiting.clone(), r), SECOND));
    let busy = futures_util::future::join_all(busy);
    let look = async {
        tick(&rt).await;
        let snapshot = tree.snapshot();
        let child = snapshot.find("app/pool").unwrap().clone();
        assert_eq!(pool.len(), 0, "every request is in a worker's hands");
        open(&gate, 3);
        child
    };
    let (answers, child) = futures_util::future::join(busy, look).await;
    assert_eq!(answers, [Ok(0), Ok(0), Ok(0)]);
    assert_eq!(child.kind, ChildKind::ActorPool);
    assert_eq!(child.running_tasks, 3);
    assert_eq!(log.take(), ["started", "started", "started"]);

    // A worker that crashes is restarted alone; the pool serves on.
    let crashed = pool.ask(|r| Msg::PanicTimes(1, r), SECOND).await;
    assert!(matches!(crashed, Err(AskError::Crashed { .. })));
    assert_eq!(pool.ask(Msg::Get, SECOND).await, Ok(0));
    assert_eq!(
        log.take(),
        [
            "stopped at 0",
            "restarted after panicked: attempt 1 of 1 on attempt Some(1) (restart 1)",
            "started"
        ]
    );
    // A kill reaches every worker, not queued.
    assert!(pool.kill());
    assert_eq!(pool.ask(Msg::Get, SECOND).await, Ok(0));

    // Stopped for good: every worker's `stopped` has run when the watcher
    // hears of it.
    log.take();
    pool.stop();
    assert_eq!(pool.stopped().await, ActorExit::Stopped);
    assert_eq!(log.take().len(), 3);
    assert_eq!(pool.ask(Msg::Get, SECOND).await, Err(AskError::Stopped));
    tree.shutdown(SECOND).await.unwrap();

    // Spawned in a system, too.
    let system = system_of(&rt, 5);
    let spawned = system.spawn(probe(&rt, "spawned", &log).pool(2)).unwrap();
    assert_eq!(spawned.ask(Msg::Get, SECOND).await, Ok(0));
    spawned.tell(Msg::Crash).await.unwrap();
    assert_eq!(spawned.ask(Msg::Get, SECOND).await, Ok(0));
    let report = system.shutdown(SECOND).await.unwrap();
    assert_eq!(report.children.len(), 1);
    assert_eq!(report.children[0].generation, 2, "one restart");
    assert_eq!(spawned.exit(), Some(ActorExit::Shutdown));
}

/// An actor with a clock: ticks every 100 ms from its start, and sets or
/// cancels timers on request.
struct Ticker {
    ticks: u64,
    fed: Vec<u64>,
    log: Log,
}

enum TickMsg {
    Tick,
    Fed(u64),
    Get(Reply<(u64, Vec<u64>)>),
    After(Duration, u64),
    AfterCancelled(Duration, u64, Reply<bool>),
    Fired(u64),
    Crash,
}

impl Actor for Ticker {
    type Msg = TickMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.send_interval(Duration::from_millis(100), || TickMsg::Tick);
        ctx.add_stream(futures_util::stream::iter(1..=5), TickMsg::Fed);
    }

    async fn handle(&mut self, msg: TickMsg, ctx: &mut Context<Self>) {
        match msg {
            TickMsg::Tick => {
                self.ticks += 1;
                self.log.push("tick");
            }
            TickMsg::Fed(n) => self.fed.push(n),
            TickMsg::Get(reply) => reply.send((self.ticks, self.fed.clone())),
            TickMsg::After(delay, n) => {
                ctx.send_after(delay, TickMsg::Fired(n));
            }
            TickMsg::AfterCancelled(delay, n, reply) => {
                let timer = ctx.send_after(delay, TickMsg::Fired(n));
                reply.send(ctx.cancel(timer));
            }
            TickMsg::Fired(n) => self.log.push(format!("fired {n}")),
            TickMsg::Crash => panic!("crash"),
        }
    }
}

/// Lets `rt` run until `at` after `start`.
async fn until<R: Runtime>(rt: &R, start: std::time::Instant, at: Duration) {
    rt.sleep_until(start + at).await;
}

pub(crate) async fn timers_and_streams_belong_to_their_incarnation<R: Runtime>(rt: R) {
    let log = Log::default();
    let (ticker, child) = Builder::new(rt.clone(), "ticker", {
        let log = log.clone();
        move || Ticker {
            ticks: 0,
            fed: Vec::new(),
            log: log.clone(),
        }
    })
    .child();
    let tree = tree_of(&rt, child);
    tree.ready().await.unwrap();
    let start = rt.now();
    until(&rt, start, Duration::from_millis(1_050)).await;
    assert_eq!(
        ticker.ask(TickMsg::Get, SECOND).await,
        Ok((10, vec![1, 2, 3, 4, 5]))
    );

    // A restart does not double the interval: the old one ended with its
    // incarnation, and the new one ticks from the restart. The stream is
    // fed anew by the new incarnation's `started`.
    ticker.tell(TickMsg::Crash).await.unwrap();
    let (ticks, _) = ticker.ask(TickMsg::Get, SECOND).await.unwrap();
    assert_eq!(ticks, 0);
    log.take();
    until(&rt, start, Duration::from_millis(2_100)).await;
    assert_eq!(log.take(), vec!["tick"; 10]);
    assert_eq!(
        ticker.ask(TickMsg::Get, SECOND).await,
        Ok((10, vec![1, 2, 3, 4, 5]))
    );

    // Timers fire in the order of their deadlines; a cancelled one never.
    ticker
        .tell(TickMsg::After(Duration::from_millis(30), 1))
        .await
        .unwrap();
    ticker
        .tell(TickMsg::After(Duration::from_millis(20), 2))
        .await
        .unwrap();
    let cancelled = ticker
        .ask(
            |r| TickMsg::AfterCancelled(Duration::from_millis(10), 3, r),
            SECOND,
        )
        .await;
    assert_eq!(cancelled, Ok(true));
    until(&rt, start, Duration::from_millis(2_150)).await;
    let fired: Vec<_> = log.take().into_iter().filter(|l| l != "tick").collect();
    assert_eq!(fired, ["fired 2", "fired 1"]);

    // A timer set by an incarnation that then fails is not delivered.
    ticker
        .tell(TickMsg::After(Duration::from_millis(50), 4))
        .await
        .unwrap();
    ticker.tell(TickMsg::Crash).await.unwrap();
    until(&rt, start, Duration::from_millis(2_300)).await;
    assert!(!log.take().contains(&"fired 4".to_owned()));
    tree.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn names_are_free_once_an_actor_has_ended_and_stay_their_owners<R: Runtime>(
    rt: R,
) {
    let log = Log::default();
    let system = system_of(&rt, 5);
    // A name is free as soon as its actor is reported ended; the actor is
    // gone then, from the count and the report too, though its task (never
    // run: stopped at once) has not ended yet.
    for _ in 0..50 {
        let actor = system.spawn(probe(&rt, "x", &log)).unwrap();
        actor.stop();
        assert_eq!(actor.stopped().await, ActorExit::Stopped);
        assert_eq!(system.spawned(), 0);
        assert!(system.snapshot().find("system/x").is_none());
    }
    let report = system.shutdown(SECOND).await.unwrap();
    assert!(report.children.is_empty(), "{report:?}");

    // An old actor's end does not take the name from its new owner.
    let system = System::new(
        supervisor::Builder::new(rt.clone()).name("system").backoff(
            Backoff::exponential(Duration::from_millis(500), Duration::from_millis(500))
                .free_restarts(0)
                .without_jitter(),
        ),
    );
    let old = system.spawn(probe(&rt, "x", &log)).unwrap();
    old.tell(Msg::Crash).await.unwrap();
    tick(&rt).await; // crashed: backing off for 500 ms
    old.stop();
    assert_eq!(old.stopped().await, ActorExit::Stopped);
    let (new, child) = probe(&rt, "x", &log).child();
    system.start_child(child).await.unwrap();
    system.register(&new).unwrap();
    let start = rt.now();
    until(&rt, start, Duration::from_millis(700)).await; // the old task ends
    assert_eq!(system.lookup::<Probe>("x").unwrap(), new);
    assert_eq!(
        system.register(&new).unwrap_err(),
        SpawnError::NameTaken("x".into())
    );
    let (odd, _child) = probe(&rt, "a/b", &log).child();
    assert_eq!(
        system.register(&odd).unwrap_err(),
        SpawnError::InvalidName("a/b".into())
    );
    system.shutdown(SECOND).await.unwrap();
}

/// A message whose `clone` panics on its first use, for redelivery.
struct Touchy {
    clones: Arc<std::sync::atomic::AtomicU32>,
    reply: Reply<u32>,
}

impl Clone for Touchy {
    fn clone(&self) -> Self {
        let clones = self
            .clones
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if clones == 1 {
            panic!("cannot clone");
        }
        Self {
            clones: Arc::clone(&self.clones),
            reply: self.reply.clone(),
        }
    }
}

struct Cloned {
    log: Log,
}

impl Actor for Cloned {
    type Msg = Touchy;

    async fn restarted(&mut self, why: &Restarted, _: &mut Context<Self>) {
        self.log.push(format!(
            "restarted after {} on attempt {:?}",
            why.cause(),
            why.attempt()
        ));
    }

    async fn stopped(&mut self, _: &mut Context<Self>) {
        self.log.push("stopped");
    }

    async fn handle(&mut self, msg: Touchy, ctx: &mut Context<Self>) {
        msg.reply.send(ctx.attempt());
    }
}

pub(crate) async fn a_panic_in_a_redelivered_message_clone_is_a_panic<R: Runtime>(rt: R) {
    let log = Log::default();
    let (cloned, child) = Builder::new(rt.clone(), "cloned", {
        let log = log.clone();
        move || Cloned { log: log.clone() }
    })
    .redeliver(3)
    .child();
    let tree = tree_of(&rt, child);
    let clones = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let answer = cloned
        .ask(
            |reply| Touchy {
                clones: Arc::clone(&clones),
                reply,
            },
            SECOND,
        )
        .await;
    assert_eq!(answer, Ok(2), "the second attempt handles it");
    assert_eq!(
        log.take(),
        [
            "stopped",
            "restarted after panicked: cannot clone on attempt Some(1)"
        ]
    );
    tree.shutdown(SECOND).await.unwrap();
}

/// A message whose `Drop` panics.
struct Grenade;

impl Drop for Grenade {
    fn drop(&mut self) {
        panic!("boom");
    }
}

struct Holder;

impl Actor for Holder {
    type Msg = (Option<Grenade>, Option<Reply<()>>);

    async fn handle(&mut self, _: Self::Msg, _: &mut Context<Self>) {}
}

pub(crate) async fn a_stop_with_no_incarnation_survives_a_message_whose_drop_panics<R: Runtime>(
    rt: R,
) {
    // Never started: the stop drains the mailbox in its caller.
    let (holder, _child) = Builder::new(rt.clone(), "holder", || Holder).child();
    holder.try_tell((Some(Grenade), None)).unwrap();
    let asked = holder.ask(|r| (None, Some(r)), SECOND);
    let stopper = async {
        tick(&rt).await;
        holder.stop(); // does not panic here
    };
    let (asked, ()) = futures_util::future::join(asked, stopper).await;
    assert_eq!(asked, Err(AskError::Stopped));
    assert_eq!(holder.exit(), Some(ActorExit::Stopped));
    assert!(holder.is_empty());
}

/// An actor whose `started` panics (on its first start only, or always),
/// or whose `stopped` never returns.
struct Moody {
    starts: Arc<std::sync::atomic::AtomicU32>,
    always: bool,
    stuck_stopping: bool,
}

enum MoodyMsg {
    Get(Reply<u32>),
    /// Waits on the gate, then panics: a panic the supervisor sees while it
    /// stops the actor.
    LatePanic(Receiver<()>),
    Crash,
}

impl Actor for Moody {
    type Msg = MoodyMsg;

    async fn started(&mut self, _: &mut Context<Self>) {
        let n = self
            .starts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if self.always || n == 1 {
            panic!("cannot start");
        }
    }

    async fn stopped(&mut self, _: &mut Context<Self>) {
        if self.stuck_stopping {
            core::future::pending::<()>().await;
        }
    }

    async fn handle(&mut self, msg: MoodyMsg, _: &mut Context<Self>) {
        match msg {
            MoodyMsg::Get(reply) => {
                reply.send(self.starts.load(std::sync::atomic::Ordering::SeqCst));
            }
            MoodyMsg::LatePanic(gate) => {
                let _ = gate.recv().await;
                panic!("late boom");
            }
            MoodyMsg::Crash => panic!("crash"),
        }
    }
}

fn moody<R: Runtime>(rt: &R, name: &str, always: bool, stuck_stopping: bool) -> Builder<Moody, R> {
    let starts = Arc::new(std::sync::atomic::AtomicU32::new(0));
    Builder::new(rt.clone(), name, move || Moody {
        starts: Arc::clone(&starts),
        always,
        stuck_stopping,
    })
}

pub(crate) async fn an_actor_that_panics_before_it_is_ready_fails_to_start<R: Runtime>(rt: R) {
    let tree = tree_of(
        &rt,
        Child::worker("idle", |stop| async move { stop.requested().await }),
    );
    tree.ready().await.unwrap();
    let (_db, child) = moody(&rt, "db", true, false).child();
    match tree.start_child(child).await {
        Err(ChildError::StartFailed { path, exit }) => {
            assert_eq!(path, "app/db");
            assert_eq!(exit, ChildExit::Panicked(Some("cannot start".into())));
        }
        other => panic!("{other:?}"),
    }
    assert!(tree.snapshot().find("app/db").is_none(), "removed again");

    // In a tree's start, the next child waits for one that is not ready.
    let (first, first_child) = moody(&rt, "first", false, false).child();
    let (second, second_child) = probe(&rt, "second", &Log::default()).child();
    let tree = supervisor::Builder::new(rt.clone())
        .name("app")
        .backoff(Backoff::none())
        .child(first_child)
        .child(second_child)
        .spawn();
    tree.ready().await.unwrap();
    // `first` failed its first start and was restarted before `second`
    // started: both run now.
    assert_eq!(first.ask(MoodyMsg::Get, SECOND).await, Ok(2));
    assert_eq!(second.ask(Msg::Get, SECOND).await, Ok(0));
    let shown = tree.snapshot();
    let first = shown.find("app/first").unwrap();
    assert_eq!(
        first.last_exit,
        Some(ChildExit::Panicked(Some("cannot start".into())))
    );
    tree.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn a_panic_while_stopping_is_reported_as_a_panic<R: Runtime>(rt: R) {
    let (actor, child) = moody(&rt, "late", false, false).child();
    let tree = tree_of(&rt, child);
    tree.ready().await.unwrap(); // its first start failed; the second runs
    actor.tell(MoodyMsg::Crash).await.unwrap();
    assert_eq!(actor.ask(MoodyMsg::Get, SECOND).await, Ok(3));
    let shown = tree.snapshot();
    assert_eq!(
        shown.find("app/late").unwrap().last_exit,
        Some(ChildExit::Panicked(Some("crash".into())))
    );
    // A panic while the supervisor stops it: the report says so.
    let (gate, waiting) = stage::mailbox::<()>(1);
    actor.tell(MoodyMsg::LatePanic(waiting)).await.unwrap();
    let stopping = tree.shutdown(SECOND);
    let opener = async {
        tick(&rt).await;
        open(&gate, 1);
    };
    let (report, ()) = futures_util::future::join(stopping, opener).await;
    let late = &report.unwrap().children[0];
    assert_eq!(late.exit, ChildExit::Panicked(Some("late boom".into())));
}

pub(crate) async fn a_kill_cuts_a_stuck_stopped_hook_short<R: Runtime>(rt: R) {
    let (actor, child) = moody(&rt, "stuck", false, true).child();
    let tree = tree_of(&rt, child);
    tree.ready().await.unwrap();
    // A crash: `stopped` runs, and never returns...
    actor.tell(MoodyMsg::Crash).await.unwrap();
    tick(&rt).await;
    // ...until a kill cuts it short: the actor is restarted.
    assert!(actor.kill());
    assert_eq!(actor.ask(MoodyMsg::Get, SECOND).await, Ok(3));
    tree.stop().await.unwrap();
}

pub(crate) async fn a_spawned_actors_restarts_are_new_generations_restarted_at_once_after_work<
    R: Runtime,
>(
    rt: R,
) {
    let log = Log::default();
    // A backoff that grows from a second: a crash loop would show.
    let system = System::new(
        supervisor::Builder::new(rt.clone())
            .name("system")
            .backoff(Backoff::exponential(SECOND, Duration::from_secs(60)))
            .intensity(100, Duration::from_secs(3600)),
    );
    let worker = system.spawn(probe(&rt, "worker", &log)).unwrap();
    let start = rt.now();
    for generation in 1..=5 {
        // Each start is a task generation of its own, as a tree's child's.
        let me = worker.ask(Msg::Me, SECOND).await.unwrap().unwrap();
        assert_eq!((me.group(), me.index()), ("system/worker", 0));
        assert_eq!(me.generation(), generation);
        worker.tell(Msg::Crash).await.unwrap();
    }
    // It handled a message before each crash: no backoff at all.
    assert_eq!(worker.ask(Msg::Get, SECOND).await, Ok(0));
    assert_eq!(rt.now().saturating_duration_since(start), Duration::ZERO);
    // Crashes with no work done since the restart are a crash loop: past
    // the backoff's free restarts, they are backed off (half a second at
    // least, its first delay of a second jittered).
    for _ in 0..5 {
        worker.tell(Msg::Crash).await.unwrap();
    }
    let minute = Duration::from_secs(60);
    assert_eq!(worker.ask(Msg::Get, minute).await, Ok(0));
    assert!(rt.now().saturating_duration_since(start) >= SECOND / 2);
    let me = worker.ask(Msg::Me, SECOND).await.unwrap().unwrap();
    assert_eq!(me.generation(), 11);
    system.shutdown(SECOND).await.unwrap();
}

pub(crate) async fn a_request_put_back_when_its_actor_gives_up_fails_as_crashed<R: Runtime>(rt: R) {
    let log = Log::default();
    // Two restarts allowed: fewer than the request's ten attempts.
    let system = system_of(&rt, 2);
    let poisoned = system
        .spawn(probe(&rt, "poisoned", &log).redeliver(10))
        .unwrap();
    // The poisoned request is put back first after each crash, until the
    // actor gives up with it (and the request behind it) in its mailbox.
    let poison = poisoned.ask(|r| Msg::PanicTimes(100, r), SECOND);
    let behind = poisoned.ask(Msg::Get, SECOND);
    let (crashed, behind) = futures_util::future::join(poison, behind).await;
    assert_eq!(
        crashed,
        Err(AskError::Crashed {
            panic: Some("attempt 3 of 100".into()),
            attempts: 3,
        })
    );
    // Never handled: stopped, as before.
    assert_eq!(behind, Err(AskError::Stopped));
    assert_eq!(
        poisoned.stopped().await,
        ActorExit::Failed(Some("attempt 3 of 100".into()))
    );
    system.shutdown(SECOND).await.unwrap();
}

/// What `log` says once it says something (within 100 ms of the runtime's
/// time), and a millisecond more, for what would come right after.
async fn logged<R: Runtime>(rt: &R, log: &Log) -> Vec<String> {
    for _ in 0..100 {
        if !log.0.lock().unwrap().is_empty() {
            break;
        }
        tick(rt).await;
    }
    tick(rt).await;
    log.take()
}

/// Watches an actor from inside, in every incarnation (`Context::watch`).
struct Watcher {
    target: stage::actor::Addr<Probe>,
    log: Log,
}

enum WatcherMsg {
    Gone(ActorExit),
    Crash,
}

impl Actor for Watcher {
    type Msg = WatcherMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.watch(&self.target, WatcherMsg::Gone);
    }

    async fn handle(&mut self, msg: WatcherMsg, _ctx: &mut Context<Self>) {
        match msg {
            WatcherMsg::Gone(exit) => self.log.push(format!("gone: {exit}")),
            WatcherMsg::Crash => panic!("watcher crash"),
        }
    }
}

pub(crate) async fn an_actor_watches_another_once_per_incarnation<R: Runtime>(rt: R) {
    let log = Log::default();
    let (target, target_child) = probe(&rt, "target", &Log::default()).child();
    let watcher = {
        let (target, log) = (target.clone(), log.clone());
        Builder::new(rt.clone(), "watcher", move || Watcher {
            target: target.clone(),
            log: log.clone(),
        })
    };
    let (watcher, watcher_child) = watcher.child();
    let tree = supervisor::Builder::new(rt.clone())
        .name("app")
        .backoff(Backoff::none())
        .child(target_child)
        .child(watcher_child)
        .spawn();
    tree.ready().await.unwrap();
    // A restart ends the old incarnation's watch; the new one watches anew.
    watcher.tell(WatcherMsg::Crash).await.unwrap();
    tick(&rt).await;
    target.stop();
    assert_eq!(target.stopped().await, ActorExit::Stopped);
    assert_eq!(
        logged(&rt, &log).await,
        ["gone: stopped"],
        "one watch, one message"
    );
    // Watching an actor that has ended already: at once.
    watcher.tell(WatcherMsg::Crash).await.unwrap();
    assert_eq!(logged(&rt, &log).await, ["gone: stopped"]);
    tree.stop().await.unwrap();
}
