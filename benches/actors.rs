//! stage's actors against their peers, each scenario one criterion group
//! whose functions are the peers, so that every figure is a ratio from the
//! same run.
//!
//! The actor is a counter everywhere: `Add(u64)` adds, `Get` answers the
//! total (a u64), `Crash` panics in the handler. The peers:
//!
//! - `hand-written`: a tokio task owning the total, fed by a bounded
//!   `tokio::sync::mpsc` channel of 64, answering through a
//!   `tokio::sync::oneshot`; the messages one enum. The floor: no library.
//! - `stage`: an `Actor` with one enum message and `Reply<u64>` ports, a
//!   child of a supervision tree (no backoff, an intensity of 1,000,000
//!   restarts a second); mailbox of 64 (also its default).
//! - `ractor` (0.16): one enum message with `RpcReplyPort`s, `cast` and
//!   `call`. Its mailbox is unbounded, always (no setting): `cast` never
//!   waits, and each message is boxed.
//! - `kameo` (0.22): a `Message<M>` impl per message type (`Add`, `Get`,
//!   `Crash`, boxed as a dyn message), `tell` and `ask`; a bounded mailbox
//!   of 64 (also its default), `tell` waits for room.
//! - `actix-own-system-1-thread` (0.13): a `Handler<M>` per message type,
//!   on its own `actix::System` (a single-threaded runtime of its own: it
//!   cannot run on ours), so only in the current_thread groups. Its mailbox
//!   is set to 64 (default 16), but that bounds only `send`/`try_send`:
//!   its tell, `do_send`, ignores the capacity and never waits. Its ask is
//!   `send`.
//!
//! Every ask carries a deadline of [`HANG`], each library's own way (stage's
//! ask always takes one; `tokio::time::timeout` for the hand-written one,
//! `call(.., Some(HANG))`, `reply_timeout`, `Request::timeout`). Every wait
//! of the bench itself is bounded by [`HANG`] too: a lost wakeup fails
//! loudly instead of hanging. Each batch checks its answers (the total after
//! the tells, the fresh state after a restart), so nothing is skipped.
//!
//! Scenarios (groups `actors/<scenario>/<runtime>`; runtimes
//! `current_thread`, and `multi_thread`, a multi-thread runtime with 2
//! workers, this machine's cores):
//!
//! - `tell`: 100,000 `Add(1)` to one actor, then one ask to wait until all
//!   are handled; throughput in messages. Both runtimes.
//! - `ask`: one asker, one actor, sequential asks of `Get`. Both runtimes.
//! - `ask_fan_in_8x1`: 8 asker tasks, each asking `Get` in sequence, against
//!   one actor; throughput in asks. Both runtimes.
//! - `spawn_stop_10k`: spawn 10,000 actors, then stop them all and wait until
//!   every one has ended; throughput in actors. Both runtimes. Stopping:
//!   hand-written, its senders dropped and its tasks awaited; stage,
//!   `system.spawn` (an actor system's dynamic actors, OTP's
//!   `simple_one_for_one`: spawned at once, each supervising itself; a
//!   fresh system per batch, made and shut down outside the timed part;
//!   names must be unique: their `format!` is timed), then `addr.stop()`
//!   and `addr.stopped()`; ractor, `stop` then its task awaited (its `spawn`
//!   also waits until the actor runs); kameo, `stop_gracefully` then
//!   `wait_for_shutdown`; actix, a message calling `ctx.stop()`, waited for
//!   through its `stopped` hook. The hand-written, kameo and actix spawns
//!   do not wait until the actor runs.
//! - `restart`: one supervised actor; each iteration tells it `Crash` and then
//!   asks `Get`, answered once it has been restarted (with a fresh total, 0);
//!   throughput in restarts. current_thread only. stage: its tree restarts
//!   it, the same address and mailbox; stage-spawned: an actor spawned in
//!   a system, which restarts in its own task (no round trip through a
//!   supervisor's task), the same address and mailbox. hand-written: a supervisor task
//!   respawns the actor's task on `JoinError::is_panic`, the receiver kept
//!   in an `Arc<tokio::sync::Mutex<_>>` that the next incarnation locks (no
//!   intensity limit). kameo: its own supervision (`supervise`, transient,
//!   1,000,000 restarts a second), the same `ActorRef` and mailbox. ractor:
//!   a supervisor actor that respawns the child with `spawn_linked` on
//!   `SupervisionEvent::ActorFailed` (no intensity limit): a restarted
//!   ractor actor has a new address, which the bench asks the supervisor
//!   for after each crash (one more `call` per restart). actix cannot
//!   restart an actor that panicked: it catches no panic, so the panic ends
//!   the task that runs the actor and its `Supervisor` alike (`Supervised`
//!   restarts only an actor that stops): left out.
//!
//! Each group warms up 1 s and measures 3 s; `tell` and `spawn_stop_10k`,
//! whose batches take milliseconds, take 10 flat samples.
//!
//! Run: `cargo bench -p stage-benches --bench actors` (filter with e.g.
//! `-- actors/ask/`; each bench once, no measurement: `-- --test`).

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

