//! What a supervisor supervises: its children, each with a name, a kind,
//! a restart type and a way to be stopped.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::time::Duration;

use super::ready::Ready;
use super::strategy::{AutoShutdown, StopMode};
use super::view::ChildKind;
use super::{Builder, DEFAULT_START_TIMEOUT};
use crate::group::{self, Restart, StopSignal};
use crate::mailbox::Receiver;
use crate::runtime::Runtime;
use crate::sync::Arc;

/// A future a child runs, boxed: children of one supervisor differ.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Makes a child's future for each of its starts; cloned for each
/// incarnation of a group or supervisor that holds it. Every factory gets a
/// [`Ready`]; only those of [`Child::worker_with_ready`] are waited on.
pub(crate) trait Factory: Send + Sync + 'static {
    fn make(&mut self, stop: StopSignal, ready: Ready) -> BoxFuture<()>;
    fn clone_box(&self) -> Box<dyn Factory>;
    /// The child ended and its supervisor will not start it again (unless
    /// asked to, by `restart_child`).
    fn ended(&mut self) {}
}

impl<F, Fut> Factory for F
where
    F: FnMut(StopSignal, Ready) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn make(&mut self, stop: StopSignal, ready: Ready) -> BoxFuture<()> {
        Box::pin(self(stop, ready))
    }

    fn clone_box(&self) -> Box<dyn Factory> {
        Box::new(self.clone())
    }
}

/// The kinds of children.
pub(crate) enum Kind<R: Runtime> {
    /// One task, made anew by the factory at each start; if `announces`,
    /// ready once it says so.
    Worker {
        factory: Box<dyn Factory>,
        announces: bool,
    },
    /// A group of tasks. Unless `linked`, it heals its own tasks and fails
    /// (as a child) only when it gives up; if `linked`, any failure of one
    /// of its tasks is the supervisor's to handle.
    Group {
        builder: group::Builder<R>,
        factory: Box<dyn Factory>,
        linked: bool,
    },
    /// A supervisor of its own: trees of any depth.
    Supervisor(Builder<R>),
}

impl<R: Runtime> Kind<R> {
    pub(crate) fn view_kind(&self) -> ChildKind {
        match self {
            Self::Worker { .. } => ChildKind::Worker,
            Self::Group { linked: false, .. } => ChildKind::Group,
            Self::Group { linked: true, .. } => ChildKind::LinkedGroup,
            Self::Supervisor(_) => ChildKind::Supervisor,
        }
    }
}

/// Whether `name` can be a part of a path (`app/pipeline/writer`): a
/// child's name, or a spawned actor's.
pub(crate) fn is_path_part(name: &str) -> bool {
    !name.is_empty() && !name.contains('/')
}

/// Reads how many messages a child's mailbox holds.
pub(crate) type Depth = Arc<dyn Fn() -> usize + Send + Sync>;

/// A child of a [supervisor](super::Builder): a worker, a group, or another
/// supervisor, with a name, a restart type and a stop mode.
///
/// # Examples
///
/// ```
/// use stage::group::Restart;
/// use stage::supervisor::{Child, StopMode};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let flusher = Child::worker("flusher", |stop| async move { stop.requested().await })
///     .restart(Restart::OnFailure)
///     .stop_mode(StopMode::Abort);
/// let tree = stage::supervisor().name("app").child(flusher).spawn();
/// tree.stop().await.unwrap();
/// # }
/// ```
#[must_use = "a child does nothing until it is given to a supervisor"]
pub struct Child<R: Runtime> {
    pub(crate) name: Arc<str>,
    pub(crate) kind: Kind<R>,
    pub(crate) restart: Restart,
    pub(crate) stop: StopMode,
    pub(crate) significant: bool,
    pub(crate) start_timeout: Duration,
    pub(crate) mailbox: Option<Depth>,
    /// Whether it is an actor (or a pool of them), as
    /// [`crate::actor::Builder::child`] makes it.
    pub(crate) actor: bool,
}

