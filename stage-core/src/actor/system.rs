//! The actor system: a root supervision tree, the actors spawned under it
//! while it runs, a registry of names, and one ordered shutdown for all.

use core::any::Any;
use core::borrow::Borrow;
use core::fmt;
use core::future::Future;
use core::ops::Deref;
use core::pin::pin;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use futures_util::FutureExt;

use super::addr::Addr;
use super::behaviour::Actor;
use super::builder::Parts;
use super::cell::Owner;
use super::cell::{sleep_until, Cell, Clock};
use super::name::Name;
use super::run::{run, Outcome, Spec};
use crate::group::deadline;
use crate::group::policy::Intensity;
use crate::group::task::{next_generation, take_progress, Incarnation, Supervised};
use crate::group::Backoff;
use crate::mailbox::CapacityError;
use crate::runtime::{drop_quietly, Exit, OwnedTask, Runtime};
use crate::signal::Signal;
use crate::supervisor::{
    self, Child, ChildError, ChildExit, ChildKind, ChildReport, ChildSnapshot, ChildState,
    ShutdownReport, Snapshot, Supervisor, SupervisorError, SupervisorHandle,
};
use crate::sync::Arc;

/// An actor system: a root [supervisor](crate::supervisor) that owns
/// everything, and the actors [spawned](SystemHandle::spawn) under it while
/// it runs, found again by name.
///
/// # Two kinds of children
///
/// - **Spawned actors** ([`spawn`](SystemHandle::spawn)) are dynamic, as
///   OTP's `simple_one_for_one` children are: started at once (no request
///   to the root's task), each supervising itself. One that fails is
///   restarted with the root's [backoff](supervisor::Builder::backoff),
///   and gives up (it ends for good, [`ActorExit::Failed`](super::ActorExit::Failed)) once it needs
///   more restarts than the root's [intensity](supervisor::Builder::intensity)
///   allows, counted for it alone: a flapping actor does not take the
///   others down. One that is stopped for good is gone, name and all.
///   With the defaults (5 restarts within 10 s; 3 restarts at once, then
///   10 ms doubling) an actor that fails at every start gives up within
///   about 70 ms: give the root a longer backoff, or a larger intensity,
///   for actors that should outlast an outage (OTP gives up sooner still:
///   1 restart in 5 s).
/// - **Children of the root** ([`start_child`](SystemHandle::start_child),
///   or given to the root's builder): actors ([`actor::Builder::child`]),
///   groups and whole trees, supervised by the root's strategy and
///   intensity, as in any tree.
///
/// [`actor::Builder::child`]: super::Builder::child
///
/// # Shutdown
///
/// [`shutdown`](System::shutdown) stops everything under one deadline:
/// first the spawned actors, newest first, each finishing the message in
/// hand and ended before the next is stopped, then the root's children in
/// reverse start order, as a tree shuts down. Past the deadline, what
/// still runs is aborted. The report lists every child. Dropping the
/// system aborts its spawned actors and stops the tree.
///
/// Newest first means that an actor spawned to watch another
/// ([`Addr::stopped`]) is stopped before the one it watches, and never
/// sees it go: to learn how actors end in a shutdown, watch them from a
/// task of your own, or from an actor spawned before them (or a child of
/// the root, stopped after every spawned actor).
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
/// let system = stage::system();
/// let counter = system.spawn(stage::actor("counter", Counter::default)).unwrap();
/// counter.tell(Msg::Add(2)).await.unwrap();
///
/// // Anywhere else, by name and type:
/// let found = system.lookup::<Counter>("counter").unwrap();
/// assert_eq!(found.ask(Msg::Get, Duration::from_secs(1)).await, Ok(2));
///
/// let report = system.shutdown(Duration::from_secs(5)).await.unwrap();
/// assert_eq!(report.children[0].path, "system/counter");
/// # }
/// ```
pub struct System<R: Runtime> {
    handle: SystemHandle<R>,
    root: Option<Supervisor<R>>,
}

/// A handle to a running [`System`], for any task (an actor's included):
/// spawn, find, start children. Cloneable; it does not keep the system
/// running (spawning through it once the system has ended fails with
/// [`SpawnError::Shutdown`]).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = stage::system();
/// let handle: stage::actor::SystemHandle = system.handle();
/// assert_eq!(handle.spawned(), 0);
/// # }
/// ```
pub struct SystemHandle<R: Runtime> {
    shared: Arc<Shared<R>>,
    root: SupervisorHandle<R>,
}