mod common;
use common::runtime;

/// A wait takes milliseconds at most; one that takes this long has hung (a
/// lost wakeup or message in the library under test), and fails loudly
/// instead. Also every ask's deadline.
const HANG: Duration = Duration::from_secs(30);

/// The mailbox capacity of every peer that lets us choose.
const CAPACITY: usize = 64;

/// Tells per iteration of `tell`.
const TELLS: u64 = 100_000;

/// Asker tasks of `ask_fan_in_8x1`.
const ASKERS: usize = 8;

/// Actors per iteration of `spawn_stop_10k`.
const ACTORS: usize = 10_000;

/// The restart intensity of the supervisors that have one: more restarts a
/// second than any bench makes.
const RESTARTS: u32 = 1_000_000;
const WITHIN: Duration = Duration::from_secs(1);

/// The name of the actix peer: it runs on its own single-threaded System.
const ACTIX: &str = "actix-own-system-1-thread";

/// Waits for `fut`, at most [`HANG`].
async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(HANG, fut).await {
        Ok(output) => output,
        Err(_) => panic!("hung: {what} did not happen within {HANG:?}"),
    }
}

/// A counter actor of one library, for the scenarios all peers share.
trait Peer: Sized + Send + 'static {
    const NAME: &'static str;
    /// What reaches the actor; cloned for each asker.
    type Addr: Clone + Send + Sync + 'static;
    /// Starts a counter; it has answered an ask (outside the timed part).
    fn start() -> impl Future<Output = (Self, Self::Addr)> + Send;
    /// Tells `Add(n)`: waits for room if the library bounds its tell.
    fn add(addr: &Self::Addr, n: u64) -> impl Future<Output = ()> + Send + '_;
    /// Asks `Get`, with a deadline of [`HANG`].
    fn get(addr: &Self::Addr) -> impl Future<Output = u64> + Send + '_;
    /// Stops the counter, and waits until it has ended.
    fn stop(self, addr: Self::Addr) -> impl Future<Output = ()> + Send;
}

// ---------------------------------------------------------------- hand-written

enum HMsg {
    Add(u64),
    Get(oneshot::Sender<u64>),
    Crash,
}

/// The hand-written actor: its state is the task's, its mailbox the receiver.
async fn serve(rx: &mut mpsc::Receiver<HMsg>) {
    let mut total = 0u64;
    while let Some(msg) = rx.recv().await {
        match msg {
            HMsg::Add(n) => total += n,
            HMsg::Get(reply) => {
                let _ = reply.send(total);
            }
            HMsg::Crash => panic!("crash ordered"),
        }
    }
}

fn spawn_hand_written() -> (mpsc::Sender<HMsg>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(CAPACITY);
    (tx, tokio::spawn(async move { serve(&mut rx).await }))
}

struct HandWritten(JoinHandle<()>);

impl Peer for HandWritten {
    const NAME: &'static str = "hand-written";
    type Addr = mpsc::Sender<HMsg>;
    async fn start() -> (Self, Self::Addr) {
        let (tx, task) = spawn_hand_written();
        assert_eq!(Self::get(&tx).await, 0);
        (Self(task), tx)
    }
    async fn add(addr: &Self::Addr, n: u64) {
        if addr.send(HMsg::Add(n)).await.is_err() {
            panic!("the hand-written actor ended");
        }
    }
    async fn get(addr: &Self::Addr) -> u64 {
        let asked = async {
            let (reply, answer) = oneshot::channel();
            addr.send(HMsg::Get(reply)).await.ok()?;
            answer.await.ok()
        };
        within("a hand-written ask", asked)
            .await
            .expect("the hand-written actor ended")
    }
    async fn stop(self, addr: Self::Addr) {
        drop(addr);
        within("the hand-written actor's end", self.0)
            .await
            .unwrap();
    }
}

