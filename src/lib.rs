// The crate's docs are the README: its tour, and every code block in it,
// which therefore compiles and runs as a doc test.
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub use stage_core::mailbox;

/// The guarded receive over a Redis Streams consumer group, for messages
/// that must survive the crash of a whole process (the `redis` feature).
/// See [`stage_redis`] for the whole story.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let orders = stage::redis::Stream::open("redis://127.0.0.1/", "orders")?;
/// let inbox = orders.receiver::<u32>("billing", "worker-1").connect().await?;
/// inbox.recv_guarded().await.ack();
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "redis")]
pub mod redis {
    pub use stage_redis::*;
}

/// Task groups on tokio: supervised, self-healing replacements for
/// `tokio::spawn`. Start one with [`group()`](crate::group()).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group: stage::group::Group = stage::group().tasks(2).spawn(|| async {
///     // a worker that may crash; the group restarts it
/// });
/// group.stop().await.unwrap();
/// # }
/// ```
pub mod group {
    pub use stage_core::group::{
        current, made_progress, trace_task_panics, Backoff, DrainReport, Ended, GroupError,
        Restart, ScaleError, ShutdownReport, Stats, StatsRef, StopSignal, TaskId, TaskReport,
        Worker, DEFAULT_MAX_TASKS,
    };

    /// The settings of a group, before it starts: on tokio unless given
    /// another [`Runtime`](crate::runtime::Runtime).
    /// [`stage::group()`](crate::group()) makes one for the current tokio
    /// runtime.
    ///
    /// Its methods are documented on [`stage_core::group::Builder`].
    ///
    /// # Examples
    ///
    /// ```
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let handle = stage::runtime::Tokio::with_handle(runtime.handle().clone());
    /// let group = stage::group::Builder::new(handle).spawn(std::future::pending::<()>);
    /// runtime.block_on(group.stop()).unwrap();
    /// ```
    pub type Builder<R = crate::runtime::Tokio> = stage_core::group::Builder<R>;

    /// A running group of supervised tasks: on tokio unless started on
    /// another [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on [`stage_core::group::Group`], and those
    /// of its handle (scaling, statistics) on
    /// [`stage_core::group::GroupHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group: stage::group::Group = stage::group().spawn(std::future::pending::<()>);
    /// group.stop().await.unwrap();
    /// # }
    /// ```
    pub type Group<R = crate::runtime::Tokio> = stage_core::group::Group<R>;

    /// A cloneable handle to a running group: scale it, watch it, ask it to
    /// end, from any task; on tokio unless the group runs on another
    /// [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on [`stage_core::group::GroupHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn(std::future::pending::<()>);
    /// let handle: stage::group::GroupHandle = group.handle();
    /// handle.request_stop();
    /// group.join().await.unwrap();
    /// # }
    /// ```
    pub type GroupHandle<R = crate::runtime::Tokio> = stage_core::group::GroupHandle<R>;

    /// A group whose tasks consume one mailbox, and that can drain it; made
    /// by [`Builder::consume`](stage_core::group::Builder::consume). On tokio
    /// unless the group runs on another [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on [`stage_core::group::Pool`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_tx, inbox) = stage::mailbox::<u8>(8);
    /// let pool: stage::group::Pool<u8> =
    ///     stage::group().consume(inbox, |w| async move { w.serve(async |_: &mut u8| {}).await });
    /// pool.stop().await.unwrap();
    /// # }
    /// ```
    pub type Pool<T, R = crate::runtime::Tokio> = stage_core::group::Pool<T, R>;
}

/// The runtime seam, bound to tokio: how a task ended ([`Exit`](runtime::Exit),
/// in every [`TaskReport`](group::TaskReport)), the task handles a released
/// group hands back ([`TokioTask`](runtime::TokioTask)), and the
/// [`Runtime`](runtime::Runtime) trait for supervising on a runtime of your
/// choosing ([`Tokio::with_handle`](runtime::Tokio::with_handle)).
///
/// # Examples
///
/// ```
/// use stage::runtime::{Exit, Task, TokioTask};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group().spawn(std::future::pending::<()>);
/// let tasks: Vec<TokioTask> = group.release().await.unwrap();
/// for task in tasks {
///     task.abort();
///     let exit: Exit = task.await;
///     assert!(exit.is_failure());
/// }
/// # }
/// ```
pub mod runtime {
    pub use stage_core::runtime::{AbortHandle, Exit, Runtime, Task};
    pub use stage_tokio::{Tokio, TokioAbortHandle, TokioTask};
}