struct Shared<R: Runtime> {
    runtime: R,
    /// The runtime bound to where the system was made: its actors' tasks
    /// run there, whoever spawns them.
    home: R,
    /// The runtime's clock, shared by the spawned actors' timers (one
    /// allocation per system, not one per actor).
    clock: Arc<dyn Clock>,
    /// The root's path, the first part of every spawned actor's.
    path: Arc<str>,
    restarts: u32,
    within: Duration,
    backoff: Backoff,
    state: Mutex<State<R>>,
}

struct State<R: Runtime> {
    /// Set by a shutdown or a drop: nothing is spawned from then on.
    closed: bool,
    next: u64,
    /// The spawned actors that run, by the order of their spawn.
    spawned: BTreeMap<u64, Spawned<R>>,
    /// Addresses by name: of spawned actors, and of registered ones.
    names: HashMap<Name, Arc<dyn Lifetime>>,
}

/// A spawned actor, as its system keeps it.
struct Spawned<R: Runtime> {
    /// Its name, within its path (`system/name`, as reports and snapshots
    /// show it).
    name: Name,
    /// Its tasks (a pool's: one per worker); none for the moment between
    /// its entry and their spawn.
    tasks: Tasks<R>,
    workers: usize,
    life: Arc<dyn Lifetime>,
}

/// What the system needs of an actor's cell, its type erased.
trait Lifetime: Send + Sync {
    /// The cell, for a typed [`lookup`](SystemHandle::lookup) to downcast.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn type_name(&self) -> &'static str;
    /// Whether it ended for good (its name is free then).
    fn has_ended(&self) -> bool;
    /// Halts it: the system shuts down.
    fn halt(&self);
    fn generation(&self) -> u64;
    fn restarts(&self) -> u64;
    fn running(&self) -> usize;
    fn queued(&self) -> usize;
    fn last_exit(&self) -> Option<ChildExit>;
}

impl<A: Actor> Lifetime for Cell<A> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn type_name(&self) -> &'static str {
        core::any::type_name::<A>()
    }

    fn has_ended(&self) -> bool {
        Cell::has_ended(self)
    }

    fn halt(&self) {
        self.halt.request();
    }

    fn generation(&self) -> u64 {
        Cell::generation(self)
    }

    fn restarts(&self) -> u64 {
        Cell::restarts(self)
    }

    fn running(&self) -> usize {
        Cell::running(self)
    }

    fn queued(&self) -> usize {
        self.tx.len()
    }

    fn last_exit(&self) -> Option<ChildExit> {
        Cell::last_exit(self)
    }
}

/// Why an actor could not be spawned or registered.
///
/// # Examples
///
/// ```
/// use stage::actor::{Actor, Context, SpawnError};
///
/// struct Idle;
/// impl Actor for Idle {
///     type Msg = ();
///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = stage::system();
/// system.spawn(stage::actor("idle", || Idle)).unwrap();
/// let again = system.spawn(stage::actor("idle", || Idle));
/// assert_eq!(again.unwrap_err(), SpawnError::NameTaken("idle".into()));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// An actor of the system has this name already.
    NameTaken(String),
    /// The name cannot be an actor's: empty, or with a `/`.
    InvalidName(String),
    /// The system has shut down (or was dropped).
    Shutdown,
    /// The actor's mailbox cannot be allocated.
    Capacity(CapacityError),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NameTaken(name) => write!(f, "an actor named {name:?} exists already"),
            Self::InvalidName(name) => write!(
                f,
                "{name:?} cannot name an actor: a name must not be empty or contain '/'"
            ),
            Self::Shutdown => f.write_str("the actor system has shut down"),
            Self::Capacity(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Why [`lookup`](SystemHandle::lookup) found no address.
///
/// # Examples
///
/// ```
/// use stage::actor::{Actor, Context, LookupError};
///
/// struct Idle;
/// impl Actor for Idle {
///     type Msg = ();
///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = stage::system();
/// assert_eq!(
///     system.lookup::<Idle>("nobody").unwrap_err(),
///     LookupError::NotFound("nobody".into())
/// );
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupError {
    /// No running actor has this name.
    NotFound(String),
    /// The actor of this name is of another type.
    WrongType {
        /// The name looked up.
        name: String,
        /// The actor type asked for.
        expected: &'static str,
        /// The actor type it is.
        found: &'static str,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(name) => write!(f, "no running actor is named {name:?}"),
            Self::WrongType {
                name,
                expected,
                found,
            } => write!(f, "the actor {name:?} is a {found}, not a {expected}"),
        }
    }
}