// ----------------------------------------------------------------------- stage

#[derive(Default)]
struct SCounter {
    total: u64,
}

enum SMsg {
    Add(u64),
    Get(stage::actor::Reply<u64>),
    Crash,
}

impl stage::actor::Actor for SCounter {
    type Msg = SMsg;
    async fn handle(&mut self, msg: SMsg, _: &mut stage::actor::Context<Self>) {
        match msg {
            SMsg::Add(n) => self.total += n,
            SMsg::Get(reply) => reply.send(self.total),
            SMsg::Crash => panic!("crash ordered"),
        }
    }
}

type StageAddr = stage::actor::Addr<SCounter>;

/// A supervision tree for the stage peer: no backoff, and an intensity no
/// bench reaches.
fn stage_tree() -> stage::supervisor::Builder {
    stage::supervisor::Builder::new(stage::runtime::Tokio::current())
        .backoff(stage::group::Backoff::none())
        .intensity(RESTARTS, WITHIN)
}

fn stage_actor(name: impl AsRef<str>) -> (StageAddr, stage::supervisor::Child) {
    stage::actor::Builder::new(stage::runtime::Tokio::current(), name, SCounter::default)
        .capacity(CAPACITY)
        .child()
}

struct Stage(stage::supervisor::Supervisor);