impl<R: Runtime> Child<R> {
    fn new(name: impl AsRef<str>, kind: Kind<R>) -> Self {
        Self {
            name: Arc::from(name.as_ref()),
            kind,
            restart: Restart::Always,
            stop: StopMode::default(),
            significant: false,
            start_timeout: DEFAULT_START_TIMEOUT,
            mailbox: None,
            actor: false,
        }
    }

    /// Its kind, as a snapshot shows it.
    pub(crate) fn view_kind(&self) -> ChildKind {
        match (&self.kind, self.actor) {
            (Kind::Worker { .. }, true) => ChildKind::Actor,
            (Kind::Group { .. }, true) => ChildKind::ActorPool,
            (kind, _) => kind.view_kind(),
        }
    }

    /// Why this child cannot be a child of a supervisor that shuts down
    /// automatically as `auto` says, if it cannot.
    pub(crate) fn invalid(&self, auto: AutoShutdown) -> Option<&'static str> {
        if !is_path_part(&self.name) {
            return Some(
                "a child's name must not be empty or contain '/' (it is a part of a path)",
            );
        }
        if let Kind::Group { builder, .. } = &self.kind {
            if let Some(problem) = builder.size_problem() {
                return Some(problem);
            }
        }
        if self.actor && self.restart == Restart::Always {
            return Some(
                "an actor is restarted when it fails, and stays stopped once stopped for good \
                 (give it Restart::OnFailure or Restart::Never)",
            );
        }
        match (self.significant, self.restart, auto) {
            (true, Restart::Always, _) => Some(
                "a significant child must not be restarted after it returns \
                 (give it Restart::OnFailure or Restart::Never)",
            ),
            (true, _, AutoShutdown::Never) => Some(
                "a significant child needs a supervisor that shuts down on its own \
                 (Builder::auto_shutdown)",
            ),
            _ => None,
        }
    }

    /// An actor's incarnations, as [`crate::actor::Builder::child`] makes
    /// them: a worker that says when it is ready, restarted on failure; or,
    /// for a pool, a group of `workers` such workers.
    pub(crate) fn actor(
        name: Arc<str>,
        factory: Box<dyn Factory>,
        pool: Option<group::Builder<R>>,
    ) -> Self {
        let kind = match pool {
            None => Kind::Worker {
                factory,
                announces: true,
            },
            Some(builder) => Kind::Group {
                builder: builder.name(&*name).restart(Restart::OnFailure),
                factory,
                linked: false,
            },
        };
        let mut child = Self::new(name, kind);
        child.restart = Restart::OnFailure;
        child.actor = true;
        child
    }

    /// A worker: one supervised task, made by `factory` at each start. The
    /// factory gets the worker's [`StopSignal`], raised when the
    /// supervisor stops it gracefully.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use stage::supervisor::Child;
    ///
    /// let tree = stage::supervisor()
    ///     .child(Child::worker("ticker", |stop| async move {
    ///         while !stop.is_requested() {
    ///             tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    ///         }
    ///     }))
    ///     .spawn();
    /// tree.shutdown(std::time::Duration::from_secs(1)).await.unwrap();
    /// # }
    /// ```
    pub fn worker<F, Fut>(name: impl AsRef<str>, factory: F) -> Self
    where
        F: FnMut(StopSignal) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut factory = factory;
        let factory = Box::new(move |stop: StopSignal, _ready: Ready| factory(stop));
        Self::new(
            name,
            Kind::Worker {
                factory,
                announces: false,
            },
        )
    }

    /// A worker that says when it is ready: the factory gets a [`Ready`]
    /// too, and the supervisor starts the next child only once the worker
    /// has called [`Ready::notify`] (or returned). A worker not ready
    /// within its [start timeout](Child::start_timeout) is aborted, and
    /// fails with [`ChildExit::StartTimedOut`](super::ChildExit::StartTimedOut).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = stage::mailbox::<&str>(8);
    /// let tree = stage::supervisor()
    ///     .child(Child::worker_with_ready("db", {
    ///         let tx = tx.clone();
    ///         move |stop, ready| {
    ///             let tx = tx.clone();
    ///             async move {
    ///                 tx.send("db connected").await.unwrap();
    ///                 ready.notify();
    ///                 stop.requested().await;
    ///             }
    ///         }
    ///     }))
    ///     .child(Child::worker("api", move |stop| {
    ///         let tx = tx.clone();
    ///         async move {
    ///             tx.send("api started").await.unwrap();
    ///             stop.requested().await;
    ///         }
    ///     }))
    ///     .spawn();
    /// assert_eq!(rx.recv().await, "db connected");
    /// assert_eq!(rx.recv().await, "api started");
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn worker_with_ready<F, Fut>(name: impl AsRef<str>, factory: F) -> Self
    where
        F: FnMut(StopSignal, Ready) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let kind = Kind::Worker {
            factory: Box::new(factory),
            announces: true,
        };
        Self::new(name, kind)
    }

    /// A group that heals its own tasks, as groups do, and fails as a child
    /// only when it gives up (its [`intensity`](group::Builder::intensity)
    /// exceeded); its tasks get the group's [`StopSignal`]. The group is
    /// named by the child (a name given to the builder is replaced). A
    /// group whose tasks all ended for good (with
    /// [`Restart::OnFailure`](group::Restart) or `Never`) has returned, as
    /// a child: its own restart type decides what comes next.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use stage::supervisor::Child;
    ///
    /// let workers = Child::group("workers", stage::group().tasks(4), |_stop| async {
    ///     std::future::pending::<()>().await
    /// });
    /// let tree = stage::supervisor().child(workers).spawn();
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn group<F, Fut>(name: impl AsRef<str>, builder: group::Builder<R>, factory: F) -> Self
    where
        F: FnMut(StopSignal) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let kind = Kind::Group {
            builder: builder.name(name.as_ref()),
            factory: group_factory(factory),
            linked: false,
        };
        Self::new(name, kind)
    }

    /// A group whose task failures are the supervisor's to handle: the
    /// first task of it that panics (or is aborted by someone else) fails
    /// the whole group as a child, and the supervisor's
    /// [strategy](super::Strategy) decides what restarts — with
    /// [`Strategy::OneForAll`](super::Strategy::OneForAll), linked groups
    /// restart together. Tasks that return end, and are not restarted.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use stage::supervisor::{Child, Strategy};
    ///
    /// let (tx, rx) = stage::mailbox::<u32>(64);
    /// let tree = stage::supervisor()
    ///     .strategy(Strategy::OneForAll)
    ///     .child(Child::linked_group("producers", stage::group(), move |_stop| {
    ///         let tx = tx.clone();
    ///         async move { tx.send(1).await.unwrap(); std::future::pending::<()>().await }
    ///     }))
    ///     .child(Child::linked_group("consumers", stage::group(), move |_stop| {
    ///         let rx = rx.clone();
    ///         async move { loop { let _job = rx.recv().await; } }
    ///     }))
    ///     .spawn();
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn linked_group<F, Fut>(
        name: impl AsRef<str>,
        builder: group::Builder<R>,
        factory: F,
    ) -> Self
    where
        F: FnMut(StopSignal) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // One failure of a task is one too many: the group gives up, and
        // the supervisor handles it.
        let builder = builder
            .name(name.as_ref())
            .restart(Restart::OnFailure)
            .intensity(0, Duration::from_secs(1)); // no restart: any window
        let kind = Kind::Group {
            builder,
            factory: group_factory(factory),
            linked: true,
        };
        Self::new(name, kind)
    }

    /// A pool: a group whose tasks are [`Worker`](group::Worker)s serving
    /// one mailbox at least once, as
    /// [`group::Builder::consume`] starts one, here as a child. The group
    /// heals its workers (a message whose handler panicked goes to the
    /// next one first); the mailbox is the caller's, outlives every
    /// restart of the pool, and is [declared](Child::mailbox), so its
    /// depth shows in the tree's snapshot. A graceful stop lets each
    /// worker finish the message it handles.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (jobs, inbox) = stage::mailbox::<u64>(64);
    /// let (done, finished) = stage::mailbox::<u64>(64);
    /// let pool = Child::pool("jobs", stage::group().tasks(2), &inbox, move |worker| {
    ///     let done = done.clone();
    ///     async move {
    ///         worker
    ///             .serve(async move |job: &mut u64| done.send(*job * 10).await.unwrap())
    ///             .await
    ///     }
    /// });
    /// let tree = stage::supervisor().child(pool).spawn();
    /// jobs.send(4).await.unwrap();
    /// assert_eq!(finished.recv().await, 40);
    /// tree.shutdown(Duration::from_secs(1)).await.unwrap();
    /// # }
    /// ```
    pub fn pool<T, F, Fut>(
        name: impl AsRef<str>,
        builder: group::Builder<R>,
        inbox: &Receiver<T>,
        factory: F,
    ) -> Self
    where
        T: Send + 'static,
        F: FnMut(group::Worker<T>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (workers, mut factory) = (inbox.clone(), factory);
        let serve = move |stop| factory(group::pool::worker(&workers, stop));
        Self::group(name, builder, serve).mailbox(inbox)
    }

    /// Another supervisor, as a child: trees of any depth. When it fails
    /// (its own restart intensity exceeded), this supervisor handles the
    /// failure like any child's.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use stage::supervisor::Child;
    ///
    /// let pipeline = stage::supervisor()
    ///     .child(Child::worker("reader", |stop| async move { stop.requested().await }))
    ///     .child(Child::worker("writer", |stop| async move { stop.requested().await }));
    /// let tree = stage::supervisor().name("app").child(Child::supervisor("pipeline", pipeline)).spawn();
    /// tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn supervisor(name: impl AsRef<str>, supervisor: Builder<R>) -> Self {
        let supervisor = supervisor.name(name.as_ref());
        Self::new(name, Kind::Supervisor(supervisor)).stop_mode(StopMode::Wait)
    }

    /// Which exits of this child are restarted: [`Restart::Always`] (OTP's
    /// permanent, the default), [`Restart::OnFailure`] (transient: a child
    /// that returned has done its work) or [`Restart::Never`] (temporary).
    ///
    /// An actor's child ([`actor::Builder::child`](crate::actor::Builder::child))
    /// is `OnFailure`, and refuses `Always` (an actor stopped for good stays
    /// stopped): the supervisor that gets it fails with
    /// [`SupervisorError::InvalidChild`](super::SupervisorError::InvalidChild),
    /// and [`start_child`](super::SupervisorHandle::start_child) with
    /// [`ChildError::Invalid`](super::ChildError::Invalid).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::Restart;
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let migration = Child::worker("migration", |_stop| async { /* runs once */ })
    ///     .restart(Restart::OnFailure);
    /// # let tree = stage::supervisor().child(migration).spawn();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How this child is stopped (see [`StopMode`]; a child supervisor
    /// waits for its children, by their own stop modes, and any other
    /// child is graceful for up to 5 s
    /// unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::{Child, StopMode};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cache = Child::worker("cache", |_stop| std::future::pending::<()>())
    ///     .stop_mode(StopMode::Abort);
    /// # let tree = stage::supervisor().child(cache).spawn();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn stop_mode(mut self, stop: StopMode) -> Self {
        self.stop = stop;
        self
    }

    /// Makes this child significant (OTP's `significant`): when it ends
    /// and is not restarted, a supervisor with an
    /// [`AutoShutdown`] other than `Never` shuts down — on the first
    /// significant child to end, or on the last. So a tree can finish a job
    /// and end. Only a child restarted on failure or never can be
    /// significant, under a supervisor that shuts down automatically;
    /// otherwise the supervisor fails at start with
    /// [`SupervisorError::InvalidChild`](super::SupervisorError::InvalidChild)
    /// ([`start_child`](super::SupervisorHandle::start_child) with
    /// [`ChildError::Invalid`](super::ChildError::Invalid)).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::Restart;
    /// use stage::supervisor::{AutoShutdown, Child};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .auto_shutdown(AutoShutdown::AnySignificant)
    ///     .child(Child::worker("server", |stop| async move { stop.requested().await }))
    ///     .child(Child::worker("job", |_stop| async { /* the work */ })
    ///         .restart(Restart::OnFailure)
    ///         .significant())
    ///     .spawn();
    /// tree.join().await.unwrap(); // the job is done: the server is stopped too
    /// # }
    /// ```
    pub fn significant(mut self) -> Self {
        self.significant = true;
        self
    }

    /// How long this child may take to start (default
    /// [`DEFAULT_START_TIMEOUT`]): for a
    /// [worker that says when it is ready](Child::worker_with_ready), until
    /// it does; for a child supervisor, until its children have all started.
    /// Past it, the child is aborted and fails with
    /// [`ChildExit::StartTimedOut`](super::ChildExit::StartTimedOut).
    /// `Duration::MAX` waits for ever; `Duration::ZERO` fails every start
    /// (a worker has not run yet when its supervisor first looks).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use stage::supervisor::Child;
    ///
    /// let db = Child::worker_with_ready("db", |_stop, ready| async move {
    ///     ready.notify();
    /// })
    /// .start_timeout(Duration::from_secs(30));
    /// # let _: Child<stage::runtime::Tokio> = db;
    /// ```
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Declares the mailbox this child consumes, so that the tree's
    /// [snapshot](super::SupervisorHandle::snapshot) shows how many
    /// messages wait in it. (The child keeps a handle to it: a mailbox
    /// outlives its consumers anyway.)
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (jobs, inbox) = stage::mailbox::<u32>(64);
    /// jobs.send(7).await.unwrap();
    /// let worker = Child::worker("idle", |stop| async move { stop.requested().await })
    ///     .mailbox(&inbox);
    /// let tree = stage::supervisor().child(worker).spawn();
    /// tree.ready().await.unwrap();
    /// assert_eq!(tree.snapshot().children[0].mailbox, Some(1));
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn mailbox<T: Send + 'static>(mut self, mailbox: &Receiver<T>) -> Self {
        let mailbox = mailbox.clone();
        self.mailbox = Some(Arc::new(move || mailbox.len()));
        self
    }

    /// The child's name, unique among its supervisor's children.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// let child = Child::worker("flusher", |_stop| async {});
    /// # let child: Child<stage::runtime::Tokio> = child;
    /// assert_eq!(child.name(), "flusher");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A group's task factory as a child factory (a group's tasks are ready as