impl std::error::Error for LookupError {}

impl<R: Runtime> System<R> {
    /// Starts a system whose root supervisor is `root` (its name, strategy,
    /// intensity, backoff and first children). As with any supervisor, a
    /// child it cannot have (a name taken twice, an actor child with
    /// `Restart::Always`) ends the root at once: the system runs no child,
    /// and [`shutdown`](System::shutdown) returns the
    /// [`SupervisorError::InvalidChild`]. On tokio,
    /// [`stage::system`] starts one with a root named `system` and the
    /// defaults of a supervisor.
    ///
    /// [`stage::system`]: https://docs.rs/stage/latest/stage/fn.system.html
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use stage::actor::System;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = stage::supervisor().name("shop").intensity(10, Duration::from_secs(1));
    /// let system = System::new(root);
    /// assert_eq!(system.root().path(), "shop");
    /// system.shutdown(Duration::from_secs(1)).await.unwrap();
    /// # }
    /// ```
    pub fn new(root: supervisor::Builder<R>) -> Self {
        let runtime = root.runtime.clone();
        let path = Arc::clone(&root.name);
        let shared = Arc::new(Shared {
            clock: Arc::new(runtime.clone()),
            home: runtime.home(),
            runtime,
            path,
            restarts: root.intensity.restarts(),
            within: root.intensity.within(),
            backoff: root.backoff,
            state: Mutex::new(State {
                closed: false,
                next: 0,
                spawned: BTreeMap::new(),
                names: HashMap::new(),
            }),
        });
        let root = root.spawn();
        Self {
            handle: SystemHandle {
                shared,
                root: root.handle(),
            },
            root: Some(root),
        }
    }

    /// A handle to the system, for other tasks.
    ///
    /// # Examples
    ///
    /// See [`SystemHandle`].
    pub fn handle(&self) -> SystemHandle<R> {
        self.handle.clone()
    }

    /// Shuts everything down under one deadline, `grace` from now: the
    /// spawned actors, newest first, one after the other (each finishes
    /// its message in hand, and runs its `stopped` hook), then the root's
    /// children in reverse start order.
    /// What still runs at the deadline is aborted. The report lists the
    /// root's children, then the spawned actors that had not ended before
    /// the shutdown, in the order they were spawned: one line per actor (a
    /// pool's workers together), its exit `returned` when it stopped in
    /// time. An actor that had ended already (stopped for good, or given
    /// up) is not in it: its [`exit`](Addr::exit) says how it ended.
    ///
    /// # Errors
    ///
    /// The [`SupervisorError`] if the root supervisor had given up before.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the system: what still runs is
    /// aborted.
    ///
    /// # Examples
    ///
    /// See [`System`].
    pub async fn shutdown(mut self, grace: Duration) -> Result<ShutdownReport, SupervisorError> {
        let shared = Arc::clone(&self.handle.shared);
        let deadline = deadline::after(shared.runtime.now(), grace);
        let mut spawned = shared.close();
        let mut reports = Vec::with_capacity(spawned.len());
        for actor in spawned.values_mut().rev() {
            // Stopped for good already, its task not yet run to its end:
            // gone, name and all; its task is awaited, not reported.
            let gone = actor.life.has_ended();
            actor.life.halt();
            let mut exit = ChildExit::Returned;
            for task in actor.tasks.iter_mut() {
                let ended = ended_by(&shared.runtime, task, deadline).await;
                if ended.is_failure() {
                    exit = ChildExit::from_exit(&ended);
                }
                crate::runtime::drop_exit(ended);
            }
            if gone {
                continue;
            }
            reports.push(ChildReport {
                path: actor.name.path().to_string(),
                generation: actor.life.generation(),
                exit,
            });
        }
        drop(spawned);
        reports.reverse();
        let left = match deadline {
            None => deadline::NEVER,
            Some(at) => at.saturating_duration_since(shared.runtime.now()),
        };
        let root = self.root.take().expect("shut down once");
        let mut report = root.shutdown(left).await?;
        report.children.extend(reports);
        Ok(report)
    }
}