impl Peer for Stage {
    const NAME: &'static str = "stage";
    type Addr = StageAddr;
    async fn start() -> (Self, Self::Addr) {
        let (addr, child) = stage_actor("counter");
        let tree = stage_tree().child(child).spawn();
        assert_eq!(Self::get(&addr).await, 0);
        (Self(tree), addr)
    }
    async fn add(addr: &Self::Addr, n: u64) {
        if addr.tell(SMsg::Add(n)).await.is_err() {
            panic!("the stage actor ended");
        }
    }
    async fn get(addr: &Self::Addr) -> u64 {
        addr.ask(SMsg::Get, HANG).await.expect("a stage ask failed")
    }
    async fn stop(self, addr: Self::Addr) {
        drop(addr);
        within("the stage tree's stop", self.0.stop())
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------------- ractor

enum RMsg {
    Add(u64),
    Get(ractor::RpcReplyPort<u64>),
    Crash,
}

struct RCounter;

impl ractor::Actor for RCounter {
    type Msg = RMsg;
    type State = u64;
    type Arguments = ();
    async fn pre_start(
        &self,
        _: ractor::ActorRef<RMsg>,
        (): (),
    ) -> Result<u64, ractor::ActorProcessingErr> {
        Ok(0)
    }
    async fn handle(
        &self,
        _: ractor::ActorRef<RMsg>,
        msg: RMsg,
        total: &mut u64,
    ) -> Result<(), ractor::ActorProcessingErr> {
        match msg {
            RMsg::Add(n) => *total += n,
            RMsg::Get(reply) => {
                let _ = reply.send(*total);
            }
            RMsg::Crash => panic!("crash ordered"),
        }
        Ok(())
    }
}

type RactorAddr = ractor::ActorRef<RMsg>;

/// Spawns a ractor counter; returns once it runs.
async fn spawn_ractor() -> (RactorAddr, JoinHandle<()>) {
    match <RCounter as ractor::Actor>::spawn(None, RCounter, ()).await {
        Ok(spawned) => spawned,
        Err(error) => panic!("ractor spawn: {error}"),
    }
}

/// Asks a ractor actor, within [`HANG`].
async fn ractor_call<M, T>(
    addr: &ractor::ActorRef<M>,
    request: impl FnOnce(ractor::RpcReplyPort<T>) -> M,
) -> T
where
    M: ractor::Message,
    T: Send + 'static,
{
    match addr.call(request, Some(HANG)).await {
        Ok(ractor::rpc::CallResult::Success(answer)) => answer,
        Ok(ractor::rpc::CallResult::Timeout) => panic!("hung: a ractor call timed out"),
        Ok(ractor::rpc::CallResult::SenderError) => panic!("a ractor call was not answered"),
        Err(_) => panic!("a ractor call could not be sent"),
    }
}

struct Ractor(JoinHandle<()>);

impl Peer for Ractor {
    const NAME: &'static str = "ractor";
    type Addr = RactorAddr;
    async fn start() -> (Self, Self::Addr) {
        let (addr, task) = within("a ractor spawn", spawn_ractor()).await;
        assert_eq!(Self::get(&addr).await, 0);
        (Self(task), addr)
    }
    async fn add(addr: &Self::Addr, n: u64) {
        if addr.cast(RMsg::Add(n)).is_err() {
            panic!("the ractor actor ended");
        }
    }
    async fn get(addr: &Self::Addr) -> u64 {
        ractor_call(addr, RMsg::Get).await
    }
    async fn stop(self, addr: Self::Addr) {
        addr.stop(None);
        within("the ractor actor's end", self.0).await.unwrap();
    }
}

// ------------------------------------------------------- kameo and actix types

/// Tells the counter to add; kameo's and actix's message.
struct Add(u64);
/// Asks the counter's total.
struct Get;
/// Makes the handler panic.
struct Crash;
/// Stops the actix counter (`ctx.stop()`).
struct Stop;

// ----------------------------------------------------------------------- kameo

#[derive(kameo::Actor, Default)]
struct KCounter {
    total: u64,
}

impl kameo::message::Message<Add> for KCounter {
    type Reply = ();
    async fn handle(&mut self, Add(n): Add, _: &mut kameo::message::Context<Self, ()>) {
        self.total += n;
    }
}

impl kameo::message::Message<Get> for KCounter {
    type Reply = u64;
    async fn handle(&mut self, _: Get, _: &mut kameo::message::Context<Self, u64>) -> u64 {
        self.total
    }
}

impl kameo::message::Message<Crash> for KCounter {
    type Reply = ();
    async fn handle(&mut self, _: Crash, _: &mut kameo::message::Context<Self, ()>) {
        panic!("crash ordered");
    }
}

type KameoAddr = kameo::actor::ActorRef<KCounter>;

fn spawn_kameo() -> KameoAddr {
    <KCounter as kameo::actor::Spawn>::spawn_with_mailbox(
        KCounter::default(),
        kameo::mailbox::bounded(CAPACITY),
    )
}

/// Tells a kameo counter `msg`, waiting for room.
async fn kameo_tell<M>(addr: &KameoAddr, msg: M)
where
    KCounter: kameo::message::Message<M>,
    M: Send + 'static,
{
    if addr.tell(msg).await.is_err() {
        panic!("the kameo actor ended");
    }
}

async fn kameo_stop<A: kameo::Actor>(addr: &kameo::actor::ActorRef<A>) {
    within("a kameo stop", async {
        addr.stop_gracefully().await.expect("the kameo actor ended");
        addr.wait_for_shutdown().await;
    })
    .await;
}

struct Kameo;

impl Peer for Kameo {
    const NAME: &'static str = "kameo";
    type Addr = KameoAddr;
    async fn start() -> (Self, Self::Addr) {
        let addr = spawn_kameo();
        assert_eq!(Self::get(&addr).await, 0);
        (Self, addr)
    }
    async fn add(addr: &Self::Addr, n: u64) {
        kameo_tell(addr, Add(n)).await;
    }
    async fn get(addr: &Self::Addr) -> u64 {
        match addr.ask(Get).reply_timeout(HANG).await {
            Ok(total) => total,
            Err(error) => panic!("a kameo ask failed: {error}"),
        }
    }
    async fn stop(self, addr: Self::Addr) {
        kameo_stop(&addr).await;
    }
}

// ----------------------------------------------------------------------- actix

struct ACounter {
    total: u64,
    /// Fired by `stopped`: the actor has ended.
    ended: Option<oneshot::Sender<()>>,
}

impl actix::Actor for ACounter {
    type Context = actix::Context<Self>;
    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(());
        }
    }
}

impl actix::Message for Add {
    type Result = ();
}
impl actix::Message for Get {
    type Result = u64;
}
impl actix::Message for Stop {
    type Result = ();
}

impl actix::Handler<Add> for ACounter {
    type Result = ();
    fn handle(&mut self, Add(n): Add, _: &mut Self::Context) {
        self.total += n;
    }
}

impl actix::Handler<Get> for ACounter {
    type Result = u64;
    fn handle(&mut self, _: Get, _: &mut Self::Context) -> u64 {
        self.total
    }
}