/// soon as they are spawned).
fn group_factory<F, Fut>(mut factory: F) -> Box<dyn Factory>
where
    F: FnMut(StopSignal) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move |stop: StopSignal, _ready: Ready| factory(stop))
}

impl<R: Runtime> Clone for Child<R> {
    fn clone(&self) -> Self {
        let kind = match &self.kind {
            Kind::Worker { factory, announces } => Kind::Worker {
                factory: factory.clone_box(),
                announces: *announces,
            },
            Kind::Group {
                builder,
                factory,
                linked,
            } => Kind::Group {
                builder: builder.clone(),
                factory: factory.clone_box(),
                linked: *linked,
            },
            Kind::Supervisor(builder) => Kind::Supervisor(builder.clone()),
        };
        Self {
            name: Arc::clone(&self.name),
            kind,
            restart: self.restart,
            stop: self.stop,
            significant: self.significant,
            start_timeout: self.start_timeout,
            mailbox: self.mailbox.clone(),
            actor: self.actor,
        }
    }
}

impl<R: Runtime> fmt::Debug for Child<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("name", &&*self.name)
            .field("kind", &self.view_kind())
            .field("restart", &self.restart)
            .field("stop", &self.stop)
            .field("significant", &self.significant)
            .field("start_timeout", &self.start_timeout)
            .finish()
    }
}
