//! The settings of an actor before it runs, and the supervision-tree child
//! it becomes.

use core::fmt;

use super::addr::Addr;
use super::behaviour::Actor;
use super::cell::{Cell, Clock, Owner};
use super::error::AskError;
use super::name::{Draft, Name};
use super::reply::dropping_with;
use super::run::{run_child, Copy, Spec};
use crate::group::StopSignal;
use crate::mailbox::{self, CapacityError, DeadLetter};
use crate::runtime::Runtime;
use crate::supervisor::{Child, Ready};
use crate::sync::Arc;

/// The mailbox capacity of an actor unless [set](Builder::capacity).
pub const DEFAULT_CAPACITY: usize = 64;

/// A sink for an actor's dead letters.
type Sink<M> = Box<dyn Fn(DeadLetter<M>) + Send + Sync>;

/// The settings of an actor: its name, the factory of its state, its
/// mailbox and what it does with a message it crashed on. On tokio,
/// [`stage::actor`] makes one.
///
/// [`child`](Builder::child) makes the actor a child of a supervision
/// tree, and hands out its [`Addr`]: the actor runs when its supervisor
/// starts it, and is restarted when it fails (`Restart::OnFailure` unless
/// the child is given `Restart::Never`).
///
/// [`stage::actor`]: https://docs.rs/stage/latest/stage/fn.actor.html
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use stage::actor::{Actor, Context, Reply};
///
/// #[derive(Default)]
/// struct Ledger {
///     total: i64,
/// }
///
/// #[derive(Clone)]
/// enum Entry {
///     Post(i64),
///     Total(Reply<i64>),
/// }
///
/// impl Actor for Ledger {
///     type Msg = Entry;
///     async fn handle(&mut self, entry: Entry, _: &mut Context<Self>) {
///         match entry {
///             Entry::Post(amount) => self.total += amount,
///             Entry::Total(reply) => reply.send(self.total),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (ledger, child) = stage::actor("ledger", Ledger::default)
///     .capacity(1024)
///     .redeliver(3)
///     .child();
/// let tree = stage::supervisor().child(child).spawn();
/// ledger.tell(Entry::Post(5)).await.unwrap();
/// assert_eq!(ledger.ask(Entry::Total, Duration::from_secs(1)).await, Ok(5));
/// tree.stop().await.unwrap();
/// # }
/// ```
#[must_use = "an actor's builder does nothing until `child` is called"]
pub struct Builder<A: Actor, R: Runtime> {
    runtime: R,
    name: Draft,
    make: Box<dyn Fn() -> A + Send + Sync>,
    capacity: usize,
    workers: usize,
    redeliver: Option<(u32, Copy<A::Msg>)>,
    dead_letters: Option<Sink<A::Msg>>,
}

impl<A: Actor, R: Runtime> Builder<A, R> {
    /// An actor named `name` on `runtime`, whose state `factory` makes at
    /// every start.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Builder, Context};
    /// use stage::runtime::Tokio;
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let tokio = Tokio::with_handle(runtime.handle().clone());
    /// let (idle, _child) = Builder::new(tokio, "idle", || Idle).child();
    /// assert_eq!(idle.name(), "idle");
    /// ```
    pub fn new(
        runtime: R,
        name: impl AsRef<str>,
        factory: impl Fn() -> A + Send + Sync + 'static,
    ) -> Self {
        Self {
            runtime,
            name: Draft::new(name.as_ref()),
            make: Box::new(factory),
            capacity: DEFAULT_CAPACITY,
            workers: 1,
            redeliver: None,
            dead_letters: None,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.name.as_str()
    }

    /// How many messages the mailbox holds ([`DEFAULT_CAPACITY`] unless
    /// set): [`tell`](Addr::tell) waits beyond it. The capacity is
    /// allocated whole, by the first message, as a
    /// [mailbox](crate::mailbox())'s is.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0; the panic points at the caller.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    #[track_caller]
    pub fn capacity(mut self, capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "an actor's mailbox needs a capacity of at least 1"
        );
        self.capacity = capacity;
        self
    }