/// Supervision trees on tokio: supervisors of workers, groups and other
/// supervisors, restarting them by strategy. Start one with
/// [`supervisor()`](crate::supervisor()).
///
/// # Examples
///
/// ```
/// use stage::supervisor::{Child, Strategy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .name("app")
///     .strategy(Strategy::OneForAll)
///     .child(Child::worker("db", |stop| async move { stop.requested().await }))
///     .spawn();
/// tree.stop().await.unwrap();
/// # }
/// ```
pub mod supervisor {
    pub use stage_core::supervisor::{
        AutoShutdown, Backoff, ChildError, ChildExit, ChildKind, ChildReport, ChildSnapshot,
        ChildState, Ready, Restart, Restarted, ShutdownReport, Snapshot, StopMode, Strategy,
        SupervisorError, TreeStats, DEFAULT_RESTARTS, DEFAULT_START_TIMEOUT, DEFAULT_WITHIN,
        HISTORY,
    };

    /// A supervisor's settings and children, before it starts: on tokio
    /// unless given another [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on [`stage_core::supervisor::Builder`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let builder: stage::supervisor::Builder = stage::supervisor().name("app");
    /// builder.spawn().stop().await.unwrap();
    /// # }
    /// ```
    pub type Builder<R = crate::runtime::Tokio> = stage_core::supervisor::Builder<R>;

    /// A running supervisor: on tokio unless started on another
    /// [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on [`stage_core::supervisor::Supervisor`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree: stage::supervisor::Supervisor = stage::supervisor().spawn();
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub type Supervisor<R = crate::runtime::Tokio> = stage_core::supervisor::Supervisor<R>;

    /// A handle to a running supervisor, for other tasks: on tokio unless
    /// started on another [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on
    /// [`stage_core::supervisor::SupervisorHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// let handle: stage::supervisor::SupervisorHandle = tree.handle();
    /// assert!(!handle.is_ended());
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub type SupervisorHandle<R = crate::runtime::Tokio> =
        stage_core::supervisor::SupervisorHandle<R>;

    /// A child of a supervisor: a worker, a group, or another supervisor;
    /// on tokio unless given another [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on [`stage_core::supervisor::Child`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// let worker: Child = Child::worker("ticker", |stop| async move { stop.requested().await });
    /// # drop(worker);
    /// ```
    pub type Child<R = crate::runtime::Tokio> = stage_core::supervisor::Child<R>;
}

/// Actors on tokio: state owned by one task, changed by the messages it
/// handles, supervised as a child of a supervision tree. Start one with
/// [`actor()`](crate::actor()).
///
/// # Examples
///
/// ```
/// use stage::actor::{Actor, Context};
///
/// struct Printer;
/// impl Actor for Printer {
///     type Msg = String;
///     async fn handle(&mut self, line: String, _: &mut Context<Self>) {
///         println!("{line}");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (printer, child) = stage::actor("printer", || Printer).child();
/// let tree = stage::supervisor().child(child).spawn();
/// printer.tell("hello".to_owned()).await.unwrap();
/// tree.stop().await.unwrap();
/// # }
/// ```
pub mod actor {
    pub use stage_core::actor::{
        Actor, ActorExit, Addr, AskError, Cause, Context, JobId, LookupError, Reply, Restarted,
        SpawnError, DEFAULT_CAPACITY,
    };

    /// An actor system: a root supervisor, the actors spawned under it, and
    /// their names; on tokio unless started on another
    /// [`Runtime`](crate::runtime::Runtime). [`stage::system`](crate::system())
    /// starts one.
    ///
    /// Its methods are documented on [`stage_core::actor::System`], and
    /// those of its handle on [`stage_core::actor::SystemHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system: stage::actor::System = stage::system();
    /// system.shutdown(std::time::Duration::from_secs(1)).await.unwrap();
    /// # }
    /// ```
    pub type System<R = crate::runtime::Tokio> = stage_core::actor::System<R>;

    /// A handle to a running actor system, for any task: on tokio unless
    /// the system runs on another [`Runtime`](crate::runtime::Runtime).
    ///
    /// Its methods are documented on [`stage_core::actor::SystemHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = stage::system();
    /// let handle: stage::actor::SystemHandle = system.handle();
    /// # drop(handle);
    /// # }
    /// ```
    pub type SystemHandle<R = crate::runtime::Tokio> = stage_core::actor::SystemHandle<R>;

    /// An actor's settings, before it runs: on tokio unless given another
    /// [`Runtime`](crate::runtime::Runtime). [`stage::actor`](crate::actor())
    /// makes one.
    ///
    /// Its methods are documented on [`stage_core::actor::Builder`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Builder, Context};
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// let builder: Builder<Idle> = stage::actor("idle", || Idle).capacity(8);
    /// # drop(builder);
    /// ```
    pub type Builder<A, R = crate::runtime::Tokio> = stage_core::actor::Builder<A, R>;
}