/// Waits for `task` to end, aborting it at `deadline`.
async fn ended_by<R: Runtime>(
    runtime: &R,
    task: &mut OwnedTask<R::Task>,
    deadline: Option<Instant>,
) -> Exit {
    let Some(at) = deadline else {
        return task.await;
    };
    let expired = sleep_until(runtime, at);
    match select(pin!(&mut *task), pin!(expired)).await {
        Either::Left((exit, _)) => exit,
        Either::Right(_) => {
            task.abort();
            task.await
        }
    }
}

impl<R: Runtime> Deref for System<R> {
    type Target = SystemHandle<R>;

    fn deref(&self) -> &SystemHandle<R> {
        &self.handle
    }
}

impl<R: Runtime> Drop for System<R> {
    fn drop(&mut self) {
        // Aborts the spawned actors (their tasks are dropped); the root
        // stops its tree when it is dropped, after this.
        drop(self.handle.shared.close());
    }
}

impl<R: Runtime> fmt::Debug for System<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System")
            .field("root", &self.handle.shared.path)
            .field("spawned", &self.handle.spawned())
            .finish()
    }
}

impl<R: Runtime> Shared<R> {
    fn state(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the system to spawns; hands over the spawned actors, and
    /// forgets the names.
    fn close(&self) -> BTreeMap<u64, Spawned<R>> {
        let mut state = self.state();
        state.closed = true;
        let names = std::mem::take(&mut state.names);
        let spawned = std::mem::take(&mut state.spawned);
        drop(state);
        drop(names);
        spawned
    }

    /// Spawns the task of worker `worker` (0 for an actor that is not a
    /// pool) of the actor at `path`, named as a tree's worker is:
    /// `group::current()`, its span and `trace_task_panics` know it by its
    /// path and place.
    fn spawn_task(
        &self,
        path: &Arc<str>,
        worker: usize,
        supervised: impl Future<Output = ()> + Send + 'static,
    ) -> OwnedTask<R::Task> {
        let me = Incarnation::worker(Arc::clone(path), worker, 1);
        OwnedTask::new(self.home.spawn(Supervised::new(supervised, me)))
    }

    /// A spawned actor ended for good: its entry and its name go.
    fn forget(&self, id: u64) {
        let mut state = self.state();
        if let Some(actor) = state.spawned.remove(&id) {
            // The name is this actor's still, unless another took it since
            // this one ended.
            let own = state
                .names
                .get(&*actor.name)
                .is_some_and(|entry| Arc::ptr_eq(entry, &actor.life));
            if own {
                state.names.remove(&*actor.name);
            }
            drop(state);
            // Its tasks have ended (the caller is the last): detached, not
            // aborted.
            actor.tasks.detach();
        }
    }
}

impl<R: Runtime> SystemHandle<R> {
    /// Spawns an actor under the system, at once: it supervises itself
    /// (see [`System`]), and is found by its name until it ends for good.
    /// Its tasks and its timers run on the system's runtime.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NameTaken`] if an actor of the system has its name
    /// already, [`SpawnError::InvalidName`] for an empty name or one with a
    /// `/`, [`SpawnError::Shutdown`] once the system has shut down, and
    /// [`SpawnError::Capacity`] if its mailbox cannot be allocated.
    ///
    /// # Examples
    ///
    /// See [`System`].
    pub fn spawn<A: Actor>(&self, actor: super::Builder<A, R>) -> Result<Addr<A>, SpawnError> {
        check_name(actor.name())?;
        let Parts {
            addr,
            owner,
            spec,
            workers,
            ..
        } = actor
            .into_parts(
                Some(Arc::clone(&self.shared.clock)),
                Some(&self.shared.path),
            )
            .map_err(SpawnError::Capacity)?;
        let shared = &self.shared;
        let cell = Arc::clone(&addr.cell);
        let name = &cell.name;
        let path = name.path();
        let life: Arc<dyn Lifetime> = cell.clone();
        let id = {
            let mut state = shared.state();
            if state.closed {
                return Err(SpawnError::Shutdown);
            }
            state.claim(name.clone(), Arc::clone(&life))?;
            let id = state.next;
            state.next += 1;
            state.spawned.insert(
                id,
                Spawned {
                    name: name.clone(),
                    tasks: Tasks::default(),
                    workers,
                    life,
                },
            );
            id
        };
        let spawn = Spawn {
            owner,
            spec,
            intensity: Mutex::new(Intensity::new(shared.restarts, shared.within)),
            departure: Departure(Arc::downgrade(shared), id),
        };
        let tasks = if workers == 1 {
            // The only task owns what it supervises: no allocation to share.
            Tasks::one(shared.spawn_task(path, 0, supervise(spawn)))
        } else {
            let spawn = Arc::new(spawn);
            let task = |worker| shared.spawn_task(path, worker, supervise(Arc::clone(&spawn)));
            Tasks::pool((0..workers).map(task))
        };
        let mut state = shared.state();
        let closed = state.closed;
        let unkept = match state.spawned.get_mut(&id) {
            Some(entry) => {
                entry.tasks = tasks;
                Tasks::default()
            }
            // The system closed meanwhile: aborted, as the others were.
            None if closed => tasks,
            // Ended already: the tasks are their own.
            None => {
                tasks.detach();
                Tasks::default()
            }
        };
        // Outside the lock: a runtime may drop an aborted task's future at
        // once, and its end takes the lock.
        drop(state);
        drop(unkept);
        Ok(addr)
    }