    /// Makes the actor a pool of `workers` incarnations sharing its
    /// mailbox: each message is handled by one of them, whichever is free;
    /// tells and asks are the same. Each worker has its own state from the
    /// factory, and is restarted alone when it fails (in a tree, the pool
    /// is a child that heals its own workers, as a
    /// [group](crate::supervisor::Child::group) does). [`Addr::stop`] stops
    /// them all; [`Addr::kill`] kills every running worker. With more than
    /// one worker, messages are no longer handled in the order sent.
    ///
    /// Each worker is an incarnation of its own, with its own hooks and
    /// [timers](super::Context::send_interval): an interval set in
    /// `started` ticks once per worker. For one tick for the whole pool,
    /// let another actor (or a task) tell the pool.
    ///
    /// A pool in a tree is a group: at most its
    /// [`max_tasks`](crate::group::Builder::max_tasks)
    /// ([`DEFAULT_MAX_TASKS`](crate::group::DEFAULT_MAX_TASKS), 65,536)
    /// workers, or the tree refuses the child
    /// ([`SupervisorError::InvalidChild`](crate::supervisor::SupervisorError::InvalidChild)).
    ///
    /// # Panics
    ///
    /// If `workers` is 0; the panic points at the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use stage::actor::{Actor, Context, Reply};
    ///
    /// struct Hasher;
    /// impl Actor for Hasher {
    ///     type Msg = (Vec<u8>, Reply<u64>);
    ///     async fn handle(&mut self, (data, reply): Self::Msg, _: &mut Context<Self>) {
    ///         reply.send(data.iter().map(|&b| u64::from(b)).sum());
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (hasher, child) = stage::actor("hasher", || Hasher).pool(4).child();
    /// let tree = stage::supervisor().child(child).spawn();
    /// let sum = hasher.ask(|r| (vec![1, 2, 3], r), Duration::from_secs(1)).await;
    /// assert_eq!(sum, Ok(6));
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    #[track_caller]
    pub fn pool(mut self, workers: usize) -> Self {
        assert!(workers > 0, "a pool needs at least one worker");
        self.workers = workers;
        self
    }

    /// Redelivers the message the actor was handling when it failed (a
    /// panic, a kill, an abort): its next incarnation handles it first,
    /// ahead of the queued messages, up to `max_attempts` deliveries in
    /// all; then it is a dead letter (see
    /// [`dead_letters`](Builder::dead_letters)), and an ask waiting on it
    /// fails with [`AskError::DeadLettered`]. At-least-once: a handler may
    /// see a message again after a crash part-way through it
    /// ([`Context::attempt`](super::Context::attempt) says which delivery
    /// this is).
    ///
    /// Without this, a message the actor fails on is dropped (at most
    /// once), and an ask waiting on it fails with [`AskError::Crashed`].
    ///
    /// The mailbox keeps each message until it is handled, and the handler
    /// takes a clone: hence `Msg: Clone`. [`Reply`](super::Reply) ports are
    /// `Clone`, sharing one answer.
    ///
    /// # Panics
    ///
    /// If `max_attempts` is 0; the panic points at the caller.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    #[track_caller]
    pub fn redeliver(mut self, max_attempts: u32) -> Self
    where
        A::Msg: Clone,
    {
        assert!(max_attempts > 0, "a message needs at least one attempt");
        self.redeliver = Some((max_attempts, <A::Msg as Clone>::clone));
        self
    }

    /// Where a message goes once it has failed every attempt
    /// [`redeliver`](Builder::redeliver) allows; without a sink it is
    /// logged and dropped. Asks waiting on the message fail with
    /// [`AskError::DeadLettered`] when the sink drops it (a sink that keeps
    /// the message keeps its askers waiting until they time out). The sink
    /// runs on the actor's task, before it handles its next message: keep
    /// it quick.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// #[derive(Clone, Debug)]
    /// struct Job(u32);
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Msg = Job;
    ///     async fn handle(&mut self, _job: Job, _: &mut Context<Self>) {}
    /// }
    ///
    /// let (worker, _child) = stage::actor("worker", || Worker)
    ///     .redeliver(3)
    ///     .dead_letters(|letter| eprintln!("gave up on {:?}", letter.message()))
    ///     .child();
    /// # drop(worker);
    /// ```
    pub fn dead_letters(
        mut self,
        sink: impl Fn(DeadLetter<A::Msg>) + Send + Sync + 'static,
    ) -> Self {
        self.dead_letters = Some(Box::new(sink));
        self
    }

    /// Makes the actor a child for a supervision tree, and its address.
    /// The child is named as the actor, restarted on failure
    /// (`Restart::OnFailure`; `Restart::Never` is allowed too, and
    /// `Restart::Always` refused: an actor stopped for good stays stopped),
    /// and is ready once its [`started`](Actor::started) hook has returned.
    /// Its snapshot shows the mailbox's depth.
    ///
    /// The actor has ended for good ([`Addr::stopped`]) once it is stopped
    /// through its address, once its supervisor will not restart it, or
    /// once the child is dropped (its supervisor ended, or removed it).
    /// A child stopped by name (`stop_child`) has not: its mailbox stays
    /// open, messages wait in it and asks wait (up to their time limit)
    /// until `restart_child` starts it again.
    ///
    /// A spawned actor ([`SystemHandle::spawn`](super::SystemHandle::spawn))
    /// is found by name; a child is, once
    /// [registered](super::SystemHandle::register).
    ///
    /// # Panics
    ///
    /// If the mailbox's capacity cannot be allocated (see
    /// [`try_child`](Builder::try_child)); the panic points at the caller.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    #[track_caller]
    pub fn child(self) -> (Addr<A>, Child<R>) {
        self.try_child().unwrap_or_else(|error| panic!("{error}"))
    }