impl actix::Handler<Stop> for ACounter {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        actix::ActorContext::stop(ctx);
    }
}

type ActixAddr = actix::Addr<ACounter>;

/// Starts an actix counter with a mailbox of [`CAPACITY`]; the receiver
/// fires once it has ended. On the current actix System.
fn spawn_actix() -> (ActixAddr, oneshot::Receiver<()>) {
    let (ended, on_end) = oneshot::channel();
    let addr = <ACounter as actix::Actor>::create(|ctx| {
        ctx.set_mailbox_capacity(CAPACITY);
        ACounter {
            total: 0,
            ended: Some(ended),
        }
    });
    (addr, on_end)
}

struct Actix(oneshot::Receiver<()>);

impl Peer for Actix {
    const NAME: &'static str = ACTIX;
    type Addr = ActixAddr;
    async fn start() -> (Self, Self::Addr) {
        let (addr, on_end) = spawn_actix();
        assert_eq!(Self::get(&addr).await, 0);
        (Self(on_end), addr)
    }
    async fn add(addr: &Self::Addr, n: u64) {
        addr.do_send(Add(n));
    }
    async fn get(addr: &Self::Addr) -> u64 {
        match addr.send(Get).timeout(HANG).await {
            Ok(total) => total,
            Err(error) => panic!("an actix ask failed: {error}"),
        }
    }
    async fn stop(self, addr: Self::Addr) {
        addr.do_send(Stop);
        drop(addr);
        within("the actix actor's end", self.0)
            .await
            .expect("the actix actor was dropped before it stopped");
    }
}

// ------------------------------------------------------------------- scenarios

/// A scenario every peer runs the same way.
trait Scenario {
    /// Times `iters` iterations on peer `P`.
    fn time<P: Peer>(iters: u64) -> impl Future<Output = Duration> + Send + 'static;
}

/// `tell`: [`TELLS`] tells, then an ask that waits until all are handled.
struct Tells;
impl Scenario for Tells {
    async fn time<P: Peer>(iters: u64) -> Duration {
        let (peer, addr) = P::start().await;
        let start = Instant::now();
        for iteration in 1..=iters {
            let told = async {
                for _ in 0..TELLS {
                    P::add(&addr, 1).await;
                }
                P::get(&addr).await
            };
            let total = within("the tells", told).await;
            assert_eq!(total, iteration * TELLS, "{}: tells were lost", P::NAME);
        }
        let took = start.elapsed();
        peer.stop(addr).await;
        took
    }
}

/// `ask`: sequential asks from one asker.
struct Asks;
impl Scenario for Asks {
    async fn time<P: Peer>(iters: u64) -> Duration {
        let (peer, addr) = P::start().await;
        let start = Instant::now();
        for _ in 0..iters {
            black_box(P::get(&addr).await);
        }
        let took = start.elapsed();
        peer.stop(addr).await;
        took
    }
}

/// `ask_fan_in_8x1`: [`ASKERS`] tasks, each asking `iters` times in
/// sequence; an iteration is one ask of each.
struct FanIn;
impl Scenario for FanIn {
    async fn time<P: Peer>(iters: u64) -> Duration {
        let (peer, addr) = P::start().await;
        let start = Instant::now();
        let askers: Vec<_> = (0..ASKERS)
            .map(|_| {
                let addr = addr.clone();
                tokio::spawn(async move {
                    for _ in 0..iters {
                        black_box(P::get(&addr).await);
                    }
                })
            })
            .collect();
        for asker in askers {
            within("an asker's end", asker).await.unwrap();
        }
        let took = start.elapsed();
        peer.stop(addr).await;
        took
    }
}

// -------------------------------------------------------------- spawn and stop

async fn spawn_stop_hand_written(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let actors: Vec<_> = (0..ACTORS).map(|_| spawn_hand_written()).collect();
        let tasks: Vec<_> = actors.into_iter().map(|(_tx, task)| task).collect();
        within("the hand-written actors' ends", async {
            for task in tasks {
                task.await.unwrap();
            }
        })
        .await;
    }
    start.elapsed()
}