    /// Registers the address of an actor that is not spawned by the
    /// system (a child of a tree, say), so that [`lookup`](Self::lookup)
    /// finds it by its name until it ends for good.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NameTaken`] if a running actor of the system has the
    /// name already; [`SpawnError::InvalidName`] for an empty name or one
    /// with a `/` (as [`spawn`](Self::spawn) refuses);
    /// [`SpawnError::Shutdown`] once the system has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Db;
    /// impl Actor for Db {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (db, child) = stage::actor("db", || Db).child();
    /// let system = stage::actor::System::new(stage::supervisor().child(child));
    /// system.register(&db).unwrap();
    /// assert!(system.lookup::<Db>("db").is_ok());
    /// # }
    /// ```
    pub fn register<A: Actor>(&self, addr: &Addr<A>) -> Result<(), SpawnError> {
        let name = addr.cell.name.clone();
        check_name(&name)?;
        let mut state = self.shared.state();
        if state.closed {
            return Err(SpawnError::Shutdown);
        }
        state.claim(name, addr.cell.clone())
    }

    /// The address of the running actor named `name`, if it is an `A`.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotFound`] if no running actor of the system (spawned
    /// or [registered](Self::register)) has this name;
    /// [`LookupError::WrongType`] if it is not an `A`.
    ///
    /// # Examples
    ///
    /// See [`System`].
    pub fn lookup<A: Actor>(&self, name: &str) -> Result<Addr<A>, LookupError> {
        let mut state = self.shared.state();
        let Some(found) = state.names.get(name) else {
            return Err(LookupError::NotFound(name.to_owned()));
        };
        if found.has_ended() {
            // A registered actor that ended: forgotten now.
            state.names.remove(name);
            return Err(LookupError::NotFound(name.to_owned()));
        }
        match Arc::clone(found).into_any().downcast::<Cell<A>>() {
            Ok(cell) => Ok(Addr { cell }),
            Err(_) => Err(LookupError::WrongType {
                name: name.to_owned(),
                expected: core::any::type_name::<A>(),
                found: found.type_name(),
            }),
        }
    }

    /// The whole system as a value: the root's [snapshot](SupervisorHandle::snapshot),
    /// with the spawned actors after the root's children, in the order
    /// they were spawned (kind [`Actor`](crate::supervisor::ChildKind::Actor)
    /// or [`ActorPool`](crate::supervisor::ChildKind::ActorPool); running,
    /// or backing off between incarnations; their restarts, last exit,
    /// and mailbox depth). It prints as an indented tree.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::actor::{Actor, Context};
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = stage::system();
    /// system.spawn(stage::actor("idle", || Idle)).unwrap();
    /// let snapshot = system.snapshot();
    /// assert_eq!(snapshot.find("system/idle").unwrap().restarts, 0);
    /// println!("{snapshot}");
    /// # }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = self.root.snapshot();
        let state = self.shared.state();
        snapshot.children.extend(state.live().map(|actor| {
            let life = &actor.life;
            let running = life.running();
            ChildSnapshot {
                name: actor.name.to_string(),
                path: actor.name.path().to_string(),
                kind: if actor.workers > 1 {
                    ChildKind::ActorPool
                } else {
                    ChildKind::Actor
                },
                state: if running > 0 {
                    ChildState::Running
                } else {
                    ChildState::BackingOff(None)
                },
                generation: life.generation(),
                restarts: life.restarts(),
                last_exit: life.last_exit(),
                running_tasks: running,
                group: None,
                mailbox: Some(life.queued()),
                supervisor: None,
            }
        }));
        snapshot
    }