/// Starts building an actor named `name` on the current tokio runtime,
/// whose state `factory` makes at every start: a mailbox of
/// [`DEFAULT_CAPACITY`](actor::DEFAULT_CAPACITY) messages, and at most once
/// delivery (see [`redeliver`](stage_core::actor::Builder::redeliver)).
/// [`child`](stage_core::actor::Builder::child) makes it a child of a
/// supervision tree, and hands out its address.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use stage::actor::{Actor, Context, Reply};
///
/// #[derive(Default)]
/// struct Counter(u64);
///
/// enum Msg {
///     Add(u64),
///     Get(Reply<u64>),
/// }
///
/// impl Actor for Counter {
///     type Msg = Msg;
///     async fn handle(&mut self, msg: Msg, _: &mut Context<Self>) {
///         match msg {
///             Msg::Add(n) => self.0 += n,
///             Msg::Get(reply) => reply.send(self.0),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (counter, child) = stage::actor("counter", Counter::default).child();
/// let tree = stage::supervisor().name("app").child(child).spawn();
/// counter.tell(Msg::Add(3)).await.unwrap();
/// assert_eq!(counter.ask(Msg::Get, Duration::from_secs(1)).await, Ok(3));
/// tree.stop().await.unwrap();
/// # }
/// ```
pub fn actor<A: actor::Actor>(
    name: impl AsRef<str>,
    factory: impl Fn() -> A + Send + Sync + 'static,
) -> actor::Builder<A> {
    // Its address's timeouts sleep on the asker's runtime, or, asked from a
    // plain thread, on the runtime it was made on.
    stage_core::actor::Builder::new(stage_tokio::Tokio::current_or_here(), name, factory)
}

/// Starts an actor system on the current tokio runtime: a root supervisor
/// named `system` with a supervisor's defaults
/// ([`OneForOne`](supervisor::Strategy::OneForOne),
/// [`DEFAULT_RESTARTS`](supervisor::DEFAULT_RESTARTS) restarts within
/// [`DEFAULT_WITHIN`](supervisor::DEFAULT_WITHIN), the default backoff),
/// which also apply to each actor spawned under it. For other settings,
/// [`System::new`](stage_core::actor::System::new) with a supervisor's
/// builder.
///
/// # Panics
///
/// Outside a tokio runtime: the system's root supervisor starts at once, on
/// the runtime of the caller (tokio's own panic, "there is no reactor
/// running"). From a plain thread, enter a runtime first
/// (`runtime.block_on` or `runtime.enter()`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use stage::actor::{Actor, Context};
///
/// struct Greeter;
/// impl Actor for Greeter {
///     type Msg = String;
///     async fn handle(&mut self, name: String, _: &mut Context<Self>) {
///         println!("hello, {name}");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = stage::system();
/// let greeter = system.spawn(stage::actor("greeter", || Greeter)).unwrap();
/// greeter.tell("world".to_owned()).await.unwrap();
/// system.shutdown(Duration::from_secs(5)).await.unwrap();
/// # }
/// ```
pub fn system() -> actor::System {
    let root = stage_core::supervisor::Builder::new(stage_tokio::Tokio::current_or_here());
    actor::System::new(root.name("system"))
}

/// Starts building a supervisor on the current tokio runtime: no children
/// yet, [`Strategy::OneForOne`](supervisor::Strategy::OneForOne), and the
/// default restart intensity.
///
/// # Examples
///
/// ```
/// use stage::supervisor::Child;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .name("app")
///     .child(Child::worker("server", |stop| async move { stop.requested().await }))
///     .spawn();
/// tree.stop().await.unwrap();
/// # }
/// ```
pub fn supervisor() -> supervisor::Builder {
    stage_core::supervisor::Builder::new(stage_tokio::Tokio::current())
}

/// Starts building a task group on the current tokio runtime: one task,
/// restarted however it ends, with a capped backoff when it keeps failing.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let starts = Arc::new(AtomicU32::new(0));
/// let mut group = stage::group().spawn({
///     let starts = Arc::clone(&starts);
///     move || {
///         let n = starts.fetch_add(1, Ordering::SeqCst);
///         async move {
///             if n < 2 {
///                 panic!("crash number {n}");
///             }
///             std::future::pending::<()>().await
///         }
///     }
/// });
/// while group.stat_borrow_and_update().restarted < 2 {
///     group.changed().await.unwrap();
/// }
/// assert_eq!(group.stat_borrow().panicked, 2);
/// group.stop().await.unwrap();
/// # }
/// ```
pub fn group() -> group::Builder {
    stage_core::group::Builder::new(stage_tokio::Tokio::current())
}

/// The names most stage programs use: `use stage::prelude::*;`.
///
/// # Examples
///
/// ```
/// use stage::prelude::*;
///
/// fn consumer_count<T>(rx: &Receiver<T>) -> usize {
///     rx.len()
/// }
/// # let (_tx, rx) = stage::mailbox::<()>(1);
/// # assert_eq!(consumer_count(&rx), 0);
/// ```
pub mod prelude {
    pub use crate::actor::{Actor, Addr, Context, Reply, System};
    pub use crate::group::{Backoff, Group, Restart, StopSignal};
    pub use crate::mailbox::{Delivery, Receiver, Sender};
    pub use crate::supervisor::{Child, StopMode, Strategy, Supervisor};
}