async fn spawn_stop_stage(iters: u64) -> Duration {
    let mut took = Duration::ZERO;
    for _ in 0..iters {
        let system = stage::actor::System::new(stage_tree());
        let start = Instant::now();
        let addrs: Vec<_> = (0..ACTORS)
            .map(|i| {
                let actor = stage::actor::Builder::new(
                    stage::runtime::Tokio::current(),
                    format!("a{i}"),
                    SCounter::default,
                )
                .capacity(CAPACITY);
                system.spawn(actor).unwrap()
            })
            .collect();
        for addr in &addrs {
            addr.stop();
        }
        within("the stage actors' ends", async {
            for addr in &addrs {
                assert_eq!(addr.stopped().await, stage::actor::ActorExit::Stopped);
            }
        })
        .await;
        // Timed too: an actor stopped before its task first ran has ended
        // already, and its task runs (to its end) in the shutdown, which
        // awaits it as the hand-written actors' tasks are awaited.
        within("the system's shutdown", system.shutdown(HANG))
            .await
            .unwrap();
        took += start.elapsed();
    }
    took
}

async fn spawn_stop_ractor(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let actors = within("the ractor actors' spawns", async {
            let mut actors = Vec::with_capacity(ACTORS);
            for _ in 0..ACTORS {
                actors.push(spawn_ractor().await);
            }
            actors
        })
        .await;
        for (addr, _) in &actors {
            addr.stop(None);
        }
        within("the ractor actors' ends", async {
            for (_, task) in actors {
                task.await.unwrap();
            }
        })
        .await;
    }
    start.elapsed()
}

async fn spawn_stop_kameo(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let addrs: Vec<_> = (0..ACTORS).map(|_| spawn_kameo()).collect();
        within("the kameo actors' ends", async {
            for addr in &addrs {
                addr.stop_gracefully().await.expect("a kameo actor ended");
            }
            for addr in &addrs {
                addr.wait_for_shutdown().await;
            }
        })
        .await;
    }
    start.elapsed()
}

async fn spawn_stop_actix(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let actors: Vec<_> = (0..ACTORS).map(|_| spawn_actix()).collect();
        for (addr, _) in &actors {
            addr.do_send(Stop);
        }
        within("the actix actors' ends", async {
            for (_, on_end) in actors {
                on_end.await.expect("an actix actor was dropped");
            }
        })
        .await;
    }
    start.elapsed()
}

// --------------------------------------------------------------------- restart

/// The hand-written supervisor: a task that respawns the actor's task each
/// time it panics; the receiver outlives the incarnations in a mutex that
/// each one locks.
fn supervised_hand_written() -> (mpsc::Sender<HMsg>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(CAPACITY);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let supervisor = tokio::spawn(async move {
        loop {
            let rx = Arc::clone(&rx);
            let incarnation = tokio::spawn(async move { serve(&mut *rx.lock().await).await });
            match incarnation.await {
                Err(error) if error.is_panic() => continue,
                _ => break,
            }
        }
    });
    (tx, supervisor)
}

async fn restart_hand_written(iters: u64) -> Duration {
    let (addr, supervisor) = supervised_hand_written();
    assert_eq!(HandWritten::get(&addr).await, 0);
    let start = Instant::now();
    for _ in 0..iters {
        if addr.send(HMsg::Crash).await.is_err() {
            panic!("the hand-written actor ended");
        }
        assert_eq!(HandWritten::get(&addr).await, 0);
    }
    let took = start.elapsed();
    HandWritten(supervisor).stop(addr).await;
    took
}

async fn restart_stage(iters: u64) -> Duration {
    let (peer, addr) = Stage::start().await;
    let start = Instant::now();
    for _ in 0..iters {
        if addr.tell(SMsg::Crash).await.is_err() {
            panic!("the stage actor ended");
        }
        assert_eq!(Stage::get(&addr).await, 0);
    }
    let took = start.elapsed();
    peer.stop(addr).await;
    took
}

/// stage's other supervision: an actor spawned in a system restarts in its
/// own task (OTP's `simple_one_for_one`), with no round trip through a
/// supervisor's task.
async fn restart_stage_spawned(iters: u64) -> Duration {
    let system = stage::actor::System::new(stage_tree());
    let actor = stage::actor::Builder::new(
        stage::runtime::Tokio::current(),
        "counter",
        SCounter::default,
    )
    .capacity(CAPACITY);
    let addr = system.spawn(actor).unwrap();
    assert_eq!(Stage::get(&addr).await, 0);
    let start = Instant::now();
    for _ in 0..iters {
        if addr.tell(SMsg::Crash).await.is_err() {
            panic!("the stage actor ended");
        }
        assert_eq!(Stage::get(&addr).await, 0);
    }
    let took = start.elapsed();
    within("the system's shutdown", system.shutdown(HANG))
        .await
        .unwrap();
    took
}