    /// How many spawned actors run (or wait to restart).
    ///
    /// # Examples
    ///
    /// See [`SystemHandle`].
    pub fn spawned(&self) -> usize {
        self.shared.state().live().count()
    }

    /// Starts a child of the root supervisor: an actor
    /// ([`actor::Builder::child`](super::Builder::child)), a group, a
    /// whole tree. See [`SupervisorHandle::start_child`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::start_child`].
    ///
    /// # Cancel safety
    ///
    /// As [`SupervisorHandle::start_child`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = stage::system();
    /// let flusher = Child::worker("flusher", |stop| async move { stop.requested().await });
    /// system.start_child(flusher).await.unwrap();
    /// # }
    /// ```
    pub async fn start_child(&self, child: Child<R>) -> Result<u64, ChildError> {
        self.root.start_child(child).await
    }

    /// The root supervisor: its snapshot, its children by name.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = stage::system();
    /// assert_eq!(system.root().snapshot().children.len(), 0);
    /// # }
    /// ```
    pub fn root(&self) -> &SupervisorHandle<R> {
        &self.root
    }
}

impl<R: Runtime> State<R> {
    /// Gives `name` to `life`, unless an actor that has not ended has it.
    /// One hash of the name.
    fn claim(&mut self, name: Name, life: Arc<dyn Lifetime>) -> Result<(), SpawnError> {
        match self.names.entry(name) {
            Entry::Occupied(taken) if !taken.get().has_ended() => {
                Err(SpawnError::NameTaken(taken.key().to_string()))
            }
            Entry::Occupied(mut ended) => {
                ended.insert(life);
                Ok(())
            }
            Entry::Vacant(free) => {
                free.insert(life);
                Ok(())
            }
        }
    }

    /// The spawned actors that have not ended for good (they run, or wait
    /// to restart), in spawn order. One stopped before its task ran keeps
    /// its entry until the task has ended, but is gone already.
    fn live(&self) -> impl Iterator<Item = &Spawned<R>> {
        self.spawned
            .values()
            .filter(|actor| !actor.life.has_ended())
    }
}

/// Refuses a name that cannot be a part of a path.
fn check_name(name: &str) -> Result<(), SpawnError> {
    if crate::supervisor::child::is_path_part(name) {
        Ok(())
    } else {
        Err(SpawnError::InvalidName(name.to_owned()))
    }
}

impl<R: Runtime> Clone for SystemHandle<R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            root: self.root.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for SystemHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemHandle")
            .field("root", &self.shared.path)
            .field("spawned", &self.spawned())
            .finish()
    }
}

/// What a spawned actor's tasks (a pool's workers) share: the actor's
/// owner, what its incarnations are made from, and its departure. Its
/// fields drop in this order once the last task ends.
struct Spawn<A: Actor, R: Runtime> {
    owner: Owner<A>,
    spec: Spec<A>,
    /// The actor's restarts in the window of the system's intensity: a
    /// pool's workers count against one allowance, as one actor.
    intensity: Mutex<Intensity>,
    departure: Departure<R>,
}

/// A spawned actor's tasks: the first inline (most actors have one), a
/// pool's others in a `Vec`.
struct Tasks<R: Runtime> {
    first: Option<OwnedTask<R::Task>>,
    others: Vec<OwnedTask<R::Task>>,
}

impl<R: Runtime> Tasks<R> {
    fn one(task: OwnedTask<R::Task>) -> Self {
        Self {
            first: Some(task),
            others: Vec::new(),
        }
    }