    /// As [`child`](Builder::child), or says why the mailbox's capacity
    /// cannot be allocated.
    ///
    /// # Errors
    ///
    /// [`CapacityError`] for a capacity larger than this machine can
    /// allocate.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::actor::{Actor, Context};
    /// # struct Idle;
    /// # impl Actor for Idle {
    /// #     type Msg = u64;
    /// #     async fn handle(&mut self, _: u64, _: &mut Context<Self>) {}
    /// # }
    /// let built = stage::actor("huge", || Idle).capacity(usize::MAX).try_child();
    /// assert!(built.is_err());
    /// ```
    pub fn try_child(self) -> Result<(Addr<A>, Child<R>), CapacityError> {
        let pool = (self.workers > 1)
            .then(|| crate::group::Builder::new(self.runtime.clone()).tasks(self.workers));
        let Parts {
            addr,
            owner,
            spec,
            depth,
            ..
        } = self.into_parts(None, None)?;
        let name = Arc::clone(addr.cell.name.path());
        let factory = Incarnations {
            owner: Arc::new(owner),
            spec: Arc::new(spec),
        };
        let child = Child::actor(name, Box::new(factory), pool).mailbox(&depth);
        Ok((addr, child))
    }

    /// The actor, made: its address, its owner, what its incarnations are
    /// made from, and a receiver to read the mailbox's depth through. Its
    /// timers run on `clock` (a system's, shared by the actors it spawns),
    /// or else on the builder's runtime; its path is its name under
    /// `parent` (a system's), or its name alone.
    pub(crate) fn into_parts(
        self,
        clock: Option<Arc<dyn Clock>>,
        parent: Option<&str>,
    ) -> Result<Parts<A>, CapacityError> {
        let Self {
            runtime,
            name,
            make,
            capacity,
            workers,
            redeliver,
            dead_letters,
        } = self;
        let name = Name::new(parent, name.as_str());
        let mut mailbox = mailbox::Builder::new(capacity);
        if let Some((attempts, _)) = redeliver {
            let sink = dead_letters.unwrap_or_else(|| Box::new(log_dead_letter(&name)));
            mailbox = mailbox.max_attempts(attempts).dead_letters(move |letter| {
                let reason = AskError::DeadLettered {
                    attempts: letter.attempts(),
                    last_panic: letter.last_panic().map(str::to_owned),
                };
                dropping_with(reason, || sink(letter));
            });
        }
        let (tx, rx) = mailbox.try_build()?;
        let depth = rx.clone();
        let clock = clock.unwrap_or_else(|| Arc::new(runtime));
        let cell = Arc::new(Cell::new(name, (tx, rx), clock));
        Ok(Parts {
            owner: Owner {
                cell: Arc::clone(&cell),
            },
            spec: Spec {
                make,
                redeliver: redeliver.map(|(_, copy)| copy),
            },
            addr: Addr { cell },
            depth,
            workers,
        })
    }
}

/// An actor made by [`Builder::into_parts`].
pub(crate) struct Parts<A: Actor> {
    pub(crate) addr: Addr<A>,
    pub(crate) owner: Owner<A>,
    pub(crate) spec: Spec<A>,
    pub(crate) depth: mailbox::Receiver<A::Msg>,
    pub(crate) workers: usize,
}

/// Logs a dead letter of actor `name`, as a mailbox without a sink does.
fn log_dead_letter<M>(name: &Name) -> impl Fn(DeadLetter<M>) + Send + Sync + 'static {
    let name = name.clone();
    move |letter| {
        tracing::error!(
            actor = &*name,
            attempts = letter.attempts(),
            last_panic = letter.last_panic(),
            "the actor gave up on a message; dropping it"
        );
    }
}

impl<A: Actor, R: Runtime> fmt::Debug for Builder<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name.as_str())
            .field("capacity", &self.capacity)
            .field("workers", &self.workers)
            .field("redeliver", &self.redeliver.map(|(attempts, _)| attempts))
            .finish_non_exhaustive()
    }
}

/// What the supervisor holds of an actor: makes each incarnation. Its last
/// copy dropped, the actor has ended for good ([`Owner`]).
pub(crate) struct Incarnations<A: Actor> {
    owner: Arc<Owner<A>>,
    spec: Arc<Spec<A>>,
}

impl<A: Actor> Clone for Incarnations<A> {
    fn clone(&self) -> Self {
        Self {
            owner: Arc::clone(&self.owner),
            spec: Arc::clone(&self.spec),
        }
    }
}

impl<A: Actor> crate::supervisor::child::Factory for Incarnations<A> {
    fn make(&mut self, stop: StopSignal, ready: Ready) -> crate::supervisor::child::BoxFuture<()> {
        let cell = Arc::clone(&self.owner.cell);
        let spec = Arc::clone(&self.spec);
        Box::pin(run_child(cell, spec, stop, ready))
    }

    fn clone_box(&self) -> Box<dyn crate::supervisor::child::Factory> {
        Box::new(self.clone())
    }

    fn ended(&mut self) {
        self.owner.cell.retire(false);
    }
}