/// Asks the ractor supervisor for its child: at once (`None`), or once it
/// has restarted the child past the given generation.
enum RSupMsg {
    Child(Option<u64>, ractor::RpcReplyPort<(u64, RactorAddr)>),
}

struct RSupervisor;

struct RSupState {
    child: RactorAddr,
    generation: u64,
    /// Askers waiting for the next generation.
    waiting: Vec<ractor::RpcReplyPort<(u64, RactorAddr)>>,
}

impl ractor::Actor for RSupervisor {
    type Msg = RSupMsg;
    type State = RSupState;
    type Arguments = ();
    async fn pre_start(
        &self,
        myself: ractor::ActorRef<RSupMsg>,
        (): (),
    ) -> Result<RSupState, ractor::ActorProcessingErr> {
        let (child, _) =
            <RCounter as ractor::Actor>::spawn_linked(None, RCounter, (), myself.get_cell())
                .await?;
        Ok(RSupState {
            child,
            generation: 0,
            waiting: Vec::new(),
        })
    }
    async fn handle(
        &self,
        _: ractor::ActorRef<RSupMsg>,
        RSupMsg::Child(seen, reply): RSupMsg,
        state: &mut RSupState,
    ) -> Result<(), ractor::ActorProcessingErr> {
        if seen.is_some_and(|seen| seen >= state.generation) {
            state.waiting.push(reply);
        } else {
            let _ = reply.send((state.generation, state.child.clone()));
        }
        Ok(())
    }
    async fn handle_supervisor_evt(
        &self,
        myself: ractor::ActorRef<RSupMsg>,
        event: ractor::SupervisionEvent,
        state: &mut RSupState,
    ) -> Result<(), ractor::ActorProcessingErr> {
        if let ractor::SupervisionEvent::ActorFailed(..) = event {
            let (child, _) =
                <RCounter as ractor::Actor>::spawn_linked(None, RCounter, (), myself.get_cell())
                    .await?;
            state.child = child;
            state.generation += 1;
            for reply in state.waiting.drain(..) {
                let _ = reply.send((state.generation, state.child.clone()));
            }
        }
        Ok(())
    }
}

async fn restart_ractor(iters: u64) -> Duration {
    let spawned = <RSupervisor as ractor::Actor>::spawn(None, RSupervisor, ());
    let (supervisor, task) = match within("the ractor supervisor's spawn", spawned).await {
        Ok(spawned) => spawned,
        Err(error) => panic!("ractor spawn: {error}"),
    };
    let (mut generation, mut child) = ractor_call(&supervisor, |r| RSupMsg::Child(None, r)).await;
    assert_eq!(Ractor::get(&child).await, 0);
    let start = Instant::now();
    for _ in 0..iters {
        if child.cast(RMsg::Crash).is_err() {
            panic!("the ractor actor ended");
        }
        (generation, child) =
            ractor_call(&supervisor, |r| RSupMsg::Child(Some(generation), r)).await;
        assert_eq!(Ractor::get(&child).await, 0);
    }
    let took = start.elapsed();
    child.stop(None);
    supervisor.stop(None);
    within("the ractor supervisor's end", task).await.unwrap();
    took
}

#[derive(kameo::Actor)]
struct KSupervisor;

async fn restart_kameo(iters: u64) -> Duration {
    let supervisor = <KSupervisor as kameo::actor::Spawn>::spawn(KSupervisor);
    let supervised =
        <KCounter as kameo::actor::Spawn>::supervise_with(&supervisor, KCounter::default)
            .restart_policy(kameo::supervision::RestartPolicy::Transient)
            .restart_limit(RESTARTS, WITHIN)
            .spawn_with_mailbox(kameo::mailbox::bounded(CAPACITY));
    let addr = within("the kameo child's spawn", supervised).await;
    assert_eq!(Kameo::get(&addr).await, 0);
    let start = Instant::now();
    for _ in 0..iters {
        kameo_tell(&addr, Crash).await;
        assert_eq!(Kameo::get(&addr).await, 0);
    }
    let took = start.elapsed();
    kameo_stop(&addr).await;
    kameo_stop(&supervisor).await;
    took
}