    fn pool(mut tasks: impl Iterator<Item = OwnedTask<R::Task>>) -> Self {
        Self {
            first: tasks.next(),
            others: tasks.collect(),
        }
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut OwnedTask<R::Task>> {
        self.first.iter_mut().chain(&mut self.others)
    }

    /// Hands the tasks over to the runtime, neither awaited nor aborted.
    fn detach(self) {
        for task in self.first.into_iter().chain(self.others) {
            drop(task.into_inner());
        }
    }
}

impl<R: Runtime> Default for Tasks<R> {
    fn default() -> Self {
        Self {
            first: None,
            others: Vec::new(),
        }
    }
}

/// Forgets a spawned actor once the last of its tasks has ended, however
/// they end (each holds a share of it).
struct Departure<R: Runtime>(std::sync::Weak<Shared<R>>, u64);

impl<R: Runtime> Drop for Departure<R> {
    fn drop(&mut self) {
        if let Some(system) = self.0.upgrade() {
            system.forget(self.1);
        }
    }
}

/// A spawned actor's task (one per worker of a pool): incarnations, one
/// after the other, until it is stopped for good, halted by the system,
/// or gives up. It owns the [`Spawn`], or a share of it in a pool.
///
/// An `async` block, not an `async fn`, which would keep a copy of its
/// argument besides its own.
#[allow(clippy::manual_async_fn, reason = "an async fn's future is larger")]
fn supervise<A: Actor, R: Runtime>(
    spawn: impl Borrow<Spawn<A, R>> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let Spawn {
            owner,
            spec,
            intensity,
            departure,
        } = spawn.borrow();
        let id = departure.1;
        let Some(settings) = departure.0.upgrade() else {
            return;
        };
        let (runtime, backoff) = (settings.runtime.clone(), settings.backoff);
        drop(settings);
        let cell = &owner.cell;
        let mut consecutive = 0;
        loop {
            let started = runtime.now();
            let Some(incarnation) = run(cell, spec, &cell.halt, None) else {
                return; // stopped for good
            };
            // Boxed: the task stays small (its allocation under the size that
            // glibc serves from its caches, and which consolidates them), and
            // an actor stopped before it first ran makes no box at all.
            let outcome = AssertUnwindSafe(Box::pin(incarnation))
                .catch_unwind()
                .await
                .unwrap_or_else(Outcome::Panicked);
            let failure = match outcome {
                Outcome::Stopped => return, // `owner` retires it
                Outcome::Killed => None,
                Outcome::Panicked(payload) => Some(payload),
            };
            let now = runtime.now();
            if cell.halt.is_requested() {
                drop_failure(failure);
                return;
            }
            // A crash after useful work (a message handled) is not part of a
            // crash loop, nor is one after a quiet period: restarted at once.
            let progressed = take_progress();
            if progressed || now.saturating_duration_since(started) >= backoff.quiet_period() {
                consecutive = 0;
            }
            let refused = {
                let mut allowance = intensity.lock().unwrap_or_else(|e| e.into_inner());
                (!allowance.admit(now)).then(|| (allowance.restarts(), allowance.within()))
            };
            if let Some((restarts, within)) = refused {
                tracing::error!(
                    actor = &*cell.name,
                    restarts,
                    ?within,
                    "the actor failed more often than its system allows; giving up on it"
                );
                drop_failure(failure);
                cell.retire(false);
                return;
            }
            drop_failure(failure);
            let delay = backoff.delay(consecutive, id ^ u64::from(consecutive));
            consecutive = consecutive.saturating_add(1);
            // Boxed: a rare wait, kept out of the task's size. A delay too
            // long for the clock never ends: it waits for the halt alone.
            if !delay.is_zero()
                && Box::pin(halted_during(
                    &runtime,
                    deadline::after(now, delay),
                    &cell.halt,
                ))
                .await
            {
                return;
            }
            // `group::current()` and the task's span tell the restarts apart.
            next_generation();
        }
    }
}

/// Waits until `at` (`None`: for ever) unless `halt` is raised first, and
/// says whether it was.
async fn halted_during<R: Runtime>(runtime: &R, at: Option<Instant>, halt: &Signal) -> bool {
    let Some(at) = at else {
        halt.requested().await;
        return true;
    };
    let waited = sleep_until(runtime, at);
    let halted = halt.requested();
    matches!(select(pin!(waited), pin!(halted)).await, Either::Right(_))
}

fn drop_failure(failure: Option<Box<dyn Any + Send>>) {
    if let Some(payload) = failure {
        drop_quietly(payload);
    }
}