// ------------------------------------------------------------------- criterion

/// Runs `body` as a task of the runtime, so that the bench's own task is on
/// one of its workers, not on criterion's thread (see `on_runtime` in the
/// supervisor bench).
async fn on_runtime(body: impl Future<Output = Duration> + Send + 'static) -> Duration {
    tokio::spawn(body).await.unwrap()
}

fn group<'a>(c: &'a mut Criterion, name: String, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group
}

/// Benches `time` on the tokio runtime `rt`.
fn on_tokio<Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    time: fn(u64) -> Fut,
) where
    Fut: Future<Output = Duration> + Send + 'static,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| on_runtime(time(iters)))
    });
}

/// Benches `time` on an actix System of its own, made for the bench.
fn on_actix<Fut>(group: &mut BenchmarkGroup<'_, WallTime>, time: fn(u64) -> Fut)
where
    Fut: Future<Output = Duration>,
{
    let system = actix::System::new();
    group.bench_function(ACTIX, |b| {
        b.iter_custom(|iters| system.block_on(time(iters)))
    });
}

/// The runtimes of the groups: name, and the flavor `common::runtime` takes.
const RUNTIMES: [(&str, &str); 2] = [
    ("current_thread", "current_thread"),
    ("multi_thread", "multi_thread_2"),
];

/// Makes a group of batches that take milliseconds: 10 samples of as many
/// batches each (flat sampling), so that the slowest peer does not stretch
/// the run far past its 3 s.
fn heavy(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
}

/// One group per runtime for scenario `S`, its functions the peers.
fn peers<S: Scenario>(c: &mut Criterion, scenario: &str, elements: u64, batches: bool) {
    for (name, flavor) in RUNTIMES {
        let rt = runtime(flavor);
        let mut group = group(c, format!("actors/{scenario}/{name}"), elements);
        if batches {
            heavy(&mut group);
        }
        on_tokio(&mut group, &rt, HandWritten::NAME, S::time::<HandWritten>);
        on_tokio(&mut group, &rt, Stage::NAME, S::time::<Stage>);
        on_tokio(&mut group, &rt, Ractor::NAME, S::time::<Ractor>);
        on_tokio(&mut group, &rt, Kameo::NAME, S::time::<Kameo>);
        if name == "current_thread" {
            on_actix(&mut group, S::time::<Actix>);
        }
        group.finish();
    }
}

fn tell(c: &mut Criterion) {
    peers::<Tells>(c, "tell", TELLS, true);
}

fn ask(c: &mut Criterion) {
    peers::<Asks>(c, "ask", 1, false);
}

fn ask_fan_in(c: &mut Criterion) {
    peers::<FanIn>(c, "ask_fan_in_8x1", ASKERS as u64, false);
}

fn spawn_stop(c: &mut Criterion) {
    for (name, flavor) in RUNTIMES {
        let rt = runtime(flavor);
        let mut group = group(c, format!("actors/spawn_stop_10k/{name}"), ACTORS as u64);
        heavy(&mut group);
        on_tokio(&mut group, &rt, HandWritten::NAME, spawn_stop_hand_written);
        on_tokio(&mut group, &rt, Stage::NAME, spawn_stop_stage);
        on_tokio(&mut group, &rt, Ractor::NAME, spawn_stop_ractor);
        on_tokio(&mut group, &rt, Kameo::NAME, spawn_stop_kameo);
        if name == "current_thread" {
            on_actix(&mut group, spawn_stop_actix);
        }
        group.finish();
    }
}

fn restart(c: &mut Criterion) {
    // The actors panic on purpose; keep the output quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let rt = runtime("current_thread");
    let mut group = group(c, "actors/restart/current_thread".to_owned(), 1);
    on_tokio(&mut group, &rt, HandWritten::NAME, restart_hand_written);
    on_tokio(&mut group, &rt, Stage::NAME, restart_stage);
    on_tokio(&mut group, &rt, "stage-spawned", restart_stage_spawned);
    on_tokio(&mut group, &rt, Ractor::NAME, restart_ractor);
    on_tokio(&mut group, &rt, Kameo::NAME, restart_kameo);
    group.finish();
    let _ = std::panic::take_hook();
}

criterion_group!(benches, tell, ask, ask_fan_in, spawn_stop, restart);
criterion_main!(benches);
